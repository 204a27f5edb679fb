/**
 * retrainModel replayed through the real durable-functions SDK on the embedded engine, with its activities
 * replaced by an in-memory workspace: registration and lineage, data checks that stop before compute, failed and
 * timed-out jobs that change nothing, backoff that honours Retry-After, and a job submitted once per run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HistoryEventType as H } from '../../local/runtime/durable/types';
import type {
  Activities,
  ActivityName,
  RetrainingInput,
  RetrainingResult,
  RetrainingStatus,
  TrainingJobCheck,
} from '../../orchestrations/contract';
import { RETRAIN_MODEL_ORCHESTRATION, retrainModel } from '../../orchestrations/retrain-model';
import { Registry, startEngine, type TestEngine } from '../durable/helpers';

type TrainingActivity = Extract<
  ActivityName,
  | 'readTrainingSpec'
  | 'ensureEnvironment'
  | 'checkTrainingData'
  | 'submitTrainingJob'
  | 'checkTrainingJob'
  | 'cancelTrainingJob'
  | 'registerTrainedModel'
>;

/** An in-memory workspace behind the training activities. */
class World {
  environments = new Set<string>();
  dataOk = true;
  /** What each check of the job answers, in order; the last one repeats. */
  checks: TrainingJobCheck[] = [
    { state: 'Running', status: 'Running' },
    {
      state: 'Completed',
      status: 'Completed',
      metrics: { 'metrics.rmse': '0.5', 'metrics.mae': '0.4' },
      modelUri: 'azureml://jobs/j/outputs/model',
      logExcerpt: ['status: Completed'],
      properties: {},
    },
  ];
  deadlineSeconds = 30;
  jobs = new Map<string, { submissions: number; canceled: boolean }>();
  versions: { version: string; job: string; tags: Record<string, string> }[] = [];
  tagWrites = 0;
  calls: { name: string; input: unknown }[] = [];
  approvalRequests: Activities['requestApproval']['input'][] = [];

  register(registry: Registry): Registry {
    let checkIndex = 0;
    const handlers: { [K in TrainingActivity]: (input: Activities[K]['input']) => Activities[K]['output'] } = {
      readTrainingSpec: () => ({
        ok: true,
        polling: { initialSeconds: 0.02, factor: 2, maxSeconds: 0.05 },
        deadlineSeconds: this.deadlineSeconds,
      }),
      ensureEnvironment: () => {
        const created = !this.environments.has('champion-train:abc');
        this.environments.add('champion-train:abc');
        return {
          ok: true,
          name: 'champion-train',
          version: 'abc',
          id: '/environments/champion-train/versions/abc',
          created,
        };
      },
      checkTrainingData: () =>
        this.dataOk
          ? { ok: true, dataVersion: '3', report: 'Data checks PASSED' }
          : {
              ok: false,
              dataVersion: '3',
              report: 'Data checks FAILED: 1 of 2 passed',
              failed: ['missing [x1]: 12% missing (allowed 1%)'],
            },
      submitTrainingJob: (i) => {
        const job = this.jobs.get(i.jobName);
        if (job) return { ok: true, jobName: i.jobName, submitted: false, status: 'Running' };
        this.jobs.set(i.jobName, { submissions: 1, canceled: false });
        return { ok: true, jobName: i.jobName, submitted: true, status: 'NotStarted' };
      },
      checkTrainingJob: () => {
        const answer = this.checks[Math.min(checkIndex, this.checks.length - 1)]!;
        checkIndex++;
        return answer;
      },
      cancelTrainingJob: (i) => {
        const job = this.jobs.get(i.jobName);
        if (job) job.canceled = true;
        return { canceled: true, status: 'CancelRequested' };
      },
      registerTrainedModel: (i) => {
        const mine = this.versions.find((v) => v.job === i.jobName);
        if (mine) return { version: mine.version, created: false };
        const version = String(this.versions.length + 1);
        this.versions.push({ version, job: i.jobName, tags: { 'champion.retraining': i.runId } });
        this.tagWrites++;
        return { version, created: true };
      },
    };
    const gate = {
      requestApproval: (i: Activities['requestApproval']['input']) => {
        this.approvalRequests.push(i);
        return { expiresAt: i.expiresAt };
      },
      // The app's decision routes seal what they send (lib/approval.ts); here a seal is whatever the test says.
      verifyDecision: (i: Activities['verifyDecision']['input']) => ({ sealed: i.seal === 'sealed' }),
    };
    for (const [name, fn] of Object.entries({ ...handlers, ...gate })) {
      registry.activity(name, (input) => {
        this.calls.push({ name, input });
        return (fn as (i: unknown) => unknown)(input);
      });
    }
    return registry.orchestration(RETRAIN_MODEL_ORCHESTRATION, retrainModel);
  }

  called(name: TrainingActivity | 'requestApproval' | 'verifyDecision'): { name: string; input: unknown }[] {
    return this.calls.filter((c) => c.name === name);
  }
}

const input: RetrainingInput = {
  modelName: 'demand',
  retraining: { jobSpec: 'jobs/train-demand.json', trainingDataAsset: { name: 'demand-train' } },
  trigger: { source: 'drift-v2', reason: 'v2 drift breach', triggerId: 'retrain-signal:demand:drift-v2:run-1' },
};

let current: TestEngine | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

async function run(world: World, id = 'retrain:demand:1', given: RetrainingInput = input): Promise<RetrainingResult> {
  current ??= startEngine(world.register(new Registry()));
  await current.engine.startNew(RETRAIN_MODEL_ORCHESTRATION, { instanceId: id, input: given });
  return (await current.engine.waitForCompletion(id)).output as RetrainingResult;
}

describe('retrainModel with a gate before registration', () => {
  const gated = (approval: Partial<NonNullable<RetrainingInput['retraining']['approval']>> = {}): RetrainingInput => ({
    ...input,
    retraining: {
      ...input.retraining,
      approval: { required: true, timeout: 'PT1H', timeoutMs: 3_600_000, onTimeout: 'reject', ...approval },
    },
  });
  const decision = (d: 'approve' | 'reject', approver: string, seal = 'sealed') => ({
    id: `${d}-${approver}`,
    decision: d,
    approver,
    via: 'api',
    at: '2026-01-01T00:00:00Z',
    comment: d === 'reject' ? 'metrics look off' : undefined,
    seal,
  });
  /** Starts a gated run and waits until it asks for approval. */
  async function awaitingApproval(world: World, given: RetrainingInput, id = 'retrain:demand:1'): Promise<string> {
    current ??= startEngine(world.register(new Registry()));
    await current.engine.startNew(RETRAIN_MODEL_ORCHESTRATION, { instanceId: id, input: given });
    for (let i = 0; i < 500; i++) {
      const status = (await current.engine.getStatus(id))?.customStatus as RetrainingStatus | undefined;
      if (status?.phase === 'awaiting-approval') return id;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`${id} never asked for approval`);
  }
  const finish = async (id: string) => (await current!.engine.waitForCompletion(id)).output as RetrainingResult;

  it('a rejected pre-registration approval registers nothing and records the job output and the decision', async () => {
    const world = new World();
    const id = await awaitingApproval(world, gated({ approvers: ['ana@contoso.com'] }));
    expect(world.approvalRequests).toEqual([
      expect.objectContaining({
        promotionId: id,
        modelName: 'demand',
        approvers: ['ana@contoso.com'],
        beforeRegistration: true,
        evidenceSummary: expect.stringContaining('rmse=0.5'),
      }),
    ]);
    // What the approver decides on is in the run's status, for its page.
    expect(((await current!.engine.getStatus(id))?.customStatus as RetrainingStatus).metrics).toEqual({
      rmse: '0.5',
      mae: '0.4',
    });
    await current!.engine.raiseEvent(id, 'decision', decision('reject', 'ana@contoso.com'));
    const result = await finish(id);
    expect(result).toMatchObject({
      outcome: 'rejected',
      decision: { decision: 'reject', approver: 'ana@contoso.com', comment: 'metrics look off' },
      unregisteredModelUri: 'azureml://jobs/j/outputs/model',
      job: { status: 'Completed', metrics: { 'metrics.rmse': '0.5' } },
    });
    expect(result.reason).toMatch(
      /^rejected by ana@contoso.com: metrics look off; retrain-demand-1-\w+'s model was not registered$/,
    );
    expect(result.modelVersion).toBeUndefined();
    expect(world.called('registerTrainedModel')).toEqual([]);
    expect(world.versions).toEqual([]);
  });

  it('ignores decisions that are unsealed or from someone the policy does not list, then registers once approved', async () => {
    const world = new World();
    const id = await awaitingApproval(world, gated({ approvers: ['ana@contoso.com'] }));
    await current!.engine.raiseEvent(id, 'decision', decision('approve', 'ana@contoso.com', 'forged'));
    await current!.engine.raiseEvent(id, 'decision', decision('approve', 'mallory@contoso.com'));
    await current!.engine.raiseEvent(id, 'decision', decision('approve', 'ana@contoso.com'));
    const result = await finish(id);
    expect(result).toMatchObject({
      outcome: 'registered',
      modelVersion: '1',
      decision: { approver: 'ana@contoso.com' },
    });
    expect(world.called('registerTrainedModel')).toHaveLength(1);
    const notes = ((await current!.engine.getStatus(id))?.customStatus as RetrainingStatus).timeline.map((e) => e.note);
    expect(notes).toContainEqual(
      expect.stringContaining("ignored a decision event: seal: not sent through Champion's"),
    );
    expect(notes).toContainEqual('ignored a decision event: approver: not an approver for this model');
  });

  it('timed out, the policy rejects and nothing is registered', async () => {
    const world = new World();
    const result = await run(world, 'retrain:demand:1', gated({ timeoutMs: 50 }));
    expect(result.outcome).toBe('approval-timed-out');
    expect(result.decision).toMatchObject({ decision: 'reject', approver: 'policy:onTimeout' });
    expect(world.called('registerTrainedModel')).toEqual([]);
  });

  it('without a gate in its input a run asks nobody (as runs started before the gate existed)', async () => {
    const world = new World();
    expect((await run(world)).outcome).toBe('registered');
    expect(world.called('requestApproval')).toEqual([]);
  });
});

describe('retrainModel', () => {
  it('trains, registers the version with its lineage and links the promotion it starts', async () => {
    const world = new World();
    const result = await run(world);
    expect(result).toMatchObject({
      outcome: 'registered',
      runId: 'retrain:demand:1',
      modelVersion: '1',
      promotionId: 'promote:demand:1',
      environment: { name: 'champion-train', version: 'abc', created: true },
      dataCheck: { ok: true, dataVersion: '3' },
      job: { status: 'Completed', submitted: true, metrics: { 'metrics.rmse': '0.5' } },
    });
    const [submit] = world.called('submitTrainingJob');
    expect(submit?.input).toMatchObject({
      jobName: result.job!.name,
      environmentId: '/environments/champion-train/versions/abc',
      dataAsset: { name: 'demand-train', version: '3' },
      tags: { 'champion.model': 'demand', 'champion.retraining': 'retrain:demand:1', 'champion.trigger': 'drift-v2' },
    });
    expect(result.job!.name).toMatch(/^retrain-demand-1-[0-9a-f]{8}$/);
    const [registration] = world.called('registerTrainedModel');
    expect(registration?.input).toMatchObject({
      modelName: 'demand',
      jobName: result.job!.name,
      evaluationDataVersion: 'demand-train:3',
      metrics: { 'metrics.rmse': '0.5', 'metrics.mae': '0.4' },
      trigger: input.trigger,
    });
    // Each step in order, and the environment check before anything else.
    expect(world.calls.map((c) => c.name).filter((n, i, all) => all.indexOf(n) === i)).toEqual([
      'readTrainingSpec',
      'ensureEnvironment',
      'checkTrainingData',
      'submitTrainingJob',
      'checkTrainingJob',
      'registerTrainedModel',
    ]);
  });

  it('creates the environment once and reuses it on the next run', async () => {
    const world = new World();
    expect((await run(world, 'retrain:demand:1')).environment?.created).toBe(true);
    expect((await run(world, 'retrain:demand:2')).environment?.created).toBe(false);
    expect(world.versions.map((v) => v.version)).toEqual(['1', '2']);
  });

  it('stops at a data check failure with the report, before any job is submitted', async () => {
    const world = new World();
    world.dataOk = false;
    const result = await run(world);
    expect(result.outcome).toBe('data-check-failed');
    expect(result.reason).toContain('missing [x1]: 12% missing');
    expect(result.dataCheck).toMatchObject({ ok: false, report: expect.stringContaining('Data checks FAILED') });
    expect(world.called('submitTrainingJob')).toEqual([]);
    expect(world.jobs.size).toBe(0);
    expect(world.tagWrites).toBe(0);
  });

  it('ends a failed job with its reason and registers nothing', async () => {
    const world = new World();
    world.checks = [
      { state: 'Running', status: 'Running' },
      {
        state: 'Failed',
        status: 'Failed',
        code: 'UserError',
        message: "Column 'y' was not found",
        logExcerpt: ['status: Failed', "error.message: Column 'y' was not found"],
      },
    ];
    const result = await run(world);
    expect(result.outcome).toBe('job-failed');
    expect(result.reason).toMatch(/ended Failed: UserError: Column 'y' was not found/);
    expect(result.job).toMatchObject({ status: 'Failed', logExcerpt: expect.arrayContaining(['status: Failed']) });
    expect(world.called('registerTrainedModel')).toEqual([]);
    expect(world.tagWrites).toBe(0);
    expect(result.modelVersion).toBeUndefined();
  });

  it("keeps its status within Durable's limit when Azure's error message is long; the result keeps it whole", async () => {
    const world = new World();
    const trace = 'Traceback: '.padEnd(40_000, 'x');
    world.checks = [{ state: 'Failed', status: 'Failed', code: 'SystemError', message: trace, logExcerpt: [] }];
    const result = await run(world);
    expect(result.reason).toContain(trace);
    const status = (await current!.engine.getStatus('retrain:demand:1'))!.customStatus as RetrainingStatus;
    expect(status.timeline.at(-1)?.note).toMatch(/^job-failed: .*…$/);
    expect(JSON.stringify(status).length * 2).toBeLessThanOrEqual(16 * 1024);
  });

  it('cancels a job still running at the deadline and registers nothing', async () => {
    const world = new World();
    world.deadlineSeconds = 0.15;
    world.checks = [{ state: 'Running', status: 'Running' }];
    const result = await run(world);
    expect(result.outcome).toBe('timed-out');
    expect(result.reason).toMatch(/still Running at the deadline.*cancelled/);
    expect(world.called('cancelTrainingJob')).toHaveLength(1);
    expect([...world.jobs.values()]).toEqual([{ submissions: 1, canceled: true }]);
    expect(world.called('registerTrainedModel')).toEqual([]);
    expect(world.tagWrites).toBe(0);
  });

  it('backs off between checks and honours a Retry-After longer than the backoff', async () => {
    const world = new World();
    world.checks = [
      { state: 'Running', status: 'Queued' },
      { state: 'Running', status: 'Throttled', retryAfterSeconds: 0.4 },
      { state: 'Running', status: 'Running' },
      ...world.checks.slice(1),
    ];
    const result = await run(world);
    expect(result.outcome).toBe('registered');
    const history = (await current!.engine.exportHistory('retrain:demand:1'))!.history;
    const waits: number[] = [];
    let startedAt = 0;
    for (const e of history) {
      if (e.EventType === H.OrchestratorStarted) startedAt = new Date(e.Timestamp).getTime();
      if (e.EventType === H.TimerCreated) waits.push((new Date(e.FireAt!).getTime() - startedAt) / 1000);
    }
    // initial 0.02 s → doubled 0.04 s → Retry-After 0.4 s → backoff capped at 0.05 s, as recorded in the history.
    expect(waits.map((w) => Math.round(w * 100) / 100)).toEqual([0.02, 0.04, 0.4, 0.05]);
  });
});
