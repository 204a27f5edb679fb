/* eslint-disable require-yield -- orchestrators that return without yielding are valid and covered here */
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDeterminism, replayHistory } from '../../local/runtime/durable/replay';
import { HistoryEventType as H, type HistoryEvent } from '../../local/runtime/durable/types';
import { deferred, Registry, startEngine, type TestEngine } from './helpers';

let current: TestEngine | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

function run(registry: Registry, extra: Parameters<typeof startEngine>[1] = {}): TestEngine {
  current = startEngine(registry, extra);
  return current;
}

function retry(first: number, max: number, extra: Partial<df.RetryOptions> = {}): df.RetryOptions {
  const o = new df.RetryOptions(first, max);
  Object.assign(o, extra);
  return o;
}

/** Compact history shape: type name plus the id that links it. */
function shape(history: HistoryEvent[]): string[] {
  const out: string[] = [];
  for (const e of history) {
    switch (e.EventType) {
      case H.TaskScheduled:
        out.push(`TaskScheduled#${e.EventId}`);
        break;
      case H.TaskCompleted:
        out.push(`TaskCompleted#${e.TaskScheduledId}`);
        break;
      case H.TaskFailed:
        out.push(`TaskFailed#${e.TaskScheduledId}`);
        break;
      case H.TimerCreated:
        out.push(`TimerCreated#${e.EventId}`);
        break;
      case H.TimerFired:
        out.push(`TimerFired#${e.TimerId}`);
        break;
      case H.SubOrchestrationInstanceCreated:
        out.push(`SubCreated#${e.EventId}`);
        break;
      case H.SubOrchestrationInstanceCompleted:
        out.push(`SubCompleted#${e.TaskScheduledId}`);
        break;
      case H.SubOrchestrationInstanceFailed:
        out.push(`SubFailed#${e.TaskScheduledId}`);
        break;
      default:
        break;
    }
  }
  return out;
}

/** The recorded history must replay through the same orchestrator to the same result, deterministically. */
async function expectReplayable(t: TestEngine, id: string): Promise<HistoryEvent[]> {
  const exp = (await t.engine.exportHistory(id))!;
  const replay = await replayHistory(t.registry.handler(exp.name), exp);
  expect(checkDeterminism(exp, replay)).toMatchObject({ ok: true, pending: 0 });
  const status = await t.engine.getStatus(id);
  if (status!.runtimeStatus === 'Completed') {
    expect(replay.isDone).toBe(true);
    expect(replay.output ?? null).toEqual(status!.output);
  }
  return exp.history;
}

describe('callActivityWithRetry', () => {
  it('records TaskFailed, a retry timer and a new TaskScheduled per failed attempt', async () => {
    let calls = 0;
    const registry = new Registry()
      .activity('Flaky', (x) => {
        calls++;
        if (calls < 3) throw new Error(`transient ${calls}`);
        return `ok ${String(x)}`;
      })
      .activity('After', () => 'after')
      .orchestration('Retrying', function* (context: OrchestrationContext) {
        const r = yield context.df.callActivityWithRetry('Flaky', retry(5, 3), 'x');
        const a = yield context.df.callActivity('After');
        return [r, a];
      });
    const t = run(registry);
    const id = await t.engine.startNew('Retrying');
    const status = await t.engine.waitForCompletion(id);
    expect(status.output).toEqual(['ok x', 'after']);
    expect(registry.calls.filter((c) => c.name === 'Flaky').map((c) => c.attempt)).toEqual([1, 2, 3]);
    const history = await expectReplayable(t, id);
    expect(shape(history)).toEqual([
      'TaskScheduled#0', 'TaskFailed#0', 'TimerCreated#1', 'TimerFired#1',
      'TaskScheduled#2', 'TaskFailed#2', 'TimerCreated#3', 'TimerFired#3',
      'TaskScheduled#4', 'TaskCompleted#4', 'TaskScheduled#5', 'TaskCompleted#5',
    ]); // prettier-ignore
  });

  it('fails the task after maxNumberOfAttempts, after the last retry timer, like the extension', async () => {
    const registry = new Registry()
      .activity('AlwaysFails', () => {
        throw new Error('permanent');
      })
      .orchestration('GivesUp', function* (context: OrchestrationContext) {
        try {
          yield context.df.callActivityWithRetry('AlwaysFails', retry(2, 2));
          return 'no';
        } catch (err) {
          return `gave up: ${(err as Error).message}`;
        }
      });
    const t = run(registry);
    const id = await t.engine.startNew('GivesUp');
    const status = await t.engine.waitForCompletion(id);
    expect(String(status.output)).toContain('gave up');
    expect(String(status.output)).toContain('permanent');
    expect(registry.calls).toHaveLength(2);
    const history = await expectReplayable(t, id);
    expect(shape(history)).toEqual([
      'TaskScheduled#0', 'TaskFailed#0', 'TimerCreated#1', 'TimerFired#1',
      'TaskScheduled#2', 'TaskFailed#2', 'TimerCreated#3', 'TimerFired#3',
    ]); // prettier-ignore
  });

  it('spaces retry timers with backoffCoefficient capped by maxRetryIntervalInMilliseconds', async () => {
    const registry = new Registry()
      .activity('Nope', () => {
        throw new Error('no');
      })
      .orchestration('Backoff', function* (context: OrchestrationContext) {
        try {
          yield context.df.callActivityWithRetry(
            'Nope',
            retry(4, 4, { backoffCoefficient: 2, maxRetryIntervalInMilliseconds: 10 }),
          );
        } catch {
          return 'done';
        }
        return 'unexpected';
      });
    const t = run(registry);
    const id = await t.engine.startNew('Backoff');
    expect((await t.engine.waitForCompletion(id)).output).toBe('done');
    const history = await expectReplayable(t, id);
    const delays = history
      .filter((e) => e.EventType === H.TimerCreated)
      .map((e) => Date.parse(e.FireAt!) - new Date(e.Timestamp).getTime());
    expect(delays).toEqual([4, 8, 10, 10]);
  });

  it('stops running attempts once retryTimeoutInMilliseconds has elapsed', async () => {
    let offset = 0;
    const registry = new Registry()
      .activity('Slow', () => {
        offset += 60_000; // each attempt "takes" a minute on the engine clock
        throw new Error('still failing');
      })
      .orchestration('TimeBoxed', function* (context: OrchestrationContext) {
        try {
          yield context.df.callActivityWithRetry('Slow', retry(1, 5, { retryTimeoutInMilliseconds: 30_000 }));
        } catch (err) {
          return (err as Error).message;
        }
        return 'unexpected';
      });
    const t = run(registry, { now: () => new Date(Date.now() + offset) });
    const id = await t.engine.startNew('TimeBoxed');
    const status = await t.engine.waitForCompletion(id);
    expect(registry.calls).toHaveLength(1);
    expect(String(status.output)).toContain('still failing');
    const history = await expectReplayable(t, id);
    // The SDK still walks all five attempts; the host fails the later ones without running them.
    expect(history.filter((e) => e.EventType === H.TaskFailed)).toHaveLength(5);
    expect(
      history.filter((e) => e.EventType === H.TaskFailed && String(e.Details).includes('retry timeout')),
    ).toHaveLength(4);
  });

  it('keeps sequence ids aligned when retries interleave with parallel tasks', async () => {
    let flakyCalls = 0;
    const other = deferred<string>();
    const registry = new Registry()
      .activity('Flaky', () => {
        flakyCalls++;
        if (flakyCalls === 1) {
          // Let the parallel task finish around the same time as the first failure.
          setImmediate(() => other.resolve('other'));
          throw new Error('first attempt fails');
        }
        return 'flaky ok';
      })
      .activity('Other', () => other.promise)
      .activity('Tail', (i) => `tail ${String(i)}`)
      .orchestration('Interleaved', function* (context: OrchestrationContext) {
        const results = yield context.df.Task.all([
          context.df.callActivityWithRetry('Flaky', retry(3, 3)),
          context.df.callActivity('Other'),
        ]);
        const t1 = yield context.df.callActivity('Tail', 1);
        const t2 = yield context.df.callActivity('Tail', 2);
        return [results, t1, t2];
      });
    const t = run(registry);
    const id = await t.engine.startNew('Interleaved');
    const status = await t.engine.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual([['flaky ok', 'other'], 'tail 1', 'tail 2']);
    const history = await expectReplayable(t, id);
    const ids = history
      .filter((e) => [H.TaskScheduled, H.TimerCreated].includes(e.EventType as 4 | 10))
      .map((e) => e.EventId);
    expect(ids).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('callSubOrchestratorWithRetry', () => {
  it('starts a new child per attempt and reports SubOrchestrationInstanceCompleted', async () => {
    let attempts = 0;
    const registry = new Registry()
      .activity('MaybeFail', () => {
        attempts++;
        if (attempts === 1) throw new Error('child attempt 1 failed');
        return 'child ok';
      })
      .orchestration('RetriedChild', function* (context: OrchestrationContext) {
        return yield context.df.callActivity('MaybeFail');
      })
      .orchestration('RetryParent', function* (context: OrchestrationContext) {
        return yield context.df.callSubOrchestratorWithRetry('RetriedChild', retry(3, 3), 'in');
      });
    const t = run(registry);
    const id = await t.engine.startNew('RetryParent');
    const status = await t.engine.waitForCompletion(id);
    expect(status.output).toBe('child ok');
    const history = await expectReplayable(t, id);
    expect(shape(history)).toEqual([
      'SubCreated#0',
      'SubFailed#0',
      'TimerCreated#1',
      'TimerFired#1',
      'SubCreated#2',
      'SubCompleted#2',
    ]);
    const childIds = history.filter((e) => e.EventType === H.SubOrchestrationInstanceCreated).map((e) => e.InstanceId!);
    expect(new Set(childIds).size).toBe(2);
    expect((await t.engine.getStatus(childIds[0]!))!.runtimeStatus).toBe('Failed');
    expect((await t.engine.getStatus(childIds[1]!))!.runtimeStatus).toBe('Completed');
  });

  it('reuses an explicit child instance id for every attempt and surfaces the final failure', async () => {
    const registry = new Registry()
      .orchestration('AlwaysBad', function* () {
        throw new Error('bad child');
      })
      .orchestration('ExplicitIdParent', function* (context: OrchestrationContext) {
        try {
          yield context.df.callSubOrchestratorWithRetry('AlwaysBad', retry(1, 2), undefined, 'the-child');
        } catch (err) {
          return (err as Error).message;
        }
        return 'unexpected';
      });
    const t = run(registry);
    const id = await t.engine.startNew('ExplicitIdParent');
    const status = await t.engine.waitForCompletion(id);
    expect(String(status.output)).toContain('bad child');
    const history = await expectReplayable(t, id);
    expect(shape(history)).toEqual([
      'SubCreated#0', 'SubFailed#0', 'TimerCreated#1', 'TimerFired#1',
      'SubCreated#2', 'SubFailed#2', 'TimerCreated#3', 'TimerFired#3',
    ]); // prettier-ignore
    expect(history.filter((e) => e.EventType === H.SubOrchestrationInstanceCreated).map((e) => e.InstanceId)).toEqual([
      'the-child',
      'the-child',
    ]);
  });
});
