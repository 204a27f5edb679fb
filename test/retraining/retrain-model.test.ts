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
    for (const [name, fn] of Object.entries(handlers)) {
      registry.activity(name, (input) => {
        this.calls.push({ name, input });
        return (fn as (i: unknown) => unknown)(input);
      });
    }
    return registry.orchestration(RETRAIN_MODEL_ORCHESTRATION, retrainModel);
  }

  called(name: TrainingActivity): { name: string; input: unknown }[] {
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

async function run(world: World, id = 'retrain:demand:1'): Promise<RetrainingResult> {
  current ??= startEngine(world.register(new Registry()));
  await current.engine.startNew(RETRAIN_MODEL_ORCHESTRATION, { instanceId: id, input });
  return (await current.engine.waitForCompletion(id)).output as RetrainingResult;
}

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
