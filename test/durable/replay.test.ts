import type { OrchestrationContext } from 'durable-functions';
import { afterEach, describe, expect, it } from 'vitest';
import {
  buildTrigger,
  flattenActions,
  interpretError,
  MAXIMUM_SHORT_TIMER_DURATION,
  UPPER_SCHEMA_VERSION,
} from '../../local/runtime/durable/replay';
import { ActionType, HistoryEventType as H, type HistoryEvent } from '../../local/runtime/durable/types';
import { Registry, startEngine, type TestEngine } from './helpers';

let current: TestEngine | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

function ev(type: number, fields: Partial<HistoryEvent> = {}): HistoryEvent {
  return { EventType: type, EventId: -1, IsPlayed: true, Timestamp: new Date(0), ...fields };
}

describe('trigger construction', () => {
  it('marks old events played, new ones not, and carries schema and timer settings', () => {
    const old = [ev(H.OrchestratorStarted), ev(H.ExecutionStarted, { Name: 'X' }), ev(H.OrchestratorCompleted)];
    const fresh = [ev(H.OrchestratorStarted), ev(H.EventRaised, { Name: 'e' })];
    const t = buildTrigger(old, fresh, { instanceId: 'i', input: { a: 1 }, parentInstanceId: 'p' });
    expect(t.history.map((e) => e.IsPlayed)).toEqual([true, true, true, false, false]);
    expect(t).toMatchObject({
      instanceId: 'i',
      input: { a: 1 },
      parentInstanceId: 'p',
      isReplaying: true,
      upperSchemaVersion: UPPER_SCHEMA_VERSION,
      upperSchemaVersionNew: UPPER_SCHEMA_VERSION,
      maximumShortTimerDuration: MAXIMUM_SHORT_TIMER_DURATION,
      longRunningTimerIntervalDuration: '3.00:00:00',
    });
    expect(buildTrigger([], fresh, { instanceId: 'i', input: undefined }).isReplaying).toBe(false);
  });

  it('lets the SDK report isReplaying only while it re-executes recorded history', async () => {
    const seen: boolean[] = [];
    const registry = new Registry()
      .activity('A', () => 'a')
      .orchestration('Observer', function* (context: OrchestrationContext) {
        seen.push(context.df.isReplaying);
        yield context.df.callActivity('A');
        seen.push(context.df.isReplaying);
        yield context.df.callActivity('A');
        seen.push(context.df.isReplaying);
        return null;
      });
    current = startEngine(registry);
    const id = await current.engine.startNew('Observer');
    await current.engine.waitForCompletion(id);
    // Episode 1: [false]; episode 2: [true, false]; episode 3: [true, true, false].
    expect(seen).toEqual([false, true, false, true, true, false]);
  });
});

describe('action flattening', () => {
  const a = { actionType: ActionType.CallActivity, functionName: 'A', input: '"x"' };
  const b = { actionType: ActionType.CallActivity, functionName: 'B', input: 2 };
  const timer = { actionType: ActionType.CreateTimer, fireAt: '2030-01-01T00:00:00.000Z', isCanceled: false };
  const wait = { actionType: ActionType.WaitForExternalEvent, externalEventName: 'E', reason: 'ExternalEvent' };

  it('gives the same leaves for V1 (flattened per yield) and V2+ (nested compound) action shapes', () => {
    const nested = [
      [
        a,
        {
          actionType: ActionType.WhenAny,
          compoundActions: [{ actionType: ActionType.WhenAll, compoundActions: [b, wait] }, timer],
        },
      ],
    ];
    const v1 = [[a], [b, wait, timer]];
    const expected = [
      { kind: 'activity', name: 'A', input: 'x' },
      { kind: 'activity', name: 'B', input: 2 },
      { kind: 'timer', name: '', input: undefined, fireAt: Date.parse('2030-01-01T00:00:00Z'), isCanceled: false },
    ];
    expect(flattenActions(nested).leaves).toEqual(expected);
    expect(flattenActions(v1).leaves).toEqual(expected);
  });

  it('skips a task yielded again inside a later Task.all (same action object, no new sequence id)', () => {
    expect(flattenActions([[a, b, { actionType: ActionType.WhenAll, compoundActions: [a, b] }]]).leaves).toHaveLength(
      2,
    );
  });

  it('reports continueAsNew and unsupported actions', () => {
    const can = flattenActions([[{ actionType: ActionType.ContinueAsNew, input: '"next"' }]]);
    expect(can.continueAsNew).toEqual({ input: 'next' });
    expect(flattenActions([[{ actionType: ActionType.CallHttp }]]).unsupported).toMatch(/callHttp is not supported/);
    expect(flattenActions([[{ actionType: ActionType.ScheduledSignalEntity }]]).unsupported).toMatch(
      /Scheduled entity signals are not supported/,
    );
  });

  it('recovers the state and the real error from a $OutOfProcData$ failure', () => {
    const state = { isDone: false, actions: [[a]], error: 'Error: real cause', schemaVersion: 3 };
    const err = new Error(`Error: real cause\n\n$OutOfProcData$:${JSON.stringify(state)}`);
    const outcome = interpretError(err);
    expect(outcome).toMatchObject({ failed: true, errorMessage: 'Error: real cause', state: { actions: [[a]] } });
    expect(interpretError(new Error('plain'))).toEqual({ failed: true, errorMessage: 'plain' });
  });
});

describe('compound tasks through the engine', () => {
  it('handles Task.all nested in Task.any and tasks yielded again later', async () => {
    const registry = new Registry()
      .activity('Fast', (x) => `fast-${String(x)}`)
      .orchestration('Nested', function* (context: OrchestrationContext) {
        const fast1 = context.df.callActivity('Fast', 1);
        const late = context.df.waitForExternalEvent('Late');
        const inner = context.df.Task.all([fast1, context.df.callActivity('Fast', 2)]);
        const first = (yield context.df.Task.any([inner, late])) as { result: unknown };
        // fast1 and late appear again in a new compound: same action objects, no new sequence ids.
        const both = yield context.df.Task.all([fast1, late]);
        const third = yield context.df.callActivity('Fast', 3);
        return { first: first.result, both, third };
      });
    current = startEngine(registry);
    const id = await current.engine.startNew('Nested');
    await current.engine.whenIdle();
    await current.engine.raiseEvent(id, 'Late', 'late');
    const status = await current.engine.waitForCompletion(id);
    expect(status.output).toEqual({ first: ['fast-1', 'fast-2'], both: ['fast-1', 'late'], third: 'fast-3' });
    const scheduled = (await current.engine.exportHistory(id))!.history.filter((e) => e.EventType === H.TaskScheduled);
    expect(scheduled.map((e) => [e.EventId, e.Input])).toEqual([
      [0, '1'],
      [1, '2'],
      [2, '3'],
    ]);
  });
});
