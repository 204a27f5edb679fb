/**
 * The promotion across environments (orchestrations/promote-environments.ts) replayed through the real
 * durable-functions SDK on the embedded engine, each environment's workspace its own in-memory world: its golden
 * history (the flow and each environment's promotion, run as sub-orchestrations) must replay to the same actions.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { carriedLifecycle } from '../../lib/activities';
import { sealDecision } from '../../lib/approval';
import type { Evidence } from '../../lib/domain/evaluation';
import { parsePolicies, type Policy, type PolicyInput } from '../../lib/domain/policy';
import { checkDeterminism, replayHistory } from '../../local/runtime/durable/replay';
import { versioningFromHostJson } from '../../local/runtime/durable/versioning';
import { HistoryEventType as H, type HistoryExport } from '../../local/runtime/durable/types';
import type { ApprovalDecision, PromotionInput, PromotionResult } from '../../orchestrations/contract';
import { FLOW_VERSION } from '../../orchestrations/durable';
import { FIRST_CLASS_GATES } from '../../orchestrations/promote-environments';
import { Registry, startEngine, type TestEngine } from '../durable/helpers';
import { SECRET, World } from './world';

const workspaceId = (name: string) =>
  `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml/providers/Microsoft.MachineLearningServices/workspaces/${name}`;
const QA = workspaceId('forecast-qa');
const PROD = workspaceId('forecast-prod');

const environmentsPolicyInput = {
  modelName: 'forecast',
  endpointName: 'forecast-qa',
  task: 'regression',
  evaluation: { mode: 'paired', dataAsset: { name: 'eval', version: '1' }, labelColumn: 'y' },
  approval: { required: true, timeout: 'PT1H' },
  rollout: { instanceType: 'Standard_DS3_v2', provisioningDeadline: 'PT10M', testSpec: { sampleRows: [[0, 0]] } },
  environments: [
    { name: 'qa', workspace: QA },
    {
      name: 'prod',
      workspace: PROD,
      endpointName: 'forecast-prod',
      gate: { approval: { required: true, timeout: 'PT24H', onTimeout: 'reject' } },
      evaluation: { mode: 'reuse' },
      approval: { required: false },
    },
  ],
} satisfies PolicyInput;

const policyOf = (input: PolicyInput): Policy => parsePolicies({ policies: [input] })[input.modelName]!;

const promotionInput = (version: string, policy = policyOf(environmentsPolicyInput)): PromotionInput => ({
  modelName: 'forecast',
  modelVersion: version,
  policy,
  source: 'event',
  registeredBy: 'dana',
});

/** Instances start on the flow version host.json stamps, as on Azure. */
const hostVersioning = versioningFromHostJson(
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'host.json'), 'utf8')).extensions.durableTask,
);

/** QA is the app's own workspace (this world); production is another. */
function worlds(): { qa: World; prod: World } {
  const qa = new World();
  const prod = new World();
  qa.workspaces = { [QA]: qa, [PROD]: prod };
  return { qa, prod };
}

let current: TestEngine | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

async function start(qa: World, input: PromotionInput, versioning = hostVersioning) {
  current = startEngine(qa.register(new Registry(), 'promotion'), { versioning });
  const id = await current.engine.startNew('promoteModel', {
    instanceId: `promote:${input.modelName}:${input.modelVersion}`,
    input,
  });
  return { t: current, id };
}

async function phase(t: TestEngine, id: string): Promise<string | undefined> {
  await t.engine.whenIdle();
  return ((await t.engine.getStatus(id))?.customStatus as { phase?: string } | undefined)?.phase;
}

/** A decision as the app's routes send it: sealed for the promotion it is for. */
const decision = (promotionId: string, d: 'approve' | 'reject' = 'approve', approver = 'ana') => {
  const event: ApprovalDecision = { decision: d, approver, via: 'api', at: '2026-01-01T00:00:00Z' };
  return { ...event, seal: sealDecision(SECRET, promotionId, event) };
};

/** A recorded promotion across environments: the flow's history and each environment's promotion's. */
interface EnvironmentsGolden {
  flow: HistoryExport;
  environments: HistoryExport[];
}

const replayRegistry = () => worlds().qa.register(new Registry(), 'promotion');

describe('promotion across environments: golden history', () => {
  const file = join(__dirname, 'golden', 'promote-environments.json');

  /** QA → production: QA's promotion approved, the production gate approved, released in production. */
  async function record(): Promise<EnvironmentsGolden> {
    const { qa, prod } = worlds();
    const { t, id } = await start(qa, promotionInput('1'));
    expect(await phase(t, `${id}@qa`)).toBe('awaiting-approval');
    await t.engine.raiseEvent(`${id}@qa`, 'decision', decision(`${id}@qa`));
    expect(await phase(t, id)).toBe('awaiting-approval');
    await t.engine.raiseEvent(id, 'decision', decision(id, 'approve', 'bo'));
    const done = await t.engine.waitForCompletion(id);
    expect((done.output as PromotionResult).outcome).toBe('promoted');
    expect(prod.copies).toHaveLength(1);
    return {
      flow: (await t.engine.exportHistory(id))!,
      environments: [(await t.engine.exportHistory(`${id}@qa`))!, (await t.engine.exportHistory(`${id}@prod`))!],
    };
  }

  const read = (): EnvironmentsGolden => JSON.parse(readFileSync(file, 'utf8')) as EnvironmentsGolden;
  const version = (h: HistoryExport) => h.history.find((e) => e.EventType === H.ExecutionStarted)?.Version;

  it('replays the recorded flow and each environment’s promotion to the same result and actions', async () => {
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file))
      writeFileSync(file, JSON.stringify(await record(), null, 2) + '\n');
    const golden = read();
    // The environments' promotions are in the flow's history as sub-orchestrations, in order.
    const children = golden.flow.history.filter((e) => e.EventType === H.SubOrchestrationInstanceCreated);
    expect(children.map((e) => e.InstanceId)).toEqual(golden.environments.map((h) => h.instanceId));
    expect(golden.environments.map((h) => h.instanceId)).toEqual(['promote:forecast:1@qa', 'promote:forecast:1@prod']);
    for (const recorded of [golden.flow, ...golden.environments]) {
      const replay = await replayHistory(replayRegistry().handler('promoteModel'), recorded);
      expect(replay.failed, recorded.instanceId).toBe(false);
      expect((replay.output as PromotionResult).outcome, recorded.instanceId).toBe('promoted');
      expect(checkDeterminism(recorded, replay), recorded.instanceId).toMatchObject({ ok: true, pending: 0 });
    }
    const scheduled = golden.flow.history.filter((e) => e.EventType === H.TaskScheduled).map((e) => e.Name);
    expect(scheduled).toEqual(['requestApproval', 'verifyDecision', 'copyModelVersion']);
  });

  it('is the current flow version’s; a flow version change freezes it first', () => {
    // When FLOW_VERSION moves: rename this file to promote-environments.v{its version}.json (replayed below) and
    // record the current one again (UPDATE_GOLDEN=1).
    const golden = read();
    for (const h of [golden.flow, ...golden.environments]) expect(version(h), h.instanceId).toBe(String(FLOW_VERSION));
  });

  // Frozen, one per flow version that changed what a promotion across environments yields: instances started on it
  // must still replay (promote-environments.v{N}.json, named for the version they were recorded on).
  const frozen = readdirSync(join(__dirname, 'golden'))
    .map((name) => /^promote-environments\.v(\d+)\.json$/.exec(name)?.[1])
    .filter((v) => v !== undefined);
  it.each(frozen)('replays a frozen flow version %s history unchanged', async (v) => {
    const recorded = JSON.parse(
      readFileSync(join(__dirname, 'golden', `promote-environments.v${v}.json`), 'utf8'),
    ) as EnvironmentsGolden;
    for (const h of [recorded.flow, ...recorded.environments]) {
      expect(version(h)).toBe(v);
      const replay = await replayHistory(replayRegistry().handler('promoteModel'), h);
      expect((replay.output as PromotionResult).outcome).toBe('promoted');
      expect(checkDeterminism(h, replay)).toMatchObject({ ok: true, pending: 0 });
    }
  });

  it('reports a changed action of the flow, or of an environment’s promotion, as nondeterministic', async () => {
    const golden = read();
    const flow = structuredClone(golden.flow);
    flow.history.find((e) => e.EventType === H.TaskScheduled && e.Name === 'copyModelVersion')!.Name = 'skipCopy';
    let report = checkDeterminism(flow, await replayHistory(replayRegistry().handler('promoteModel'), flow));
    expect(report.ok).toBe(false);
    expect(report.message).toContain("named 'skipCopy'");
    expect(report.message).toContain("named 'copyModelVersion'");

    // The gate's approval request moved after the copy: the flow yields another action at that sequence id.
    const reordered = structuredClone(golden.flow);
    const events = reordered.history;
    const request = events.find((e) => e.EventType === H.TaskScheduled && e.Name === 'requestApproval')!;
    const copy = events.find((e) => e.EventType === H.TaskScheduled && e.Name === 'copyModelVersion')!;
    [request.Name, copy.Name] = [copy.Name, request.Name];
    report = checkDeterminism(reordered, await replayHistory(replayRegistry().handler('promoteModel'), reordered));
    expect(report.ok).toBe(false);

    const prod = structuredClone(golden.environments[1]!);
    prod.history.find((e) => e.EventType === H.TaskScheduled && e.Name === 'setTraffic')!.Name = 'skipTraffic';
    report = checkDeterminism(prod, await replayHistory(replayRegistry().handler('promoteModel'), prod));
    expect(report.ok).toBe(false);
    expect(report.message).toContain("named 'skipTraffic'");
  });
});

describe(`gates between environments (flow version ${FIRST_CLASS_GATES})`, () => {
  const minute = 60_000;
  const t0 = Date.parse('2030-01-01T00:00:00Z');
  let clock = t0;
  type GateInput = NonNullable<NonNullable<PolicyInput['environments']>[number]['gate']>;
  const qaEnvironment = environmentsPolicyInput.environments[0]!;
  const prodEnvironment = environmentsPolicyInput.environments[1]!;
  const withGate = (gate: GateInput) =>
    policyOf({ ...environmentsPolicyInput, environments: [qaEnvironment, { ...prodEnvironment, gate }] });

  /** An engine whose signalInstance activity raises the event, as the app's does through the durable client. */
  function engineFor(qa: World, versioning = hostVersioning): TestEngine {
    clock = t0;
    const registry = qa.register(new Registry(), 'promotion');
    const t = startEngine(registry, { versioning, now: () => new Date(clock) });
    registry.activity('signalInstance', async (i) => {
      const { instanceId, eventName, data } = i as { instanceId: string; eventName: string; data: unknown };
      await t.engine.raiseEvent(instanceId, eventName, data);
      return { delivered: true };
    });
    current = t;
    return t;
  }
  async function at(t: TestEngine, minutes: number) {
    clock = t0 + minutes * minute;
    t.engine.checkTimers();
    await t.engine.whenIdle();
  }
  /** Starts a version's promotion and approves it in QA: it then waits at the production gate. */
  async function toGate(t: TestEngine, version: string, policy = policyOf(environmentsPolicyInput)) {
    const id = await t.engine.startNew('promoteModel', {
      instanceId: `promote:forecast:${version}`,
      input: promotionInput(version, policy),
    });
    expect(await phase(t, `${id}@qa`)).toBe('awaiting-approval');
    await t.engine.raiseEvent(`${id}@qa`, 'decision', decision(`${id}@qa`));
    await t.engine.whenIdle();
    return id;
  }
  const outcome = async (t: TestEngine, id: string) =>
    ((await t.engine.waitForCompletion(id)).output as PromotionResult).outcome;
  /** The lifecycle steps the flow's activities carried, in order, with the activity that carried each. */
  const carried = (t: TestEngine, id: string) =>
    t.registry.calls
      .filter((c) => c.instanceId === id)
      .flatMap((c) => carriedLifecycle(c.input).events.map((event) => ({ activity: c.name, event })));
  const steps = (t: TestEngine, id: string) => carried(t, id).map((c) => `${c.activity}: ${c.event.step}`);
  const gatePlace = (t: TestEngine) => t.engine.getEntity({ name: 'environmentgate', key: 'forecast@prod' });

  it('announces reaching the gate with its approval request, and the decision and the opening with the copy', async () => {
    const { qa, prod } = worlds();
    const t = engineFor(qa);
    const id = await toGate(t, '1');
    expect(await phase(t, id)).toBe('awaiting-approval');
    expect(steps(t, id)).toEqual(['requestApproval: gate-waiting', 'requestApproval: approval-requested']);
    expect(gatePlace(t)?.state).toEqual({ waiting: { promotionId: id, modelVersion: '1' } });
    await t.engine.raiseEvent(id, 'decision', decision(id, 'approve', 'bo'));
    expect(await outcome(t, id)).toBe('promoted');
    expect(steps(t, id)).toEqual([
      'requestApproval: gate-waiting',
      'requestApproval: approval-requested',
      'copyModelVersion: approval-decided',
      'copyModelVersion: gate-opened',
    ]);
    const events = carried(t, id).map((c) => c.event);
    expect(events[0]).toMatchObject({
      id: `${id}:gate-waiting`,
      type: 'Champion.Gate.Waiting',
      subject: 'models/forecast/versions/1',
      data: { instanceId: id, details: { environment: 'prod', from: 'qa', kind: 'approval' } },
    });
    expect(events[2]!.data.details).toMatchObject({ environment: 'prod', decision: 'approve', approver: 'bo' });
    expect(events[3]).toMatchObject({ type: 'Champion.Gate.Opened', data: { details: { environment: 'prod' } } });
    // Published by the copy, in production's workspace; the place at the gate is free again.
    expect(prod.published.map((e) => e.id)).toContain(`${id}:gate-opened`);
    expect(gatePlace(t)?.state).toEqual({});
  });

  it('announces a gate that closes, published before the promotion ends, and copies nothing', async () => {
    const { qa, prod } = worlds();
    const t = engineFor(qa);
    const id = await toGate(t, '1');
    await t.engine.raiseEvent(id, 'decision', decision(id, 'reject', 'bo'));
    expect(await outcome(t, id)).toBe('rejected');
    expect(steps(t, id)).toEqual([
      'requestApproval: gate-waiting',
      'requestApproval: approval-requested',
      'publishLifecycle: approval-decided',
      'publishLifecycle: gate-closed',
    ]);
    expect(carried(t, id).at(-1)!.event.data.details).toMatchObject({
      environment: 'prod',
      kind: 'approval',
      outcome: 'rejected',
    });
    expect(prod.copies).toEqual([]);
  });

  it('publishes reaching a bake gate as the bake starts (not when it ends), and its opening with the copy', async () => {
    const { qa } = worlds();
    const t = engineFor(qa);
    const id = await toGate(t, '1', withGate({ bake: 'PT2H' }));
    expect(steps(t, id)).toEqual(['publishLifecycle: gate-waiting']);
    expect(carried(t, id)[0]!.event.data.details).toMatchObject({
      environment: 'prod',
      kind: 'bake',
      until: new Date(t0 + 120 * minute).toISOString(),
    });
    await at(t, 119);
    expect(qa.bakes).toEqual([]);
    await at(t, 120);
    expect(await outcome(t, id)).toBe('promoted');
    expect(steps(t, id)).toEqual(['publishLifecycle: gate-waiting', 'copyModelVersion: gate-opened']);
  });

  it("reminds the gate's approvers once, remindBefore ahead of its expiry, with the same request", async () => {
    const { qa } = worlds();
    const t = engineFor(qa);
    const gate = { approval: { required: true, timeout: 'PT1H', remindBefore: 'PT15M', onTimeout: 'reject' as const } };
    const id = await toGate(t, '1', withGate(gate));
    const mine = (inputs: { promotionId: string }[]) =>
      inputs.filter((i) => i.promotionId === id).map((i) => carriedLifecycle(i).rest);
    await at(t, 44);
    expect(mine(qa.reminders)).toEqual([]);
    await at(t, 45);
    expect(mine(qa.reminders)).toEqual(mine(qa.approvalRequests));
    expect(mine(qa.reminders)).toHaveLength(1);
    expect(steps(t, id).at(-1)).toBe('remindApprovers: approval-reminded');
    expect(carried(t, id).at(-1)!.event.data.details).toMatchObject({ environment: 'prod' });
    await at(t, 50);
    expect(mine(qa.reminders)).toHaveLength(1);
    await t.engine.raiseEvent(id, 'decision', decision(id, 'approve', 'bo'));
    expect(await outcome(t, id)).toBe('promoted');
    const recorded = (await t.engine.exportHistory(id))!;
    const replay = await replayHistory(replayRegistry().handler('promoteModel'), recorded);
    expect(checkDeterminism(recorded, replay)).toMatchObject({ ok: true, pending: 0 });
  });

  it('times out at the gate after one reminder when nobody decides, announcing the expiry', async () => {
    const { qa } = worlds();
    const t = engineFor(qa);
    const gate = { approval: { required: true, timeout: 'PT1H', remindBefore: 'PT15M', onTimeout: 'reject' as const } };
    const id = await toGate(t, '1', withGate(gate));
    await at(t, 45);
    await at(t, 60);
    expect(await outcome(t, id)).toBe('approval-timed-out');
    expect(steps(t, id).slice(-4)).toEqual([
      'remindApprovers: approval-reminded',
      'publishLifecycle: approval-expired',
      'publishLifecycle: approval-decided',
      'publishLifecycle: gate-closed',
    ]);
  });

  it("supersedes an older version waiting at the gate when a newer version's promotion reaches it: nothing older is copied", async () => {
    const { qa, prod } = worlds();
    const t = engineFor(qa);
    const older = await toGate(t, '1');
    expect(await phase(t, older)).toBe('awaiting-approval');
    const newer = await toGate(t, '2');
    const result = (await t.engine.waitForCompletion(older)).output as PromotionResult;
    expect(result.outcome).toBe('superseded');
    expect(result.reason).toContain(newer);
    expect(result.environments?.map((e) => [e.name, e.state])).toEqual([
      ['qa', 'promoted'],
      ['prod', 'stopped'],
    ]);
    expect(carried(t, older).at(-1)!.event).toMatchObject({
      step: 'gate-closed',
      data: { details: { environment: 'prod', outcome: 'superseded' } },
    });
    // The newer one waits there in its place (its own request asked), and goes on when approved.
    expect(await phase(t, newer)).toBe('awaiting-approval');
    expect(gatePlace(t)?.state).toEqual({ waiting: { promotionId: newer, modelVersion: '2' } });
    await t.engine.raiseEvent(newer, 'decision', decision(newer, 'approve', 'bo'));
    expect(await outcome(t, newer)).toBe('promoted');
    expect(prod.copies.map((c) => c.modelVersion)).toEqual(['2']);
  });

  it('supersedes an older version baking before the gate the same way', async () => {
    const { qa, prod } = worlds();
    const t = engineFor(qa);
    const baking = withGate({ bake: 'PT2H' });
    const older = await toGate(t, '1', baking);
    await at(t, 30);
    const newer = await toGate(t, '2', baking);
    expect(await outcome(t, older)).toBe('superseded');
    await at(t, 150);
    expect(await outcome(t, newer)).toBe('promoted');
    expect(qa.bakes.map((b) => b.model)).toEqual(['forecast:2']);
    expect(prod.copies.map((c) => c.modelVersion)).toEqual(['2']);
  });

  it('an instance of flow version 10 waits at the gate unannounced, and a newer one does not supersede it', async () => {
    const { qa } = worlds();
    const t = engineFor(qa, { ...hostVersioning, defaultVersion: '10' });
    const older = await toGate(t, '1');
    const newer = await toGate(t, '2');
    expect(await phase(t, older)).toBe('awaiting-approval');
    expect(await phase(t, newer)).toBe('awaiting-approval');
    expect(steps(t, older)).toEqual([]);
    expect(gatePlace(t)).toBeUndefined();
  });
});

describe('a retry across environments', () => {
  it('goes on after the environments an earlier attempt promoted it in: no promotion there, the gate, then the next', async () => {
    const { qa, prod } = worlds();
    qa.stages['1'] = 'production';
    const evidence = { kind: 'paired', decision: 'win', reason: 'better by 0.4' } as unknown as Evidence;
    const input: PromotionInput = {
      ...promotionInput('1'),
      source: 'retry',
      attempt: 2,
      retryOf: 'promote:forecast:1',
      carried: [{ environment: 'qa', promotionId: 'promote:forecast:1@qa', evidence }],
    };
    current = startEngine(qa.register(new Registry(), 'promotion'), { versioning: hostVersioning });
    const t = current;
    const id = await t.engine.startNew('promoteModel', { instanceId: 'promote:forecast:1:a2', input });
    // QA is not promoted again (its stage would refuse it): the attempt waits at production's gate at once.
    expect(await phase(t, id)).toBe('awaiting-approval');
    expect(await t.engine.getStatus(`${id}@qa`)).toBeUndefined();
    await t.engine.raiseEvent(id, 'decision', decision(id, 'approve', 'bo'));
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result.outcome).toBe('promoted');
    // Copied with its lineage back to the promotion that promoted it in QA, and released on QA's evidence.
    expect(prod.copies).toMatchObject([
      { fromWorkspace: QA, sourceEnvironment: 'qa', sourcePromotionId: 'promote:forecast:1@qa', evidence },
    ]);
    expect(result.environments?.map((e) => [e.name, e.state, e.promotionId, e.carried])).toEqual([
      ['qa', 'promoted', 'promote:forecast:1@qa', true],
      ['prod', 'promoted', `${id}@prod`, undefined],
    ]);
    expect(prod.stages['1']).toBe('production');
    // Its environments' promotions are not handed what was carried.
    expect(((await t.engine.getStatus(`${id}@prod`))?.input as PromotionInput).carried).toBeUndefined();
  });

  it('does nothing where it serves still, after promoting again where it was rolled back: no gate, no copy', async () => {
    const { qa, prod } = worlds();
    prod.stages['1'] = 'production';
    const input: PromotionInput = {
      ...promotionInput('1'),
      source: 'retry',
      attempt: 2,
      carried: [{ environment: 'prod', promotionId: 'promote:forecast:1@prod' }],
    };
    current = startEngine(qa.register(new Registry(), 'promotion'), { versioning: hostVersioning });
    const t = current;
    const id = await t.engine.startNew('promoteModel', { instanceId: 'promote:forecast:1:a2', input });
    expect(await phase(t, `${id}@qa`)).toBe('awaiting-approval');
    await t.engine.raiseEvent(`${id}@qa`, 'decision', decision(`${id}@qa`));
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result.outcome).toBe('promoted');
    expect(result.environments?.map((e) => [e.name, e.promotionId, e.carried])).toEqual([
      ['qa', `${id}@qa`, undefined],
      ['prod', 'promote:forecast:1@prod', true],
    ]);
    expect(prod.copies).toEqual([]);
    expect(await t.engine.getStatus(`${id}@prod`)).toBeUndefined();
  });
});
