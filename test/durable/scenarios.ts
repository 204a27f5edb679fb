import * as df from 'durable-functions';
import type { EntityContext, OrchestrationContext } from 'durable-functions';
import type { DurableEngine } from '../../local/runtime/durable/engine';
import type { HistoryEvent } from '../../local/runtime/durable/types';
import type { Registry } from './helpers';

/**
 * Orchestrations whose recorded histories are kept as golden files under test/durable/golden/. Everything here
 * must stay deterministic: activity results depend only on their input and attempt number.
 */
export interface Scenario {
  name: string;
  orchestrator: string;
  input?: unknown;
  register(registry: Registry): void;
  /** Drives the instance after start (raising events etc.). */
  drive?(engine: DurableEngine, instanceId: string): Promise<void>;
  expectedOutput: unknown;
}

export const scenarios: Scenario[] = [
  {
    name: 'sequence',
    orchestrator: 'GoldenSequence',
    input: ['Tokyo', 'Seattle', 'London'],
    register(r) {
      r.activity('SayHello', (n) => `Hello ${String(n)}!`).orchestration(
        'GoldenSequence',
        function* (context: OrchestrationContext) {
          const cities = context.df.getInput() as string[];
          const out: unknown[] = [];
          for (const c of cities) out.push(yield context.df.callActivity('SayHello', c));
          return out;
        },
      );
    },
    expectedOutput: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'],
  },
  {
    name: 'fan-out-fan-in',
    orchestrator: 'GoldenFanOut',
    input: 4,
    register(r) {
      r.activity('Square', (n) => (n as number) * (n as number)).orchestration(
        'GoldenFanOut',
        function* (context: OrchestrationContext) {
          const n = context.df.getInput() as number;
          const tasks = Array.from({ length: n }, (_, i) => context.df.callActivity('Square', i + 1));
          const squares = (yield context.df.Task.all(tasks)) as number[];
          return squares.reduce((a, b) => a + b, 0);
        },
      );
    },
    expectedOutput: 30,
  },
  {
    name: 'retry',
    orchestrator: 'GoldenRetry',
    register(r) {
      r.activity('FailsTwice', (_input, info) => {
        if (info.attempt < 3) throw new Error(`attempt ${info.attempt} failed`);
        return `succeeded on attempt ${info.attempt}`;
      }).orchestration('GoldenRetry', function* (context: OrchestrationContext) {
        const opts = new df.RetryOptions(1, 3);
        return yield context.df.callActivityWithRetry('FailsTwice', opts, 'payload');
      });
    },
    expectedOutput: 'succeeded on attempt 3',
  },
  {
    name: 'approval-race',
    orchestrator: 'GoldenApproval',
    register(r) {
      r.activity('Notify', () => 'notified').orchestration('GoldenApproval', function* (context: OrchestrationContext) {
        yield context.df.callActivity('Notify');
        const timeout = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 86_400_000));
        const approval = context.df.waitForExternalEvent('Approval');
        const winner = yield context.df.Task.any([approval, timeout]);
        if (winner === approval) {
          timeout.cancel();
          return { approved: approval.result };
        }
        return { approved: false };
      });
    },
    async drive(engine, id) {
      await engine.whenIdle();
      await engine.raiseEvent(id, 'Approval', { by: 'reviewer' });
    },
    expectedOutput: { approved: { by: 'reviewer' } },
  },
  {
    name: 'sub-orchestration',
    orchestrator: 'GoldenParent',
    register(r) {
      r.activity('Train', (m) => `${String(m)}-trained`)
        .orchestration('GoldenChild', function* (context: OrchestrationContext) {
          return yield context.df.callActivity('Train', context.df.getInput());
        })
        .orchestration('GoldenParent', function* (context: OrchestrationContext) {
          const a = yield context.df.callSubOrchestrator('GoldenChild', 'model-a', 'golden-child-a');
          const b = yield context.df.callSubOrchestrator('GoldenChild', 'model-b', 'golden-child-b');
          return [a, b];
        });
    },
    expectedOutput: ['model-a-trained', 'model-b-trained'],
  },
  {
    name: 'entity-lock',
    orchestrator: 'GoldenLock',
    input: 'churn',
    register(r) {
      r.entity('GoldenCounter', (context: EntityContext<number>) => {
        const next = (context.df.getState(() => 0) ?? 0) + (context.df.getInput() as number);
        context.df.setState(next);
        context.df.return(next);
      })
        .activity('Promote', (m) => `${String(m)}-promoted`)
        .orchestration('GoldenLock', function* (context: OrchestrationContext) {
          const model = context.df.getInput() as string;
          // modelLock has no entity function: a lock needs none.
          const lock = (yield context.df.lock([new df.EntityId('modelLock', model)])) as df.DurableLock;
          let promoted: unknown;
          try {
            promoted = yield context.df.callActivity('Promote', model);
          } finally {
            lock.release();
          }
          const counter = new df.EntityId('GoldenCounter', model);
          context.df.signalEntity(counter, 'add', 1);
          const count = yield context.df.callEntity(counter, 'add', 1);
          return { promoted, count };
        });
    },
    expectedOutput: { promoted: 'churn-promoted', count: 2 },
  },
];

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/**
 * Stable projection of a history for comparisons: drops timestamps and stacks, and replaces generated ids (entity
 * request ids, critical section ids, execution ids) by placeholders numbered in order of first appearance.
 */
export function normalize(history: HistoryEvent[]): Record<string, unknown>[] {
  const ids = new Map<string, string>();
  const stable = (v: unknown): unknown =>
    typeof v === 'string'
      ? v.replace(GUID, (g) => {
          const key = g.toLowerCase();
          if (!ids.has(key)) ids.set(key, `<id${ids.size + 1}>`);
          return ids.get(key)!;
        })
      : v;
  return history.map((e) => {
    const o: Record<string, unknown> = { EventType: e.EventType, EventId: e.EventId };
    for (const k of [
      'Name',
      'Input',
      'Result',
      'TaskScheduledId',
      'TimerId',
      'OrchestrationStatus',
      'Reason',
      'InstanceId',
    ]) {
      if (e[k] !== undefined) o[k] = stable(e[k]);
    }
    return o;
  });
}
