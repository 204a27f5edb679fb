/**
 * The promotion across environments (orchestrations/promote-environments.ts) replayed through the real
 * durable-functions SDK on the embedded engine, each environment's workspace its own in-memory world: its golden
 * history (the flow and each environment's promotion, run as sub-orchestrations) must replay to the same actions.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sealDecision } from '../../lib/approval';
import { parsePolicies, type Policy, type PolicyInput } from '../../lib/domain/policy';
import { checkDeterminism, replayHistory } from '../../local/runtime/durable/replay';
import { versioningFromHostJson } from '../../local/runtime/durable/versioning';
import { HistoryEventType as H, type HistoryExport } from '../../local/runtime/durable/types';
import type { ApprovalDecision, PromotionInput, PromotionResult } from '../../orchestrations/contract';
import { FLOW_VERSION } from '../../orchestrations/durable';
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
    // When FLOW_VERSION moves: rename this file to promote-environments.v{its version}.json (replayed below) and record the current one again (UPDATE_GOLDEN=1).
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
