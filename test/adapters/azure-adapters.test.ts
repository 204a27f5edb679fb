/** The production Azure adapters, with the official SDK's pipeline intact, against the local workspace over https. */
import { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticTokenCredential } from '../../lib/azure/credential';
import { AzureMlWorkspace, retryAfter } from '../../lib/azure/ml-workspace';
import { EndpointScoring, ScoringError } from '../../lib/azure/scoring';
import type { LocalWorkspace } from '../../local/workspace/index';
import {
  mlWorkspace,
  PROVISIONING_MS,
  removeTempDirs,
  rest,
  dataReader,
  sdk,
  start,
  trainAndRegister,
  waitFor,
} from '../workspace/helpers';

describe('retryAfter: how long ARM asks a poller to wait', () => {
  const headers = (h: Record<string, string>) => ({ get: (name: string) => h[name.toLowerCase()] });
  it.each([
    [{ 'retry-after-ms': '250', 'retry-after': '10' }, 0.25],
    [{ 'x-ms-retry-after-ms': '40' }, 0.04],
    [{ 'retry-after-ms': '0', 'retry-after': '1' }, 0],
    [{ 'retry-after-ms': 'soon', 'retry-after': '3' }, 3],
    [{ 'retry-after': '7' }, 7],
    [{ 'retry-after': '0' }, 5],
    [{}, 5],
  ])('%j → %s s', (h, seconds) => {
    expect(retryAfter(headers(h))).toBe(seconds);
  });
});

describe('Azure adapters against the local workspace', () => {
  let ws: LocalWorkspace;
  let aml: AzureMlWorkspace;
  let scoring: EndpointScoring;
  let modelId: string;

  beforeAll(async () => {
    ws = await start();
    aml = mlWorkspace(ws);
    scoring = new EndpointScoring({ caCert: ws.caCert });
    ({ modelId } = await trainAndRegister(ws, sdk(ws), { job: 'train-a', model: 'churn', version: '1' }));
  });
  afterAll(async () => {
    scoring.close();
    await ws.close();
    removeTempDirs();
  });

  it('reads a data asset through its datastore and the Blob REST API', async () => {
    await ws.generateData({ name: 'eval', version: '1', rows: 50, seed: 3 });
    const reader = dataReader(ws);
    const table = await reader.readDataAsset('eval', '1');
    expect(table.columns).toEqual(['x1', 'x2', 'x3', 'x4', 'y']);
    expect(table.rows).toHaveLength(50);
    expect(table.rows.every((r) => r.every((v) => typeof v === 'number'))).toBe(true);
    await expect(reader.readDataAsset('eval', '9')).rejects.toThrow();
  });

  it('changes model tags without losing the others', async () => {
    await aml.updateModelTags('churn', '1', { stage: 'staged', owner: 'ana' }, []);
    const updated = await aml.updateModelTags('churn', '1', { stage: 'production' }, ['owner']);
    expect(updated.tags).toMatchObject({ stage: 'production' });
    expect(updated.tags.owner).toBeUndefined();
    expect((await aml.getModelVersion('churn', '1'))?.tags.stage).toBe('production');
    expect(await aml.getModelVersion('churn', '42')).toBeUndefined();
  });

  it('reads who registered a version from its systemData, whatever its tags say', async () => {
    const dana = new AzureMachineLearningWorkspaces(
      new StaticTokenCredential(ws.tokenFor('dana@contoso.com')),
      ws.subscriptionId,
      { endpoint: ws.armEndpoint, tlsOptions: { ca: ws.caCert } },
    );
    await dana.modelVersions.createOrUpdate(ws.resourceGroup, ws.workspaceName, 'churn', '2', {
      properties: {
        modelUri: 'azureml://jobs/train-a/outputs/model',
        modelType: 'mlflow_model',
        tags: { registered_by: 'bo@contoso.com' },
      },
    });
    const byDana = { createdBy: 'dana@contoso.com', createdByType: 'User' };
    expect(await aml.getModelVersion('churn', '2')).toMatchObject(byDana);
    expect((await aml.listModelVersions('churn')).find((v) => v.version === '2')).toMatchObject(byDana);
    // What the app registers is its managed identity's, and stays so when a user tags it later.
    const byApp = { createdBy: ws.appIdentity.name, createdByType: 'ManagedIdentity' };
    expect(
      await aml.registerModelVersion({
        name: 'churn',
        version: '3',
        modelUri: 'azureml://jobs/train-a/outputs/model',
        modelType: 'mlflow_model',
      }),
    ).toMatchObject(byApp);
    await new AzureMlWorkspace(new StaticTokenCredential(ws.tokenFor('dana@contoso.com')), {
      subscriptionId: ws.subscriptionId,
      resourceGroup: ws.resourceGroup,
      workspaceName: ws.workspaceName,
      armEndpoint: ws.armEndpoint,
      caCert: ws.caCert,
    }).updateModelTags('churn', '3', { note: 'checked' }, []);
    expect(await aml.getModelVersion('churn', '3')).toMatchObject({ ...byApp, tags: { note: 'checked' } });
  });

  it('creates an endpoint and a deployment without waiting, and polls their operations', async () => {
    const endpoint = await aml.beginCreateEndpoint('ep-a', { team: 'ml' });
    expect(endpoint.operationUrl).toMatch(/^https:/);
    await waitFor(
      async () => (await aml.getOperationStatus(endpoint.operationUrl!)).status === 'Succeeded',
      'endpoint',
    );
    const deployment = await aml.beginCreateDeployment('ep-a', 'blue', {
      modelId,
      instanceType: 'Standard_DS3_v2',
      instanceCount: 1,
      tags: { 'champion.model': 'churn:1' },
    });
    // The operation is due within the workspace's provisioning time, and retry-after-ms says so.
    expect(deployment.retryAfterSeconds).toBeGreaterThan(0);
    expect(deployment.retryAfterSeconds).toBeLessThanOrEqual(PROVISIONING_MS / 1000);
    await waitFor(async () => (await aml.getOperationStatus(deployment.operationUrl!)).status === 'Succeeded', 'blue');
    const blue = await aml.getDeployment('ep-a', 'blue');
    expect(blue).toMatchObject({ provisioningState: 'Succeeded', modelId, tags: { 'champion.model': 'churn:1' } });
  });

  it('refuses an endpoint name that would address another resource, and sends nothing', async () => {
    // Unchecked, `x/../ep-a` went into the path raw and the URL resolved to ep-a itself.
    const before = ws.requestLog().length;
    await expect(aml.getEndpoint('x/../ep-a')).rejects.toThrow(/endpointName: "x\/\.\.\/ep-a" must be 3–32 characters/);
    await expect(aml.readTraffic('ep-a/../../onlineEndpoints/ep-a')).rejects.toThrow(/endpointName/);
    expect(ws.requestLog().length).toBe(before);
    expect((await aml.getEndpoint('ep-a'))?.name).toBe('ep-a');
  });

  it('polls operation status only on the ARM endpoint, which is where the token may go', async () => {
    await expect(aml.getOperationStatus('https://example.invalid/operations/1')).rejects.toThrow(
      /not on the ARM endpoint/,
    );
  });

  it('reports why a deployment failed from its operation status', async () => {
    ws.faults.add({ kind: 'provisioning', endpoint: 'ep-a', deployment: 'green', code: 'OutOfQuota', count: 1 });
    const accepted = await aml.beginCreateDeployment('ep-a', 'green', {
      modelId,
      instanceType: 'Standard_DS3_v2',
      instanceCount: 1,
      tags: {},
    });
    const status = await waitFor(async () => {
      const s = await aml.getOperationStatus(accepted.operationUrl!);
      return s.status === 'InProgress' ? undefined : s;
    }, 'green to fail');
    expect(status.status).toBe('Failed');
    expect(status.error?.code).toBe('OutOfQuota');
  });

  it('moves traffic between slots and keeps mirror traffic the typed client would drop', async () => {
    const move = async (traffic: Record<string, number>) => aml.replaceTraffic(await aml.readTraffic('ep-a'), traffic);
    const first = await move({ blue: 100 });
    expect(first.operationUrl).toMatch(/mfeOperationsStatus/);
    await waitFor(async () => (await aml.getOperationStatus(first.operationUrl!)).status === 'Succeeded', 'update');
    expect(await aml.readTraffic('ep-a')).toMatchObject({ traffic: { blue: 100 }, provisioningState: 'Succeeded' });
    const accepted = await aml.beginCreateDeployment('ep-a', 'green', {
      modelId,
      instanceType: 'Standard_DS3_v2',
      instanceCount: 1,
      tags: {},
    });
    await waitFor(async () => (await aml.getOperationStatus(accepted.operationUrl!)).status === 'Succeeded', 'green');
    // Someone mirrors 10 % to green with a newer api-version.
    const path = `${rest(ws).workspacePath}/onlineEndpoints/ep-a?api-version=2023-04-01`;
    const endpoint = (await rest(ws).request('GET', path)).body as { properties: Record<string, unknown> };
    endpoint.properties.mirrorTraffic = { green: 10 };
    expect((await rest(ws).request('PUT', path, { body: endpoint })).status).toBeLessThan(300);
    await waitFor(async () => (await aml.getEndpoint('ep-a'))?.provisioningState === 'Succeeded', 'mirror applied');

    // A traffic change keeps the mirror (a typed GET-change-PUT would have wiped it).
    await move({ blue: 100, green: 0 });
    const kept = await waitFor(async () => {
      const e = await aml.getEndpoint('ep-a');
      return e?.provisioningState === 'Succeeded' && e.traffic.green === 0 ? e : undefined;
    }, 'traffic update');
    expect(kept.mirrorTraffic).toEqual({ green: 10 });

    // Green cannot take live traffic while mirrored: clear the mirror, then shift.
    const cleared = (await rest(ws).request('GET', path)).body as { properties: Record<string, unknown> };
    cleared.properties.mirrorTraffic = {};
    await rest(ws).request('PUT', path, { body: cleared });
    await waitFor(async () => (await aml.getEndpoint('ep-a'))?.provisioningState === 'Succeeded', 'mirror cleared');
    await move({ blue: 0, green: 100 });
    const after = await waitFor(async () => {
      const e = await aml.getEndpoint('ep-a');
      return e?.traffic.green === 100 && e.provisioningState === 'Succeeded' ? e : undefined;
    }, 'traffic to move');
    expect(after.traffic).toEqual({ blue: 0, green: 100 });
  });

  it('scores through the split and through the deployment header with the endpoint key', async () => {
    const endpoint = await aml.getEndpoint('ep-a');
    const key = await aml.getEndpointKey('ep-a');
    const request = {
      scoringUri: endpoint!.scoringUri!,
      key,
      columns: ['x1', 'x2', 'x3', 'x4'],
      rows: [[0.1, 0.2, 0.3, 0.4]],
    };
    const routed = await scoring.score(request);
    expect(routed.servedBy).toBe('green');
    const pinned = await scoring.score({ ...request, deployment: 'blue' });
    expect(pinned.servedBy).toBe('blue');
    expect(pinned.predictions).toHaveLength(1);
    await expect(scoring.score({ ...request, key: 'wrong' })).rejects.toBeInstanceOf(ScoringError);
  });
});
