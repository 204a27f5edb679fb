/**
 * A deployment delete as ARM runs it, and Champion following it. OnlineDeployments_Delete in the REST specification
 * (specification/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable/2022-10-01/
 * mfe.json) answers 202 with `Location`, `Retry-After` and `x-ms-async-operation-timeout` (no Azure-AsyncOperation);
 * ARM's async contract has the Location answer 202 while the operation runs and 204 once a delete is done. A PUT to
 * the deployment meanwhile is refused with 409 Conflict. Deletes here take a second, so every step is seen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityHandlers } from '../../lib/activities';
import type { WorkspaceRestClient } from '../../local/workspace/client';
import type { LocalWorkspace } from '../../local/workspace/index';
import type { Removal } from '../../orchestrations/contract';
import {
  deploymentBody,
  mlWorkspace,
  removeTempDirs,
  rest,
  sdk,
  start,
  trainAndRegister,
  waitFor,
  workspaceActivities,
} from '../workspace/helpers';

const EP = 'del-ep';

describe('a deployment delete: 202 + Location, polled until done, refusing a PUT meanwhile', () => {
  let ws: LocalWorkspace;
  let raw: WorkspaceRestClient;
  let activities: ActivityHandlers;
  let modelId: string;

  const deploy = (slot: 'blue' | 'green', version: string) =>
    activities.beginDeploy({
      endpointName: EP,
      slot,
      modelName: 'demand',
      modelVersion: version,
      instanceType: 'Standard_DS3_v2',
      instanceCount: 1,
      promotionId: `promote:demand:${version}`,
    });
  const provisioned = (slot: 'blue' | 'green') =>
    waitFor(
      async () =>
        (await raw.arm('GET', `/onlineEndpoints/${EP}/deployments/${slot}`)).body?.properties?.provisioningState ===
        'Succeeded',
      slot,
    );

  beforeAll(async () => {
    ws = await start({ provisioningMs: 2000 });
    raw = rest(ws);
    activities = workspaceActivities(mlWorkspace(ws));
    const client = sdk(ws);
    ({ modelId } = await trainAndRegister(ws, client, { job: 'del-train-1', model: 'demand', version: '1' }));
    await trainAndRegister(ws, client, { job: 'del-train-2', model: 'demand', version: '2', seed: 2 });
    const created = await activities.beginCreateEndpoint({ endpointName: EP, modelName: 'demand' });
    await waitFor(
      async () => (await raw.arm('GET', `/onlineEndpoints/${EP}`)).body?.properties?.provisioningState === 'Succeeded',
      EP,
    );
    expect(created.ok).toBe(true);
  }, 60_000);
  afterAll(async () => {
    raw.close();
    await ws.close();
    removeTempDirs();
  });

  it('answers the DELETE as the specification says, and the Location 202 until the delete is done, then 204', async () => {
    await deploy('blue', '1');
    await provisioned('blue');
    const del = await raw.arm('DELETE', `/onlineEndpoints/${EP}/deployments/blue`);
    expect(del.status).toBe(202);
    expect(del.headers.location).toMatch(/mfeOperationResults/);
    expect(del.headers['retry-after']).toBeDefined();
    expect(del.headers['x-ms-async-operation-timeout']).toBeDefined();
    expect(del.headers['azure-asyncoperation']).toBeUndefined();
    expect((await raw.request('GET', del.headers.location as string)).status).toBe(202);
    const put = await raw.arm('PUT', `/onlineEndpoints/${EP}/deployments/blue`, deploymentBody('local', modelId));
    expect(put.status).toBe(409);
    expect(put.body.error.code).toBe('Conflict');
    const done = await waitFor(async () => {
      const r = await raw.request('GET', del.headers.location as string);
      return r.status === 202 ? undefined : r;
    }, 'the delete');
    expect(done.status).toBe(204);
    expect((await raw.arm('GET', `/onlineEndpoints/${EP}/deployments/blue`)).status).toBe(404);
  });

  it("Champion's delete is followed through its Location, and only then does a deploy into the slot succeed", async () => {
    await deploy('green', '1');
    await provisioned('green');
    const removal: Removal = await activities.deleteDeployment({ endpointName: EP, slot: 'green' });
    expect(removal).toMatchObject({ deleted: true, operationUrl: expect.stringMatching(/mfeOperationResults/) });
    if (!removal.deleted) return;

    // What a promotion that did not wait met: the next challenger's PUT refused while the delete runs.
    expect(await deploy('green', '2')).toMatchObject({ ok: false, code: 'Conflict' });
    const follow = { endpointName: EP, slot: 'green' as const, operationUrl: removal.operationUrl, deleting: true };
    expect(await activities.checkProvisioning(follow)).toMatchObject({ state: 'InProgress' });
    await waitFor(async () => (await activities.checkProvisioning(follow)).state === 'Succeeded', 'the delete');
    // Without the operation, the deployment itself is followed: gone means done.
    expect(await activities.checkProvisioning({ ...follow, operationUrl: undefined })).toEqual({ state: 'Succeeded' });
    expect(await activities.deleteDeployment({ endpointName: EP, slot: 'green' })).toEqual({ deleted: false });
    expect(await deploy('green', '2')).toMatchObject({ ok: true });
  });
});
