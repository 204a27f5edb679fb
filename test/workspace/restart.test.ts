import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { LocalWorkspace } from '../../local/workspace/index';
import {
  deploymentBody,
  endpointBody,
  LRO,
  mlWorkspace,
  removeTempDirs,
  rest,
  ROWS,
  sdk,
  start,
  tempDir,
  trainAndRegister,
  trainingCode,
  waitFor,
} from './helpers';

afterAll(() => removeTempDirs());

/** Re-points an operation URL from a previous process at the restarted workspace (the port changes). */
function onNewPort(url: string, ws: LocalWorkspace): string {
  const u = new URL(url);
  return `${ws.armEndpoint}${u.pathname}${u.search}`;
}

describe('restart on the same data directory', () => {
  it('keeps models, endpoints, keys, token, certificate, traffic and logs', async () => {
    const dataDir = tempDir();
    const a = await start({ dataDir });
    const client = sdk(a);
    const { modelId } = await trainAndRegister(a, client, { job: 'rs-train', model: 'rs-model', version: '1' });
    await client.onlineEndpoints.beginCreateOrUpdateAndWait(
      a.resourceGroup,
      a.workspaceName,
      'rs-ep',
      endpointBody(a.location),
      LRO,
    );
    await client.onlineDeployments.beginCreateOrUpdateAndWait(
      a.resourceGroup,
      a.workspaceName,
      'rs-ep',
      'blue',
      deploymentBody(a.location, modelId),
      LRO,
    );
    const ep = await client.onlineEndpoints.get(a.resourceGroup, a.workspaceName, 'rs-ep');
    ep.properties.traffic = { blue: 100 };
    await client.onlineEndpoints.beginCreateOrUpdateAndWait(a.resourceGroup, a.workspaceName, 'rs-ep', ep, LRO);
    const keys = await client.onlineEndpoints.listKeys(a.resourceGroup, a.workspaceName, 'rs-ep');
    const rawA = rest(a);
    const before = await rawA.score(a.scoringUri('rs-ep'), keys.primaryKey!, ROWS);
    rawA.close();
    const writes = a.requestLog({ writesOnly: true }).length;
    const { token, caCert } = a;
    await a.close();

    const b = await start({ dataDir });
    try {
      expect(b.token).toBe(token);
      expect(b.caCert).toBe(caCert);
      const json = JSON.parse(readFileSync(b.workspaceJsonPath, 'utf8'));
      expect(json).toMatchObject({
        armEndpoint: b.armEndpoint,
        token,
        caCertPath: b.caCertPath,
        workspaceName: b.workspaceName,
      });
      const c = sdk(b);
      const mv = await c.modelVersions.get(b.resourceGroup, b.workspaceName, 'rs-model', '1');
      expect(mv.properties.tags).toEqual({ stage: 'candidate' });
      const ep2 = await c.onlineEndpoints.get(b.resourceGroup, b.workspaceName, 'rs-ep');
      expect(ep2.properties.traffic).toEqual({ blue: 100 });
      expect(ep2.properties.scoringUri).toBe(b.scoringUri('rs-ep'));
      expect((await c.onlineEndpoints.listKeys(b.resourceGroup, b.workspaceName, 'rs-ep')).primaryKey).toBe(
        keys.primaryKey,
      );
      const rawB = rest(b);
      const after = await rawB.score(b.scoringUri('rs-ep'), keys.primaryKey!, ROWS);
      rawB.close();
      expect(after.status).toBe(200);
      expect(after.body).toEqual(before.body);
      expect(b.requestLog({ writesOnly: true }).length).toBeGreaterThanOrEqual(writes);
      expect(b.scoringStats({ endpoint: 'rs-ep', deployment: 'blue' })[0]?.requests).toBe(2);
    } finally {
      await b.close();
    }
  });

  it('finishes a deployment that was provisioning when the process stopped', async () => {
    const dataDir = tempDir();
    const a = await start({ dataDir, provisioningMs: 100 });
    const client = sdk(a);
    const { modelId } = await trainAndRegister(a, client, { job: 'lro-train', model: 'lro-model', version: '1' });
    await client.onlineEndpoints.beginCreateOrUpdateAndWait(
      a.resourceGroup,
      a.workspaceName,
      'lro-ep',
      endpointBody(a.location),
      LRO,
    );
    await a.close();

    // Provisioning takes a minute in this process: it will be stopped long before that.
    const slow = await start({ dataDir, provisioningMs: 60_000 });
    const rawSlow = rest(slow);
    const put = await rawSlow.arm(
      'PUT',
      '/onlineEndpoints/lro-ep/deployments/green',
      deploymentBody(slow.location, modelId),
    );
    rawSlow.close();
    expect(put.status).toBe(201);
    expect(put.body.properties.provisioningState).toBe('Creating');
    const statusUrl = String(put.headers['azure-asyncoperation']);
    await slow.close();

    const b = await start({ dataDir, provisioningMs: 100 });
    try {
      const raw = rest(b);
      const op = await raw.waitForOperation({ ...put, headers: { 'azure-asyncoperation': onNewPort(statusUrl, b) } });
      expect(op.status).toBe('Succeeded');
      const dep = await raw.arm('GET', '/onlineEndpoints/lro-ep/deployments/green');
      expect(dep.body.properties.provisioningState).toBe('Succeeded');
      const key = b.endpointKeys('lro-ep').primaryKey;
      const scored = await raw.score(b.scoringUri('lro-ep'), key, ROWS, { 'azureml-model-deployment': 'green' });
      expect(scored.status).toBe(200);
      raw.close();
    } finally {
      await b.close();
    }
  });

  it('re-runs a job that was running when the process stopped, its data still in storage (Azurite state)', async () => {
    const dataDir = tempDir();
    // Running after 500 ms, training due at 2500 ms: the process stops in between.
    const a = await start({ dataDir, jobMs: 2500 });
    await a.generateData({ name: 'rerun-data', rows: 150 });
    const raw = rest(a);
    const put = await raw.arm('PUT', '/jobs/rerun', {
      properties: {
        jobType: 'Command',
        command: 'python train.py --task regression --target y --data azureml:rerun-data:1',
        codeId: await trainingCode(a),
        environmentId: 'azureml:env:1',
      },
    });
    expect(put.status).toBe(201);
    await waitFor(async () => (await raw.arm('GET', '/jobs/rerun')).body.properties.status === 'Running', 'Running');
    raw.close();
    await a.close();

    const b = await start({ dataDir, jobMs: 50 });
    try {
      const c = sdk(b);
      await waitFor(async () => {
        const j = await c.jobs.get(b.resourceGroup, b.workspaceName, 'rerun');
        return j.properties.status === 'Completed' ? j : undefined;
      }, 'job after restart');
      expect((await mlWorkspace(b).getRunMetrics('rerun'))?.rmse).toBeGreaterThan(0);
      expect(b.events({ type: 'RunCompleted' }).map((e) => e.data.RunId)).toEqual(['rerun']);
    } finally {
      await b.close();
    }
  });
});
