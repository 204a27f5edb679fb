import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureMlWorkspace } from '../../lib/azure/ml-workspace';
import { createActivities, type ActivityDeps, type WorkspaceDeps } from '../../lib/activities';
import type { LocalWorkspace } from '../../local/workspace/index';
import { mlWorkspace, removeTempDirs, start, waitFor } from './helpers';

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
