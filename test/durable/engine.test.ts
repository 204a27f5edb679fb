/* eslint-disable require-yield -- orchestrators that return without yielding are valid and covered here */
import type { OrchestrationContext } from 'durable-functions';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InstanceExistsError,
  InstanceGoneError,
  InstanceNotFoundError,
  UnknownFunctionError,
} from '../../local/runtime/durable/errors';
import { HistoryEventType, type HistoryEvent } from '../../local/runtime/durable/types';
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

async function historyTypes(t: TestEngine, id: string): Promise<number[]> {
  const exp = await t.engine.exportHistory(id);
  return exp!.history.map((e) => e.EventType);
}

const H = HistoryEventType;

describe('DurableEngine: activities and completion', () => {
  it('runs a sequence of activities and records the history the SDK replays', async () => {
    const registry = new Registry()
      .activity('Hello', (name) => `Hello ${String(name)}!`)
      .orchestration('Sequence', function* (context: OrchestrationContext) {
        const out: unknown[] = [];
        out.push(yield context.df.callActivity('Hello', 'Tokyo'));
        out.push(yield context.df.callActivity('Hello', 'Seattle'));
        out.push(yield context.df.callActivity('Hello', 'London'));
        return out;
      });
    const t = run(registry);
    const id = await t.engine.startNew('Sequence', { instanceId: 'seq-1' });
    const status = await t.engine.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    // String inputs arrive JSON-encoded from the SDK; activities must see the original string.
    expect(registry.calls.map((c) => c.input)).toEqual(['Tokyo', 'Seattle', 'London']);
    expect(await historyTypes(t, id)).toEqual([
      H.OrchestratorStarted, H.ExecutionStarted, H.TaskScheduled, H.OrchestratorCompleted,
      H.OrchestratorStarted, H.TaskCompleted, H.TaskScheduled, H.OrchestratorCompleted,
      H.OrchestratorStarted, H.TaskCompleted, H.TaskScheduled, H.OrchestratorCompleted,
      H.OrchestratorStarted, H.TaskCompleted, H.ExecutionCompleted, H.OrchestratorCompleted,
    ]); // prettier-ignore
    const exp = await t.engine.exportHistory(id);
    const scheduled = exp!.history.filter((e) => e.EventType === H.TaskScheduled);
    expect(scheduled.map((e) => [e.EventId, e.Name, e.Input])).toEqual([
      [0, 'Hello', '"Tokyo"'],
      [1, 'Hello', '"Seattle"'],
      [2, 'Hello', '"London"'],
    ]);
    const stats = t.engine.stats();
    expect(stats.episodes).toBe(4);
    expect(stats.activitiesRun).toBe(3);
    expect(stats.historyEventsAppended).toBe(16);
  });

  it('passes the orchestration input and object activity results through JSON', async () => {
    const registry = new Registry()
      .activity('Double', (n) => ({ value: (n as { value: number }).value * 2 }))
      .orchestration('UseInput', function* (context: OrchestrationContext) {
        const input = context.df.getInput() as { value: number };
        const r = (yield context.df.callActivity('Double', input)) as { value: number };
        return { doubled: r.value, instanceId: context.df.instanceId };
      });
    const t = run(registry);
    const id = await t.engine.startNew('UseInput', { input: { value: 21 } });
    const status = await t.engine.waitForCompletion(id);
    expect(status.output).toEqual({ doubled: 42, instanceId: id });
    expect(status.input).toEqual({ value: 21 });
  });

  it('fans out with Task.all under the activity concurrency limit', async () => {
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 6 }, () => deferred());
    const registry = new Registry()
      .activity('Work', async (i) => {
        running++;
        peak = Math.max(peak, running);
        await gates[i as number]!.promise;
        running--;
        return (i as number) * 10;
      })
      .orchestration('FanOut', function* (context: OrchestrationContext) {
        const tasks = [0, 1, 2, 3, 4, 5].map((i) => context.df.callActivity('Work', i));
        const results = (yield context.df.Task.all(tasks)) as number[];
        return results.reduce((a, b) => a + b, 0);
      });
    const t = run(registry, { maxConcurrentActivities: 2 });
    const id = await t.engine.startNew('FanOut');
    // Release the gates one at a time; only two may ever be running.
    for (const g of gates) {
      await new Promise((r) => setImmediate(r));
      g.resolve();
    }
    const status = await t.engine.waitForCompletion(id);
    expect(status.output).toBe(150);
    expect(peak).toBeLessThanOrEqual(2);
    const exp = await t.engine.exportHistory(id);
    expect(exp!.history.filter((e) => e.EventType === H.TaskScheduled).map((e) => e.EventId)).toEqual([
      0, 1, 2, 3, 4, 5,
    ]);
  });

  it('resolves Task.any with the first completed task and leaves the loser harmless', async () => {
    const slow = deferred<string>();
    const registry = new Registry()
      .activity('Slow', () => slow.promise)
      .activity('Fast', () => 'fast')
      .orchestration('Race', function* (context: OrchestrationContext) {
        const a = context.df.callActivity('Slow');
        const b = context.df.callActivity('Fast');
        const winner = (yield context.df.Task.any([a, b])) as { result: unknown };
        return winner.result;
      });
    const t = run(registry);
    const id = await t.engine.startNew('Race');
    const status = await t.engine.waitForCompletion(id);
    expect(status.output).toBe('fast');
    slow.resolve('slow');
    await t.engine.whenIdle();
    expect((await t.engine.getStatus(id))!.runtimeStatus).toBe('Completed');
  });

  it('fails the instance with the error message when the orchestrator throws', async () => {
    const registry = new Registry().orchestration('Throws', function* (context: OrchestrationContext) {
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime()));
      throw new Error('boom in orchestrator');
    });
    const t = run(registry);
    const id = await t.engine.startNew('Throws');
    const status = await t.engine.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain("Orchestrator function 'Throws' failed: boom in orchestrator");
    const exp = await t.engine.exportHistory(id);
    const completed = exp!.history.find((e) => e.EventType === H.ExecutionCompleted)!;
    expect(completed.OrchestrationStatus).toBe('Failed');
  });

  it('delivers activity failures as TaskFailed (Reason + Details) that the orchestrator can catch', async () => {
    const registry = new Registry()
      .activity('Broken', () => {
        throw new Error('disk on fire');
      })
      .orchestration('Catches', function* (context: OrchestrationContext) {
        try {
          yield context.df.callActivity('Broken');
          return 'unexpected';
        } catch (err) {
          return `caught: ${(err as Error).message}`;
        }
      });
    const t = run(registry);
    const id = await t.engine.startNew('Catches');
    const status = await t.engine.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(String(status.output)).toContain("caught: Activity function 'Broken' failed: disk on fire");
    const failed = (await t.engine.exportHistory(id))!.history.find((e) => e.EventType === H.TaskFailed)!;
    expect(failed.TaskScheduledId).toBe(0);
    expect(failed.Reason).toContain('disk on fire');
    expect(failed.Details).toContain('Error: disk on fire');
  });

  it('fails clearly for unknown activity and orchestrator names', async () => {
    const registry = new Registry()
      .orchestration('CallsMissing', function* (context: OrchestrationContext) {
        yield context.df.callActivity('NoSuchActivity', 1);
      })
      .orchestration('CallsMissingChild', function* (context: OrchestrationContext) {
        yield context.df.callSubOrchestrator('NoSuchOrchestrator');
      });
    const t = run(registry);
    await expect(t.engine.startNew('NoSuchOrchestrator')).rejects.toBeInstanceOf(UnknownFunctionError);
    const a = await t.engine.startNew('CallsMissing');
    const sa = await t.engine.waitForCompletion(a);
    expect(sa.runtimeStatus).toBe('Failed');
    expect(String(sa.output)).toContain("The function 'NoSuchActivity' doesn't exist");
    const b = await t.engine.startNew('CallsMissingChild');
    const sb = await t.engine.waitForCompletion(b);
    expect(sb.runtimeStatus).toBe('Failed');
    expect(String(sb.output)).toContain("The function 'NoSuchOrchestrator' doesn't exist");
  });

  it('keeps custom status visible while the orchestration waits', async () => {
    const registry = new Registry().orchestration('Status', function* (context: OrchestrationContext) {
      context.df.setCustomStatus({ stage: 'waiting' });
      const v = (yield context.df.waitForExternalEvent('Go')) as number;
      context.df.setCustomStatus({ stage: 'done', v });
      return v;
    });
    const t = run(registry);
    const id = await t.engine.startNew('Status');
    await t.engine.whenIdle();
    const waiting = await t.engine.getStatus(id);
    expect(waiting!.runtimeStatus).toBe('Running');
    expect(waiting!.customStatus).toEqual({ stage: 'waiting' });
    await t.engine.raiseEvent(id, 'Go', 7);
    const done = await t.engine.waitForCompletion(id);
    expect(done.customStatus).toEqual({ stage: 'done', v: 7 });
    expect(done.output).toBe(7);
  });
});

describe('DurableEngine: events and timers', () => {
  it('buffers an event raised before the orchestrator waits for it', async () => {
    const gate = deferred<string>();
    const registry = new Registry()
      .activity('Prepare', () => gate.promise)
      .orchestration('Approval', function* (context: OrchestrationContext) {
        const prepared = yield context.df.callActivity('Prepare');
        const approval = yield context.df.waitForExternalEvent('Approved');
        return { prepared, approval };
      });
    const t = run(registry);
    const id = await t.engine.startNew('Approval');
    await t.engine.raiseEvent(id, 'Approved', { by: 'alice' }); // arrives while Prepare still runs
    gate.resolve('ready');
    const status = await t.engine.waitForCompletion(id);
    expect(status.output).toEqual({ prepared: 'ready', approval: { by: 'alice' } });
    const types = await historyTypes(t, id);
    expect(types.indexOf(H.EventRaised)).toBeLessThan(types.indexOf(H.TaskCompleted));
  });

  it('fires durable timers and advances currentUtcDateTime from OrchestratorStarted', async () => {
    const registry = new Registry().orchestration('Timer', function* (context: OrchestrationContext) {
      const start = context.df.currentUtcDateTime.getTime();
      const fireAt = new Date(start + 30);
      yield context.df.createTimer(fireAt);
      return {
        waitedAtLeast: context.df.currentUtcDateTime.getTime() >= fireAt.getTime(),
        fireAt: fireAt.toISOString(),
      };
    });
    const t = run(registry);
    const id = await t.engine.startNew('Timer');
    const status = await t.engine.waitForCompletion(id);
    expect(status.output).toMatchObject({ waitedAtLeast: true });
    const history = (await t.engine.exportHistory(id))!.history;
    const created = history.find((e) => e.EventType === H.TimerCreated)!;
    const fired = history.find((e) => e.EventType === H.TimerFired)!;
    expect(created.EventId).toBe(0);
    expect(fired.TimerId).toBe(0);
    expect(created.FireAt).toBe((status.output as { fireAt: string }).fireAt);
  });

  it('races an external event against a timer (Task.any) and cancels the timer', async () => {
    const registry = new Registry().orchestration('Deadline', function* (context: OrchestrationContext) {
      const deadline = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 3_600_000));
      const event = context.df.waitForExternalEvent('Answer');
      const winner = yield context.df.Task.any([event, deadline]);
      if (winner === event) {
        deadline.cancel();
        return { answer: event.result };
      }
      return 'timed out';
    });
    const t = run(registry);
    const id = await t.engine.startNew('Deadline');
    await t.engine.whenIdle();
    await t.engine.raiseEvent(id, 'Answer', 42);
    const status = await t.engine.waitForCompletion(id);
    expect(status.output).toEqual({ answer: 42 });
    // Completion removed the hour-long timer from the inbox.
    expect(t.store.nextTimerDue(0)).toBeUndefined();
  });

  it('rejects events for unknown (404) and finished (410) instances', async () => {
    const registry = new Registry().orchestration('Quick', function* () {
      return 1;
    });
    const t = run(registry);
    await expect(t.engine.raiseEvent('nope', 'X', 1)).rejects.toBeInstanceOf(InstanceNotFoundError);
    const id = await t.engine.startNew('Quick');
    await t.engine.waitForCompletion(id);
    await expect(t.engine.raiseEvent(id, 'X', 1)).rejects.toBeInstanceOf(InstanceGoneError);
    await expect(t.engine.terminate(id, 'late')).rejects.toBeInstanceOf(InstanceGoneError);
  });
});

describe('DurableEngine: sub-orchestrations', () => {
  it('runs a child and hands its output to the parent', async () => {
    const registry = new Registry()
      .activity('Square', (n) => (n as number) ** 2)
      .orchestration('Child', function* (context: OrchestrationContext) {
        const n = context.df.getInput() as number;
        return yield context.df.callActivity('Square', n);
      })
      .orchestration('Parent', function* (context: OrchestrationContext) {
        const a = yield context.df.callSubOrchestrator('Child', 3, 'child-a');
        const b = yield context.df.callSubOrchestrator('Child', 4);
        return [a, b, context.df.parentInstanceId ?? null];
      });
    const t = run(registry);
    const id = await t.engine.startNew('Parent', { instanceId: 'parent-1' });
    const status = await t.engine.waitForCompletion(id);
    expect(status.output).toEqual([9, 16, null]);
    const child = await t.engine.getStatus('child-a');
    expect(child!.runtimeStatus).toBe('Completed');
    const history = (await t.engine.exportHistory(id))!.history;
    const created = history.filter((e) => e.EventType === H.SubOrchestrationInstanceCreated);
    expect(created.map((e) => [e.EventId, e.Name, e.InstanceId])).toEqual([
      [0, 'Child', 'child-a'],
      [1, 'Child', expect.stringMatching(/:1$/)],
    ]);
    expect(history.filter((e) => e.EventType === H.SubOrchestrationInstanceCompleted).map((e) => e.Result)).toEqual([
      '9',
      '16',
    ]);
  });

  it('reports a failing child to the parent as SubOrchestrationInstanceFailed', async () => {
    const registry = new Registry()
      .orchestration('BadChild', function* () {
        throw new Error('child exploded');
      })
      .orchestration('Guardian', function* (context: OrchestrationContext) {
        try {
          yield context.df.callSubOrchestrator('BadChild', undefined, 'bad-child');
        } catch (err) {
          return `parent saw: ${(err as Error).message}`;
        }
        return 'no error';
      });
    const t = run(registry);
    const id = await t.engine.startNew('Guardian');
    const status = await t.engine.waitForCompletion(id);
    expect(String(status.output)).toContain('child exploded');
    expect((await t.engine.getStatus('bad-child'))!.runtimeStatus).toBe('Failed');
  });
});

describe('DurableEngine: instance management', () => {
  it('refuses to start over a running instance and overwrites a finished one', async () => {
    const registry = new Registry().orchestration('Waits', function* (context: OrchestrationContext) {
      return yield context.df.waitForExternalEvent('Done');
    });
    const t = run(registry);
    await t.engine.startNew('Waits', { instanceId: 'fixed', input: 1 });
    await expect(t.engine.startNew('Waits', { instanceId: 'fixed' })).rejects.toBeInstanceOf(InstanceExistsError);
    await t.engine.raiseEvent('fixed', 'Done', 'first');
    expect((await t.engine.waitForCompletion('fixed')).output).toBe('first');
    await t.engine.startNew('Waits', { instanceId: 'fixed', input: 2 });
    await t.engine.whenIdle();
    const restarted = await t.engine.getStatus('fixed');
    expect(restarted).toMatchObject({ runtimeStatus: 'Running', input: 2, output: null });
    await t.engine.raiseEvent('fixed', 'Done', 'second');
    expect((await t.engine.waitForCompletion('fixed')).output).toBe('second');
    const history = (await t.engine.exportHistory('fixed'))!.history;
    expect(history.filter((e) => e.EventType === H.ExecutionStarted)).toHaveLength(1);
  });

  // The extension's MessagePayloadDataConverter: whole KB of UTF-16 above 16 fail (docs: "Custom orchestration status").
  it('fails an orchestration whose custom status is over 16 KB of UTF-16 JSON, keeping the last accepted one', async () => {
    const registry = new Registry().orchestration('Status', function* (context: OrchestrationContext) {
      const chars = context.df.getInput() as number;
      context.df.setCustomStatus('small');
      yield context.df.createTimer(context.df.currentUtcDateTime);
      context.df.setCustomStatus('x'.repeat(chars - 2)); // JSON adds the two quotes
      yield context.df.createTimer(context.df.currentUtcDateTime);
      return 'done';
    });
    const t = run(registry);
    // 8703 UTF-16 code units are 17,406 bytes: 16 whole KB, accepted; 8704 are 17 KB.
    await t.engine.startNew('Status', { instanceId: 'fits', input: 8703 });
    await t.engine.startNew('Status', { instanceId: 'over', input: 8704 });
    expect((await t.engine.waitForCompletion('fits')).runtimeStatus).toBe('Completed');
    const over = await t.engine.waitForCompletion('over');
    expect(over).toMatchObject({ runtimeStatus: 'Failed', customStatus: 'small' });
    expect(String(over.output)).toContain(
      'The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. The current payload size is 17 KB.',
    );
  });

  // overridableExistingInstanceStates NonRunningStates (the extension's OverridableStates.cs): Pending, Running,
  // ContinuedAsNew and Suspended instances are kept; Completed, Failed and Terminated ones are replaced.
  it('keeps a suspended instance and replaces a failed or terminated one (NonRunningStates)', async () => {
    const registry = new Registry()
      .orchestration('Waits', function* (context: OrchestrationContext) {
        return yield context.df.waitForExternalEvent('Done');
      })
      .orchestration('Fails', function* () {
        yield* [];
        throw new Error('boom');
      });
    const t = run(registry);
    await t.engine.startNew('Waits', { instanceId: 'suspended' });
    await t.engine.whenIdle();
    await t.engine.suspend('suspended', 'hold');
    await t.engine.whenIdle();
    expect((await t.engine.getStatus('suspended'))?.runtimeStatus).toBe('Suspended');
    await expect(t.engine.startNew('Waits', { instanceId: 'suspended' })).rejects.toBeInstanceOf(InstanceExistsError);

    await t.engine.startNew('Fails', { instanceId: 'failed' });
    expect((await t.engine.waitForCompletion('failed')).runtimeStatus).toBe('Failed');
    await t.engine.startNew('Waits', { instanceId: 'terminated' });
    await t.engine.terminate('terminated', 'stop');
    expect((await t.engine.waitForCompletion('terminated')).runtimeStatus).toBe('Terminated');
    for (const id of ['failed', 'terminated']) {
      await t.engine.startNew('Waits', { instanceId: id, input: 'again' });
      await t.engine.whenIdle();
      expect(await t.engine.getStatus(id)).toMatchObject({ name: 'Waits', runtimeStatus: 'Running', input: 'again' });
    }
  });

  it('terminates a running instance, dropping its pending work', async () => {
    const gate = deferred();
    const registry = new Registry()
      .activity('Long', () => gate.promise)
      .orchestration('Stuck', function* (context: OrchestrationContext) {
        yield context.df.callActivity('Long');
        return 'finished';
      });
    const t = run(registry);
    const id = await t.engine.startNew('Stuck');
    await new Promise((r) => setImmediate(r));
    await t.engine.terminate(id, 'operator said so');
    const status = await t.engine.waitForCompletion(id);
    expect(status).toMatchObject({ runtimeStatus: 'Terminated', output: 'operator said so' });
    gate.resolve();
    await t.engine.whenIdle();
    expect((await t.engine.getStatus(id))!.runtimeStatus).toBe('Terminated');
    expect(t.store.allActivities()).toHaveLength(0);
    const last = (await t.engine.exportHistory(id))!.history.at(-1) as HistoryEvent;
    expect(last.EventType).toBe(H.ExecutionTerminated);
  });

  it('suspends (buffering results and events) and resumes', async () => {
    const gate = deferred<string>();
    const registry = new Registry()
      .activity('Step', () => gate.promise)
      .orchestration('Pausable', function* (context: OrchestrationContext) {
        const a = yield context.df.callActivity('Step');
        const b = yield context.df.waitForExternalEvent('Next');
        return [a, b];
      });
    const t = run(registry);
    const id = await t.engine.startNew('Pausable');
    await new Promise((r) => setImmediate(r));
    await t.engine.suspend(id, 'maintenance');
    await t.engine.raiseEvent(id, 'Next', 'n');
    gate.resolve('a');
    await t.engine.whenIdle();
    const suspended = await t.engine.getStatus(id);
    expect(suspended!.runtimeStatus).toBe('Suspended');
    await t.engine.resume(id, 'back');
    const status = await t.engine.waitForCompletion(id);
    expect(status.output).toEqual(['a', 'n']);
    const types = await historyTypes(t, id);
    expect(types).toContain(H.ExecutionSuspended);
    expect(types).toContain(H.ExecutionResumed);
  });

  it('continues as new with a fresh history and keeps undelivered events for the new generation', async () => {
    const registry = new Registry().orchestration('Counter', function* (context: OrchestrationContext) {
      const n = context.df.getInput() as number;
      if (n < 3) {
        context.df.continueAsNew(n + 1);
        return undefined;
      }
      const extra = yield context.df.waitForExternalEvent('Extra');
      return { n, extra };
    });
    const t = run(registry, {
      faultHook: (point, { instanceId }) => {
        // An event arriving while the last continueAsNew episode (n = 2, the third episode) is being committed
        // is not part of that episode's batch: it must survive into the new generation.
        if (point === 'episode.beforeCommit' && instanceId === 'counter' && ++episodes === 3) {
          void t.engine.raiseEvent('counter', 'Extra', 'carried');
        }
      },
    });
    let episodes = 0;
    const id = await t.engine.startNew('Counter', { instanceId: 'counter', input: 0 });
    const status = await t.engine.waitForCompletion(id);
    expect(status.output).toEqual({ n: 3, extra: 'carried' });
    expect(status.input).toBe(3);
    const types = await historyTypes(t, id);
    expect(types.filter((x) => x === H.ExecutionStarted)).toHaveLength(1);
  });

  it('purges terminal instances only', async () => {
    const registry = new Registry()
      .orchestration('Done', function* () {
        return 'ok';
      })
      .orchestration('Waiting', function* (context: OrchestrationContext) {
        yield context.df.waitForExternalEvent('never');
      });
    const t = run(registry);
    const a = await t.engine.startNew('Done', { instanceId: 'p-a' });
    const b = await t.engine.startNew('Waiting', { instanceId: 'p-b' });
    const c = await t.engine.startNew('Done', { instanceId: 'p-c' });
    await t.engine.waitForCompletion(a);
    await t.engine.waitForCompletion(c);
    await t.engine.whenIdle();
    expect(await t.engine.purge(b)).toBe(false);
    expect(await t.engine.purge(a)).toBe(true);
    expect(await t.engine.getStatus(a)).toBeUndefined();
    expect(await t.engine.exportHistory(a)).toBeUndefined();
    expect(await t.engine.purge('missing')).toBe(false);
    expect(await t.engine.purgeMany({ runtimeStatus: ['Completed', 'Running'] })).toBe(1);
    expect((await t.engine.list({})).instances.map((s) => s.instanceId)).toEqual(['p-b']);
  });

  it('lists with filters and continuation tokens', async () => {
    let clock = Date.parse('2030-01-01T00:00:00Z');
    const registry = new Registry().orchestration('Noop', function* () {
      return null;
    });
    const t = run(registry, { now: () => new Date(clock) });
    for (let i = 0; i < 5; i++) {
      clock += 1000;
      await t.engine.startNew('Noop', { instanceId: `job-${i}` });
    }
    clock += 1000;
    await t.engine.startNew('Noop', { instanceId: 'other' });
    await t.engine.whenIdle();
    const page1 = await t.engine.list({ instanceIdPrefix: 'job-', top: 2 });
    expect(page1.instances.map((s) => s.instanceId)).toEqual(['job-0', 'job-1']);
    const page2 = await t.engine.list({ instanceIdPrefix: 'job-', top: 2, continuationToken: page1.continuationToken });
    expect(page2.instances.map((s) => s.instanceId)).toEqual(['job-2', 'job-3']);
    const page3 = await t.engine.list({ instanceIdPrefix: 'job-', top: 2, continuationToken: page2.continuationToken });
    expect(page3.instances.map((s) => s.instanceId)).toEqual(['job-4']);
    expect(page3.continuationToken).toBeUndefined();
    const ranged = await t.engine.list({
      createdTimeFrom: new Date(Date.parse('2030-01-01T00:00:02Z')),
      createdTimeTo: new Date(Date.parse('2030-01-01T00:00:03Z')),
      runtimeStatus: ['Completed'],
    });
    expect(ranged.instances.map((s) => s.instanceId)).toEqual(['job-1', 'job-2']);
    expect((await t.engine.list({ runtimeStatus: ['Running'] })).instances).toHaveLength(0);
  });

  it('reports status with history when asked', async () => {
    const registry = new Registry()
      .activity('Echo', (x) => x)
      .orchestration('WithHistory', function* (context: OrchestrationContext) {
        return yield context.df.callActivity('Echo', { a: 1 });
      });
    const t = run(registry);
    const id = await t.engine.startNew('WithHistory', { input: 'in' });
    await t.engine.waitForCompletion(id);
    const s = await t.engine.getStatus(id, { showHistory: true, showHistoryOutput: true, showInput: false });
    expect(s!.input).toBeNull();
    expect(s!.historyEvents!.map((e) => e.EventType)).toEqual([
      'ExecutionStarted',
      'TaskCompleted',
      'ExecutionCompleted',
    ]);
    expect(s!.historyEvents![1]).toMatchObject({ FunctionName: 'Echo', Result: { a: 1 } });
    expect(s!.historyEvents![2]).toMatchObject({ OrchestrationStatus: 'Completed', Result: { a: 1 } });
    const plain = await t.engine.getStatus(id, { showHistory: true });
    expect(plain!.historyEvents![1]).not.toHaveProperty('Result');
  });
});
