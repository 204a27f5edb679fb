/**
 * promoteModel replayed through the real durable-functions SDK on the embedded engine, with its activities
 * replaced by an in-memory endpoint: every branch of the flow, plus a golden history that must replay to the
 * same actions and be reported when tampered with.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePolicies, type Policy, type PolicyInput } from '../../lib/domain/policy';
import { checkDeterminism, replayHistory } from '../../local/runtime/durable/replay';
import { HistoryEventType as H, type HistoryExport } from '../../local/runtime/durable/types';
import { sealControl, sealDecision } from '../../lib/approval';
import { carriedLifecycle } from '../../lib/activities';
import {
  type ApprovalDecision,
  type PromotionInput,
  type PromotionResult,
  type PromotionStatus,
  type RetirementResult,
  type RolloutControl,
} from '../../orchestrations/contract';
import { MODEL_LOCK_ENTITY } from '../../orchestrations/promote-model';
import { FLOW_VERSION } from '../../orchestrations/durable';
import { RETIRE_SLOT_ORCHESTRATION } from '../../orchestrations/retire-slot';
import { versioningFromHostJson } from '../../local/runtime/durable/versioning';
import { Registry, startEngine, tempDir, type TestEngine } from '../durable/helpers';
import { SECRET, World } from './world';

const policyInput = {
  modelName: 'demand',
  endpointName: 'demand-ep',
  task: 'regression',
  evaluation: { mode: 'paired', dataAsset: { name: 'eval', version: '1' }, labelColumn: 'y' },
  approval: { required: true, timeout: 'PT1H' },
  rollout: { instanceType: 'Standard_DS3_v2', provisioningDeadline: 'PT10M', testSpec: { sampleRows: [[0, 0]] } },
} satisfies PolicyInput;
const policy: Policy = parsePolicies({ policies: [policyInput] }).demand!;

const input = (version: string): PromotionInput => ({
  modelName: 'demand',
  modelVersion: version,
  policy,
  source: 'event',
  registeredBy: 'dana',
});

let current: TestEngine | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

/** Instances start on the flow version host.json stamps, as on Azure. */
const hostVersioning = versioningFromHostJson(
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'host.json'), 'utf8')).extensions.durableTask,
);

async function start(
  world: World,
  version = '1',
  promotion = input(version),
  versioning = hostVersioning,
): Promise<{ t: TestEngine; id: string }> {
  current = startEngine(world.register(new Registry()), { versioning });
  const id = await current.engine.startNew('promoteModel', {
    instanceId: `promote:demand:${version}`,
    input: promotion,
  });
  return { t: current, id };
}

async function phase(t: TestEngine, id: string): Promise<string | undefined> {
  await t.engine.whenIdle();
  return ((await t.engine.getStatus(id))?.customStatus as { phase?: string } | undefined)?.phase;
}

/** A decision as the app's routes send it: sealed for the promotion it is for. */
const decision = (d: 'approve' | 'reject', over: Partial<ApprovalDecision> = {}, promotionId = 'promote:demand:1') => {
  const event: ApprovalDecision = { decision: d, approver: 'ana', via: 'api', at: '2026-01-01T00:00:00Z', ...over };
  return { ...event, seal: sealDecision(SECRET, promotionId, event) };
};

describe('promoteModel', () => {
  it('deploys at 0 %, waits for approval, then moves traffic and only then tags production', async () => {
    const world = new World();
    const { t, id } = await start(world);
    expect(await phase(t, id)).toBe('awaiting-approval');
    expect(world.traffic).toEqual({});
    expect(world.stages).toEqual({ '1': 'staged' });
    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result).toMatchObject({ outcome: 'promoted', release: { slot: 'blue', gitSha: 'abc1234' } });
    expect(world.traffic).toEqual({ blue: 100 });
    expect(world.stages).toEqual({ '1': 'production' });
    expect(world.calls.indexOf('setTraffic')).toBeLessThan(world.calls.lastIndexOf('changeStage'));
  });

  it('removes a losing challenger and never stages it', async () => {
    const world = new World();
    world.evaluation = 'lose';
    const { t, id } = await start(world);
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result.outcome).toBe('lost-evaluation');
    expect(world.deployments).toEqual({});
    expect(world.stages).toEqual({});
    expect(world.calls).not.toContain('setTraffic');
  });

  it("holds the model's lock until the losing challenger's delete has finished (ARM answers 202, then polls)", async () => {
    const world = new World();
    world.evaluation = 'lose';
    world.deletePolls = 2;
    const { t, id } = await start(world);
    expect(((await t.engine.waitForCompletion(id)).output as PromotionResult).outcome).toBe('lost-evaluation');
    expect(world.deployments).toEqual({});
    const history = (await t.engine.exportHistory(id))!.history;
    const scheduled = (name: string) => (e: (typeof history)[number]) =>
      e.EventType === H.TaskScheduled && e.Name === name;
    const lastPoll = history.map(scheduled('checkProvisioning')).lastIndexOf(true);
    const deleted = history.findIndex(scheduled('deleteDeployment'));
    const released = history.map((e) => e.EventType === H.EventSent).lastIndexOf(true);
    expect(history.filter(scheduled('checkProvisioning')).length).toBe(
      2 + 3, // endpoint and deployment provisioning, then the delete polled three times
    );
    expect(deleted).toBeLessThan(lastPoll);
    expect(lastPoll).toBeLessThan(released);
  });

  it('removes the slot without waiting for the delete in a promotion started on flow version 1', async () => {
    const world = new World();
    world.evaluation = 'lose';
    const { t, id } = await start(world, '1', input('1'), { ...hostVersioning, defaultVersion: '1' });
    expect(((await t.engine.waitForCompletion(id)).output as PromotionResult).outcome).toBe('lost-evaluation');
    expect(world.calls.filter((c) => c === 'checkProvisioning')).toHaveLength(2);
    expect(world.deleting).toEqual(new Set(['blue']));
  });

  it('waits for a slot that is still being deleted before deploying into it', async () => {
    const world = new World();
    world.endpointExists = true;
    world.deployments = { blue: 'demand:0' };
    world.deleting.add('blue');
    world.deletePolls = 1;
    const { t, id } = await start(world);
    for (let waited = 0; (await phase(t, id)) !== 'awaiting-approval' && waited < 5000; waited += 50) await sleep(50);
    expect(world.deployments).toEqual({ blue: 'demand:1' });
    const status = (await t.engine.getStatus(id))!.customStatus as { timeline: { note: string }[] };
    expect(status.timeline.map((e) => e.note)).toContain('waiting for the delete of blue to finish');
  });

  it('ends a rejected promotion with the version unstaged and its slot removed', async () => {
    const world = new World();
    const { t, id } = await start(world);
    await phase(t, id);
    await t.engine.raiseEvent(id, 'decision', decision('reject', {}, id));
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result).toMatchObject({ outcome: 'rejected', decision: { approver: 'ana' } });
    expect(world.stages).toEqual({ '1': 'unstaged' });
    expect(world.deployments).toEqual({});
  });

  it.each([
    ['reject', 'approval-timed-out', 'unstaged', {}],
    ['approve', 'promoted', 'production', { blue: 100 }],
  ] as const)(
    'applies the policy when nobody decides in time (onTimeout: %s)',
    async (onTimeout, outcome, stage, traffic) => {
      const world = new World();
      const quick = input('1');
      quick.policy = { ...policy, approval: { ...policy.approval, onTimeout, timeoutMs: 200 } };
      const { t, id } = await start(world, '1', quick);
      const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
      expect(result.outcome).toBe(outcome);
      expect(result.decision).toMatchObject({ decision: onTimeout, approver: 'policy:onTimeout' });
      expect(world.stages).toEqual({ '1': stage });
      expect(world.traffic).toEqual(traffic);
    },
  );

  it('ignores decision events it cannot take (malformed, unknown, look-alike, self), notes them and keeps waiting', async () => {
    const world = new World();
    const { t, id } = await start(world);
    await phase(t, id);
    // What anyone with the Durable HTTP API could raise: none of it approves, none of it crashes the promotion.
    const bad: unknown[] = [
      null,
      'approve',
      [],
      { ...decision('approve'), decision: 'yes' },
      { decision: 'approve', via: 'api', at: '2026-01-01T00:00:00Z' },
      { ...decision('approve'), approver: 'dana' },
      { ...decision('approve'), approver: 'ＤＡＮＡ' },
      { ...decision('approve'), approver: 'a\u200Bna' },
      { ...decision('approve'), approver: '\u0430na' },
      { ...decision('approve'), via: 'fax' },
      { ...decision('approve'), at: 'yesterday' },
      { ...decision('approve'), comment: 'x'.repeat(1001) },
    ];
    for (const data of bad) await t.engine.raiseEvent(id, 'decision', data);
    expect(await phase(t, id)).toBe('awaiting-approval');
    const status = (await t.engine.getStatus(id))!;
    expect(status.runtimeStatus).toBe('Running');
    const custom = status.customStatus as PromotionStatus;
    expect(custom.ignoredEvents).toBe(bad.length);
    expect(custom.decision).toBeUndefined();
    const notes = custom.timeline.filter((e) => e.note.startsWith('ignored a decision event'));
    expect(notes.map((e) => e.note)).toEqual([
      'ignored a decision event: not an object',
      'ignored a decision event: not an object',
      'ignored a decision event: not an object',
      'ignored a decision event: decision: must be "approve" or "reject"',
      'ignored a decision event: approver: must be a name',
    ]);
    expect(world.calls).not.toContain('setTraffic');

    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result).toMatchObject({ outcome: 'promoted', decision: { approver: 'ana' } });
  });

  it("ignores a well-formed approval that lacks the seal of the app's decision routes, or whose seal does not match", async () => {
    const world = new World();
    const { t, id } = await start(world);
    await phase(t, id);
    const { seal, ...unsealed } = decision('approve');
    const forged: unknown[] = [
      unsealed,
      { ...unsealed, seal: 'x'.repeat(43) },
      { ...unsealed, comment: 'changed after sealing', seal },
      decision('approve', {}, 'promote:demand:2'),
    ];
    for (const data of forged) await t.engine.raiseEvent(id, 'decision', data);
    expect(await phase(t, id)).toBe('awaiting-approval');
    const custom = (await t.engine.getStatus(id))!.customStatus as PromotionStatus;
    expect(custom.decision).toBeUndefined();
    expect(custom.timeline.filter((e) => e.note.startsWith('ignored')).map((e) => e.note)).toEqual(
      Array(forged.length).fill("ignored a decision event: seal: not sent through Champion's decision routes"),
    );
    expect(world.calls).not.toContain('setTraffic');

    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    expect(((await t.engine.waitForCompletion(id)).output as PromotionResult).outcome).toBe('promoted');
  });

  it("takes an approval only from the policy's approvers, and still times out after ignored events", async () => {
    const world = new World();
    const listed = input('1');
    listed.policy = {
      ...policy,
      approval: { ...policy.approval, approvers: ['Bo@contoso.com'], onTimeout: 'reject', timeoutMs: 500 },
    };
    const { t, id } = await start(world, '1', listed);
    await phase(t, id);
    expect(world.approvalRequests).toMatchObject([{ approvers: ['Bo@contoso.com'] }]);
    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result.outcome).toBe('approval-timed-out');
    expect((await t.engine.getStatus(id))?.customStatus).toMatchObject({
      ignoredEvents: 1,
      timeline: expect.arrayContaining([
        expect.objectContaining({ note: 'ignored a decision event: approver: not an approver for this model' }),
      ]),
    });
  });

  it('ends as superseded when a newer winner takes its place', async () => {
    const world = new World();
    const { t, id } = await start(world);
    await phase(t, id);
    await t.engine.raiseEvent(id, 'superseded', { by: 'promote:demand:2' });
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result.outcome).toBe('superseded');
    expect(world.calls).not.toContain('setTraffic');
  });

  it.each(['staged', 'production'])(
    'is superseded at once, without deploying or asking anyone, when a newer winner is already %s',
    async (stage) => {
      const world = new World();
      world.stages = { '10': stage };
      const { t, id } = await start(world, '9');
      const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
      expect(result).toMatchObject({ outcome: 'superseded', reason: `demand:10 is newer and already ${stage}` });
      // The endpoint is read in the same round trip as the look for a newer winner; nothing is written.
      expect(world.calls).toEqual(['findNewerWinner', 'readEndpoint']);
      expect(world.stages).toEqual({ '10': stage });
    },
  );

  it('is staged over an older winner, and over a newer version that no longer stands', async () => {
    const world = new World();
    world.stages = { '8': 'staged', '11': 'unstaged' };
    const { t, id } = await start(world, '9');
    expect(await phase(t, id)).toBe('awaiting-approval');
    expect(world.stages).toEqual({ '8': 'unstaged', '9': 'staged', '11': 'unstaged' });
  });

  it('asks for approval before it releases the model lock, so no newer winner is staged in between', async () => {
    const world = new World();
    const { t, id } = await start(world);
    await phase(t, id);
    const history = (await t.engine.exportHistory(id))!.history;
    const asked = history.findIndex((e) => e.EventType === H.TaskScheduled && e.Name === 'requestApproval');
    const released = history.findIndex((e) => e.EventType === H.EventSent && e.Name === 'release');
    expect(asked).toBeGreaterThan(0);
    expect(asked).toBeLessThan(released);
  });

  it('looks for a newer winner and reads the endpoint in one round trip', async () => {
    const world = new World();
    const { t, id } = await start(world);
    await phase(t, id);
    const history = (await t.engine.exportHistory(id))!.history;
    const scheduled = (name: string) => history.findIndex((e) => e.EventType === H.TaskScheduled && e.Name === name);
    const firstCompletion = history.findIndex((e) => e.EventType === H.TaskCompleted);
    // Both scheduled before either completed: one episode asked for both.
    expect(scheduled('findNewerWinner')).toBeGreaterThan(0);
    expect(scheduled('readEndpoint')).toBeGreaterThan(0);
    expect(Math.max(scheduled('findNewerWinner'), scheduled('readEndpoint'))).toBeLessThan(firstCompletion);
  });

  it('reports a deployment that fails provisioning and leaves traffic alone', async () => {
    const world = new World();
    world.deployFailure = 'OutOfQuota';
    const { t, id } = await start(world);
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result).toMatchObject({ outcome: 'failed', failure: { code: 'OutOfQuota' } });
    expect(world.calls).not.toContain('setTraffic');
    expect(world.stages).toEqual({});
  });

  it('polls at once when ARM says the operation is done, then never faster than once a second', async () => {
    const world = new World();
    world.stillProvisioning = 1;
    const { t, id } = await start(world);
    for (let waited = 0; (await phase(t, id)) !== 'awaiting-approval' && waited < 5000; waited += 50) await sleep(50);
    const history = (await t.engine.exportHistory(id))!.history;
    const timers = history.filter((e) => e.EventType === H.TimerCreated);
    expect(timers).toHaveLength(2); // the re-poll and the approval timeout
    const repoll = timers[0]!;
    expect(new Date(repoll.FireAt!).getTime() - new Date(repoll.Timestamp).getTime()).toBeGreaterThanOrEqual(1000);
    expect(world.calls.filter((c) => c === 'checkProvisioning')).toHaveLength(3); // endpoint, deployment twice
  });

  it('stops at a failed smoke test: the evaluation run alongside is never looked at', async () => {
    const world = new World();
    world.testFails = true;
    const { t, id } = await start(world);
    const status = await t.engine.waitForCompletion(id);
    const result = status.output as PromotionResult;
    expect(result).toMatchObject({ outcome: 'failed', failure: { code: 'SmokeTestFailed' } });
    expect(result.evidence).toBeUndefined();
    expect(result.timeline?.map((e) => e.phase)).toEqual(expect.not.arrayContaining(['evaluated']));
    expect(world.stages).toEqual({});
    expect(world.deployments).toEqual({});
  });

  it('reports the failed smoke test, not the evaluation that failed alongside it', async () => {
    const world = new World();
    world.testFails = true;
    world.evaluationFails = true;
    const { t, id } = await start(world);
    const status = await t.engine.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toMatchObject({ outcome: 'failed', failure: { code: 'SmokeTestFailed' } });
    expect(world.deployments).toEqual({});
  });

  it('fails on an evaluation that keeps failing once the smoke test has passed', async () => {
    const world = new World();
    world.evaluationFails = true;
    const { t, id } = await start(world);
    const status = await t.engine.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(world.stages).toEqual({});
  });

  it('on flow version 11, stops at a failed smoke test before any evaluation', async () => {
    const world = new World();
    world.testFails = true;
    const { t, id } = await start(world, '1', input('1'), { ...hostVersioning, defaultVersion: '11' });
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result).toMatchObject({ outcome: 'failed', failure: { code: 'SmokeTestFailed' } });
    expect(world.calls).not.toContain('evaluateChallenger');
    expect(world.deployments).toEqual({});
  });

  /**
   * Version 1 serves 100 % from blue; version 2 is promoted and approved. `setup` changes the world first,
   * `whileWaiting` while version 2 waits for approval.
   */
  async function approveChallenger(
    setup: (world: World) => void,
    whileWaiting: (world: World) => void = () => {},
    rollout: Partial<Policy['rollout']> = {},
  ): Promise<{ world: World; result: PromotionResult }> {
    const world = new World();
    world.deployments = { blue: 'demand:1' };
    world.traffic = { blue: 100 };
    world.stages = { '1': 'production' };
    world.endpointExists = true;
    setup(world);
    const promotion = input('2');
    promotion.policy = { ...policy, rollout: { ...policy.rollout, ...rollout } };
    const { t, id } = await start(world, '2', promotion);
    expect(await phase(t, id)).toBe('awaiting-approval');
    whileWaiting(world);
    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    return { world, result: (await t.engine.waitForCompletion(id)).output as PromotionResult };
  }

  it('retries an activity that fails once and carries on', async () => {
    const { world, result } = await approveChallenger((w) => (w.trafficFails = 1));
    expect(result.outcome).toBe('promoted');
    expect(world.traffic).toEqual({ blue: 0, green: 100 });
    expect(world.calls.filter((c) => c === 'setTraffic')).toHaveLength(2);
  });

  it('deploys and tests again when a newer challenger took the idle slot while it waited', async () => {
    const { world, result } = await approveChallenger(
      () => {},
      (w) => {
        w.deployments.green = 'demand:3'; // a loser's leftover in the slot this one was tested in
        w.calls = [];
      },
    );
    expect(result).toMatchObject({ outcome: 'promoted', release: { slot: 'green' } });
    expect(world.deployments.green).toBe('demand:2');
    expect(world.traffic).toEqual({ blue: 0, green: 100 });
    expect(world.calls.slice(0, 8)).toEqual([
      'verifyDecision',
      'checkReleaseFreeze',
      'setTraffic',
      'readStage',
      'readEndpoint',
      'beginDeploy',
      'checkProvisioning',
      'testDeployment',
    ]);
    expect(world.stages).toEqual({ '1': 'surpassed', '2': 'production' });
  });

  it('moves traffic without reading the endpoint again when nothing changed while it waited', async () => {
    const world = new World();
    const { t, id } = await start(world);
    await phase(t, id);
    world.calls = [];
    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    await t.engine.waitForCompletion(id);
    expect(world.calls).toEqual([
      'verifyDecision',
      'checkReleaseFreeze',
      'setTraffic',
      'checkProvisioning',
      'changeStage',
      'recordRelease',
    ]);
  });

  it('puts the champion back and never tags production when the endpoint update fails', async () => {
    const { world, result } = await approveChallenger((w) => (w.trafficUpdateFails = true));
    expect(result).toMatchObject({ outcome: 'failed', failure: { code: 'TrafficShiftFailed' } });
    expect(result.failure?.message).toContain('the endpoint update failed');
    expect(result.failure?.message).toContain("the champion's traffic is restored");
    expect(world.traffic).toEqual({ blue: 100, green: 0 });
    expect(world.stages).toEqual({ '1': 'production', '2': 'unstaged' });
  });

  it.each([
    [2, 'TrafficShiftFailed', { blue: 100, green: 0 }, { '1': 'production', '2': 'unstaged' }],
    // Refused past the deadline, on an endpoint whose update failed: what serves is unknown, so 2 is not production.
    [99, 'RollbackFailed', { blue: 0, green: 100 }, { '1': 'production', '2': 'unstaged' }],
  ] as const)(
    'retries a rollback ARM refuses while an update is in progress (%i refusals → %s)',
    async (conflicts, code, traffic, stages) => {
      const { world, result } = await approveChallenger(
        (w) => {
          w.trafficUpdateFails = true;
          w.rollbackConflicts = conflicts;
        },
        () => {},
        { provisioningDeadlineMs: 2500 },
      );
      expect(result).toMatchObject({ outcome: 'failed', failure: { code } });
      expect(world.traffic).toEqual(traffic);
      expect(world.stages).toEqual(stages);
    },
  );

  it('tags what the endpoint serves when an update Champion gave up on lands after all', async () => {
    const { world, result } = await approveChallenger(
      (w) => (w.updateLandsLate = true),
      () => {},
      { provisioningDeadlineMs: 1500 },
    );
    expect(result).toMatchObject({ outcome: 'failed', failure: { code: 'RollbackFailed' } });
    expect(world.traffic).toEqual({ blue: 0, green: 100 });
    expect(world.stages).toEqual({ '1': 'surpassed', '2': 'production' });
    expect(world.calls.slice(-3)).toEqual(['readEndpoint', 'changeStage', 'recordRelease']);
  });

  it('sends a change again when its answer was lost and its update failed, then rolls back', async () => {
    const { world, result } = await approveChallenger((w) => {
      w.lostAnswers = 1;
      w.trafficUpdateFails = true;
    });
    expect(result).toMatchObject({ outcome: 'failed', failure: { code: 'TrafficShiftFailed' } });
    expect(world.calls).not.toContain('readStage'); // its own split was not taken for someone else's
    expect(world.traffic).toEqual({ blue: 100, green: 0 });
    expect(world.stages).toEqual({ '1': 'production', '2': 'unstaged' });
  });

  it('is not promoted when a newer winner already serves the split it was to apply', async () => {
    const { world, result } = await approveChallenger(
      () => {},
      (w) => {
        // Version 3 replaced it in the same slot and was released while this one waited.
        w.deployments.green = 'demand:3';
        w.traffic = { blue: 0, green: 100 };
        w.stages = { '1': 'surpassed', '2': 'unstaged', '3': 'production' };
      },
    );
    expect(result.outcome).toBe('superseded');
    expect(world.stages).toEqual({ '1': 'surpassed', '2': 'unstaged', '3': 'production' });
    expect(world.calls).not.toContain('recordRelease');
  });

  it('ends as superseded when a newer winner took its slot while it waited for the lock', async () => {
    const { world, result } = await approveChallenger(
      () => {},
      (w) => {
        // Version 3 staged itself in the same slot; its signal came after this one had its decision.
        w.deployments.green = 'demand:3';
        w.stages = { ...w.stages, '2': 'unstaged', '3': 'staged' };
      },
    );
    expect(result.outcome).toBe('superseded');
    expect(world.deployments.green).toBe('demand:3');
    expect(world.traffic).toEqual({ blue: 100 });
    expect(world.stages).toEqual({ '1': 'production', '2': 'unstaged', '3': 'staged' });
  });

  it('puts the champion back to 100 % when moving traffic keeps failing', async () => {
    const { world, result } = await approveChallenger((w) => (w.trafficFails = 3));
    expect(result).toMatchObject({ outcome: 'failed', failure: { code: 'TrafficShiftFailed' } });
    expect(world.traffic).toEqual({ blue: 100 });
    expect(world.stages).toEqual({ '1': 'production', '2': 'unstaged' });
  });
});

describe('promoteModel progressive rollout (flow version 6)', () => {
  /** Version 1 serves from blue; version 2 is promoted with the given rollout settings. */
  async function rollout(world: World, over: Partial<PolicyInput['rollout']>) {
    world.deployments = { blue: 'demand:1' };
    world.traffic = { blue: 100 };
    world.stages = { '1': 'production' };
    world.endpointExists = true;
    const promotion = input('2');
    promotion.policy = parsePolicies({
      policies: [{ ...policyInput, rollout: { ...policyInput.rollout, ...over } }],
    }).demand!;
    const { t, id } = await start(world, '2', promotion);
    await phase(t, id);
    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    return { t, id };
  }
  const control = (id: string, action: RolloutControl['action'], over: Partial<RolloutControl> = {}) => {
    const c: RolloutControl = {
      action,
      by: 'oncall',
      authenticated: false,
      identity: 'request',
      reason: `${action} please`,
      via: 'api',
      at: '2026-01-01T00:00:00Z',
      ...over,
    };
    return { ...c, seal: sealControl(SECRET, id, c) };
  };
  async function until(t: TestEngine, id: string, ok: (s: PromotionStatus) => boolean): Promise<PromotionStatus> {
    for (let i = 0; i < 400; i++) {
      const s = (await t.engine.getStatus(id))?.customStatus as PromotionStatus | undefined;
      if (s && ok(s)) return s;
      await sleep(25);
    }
    throw new Error(`status never matched: ${JSON.stringify((await t.engine.getStatus(id))?.customStatus)}`);
  }
  const baking = (step: number) => (s: PromotionStatus) => s.rollout?.state === 'baking' && s.rollout.step === step;

  it('walks a canary step by step, one checked update each, baking on a durable timer after each step below 100 %', async () => {
    const world = new World();
    const { t, id } = await rollout(world, { strategy: 'canary', steps: [10, 50, 100], bake: 1 });
    const first = await until(t, id, baking(1));
    expect(first.rollout).toMatchObject({ step: 1, of: 3, percent: 10, champion: 'blue', challenger: 'green' });
    expect(Date.parse(first.rollout!.bakeEndsAt!)).toBeGreaterThan(Date.parse(first.rollout!.startedAt));
    const done = await t.engine.waitForCompletion(id);
    const result = done.output as PromotionResult;
    expect(result.outcome).toBe('promoted');
    expect(world.trafficChanges.map((c) => c.traffic)).toEqual([
      { blue: 90, green: 10 },
      { blue: 50, green: 50 },
      { blue: 0, green: 100 },
    ]);
    // Each update is checked against what the step before left.
    expect(world.trafficChanges.map((c) => c.expect?.traffic)).toEqual([
      { blue: 100, green: 0 },
      { blue: 90, green: 10 },
      { blue: 50, green: 50 },
    ]);
    const notes = result.timeline!.map((e) => e.note);
    expect(notes.filter((n) => /^step \d\/3: baking until /.test(n))).toHaveLength(2);
    expect(notes).toContain('step 1/3: 10 % of live traffic to green; traffic → {"blue":90,"green":10}');
    expect(result.rollout).toMatchObject({ state: 'completed', step: 3, percent: 100 });
    expect(result.rollout!.verdicts.map((v) => v.verdict)).toEqual(['Pass', 'Pass']);
    // The bakes were timers, recorded in the history.
    const history = (await t.engine.exportHistory(id))!.history;
    expect(history.filter((e) => e.EventType === H.TimerFired).length).toBeGreaterThanOrEqual(2);
  });

  it('pauses and resumes the bake for what was left, then promotes now, each recorded with who and why', async () => {
    const world = new World();
    const { t, id } = await rollout(world, { strategy: 'linear', increment: 25, bake: 'PT1H' });
    await until(t, id, baking(1));
    await t.engine.raiseEvent(id, 'rollout-control', control(id, 'pause', { by: 'ana', reason: 'looking at p99' }));
    const paused = await until(t, id, (s) => s.rollout?.state === 'paused');
    expect(paused.rollout!.remainingBakeMs).toBeGreaterThan(3_500_000);
    expect(paused.rollout!.bakeEndsAt).toBeUndefined();
    await t.engine.raiseEvent(id, 'rollout-control', control(id, 'resume', { by: 'ana', reason: 'p99 is fine' }));
    const resumed = await until(t, id, (s) => s.rollout?.state === 'baking' && s.rollout.controls.length === 2);
    expect(Date.parse(resumed.rollout!.bakeEndsAt!)).toBeGreaterThan(Date.now() + 3_500_000);
    await t.engine.raiseEvent(id, 'rollout-control', control(id, 'promote-now', { by: 'bo', reason: 'release day' }));
    const done = await t.engine.waitForCompletion(id);
    const result = done.output as PromotionResult;
    expect(result.outcome).toBe('promoted');
    // 25 %, then straight to 100 %: the steps at 50 and 75 % were skipped.
    expect(world.trafficChanges.map((c) => c.traffic.green)).toEqual([25, 100]);
    expect(result.rollout!.controls.map((c) => [c.action, c.by, c.reason, c.step])).toEqual([
      ['pause', 'ana', 'looking at p99', 1],
      ['resume', 'ana', 'p99 is fine', 1],
      ['promote-now', 'bo', 'release day', 1],
    ]);
    const notes = result.timeline!.map((e) => e.note);
    expect(notes).toContain('step 1/4: promote-now by bo (unauthenticated) via api: release day');
    expect(result.rollout!.verdicts).toEqual([]);
  });

  const errorRateFail = {
    verdict: 'Fail' as const,
    reason: 'error rate 10% vs 0% (20/200 vs 0/200), increase [0.06, 0.15] beyond the allowed 2%',
    metrics: [
      {
        name: 'errorRate' as const,
        champion: 0,
        challenger: 0.1,
        difference: 0.1,
        interval: [0.06, 0.15] as [number, number],
        allowed: 0.02,
        verdict: 'Fail' as const,
      },
    ],
  };

  it('judges each baked step over its window (flow version 9) and rolls a failing one back in one update', async () => {
    const world = new World();
    world.verdicts = [errorRateFail];
    const { t, id } = await rollout(world, { steps: [10, 50, 100], bake: 1, analysis: { onInconclusive: 'pause' } });
    const done = await t.engine.waitForCompletion(id);
    const result = done.output as PromotionResult;
    expect(result).toMatchObject({ outcome: 'failed', failure: { code: 'RolloutRolledBack' } });
    expect(result.reason).toBe(
      `step 1 failed its judgement: ${errorRateFail.reason}; the champion's traffic is restored`,
    );
    // Rolled back before 50 %: the champion's slot takes everything again in one update.
    expect(world.trafficChanges.map((c) => c.traffic)).toEqual([
      { blue: 90, green: 10 },
      { blue: 100, green: 0 },
    ]);
    expect(world.traffic).toEqual({ blue: 100, green: 0 });
    expect(world.stages).toMatchObject({ '1': 'production', '2': 'unstaged' });
    expect(world.judged).toHaveLength(1);
    const judged = world.judged[0]!;
    expect(judged).toMatchObject({ modelName: 'demand', championDeployment: 'blue', challengerDeployment: 'green' });
    expect(Date.parse(judged.to) - Date.parse(judged.from)).toBeGreaterThanOrEqual(1000);
    expect(judged.analysis).toMatchObject({ onInconclusive: 'pause', minRequests: 100, task: 'regression' });
    expect(result.rollout).toMatchObject({ state: 'rolled-back' });
    expect(result.rollout!.verdicts).toEqual([{ step: 1, verdict: 'Fail', reason: errorRateFail.reason }]);
    expect(result.timeline!.map((e) => e.note)).toContain(`step 1/3: Fail: ${errorRateFail.reason}`);
  });

  it('an Inconclusive step aborts back to the champion when the policy says abort, and pauses when it says pause', async () => {
    const quiet = { verdict: 'Inconclusive' as const, reason: 'too few requests for the error rate', metrics: [] };
    const aborting = new World();
    aborting.verdicts = [quiet];
    const a = await rollout(aborting, { steps: [10, 100], bake: 1, analysis: { onInconclusive: 'abort' } });
    const aborted = (await a.t.engine.waitForCompletion(a.id)).output as PromotionResult;
    expect(aborted).toMatchObject({ outcome: 'failed', failure: { code: 'RolloutRolledBack' } });
    expect(aborted.reason).toContain('step 1 was inconclusive: too few requests for the error rate');
    expect(aborting.traffic).toEqual({ blue: 100, green: 0 });

    const pausing = new World();
    pausing.verdicts = [quiet];
    const p = await rollout(pausing, { steps: [10, 100], bake: 1, analysis: {} });
    const paused = await until(p.t, p.id, (s) => s.rollout?.state === 'paused');
    expect(paused.rollout).toMatchObject({ step: 1, percent: 10 });
    expect(paused.rollout!.verdicts).toEqual([{ step: 1, verdict: 'Inconclusive', reason: quiet.reason }]);
    expect(pausing.traffic).toEqual({ blue: 90, green: 10 });
    await p.t.engine.raiseEvent(p.id, 'rollout-control', control(p.id, 'promote-now'));
    const promoted = (await p.t.engine.waitForCompletion(p.id)).output as PromotionResult;
    expect(promoted.outcome).toBe('promoted');
  });

  it('judges nothing without rollout.analysis: each baked step passes', async () => {
    const world = new World();
    const { t, id } = await rollout(world, { steps: [10, 100], bake: 1 });
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result.outcome).toBe('promoted');
    expect(world.judged).toEqual([]);
    expect(result.rollout!.verdicts).toEqual([
      { step: 1, verdict: 'Pass', reason: 'no analysis in the policy: step 1 baked' },
    ]);
  });

  it('aborts back to the champion in one update, unstages the challenger, and says who and why', async () => {
    const world = new World();
    const { t, id } = await rollout(world, { steps: [10, 100], bake: 'PT1H' });
    await until(t, id, baking(1));
    await t.engine.raiseEvent(
      id,
      'rollout-control',
      control(id, 'abort', { by: 'pager', via: 'alert', reason: 'error rate alert' }),
    );
    const done = await t.engine.waitForCompletion(id);
    const result = done.output as PromotionResult;
    expect(result).toMatchObject({ outcome: 'failed', failure: { code: 'RolloutAborted' } });
    expect(result.reason).toBe(
      "aborted at step 1 by an alert from pager: error rate alert; the champion's traffic is restored",
    );
    expect(world.traffic).toEqual({ blue: 100, green: 0 });
    expect(world.trafficChanges.map((c) => c.traffic)).toEqual([
      { blue: 90, green: 10 },
      { blue: 100, green: 0 },
    ]);
    expect(world.stages).toMatchObject({ '1': 'production', '2': 'unstaged' });
    expect(result.rollout).toMatchObject({ state: 'aborted' });
  });

  it('ignores a raw control event without the seal of the control routes, and one that is malformed', async () => {
    const world = new World();
    const { t, id } = await rollout(world, { steps: [10, 100], bake: 2 });
    await until(t, id, baking(1));
    const forged = { ...control(id, 'abort'), seal: sealControl(SECRET, 'promote:demand:9', control(id, 'abort')) };
    await t.engine.raiseEvent(id, 'rollout-control', forged);
    await t.engine.raiseEvent(id, 'rollout-control', { action: 'abort', by: 'x' });
    const done = await t.engine.waitForCompletion(id);
    const result = done.output as PromotionResult;
    expect(result.outcome).toBe('promoted');
    const notes = result.timeline!.map((e) => e.note);
    expect(notes).toContain("ignored a rollout control: seal: not sent through Champion's control routes");
    expect(notes).toContain('ignored a rollout control: authenticated: must be true or false');
    expect(result.rollout!.controls).toEqual([]);
  });

  it('aborts when a pause outlasts the maximum duration', async () => {
    const world = new World();
    const { t, id } = await rollout(world, { steps: [10, 100], bake: 1, maxDuration: 2 });
    await until(t, id, baking(1));
    await t.engine.raiseEvent(id, 'rollout-control', control(id, 'pause'));
    const done = await t.engine.waitForCompletion(id);
    const result = done.output as PromotionResult;
    expect(result).toMatchObject({ outcome: 'failed', failure: { code: 'RolloutMaxDurationExceeded' } });
    expect(world.traffic).toEqual({ blue: 100, green: 0 });
  });

  it('mirrors to the challenger before any live traffic, then clears the mirror with the first live step', async () => {
    const world = new World();
    const { t, id } = await rollout(world, { steps: [50, 100], bake: 1, mirror: { percent: 20, duration: 1 } });
    const mirroring = await until(t, id, baking(1));
    expect(mirroring.rollout).toMatchObject({ kind: 'mirror', percent: 0, mirrorPercent: 20 });
    const done = await t.engine.waitForCompletion(id);
    expect((done.output as PromotionResult).outcome).toBe('promoted');
    expect(world.trafficChanges.map((c) => [c.traffic, c.mirror])).toEqual([
      [{ blue: 100, green: 0 }, { green: 20 }],
      [{ blue: 50, green: 50 }, {}],
      [{ blue: 0, green: 100 }, {}],
    ]);
  });

  it('judges the mirror phase as a mirror phase (on replayed requests), the live steps as live ones', async () => {
    const world = new World();
    const { t, id } = await rollout(world, {
      steps: [50, 100],
      bake: 1,
      mirror: { percent: 20, duration: 1 },
      analysis: {},
    });
    const done = await t.engine.waitForCompletion(id);
    expect((done.output as PromotionResult).outcome).toBe('promoted');
    expect(world.judged.map((j) => j.phase)).toEqual(['mirror', 'live']);
  });
});

describe('promoteModel rollback window (flow version 8)', () => {
  async function released(world: World, window: string | number) {
    world.deployments = { blue: 'demand:1' };
    world.traffic = { blue: 100 };
    world.stages = { '1': 'production' };
    world.endpointExists = true;
    const promotion = input('2');
    promotion.policy = parsePolicies({
      policies: [{ ...policyInput, rollout: { ...policyInput.rollout, rollbackWindow: window } }],
    }).demand!;
    const { t, id } = await start(world, '2', promotion);
    await phase(t, id);
    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    return { t, result: (await t.engine.waitForCompletion(id)).output as PromotionResult };
  }

  it('keeps the previous champion warm for the window, says until when, then removes its slot', async () => {
    const world = new World();
    const { t, result } = await released(world, 1);
    expect(result.outcome).toBe('promoted');
    expect(result.rollbackWindow).toEqual({ slot: 'blue', until: expect.any(String), retirementId: 'retire:demand:2' });
    expect(result.timeline!.map((e) => e.note)).toContain(
      `rollback window: blue stays warm at 0 % until ${result.rollbackWindow!.until}, then is removed (retire:demand:2)`,
    );
    expect(world.retirements).toEqual([
      {
        instanceId: 'retire:demand:2',
        retirement: expect.objectContaining({
          slot: 'blue',
          promotionId: 'promote:demand:2',
          until: result.rollbackWindow!.until,
        }),
      },
    ]);
    // Still warm when the promotion ends: a rollback now is one traffic update.
    expect(world.deployments.blue).toBe('demand:1');
    await t.engine.startNew(RETIRE_SLOT_ORCHESTRATION, {
      instanceId: 'retire:demand:2',
      input: world.retirements[0]!.retirement,
    });
    const retired = (await t.engine.waitForCompletion('retire:demand:2')).output as RetirementResult;
    expect(retired).toMatchObject({ outcome: 'removed', slot: 'blue', held: 'demand:1' });
    expect(world.deployments).toEqual({ green: 'demand:2' });
  });

  it('keeps the slot when it serves again at the end of the window (rolled back meanwhile)', async () => {
    const world = new World();
    const { t } = await released(world, 1);
    await t.engine.startNew(RETIRE_SLOT_ORCHESTRATION, {
      instanceId: 'retire:demand:2',
      input: world.retirements[0]!.retirement,
    });
    world.traffic = { blue: 100, green: 0 };
    const retired = (await t.engine.waitForCompletion('retire:demand:2')).output as RetirementResult;
    expect(retired).toMatchObject({
      outcome: 'kept',
      reason: 'blue (demand:1) serves 100 % again (rolled back): kept',
    });
    expect(world.deployments.blue).toBe('demand:1');
  });

  it("carries the environment's workspace to the retirement, whose activities then address it", async () => {
    const world = new World();
    world.deployments = { blue: 'demand:1' };
    world.traffic = { blue: 100 };
    world.stages = { '1': 'production' };
    world.endpointExists = true;
    const workspace =
      '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/staging';
    const promotion = { ...input('2'), workspace };
    promotion.policy = parsePolicies({
      policies: [{ ...policyInput, rollout: { ...policyInput.rollout, rollbackWindow: 1 } }],
    }).demand!;
    const { t, id } = await start(world, '2', promotion);
    await phase(t, id);
    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    await t.engine.waitForCompletion(id);
    expect(world.retirements[0]!.retirement).toMatchObject({ slot: 'blue', workspace });
  });

  it('starts no retirement without a window in the policy', async () => {
    const world = new World();
    world.deployments = { blue: 'demand:1' };
    world.traffic = { blue: 100 };
    world.stages = { '1': 'production' };
    world.endpointExists = true;
    const { t, id } = await start(world, '2');
    await phase(t, id);
    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result.outcome).toBe('promoted');
    expect(result.rollbackWindow).toBeUndefined();
    expect(world.retirements).toEqual([]);
  });
});

describe('promoteModel custom status', () => {
  it("stays under Durable's 16 KB custom status limit through a 100-step rollout, the result keeping every entry", async () => {
    const world = new World();
    world.deployments = { blue: 'demand:1' };
    world.traffic = { blue: 100 };
    world.stages = { '1': 'production' };
    world.endpointExists = true;
    const long = input('2');
    const steps = Array.from({ length: 100 }, (_, i) => i + 1);
    long.policy = { ...policy, rollout: { ...policy.rollout, steps } };
    const { t, id } = await start(world, '2', long);
    await phase(t, id);
    await t.engine.raiseEvent(id, 'decision', decision('approve', { comment: 'c'.repeat(1000) }, id));
    const done = await t.engine.waitForCompletion(id);
    // The engine fails any episode whose custom status is over the limit, as the extension does.
    expect(done.runtimeStatus).toBe('Completed');
    const result = done.output as PromotionResult;
    expect(result.outcome).toBe('promoted');
    const traffic = result.timeline!.filter((e) => e.note.includes('traffic →'));
    expect(traffic).toHaveLength(100);
    const status = done.customStatus as PromotionStatus;
    expect(JSON.stringify(status).length * 2).toBeLessThanOrEqual(16 * 1024);
    expect(status.timeline.at(-1)).toEqual(result.timeline!.at(-1));
    expect(status.earlierEntries).toBe(result.timeline!.length - status.timeline.length);
  });
});

describe('promoteModel with a 10-day approval timeout', () => {
  it('waits through the long timer in 3-day links, times out on day 10, and replays what it recorded', async () => {
    const day = 24 * 60 * 60 * 1000;
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    let clock = t0;
    const world = new World();
    current = startEngine(world.register(new Registry()), { now: () => new Date(clock) });
    const t = current;
    const promotion = input('1');
    promotion.policy = { ...policy, approval: { ...policy.approval, timeout: 'P10D', timeoutMs: 10 * day } };
    const id = await t.engine.startNew('promoteModel', { instanceId: 'promote:demand:1', input: promotion });
    expect(await phase(t, id)).toBe('awaiting-approval');
    for (const d of [3, 6, 9, 10]) {
      clock = t0 + d * day;
      t.engine.checkTimers();
      await t.engine.whenIdle();
    }
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result.outcome).toBe('approval-timed-out');
    const recorded = (await t.engine.exportHistory(id))!;
    const links = recorded.history.filter((e) => e.EventType === H.TimerFired).map((e) => e.FireAt);
    expect(links).toEqual([3, 6, 9, 10].map((d) => new Date(t0 + d * day).toISOString()));
    const replay = await replayHistory(new World().register(new Registry()).handler('promoteModel'), recorded);
    expect((replay.output as PromotionResult).outcome).toBe('approval-timed-out');
    expect(checkDeterminism(recorded, replay)).toMatchObject({ ok: true, pending: 0 });
  });
});

describe('promoteModel lifecycle events', () => {
  it('carries each step once, in order, with the activities it runs anyway (no activity of its own)', async () => {
    const world = new World();
    const { t, id } = await start(world);
    expect(await phase(t, id)).toBe('awaiting-approval');
    const calls = world.calls.length;
    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    await t.engine.waitForCompletion(id);
    const steps = [
      'promotion-started',
      'evaluated',
      'approval-requested',
      'approval-decided',
      'rollout-step',
      'production-changed',
    ];
    expect(world.published.map((e) => e.id)).toEqual(steps.map((step) => `${id}:${step}`));
    expect(world.calls).not.toContain('publishLifecycle');
    // Each rode on an activity the promotion runs anyway: the approval request on requestApproval itself.
    expect(world.calls.slice(calls)).toEqual([
      'verifyDecision',
      'checkReleaseFreeze',
      'setTraffic',
      'checkProvisioning',
      'changeStage',
      'recordRelease',
    ]);
  });

  it('publishes what a failing activity carried before the promotion fails', async () => {
    const world = new World();
    world.stagingBroken = true;
    const { t, id } = await start(world);
    await expect(t.engine.waitForCompletion(id)).resolves.toMatchObject({ runtimeStatus: 'Failed' });
    expect(world.calls.at(-1)).toBe('publishLifecycle');
    expect(world.published.map((e) => e.step)).toEqual(['promotion-started', 'evaluated']);
  });

  it("announces the expiry and the policy's decision, carried by the reject", async () => {
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    let clock = t0;
    const world = new World();
    current = startEngine(world.register(new Registry()), { now: () => new Date(clock), versioning: hostVersioning });
    const id = await current.engine.startNew('promoteModel', { instanceId: 'promote:demand:1', input: input('1') });
    expect(await phase(current, id)).toBe('awaiting-approval');
    clock = t0 + policy.approval.timeoutMs;
    current.engine.checkTimers();
    expect(((await current.engine.waitForCompletion(id)).output as PromotionResult).outcome).toBe('approval-timed-out');
    const tail = world.published.slice(-2);
    expect(tail.map((e) => e.step)).toEqual(['approval-expired', 'approval-decided']);
    expect(tail[1]!.data.details).toMatchObject({ decision: 'reject', approver: 'policy:onTimeout', timedOut: true });
  });
});

describe('promoteModel approval reminders (approval.remindBefore)', () => {
  const minute = 60_000;
  const t0 = Date.parse('2030-01-01T00:00:00Z');
  let clock = t0;
  const reminding = (): PromotionInput => {
    const promotion = input('1');
    promotion.policy = {
      ...policy,
      approval: {
        ...policy.approval,
        timeout: 'PT1H',
        timeoutMs: 60 * minute,
        remindBefore: 'PT15M',
        remindBeforeMs: 15 * minute,
      },
    };
    return promotion;
  };
  async function startReminding(world: World, versioning = hostVersioning) {
    clock = t0;
    current = startEngine(world.register(new Registry()), { now: () => new Date(clock), versioning });
    const id = await current.engine.startNew('promoteModel', { instanceId: 'promote:demand:1', input: reminding() });
    expect(await phase(current, id)).toBe('awaiting-approval');
    return { t: current, id };
  }
  async function at(t: TestEngine, minutes: number) {
    clock = t0 + minutes * minute;
    t.engine.checkTimers();
    await t.engine.whenIdle();
  }

  it('reminds the approvers once, 15 minutes before expiry, with the same request, and still takes a decision', async () => {
    const world = new World();
    const { t, id } = await startReminding(world);
    await at(t, 44);
    expect(world.reminders).toEqual([]);
    await at(t, 45);
    const own = (inputs: object[]) => inputs.map((i) => carriedLifecycle(i).rest);
    expect(own(world.reminders)).toEqual(own(world.approvalRequests));
    expect(world.published.at(-1)).toMatchObject({ id: `${id}:approval-reminded` });
    await at(t, 50);
    expect(world.reminders).toHaveLength(1);
    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    expect(((await t.engine.waitForCompletion(id)).output as PromotionResult).outcome).toBe('promoted');
    expect(world.reminders).toHaveLength(1);
    const recorded = (await t.engine.exportHistory(id))!;
    const replay = await replayHistory(new World().register(new Registry()).handler('promoteModel'), recorded);
    expect(checkDeterminism(recorded, replay)).toMatchObject({ ok: true, pending: 0 });
  });

  it('sends no reminder when the decision comes first, and times out after one when none comes', async () => {
    const early = new World();
    const first = await startReminding(early);
    await first.t.engine.raiseEvent(first.id, 'decision', decision('approve', {}, first.id));
    expect(((await first.t.engine.waitForCompletion(first.id)).output as PromotionResult).outcome).toBe('promoted');
    await at(first.t, 50);
    expect(early.reminders).toEqual([]);
    await current!.close();

    const silent = new World();
    const second = await startReminding(silent);
    await at(second.t, 45);
    await at(second.t, 60);
    const done = await second.t.engine.waitForCompletion(second.id);
    expect((done.output as PromotionResult).outcome).toBe('approval-timed-out');
    expect(silent.reminders).toHaveLength(1);
  });

  it('an instance of flow version 6 is not reminded (its history has no reminder timer)', async () => {
    const world = new World();
    const { t } = await startReminding(world, { ...hostVersioning, defaultVersion: '6' });
    await at(t, 45);
    expect(world.reminders).toEqual([]);
  });
});

describe('promoteModel release freezes (flow version 10)', () => {
  const minute = 60_000;
  const t0 = Date.parse('2030-01-01T00:00:00Z');
  let clock = t0;
  async function approved(world: World, promotion: PromotionInput, versioning = hostVersioning) {
    clock = t0;
    world.deployments = { blue: 'demand:1' };
    world.traffic = { blue: 100 };
    world.stages = { '1': 'production' };
    world.endpointExists = true;
    current = startEngine(world.register(new Registry()), { now: () => new Date(clock), versioning });
    const id = await current.engine.startNew('promoteModel', { instanceId: 'promote:demand:2', input: promotion });
    expect(await phase(current, id)).toBe('awaiting-approval');
    await current.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    await current.engine.whenIdle();
    return { t: current, id };
  }
  async function at(t: TestEngine, minutes: number) {
    clock = t0 + minutes * minute;
    t.engine.checkTimers();
    await t.engine.whenIdle();
  }
  const status = async (t: TestEngine, id: string) => (await t.engine.getStatus(id))!.customStatus as PromotionStatus;

  it('waits at the release while a person freezes the model, says why, and releases once it is lifted', async () => {
    const world = new World();
    world.requestedFreeze = {
      by: 'ana',
      authenticated: false,
      identity: 'request',
      reason: 'Black Friday',
      at: new Date(t0).toISOString(),
    };
    const { t, id } = await approved(world, input('2'));
    const frozen = await status(t, id);
    expect(frozen.phase).toBe('frozen');
    expect(frozen.freeze).toMatchObject({ source: 'request', by: 'ana', reason: 'Black Friday' });
    expect(frozen.timeline.at(-1)!.note).toBe(
      'releases of this model are frozen by ana until it is lifted: Black Friday; the release waits',
    );
    // Nothing moved, and the model's lock is free meanwhile (a rollback could take it).
    expect(world.trafficChanges).toEqual([]);
    expect(world.stages['2']).toBe('staged');
    expect(t.engine.getEntity({ name: MODEL_LOCK_ENTITY.toLowerCase(), key: 'demand' })?.lockedBy).toBeUndefined();
    // Looked again within the hour: still frozen, told once.
    await at(t, 60);
    expect(world.freezeChecks).toHaveLength(2);
    expect((await status(t, id)).timeline.filter((e) => e.phase === 'frozen')).toHaveLength(1);

    world.requestedFreeze = undefined;
    await t.engine.raiseEvent(id, 'freeze-lifted', {
      by: 'bob',
      reason: 'sale over',
      at: new Date(clock).toISOString(),
    });
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result.outcome).toBe('promoted');
    const notes = result.timeline!.map((e) => e.note);
    expect(notes).toContain('the freeze was lifted by bob: sale over; looking again');
    expect(notes).toContain('the release freeze is over: releasing');
    expect(notes.indexOf('the release freeze is over: releasing')).toBeLessThan(
      notes.findIndex((n) => n.startsWith('traffic →') || n.startsWith('step 1/')),
    );
    expect(world.traffic).toEqual({ blue: 0, green: 100 });
    const recorded = (await t.engine.exportHistory(id))!;
    const replay = await replayHistory(new World().register(new Registry()).handler('promoteModel'), recorded);
    expect(checkDeterminism(recorded, replay)).toMatchObject({ ok: true, pending: 0 });
  });

  it('waits out a policy window on a durable timer and releases when it ends', async () => {
    const world = new World();
    const promotion = input('2');
    const window = {
      from: new Date(t0 - minute).toISOString(),
      until: new Date(t0 + 90 * minute).toISOString(),
      reason: 'quarter close',
    };
    promotion.policy = parsePolicies({ policies: [{ ...policyInput, freezes: [window] }] }).demand!;
    const { t, id } = await approved(world, promotion);
    expect((await status(t, id)).timeline.at(-1)!.note).toBe(
      `releases of this model are frozen by the policy (freezes[0]) until ${window.until}: quarter close; the release waits`,
    );
    await at(t, 60);
    await at(t, 89);
    expect((await status(t, id)).phase).toBe('frozen');
    expect(world.trafficChanges).toEqual([]);
    await at(t, 90);
    const result = (await t.engine.waitForCompletion(id)).output as PromotionResult;
    expect(result.outcome).toBe('promoted');
    expect(world.freezeChecks.map((c) => c.at)).toEqual([
      new Date(t0).toISOString(),
      new Date(t0 + 60 * minute).toISOString(),
      window.until,
    ]);
  });

  it('an instance of flow version 9 releases without looking for a freeze', async () => {
    const world = new World();
    world.requestedFreeze = {
      by: 'ana',
      authenticated: false,
      identity: 'request',
      reason: 'x',
      at: '2030-01-01T00:00:00Z',
    };
    const { t, id } = await approved(world, input('2'), { ...hostVersioning, defaultVersion: '9' });
    expect(((await t.engine.waitForCompletion(id)).output as PromotionResult).outcome).toBe('promoted');
    expect(world.freezeChecks).toEqual([]);
  });
});

describe('promoteModel golden history', () => {
  const file = join(__dirname, 'golden', 'promote-model.json');

  async function record(): Promise<HistoryExport> {
    const world = new World();
    const { t, id } = await start(world);
    await phase(t, id);
    await t.engine.raiseEvent(id, 'decision', decision('approve', {}, id));
    await t.engine.waitForCompletion(id);
    return (await t.engine.exportHistory(id))!;
  }

  it('replays the recorded history to the same result and actions', async () => {
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file))
      writeFileSync(file, JSON.stringify(await record(), null, 2) + '\n');
    const golden = JSON.parse(readFileSync(file, 'utf8')) as HistoryExport;
    const registry = new World().register(new Registry());
    const replay = await replayHistory(registry.handler('promoteModel'), golden);
    expect(replay.failed).toBe(false);
    expect((replay.output as PromotionResult).outcome).toBe('promoted');
    expect(checkDeterminism(golden, replay)).toMatchObject({ ok: true, pending: 0 });
  });

  it('replays a history recorded before flows were versioned (no version: 0) on the current code', async () => {
    // Frozen: recorded before versioning existed, and never re-recorded.
    const file = join(__dirname, 'golden', 'promote-model.v0.json');
    const recorded = JSON.parse(readFileSync(file, 'utf8')) as HistoryExport;
    expect(recorded.history.find((e) => e.EventType === H.ExecutionStarted)?.Version).toBeUndefined();
    const registry = new World().register(new Registry());
    const replay = await replayHistory(registry.handler('promoteModel'), recorded);
    expect((replay.output as PromotionResult).outcome).toBe('promoted');
    expect(checkDeterminism(recorded, replay)).toMatchObject({ ok: true, pending: 0 });
    // Recorded while the approval links were still in the activity's output: the status now keeps only the expiry.
    expect(JSON.stringify(recorded)).toContain('approveUrl');
    expect((replay.customStatus as PromotionStatus).approval).toEqual({ expiresAt: expect.any(String) });
  });

  // Frozen, one per flow version that changed what a promotion yields: instances started on it must still replay.
  it.each([
    ['3', 'approval asked after the lock, no look for a newer winner'],
    ['4', 'decision events taken without a seal'],
    ['5', 'all traffic steps at once, no bake, no controls'],
    ['6', 'no reminder, no publishLifecycle at the end'],
    ['7', 'no rollback window'],
    ['8', 'a baked step passes unjudged'],
    ['9', 'no look for a release freeze'],
    ['10', 'the newer-winner check and the endpoint read one after the other'],
  ])('replays a flow version %s history (%s) unchanged', async (version) => {
    const file = join(__dirname, 'golden', `promote-model.v${version}.json`);
    const recorded = JSON.parse(readFileSync(file, 'utf8')) as HistoryExport;
    expect(recorded.history.find((e) => e.EventType === H.ExecutionStarted)?.Version).toBe(version);
    const registry = new World().register(new Registry());
    const replay = await replayHistory(registry.handler('promoteModel'), recorded);
    expect((replay.output as PromotionResult).outcome).toBe('promoted');
    expect(checkDeterminism(recorded, replay)).toMatchObject({ ok: true, pending: 0 });
  });

  it('finishes a promotion started before the upgrade to the versioned host.json on the new worker', async () => {
    const dir = tempDir();
    try {
      const world = new World();
      const before = startEngine(world.register(new Registry()), { file: dir.file('d.db') });
      await before.engine.startNew('promoteModel', { instanceId: 'promote:demand:1', input: input('1') });
      expect(await phase(before, 'promote:demand:1')).toBe('awaiting-approval');
      await before.close();

      const hostJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'host.json'), 'utf8'));
      current = startEngine(world.register(new Registry()), {
        file: dir.file('d.db'),
        versioning: versioningFromHostJson(hostJson.extensions.durableTask),
      });
      await current.engine.raiseEvent('promote:demand:1', 'decision', decision('approve'));
      const status = await current.engine.waitForCompletion('promote:demand:1');
      expect(status.output).toMatchObject({ outcome: 'promoted' });
      await current.engine.startNew('promoteModel', { instanceId: 'promote:demand:2', input: input('2') });
      expect(await phase(current, 'promote:demand:2')).toBe('awaiting-approval');
      const started = (await current.engine.exportHistory('promote:demand:2'))!.history[1];
      expect(started).toMatchObject({ EventType: H.ExecutionStarted, Version: String(FLOW_VERSION) });
    } finally {
      await current?.close();
      current = undefined;
      dir.remove();
    }
  });

  it('reports a tampered history as nondeterministic', async () => {
    const golden = JSON.parse(readFileSync(file, 'utf8')) as HistoryExport;
    const tampered = structuredClone(golden);
    const target = tampered.history.find((e) => e.EventType === H.TaskScheduled && e.Name === 'evaluateChallenger')!;
    target.Name = 'skipEvaluation';
    const registry = new World().register(new Registry());
    const report = checkDeterminism(tampered, await replayHistory(registry.handler('promoteModel'), tampered));
    expect(report.ok).toBe(false);
    expect(report.message).toContain("named 'skipEvaluation'");
    expect(report.message).toContain("named 'evaluateChallenger'");
  });
});
