import type { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceRestClient } from '../../local/workspace/client';
import type { LocalWorkspace } from '../../local/workspace/index';
import { deploymentBody, endpointBody, LRO, removeTempDirs, rest, ROWS, sdk, start, trainAndRegister } from './helpers';

let ws: LocalWorkspace;
let client: AzureMachineLearningWorkspaces;
let raw: WorkspaceRestClient;
let key: string;
let modelId: string;
const EP = 'err-ep';

beforeAll(async () => {
  ws = await start();
  client = sdk(ws);
  raw = rest(ws);
  const rg = ws.resourceGroup;
  const name = ws.workspaceName;
  ({ modelId } = await trainAndRegister(ws, client, { job: 'err-train', model: 'err-model', version: '1' }));
  await client.onlineEndpoints.beginCreateOrUpdateAndWait(rg, name, EP, endpointBody(ws.location), LRO);
  for (const d of ['blue', 'green']) {
    await client.onlineDeployments.beginCreateOrUpdateAndWait(
      rg,
      name,
      EP,
      d,
      deploymentBody(ws.location, modelId),
      LRO,
    );
  }
  await raw.putAndWait(`/onlineEndpoints/${EP}`, endpointBody(ws.location, { traffic: { blue: 100, green: 0 } }));
  key = (await client.onlineEndpoints.listKeys(rg, name, EP)).primaryKey!;
});

afterAll(async () => {
  raw.close();
  await ws.close();
  removeTempDirs();
});

async function endpointState(): Promise<unknown> {
  const r = await raw.arm('GET', `/onlineEndpoints/${EP}`, undefined, { apiVersion: '2023-04-01' });
  return {
    traffic: r.body.properties.traffic,
    mirror: r.body.properties.mirrorTraffic,
    state: r.body.properties.provisioningState,
  };
}

describe('bad input gets ARM errors and leaves state unchanged', () => {
  it('404s unknown resources with an ARM error code', async () => {
    await expect(client.onlineEndpoints.get(ws.resourceGroup, ws.workspaceName, 'nope')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
    const dep = await raw.arm('GET', `/onlineEndpoints/${EP}/deployments/nope`);
    expect(dep.status).toBe(404);
    expect(dep.body.error.code).toBe('ResourceNotFound');
    const rg = await raw.request(
      'GET',
      raw.workspacePath.replace(ws.resourceGroup, 'other-rg') + '?api-version=2022-10-01',
    );
    expect(rg.body.error.code).toBe('ResourceGroupNotFound');
    const type = await raw.arm('GET', '/schedules/x');
    expect(type.status).toBe(404);
    expect(type.body.error.code).toBe('InvalidResourceType');
  });

  it('rejects traffic that does not sum to 100', async () => {
    const before = await endpointState();
    const r = await raw.arm(
      'PUT',
      `/onlineEndpoints/${EP}`,
      endpointBody(ws.location, { traffic: { blue: 60, green: 30 } }),
    );
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('UserError');
    expect(r.body.error.message).toMatch(/sum to 100.*90/);
    expect(r.body.error.target).toBe('properties.traffic');
    expect(await endpointState()).toEqual(before);
  });

  it('rejects traffic to a deployment that does not exist', async () => {
    const r = await raw.arm(
      'PUT',
      `/onlineEndpoints/${EP}`,
      endpointBody(ws.location, { traffic: { blue: 50, purple: 50 } }),
    );
    expect(r.status).toBe(400);
    expect(r.body.error.target).toBe('properties.traffic.purple');
  });

  it('rejects mirror traffic above 50 % and mirroring a live deployment', async () => {
    const before = await endpointState();
    const over = await raw.arm(
      'PUT',
      `/onlineEndpoints/${EP}`,
      endpointBody(ws.location, { traffic: { blue: 100, green: 0 }, mirrorTraffic: { green: 60 } }),
      { apiVersion: '2023-04-01' },
    );
    expect(over.status).toBe(400);
    expect(over.body.error.message).toMatch(/50%/);
    const live = await raw.arm(
      'PUT',
      `/onlineEndpoints/${EP}`,
      endpointBody(ws.location, { traffic: { blue: 90, green: 10 }, mirrorTraffic: { green: 10 } }),
      { apiVersion: '2023-04-01' },
    );
    expect(live.status).toBe(400);
    expect(live.body.error.message).toMatch(/both live traffic and mirror/);
    expect(await endpointState()).toEqual(before);
  });

  it('refuses to delete a deployment that still has traffic', async () => {
    await expect(
      client.onlineDeployments.beginDeleteAndWait(ws.resourceGroup, ws.workspaceName, EP, 'blue', LRO),
    ).rejects.toMatchObject({ statusCode: 400, code: 'UserError' });
    const dep = await client.onlineDeployments.get(ws.resourceGroup, ws.workspaceName, EP, 'blue');
    expect(dep.properties.provisioningState).toBe('Succeeded');
    expect((await raw.score(ws.scoringUri(EP), key, ROWS)).status).toBe(200);
  });

  it('answers 401 to scoring with a wrong or missing key', async () => {
    const wrong = await raw.score(ws.scoringUri(EP), 'wrong-key', ROWS);
    expect(wrong.status).toBe(401);
    const none = await raw.request('POST', ws.scoringUri(EP), { body: ROWS, token: null });
    expect(none.status).toBe(401);
    // The ARM token is not an endpoint key.
    expect((await raw.score(ws.scoringUri(EP), ws.token, ROWS)).status).toBe(401);
  });

  it('answers 401 to ARM calls without the right bearer', async () => {
    const none = await raw.arm('GET', `/onlineEndpoints/${EP}`, undefined, { token: null });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('AuthenticationFailed');
    const wrong = await raw.arm('GET', `/onlineEndpoints/${EP}`, undefined, { token: 'forged' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('InvalidAuthenticationToken');
  });

  it('rejects unknown and missing api-versions', async () => {
    const unknown = await raw.arm('GET', `/onlineEndpoints/${EP}`, undefined, { apiVersion: '2019-01-01' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('NoRegisteredProviderFound');
    const missing = await raw.arm('GET', `/onlineEndpoints/${EP}`, undefined, { apiVersion: null });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('MissingApiVersionParameter');
  });

  it('rejects malformed JSON and bodies missing required fields, naming the field', async () => {
    const before = await endpointState();
    const bad = await raw.arm('PUT', `/onlineEndpoints/${EP}`, undefined, { rawBody: '{"location": "x", ' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('InvalidRequestContent');
    const noAuth = await raw.arm('PUT', `/onlineEndpoints/${EP}`, { location: 'westeurope', properties: {} });
    expect(noAuth.status).toBe(400);
    expect(noAuth.body.error.target).toBe('properties.authMode');
    const noLocation = await raw.arm('PUT', `/onlineEndpoints/${EP}/deployments/blue`, {
      properties: { endpointComputeType: 'Managed', model: modelId },
    });
    expect(noLocation.status).toBe(400);
    expect(noLocation.body.error.target).toBe('location');
    const badModel = await raw.arm(
      'PUT',
      `/onlineEndpoints/${EP}/deployments/violet`,
      deploymentBody('westeurope', 'azureml:ghost:9'),
    );
    expect(badModel.status).toBe(400);
    expect(badModel.body.error.target).toBe('properties.model');
    const noData = await raw.arm('PUT', '/data/d/versions/1', { properties: { dataType: 'uri_file' } });
    expect(noData.body.error.target).toBe('properties.dataUri');
    const badJob = await raw.arm('PUT', '/jobs/pipe', { properties: { jobType: 'Pipeline' } });
    expect(badJob.status).toBe(400);
    expect(badJob.body.error.target).toBe('properties.jobType');
    expect(await endpointState()).toEqual(before);
    expect((await raw.arm('GET', `/onlineEndpoints/${EP}/deployments/violet`)).status).toBe(404);
  });

  it('refuses to change a registered model version’s modelUri', async () => {
    const r = await raw.arm('PUT', '/models/err-model/versions/1', {
      properties: { modelUri: 'azureml://datastores/x/paths/y' },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.target).toBe('properties.modelUri');
  });

  it('refuses to register a model from a job output that does not exist', async () => {
    const r = await raw.arm('PUT', '/models/ghost/versions/1', {
      properties: { modelUri: 'azureml://jobs/never-ran/outputs/model' },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/never-ran/);
    expect((await raw.arm('GET', '/models/ghost/versions/1')).status).toBe(404);
  });

  it('answers 409 while an operation on the same resource is in progress', async () => {
    const first = await raw.arm(
      'PUT',
      `/onlineEndpoints/${EP}/deployments/green`,
      deploymentBody(ws.location, modelId),
    );
    expect(first.status).toBe(200);
    expect(first.body.properties.provisioningState).toBe('Updating');
    const second = await raw.arm(
      'PUT',
      `/onlineEndpoints/${EP}/deployments/green`,
      deploymentBody(ws.location, modelId),
    );
    expect(second.status).toBe(409);
    await raw.waitForOperation(first);
  });
});

describe('fault injection', () => {
  it('throttles ARM writes with 429 + Retry-After, which the SDK retries', async () => {
    ws.faults.add({ kind: 'arm', path: '/models/throttled/versions/*', status: 429, count: 2, retryAfterSeconds: 0 });
    const since = ws.requestLog().at(-1)?.seq ?? 0;
    const mv = await client.modelVersions.createOrUpdate(ws.resourceGroup, ws.workspaceName, 'throttled', '1', {
      properties: { modelUri: 'azureml://datastores/workspaceblobstore/paths/m' },
    });
    expect(mv.name).toBe('1');
    const puts = ws.requestLog({ since, method: 'PUT', path: '/models/throttled/' });
    expect(puts.map((r) => r.status)).toEqual([429, 429, 201]);
    expect(ws.faults.list()).toHaveLength(0);

    ws.faults.add({ kind: 'arm', path: '/models/raw-throttle', status: 429 });
    const raw429 = await raw.arm('PUT', '/models/raw-throttle', { properties: {} });
    expect(raw429.status).toBe(429);
    expect(raw429.headers['retry-after']).toBe('1');
    expect(raw429.body.error.code).toBe('TooManyRequests');
    expect((await raw.arm('GET', '/models/raw-throttle')).status).toBe(404);
  });

  it('fails ARM calls with 500 for the next N writes to a path pattern', async () => {
    const f = ws.faults.add({
      kind: 'arm',
      path: '/onlineEndpoints/*/deployments/*',
      method: 'PUT',
      status: 500, // no count: an ARM fault hits the next matching request only
    });
    const r = await raw.arm('PUT', `/onlineEndpoints/${EP}/deployments/green`, deploymentBody(ws.location, modelId));
    expect(r.status).toBe(500);
    expect(r.body.error.code).toBe('InternalServerError');
    expect(ws.faults.list().find((x) => x.id === f.id)).toBeUndefined();
    // Reads are not writes, and the fault is used up.
    expect((await raw.arm('GET', `/onlineEndpoints/${EP}/deployments/green`)).status).toBe(200);
  });

  it('fails deployment provisioning with OutOfQuota, surfaced by the SDK poller', async () => {
    ws.faults.add({ kind: 'provisioning', deployment: 'quota', code: 'OutOfQuota' });
    await expect(
      client.onlineDeployments.beginCreateOrUpdateAndWait(
        ws.resourceGroup,
        ws.workspaceName,
        EP,
        'quota',
        deploymentBody(ws.location, modelId),
        LRO,
      ),
    ).rejects.toThrow(/Not enough quota/);
    const dep = await client.onlineDeployments.get(ws.resourceGroup, ws.workspaceName, EP, 'quota');
    expect(dep.properties.provisioningState).toBe('Failed');
    const traffic = await raw.arm(
      'PUT',
      `/onlineEndpoints/${EP}`,
      endpointBody(ws.location, { traffic: { blue: 50, quota: 50 } }),
    );
    expect(traffic.status).toBe(400);
    expect(traffic.body.error.message).toMatch(/Failed/);
  });

  it('fails provisioning with ResourceNotReady when the model has no artefact', async () => {
    await raw.arm('PUT', '/models/empty/versions/1', {
      properties: { modelUri: 'azureml://datastores/workspaceblobstore/paths/none', modelType: 'mlflow_model' },
    });
    const res = await raw.arm(
      'PUT',
      `/onlineEndpoints/${EP}/deployments/empty`,
      deploymentBody(ws.location, 'azureml:empty:1'),
    );
    expect(res.status).toBe(201);
    expect(res.headers['azure-asyncoperation']).toBeTruthy();
    const op = await raw.waitForOperation(res);
    expect(op.status).toBe('Failed');
    expect(op.error).toMatchObject({ code: 'ResourceNotReady' });
  });

  it('makes a model slow or failing on demand, and counts the errors', async () => {
    ws.resetScoringStats(EP);
    const slow = ws.faults.add({ kind: 'scoring', deployment: 'blue', latencyMs: 40 });
    const s = await raw.score(ws.scoringUri(EP), key, ROWS);
    expect(s.status).toBe(200);
    ws.faults.remove(slow.id);
    expect(ws.scoringStats({ endpoint: EP, deployment: 'blue' })[0]?.latencyMs.max).toBeGreaterThanOrEqual(40);

    const failing = ws.faults.add({ kind: 'scoring', deployment: 'blue', errorRate: 0.25, status: 503 });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await raw.score(ws.scoringUri(EP), key, ROWS)).status);
    ws.faults.remove(failing.id);
    expect(statuses.filter((x) => x === 503)).toHaveLength(5);
    const stats = ws.scoringStats({ endpoint: EP, deployment: 'blue' })[0]!;
    expect(stats.requests).toBe(21);
    expect(stats.errors).toBe(5);
  });

  it('reports bad scoring input as a 400 that names the problem', async () => {
    const r = await raw.score(ws.scoringUri(EP), key, { input_data: { columns: ['x1'], data: [[1]] } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/x2, x3, x4/);
    const unknown = await raw.score(ws.scoringUri(EP), key, ROWS, { 'azureml-model-deployment': 'nope' });
    expect(unknown.status).toBe(404);
  });
});
