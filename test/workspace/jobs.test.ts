/**
 * Command jobs as Azure ML takes them, through the official SDK's pipeline: data inputs typed with `uri` and
 * `mode`, compute by its ARM id, a declared model output. What the service would not run is refused with 400
 * `UserError` naming the field, and nothing is created.
 */
import type { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import { createPipelineRequest } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AzureMlWorkspace } from '../../lib/azure/ml-workspace';
import { runsAsOnAzure, trainingJobSpec, type JobBody } from '../../local/lab';
import type { LocalWorkspace } from '../../local/workspace/index';
import { mlWorkspace, removeTempDirs, rest, sdk, start, TRAIN_COMMAND, trainingCode, waitFor } from './helpers';

let ws: LocalWorkspace;
let client: AzureMachineLearningWorkspaces;
let workspace: AzureMlWorkspace;
let spec: Record<string, unknown>;

beforeAll(async () => {
  ws = await start();
  client = sdk(ws);
  workspace = mlWorkspace(ws);
  await ws.generateData({ name: 'jobs-data', version: '1', rows: 300, seed: 3 });
  spec = await trainingJobSpec(workspace, {
    command: TRAIN_COMMAND,
    codeId: await trainingCode(ws),
    environmentId: 'azureml:env:1',
    data: { name: 'jobs-data', version: '1' },
  });
});

afterAll(async () => {
  await ws.close();
  removeTempDirs();
});

/** Submits through the production adapter and returns the ARM error it met. */
async function refusal(name: string, body: Record<string, unknown>) {
  const err = (await workspace.submitJob(name, body).then(
    () => undefined,
    (e: unknown) => e,
  )) as { statusCode?: number; code?: string; response?: { bodyAsText?: string } } | undefined;
  expect(err?.statusCode).toBe(400);
  expect(await workspace.getJob(name)).toBeUndefined();
  return { code: err?.code, target: (JSON.parse(err?.response?.bodyAsText ?? '{}') as ErrorBody).error?.target };
}
type ErrorBody = { error?: { target?: string } };

describe('command jobs as Azure runs them', () => {
  it('serves the compute cluster, whose ARM id is what a job names', async () => {
    const compute = await client.computeOperations.get(ws.resourceGroup, ws.workspaceName, 'cpu-cluster');
    expect(compute.id).toMatch(/\/workspaces\/[^/]+\/computes\/cpu-cluster$/);
    expect(compute.properties?.computeType).toBe('AmlCompute');
    expect((await workspace.getCompute('cpu-cluster'))?.id).toBe(compute.id);
    expect(await workspace.getCompute('gpu-cluster')).toBeUndefined();
    expect(spec.computeId).toBe(compute.id);
  });

  it('runs a job with a typed data input, a compute id and a declared model output, and keeps them as sent', async () => {
    const created = await workspace.submitJob('typed-job', spec);
    expect(created.outputs).toEqual({ model: 'azureml://jobs/typed-job/outputs/model' });
    const done = await waitFor(async () => {
      const job = await workspace.getJob('typed-job');
      return job?.status === 'Completed' || job?.status === 'Failed' ? job : undefined;
    }, 'typed job');
    expect(done.status).toBe('Completed');
    const url = `${ws.armEndpoint}${String(spec.computeId).replace(/\/computes\/.*$/, '')}/jobs/typed-job`;
    const raw = await client.sendRequest(createPipelineRequest({ url: `${url}?api-version=2023-04-01` }));
    const props = (JSON.parse(raw.bodyAsText ?? '{}') as { properties: Record<string, unknown> }).properties;
    expect(props.inputs).toEqual({
      training_data: {
        jobInputType: 'uri_file',
        uri: expect.stringMatching(/\/data\/jobs-data\/versions\/1$/),
        mode: 'ReadOnlyMount',
      },
    });
    expect(props.computeId).toBe(spec.computeId);
    expect(props.outputs).toMatchObject({ model: { jobOutputType: 'mlflow_model', mode: 'ReadWriteMount' } });
  });

  it("refuses a data input sent by the typed SDK of 2022-10-01, whose serializer drops the input's uri", async () => {
    const err = (await client.jobs
      .createOrUpdate(ws.resourceGroup, ws.workspaceName, 'typed-sdk-job', { properties: spec as never })
      .then(
        () => undefined,
        (e: unknown) => e,
      )) as { statusCode?: number; code?: string; message?: string } | undefined;
    expect(err).toMatchObject({ statusCode: 400, code: 'UserError' });
    expect(err?.message).toMatch(/Input 'training_data' \(uri_file\) has no 'uri'/);
    expect(await workspace.getJob('typed-sdk-job')).toBeUndefined();
  });

  it('refuses a literal where data belongs: Azure hands a literal to the command as text and mounts nothing', async () => {
    const inputs = { training_data: { jobInputType: 'literal', value: 'azureml:jobs-data:1' } };
    expect(await refusal('literal-job', { ...spec, inputs })).toEqual({
      code: 'UserError',
      target: 'properties.inputs.training_data',
    });
  });

  it('refuses a short compute name and a compute the workspace does not have', async () => {
    for (const computeId of ['azureml:cpu-cluster', 'cpu-cluster']) {
      expect(await refusal('short-compute-job', { ...spec, computeId })).toEqual({
        code: 'UserError',
        target: 'properties.computeId',
      });
    }
    const missing = String(spec.computeId).replace(/cpu-cluster$/, 'gpu-cluster');
    expect(await refusal('missing-compute-job', { ...spec, computeId: missing })).toEqual({
      code: 'UserError',
      target: 'properties.computeId',
    });
  });

  it("the demo's check tells a job as Azure runs it from one with literal data, a short compute or no model output", () => {
    const job = spec as JobBody;
    expect(runsAsOnAzure(job)).toBe(true);
    expect(
      runsAsOnAzure({ ...job, inputs: { training_data: { jobInputType: 'literal', value: 'azureml:jobs-data:1' } } }),
    ).toBe(false);
    expect(runsAsOnAzure({ ...job, computeId: 'azureml:cpu-cluster' })).toBe(false);
    expect(runsAsOnAzure({ ...job, outputs: {} })).toBe(false);
    expect(runsAsOnAzure({ ...job, codeId: undefined })).toBe(false);
  });

  it('refuses an unknown input delivery mode', async () => {
    const inputs = { training_data: { ...(spec.inputs as { training_data: object }).training_data, mode: 'ro_mount' } };
    expect(await refusal('mode-job', { ...spec, inputs })).toEqual({
      code: 'UserError',
      target: 'properties.inputs.training_data.mode',
    });
  });
});

describe('code assets and the code a job runs', () => {
  async function finished(name: string) {
    return waitFor(async () => {
      const job = await workspace.getJob(name);
      return job?.status === 'Completed' || job?.status === 'Failed' ? job : undefined;
    }, name);
  }

  it('serves code versions as azure-rest-api-specs stable/2022-10-01 examples/CodeVersion/createOrUpdate.json and get.json show them', async () => {
    const codeUri = `https://devstoreaccount1.blob.core.windows.net/${ws.datastoreContainer}/LocalUpload/abc/src`;
    const body = {
      properties: { description: 'd', tags: { t: '1' }, properties: { p: '2' }, isAnonymous: false, codeUri },
    };
    const created = await client.codeVersions.createOrUpdate(
      ws.resourceGroup,
      ws.workspaceName,
      'spec-code',
      '1',
      body,
    );
    expect(created).toMatchObject({
      id: expect.stringMatching(/\/workspaces\/[^/]+\/codes\/spec-code\/versions\/1$/),
      name: '1',
      type: 'Microsoft.MachineLearningServices/workspaces/codes/versions',
      properties: { ...body.properties },
      // Written with the app's token: its managed identity is the creator.
      systemData: { createdBy: ws.appIdentity.name, createdByType: 'ManagedIdentity' },
    });
    const read = await client.codeVersions.get(ws.resourceGroup, ws.workspaceName, 'spec-code', '1');
    expect(read.properties).toMatchObject(body.properties);
    await expect(client.codeVersions.get(ws.resourceGroup, ws.workspaceName, 'spec-code', '2')).rejects.toMatchObject({
      statusCode: 404,
    });
    // The adapter: a missing version is undefined (a 404), and a created one carries its ARM id.
    expect(await workspace.getCodeVersion('spec-code', '2')).toBeUndefined();
    expect(await workspace.getCodeVersion('spec-code', '1')).toEqual({
      name: 'spec-code',
      version: '1',
      id: created.id,
      codeUri,
    });
    const made = await workspace.createCodeVersion({
      name: 'spec-code',
      version: '3',
      codeUri,
      properties: { a: 'b' },
    });
    expect(made).toMatchObject({ name: 'spec-code', version: '3', id: created.id!.replace(/1$/, '3'), codeUri });
    // Like other assets' URIs, an existing version's codeUri cannot be changed.
    const moved = { properties: { codeUri: `${codeUri}-moved` } };
    await expect(
      client.codeVersions.createOrUpdate(ws.resourceGroup, ws.workspaceName, 'spec-code', '1', moved),
    ).rejects.toMatchObject({ statusCode: 400 });
  });

  it('refuses a codeId that is not a code version of the workspace, naming the field, and creates nothing', async () => {
    const codeId = String(spec.codeId);
    for (const bad of [codeId.replace(/versions\/1$/, 'versions/99'), 'azureml:local-train:1', 'local-train']) {
      expect(await refusal('bad-code-job', { ...spec, codeId: bad })).toEqual({
        code: 'UserError',
        target: 'properties.codeId',
      });
    }
  });

  // On Azure the run fails when Python cannot open the script; the job itself is accepted.
  it('accepts a job whose script is not in its code snapshot, which then fails: file not found', async () => {
    const other = await ws.uploadCode({ name: 'other-code', version: '1', files: { 'fit.py': 'print(1)\n' } });
    expect((await workspace.submitJob('no-script-job', { ...spec, codeId: other.id })).status).toBe('NotStarted');
    const failed = await finished('no-script-job');
    expect(failed.status).toBe('Failed');
    expect(failed.properties['error.code']).toBe('UserError');
    expect(failed.properties['error.message']).toMatch(
      /^python: can't open file 'train\.py': \[Errno 2\] No such file or directory \(the code snapshot .+\/LocalUpload\/1\/other-code holds no train\.py\)/,
    );
  });

  it('accepts a job without codeId, which then fails: its working directory holds no train.py', async () => {
    const { codeId: _, ...noCode } = spec;
    await workspace.submitJob('no-code-job', noCode);
    const failed = await finished('no-code-job');
    expect(failed.status).toBe('Failed');
    expect(failed.properties['error.message']).toMatch(/can't open file 'train\.py'.*the job has no codeId/);
  });
});

describe('run metrics from the MLflow tracking API', () => {
  type Metric = { key: string; value: number; step: number; timestamp: number };

  it('keeps metrics out of the job resource and serves them at the tracking URI, with the ARM token', async () => {
    const job = await waitFor(async () => {
      const j = await workspace.getJob('typed-job');
      return j?.status === 'Completed' ? j : undefined;
    }, 'typed job');
    expect(Object.keys(job.properties).filter((k) => k.startsWith('metrics.'))).toEqual([]);

    const resource = await client.workspaces.get(ws.resourceGroup, ws.workspaceName);
    const workspacePath = String(spec.computeId).replace(/\/computes\/.*$/, '');
    expect(resource.mlFlowTrackingUri).toBe(`azureml://${new URL(ws.armEndpoint).host}/mlflow/v1.0${workspacePath}`);
    const api = `${resource.mlFlowTrackingUri!.replace(/^azureml:/, 'https:')}/api/2.0/mlflow`;
    const get = async (query: string) => {
      const r = await client.sendRequest(createPipelineRequest({ url: `${api}/${query}` }));
      return { status: r.status, body: JSON.parse(r.bodyAsText ?? '{}') as Record<string, unknown> };
    };

    const run = await get('runs/get?run_id=typed-job');
    expect(run.status).toBe(200);
    expect(run.body.run).toMatchObject({
      info: { run_id: 'typed-job', status: 'FINISHED', lifecycle_stage: 'active' },
    });
    const metrics = (run.body.run as { data: { metrics: Metric[] } }).data.metrics;
    expect(metrics.map((m) => m.key).sort()).toEqual(['mae', 'r2', 'rmse']);
    const history = await get('metrics/get-history?run_id=typed-job&metric_key=rmse');
    expect(history.body.metrics).toEqual([expect.objectContaining({ key: 'rmse', step: 0 })]);

    // The production adapter reads the same values through the client's pipeline.
    expect(await workspace.getRunMetrics('typed-job')).toEqual(
      Object.fromEntries(metrics.map((m) => [m.key, m.value])),
    );
    expect(await workspace.getRunMetrics('no-such-run')).toBeUndefined();

    expect(await get('runs/get?run_id=no-such-run')).toMatchObject({
      status: 404,
      body: { error_code: 'RESOURCE_DOES_NOT_EXIST' },
    });
    expect(await get('metrics/get-history?run_id=typed-job')).toMatchObject({
      status: 400,
      body: { error_code: 'INVALID_PARAMETER_VALUE' },
    });
    const raw = rest(ws);
    const anonymous = await raw.request('GET', `${api}/runs/get?run_id=typed-job`, { token: null });
    raw.close();
    expect(anonymous.status).toBe(401);
  });
});
