/**
 * The training activities over the production adapters (official SDK, Blob reader and uploader) against the local
 * workspace: the environment is created once at the hash of its definition and reused, the job's code is uploaded
 * and registered once per content hash, data checks read the real asset and its reference, a job is submitted once
 * under its name with its code asset, and registration records metrics and lineage.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTrainingActivities,
  environmentVersionOf,
  modelFilesLocation,
  readCodeFolder,
  repoRoot,
  type ActivityDeps,
} from '../../lib/activities';
import { codeSnapshotHash } from '../../lib/domain/code-snapshot';
import { BlobModelFiles, DatastoreContainers } from '../../lib/azure/blob-datastore';
import { BlobDataReader } from '../../lib/azure/data-reader';
import type { LocalWorkspace } from '../../local/workspace/index';
import type { TrainingJobCheck } from '../../orchestrations/contract';
import {
  codeStore,
  dataReader,
  mlWorkspace,
  removeTempDirs,
  rest,
  sdk,
  start,
  tempDir,
  waitFor,
} from '../workspace/helpers';

describe('training activities against the local workspace', () => {
  let ws: LocalWorkspace;
  let reader: BlobDataReader;
  let activities: ReturnType<typeof createTrainingActivities>;
  let repo: string;

  const trigger = { source: 'manual' as const, reason: 'new labels', triggerId: 'retrain-signal:demand:manual:1' };

  beforeAll(async () => {
    // Jobs run long enough for a cancel sent right after submission to find them running.
    ws = await start({ jobMs: 600 });
    const workspace = mlWorkspace(ws);
    reader = dataReader(ws);
    // A copy of the repo's job spec and environment, plus a spec whose command cannot train.
    repo = tempDir();
    mkdirSync(path.join(repo, 'jobs'));
    mkdirSync(path.join(repo, 'environments'));
    const spec = JSON.parse(readFileSync(path.join(repoRoot(), 'jobs/train-demand.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    writeFileSync(path.join(repo, 'jobs/train-demand.json'), JSON.stringify(spec));
    writeFileSync(
      path.join(repo, 'jobs/broken.json'),
      JSON.stringify({ ...spec, command: spec.command!.toString().replace('--target y', '--target missing') }),
    );
    writeFileSync(path.join(repo, 'jobs/no-compute.json'), JSON.stringify({ ...spec, compute: 'gpu-cluster' }));
    cpSync(path.join(repoRoot(), 'jobs/code'), path.join(repo, 'jobs/code'), { recursive: true });
    writeFileSync(
      path.join(repo, 'jobs/other-script.json'),
      JSON.stringify({ ...spec, command: spec.command!.toString().replace('train.py', 'fit.py') }),
    );
    writeFileSync(path.join(repo, 'jobs/no-code.json'), JSON.stringify({ ...spec, code: undefined }));
    writeFileSync(
      path.join(repo, 'environments/train.json'),
      readFileSync(path.join(repoRoot(), 'environments/train.json')),
    );
    const deps = {
      workspace,
      data: reader,
      code: codeStore(ws),
      telemetry: { event: () => {}, exception: () => {} },
      gitSha: 'abc1234',
      gitRepository: 'local',
      repoDir: repo,
    } as unknown as ActivityDeps & { repoDir: string };
    activities = createTrainingActivities(deps);
    await ws.generateData({ name: 'demand-eval', version: '1', rows: 400, seed: 1000 });
  });
  afterAll(async () => {
    await ws.close();
    removeTempDirs();
  });

  it('finds the repo with its job specs and environment definitions', () => {
    expect(readFileSync(path.join(repoRoot(), 'jobs/train-demand.json'), 'utf8')).toContain('environments/train.json');
  });

  it('reads the job spec: polling and deadline', async () => {
    expect(await activities.readTrainingSpec({ jobSpec: 'jobs/train-demand.json' })).toEqual({
      ok: true,
      polling: { initialSeconds: 2, factor: 2, maxSeconds: 120 },
      deadlineSeconds: 7200,
    });
    expect(await activities.readTrainingSpec({ jobSpec: 'jobs/nope.json' })).toMatchObject({
      ok: false,
      message: /jobs\/nope.json: cannot read/,
    });
  });

  it('creates the environment once, at the hash of its definition file, and reuses it', async () => {
    const content = readFileSync(path.join(repo, 'environments/train.json'));
    const version = createHash('sha256').update(content).digest('hex').slice(0, 16);
    expect(environmentVersionOf(content)).toBe(version);
    const first = await activities.ensureEnvironment({ jobSpec: 'jobs/train-demand.json' });
    expect(first).toMatchObject({ ok: true, name: 'champion-train', version, created: true });
    const second = await activities.ensureEnvironment({ jobSpec: 'jobs/train-demand.json' });
    expect(second).toMatchObject({ ok: true, version, created: false });
    expect(ws.requestLog({ method: 'PUT', path: /\/environments\/champion-train\/versions\// })).toHaveLength(1);
    const env = await sdk(ws).environmentVersions.get(ws.resourceGroup, ws.workspaceName, 'champion-train', version);
    expect(env.properties.image).toMatch(/openmpi/);
    expect(env.properties.tags).toMatchObject({ 'git.commit': 'abc1234' });

    // A changed definition is a new version; the old one stays.
    writeFileSync(path.join(repo, 'environments/train.json'), content.toString().replace('Python 3.11', 'Python 3.12'));
    const changed = await activities.ensureEnvironment({ jobSpec: 'jobs/train-demand.json' });
    expect(changed).toMatchObject({ ok: true, created: true });
    expect(changed.ok && changed.version).not.toBe(version);
    writeFileSync(path.join(repo, 'environments/train.json'), content);
  });

  it('passes clean data (latest version) and fails missing values, out-of-range values and a far shift', async () => {
    await ws.generateData({ name: 'demand-train', version: '1', rows: 500, seed: 5 });
    await ws.generateData({ name: 'demand-train', version: '2', rows: 500, seed: 6, drift: 1 });
    const ok = await activities.checkTrainingData({
      jobSpec: 'jobs/train-demand.json',
      dataAsset: { name: 'demand-train' },
    });
    expect(ok).toMatchObject({ ok: true, dataVersion: '2' });
    expect(ok.report).toContain('Data checks PASSED');

    const rows = ws.sampleRows({ rows: 300, seed: 7 }).rows.map((r, i) => {
      const row: (number | string)[] = [...r];
      if (i % 10 === 0) row[0] = '';
      if (i === 1) row[1] = 1e6;
      return row;
    });
    await ws.uploadData({
      name: 'demand-train',
      version: '3',
      table: { columns: ['x1', 'x2', 'x3', 'x4', 'y'], rows },
    });
    const bad = await activities.checkTrainingData({
      jobSpec: 'jobs/train-demand.json',
      dataAsset: { name: 'demand-train', version: '3' },
    });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.failed).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^missing \[x1\]: 10% missing/),
        expect.stringMatching(/^range \[x2\]/),
      ]),
    );
    expect(bad.report).toMatch(/Data checks FAILED/);

    await ws.generateData({ name: 'demand-train', version: '4', rows: 500, seed: 8, drift: 5 });
    const shifted = await activities.checkTrainingData({
      jobSpec: 'jobs/train-demand.json',
      dataAsset: { name: 'demand-train', version: '4' },
    });
    expect(shifted.ok).toBe(false);
    expect(!shifted.ok && shifted.failed.some((f) => f.startsWith('psi [x1]'))).toBe(true);

    expect(
      await activities.checkTrainingData({ jobSpec: 'jobs/train-demand.json', dataAsset: { name: 'no-such-data' } }),
    ).toMatchObject({ ok: false, failed: ['data asset no-such-data has no versions'] });
  });

  async function awaitJob(jobName: string): Promise<TrainingJobCheck> {
    return waitFor(async () => {
      const check = await activities.checkTrainingJob({ jobName });
      return check.state === 'Running' ? undefined : check;
    }, `${jobName} to finish`);
  }

  it('submits a job once under its name, then registers its model with metrics and lineage, once', async () => {
    const env = await activities.ensureEnvironment({ jobSpec: 'jobs/train-demand.json' });
    if (!env.ok) throw new Error(env.message);
    const submit = () =>
      activities.submitTrainingJob({
        jobName: 'retrain-demand-1-abcdef12',
        jobSpec: 'jobs/train-demand.json',
        environmentId: env.id,
        dataAsset: { name: 'demand-train', version: '1' },
        tags: { 'champion.retraining': 'retrain:demand:1' },
      });
    expect(await submit()).toMatchObject({ ok: true, submitted: true });
    expect(await submit()).toMatchObject({ ok: true, submitted: false });
    expect(ws.requestLog({ method: 'PUT', path: /\/jobs\/retrain-demand-1-abcdef12$/ })).toHaveLength(1);
    // As Azure runs it: the code as a code version, the data typed as its asset, the compute by ARM id, the model
    // output declared.
    const raw = rest(ws);
    const sent = await raw.arm('GET', '/jobs/retrain-demand-1-abcdef12');
    raw.close();
    const codeVersion = codeSnapshotHash(readCodeFolder('jobs/code', repo));
    expect(sent.body.properties).toMatchObject({
      codeId: `${raw.workspacePath}/codes/champion-jobs-code/versions/${codeVersion}`,
      computeId: `${raw.workspacePath}/computes/cpu-cluster`,
      inputs: {
        training_data: {
          jobInputType: 'uri_file',
          uri: `${raw.workspacePath}/data/demand-train/versions/1`,
          mode: 'ReadOnlyMount',
        },
      },
      // At a datastore path of the job's own, so its files can be copied to another environment's workspace.
      outputs: {
        model: {
          jobOutputType: 'mlflow_model',
          mode: 'ReadWriteMount',
          uri: 'azureml://datastores/workspaceblobstore/paths/azureml/retrain-demand-1-abcdef12/model/',
        },
      },
    });

    const done = await awaitJob('retrain-demand-1-abcdef12');
    expect(done.state).toBe('Completed');
    if (done.state !== 'Completed') return;
    // The metrics come from the run's MLflow tracking store: the job resource carries none.
    expect(Object.keys(done.metrics).sort()).toEqual(['metrics.mae', 'metrics.r2', 'metrics.rmse']);
    expect(Object.keys(done.properties).filter((k) => k.startsWith('metrics.'))).toEqual([]);
    expect(done.logExcerpt).toEqual(
      expect.arrayContaining([
        'status: Completed',
        expect.stringMatching(/^training\.data: \/subscriptions\/.+\/data\/demand-train\/versions\/1$/),
      ]),
    );

    const register = () =>
      activities.registerTrainedModel({
        modelName: 'demand',
        jobName: 'retrain-demand-1-abcdef12',
        modelUri: done.modelUri,
        metrics: done.metrics,
        evaluationDataVersion: 'demand-train:1',
        runId: 'retrain:demand:1',
        trigger,
        environmentId: env.id,
      });
    expect(await register()).toEqual({ version: '1', created: true });
    expect(await register()).toEqual({ version: '1', created: false });
    const model = await sdk(ws).modelVersions.get(ws.resourceGroup, ws.workspaceName, 'demand', '1');
    expect(model.properties.tags).toMatchObject({
      'champion.retraining': 'retrain:demand:1',
      'training.job': 'retrain-demand-1-abcdef12',
      'retrain.trigger': 'manual',
      'retrain.reason': 'new labels',
      'git.commit': 'abc1234',
    });
    expect(model.properties.tags?.stage).toBeUndefined();
    // The job wrote an MLflow model: registered as one, it deploys without a scoring script.
    expect(model.properties.modelType).toBe('mlflow_model');
    const props = model.properties.properties ?? {};
    expect(props).toMatchObject({
      evaluation_data_version: 'demand-train:1',
      'training.job': 'retrain-demand-1-abcdef12',
    });
    expect(Number(props.mse)).toBeCloseTo(Number(props.rmse) ** 2, 10);
    expect(Number(props.mae)).toBeGreaterThan(0);
    // The registered model's files are found through its job at that datastore path, and read with the storage SDK.
    const location = await modelFilesLocation(mlWorkspace(ws), {
      name: 'demand',
      version: '1',
      modelUri: done.modelUri,
    });
    expect(location).toEqual({
      ok: true,
      uri: 'azureml://datastores/workspaceblobstore/paths/azureml/retrain-demand-1-abcdef12/model/',
    });
    const files = await new BlobModelFiles(
      new DatastoreContainers(sdk(ws), ws.credential(), ws.resourceGroup, ws.workspaceName, {
        blobServiceUrl: ws.blobServiceUrl,
        caCert: ws.caCert,
      }),
    ).read(location.ok ? location.uri : '');
    expect(files.map((f) => f.path).sort()).toEqual(expect.arrayContaining(['MLmodel']));
  });

  it('uploads the job code once per content hash to the default datastore and registers it as a code version', async () => {
    const env = await activities.ensureEnvironment({ jobSpec: 'jobs/train-demand.json' });
    if (!env.ok) throw new Error(env.message);
    const submit = (jobName: string, jobSpec = 'jobs/train-demand.json') =>
      activities.submitTrainingJob({
        jobName,
        jobSpec,
        environmentId: env.id,
        dataAsset: { name: 'demand-train', version: '1' },
        tags: {},
      });
    const version = codeSnapshotHash(readCodeFolder('jobs/code', repo));
    expect(await submit('retrain-demand-5-code0000')).toMatchObject({ ok: true, submitted: true });
    const uploads = () => ws.requestLog({ method: 'PUT', path: /\/codes\/champion-jobs-code\/versions\// });
    const registered = uploads().length;
    expect(registered).toBeGreaterThanOrEqual(1);
    expect(await submit('retrain-demand-6-code0000')).toMatchObject({ ok: true, submitted: true });
    // The second job found the version (a GET), so nothing was uploaded or registered again.
    expect(uploads()).toHaveLength(registered);

    const code = await sdk(ws).codeVersions.get(ws.resourceGroup, ws.workspaceName, 'champion-jobs-code', version);
    const folder = `LocalUpload/${version}/code`;
    expect(code.properties.codeUri).toBe(
      `${ws.blobServiceUrl.replace('{account}', 'devstoreaccount1')}/${ws.datastoreContainer}/${folder}`,
    );
    expect(code.properties.properties).toEqual({ hash_sha256: version, hash_version: '202208' });
    const blobs: string[] = [];
    for await (const blob of ws.storage.container(ws.datastoreContainer).listBlobsFlat({ prefix: `${folder}/` })) {
      blobs.push(blob.name);
    }
    expect(blobs).toEqual(
      readCodeFolder('jobs/code', repo)
        .map((f) => `${folder}/${f.path}`)
        .sort(),
    );
    const uploaded = await ws.storage
      .container(ws.datastoreContainer)
      .getBlobClient(`${folder}/train.py`)
      .downloadToBuffer();
    expect(uploaded.equals(readFileSync(path.join(repoRoot(), 'jobs/code/train.py')))).toBe(true);

    // A changed file is a new version, uploaded to its own folder; the old one stays.
    writeFileSync(path.join(repo, 'jobs/code/helpers.py'), 'SEED = 42\n');
    try {
      const changed = codeSnapshotHash(readCodeFolder('jobs/code', repo));
      expect(changed).not.toBe(version);
      expect(await submit('retrain-demand-7-code0000')).toMatchObject({ ok: true, submitted: true });
      const again = await sdk(ws).codeVersions.get(ws.resourceGroup, ws.workspaceName, 'champion-jobs-code', changed);
      expect(again.properties.codeUri).toMatch(new RegExp(`/LocalUpload/${changed}/code$`));
    } finally {
      rmSync(path.join(repo, 'jobs/code/helpers.py'));
    }
    expect((await awaitJob('retrain-demand-5-code0000')).state).toBe('Completed');
  });

  it('a job whose script is not in its code snapshot, or that has no code, is accepted and then fails: file not found', async () => {
    const env = await activities.ensureEnvironment({ jobSpec: 'jobs/train-demand.json' });
    if (!env.ok) throw new Error(env.message);
    for (const [jobName, jobSpec, script] of [
      ['retrain-demand-8-fitpy000', 'jobs/other-script.json', 'fit.py'],
      ['retrain-demand-8-nocode00', 'jobs/no-code.json', 'train.py'],
    ] as const) {
      expect(
        await activities.submitTrainingJob({
          jobName,
          jobSpec,
          environmentId: env.id,
          dataAsset: { name: 'demand-train', version: '1' },
          tags: {},
        }),
      ).toMatchObject({ ok: true, submitted: true });
      const failed = await awaitJob(jobName);
      expect(failed).toMatchObject({ state: 'Failed', code: 'UserError' });
      if (failed.state !== 'Failed') continue;
      expect(failed.message).toContain(`can't open file '${script}': [Errno 2] No such file or directory`);
    }
  });

  it('resolves the compute name of the job spec, and sends nothing when the workspace has no such compute', async () => {
    const missing = await activities.submitTrainingJob({
      jobName: 'retrain-demand-9-nocomp00',
      jobSpec: 'jobs/no-compute.json',
      environmentId: 'azureml:env:1',
      dataAsset: { name: 'demand-train', version: '1' },
      tags: {},
    });
    expect(missing).toEqual({
      ok: false,
      code: 'ComputeNotFound',
      message: "compute 'gpu-cluster' does not exist in the workspace",
    });
    expect(ws.requestLog({ method: 'PUT', path: /\/jobs\/retrain-demand-9-nocomp00$/ })).toHaveLength(0);
  });

  it('reports a failed job with the reason from the workspace, and cancels a running one', async () => {
    const env = await activities.ensureEnvironment({ jobSpec: 'jobs/broken.json' });
    if (!env.ok) throw new Error(env.message);
    await activities.submitTrainingJob({
      jobName: 'retrain-demand-2-broken00',
      jobSpec: 'jobs/broken.json',
      environmentId: env.id,
      dataAsset: { name: 'demand-train', version: '1' },
      tags: {},
    });
    const failed = await awaitJob('retrain-demand-2-broken00');
    expect(failed).toMatchObject({ state: 'Failed', status: 'Failed', code: 'UserError', message: /missing/ });

    await activities.submitTrainingJob({
      jobName: 'retrain-demand-3-cancel00',
      jobSpec: 'jobs/train-demand.json',
      environmentId: env.id,
      dataAsset: { name: 'demand-train', version: '1' },
      tags: {},
    });
    expect(await activities.cancelTrainingJob({ jobName: 'retrain-demand-3-cancel00' })).toEqual({
      canceled: true,
      status: 'CancelRequested',
    });
    const canceled = await awaitJob('retrain-demand-3-cancel00');
    expect(canceled).toMatchObject({ state: 'Failed', status: 'Canceled' });
    expect(await activities.cancelTrainingJob({ jobName: 'retrain-demand-3-cancel00' })).toMatchObject({
      canceled: false,
    });
  });
});
