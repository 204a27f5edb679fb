import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableEngine, type FaultPoint } from '../../local/runtime/durable/engine';
import { SimulatedCrash } from '../../local/runtime/durable/errors';
import { checkDeterminism, replayHistory } from '../../local/runtime/durable/replay';
import { DurableStore } from '../../local/runtime/durable/store';
import { HistoryEventType as H } from '../../local/runtime/durable/types';
import { deferred, Registry, tempDir } from './helpers';

/**
 * Crash safety with an injected fault: the first engine freezes at a chosen point (nothing else is written, the
 * SQLite connection is abandoned open, like kill -9), then a second engine opens the same file and must finish
 * every instance with a history the orchestrator replays deterministically.
 */

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function registry(): Registry {
  return new Registry()
    .activity('Step', (n) => `step-${String(n)}`)
    .activity('Flaky', (_i, info) => {
      if (info.attempt === 1) throw new Error('first attempt fails');
      return 'flaky-ok';
    })
    .orchestration('Child', function* (context: OrchestrationContext) {
      return yield context.df.callActivity('Step', `child-${String(context.df.getInput())}`);
    })
    .orchestration('Workflow', function* (context: OrchestrationContext) {
      const a = yield context.df.callActivity('Step', 1);
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 5));
      const [b, c] = (yield context.df.Task.all([
        context.df.callActivity('Step', 2),
        context.df.callSubOrchestrator('Child', 3),
      ])) as unknown[];
      const d = yield context.df.callActivityWithRetry('Flaky', new df.RetryOptions(1, 2));
      const e = yield context.df.waitForExternalEvent('Finish');
      return [a, b, c, d, e];
    });
}

const EXPECTED = ['step-1', 'step-2', 'step-child-3', 'flaky-ok', 'finished'];

interface Crashed {
  file: string;
  crashedAt: Promise<void>;
  first: { engine: DurableEngine; store: DurableStore; registry: Registry };
}

/** Starts a workflow on a file-backed engine that crashes at the nth occurrence of `point`. */
async function runUntilCrash(point: FaultPoint, occurrence: number): Promise<Crashed> {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  const file = dir.file('hub.db');
  const store = new DurableStore(file);
  const reg = registry();
  const crashed = deferred();
  let seen = 0;
  const engine = new DurableEngine(
    reg.engineOptions(store, {
      faultHook: (p) => {
        if (p !== point || ++seen !== occurrence) return;
        crashed.resolve();
        throw new SimulatedCrash(p);
      },
    }),
  );
  // The abandoned connection is closed only at the very end, as the OS would after a kill.
  cleanups.push(() => store.close());
  // Queued before the engine starts processing, so the crash cannot hit these client calls. Finish is buffered
  // until the orchestrator waits for it.
  await engine.startNew('Workflow', { instanceId: 'wf' });
  await engine.raiseEvent('wf', 'Finish', 'finished');
  engine.start();
  const done = engine.waitForCompletion('wf').then(() => undefined);
  await Promise.race([crashed.promise, done]);
  return { file, crashedAt: crashed.promise, first: { engine, store, registry: reg } };
}

async function recover(file: string, now?: () => Date) {
  const store = new DurableStore(file);
  const reg = registry();
  const engine = new DurableEngine(reg.engineOptions(store, now ? { now } : {}));
  cleanups.push(async () => {
    await engine.stop();
    store.close();
  });
  engine.start();
  return { engine, store, registry: reg };
}

async function expectRecoveredHistory(engine: DurableEngine, reg: Registry): Promise<void> {
  const status = await engine.waitForCompletion('wf', 20_000);
  expect(status.runtimeStatus).toBe('Completed');
  expect(status.output).toEqual(EXPECTED);
  const exp = (await engine.exportHistory('wf'))!;
  const replay = await replayHistory(reg.handler('Workflow'), exp);
  expect(checkDeterminism(exp, replay)).toMatchObject({ ok: true, pending: 0 });
  expect(replay.output).toEqual(EXPECTED);
  // Every scheduled task completed exactly once, however often its activity actually ran.
  const completions = exp.history
    .filter((e) => [H.TaskCompleted, H.SubOrchestrationInstanceCompleted].includes(e.EventType as 5 | 8))
    .map((e) => e.TaskScheduledId);
  expect(new Set(completions).size).toBe(completions.length);
}

describe('crash recovery (injected faults)', () => {
  const points: { point: FaultPoint; occurrences: number }[] = [
    { point: 'episode.beforeCommit', occurrences: 7 },
    { point: 'episode.inCommit', occurrences: 7 },
    { point: 'episode.afterCommit', occurrences: 7 },
    { point: 'activity.started', occurrences: 5 },
    { point: 'activity.completed', occurrences: 5 },
  ];
  for (const { point, occurrences } of points) {
    it(`resumes every instance after a crash at ${point} (each occurrence)`, async () => {
      for (let n = 1; n <= occurrences; n++) {
        const crashed = await runUntilCrash(point, n);
        await crashed.crashedAt;
        const { engine, registry: reg } = await recover(crashed.file);
        await expectRecoveredHistory(engine, reg);
        while (cleanups.length > 0) await cleanups.pop()!();
      }
    });
  }

  it('re-runs an activity that was running when the process died (at-least-once)', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const file = dir.file('hub.db');
    const store = new DurableStore(file);
    cleanups.push(() => store.close());
    const hang = deferred<string>();
    const started = deferred();
    const reg = new Registry()
      .activity('Once', () => {
        started.resolve();
        return hang.promise;
      })
      .orchestration('UsesOnce', function* (context: OrchestrationContext) {
        return yield context.df.callActivity('Once', 'x');
      });
    const engine = new DurableEngine(
      reg.engineOptions(store, {
        faultHook: (p) => {
          if (p === 'activity.completed') throw new SimulatedCrash(p);
        },
      }),
    );
    engine.start();
    await engine.startNew('UsesOnce', { instanceId: 'once' });
    await started.promise;
    // The "dead" process's activity finishes late; its result must not reach the store.
    hang.resolve('late result from the dead process');

    const store2 = new DurableStore(file);
    const reg2 = new Registry()
      .activity('Once', () => 'rerun result')
      .orchestration('UsesOnce', function* (context: OrchestrationContext) {
        return yield context.df.callActivity('Once', 'x');
      });
    const engine2 = new DurableEngine(reg2.engineOptions(store2));
    cleanups.push(async () => {
      await engine2.stop();
      store2.close();
    });
    engine2.start();
    const status = await engine2.waitForCompletion('once');
    expect(status.output).toBe('rerun result');
    expect(reg2.calls).toHaveLength(1);
    const completed = (await engine2.exportHistory('once'))!.history.filter((e) => e.EventType === H.TaskCompleted);
    expect(completed).toHaveLength(1);
  });

  it('fires a durable timer that fell due while the process was down', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const file = dir.file('hub.db');
    const store = new DurableStore(file);
    cleanups.push(() => store.close());
    const reg = new Registry().orchestration('Sleeper', function* (context: OrchestrationContext) {
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 3_600_000));
      return 'woke up';
    });
    const engine = new DurableEngine(reg.engineOptions(store));
    engine.start();
    await engine.startNew('Sleeper', { instanceId: 'sleeper' });
    await engine.whenIdle();
    expect(store.nextTimerDue(0)).toBeGreaterThan(Date.now());
    // No stop(): the process just goes away. Two hours later a new one starts.
    const later = () => new Date(Date.now() + 2 * 3_600_000);
    const store2 = new DurableStore(file);
    const engine2 = new DurableEngine(reg.engineOptions(store2, { now: later }));
    cleanups.push(async () => {
      await engine2.stop();
      store2.close();
    });
    engine2.start();
    const status = await engine2.waitForCompletion('sleeper');
    expect(status.output).toBe('woke up');
  });

  it('persists unconsumed activity results on a clean stop instead of re-running them', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const file = dir.file('hub.db');
    const gate = deferred<string>();
    const reg = new Registry()
      .activity('Gate', () => gate.promise)
      .orchestration('Gated', function* (context: OrchestrationContext) {
        return yield context.df.callActivity('Gate');
      });
    const store = new DurableStore(file);
    const engine = new DurableEngine(reg.engineOptions(store));
    engine.start();
    await engine.startNew('Gated', { instanceId: 'gated' });
    await new Promise((r) => setImmediate(r));
    const stopping = engine.stop();
    gate.resolve('from first engine');
    await stopping;
    store.close();
    expect((await recoverGated(file, reg)).output).toBe('from first engine');
    expect(reg.calls).toHaveLength(1);
  });
});

async function recoverGated(file: string, reg: Registry) {
  const store = new DurableStore(file);
  const engine = new DurableEngine(reg.engineOptions(store));
  cleanups.push(async () => {
    await engine.stop();
    store.close();
  });
  engine.start();
  return engine.waitForCompletion('gated');
}
