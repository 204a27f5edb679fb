import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureMlWorkspace } from '../../lib/azure/ml-workspace';
import { createActivities, type ActivityDeps, type WorkspaceDeps } from '../../lib/activities';
import { AzureMlRegistry } from '../../lib/azure/ml-registry';
import type { LocalWorkspace } from '../../local/workspace/index';
import { BlobModelFiles, DatastoreContainers } from '../../lib/azure/blob-datastore';
import { LINEAGE_TAGS } from '../../lib/domain/environments';
import type { Evidence } from '../../lib/domain/evaluation';
import type { Endpoint, Deployment, EndpointMetrics } from '../../lib/ports';
import { mlWorkspace, removeTempDirs, sdk, start, trainAndRegister, waitFor } from './helpers';

const PROD = 'champion-prod';

describe('one host serving two workspaces under their own ARM ids', () => {
  let ws: LocalWorkspace;
  let qa: AzureMlWorkspace;
  let prod: AzureMlWorkspace;

  beforeAll(async () => {
    ws = await start({ workspaces: [{ workspaceName: PROD }] });
    qa = mlWorkspace(ws);
    prod = new AzureMlWorkspace(ws.credential(), {
      subscriptionId: ws.subscriptionId,
      resourceGroup: ws.resourceGroup,
      workspaceName: PROD,
      armEndpoint: ws.armEndpoint,
      caCert: ws.caCert,
    });
  }, 60_000);

  afterAll(async () => {
    await ws?.close();
    removeTempDirs();
  });

  it('keeps each workspace apart: an endpoint made in one is not in the other, and its operation is polled where it started', async () => {
    const prodWs = ws.workspaces[PROD]!;
    expect(prodWs.workspaceId).toBe(
      `/subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${PROD}`,
    );
    expect(prodWs.datastoreContainer).not.toBe(ws.datastoreContainer);
    const accepted = await prod.beginCreateEndpoint('only-in-prod', {});
    expect(accepted.operationUrl).toBeDefined();
    await waitFor(
      async () => (await prod.getOperationStatus(accepted.operationUrl!)).status === 'Succeeded',
      'the endpoint operation',
    );
    expect((await prod.getEndpoint('only-in-prod'))?.provisioningState).toBe('Succeeded');
    expect(await qa.getEndpoint('only-in-prod')).toBeUndefined();
    expect(prodWs.requestLog({ writesOnly: true }).map((r) => r.path)).toContain(
      `${prodWs.workspaceId}/onlineEndpoints/only-in-prod`,
    );
    expect(ws.requestLog({ writesOnly: true, path: 'only-in-prod' })).toEqual([]);
  });

  it('refuses an endpoint name another workspace of the region already has, creating nothing', async () => {
    const refused = await qa.beginCreateEndpoint('only-in-prod', {}).catch((e: unknown) => e);
    expect(refused).toMatchObject({ statusCode: 409 });
    expect(String((refused as Error).message)).toMatch(/unique per region/);
    expect(await qa.getEndpoint('only-in-prod')).toBeUndefined();
  });

  it('answers 404 for a workspace the host does not serve', async () => {
    const other = new AzureMlWorkspace(ws.credential(), {
      subscriptionId: ws.subscriptionId,
      resourceGroup: ws.resourceGroup,
      workspaceName: 'nowhere',
      armEndpoint: ws.armEndpoint,
      caCert: ws.caCert,
    });
    await expect(other.client.workspaces.get(ws.resourceGroup, 'nowhere')).rejects.toMatchObject({ statusCode: 404 });
    expect((await other.client.workspaces.get(ws.resourceGroup, PROD)).name).toBe(PROD);
  });

  it('runs an activity against the workspace its input names, and the app’s own otherwise', async () => {
    const reached: string[] = [];
    const deps = {
      workspace: qa,
      telemetry: { event: () => {}, exception: () => {} },
      approvalSecret: 'test-secret',
      publicUrl: 'http://127.0.0.1:7071',
      signal: async () => true,
      forWorkspace: (id: string): WorkspaceDeps => {
        reached.push(id);
        return { workspace: prod } as unknown as WorkspaceDeps;
      },
    } as unknown as ActivityDeps;
    const activities = createActivities(deps);
    const prodId = ws.workspaces[PROD]!.workspaceId;
    const there = await activities.readEndpoint({ endpointName: 'only-in-prod', workspace: prodId } as never);
    expect(there.exists).toBe(true);
    const here = await activities.readEndpoint({ endpointName: 'only-in-prod' });
    expect(here.exists).toBe(false);
    // One set of clients per workspace, built once.
    await activities.readEndpoint({ endpointName: 'only-in-prod', workspace: prodId.toUpperCase() } as never);
    expect(reached).toEqual([prodId]);
    await expect(
      activities.readEndpoint({ endpointName: 'x', workspace: '/subscriptions/nope' } as never),
    ).rejects.toThrow(/workspace: must be a workspace ARM id/);
  });
});

describe("copying a promoted version into the next environment's workspace", () => {
  let ws: LocalWorkspace;
  let qaId: string;
  let prodId: string;
  let prod: AzureMlWorkspace;
  let activities: ReturnType<typeof createActivities>;
  let registryId: string;
  let registry: AzureMlRegistry;
  const evidence = { kind: 'paired', decision: 'win', reason: 'better by 0.3' } as unknown as Evidence;

  beforeAll(async () => {
    ws = await start({ workspaces: [{ workspaceName: PROD }], registries: [{ registryName: 'shared-models' }] });
    qaId = ws.workspace.workspaceId;
    registryId = ws.registries['shared-models']!.registryId;
    registry = new AzureMlRegistry(sdk(ws), registryId, { armEndpoint: ws.armEndpoint, caCert: ws.caCert });
    prodId = ws.workspaces[PROD]!.workspaceId;
    const ports = (name: string) => {
      const workspace = new AzureMlWorkspace(ws.credential(), {
        subscriptionId: ws.subscriptionId,
        resourceGroup: ws.resourceGroup,
        workspaceName: name,
        armEndpoint: ws.armEndpoint,
        caCert: ws.caCert,
      });
      const files = new BlobModelFiles(
        new DatastoreContainers(workspace.client, ws.credential(), ws.resourceGroup, name, {
          blobServiceUrl: ws.blobServiceUrl,
          caCert: ws.caCert,
        }),
      );
      return { workspace, modelFiles: files } as unknown as WorkspaceDeps;
    };
    const qaPorts = ports(ws.workspaceName);
    const prodPorts = ports(PROD);
    prod = prodPorts.workspace as AzureMlWorkspace;
    activities = createActivities({
      ...qaPorts,
      telemetry: { event: () => {}, exception: () => {} },
      approvalSecret: 'test-secret',
      publicUrl: 'http://127.0.0.1:7071',
      signal: async () => true,
      forWorkspace: (id: string) => (id.toLowerCase() === prodId.toLowerCase() ? prodPorts : qaPorts),
      forRegistry: (id: string) => new AzureMlRegistry(sdk(ws), id, { armEndpoint: ws.armEndpoint, caCert: ws.caCert }),
    } as unknown as ActivityDeps);
    await trainAndRegister(ws, sdk(ws), {
      job: 'train-copy',
      model: 'pricing',
      version: '1',
      modelOutputUri: 'azureml://datastores/workspaceblobstore/paths/azureml/train-copy/model/',
    });
    await trainAndRegister(ws, sdk(ws), { job: 'train-kept', model: 'pricing', version: '2' });
    for (const version of ['4', '5']) {
      await trainAndRegister(ws, sdk(ws), {
        job: `train-registry-${version}`,
        model: 'pricing',
        version,
        modelOutputUri: `azureml://datastores/workspaceblobstore/paths/azureml/train-registry-${version}/model/`,
      });
    }
  }, 120_000);

  afterAll(async () => {
    await ws?.close();
    removeTempDirs();
  });

  const copy = (version: string, sourcePromotionId = 'promote:pricing:1@qa') =>
    activities.copyModelVersion({
      workspace: prodId,
      fromWorkspace: qaId,
      modelName: 'pricing',
      modelVersion: version,
      sourceEnvironment: 'qa',
      sourcePromotionId,
      evidence,
    });

  it('registers the same files in the target workspace under the same name and version, with lineage; once', async () => {
    const first = await copy('1');
    expect(first).toMatchObject({ ok: true, created: true });
    const copied = await prod.getModelVersion('pricing', '1');
    expect(copied?.tags).toEqual({
      [LINEAGE_TAGS.workspace]: qaId,
      [LINEAGE_TAGS.version]: 'pricing:1',
      [LINEAGE_TAGS.environment]: 'qa',
      [LINEAGE_TAGS.promotion]: 'promote:pricing:1@qa',
      [LINEAGE_TAGS.evidence]: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    expect(copied?.modelUri).toBe('azureml://datastores/workspaceblobstore/paths/champion/environments/qa/pricing/1');
    // The production workspace registered it from its own datastore, so it can deploy it (an MLflow model).
    expect(copied?.modelType).toBe('mlflow_model');
    const again = await copy('1');
    expect(again).toMatchObject({ ok: true, created: false });
    expect(ws.workspaces[PROD]!.requestLog({ method: 'PUT', path: '/models/pricing/versions/1' })).toHaveLength(1);
  });

  it('takes a copy an earlier attempt made as it is, and refuses a version of that name registered otherwise', async () => {
    const retried = await copy('1', 'promote:pricing:1:a2@qa');
    expect(retried).toMatchObject({ ok: true, created: false });
    expect(retried.ok && retried.tags[LINEAGE_TAGS.promotion]).toBe('promote:pricing:1@qa');
    // Registered in production by hand, under the name and version a copy would take.
    await prod.registerModelVersion({
      name: 'pricing',
      version: '3',
      modelUri: 'azureml://datastores/workspaceblobstore/paths/champion/environments/qa/pricing/1',
      modelType: 'mlflow_model',
    });
    const refused = await copy('3', 'promote:pricing:3@qa');
    expect(refused).toMatchObject({ ok: false, code: 'VersionExists' });
    expect((await prod.getModelVersion('pricing', '3'))?.tags).toEqual({});
  });

  it("goes through the environment's registry: the version is created there with its lineage, then registered in the workspace naming it; once", async () => {
    const through = () =>
      activities.copyModelVersion({
        workspace: prodId,
        fromWorkspace: qaId,
        modelName: 'pricing',
        modelVersion: '4',
        sourceEnvironment: 'qa',
        sourcePromotionId: 'promote:pricing:4@qa',
        evidence,
        registry: registryId,
      });
    const first = await through();
    expect(first).toMatchObject({ ok: true, created: true });
    const shared = await registry.getModelVersion('pricing', '4');
    expect(shared?.tags).toEqual({
      [LINEAGE_TAGS.workspace]: qaId,
      [LINEAGE_TAGS.version]: 'pricing:4',
      [LINEAGE_TAGS.environment]: 'qa',
      [LINEAGE_TAGS.promotion]: 'promote:pricing:4@qa',
      [LINEAGE_TAGS.evidence]: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    expect(shared?.modelType).toBe('mlflow_model');
    const copied = await prod.getModelVersion('pricing', '4');
    expect(copied?.tags[LINEAGE_TAGS.registry]).toBe('azureml://registries/shared-models/models/pricing/versions/4');
    expect(first.ok && first.tags[LINEAGE_TAGS.registry]).toBe(shared?.assetUri);
    // Again (a retried activity): nothing more is written to the registry or the workspace.
    expect(await through()).toMatchObject({ ok: true, created: false });
    expect(ws.requestLog({ writesOnly: true, path: /\/registries\/.*\/versions\/4/ }).map((r) => r.method)).toEqual([
      'POST',
      'PUT',
    ]);
  });

  it('refuses a version of that name already in the registry from elsewhere, registering nothing in the workspace', async () => {
    const upload = await registry.startPendingUpload('pricing', '5', 'by-hand');
    await registry.uploadFiles(upload, [{ path: 'MLmodel', content: Buffer.from('flavors: {}\n') }]);
    await registry.createModelVersion({
      name: 'pricing',
      version: '5',
      modelUri: upload.blobUri,
      modelType: 'custom_model',
      tags: {},
      properties: {},
    });
    const refused = await activities.copyModelVersion({
      workspace: prodId,
      fromWorkspace: qaId,
      modelName: 'pricing',
      modelVersion: '5',
      sourceEnvironment: 'qa',
      sourcePromotionId: 'promote:pricing:5@qa',
      registry: registryId,
    });
    expect(refused).toMatchObject({ ok: false, code: 'VersionExists' });
    expect(refused.ok ? '' : refused.message).toMatch(
      /already exists in .*registries\/shared-models and was not copied/,
    );
    expect(await prod.getModelVersion('pricing', '5')).toBeUndefined();
  });

  it('says why a model whose files the job kept cannot be copied, and registers nothing', async () => {
    const refused = await copy('2', 'promote:pricing:2@qa');
    expect(refused).toMatchObject({ ok: false, code: 'ModelFilesUnreachable' });
    expect(refused.ok ? '' : refused.message).toMatch(/output model of job train-kept, which names no datastore path/);
    expect(await prod.getModelVersion('pricing', '2')).toBeUndefined();
  });
});

describe('a bake gate reads the previous environment', () => {
  const endpoint: Endpoint = {
    name: 'pricing-qa',
    provisioningState: 'Succeeded',
    traffic: { blue: 100, green: 0 },
    mirrorTraffic: {},
    tags: {},
  };
  const deployments: Deployment[] = [
    {
      name: 'blue',
      endpointName: 'pricing-qa',
      provisioningState: 'Succeeded',
      modelId: '/x/models/pricing/versions/3',
      tags: {},
    },
  ];
  const bake = (counts: Awaited<ReturnType<EndpointMetrics['requestCounts']>>, traffic = endpoint.traffic) => {
    const qa = {
      workspace: { getEndpoint: async () => ({ ...endpoint, traffic }), listDeployments: async () => deployments },
      metrics: { requestCounts: async () => counts },
    };
    return createActivities({
      forWorkspace: () => qa,
      telemetry: { event: () => {}, exception: () => {} },
      approvalSecret: 'test-secret',
      publicUrl: 'http://127.0.0.1:7071',
      signal: async () => true,
    } as unknown as ActivityDeps).checkBake({
      workspace:
        '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/qa-ws',
      endpointName: 'pricing-qa',
      model: 'pricing:3',
      from: '2026-01-01T00:00:00Z',
      to: '2026-01-01T01:00:00Z',
      maxErrorRate: 0.01,
    });
  };

  it('passes with the version serving all traffic and errors within the limit', async () => {
    expect(await bake({ blue: { requests: 1000, serverErrors: 5, clientErrors: 40 } })).toEqual({
      ok: true,
      incidents: [],
      requests: 1000,
      serverErrors: 5,
    });
  });

  it('finds an incident in too many 5xx answers, or in the version no longer serving', async () => {
    const errors = await bake({ blue: { requests: 1000, serverErrors: 30, clientErrors: 0 } });
    expect(errors.ok).toBe(false);
    expect(errors.incidents).toEqual(['30 of 1000 requests answered 5xx (3.0 %, above 1 %)']);
    const rolledBack = await bake({}, { blue: 0, green: 100 });
    expect(rolledBack.incidents).toEqual(['pricing:3 no longer serves all of pricing-qa']);
  });
});
