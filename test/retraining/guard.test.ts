/**
 * The retraining triggers through the real engine: raw Event Grid deliveries (both drift generations, both
 * envelopes) are parsed and mapped by the trigger's own code, then the `retrainTrigger` orchestration asks the
 * `retrainGuard` entity. The run itself is a stand-in that finishes when the test says so, so single-flight,
 * cooldown and k-of-n can be observed under concurrent deliveries.
 */
import type { Task } from 'durable-functions';
import { afterEach, describe, expect, it } from 'vitest';
import { planDriftEvent, policyForDrift, triggerInput, type RetrainingPolicy } from '../../lib/retraining';
import type { DriftCommand } from '../../lib/domain/events';
import { parsePolicies, type PolicySet } from '../../lib/domain/policy';
import type { RetrainingTrigger } from '../../lib/domain/retraining-guard';
import type { RetrainingInput, RetrainingResult } from '../../orchestrations/contract';
import {
  RETRAIN_GUARD_ENTITY,
  RETRAIN_MODEL_ORCHESTRATION,
  RETRAIN_TRIGGER_ORCHESTRATION,
  retrainGuard,
  retrainTrigger,
  type GuardState,
  type RetrainTriggerInput,
  type RetrainTriggerResult,
} from '../../orchestrations/retrain-model';
import { Registry, startEngine, type TestEngine } from '../durable/helpers';

function policies(retraining: Record<string, unknown> = {}): PolicySet {
  const base = (modelName: string, endpointName: string) => ({
    modelName,
    endpointName,
    task: 'regression',
    evaluation: { mode: 'paired', dataAsset: { name: 'eval', version: '1' }, labelColumn: 'y' },
    rollout: { instanceType: 'Standard_DS3_v2', testSpec: { sampleRows: [[0, 0]] } },
    retraining: {
      cooldown: 'PT1H',
      trainingDataAsset: { name: `${modelName}-train` },
      jobSpec: 'jobs/train-demand.json',
      ...retraining,
    },
  });
  return parsePolicies({ policies: [base('demand', 'demand-ep'), base('churn', 'churn-ep')] });
}

const TOPIC = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws';
const BREACH = "The signal 'feature-drift' has failed due to one or more features violating metric thresholds.";

function v2Event(
  runId: string,
  options: { schema?: 'eventgrid' | 'cloudevents'; recovery?: boolean; endpoint?: string } = {},
): unknown {
  const tags: Record<string, string> = {
    azureml_modelmonitor_name: 'nightly-monitor',
    azureml_modelmonitor_endpoint: options.endpoint ?? 'demand-ep',
    ...(options.recovery ? {} : { azureml_modelmonitor_threshold_breached: BREACH }),
  };
  const status = options.recovery ? 'Completed' : 'Failed';
  const subject = `experiments/e1/runs/${runId}`;
  if (options.schema === 'cloudevents') {
    return {
      specversion: '1.0',
      id: `ce-${runId}`,
      source: TOPIC,
      type: 'Microsoft.MachineLearningServices.RunStatusChanged',
      subject,
      time: '2026-01-01T00:00:00Z',
      data: {
        experimentName: 'azureml-monitor',
        runId,
        runType: 'azureml.modelmonitor',
        runTags: tags,
        runStatus: status,
      },
    };
  }
  return {
    id: `eg-${runId}`,
    topic: TOPIC,
    subject,
    eventType: 'Microsoft.MachineLearningServices.RunStatusChanged',
    eventTime: '2026-01-01T00:00:00Z',
    data: {
      ExperimentName: 'azureml-monitor',
      RunId: runId,
      RunType: 'azureml.modelmonitor',
      RunTags: tags,
      RunStatus: status,
    },
    dataVersion: '2',
    metadataVersion: '1',
  };
}

function v1Event(
  runId: string,
  schema: 'eventgrid' | 'cloudevents' = 'eventgrid',
  driftName = 'demand-drift',
): unknown {
  const data = {
    DataDriftId: 'd1',
    DataDriftName: driftName,
    RunId: runId,
    BaseDatasetId: 'base',
    TargetDatasetId: 'target',
    DriftCoefficient: 0.83,
    StartTime: '2025-12-31T00:00:00Z',
    EndTime: '2026-01-01T00:00:00Z',
  };
  const subject = `datadrift/d1/run/${runId}`;
  if (schema === 'cloudevents') {
    return {
      specversion: '1.0',
      id: `ce-${runId}`,
      source: TOPIC,
      type: 'Microsoft.MachineLearningServices.DatasetDriftDetected',
      subject,
      time: '2026-01-01T00:00:00Z',
      data,
    };
  }
  return {
    id: `eg-${runId}`,
    topic: TOPIC,
    subject,
    eventType: 'Microsoft.MachineLearningServices.DatasetDriftDetected',
    eventTime: '2026-01-01T00:00:00Z',
    data,
    dataVersion: '2',
    metadataVersion: '1',
  };
}

/** Engine with the real guard and trigger; `retrainModel` is a stand-in that waits for `finish` when held. */
class Harness {
  hold = true;
  clock = new Date('2026-01-01T00:00:00Z');
  t: TestEngine;
  private n = 0;

  constructor() {
    const registry = new Registry()
      .entity(RETRAIN_GUARD_ENTITY, retrainGuard)
      .orchestration(RETRAIN_TRIGGER_ORCHESTRATION, retrainTrigger)
      .orchestration(RETRAIN_MODEL_ORCHESTRATION, this.fakeRun());
    this.t = startEngine(registry, { now: () => this.clock });
  }

  private fakeRun() {
    const held = () => this.hold;
    return function* (ctx: Parameters<typeof retrainTrigger>[0]): Generator<Task, RetrainingResult, unknown> {
      const input = ctx.df.getInput() as RetrainingInput;
      let outcome: RetrainingResult['outcome'] = 'registered';
      if (held()) outcome = (yield ctx.df.waitForExternalEvent('finish')) as RetrainingResult['outcome'];
      return {
        outcome,
        modelName: input.modelName,
        runId: ctx.df.instanceId,
        reason: 'stand-in',
        trigger: input.trigger,
      };
    };
  }

  async trigger(input: RetrainTriggerInput, id = `trigger-${++this.n}`): Promise<string> {
    return this.t.engine.startNew(RETRAIN_TRIGGER_ORCHESTRATION, { instanceId: id, input });
  }

  async deliver(event: unknown, set: PolicySet): Promise<string | undefined> {
    const plan = planDriftEvent(event, set);
    if (plan.kind === 'ignore') return undefined;
    return this.trigger(plan.input, plan.instanceId);
  }

  async result(id: string): Promise<RetrainTriggerResult> {
    return (await this.t.engine.waitForCompletion(id)).output as RetrainTriggerResult;
  }

  async decision(id: string): Promise<RetrainTriggerResult> {
    await this.t.engine.whenIdle();
    return (await this.t.engine.getStatus(id))?.customStatus as RetrainTriggerResult;
  }

  guard(model = 'demand'): GuardState {
    return this.t.engine.getEntity(`@${RETRAIN_GUARD_ENTITY.toLowerCase()}@${model}`)?.state as GuardState;
  }

  async runs(): Promise<string[]> {
    await this.t.engine.whenIdle();
    const { instances } = await this.t.engine.list();
    return instances
      .filter((s) => s.name === RETRAIN_MODEL_ORCHESTRATION)
      .map((s) => s.instanceId)
      .sort();
  }

  async finish(runId: string, outcome: RetrainingResult['outcome'] = 'registered'): Promise<void> {
    await this.t.engine.raiseEvent(runId, 'finish', outcome);
    await this.t.engine.waitForCompletion(runId);
    await this.t.engine.whenIdle();
  }
}

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.t.close();
  harness = undefined;
});

const drift = (observationId: string, signal: 'breach' | 'recovery' = 'breach'): RetrainingTrigger => ({
  kind: 'drift',
  generation: 'v2',
  signal,
  observationId,
});

describe('onDriftDetected parsing and model mapping', () => {
  const set = policies();

  it.each([
    ['v2 monitor breach, Event Grid schema', v2Event('run-a'), 'drift-v2'],
    ['v2 monitor breach, CloudEvents schema', v2Event('run-b', { schema: 'cloudevents' }), 'drift-v2'],
    ['v1 dataset drift, Event Grid schema', v1Event('drift-run-a'), 'drift-v1'],
    ['v1 dataset drift, CloudEvents schema', v1Event('drift-run-b', 'cloudevents'), 'drift-v1'],
  ])('%s maps to a drift trigger for the model', (_name, event, source) => {
    const plan = planDriftEvent(event, set);
    expect(plan.kind).toBe('start');
    if (plan.kind !== 'start') return;
    expect(plan.input.modelName).toBe('demand');
    expect(plan.input.trigger).toMatchObject({ kind: 'drift', signal: 'breach' });
    expect(plan.instanceId).toContain(`retrain-signal:demand:${source}:`);
    expect(plan.input.guard).toEqual({ cooldownMs: 3_600_000 });
    expect(plan.input.retraining).toEqual({
      jobSpec: 'jobs/train-demand.json',
      trainingDataAsset: { name: 'demand-train' },
    });
  });

  it('maps a recovery to a recovery trigger, and a redelivery to the same trigger instance', () => {
    const a = planDriftEvent(v2Event('run-r', { recovery: true }), set);
    const b = planDriftEvent(v2Event('run-r', { recovery: true, schema: 'cloudevents' }), set);
    expect(a).toMatchObject({ kind: 'start', input: { trigger: { kind: 'drift', signal: 'recovery' } } });
    expect(a.kind === 'start' && b.kind === 'start' && a.instanceId === b.instanceId).toBe(true);
  });

  it('acknowledges invalid, unrelated and unmatched events with a reason', () => {
    expect(planDriftEvent({ eventType: 'x' }, set)).toMatchObject({ kind: 'ignore', reason: /invalid event/ });
    const registered = {
      id: 'm1',
      subject: 'models/demand:1',
      eventType: 'Microsoft.MachineLearningServices.ModelRegistered',
      eventTime: '2026-01-01T00:00:00Z',
      data: { ModelName: 'demand', ModelVersion: 1 },
    };
    expect(planDriftEvent(registered, set)).toMatchObject({ kind: 'ignore', reason: /not a drift signal/ });
    const trainingRun = {
      ...(v2Event('job-1') as Record<string, unknown>),
      data: { RunId: 'job-1', ExperimentName: 'training', RunTags: {}, RunStatus: 'Completed' },
    };
    expect(planDriftEvent(trainingRun, set)).toMatchObject({ kind: 'ignore' });
    expect(planDriftEvent(v2Event('run-x', { endpoint: 'other-ep' }), set)).toMatchObject({
      kind: 'ignore',
      reason: /no retraining policy matches/,
    });
    expect(planDriftEvent(v1Event('d-x', 'eventgrid', 'unknown-monitor'), set)).toMatchObject({ kind: 'ignore' });
  });

  it('prefers the model the event names, then the endpoint, then the monitor name', () => {
    const base = { eventId: 'e', subject: 's', eventTime: 't', observationId: 'o' };
    const v2 = (tags: Record<string, string>, modelName?: string): DriftCommand => ({
      ...base,
      kind: 'drift',
      generation: 'v2',
      signal: 'breach',
      runId: 'o',
      runStatus: 'Failed',
      experimentName: 'm',
      signalNames: [],
      tags,
      ...(modelName && { modelName }),
    });
    const match = (c: DriftCommand) => {
      const m = policyForDrift(c, set);
      return m.ok ? m.policy.modelName : m.reason;
    };
    expect(match(v2({ azureml_modelmonitor_endpoint: 'demand-ep' }, 'churn'))).toBe('churn');
    expect(match(v2({ azureml_modelmonitor_endpoint: 'churn-ep' }))).toBe('churn');
    expect(match(v2({ azureml_modelmonitor_name: 'churn-weekly' }))).toBe('churn');
    expect(match(v2({}, 'fraud'))).toMatch(/no retraining policy covers model "fraud"/);
  });
});

describe('retrainGuard through retrainTrigger', () => {
  it.each([
    ['v2 Event Grid', v2Event('run-1')],
    ['v2 CloudEvents', v2Event('run-2', { schema: 'cloudevents' })],
    ['v1 Event Grid', v1Event('drift-1')],
    ['v1 CloudEvents', v1Event('drift-2', 'cloudevents')],
  ])('a %s breach starts a retraining run', async (_name, event) => {
    harness = new Harness();
    harness.hold = false;
    const id = await harness.deliver(event, policies());
    const result = await harness.result(id!);
    expect(result.decision).toMatchObject({ action: 'start', reason: 'drift' });
    expect(result.runId).toBe('retrain:demand:1');
    expect(result.run).toMatchObject({ outcome: 'registered', runId: 'retrain:demand:1' });
    expect(await harness.runs()).toEqual(['retrain:demand:1']);
    expect(harness.guard()).toMatchObject({ runs: 1, lastFinishedAt: expect.any(String) });
    expect(harness.guard().activeRun).toBeUndefined();
  });

  it('never retrains on a recovery, and records it', async () => {
    harness = new Harness();
    const id = await harness.deliver(v2Event('run-ok', { recovery: true }), policies());
    const result = await harness.result(id!);
    expect(result.decision).toMatchObject({ action: 'skip', reason: 'recovery-signal' });
    expect(await harness.runs()).toEqual([]);
    expect(harness.guard().log).toEqual([
      expect.objectContaining({ signal: 'recovery', decision: 'skip', why: 'recovery-signal', triggerId: id }),
    ]);
  });

  it('starts exactly one run for a storm of 20 concurrent signals and records the others against it', async () => {
    harness = new Harness();
    const h = harness;
    const set = policies();
    const events = Array.from({ length: 20 }, (_, i) => (i % 2 ? v2Event(`storm-${i}`) : v1Event(`storm-${i}`)));
    const ids = await Promise.all(events.map((e) => h.deliver(e, set)));
    const decisions = await Promise.all(ids.map((id) => h.decision(id!)));
    expect(decisions.filter((d) => d.decision.action === 'start')).toHaveLength(1);
    const skipped = decisions.filter((d) => d.decision.action === 'skip');
    expect(skipped).toHaveLength(19);
    expect(skipped.every((d) => d.decision.reason === 'single-flight' && d.runId === 'retrain:demand:1')).toBe(true);
    expect(await h.runs()).toEqual(['retrain:demand:1']);
    const state = h.guard();
    expect(state.activeRun?.id).toBe('retrain:demand:1');
    expect(state.log).toHaveLength(20);
    expect(state.log.filter((e) => e.why === 'single-flight').every((e) => e.runId === 'retrain:demand:1')).toBe(true);

    // A redelivery of a signal already seen is recognised, not recorded twice.
    await h.trigger(triggerInput(set.demand as RetrainingPolicy, drift('x'), 'first'), 'dup-1');
    await h.trigger(triggerInput(set.demand as RetrainingPolicy, drift('x'), 'again'), 'dup-2');
    expect((await h.decision('dup-2')).decision.reason).toBe('duplicate-signal');
    expect(h.guard().log).toHaveLength(21);

    await h.finish('retrain:demand:1');
    expect(h.guard()).toMatchObject({ lastRun: { id: 'retrain:demand:1', outcome: 'registered' } });
    expect(h.guard().activeRun).toBeUndefined();
  });

  it('holds the cooldown after a finished run for drift and timers, not for a person', async () => {
    harness = new Harness();
    const h = harness;
    const set = policies({ cooldown: 'PT1H' });
    const first = await h.trigger(triggerInput(set.demand as RetrainingPolicy, drift('a'), 'first'));
    expect((await h.decision(first)).decision.action).toBe('start');
    await h.finish('retrain:demand:1');

    h.clock = new Date('2026-01-01T00:30:00Z');
    const cooled = await Promise.all(
      [drift('b'), { kind: 'timer', schedule: '0 0 2 * * *' } as const].map((trigger) =>
        h.trigger(triggerInput(set.demand as RetrainingPolicy, trigger, 'during cooldown')),
      ),
    );
    for (const id of cooled)
      expect((await h.result(id)).decision).toMatchObject({ action: 'skip', reason: 'cooldown' });
    const manual = await h.trigger(
      triggerInput(
        set.demand as RetrainingPolicy,
        { kind: 'manual', reason: 'new labels', requestedBy: 'ana' },
        'by hand',
      ),
    );
    expect((await h.decision(manual)).decision).toMatchObject({ action: 'start', reason: 'manual' });
    await h.finish('retrain:demand:2');

    h.clock = new Date('2026-01-01T02:00:00Z');
    const later = await h.trigger(triggerInput(set.demand as RetrainingPolicy, drift('c'), 'after cooldown'));
    expect((await h.decision(later)).decision).toMatchObject({ action: 'start', reason: 'drift' });
    expect(await h.runs()).toEqual(['retrain:demand:1', 'retrain:demand:2', 'retrain:demand:3']);
    expect(h.guard().log.map((e) => e.why)).toEqual(['drift', 'cooldown', 'cooldown', 'manual', 'drift']);
  });

  it('needs k of the last n drift observations to be breaches', async () => {
    harness = new Harness();
    const h = harness;
    const set = policies({ cooldown: 'PT1S', kOfN: { k: 2, n: 3 } });
    const send = async (id: string, signal: 'breach' | 'recovery') => {
      const trigger = await h.trigger(triggerInput(set.demand as RetrainingPolicy, drift(id, signal), id), id);
      return (await h.decision(trigger)).decision;
    };
    expect(await send('o1', 'breach')).toMatchObject({ action: 'skip', reason: 'k-of-n-not-met' });
    expect(await send('o2', 'recovery')).toMatchObject({ action: 'skip', reason: 'recovery-signal' });
    expect(await send('o3', 'breach')).toMatchObject({ action: 'start', reason: 'drift' });
    expect(await h.runs()).toEqual(['retrain:demand:1']);
  });

  it('serialises concurrent k-of-n signals so the threshold is crossed once', async () => {
    harness = new Harness();
    const h = harness;
    const set = policies({ kOfN: { k: 3, n: 5 } });
    const ids = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        h.trigger(triggerInput(set.demand as RetrainingPolicy, drift(`c${i}`), `c${i}`)),
      ),
    );
    const decisions = await Promise.all(ids.map((id) => h.decision(id)));
    const reasons = decisions.map((d) => d.decision.reason).sort();
    expect(reasons).toEqual([
      'drift',
      'k-of-n-not-met',
      'k-of-n-not-met',
      'single-flight',
      'single-flight',
      'single-flight',
      'single-flight',
      'single-flight',
    ]);
    expect(await h.runs()).toEqual(['retrain:demand:1']);
  });

  it('ends the guard run when the run fails, so the model is not stuck', async () => {
    harness = new Harness();
    const h = harness;
    const set = policies({ cooldown: 'PT1S' });
    const id = await h.trigger(triggerInput(set.demand as RetrainingPolicy, drift('f1'), 'fails'));
    await h.decision(id);
    await h.finish('retrain:demand:1', 'job-failed');
    expect((await h.result(id)).run?.outcome).toBe('job-failed');
    expect(h.guard()).toMatchObject({ lastRun: { outcome: 'job-failed' } });
    expect(h.guard().activeRun).toBeUndefined();
  });
});
