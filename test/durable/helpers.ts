import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvocationContext } from '@azure/functions';
import type { EntityHandler, OrchestrationHandler } from 'durable-functions';
import { createEntityFunction, createOrchestrator } from 'durable-functions/lib/src/util/testingUtils';
import { DurableEngine, type EngineOptions } from '../../local/runtime/durable/engine';
import type { EntityBatchRequest } from '../../local/runtime/durable/entities-protocol';
import type { OrchestratorHandler } from '../../local/runtime/durable/replay';
import { DurableStore } from '../../local/runtime/durable/store';
import type { OrchestrationTrigger } from '../../local/runtime/durable/types';

export type ActivityFn = (input: unknown, info: { instanceId: string; taskId: number; attempt: number }) => unknown;

/** Orchestrators and activities the way the host would hold them, invoked without the Functions runtime. */
export class Registry {
  readonly orchestrators = new Map<string, OrchestratorHandler>();
  readonly activities = new Map<string, ActivityFn>();
  /** Entity handlers by lower-cased name (entity ids carry the name lower-cased). */
  readonly entities = new Map<string, (trigger: unknown, context: InvocationContext) => Promise<unknown>>();
  /** Every entity batch, in invocation order. */
  readonly entityBatches: EntityBatchRequest[] = [];
  /** Every activity call, in start order. */
  readonly calls: { name: string; input: unknown; attempt: number; instanceId: string }[] = [];
  private invocation = 0;

  orchestration(name: string, fn: OrchestrationHandler): this {
    this.orchestrators.set(name, createOrchestrator(fn) as OrchestratorHandler);
    return this;
  }

  activity(name: string, fn: ActivityFn): this {
    this.activities.set(name, fn);
    return this;
  }

  entity<T = unknown>(name: string, fn: EntityHandler<T>): this {
    this.entities.set(name.toLowerCase(), createEntityFunction(fn));
    return this;
  }

  handler(name: string): OrchestratorHandler {
    const h = this.orchestrators.get(name);
    if (!h) throw new Error(`no orchestrator ${name}`);
    return h;
  }

  readonly invokeOrchestrator = async (name: string, trigger: OrchestrationTrigger): Promise<unknown> => {
    const handler = this.handler(name);
    // A fresh context per invocation: the SDK attaches context.df once and would otherwise reuse stale state.
    const context = new InvocationContext({ functionName: name, invocationId: `inv-${++this.invocation}` });
    return handler(trigger, context);
  };

  readonly invokeActivity = async (
    name: string,
    input: unknown,
    info: { instanceId: string; taskId: number; attempt: number },
  ): Promise<unknown> => {
    const fn = this.activities.get(name);
    if (!fn) throw new Error(`no activity ${name}`);
    this.calls.push({ name, input, attempt: info.attempt, instanceId: info.instanceId });
    return fn(input, info);
  };

  readonly invokeEntity = async (name: string, request: EntityBatchRequest): Promise<unknown> => {
    const handler = this.entities.get(name.toLowerCase());
    if (!handler) throw new Error(`no entity ${name}`);
    this.entityBatches.push(structuredClone(request));
    const context = new InvocationContext({ functionName: name, invocationId: `inv-${++this.invocation}` });
    return handler(request, context);
  };

  engineOptions(store: DurableStore, extra: Partial<EngineOptions> = {}): EngineOptions {
    return {
      store,
      taskHub: 'TestHub',
      invokeOrchestrator: this.invokeOrchestrator,
      invokeActivity: this.invokeActivity,
      invokeEntity: this.invokeEntity,
      isOrchestrator: (n) => this.orchestrators.has(n),
      isActivity: (n) => this.activities.has(n),
      isEntity: (n) => this.entities.has(n.toLowerCase()),
      ...extra,
    };
  }
}

export interface TestEngine {
  engine: DurableEngine;
  store: DurableStore;
  registry: Registry;
  close(): Promise<void>;
}

export function startEngine(registry: Registry, extra: Partial<EngineOptions> & { file?: string } = {}): TestEngine {
  const { file, ...opts } = extra;
  const store = new DurableStore(file ?? ':memory:', { synchronous: 'NORMAL' });
  const engine = new DurableEngine(registry.engineOptions(store, opts));
  engine.start();
  return {
    engine,
    store,
    registry,
    async close() {
      await engine.stop();
      store.close();
    },
  };
}

export function tempDir(): { dir: string; file: (name: string) => string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'durable-test-'));
  return { dir, file: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A promise plus its resolve function, for activities that should block until the test says so. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
