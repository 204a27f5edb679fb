/**
 * Scoring within a deployment's request settings. `requestSettings.maxConcurrentRequestsPerInstance` defaults to 1
 * (OnlineRequestSettings, 2022-10-01 specification), and Azure ML takes at most 2 × max_concurrent_requests_per_instance
 * × instance_count requests in parallel, answering 429 "Too many pending requests" beyond (online-endpoint
 * troubleshooting guide, HTTP status codes). Champion evaluates within that and sends a 429 or 503 again after a
 * backoff, or after the `Retry-After` the answer gives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, scoringConcurrency } from '../../lib/activities';
import { AzureMlWorkspace } from '../../lib/azure/ml-workspace';
import { EndpointScoring, retryAfterMs } from '../../lib/azure/scoring';
import { parsePolicies } from '../../lib/domain/policy';
import type { Table } from '../../lib/ports';
import type { WorkspaceRestClient } from '../../local/workspace/client';
import type { LocalWorkspace } from '../../local/workspace/index';
import { mlWorkspace, removeTempDirs, rest, sdk, start, trainAndRegister, waitFor } from '../workspace/helpers';

const EP = 'limits-ep';
const ROW = { input_data: { columns: ['x1', 'x2', 'x3', 'x4'], data: [[0.1, -0.2, 0.3, 0.5]] } };

describe('retryAfterMs: what a 429/503 asks the client to wait', () => {
  it.each([
    [{ 'retry-after-ms': '250', 'retry-after': '9' }, 250],
    [{ 'retry-after': '2' }, 2000],
    [{ 'retry-after': 'Wed, 02 Dec 2026 12:00:03 GMT' }, 3000],
    [{ 'retry-after': 'soon' }, undefined],
    [{}, undefined],
  ])('%j → %s ms', (headers, ms) => {
    expect(retryAfterMs(headers, Date.parse('Wed, 02 Dec 2026 12:00:00 GMT'))).toBe(ms);
  });
});

describe('a deployment at the default request settings', () => {
  let ws: LocalWorkspace;
  let raw: WorkspaceRestClient;
  let aml: AzureMlWorkspace;
  let scoring: EndpointScoring;
  let key: string;

  beforeAll(async () => {
    ws = await start();
    raw = rest(ws);
    aml = mlWorkspace(ws);
    scoring = new EndpointScoring({ caCert: ws.caCert, retry: { baseDelayMs: 100 } });
    const { modelId } = await trainAndRegister(ws, sdk(ws), { job: 'limits-train', model: 'demand', version: '1' });
    const endpoint = await aml.beginCreateEndpoint(EP, {});
    await waitFor(async () => (await aml.getOperationStatus(endpoint.operationUrl!)).status === 'Succeeded', EP);
    // No request settings sent: Azure's defaults apply.
    const blue = await aml.beginCreateDeployment(EP, 'blue', {
      modelId,
      instanceType: 'Standard_DS3_v2',
      instanceCount: 1,
      tags: {},
    });
    await waitFor(async () => (await aml.getOperationStatus(blue.operationUrl!)).status === 'Succeeded', 'blue');
    key = await aml.getEndpointKey(EP);
  }, 60_000);
  afterAll(async () => {
    scoring.close();
    raw.close();
    await ws.close();
    removeTempDirs();
  });

  /** Requests that stay in flight on blue (an injected latency) until they are answered. */
  const occupy = (n: number, latencyMs: number) => {
    ws.faults.add({ kind: 'scoring', endpoint: EP, deployment: 'blue', latencyMs, count: n });
    return Array.from({ length: n }, () =>
      raw.score(ws.scoringUri(EP), key, ROW, { 'azureml-model-deployment': 'blue' }),
    );
  };

  it('takes 2 × 1 × 1 requests at once and answers 429 beyond', async () => {
    const deployment = await aml.getDeployment(EP, 'blue');
    expect(deployment).toMatchObject({ maxConcurrentRequestsPerInstance: 1, instanceCount: 1 });
    expect(scoringConcurrency(deployment)).toBe(1);
    const answers = await Promise.all([
      ...occupy(2, 1500),
      raw.score(ws.scoringUri(EP), key, ROW, { 'azureml-model-deployment': 'blue' }),
    ]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 429]);
    expect((await raw.score(ws.scoringUri(EP), key, ROW, { 'azureml-model-deployment': 'blue' })).status).toBe(200);
  });

  it('deploys with the request settings of the policy', async () => {
    const activities = createActivities({ workspace: aml } as unknown as Parameters<typeof createActivities>[0]);
    const started = await activities.beginDeploy({
      endpointName: EP,
      slot: 'green',
      modelName: 'demand',
      modelVersion: '1',
      instanceType: 'Standard_DS3_v2',
      instanceCount: 1,
      requestSettings: { maxConcurrentRequestsPerInstance: 2, requestTimeout: 'PT10S' },
      promotionId: 'promote:demand:1',
    });
    expect(started.ok).toBe(true);
    const green = await aml.getDeployment(EP, 'green');
    expect(green?.maxConcurrentRequestsPerInstance).toBe(2);
    expect(scoringConcurrency(green)).toBe(2);
  });

  it('is scored again after a 429 or 503, waiting as long as Retry-After says', async () => {
    ws.faults.add({ kind: 'scoring', endpoint: EP, deployment: 'blue', status: 503, retryAfterSeconds: 1, count: 1 });
    ws.faults.add({ kind: 'scoring', endpoint: EP, deployment: 'blue', status: 429, count: 1 });
    const endpoint = await aml.getEndpoint(EP);
    const result = await scoring.score({
      scoringUri: endpoint!.scoringUri!,
      key,
      columns: ROW.input_data.columns,
      rows: ROW.input_data.data,
      deployment: 'blue',
    });
    expect(result.predictions).toHaveLength(1);
    ws.faults.add({ kind: 'scoring', endpoint: EP, deployment: 'blue', status: 400, count: 1 });
    await expect(
      scoring.score({ scoringUri: endpoint!.scoringUri!, key, columns: ['x1'], rows: [[1]], deployment: 'blue' }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('completes an evaluation while live traffic fills the allowance, the 429s it meets sent again', async () => {
    const table = evaluationRows(1200);
    const activities = createActivities({
      workspace: aml,
      scoring,
      data: { readDataAsset: async () => table },
      telemetry: { event: () => {}, exception: () => {} },
      approvalSecret: 'test-secret',
      publicUrl: 'http://127.0.0.1:7071',
      signal: async () => true,
    } as unknown as Parameters<typeof createActivities>[0]);
    const policy = parsePolicies({
      policies: [
        {
          modelName: 'demand',
          endpointName: EP,
          task: 'regression',
          evaluation: { mode: 'paired', dataAsset: { name: 'limits-eval', version: '1' }, labelColumn: 'y' },
          rollout: { instanceType: 'Standard_DS3_v2', testSpec: { sampleRows: [[0, 0, 0, 0]] } },
        },
      ],
    }).demand!;
    ws.resetScoringStats(EP);
    const live = occupy(2, 1000);
    const evidence = await activities.evaluateChallenger({
      policy,
      endpointName: EP,
      championSlot: null,
      challengerSlot: 'blue',
    });
    await Promise.all(live);
    expect(evidence).toMatchObject({ kind: 'paired', n: 1200 });
    ws.flushScoringStats();
    const [stats] = ws.scoringStats({ endpoint: EP, deployment: 'blue' });
    expect(stats?.clientErrors).toBeGreaterThan(0);
  });
});

/** Rows x1..x4 and a label y, as the workspace's data generator makes them (the evaluation needs no file here). */
function evaluationRows(n: number): Table {
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const x = [Math.sin(i), Math.cos(i), (i % 7) / 7, (i % 3) - 1];
    rows.push([...x, 3 + x[0]! - 2 * x[1]! + 0.5 * x[2]!]);
  }
  return { columns: ['x1', 'x2', 'x3', 'x4', 'y'], rows };
}
