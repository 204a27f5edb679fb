import type { AzureMachineLearningWorkspaces, OnlineEndpoint } from '@azure/arm-machinelearning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceRestClient } from '../../local/workspace/client';
import type { LocalWorkspace } from '../../local/workspace/index';
import { deploymentBody, endpointBody, LRO, removeTempDirs, rest, ROWS, sdk, start, trainAndRegister } from './helpers';

let ws: LocalWorkspace;
let client: AzureMachineLearningWorkspaces;
let raw: WorkspaceRestClient;
let key: string;
let uri: string;
const EP = 'rollout-ep';

async function scoreMany(n: number, body: unknown = ROWS, concurrency = 32): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const r = await raw.score(uri, key, body);
      // Count failures under their status instead of asserting per request (keeps 10k requests fast).
      const d = r.status === 200 ? String(r.headers['azureml-model-deployment']) : `status ${r.status}`;
      counts[d] = (counts[d] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}

async function setTraffic(traffic: Record<string, number>): Promise<OnlineEndpoint> {
  const current = await client.onlineEndpoints.get(ws.resourceGroup, ws.workspaceName, EP);
  current.properties.traffic = traffic;
  return client.onlineEndpoints.beginCreateOrUpdateAndWait(ws.resourceGroup, ws.workspaceName, EP, current, LRO);
}

beforeAll(async () => {
  ws = await start();
  client = sdk(ws);
  raw = rest(ws);
});

afterAll(async () => {
  raw.close();
  await ws.close();
  removeTempDirs();
});

describe('blue/green rollout against the local workspace', () => {
  // Two trainings, four deployments and 10,000 scored requests: more than the default 30 s on a busy machine.
  it('trains, registers, deploys blue, then green at 0 %, and shifts traffic', { timeout: 120_000 }, async () => {
    const rg = ws.resourceGroup;
    const name = ws.workspaceName;
    const blue = await trainAndRegister(ws, client, { job: 'train-blue', model: 'house', version: '1', seed: 1 });
    // Green learns from drifted data, so the two deployments answer differently for the same row.
    const green = await trainAndRegister(ws, client, {
      job: 'train-green',
      model: 'house',
      version: '2',
      seed: 2,
      drift: 1,
    });
    expect(Number(blue.metrics['metrics.r2'])).toBeGreaterThan(0.8);

    await client.onlineEndpoints.beginCreateOrUpdateAndWait(rg, name, EP, endpointBody(ws.location), LRO);
    await client.onlineDeployments.beginCreateOrUpdateAndWait(
      rg,
      name,
      EP,
      'blue',
      deploymentBody(ws.location, blue.modelId),
      LRO,
    );
    await setTraffic({ blue: 100 });
    key = (await client.onlineEndpoints.listKeys(rg, name, EP)).primaryKey!;
    uri = (await client.onlineEndpoints.get(rg, name, EP)).properties.scoringUri!;

    const b = await raw.score(uri, key, ROWS);
    expect(b.status).toBe(200);
    expect(b.headers['azureml-model-deployment']).toBe('blue');
    const bluePrediction = b.body[0];
    expect(typeof bluePrediction).toBe('number');

    await client.onlineDeployments.beginCreateOrUpdateAndWait(
      rg,
      name,
      EP,
      'green',
      deploymentBody(ws.location, green.modelId),
      LRO,
    );
    const withGreen = await setTraffic({ blue: 100, green: 0 });
    expect(withGreen.properties.traffic).toEqual({ blue: 100, green: 0 });
    // Green takes no live traffic yet, but can be called directly.
    expect(await scoreMany(200)).toEqual({ blue: 200 });
    const g = await raw.score(uri, key, ROWS, { 'azureml-model-deployment': 'green' });
    expect(g.status).toBe(200);
    expect(g.headers['azureml-model-deployment']).toBe('green');
    expect(g.body[0]).not.toBeCloseTo(bluePrediction, 3);

    await setTraffic({ blue: 0, green: 100 });
    expect(await scoreMany(300)).toEqual({ green: 300 });

    await setTraffic({ blue: 90, green: 10 });
    ws.resetScoringStats(EP);
    const counts = await scoreMany(10_000);
    expect(Math.abs((counts.blue ?? 0) / 10_000 - 0.9)).toBeLessThanOrEqual(0.01);
    expect(Math.abs((counts.green ?? 0) / 10_000 - 0.1)).toBeLessThanOrEqual(0.01);

    // Health signals per deployment match what was served.
    const stats = ws.scoringStats({ endpoint: EP });
    const byName = Object.fromEntries(stats.map((s) => [s.deployment, s]));
    expect(byName.blue?.requests).toBe(counts.blue);
    expect(byName.green?.requests).toBe(counts.green);
    expect(byName.green?.errors).toBe(0);
    expect(byName.blue?.latencyMs.p95).toBeGreaterThan(0);
    const viaAdmin = await raw.request('GET', ws.adminUrl(`scoring/stats?endpoint=${EP}`));
    expect(viaAdmin.body.value.find((s: { deployment: string }) => s.deployment === 'green').requests).toBe(
      counts.green,
    );
  });

  it('copies mirror traffic to the mirrored deployment and discards its responses', async () => {
    const put = await raw.putAndWait(
      `/onlineEndpoints/${EP}`,
      endpointBody(ws.location, { traffic: { blue: 100, green: 0 }, mirrorTraffic: { green: 20 } }),
      '2023-04-01',
    );
    expect(put.body.properties.mirrorTraffic).toEqual({ green: 20 });
    ws.resetScoringStats(EP);
    const counts = await scoreMany(500);
    // Every live answer comes from blue; a fifth of the requests are copied to green in the background.
    expect(counts).toEqual({ blue: 500 });
    const green = await (async () => {
      for (let i = 0; i < 100; i++) {
        const s = ws.scoringStats({ endpoint: EP, deployment: 'green' })[0];
        if (s && s.mirroredRequests >= 100) return s;
        await new Promise((r) => setTimeout(r, 10));
      }
      return ws.scoringStats({ endpoint: EP, deployment: 'green' })[0];
    })();
    expect(green?.mirroredRequests).toBe(100);
    expect(green?.requests).toBe(0);
    // Requests that name a deployment are not mirrored.
    await raw.score(uri, key, ROWS, { 'azureml-model-deployment': 'blue' });
    await new Promise((r) => setTimeout(r, 20));
    expect(ws.scoringStats({ endpoint: EP, deployment: 'green' })[0]?.mirroredRequests).toBe(100);
  });

  it('persists scoring stats to SQLite in batches, not per request', async () => {
    ws.flushScoringStats();
    const rows = ws.workspace.store.loadStats().filter((r) => r.endpoint === EP);
    const blue = rows.find((r) => r.deployment === 'blue');
    expect((blue?.stats as { requests: number }).requests).toBe(
      ws.scoringStats({ endpoint: EP, deployment: 'blue' })[0]?.requests,
    );
  });
});
