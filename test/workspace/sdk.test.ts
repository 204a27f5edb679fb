import type { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceRestClient } from '../../local/workspace/client';
import type { LocalWorkspace } from '../../local/workspace/index';
import {
  deploymentBody,
  endpointBody,
  LRO,
  mlWorkspace,
  removeTempDirs,
  rest,
  sdk,
  start,
  trainAndRegister,
  trainingCode,
  waitFor,
} from './helpers';

let ws: LocalWorkspace;
let client: AzureMachineLearningWorkspaces;
let raw: WorkspaceRestClient;
let rg: string;
let name: string;

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

beforeAll(async () => {
  ws = await start({ pageSize: 2 });
  client = sdk(ws);
  raw = rest(ws);
  rg = ws.resourceGroup;
  name = ws.workspaceName;
});

afterAll(async () => {
  raw.close();
  await ws.close();
  removeTempDirs();
});

describe('the real SDK against the local workspace (https, bearer token policy)', () => {
  it('gets the workspace and presents the local token', async () => {
    const w = await client.workspaces.get(rg, name);
    expect(w.name).toBe(name);
    expect(w.provisioningState).toBe('Succeeded');
    const calls = ws.requestLog({ path: `/workspaces/${name}` });
    expect(calls.at(-1)).toMatchObject({ method: 'GET', status: 200, apiVersion: '2022-10-01' });
  });

  it('manages model containers and versions with tags, properties, filters, order and paging', async () => {
    await client.modelContainers.createOrUpdate(rg, name, 'churn', {
      properties: { description: 'churn model', tags: { team: 'ml' } },
    });
    for (const v of ['1', '2', '3']) {
      await client.modelVersions.createOrUpdate(rg, name, 'churn', v, {
        properties: {
          modelUri: `azureml://datastores/workspaceblobstore/paths/models/churn/${v}`,
          tags: { stage: v === '2' ? 'champion' : 'candidate' },
          properties: { rmse: String(1 / Number(v)) },
        },
      });
    }
    const container = await client.modelContainers.get(rg, name, 'churn');
    expect(container.properties).toMatchObject({ description: 'churn model', latestVersion: '3', nextVersion: '4' });
    const v2 = await client.modelVersions.get(rg, name, 'churn', '2');
    expect(v2.properties.tags).toEqual({ stage: 'champion' });
    expect(v2.properties.properties).toEqual({ rmse: '0.5' });
    expect(v2.properties.modelType).toBe('CustomModel');

    // pageSize 2 forces a nextLink; the SDK's pager follows it.
    const versions = await all(client.modelVersions.list(rg, name, 'churn', { orderBy: 'createdtime asc' }));
    expect(versions.map((v) => v.name)).toEqual(['1', '2', '3']);
    const desc = await all(client.modelVersions.list(rg, name, 'churn', { orderBy: 'version desc' }));
    expect(desc.map((v) => v.name)).toEqual(['3', '2', '1']);
    const champions = await all(client.modelVersions.list(rg, name, 'churn', { tags: 'stage=champion' }));
    expect(champions.map((v) => v.name)).toEqual(['2']);
    const latest = await all(client.modelVersions.list(rg, name, 'churn', { orderBy: 'createdtime desc', top: 1 }));
    expect(latest.map((v) => v.name)).toEqual(['3']);
    const byProp = await all(client.modelVersions.list(rg, name, 'churn', { properties: 'rmse=1' }));
    expect(byProp.map((v) => v.name)).toEqual(['1']);

    // Tagging is GET, change, PUT (no PATCH in this api-version).
    v2.properties.tags = { ...v2.properties.tags, approved: 'yes' };
    await client.modelVersions.createOrUpdate(rg, name, 'churn', '2', v2);
    expect((await client.modelVersions.get(rg, name, 'churn', '2')).properties.tags).toEqual({
      stage: 'champion',
      approved: 'yes',
    });
    const containers = await all(client.modelContainers.list(rg, name));
    expect(containers.map((c) => c.name)).toContain('churn');
    await client.modelVersions.delete(rg, name, 'churn', '1');
    await expect(client.modelVersions.get(rg, name, 'churn', '1')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
  });

  it('manages environment and data containers and versions', async () => {
    await client.environmentContainers.createOrUpdate(rg, name, 'sklearn', { properties: { description: 'env' } });
    const env = await client.environmentVersions.createOrUpdate(rg, name, 'sklearn', '1', {
      properties: { image: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04', condaFile: 'name: x' },
    });
    expect(env.properties).toMatchObject({
      image: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04',
      osType: 'Linux',
    });
    expect((await all(client.environmentVersions.list(rg, name, 'sklearn'))).map((e) => e.name)).toEqual(['1']);
    expect((await client.environmentContainers.get(rg, name, 'sklearn')).properties.latestVersion).toBe('1');

    await client.dataContainers.createOrUpdate(rg, name, 'sales', { properties: { dataType: 'uri_file' } });
    await client.dataVersions.createOrUpdate(rg, name, 'sales', '1', {
      properties: {
        dataType: 'uri_file',
        dataUri: 'azureml://datastores/workspaceblobstore/paths/sales.csv',
        tags: { k: 'v' },
      },
    });
    const dv = await client.dataVersions.get(rg, name, 'sales', '1');
    expect(dv.properties).toMatchObject({ dataType: 'uri_file', tags: { k: 'v' } });
    expect((await all(client.dataVersions.list(rg, name, 'sales', { tags: 'k=v' }))).map((d) => d.name)).toEqual(['1']);
    expect((await all(client.dataContainers.list(rg, name))).map((d) => d.name)).toContain('sales');
    await client.dataVersions.delete(rg, name, 'sales', '1');
    await client.dataContainers.delete(rg, name, 'sales');
    await expect(client.dataContainers.get(rg, name, 'sales')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('runs the whole endpoint lifecycle through the SDK LRO pollers', async () => {
    const { modelId } = await trainAndRegister(ws, client, { job: 'sdk-train', model: 'sdk-model', version: '1' });
    const ep = await client.onlineEndpoints.beginCreateOrUpdateAndWait(
      rg,
      name,
      'sdk-ep',
      endpointBody(ws.location),
      LRO,
    );
    expect(ep.properties).toMatchObject({ provisioningState: 'Succeeded', authMode: 'Key' });
    expect(ep.properties.scoringUri).toBe(`${ws.armEndpoint}/endpoints/sdk-ep/score`);
    // The create answered 201 Creating with Azure-AsyncOperation, and the poller followed it.
    const log = ws.requestLog({ since: 0 });
    const put = log.filter((r) => r.method === 'PUT' && r.path.endsWith('/onlineEndpoints/sdk-ep'));
    expect(put.at(-1)?.status).toBe(201);
    expect(log.some((r) => r.path.includes('/mfeOperationsStatus/'))).toBe(true);

    const dep = await client.onlineDeployments.beginCreateOrUpdateAndWait(
      rg,
      name,
      'sdk-ep',
      'blue',
      deploymentBody(ws.location, modelId),
      LRO,
    );
    expect(dep.properties).toMatchObject({
      provisioningState: 'Succeeded',
      endpointComputeType: 'Managed',
      model: modelId,
    });
    expect((await client.onlineDeployments.get(rg, name, 'sdk-ep', 'blue')).name).toBe('blue');
    expect((await all(client.onlineDeployments.list(rg, name, 'sdk-ep'))).map((d) => d.name)).toEqual(['blue']);
    const logs = await client.onlineDeployments.getLogs(rg, name, 'sdk-ep', 'blue', {
      containerType: 'InferenceServer',
      tail: 50,
    });
    expect(logs.content).toContain('Loaded model sdk-model:1');

    const current = await client.onlineEndpoints.get(rg, name, 'sdk-ep');
    current.properties.traffic = { blue: 100 };
    const updated = await client.onlineEndpoints.beginCreateOrUpdateAndWait(rg, name, 'sdk-ep', current, LRO);
    expect(updated.properties.traffic).toEqual({ blue: 100 });

    const keys = await client.onlineEndpoints.listKeys(rg, name, 'sdk-ep');
    expect(keys.primaryKey).toBeTruthy();
    const scored = await raw.score(ws.scoringUri('sdk-ep'), keys.primaryKey!, { data: [[0, 0, 0, 0]] });
    expect(scored.status).toBe(200);
    expect(scored.headers['azureml-model-deployment']).toBe('blue');

    await client.onlineEndpoints.beginRegenerateKeysAndWait(rg, name, 'sdk-ep', { keyType: 'Primary' }, LRO);
    const newKeys = await client.onlineEndpoints.listKeys(rg, name, 'sdk-ep');
    expect(newKeys.primaryKey).not.toBe(keys.primaryKey);
    expect((await raw.score(ws.scoringUri('sdk-ep'), keys.primaryKey!, { data: [[0, 0, 0, 0]] })).status).toBe(401);
    expect((await raw.score(ws.scoringUri('sdk-ep'), newKeys.primaryKey!, { data: [[0, 0, 0, 0]] })).status).toBe(200);

    const patched = await client.onlineEndpoints.beginUpdateAndWait(
      rg,
      name,
      'sdk-ep',
      { tags: { owner: 'champion' } },
      LRO,
    );
    expect(patched.tags).toEqual({ owner: 'champion' });
    expect((await all(client.onlineEndpoints.list(rg, name))).map((e) => e.name)).toContain('sdk-ep');

    current.properties.traffic = { blue: 0 };
    await client.onlineEndpoints.beginCreateOrUpdateAndWait(rg, name, 'sdk-ep', current, LRO);
    await client.onlineDeployments.beginDeleteAndWait(rg, name, 'sdk-ep', 'blue', LRO);
    await expect(client.onlineDeployments.get(rg, name, 'sdk-ep', 'blue')).rejects.toMatchObject({ statusCode: 404 });
    const del = ws.requestLog({ method: 'DELETE', path: '/deployments/blue' });
    expect(del.at(-1)?.status).toBe(202);
    await client.onlineEndpoints.beginDeleteAndWait(rg, name, 'sdk-ep', LRO);
    await expect(client.onlineEndpoints.get(rg, name, 'sdk-ep')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('issues AML tokens that scoring accepts for AMLToken endpoints', async () => {
    const { modelId } = await trainAndRegister(ws, client, { job: 'tok-train', model: 'tok-model', version: '1' });
    await client.onlineEndpoints.beginCreateOrUpdateAndWait(
      rg,
      name,
      'tok-ep',
      { ...endpointBody(ws.location), properties: { authMode: 'AMLToken' } },
      LRO,
    );
    await client.onlineDeployments.beginCreateOrUpdateAndWait(
      rg,
      name,
      'tok-ep',
      'blue',
      deploymentBody(ws.location, modelId),
      LRO,
    );
    await client.onlineEndpoints.beginCreateOrUpdateAndWait(
      rg,
      name,
      'tok-ep',
      { ...endpointBody(ws.location), properties: { authMode: 'AMLToken', traffic: { blue: 100 } } },
      LRO,
    );
    const token = await client.onlineEndpoints.getToken(rg, name, 'tok-ep');
    expect(token.tokenType).toBe('Bearer');
    expect(token.expiryTimeUtc).toBeGreaterThan(Date.now() / 1000);
    const uri = ws.scoringUri('tok-ep');
    expect((await raw.score(uri, token.accessToken!, { data: [[1, 2, 3, 4]] })).status).toBe(200);
    expect((await raw.score(uri, 'not-a-token', { data: [[1, 2, 3, 4]] })).status).toBe(401);
    await expect(client.onlineEndpoints.listKeys(rg, name, 'tok-ep')).rejects.toMatchObject({ statusCode: 400 });
  });

  it('runs command jobs: create, get status, list, cancel and delete', async () => {
    await ws.generateData({ name: 'jobs-data', rows: 200, seed: 4 });
    const props = {
      jobType: 'Command' as const,
      command: 'python train.py --task regression --target y --data azureml:jobs-data:1',
      codeId: await trainingCode(ws),
      environmentId: 'azureml:local-sklearn:1',
      experimentName: 'sdk-jobs',
      tags: { purpose: 'test' },
    };
    const created = await client.jobs.createOrUpdate(rg, name, 'sdk-job', { properties: props });
    expect(created.properties.status).toBe('NotStarted');
    const done = await waitFor(async () => {
      const j = await client.jobs.get(rg, name, 'sdk-job');
      return j.properties.status === 'Completed' ? j : undefined;
    }, 'job completion');
    expect(done.properties.properties?.['metrics.r2']).toBeUndefined();
    expect((await mlWorkspace(ws).getRunMetrics('sdk-job'))?.r2).toBeGreaterThan(0.8);
    expect((await all(client.jobs.list(rg, name, { tag: 'purpose=test' }))).map((j) => j.name)).toEqual(['sdk-job']);

    // Cancel a job before it finishes (jobs run for jobMs).
    await client.jobs.createOrUpdate(rg, name, 'sdk-cancel', { properties: props });
    await client.jobs.beginCancelAndWait(rg, name, 'sdk-cancel', LRO);
    expect((await client.jobs.get(rg, name, 'sdk-cancel')).properties.status).toBe('Canceled');

    await client.jobs.beginDeleteAndWait(rg, name, 'sdk-cancel', LRO);
    await expect(client.jobs.get(rg, name, 'sdk-cancel')).rejects.toMatchObject({ statusCode: 404 });
  });

  it("honours the LROs' Retry-After header rather than its own poll interval", async () => {
    const slow = await start({ provisioningMs: 300, retryAfterSeconds: 1 });
    try {
      const c = sdk(slow);
      // With a 10-minute client interval, finishing at all proves the poller waited Retry-After (1 s) instead.
      const ep = await c.onlineEndpoints.beginCreateOrUpdateAndWait(
        slow.resourceGroup,
        slow.workspaceName,
        'ra-ep',
        endpointBody(slow.location),
        {
          updateIntervalInMs: 600_000,
        },
      );
      expect(ep.properties.provisioningState).toBe('Succeeded');
      const polls = slow.requestLog({ path: '/mfeOperationsStatus/' });
      expect(polls.length).toBeGreaterThanOrEqual(2);
    } finally {
      await slow.close();
    }
  });

  it('keeps mirrorTraffic on newer api-versions through client.sendRequest, and a 2022-10-01 PUT resets it', async () => {
    const { modelId } = await trainAndRegister(ws, client, { job: 'mir-train', model: 'mir-model', version: '1' });
    await client.onlineEndpoints.beginCreateOrUpdateAndWait(rg, name, 'mir-ep', endpointBody(ws.location), LRO);
    for (const d of ['blue', 'green']) {
      await client.onlineDeployments.beginCreateOrUpdateAndWait(
        rg,
        name,
        'mir-ep',
        d,
        deploymentBody(ws.location, modelId),
        LRO,
      );
    }
    const put = await raw.putAndWait(
      '/onlineEndpoints/mir-ep',
      endpointBody(ws.location, { traffic: { blue: 100, green: 0 }, mirrorTraffic: { green: 20 } }),
      '2023-04-01',
    );
    expect(put.body.properties.mirrorTraffic).toEqual({ green: 20 });

    // The same pipeline (bearer policy, TLS) carries a newer api-version through sendRequest.
    const { createPipelineRequest } = await import('@azure/core-rest-pipeline');
    const req = createPipelineRequest({
      url: `${ws.armEndpoint}${raw.workspacePath}/onlineEndpoints/mir-ep?api-version=2023-04-01`,
      method: 'GET',
    });
    const res = await client.sendRequest(req);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.bodyAsText!).properties.mirrorTraffic).toEqual({ green: 20 });

    // The typed 2022-10-01 model has no mirrorTraffic: GET-change-PUT through it wipes the mirror, as on Azure.
    const typed = await client.onlineEndpoints.get(rg, name, 'mir-ep');
    expect((typed.properties as unknown as Record<string, unknown>).mirrorTraffic).toBeUndefined();
    await client.onlineEndpoints.beginCreateOrUpdateAndWait(rg, name, 'mir-ep', typed, LRO);
    const after = await raw.arm('GET', '/onlineEndpoints/mir-ep', undefined, { apiVersion: '2023-04-01' });
    expect(after.body.properties.mirrorTraffic).toEqual({});
  });
});
