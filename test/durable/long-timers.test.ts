/**
 * Timers longer than Azure Storage's maximum short timer (6 days) run as a chain of links, as the extension runs
 * them (DurableOrchestrationContext.CreateTimer; AzureStorageDurabilityProvider: MaximumDelayTime 6 days,
 * LongRunningTimerIntervalLength 3 days), with the SDK's LongTimerTask taking a sequence id for each link.
 */
import type { OrchestrationContext } from 'durable-functions';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDeterminism, replayHistory } from '../../local/runtime/durable/replay';
import { HistoryEventType as H } from '../../local/runtime/durable/types';
import { Registry, startEngine, type TestEngine } from './helpers';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.parse('2030-01-01T00:00:00Z');

let current: TestEngine | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

function registry(): Registry {
  return new Registry()
    .activity('after', () => 'after')
    .orchestration('Long', function* (context: OrchestrationContext) {
      const days = context.df.getInput() as number;
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + days * DAY));
      return yield context.df.callActivity('after');
    })
    .orchestration('LongOrEvent', function* (context: OrchestrationContext) {
      const timer = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 10 * DAY));
      const event = context.df.waitForExternalEvent('go');
      const winner = yield context.df.Task.any([timer, event]);
      if (winner !== timer) timer.cancel();
      const rest = yield context.df.callActivity('after');
      return [winner === timer ? 'timer' : 'event', rest];
    });
}

/** An engine on a clock the test moves. */
function onClock() {
  let clock = T0;
  const t = startEngine(registry(), { now: () => new Date(clock) });
  current = t;
  return {
    t,
    async advanceTo(ms: number) {
      clock = ms;
      t.engine.checkTimers();
      await t.engine.whenIdle();
    },
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('long timers', () => {
  it('splits a 10-day timer into 3-day links and a last shorter one, and replays the history it recorded', async () => {
    const { t, advanceTo } = onClock();
    const id = await t.engine.startNew('Long', { instanceId: 'long', input: 10 });
    await t.engine.whenIdle();
    for (const day of [3, 6, 9]) {
      await advanceTo(T0 + day * DAY - 1);
      expect((await t.engine.getStatus(id))?.runtimeStatus).toBe('Running');
      await advanceTo(T0 + day * DAY);
    }
    await advanceTo(T0 + 10 * DAY);
    expect((await t.engine.waitForCompletion(id)).output).toBe('after');

    const recorded = (await t.engine.exportHistory(id))!;
    const created = recorded.history.filter((e) => e.EventType === H.TimerCreated);
    expect(created.map((e) => [e.EventId, e.FireAt])).toEqual([
      [0, iso(T0 + 3 * DAY)],
      [1, iso(T0 + 6 * DAY)],
      [2, iso(T0 + 9 * DAY)],
      [3, iso(T0 + 10 * DAY)],
    ]);
    expect(recorded.history.find((e) => e.EventType === H.TaskScheduled)?.EventId).toBe(4);
    const replay = await replayHistory(registry().handler('Long'), recorded);
    expect(replay.output).toBe('after');
    expect(checkDeterminism(recorded, replay)).toMatchObject({ ok: true, pending: 0 });
  });

  it('keeps a 6-day timer (the maximum short timer) in one piece', async () => {
    const { t, advanceTo } = onClock();
    const id = await t.engine.startNew('Long', { instanceId: 'six', input: 6 });
    await t.engine.whenIdle();
    await advanceTo(T0 + 6 * DAY);
    expect((await t.engine.waitForCompletion(id)).output).toBe('after');
    const created = (await t.engine.exportHistory(id))!.history.filter((e) => e.EventType === H.TimerCreated);
    expect(created.map((e) => e.FireAt)).toEqual([iso(T0 + 6 * DAY)]);
  });

  it('ends the chain when an event wins while a later link runs, and nothing fires afterwards', async () => {
    const { t, advanceTo } = onClock();
    const id = await t.engine.startNew('LongOrEvent', { instanceId: 'race' });
    await t.engine.whenIdle();
    await advanceTo(T0 + 3 * DAY); // first link fired, second armed
    await advanceTo(T0 + 4 * DAY);
    await t.engine.raiseEvent(id, 'go', null);
    expect((await t.engine.waitForCompletion(id)).output).toEqual(['event', 'after']);
    await advanceTo(T0 + 11 * DAY);
    const recorded = (await t.engine.exportHistory(id))!;
    expect(recorded.history.filter((e) => e.EventType === H.TimerFired)).toHaveLength(1);
    const replay = await replayHistory(registry().handler('LongOrEvent'), recorded);
    expect(checkDeterminism(recorded, replay)).toMatchObject({ ok: true, pending: 0 });
  });

  it('replays a timer recorded whole before timers were split (one TimerCreated at the end)', async () => {
    const { t, advanceTo } = onClock();
    const id = await t.engine.startNew('LongOrEvent', { instanceId: 'whole' });
    await t.engine.whenIdle();
    await advanceTo(T0 + 10 * DAY);
    const recorded = (await t.engine.exportHistory(id))!;
    // The same history as the engine wrote it when it passed TimeSpan.MaxValue: one timer, fired at the end.
    const legacy = structuredClone(recorded);
    legacy.history = legacy.history.filter((e) => !(e.EventType === H.TimerCreated && e.EventId > 0));
    legacy.history = legacy.history.filter((e) => !(e.EventType === H.TimerFired && (e.TimerId ?? 0) > 0));
    const first = legacy.history.find((e) => e.EventType === H.TimerCreated)!;
    first.FireAt = iso(T0 + 10 * DAY);
    const fired = legacy.history.find((e) => e.EventType === H.TimerFired)!;
    fired.FireAt = iso(T0 + 10 * DAY);
    for (const e of legacy.history) if (e.EventType === H.OrchestratorStarted) e.Timestamp = iso(T0 + 10 * DAY);
    legacy.history[0]!.Timestamp = iso(T0);
    const scheduled = legacy.history.find((e) => e.EventType === H.TaskScheduled)!;
    scheduled.EventId = 1;
    for (const e of legacy.history) if (e.EventType === H.TaskCompleted) e.TaskScheduledId = 1;
    const replay = await replayHistory(registry().handler('LongOrEvent'), legacy);
    expect(replay.output).toEqual(['timer', 'after']);
    expect(checkDeterminism(legacy, replay)).toMatchObject({ ok: true, pending: 0 });
  });
});
