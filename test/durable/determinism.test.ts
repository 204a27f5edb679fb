import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDeterminism, matchHistory, replayHistory } from '../../local/runtime/durable/replay';
import { HistoryEventType as H, type HistoryExport } from '../../local/runtime/durable/types';
import { Registry, startEngine, type TestEngine } from './helpers';
import { normalize, scenarios } from './scenarios';

const GOLDEN_DIR = join(__dirname, 'golden');

let current: TestEngine | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

function run(registry: Registry): TestEngine {
  current = startEngine(registry);
  return current;
}

describe('nondeterminism detection in the engine', () => {
  function* v1(context: OrchestrationContext): Generator<df.Task, unknown, unknown> {
    const a = yield context.df.callActivity('A', 1);
    const go = yield context.df.waitForExternalEvent('Go');
    const c = yield context.df.callActivity('C', go);
    return [a, c];
  }

  async function startV1(): Promise<{ t: TestEngine; registry: Registry; id: string }> {
    const registry = new Registry()
      .activity('A', () => 'a')
      .activity('B', () => 'b')
      .activity('C', (x) => `c${String(x)}`)
      .orchestration('Evolving', v1);
    const t = run(registry);
    const id = await t.engine.startNew('Evolving', { instanceId: 'evolving' });
    await t.engine.whenIdle();
    expect((await t.engine.getStatus(id))!.runtimeStatus).toBe('Running');
    return { t, registry, id };
  }

  it('fails the instance when the code now schedules a different activity for a recorded sequence id', async () => {
    const { t, registry, id } = await startV1();
    registry.orchestration('Evolving', function* (context: OrchestrationContext) {
      yield context.df.callActivity('B', 1); // was 'A'
      yield context.df.waitForExternalEvent('Go');
    });
    await t.engine.raiseEvent(id, 'Go', 2);
    const status = await t.engine.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Failed');
    const msg = String(status.output);
    expect(msg).toContain('Non-Deterministic workflow detected');
    expect(msg).toContain("scheduled an activity task named 'A' with sequence ID 0");
    expect(msg).toContain("instead scheduled an activity task named 'B'");
    expect(registry.calls.map((c) => c.name)).toEqual(['A']);
  });

  it('fails the instance when the code no longer schedules a recorded task', async () => {
    const { t, registry, id } = await startV1();
    registry.orchestration('Evolving', function* (context: OrchestrationContext) {
      const go = yield context.df.waitForExternalEvent('Go');
      return go;
    });
    await t.engine.raiseEvent(id, 'Go', 2);
    const status = await t.engine.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain("scheduled an activity task named 'A' with sequence ID 0");
    expect(String(status.output)).toContain("hasn't (yet?) scheduled this task");
  });

  it('reports a timer where an activity was recorded', async () => {
    const { t, registry, id } = await startV1();
    registry.orchestration('Evolving', function* (context: OrchestrationContext) {
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
      yield context.df.waitForExternalEvent('Go');
    });
    await t.engine.raiseEvent(id, 'Go', 2);
    const status = await t.engine.waitForCompletion(id);
    expect(String(status.output)).toContain('instead scheduled a durable timer');
  });

  it('accepts changes after the point the history reached', async () => {
    const { t, registry, id } = await startV1();
    registry.orchestration('Evolving', function* (context: OrchestrationContext) {
      const a = yield context.df.callActivity('A', 1);
      const go = yield context.df.waitForExternalEvent('Go');
      const b = yield context.df.callActivity('B', go); // new code path after the recorded point
      return [a, b];
    });
    await t.engine.raiseEvent(id, 'Go', 2);
    const status = await t.engine.waitForCompletion(id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b'] });
  });
});

describe('golden histories', () => {
  for (const scenario of scenarios) {
    describe(scenario.name, () => {
      const file = join(GOLDEN_DIR, `${scenario.name}.json`);

      async function record(): Promise<HistoryExport> {
        const registry = new Registry();
        scenario.register(registry);
        const t = run(registry);
        const id = await t.engine.startNew(scenario.orchestrator, {
          instanceId: `golden-${scenario.name}`,
          input: scenario.input,
        });
        await scenario.drive?.(t.engine, id);
        const status = await t.engine.waitForCompletion(id);
        expect(status.output).toEqual(scenario.expectedOutput);
        return (await t.engine.exportHistory(id))!;
      }

      it('is recorded with the same shape by the current engine', async () => {
        const recorded = await record();
        if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
          // Keep only the first line of error details: stack traces hold machine-specific paths.
          for (const e of recorded.history) if (typeof e.Details === 'string') e.Details = e.Details.split('\n')[0];
          writeFileSync(file, JSON.stringify(recorded, null, 2) + '\n');
        }
        const golden = JSON.parse(readFileSync(file, 'utf8')) as HistoryExport;
        expect(normalize(recorded.history)).toEqual(normalize(golden.history));
      });

      it('replays deterministically through the current orchestrator code', async () => {
        const golden = JSON.parse(readFileSync(file, 'utf8')) as HistoryExport;
        const registry = new Registry();
        scenario.register(registry);
        const replay = await replayHistory(registry.handler(golden.name), golden);
        expect(replay.failed).toBe(false);
        expect(replay.isDone).toBe(true);
        expect(replay.output).toEqual(scenario.expectedOutput);
        expect(checkDeterminism(golden, replay)).toEqual({ ok: true, matched: expect.any(Number), pending: 0 });
      });

      it('reports a tampered history as nondeterministic', async () => {
        const golden = JSON.parse(readFileSync(file, 'utf8')) as HistoryExport;
        const registry = new Registry();
        scenario.register(registry);
        const tampered: HistoryExport = structuredClone(golden);
        const target = tampered.history.find(
          (e) => e.EventType === H.TaskScheduled || e.EventType === H.SubOrchestrationInstanceCreated,
        )!;
        const original = target.Name!;
        target.Name = `${original}V2`;
        const replay = await replayHistory(registry.handler(golden.name), tampered);
        const report = checkDeterminism(tampered, replay);
        expect(report.ok).toBe(false);
        expect(report.message).toContain(`named '${original}V2' with sequence ID ${target.EventId}`);
        expect(report.message).toContain(`instead scheduled`);
        expect(report.message).toContain(`named '${original}'`);
      });
    });
  }

  it('flags a history with a scheduled task the code never produces', async () => {
    const golden = JSON.parse(readFileSync(join(GOLDEN_DIR, 'sequence.json'), 'utf8')) as HistoryExport;
    const truncatedCode = new Registry().orchestration('GoldenSequence', function* (context: OrchestrationContext) {
      return yield context.df.callActivity('SayHello', 'Tokyo');
    });
    const replay = await replayHistory(truncatedCode.handler('GoldenSequence'), golden);
    const report = checkDeterminism(golden, replay);
    expect(report.ok).toBe(false);
    expect(report.message).toContain("scheduled an activity task named 'SayHello' with sequence ID 1");
    expect(report.message).toContain("hasn't (yet?) scheduled this task");
  });

  it('matchHistory skips the retry timers and re-schedules the host added', () => {
    const golden = JSON.parse(readFileSync(join(GOLDEN_DIR, 'retry.json'), 'utf8')) as HistoryExport;
    const m = matchHistory(golden.history, [
      {
        kind: 'activity',
        name: 'FailsTwice',
        input: 'payload',
        retry: { firstRetryIntervalInMilliseconds: 1, maxNumberOfAttempts: 3 },
      },
    ]);
    expect(m).toEqual({ matched: 1, leafIds: [0], allocated: 5, currentTimerIds: new Map() });
  });
});
