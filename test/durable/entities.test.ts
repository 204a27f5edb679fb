import * as df from 'durable-functions';
import type { EntityContext, OrchestrationContext } from 'durable-functions';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFunctionsHost } from '../../local/runtime/host';
import { DurableEngine, type FaultPoint } from '../../local/runtime/durable/engine';
import { SimulatedCrash } from '../../local/runtime/durable/errors';
import { handleDurableHttp } from '../../local/runtime/durable/http-api';
import { checkDeterminism, flattenActions, replayHistory } from '../../local/runtime/durable/replay';
import { DurableStore } from '../../local/runtime/durable/store';
import { ActionType, HistoryEventType as H, type HistoryEvent } from '../../local/runtime/durable/types';
import { deferred, Registry, startEngine, tempDir, type TestEngine } from './helpers';

/**
 * Durable entities and critical sections (context.df.lock / callEntity / signalEntity), driven through the real
 * durable-functions orchestrator and entity handlers.
 */

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function run(registry: Registry, extra: Parameters<typeof startEngine>[1] = {}): TestEngine {
  const t = startEngine(registry, extra);
  cleanups.push(() => t.close());
  return t;
}

/** Lets the event loop turn until `cond` holds (no wall-clock waits; fails after many idle turns). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (cond()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

const MODEL_LOCK = '@modellock@churn';

type Gate = ReturnType<typeof deferred<string>>;

/**
 * Activities that record who is inside the critical section. `Work` blocks on a per-instance gate the test opens,
 * so a second orchestration demonstrably waits for the lock instead of merely happening to run later.
 */
function gate(gates: Map<string, Gate>, id: string): Gate {
  let g = gates.get(id);
  if (!g) {
    gates.set(id, (g = deferred<string>()));
    // The test may reject a gate before the activity picks it up; the activity still sees the rejection.
    g.promise.catch(() => undefined);
  }
  return g;
}

function criticalRegistry(log: string[], gates: Map<string, Gate>): Registry {
  return new Registry()
    .activity('Enter', (id) => void log.push(`enter ${String(id)}`))
    .activity('Work', (id) => gate(gates, String(id)).promise)
    .activity('Leave', (id) => void log.push(`leave ${String(id)}`))
    .orchestration('Critical', function* (context: OrchestrationContext) {
      const id = context.df.instanceId;
      const keys = (context.df.getInput() as string[] | undefined) ?? ['churn'];
      const lock = (yield context.df.lock(keys.map((k) => new df.EntityId('modelLock', k)))) as df.DurableLock;
      try {
        yield context.df.callActivity('Enter', id);
        const worked = yield context.df.callActivity('Work', id);
        yield context.df.callActivity('Leave', id);
        return worked;
      } finally {
        lock.release();
      }
    })
    .orchestration('Fragile', function* (context: OrchestrationContext) {
      // No try/finally: the engine must give the lock back when the orchestration fails.
      yield context.df.lock([new df.EntityId('modelLock', 'churn')]);
      yield context.df.callActivity('Enter', context.df.instanceId);
      yield context.df.callActivity('Work', context.df.instanceId);
      return 'unreachable';
    });
}

function waiting(engine: DurableEngine, entityId: string, instanceId: string): boolean {
  return engine.getEntity(entityId)?.queue.some((q) => q.kind === 'lock' && q.parent === instanceId) === true;
}

async function history(engine: DurableEngine, id: string): Promise<HistoryEvent[]> {
  return (await engine.exportHistory(id))!.history;
}

describe('critical sections (context.df.lock)', () => {
  it('serialises two orchestrations contending for the same lock; both complete', async () => {
    const log: string[] = [];
    const gates = new Map<string, Gate>();
    const { engine } = run(criticalRegistry(log, gates));
    await engine.startNew('Critical', { instanceId: 'deploy-a' });
    await engine.startNew('Critical', { instanceId: 'deploy-b' });

    await until(() => log.length === 1, 'a first orchestration enters');
    const first = log[0]!.slice('enter '.length);
    const second = first === 'deploy-a' ? 'deploy-b' : 'deploy-a';
    await until(() => waiting(engine, MODEL_LOCK, second), 'the second lock request queues');
    expect(engine.getEntity(MODEL_LOCK)).toMatchObject({ lockedBy: first, exists: false });
    expect(log).toEqual([`enter ${first}`]);
    expect((await engine.getStatus(second))!.runtimeStatus).toBe('Running');

    gate(gates, first).resolve('first done');
    await until(() => log.length === 3, 'the second orchestration enters');
    expect(log).toEqual([`enter ${first}`, `leave ${first}`, `enter ${second}`]);
    expect(engine.getEntity(MODEL_LOCK)?.lockedBy).toBe(second);
    gate(gates, second).resolve('second done');

    expect(await engine.waitForCompletion(first)).toMatchObject({ runtimeStatus: 'Completed', output: 'first done' });
    expect(await engine.waitForCompletion(second)).toMatchObject({ runtimeStatus: 'Completed', output: 'second done' });
    expect(log).toEqual([`enter ${first}`, `leave ${first}`, `enter ${second}`, `leave ${second}`]);
    await engine.whenIdle();
    // No state, no lock, nothing queued: the lock-only entity leaves nothing behind.
    expect(engine.getEntity(MODEL_LOCK)).toBeUndefined();
    expect(engine.stats().locksGranted).toBe(2);
  });

  it('records the request and the grant in the history the SDK replays', async () => {
    const log: string[] = [];
    const gates = new Map<string, Gate>();
    const { engine } = run(criticalRegistry(log, gates));
    gates.set('solo', deferred<string>());
    gate(gates, 'solo').resolve('ok');
    await engine.startNew('Critical', { instanceId: 'solo' });
    await engine.waitForCompletion('solo');
    const events = await history(engine, 'solo');
    const sent = events.filter((e) => e.EventType === H.EventSent);
    expect(sent.map((e) => [e.EventId, e.Name, e.InstanceId])).toEqual([
      [0, 'op', MODEL_LOCK],
      [4, 'release', MODEL_LOCK],
    ]);
    const request = JSON.parse(sent[0]!.Input!) as { id: string; parent: string; lockset: unknown; pos: number };
    expect(request).toMatchObject({ parent: 'solo', lockset: [{ name: 'modellock', key: 'churn' }], pos: 0 });
    const grant = events.find((e) => e.EventType === H.EventRaised)!;
    expect(grant.Name).toBe(request.id);
    expect(JSON.parse(sent[1]!.Input!)).toEqual({ parent: 'solo', id: request.id });
    // Activities inside the section take the ids between the lock (0) and the release (4).
    expect(events.filter((e) => e.EventType === H.TaskScheduled).map((e) => e.EventId)).toEqual([1, 2, 3]);
  });

  it('does not deadlock when two instances lock [a, b] and [b, a]: both acquire in sorted order', async () => {
    const log: string[] = [];
    const gates = new Map<string, Gate>();
    const { engine } = run(criticalRegistry(log, gates));
    await engine.startNew('Critical', { instanceId: 'ab', input: ['a', 'b'] });
    await engine.startNew('Critical', { instanceId: 'ba', input: ['b', 'a'] });

    await until(() => log.length === 1, 'one orchestration holds both locks');
    const first = log[0]!.slice('enter '.length);
    const second = first === 'ab' ? 'ba' : 'ab';
    await until(() => waiting(engine, '@modellock@a', second), 'the other waits at the first entity');
    expect(engine.getEntity('@modellock@a')?.lockedBy).toBe(first);
    expect(engine.getEntity('@modellock@b')?.lockedBy).toBe(first);
    expect(engine.getEntity('@modellock@b')?.queue).toEqual([]);

    gate(gates, first).resolve('1');
    gate(gates, second).resolve('2');
    expect((await engine.waitForCompletion('ab')).runtimeStatus).toBe('Completed');
    expect((await engine.waitForCompletion('ba')).runtimeStatus).toBe('Completed');
    expect(log).toEqual([`enter ${first}`, `leave ${first}`, `enter ${second}`, `leave ${second}`]);
    for (const id of ['ab', 'ba']) {
      const lockSent = (await history(engine, id)).find((e) => e.EventType === H.EventSent)!;
      expect(lockSent.InstanceId).toBe('@modellock@a');
    }
  });

  it('gives the lock back when the holder fails inside the critical section; the waiter proceeds', async () => {
    const log: string[] = [];
    const gates = new Map<string, Gate>();
    const { engine } = run(criticalRegistry(log, gates));
    await engine.startNew('Fragile', { instanceId: 'fragile' });
    await until(() => log.length === 1, 'the fragile orchestration enters');
    await engine.startNew('Critical', { instanceId: 'waiter' });
    await until(() => waiting(engine, MODEL_LOCK, 'waiter'), 'the waiter queues');

    gate(gates, 'fragile').reject(new Error('deployment exploded'));
    const failed = await engine.waitForCompletion('fragile');
    expect(failed.runtimeStatus).toBe('Failed');
    expect(String(failed.output)).toContain('deployment exploded');

    await until(() => log.length === 2, 'the waiter enters');
    expect(log).toEqual(['enter fragile', 'enter waiter']);
    gate(gates, 'waiter').resolve('after failure');
    expect(await engine.waitForCompletion('waiter')).toMatchObject({ runtimeStatus: 'Completed' });
  });

  it('gives the lock back when the holder fails after lock.release() ran in a finally block', async () => {
    const log: string[] = [];
    const gates = new Map<string, Gate>();
    const { engine } = run(criticalRegistry(log, gates));
    await engine.startNew('Critical', { instanceId: 'holder' });
    await until(() => log.length === 1, 'the holder enters');
    await engine.startNew('Critical', { instanceId: 'next' });
    await until(() => waiting(engine, MODEL_LOCK, 'next'), 'the next one queues');
    gate(gates, 'holder').reject(new Error('work failed'));
    expect((await engine.waitForCompletion('holder')).runtimeStatus).toBe('Failed');
    await until(() => log.length === 2, 'the next one enters');
    gate(gates, 'next').resolve('ok');
    expect((await engine.waitForCompletion('next')).runtimeStatus).toBe('Completed');
  });

  it('gives the lock back when the holder is terminated', async () => {
    const log: string[] = [];
    const gates = new Map<string, Gate>();
    const { engine } = run(criticalRegistry(log, gates));
    await engine.startNew('Critical', { instanceId: 'stuck' });
    await until(() => log.length === 1, 'the holder enters');
    await engine.startNew('Critical', { instanceId: 'patient' });
    await until(() => waiting(engine, MODEL_LOCK, 'patient'), 'the waiter queues');
    await engine.terminate('stuck', 'operator gave up');
    expect((await engine.waitForCompletion('stuck')).runtimeStatus).toBe('Terminated');
    await until(() => log.length === 2, 'the waiter enters');
    expect(engine.getEntity(MODEL_LOCK)?.lockedBy).toBe('patient');
    gate(gates, 'patient').resolve('done');
    gate(gates, 'stuck').resolve('too late');
    expect((await engine.waitForCompletion('patient')).runtimeStatus).toBe('Completed');
  });

  it('drops the queued lock request of an instance terminated while waiting', async () => {
    const log: string[] = [];
    const gates = new Map<string, Gate>();
    const { engine } = run(criticalRegistry(log, gates));
    await engine.startNew('Critical', { instanceId: 'owner' });
    await until(() => log.length === 1, 'the owner enters');
    await engine.startNew('Critical', { instanceId: 'quitter' });
    await until(() => waiting(engine, MODEL_LOCK, 'quitter'), 'the quitter queues');
    await engine.terminate('quitter', 'not needed');
    await engine.waitForCompletion('quitter');
    expect(engine.getEntity(MODEL_LOCK)?.queue).toEqual([]);
    gate(gates, 'owner').resolve('ok');
    expect((await engine.waitForCompletion('owner')).runtimeStatus).toBe('Completed');
    await engine.whenIdle();
    expect(log).toEqual(['enter owner', 'leave owner']);
    expect(engine.getEntity(MODEL_LOCK)).toBeUndefined();
  });

  it('keeps serving the status of an orchestration that holds a lock', async () => {
    const log: string[] = [];
    const gates = new Map<string, Gate>();
    const { engine } = run(criticalRegistry(log, gates));
    await engine.startNew('Critical', { instanceId: 'holding' });
    await until(() => log.length === 1, 'the holder enters');
    const reply = await handleDurableHttp(engine, {
      method: 'GET',
      path: 'instances/holding',
      query: new URLSearchParams({ showHistory: 'true', showHistoryOutput: 'true' }),
      body: '',
      origin: 'http://127.0.0.1:7071',
    });
    expect(reply.status).toBe(202);
    const body = reply.body as { runtimeStatus: string; historyEvents: Record<string, unknown>[] };
    expect(body.runtimeStatus).toBe('Running');
    const sent = body.historyEvents.find((e) => e.EventType === 'EventSent')!;
    expect(sent).toMatchObject({ Name: 'op', InstanceId: MODEL_LOCK });
    const id = (sent.Input as { id: string }).id;
    expect(body.historyEvents).toContainEqual(
      expect.objectContaining({ EventType: 'EventRaised', Name: id, Input: { result: 'Lock Acquisition Completed' } }),
    );
    gate(gates, 'holding').resolve('ok');
    await engine.waitForCompletion('holding');
  });
});

describe('a crash while holding a lock', () => {
  it('resumes the holder after restart; it releases and the waiter then proceeds', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const file = dir.file('hub.db');
    const log: string[] = [];
    const gates = new Map<string, Gate>();
    const crashed = deferred();
    const armed: { for?: string } = {};

    const store1 = new DurableStore(file);
    // The abandoned connection is closed only at the very end, as the OS would after a kill.
    cleanups.push(() => store1.close());
    const reg1 = criticalRegistry(log, gates);
    const engine1 = new DurableEngine(
      reg1.engineOptions(store1, {
        faultHook: (point, { instanceId }) => {
          if (point !== 'activity.completed' || instanceId !== armed.for) return;
          crashed.resolve();
          throw new SimulatedCrash(point);
        },
      }),
    );
    engine1.start();
    await engine1.startNew('Critical', { instanceId: 'h1' });
    await engine1.startNew('Critical', { instanceId: 'h2' });
    await until(() => log.length === 1, 'one holds the lock');
    const holder = log[0]!.slice('enter '.length);
    const waiter = holder === 'h1' ? 'h2' : 'h1';
    await until(() => waiting(engine1, MODEL_LOCK, waiter), 'the other waits');
    armed.for = holder;
    gate(gates, holder).resolve('lost in the crash');
    await crashed.promise;

    // Restart on the same file: the lock and the queued request survived.
    const store2 = new DurableStore(file);
    const reg2 = new Registry()
      .activity('Enter', (id) => void log.push(`enter ${String(id)}`))
      .activity('Work', (id) => `${String(id)} after restart`)
      .activity('Leave', (id) => void log.push(`leave ${String(id)}`));
    reg2.orchestrators.set('Critical', reg1.handler('Critical'));
    const engine2 = new DurableEngine(reg2.engineOptions(store2));
    cleanups.push(async () => {
      await engine2.stop();
      store2.close();
    });
    expect(engine2.getEntity(MODEL_LOCK)).toMatchObject({
      lockedBy: holder,
      queue: [{ kind: 'lock', parent: waiter }],
    });
    engine2.start();
    expect(await engine2.waitForCompletion(holder)).toMatchObject({
      runtimeStatus: 'Completed',
      output: `${holder} after restart`,
    });
    expect(await engine2.waitForCompletion(waiter)).toMatchObject({
      runtimeStatus: 'Completed',
      output: `${waiter} after restart`,
    });
    expect(log).toEqual([`enter ${holder}`, `leave ${holder}`, `enter ${waiter}`, `leave ${waiter}`]);
    // The recovered histories still replay deterministically.
    for (const id of [holder, waiter]) {
      const exp = (await engine2.exportHistory(id))!;
      const replay = await replayHistory(reg1.handler('Critical'), exp);
      expect(checkDeterminism(exp, replay)).toMatchObject({ ok: true, pending: 0 });
    }
  });
});

describe('crash injection around entity steps', () => {
  /** A counter workflow plus a critical section, crashed at the nth occurrence of `point`, then recovered. */
  async function crashAndRecover(point: FaultPoint, occurrence: number): Promise<boolean> {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const file = dir.file('hub.db');
    const registry = (): Registry =>
      counterRegistry().orchestration('LockedAdd', function* (context: OrchestrationContext) {
        const id = new df.EntityId('Counter', 'guarded');
        const lock = (yield context.df.lock([id, new df.EntityId('modelLock', 'guarded')])) as df.DurableLock;
        try {
          return yield context.df.callEntity(id, 'add', 1);
        } finally {
          lock.release();
        }
      });
    const store1 = new DurableStore(file);
    cleanups.push(() => store1.close());
    const crashed = deferred();
    let seen = 0;
    const engine1 = new DurableEngine(
      registry().engineOptions(store1, {
        faultHook: (p) => {
          if (p !== point || ++seen !== occurrence) return;
          crashed.resolve();
          throw new SimulatedCrash(p);
        },
      }),
    );
    await engine1.startNew('Count', { instanceId: 'count', input: 'crashy' });
    await engine1.startNew('LockedAdd', { instanceId: 'locked' });
    engine1.start();
    const done = Promise.all([engine1.waitForCompletion('count'), engine1.waitForCompletion('locked')]);
    const first = await Promise.race([
      crashed.promise.then(() => 'crashed' as const),
      done.then(() => 'done' as const),
    ]);
    if (first === 'done') {
      await engine1.stop();
      return false;
    }

    const store2 = new DurableStore(file);
    const engine2 = new DurableEngine(registry().engineOptions(store2));
    cleanups.push(async () => {
      await engine2.stop();
      store2.close();
    });
    engine2.start();
    expect(await engine2.waitForCompletion('count')).toMatchObject({ runtimeStatus: 'Completed', output: [5, 7, 17] });
    expect(await engine2.waitForCompletion('locked')).toMatchObject({ runtimeStatus: 'Completed', output: 1 });
    await engine2.whenIdle();
    // Every operation took effect exactly once and no lock is left behind.
    expect(engine2.getEntity('@counter@crashy')).toMatchObject({ state: 17, queue: [] });
    expect(engine2.getEntity('@counter@guarded')).toMatchObject({ state: 1, queue: [] });
    expect(engine2.getEntity('@counter@guarded')?.lockedBy).toBeUndefined();
    expect(engine2.getEntity('@modellock@guarded')).toBeUndefined();
    return true;
  }

  for (const point of ['entity.beforeCommit', 'entity.afterCommit', 'episode.inCommit'] as const) {
    it(`recovers from a crash at ${point} (each occurrence)`, async () => {
      let crashes = 0;
      for (let n = 1; await crashAndRecover(point, n); n++) crashes++;
      expect(crashes).toBeGreaterThan(2);
    });
  }
});

interface CounterOps {
  add: number;
  get: undefined;
  boom: undefined;
}

function counter(context: EntityContext<number>): void {
  const value = context.df.getState(() => 0) ?? 0;
  switch (context.df.operationName as keyof CounterOps) {
    case 'add': {
      const next = value + (context.df.getInput() as number);
      context.df.setState(next);
      context.df.return(next);
      break;
    }
    case 'get':
      context.df.return(value);
      break;
    case 'boom':
      throw 'counter exploded';
    default:
      throw new Error(`unknown operation ${String(context.df.operationName)}`);
  }
}

function counterRegistry(): Registry {
  return new Registry()
    .entity('Counter', counter)
    .orchestration('Count', function* (context: OrchestrationContext) {
      const id = new df.EntityId('Counter', context.df.getInput() as string);
      const a = yield context.df.callEntity(id, 'add', 5);
      const b = yield context.df.callEntity(id, 'add', 2);
      context.df.signalEntity(id, 'add', 10);
      const c = yield context.df.callEntity(id, 'get');
      return [a, b, c];
    })
    .orchestration('Failing', function* (context: OrchestrationContext) {
      const out: string[] = [];
      for (const [name, op] of [
        ['Counter', 'boom'],
        ['Ghost', 'anything'],
      ] as const) {
        try {
          yield context.df.callEntity(new df.EntityId(name, 'x'), op);
          out.push('no error');
        } catch (err) {
          out.push((err as Error).message);
        }
      }
      return out;
    });
}

describe('entity operations (callEntity / signalEntity)', () => {
  it('returns results in order and keeps the state across engine restarts', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const file = dir.file('hub.db');

    const first = startEngine(counterRegistry(), { file });
    await first.engine.startNew('Count', { instanceId: 'count-1', input: 'models' });
    expect(await first.engine.waitForCompletion('count-1')).toMatchObject({
      runtimeStatus: 'Completed',
      output: [5, 7, 17],
    });
    const batch = first.registry.entityBatches[0]!;
    expect(batch).toMatchObject({
      self: { name: 'counter', key: 'models' },
      exists: false,
      batch: [{ name: 'add', input: '5', signal: false }],
    });
    expect(batch.state).toBeUndefined();
    // The signal was delivered before the next call, in arrival order.
    expect(first.registry.entityBatches.flatMap((b) => b.batch.map((o) => [o.name, o.signal]))).toEqual([
      ['add', false],
      ['add', false],
      ['add', true],
      ['get', false],
    ]);
    await first.close();

    const second = startEngine(counterRegistry(), { file });
    cleanups.push(() => second.close());
    expect(second.engine.getEntity(new df.EntityId('Counter', 'models'))).toMatchObject({ exists: true, state: 17 });
    await second.engine.startNew('Count', { instanceId: 'count-2', input: 'models' });
    expect(await second.engine.waitForCompletion('count-2')).toMatchObject({ output: [22, 24, 34] });
    expect(second.registry.entityBatches[0]).toMatchObject({ exists: true, state: '17' });
    // Other keys are other entities.
    await second.engine.startNew('Count', { instanceId: 'count-3', input: 'other' });
    expect(await second.engine.waitForCompletion('count-3')).toMatchObject({ output: [5, 7, 17] });
  });

  it('runs the operations of many callers one at a time per entity, none lost', async () => {
    const { engine } = run(counterRegistry());
    const ids = Array.from({ length: 8 }, (_, i) => `many-${i}`);
    for (const id of ids) await engine.startNew('Count', { instanceId: id, input: 'shared' });
    for (const id of ids) expect((await engine.waitForCompletion(id)).runtimeStatus).toBe('Completed');
    await engine.whenIdle();
    expect(engine.getEntity('@counter@shared')).toMatchObject({ state: 17 * ids.length, queue: [] });
  });

  it('reports a failing operation and a missing entity function to the calling orchestration', async () => {
    const { engine } = run(counterRegistry());
    await engine.startNew('Failing', { instanceId: 'failing' });
    const status = await engine.waitForCompletion('failing');
    expect(status.runtimeStatus).toBe('Completed');
    const [boom, ghost] = status.output as string[];
    expect(boom).toBe("Operation 'boom' of entity '@counter@x' failed. counter exploded");
    expect(ghost).toContain("The function 'ghost' doesn't exist, is disabled, or is not an entity function.");
  });

  it('lets the lock holder call a locked entity while other callers wait for the release', async () => {
    const gate = deferred();
    const registry = counterRegistry()
      .activity('Hold', () => gate.promise)
      .orchestration('Exclusive', function* (context: OrchestrationContext) {
        const id = new df.EntityId('Counter', 'locked');
        const lock = (yield context.df.lock(id)) as df.DurableLock;
        try {
          const a = yield context.df.callEntity(id, 'add', 1);
          yield context.df.callActivity('Hold');
          const b = yield context.df.callEntity(id, 'add', 1);
          return [a, b];
        } finally {
          lock.release();
        }
      });
    const { engine } = run(registry);
    await engine.startNew('Exclusive', { instanceId: 'exclusive' });
    await until(() => registry.entityBatches.length === 1, 'the holder ran its first operation');
    await engine.startNew('Count', { instanceId: 'outsider', input: 'locked' });
    await until(
      () => engine.getEntity('@counter@locked')?.queue.some((q) => q.parent === 'outsider') === true,
      'the outsider queues behind the lock',
    );
    gate.resolve();
    expect(await engine.waitForCompletion('exclusive')).toMatchObject({ output: [1, 2] });
    expect(await engine.waitForCompletion('outsider')).toMatchObject({ output: [7, 9, 19] });
  });
});

describe('replay of entity actions', () => {
  it('flattens lock, call, signal and release into one leaf per sequence id', () => {
    const lock = {
      actionType: ActionType.LockEntities,
      lockRequestId: 'req-1',
      lockSet: [
        { name: 'ModelLock', key: 'a' },
        { name: 'ModelLock', key: 'b' },
      ],
    };
    const flat = flattenActions([
      [
        lock,
        { actionType: ActionType.CallEntity, instanceId: '@modellock@a', operation: 'get' },
        { actionType: ActionType.ReleaseEntities },
        { actionType: ActionType.SignalEntity, instanceId: '@counter@x', operation: 'add', input: 1 },
      ],
    ]);
    expect(flat.unsupported).toBeUndefined();
    expect(flat.leaves.map((l) => [l.kind, l.entityId, l.name])).toEqual([
      ['lock', '@modellock@a', ''],
      ['entitycall', '@modellock@a', 'get'],
      ['release', '@modellock@a', ''],
      ['release', '@modellock@b', ''],
      ['signal', '@counter@x', 'add'],
    ]);
    expect(flat.leaves[3]).toMatchObject({ lockRequestId: 'req-1' });
  });

  it('fails an instance whose code now locks a different entity than the history recorded', async () => {
    const log: string[] = [];
    const gates = new Map<string, Gate>();
    const registry = criticalRegistry(log, gates);
    const { engine } = run(registry);
    await engine.startNew('Critical', { instanceId: 'changing' });
    await until(() => log.length === 1, 'the holder enters');
    registry.orchestration('Critical', function* (context: OrchestrationContext) {
      const lock = (yield context.df.lock(new df.EntityId('modelLock', 'other'))) as df.DurableLock;
      lock.release();
    });
    gate(gates, 'changing').resolve('ok');
    const status = await engine.waitForCompletion('changing');
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain('Non-Deterministic workflow detected');
    expect(String(status.output)).toContain(`scheduled a lock on [${MODEL_LOCK}] with sequence ID 0`);
    expect(String(status.output)).toContain('instead scheduled a lock on [@modellock@other]');
    await engine.whenIdle();
    expect(engine.getEntity(MODEL_LOCK)).toBeUndefined();
  });

  it('refuses to rewind an instance that used entities', async () => {
    const log: string[] = [];
    const gates = new Map<string, Gate>();
    const { engine } = run(criticalRegistry(log, gates));
    await engine.startNew('Fragile', { instanceId: 'rewind-me' });
    await until(() => log.length === 1, 'it enters');
    gate(gates, 'rewind-me').reject(new Error('broken'));
    expect((await engine.waitForCompletion('rewind-me')).runtimeStatus).toBe('Failed');
    await expect(engine.rewind('rewind-me', 'retry')).rejects.toThrow(/durable entities/);
  });
});

describe('entities through the local Functions host (df.app.entity → entityTrigger)', () => {
  it('runs entity functions registered by the app, with locks and signals, and keeps state across restarts', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const appDir = join(__dirname, 'fixtures', 'entity-app');
    const lines: string[] = [];
    const host = await LocalFunctionsHost.start({ appDir, dataDir: dir.dir, port: 0, log: (l) => lines.push(l) });
    let closed = false;
    cleanups.push(async () => {
      if (!closed) await host.close();
    });

    const id = await host.engine.startNew('LockedCount', { input: 'churn' });
    expect(await host.engine.waitForCompletion(id)).toMatchObject({
      runtimeStatus: 'Completed',
      output: { described: 'deployed churn', added: 2, locked: false },
    });
    await host.engine.whenIdle();
    // The signal sent after the critical section went to relay-source, which signalled Counter/churn in turn.
    expect(host.engine.getEntity(new df.EntityId('Counter', 'churn'))).toMatchObject({ exists: true, state: 102 });
    // relay-source never set a state, so (as in the SDK) it does not exist afterwards.
    expect(host.engine.getEntity('@counter@relay-source')).toBeUndefined();
    expect(host.engine.getEntity('@modellock@churn')).toBeUndefined();
    await host.close();
    closed = true;

    const again = await LocalFunctionsHost.start({ appDir, dataDir: dir.dir, port: 0, log: (l) => lines.push(l) });
    cleanups.push(() => again.close());
    const read = await again.engine.startNew('ReadCount', { input: 'churn' });
    expect(await again.engine.waitForCompletion(read)).toMatchObject({ runtimeStatus: 'Completed', output: 102 });
  });
});
