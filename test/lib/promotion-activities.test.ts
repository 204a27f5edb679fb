/**
 * Promotion activities over the production adapters against the local workspace: a re-run of an activity whose
 * ARM operation is still in progress (the host crashed before recording its result) follows that operation
 * instead of failing on ARM's 409 or writing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityHandlers } from '../../lib/activities';
import type { LocalWorkspace } from '../../local/workspace/index';
import type { ProvisioningCheck, Started } from '../../orchestrations/contract';
import {
  mlWorkspace,
  removeTempDirs,
  sdk,
  start,
  trainAndRegister,
  waitFor,
  workspaceActivities,
} from '../workspace/helpers';

describe('promotion activities re-run while ARM still works on their operation', () => {
  let ws: LocalWorkspace;
  let activities: ActivityHandlers;

  const settled = (started: Started, target: { slot?: 'blue' | 'green' }) =>
    waitFor(async () => {
      if (!started.ok) throw new Error(`not started: ${started.message}`);
      const check: ProvisioningCheck = await activities.checkProvisioning({
        endpointName: 'promo-ep',
        ...target,
        operationUrl: started.operationUrl,
      });
      return check.state === 'InProgress' ? undefined : check;
    }, 'the operation to finish');
  /** ARM writes that changed something (a refused PUT is logged too). */
  const writes = () => ws.requestLog({ writesOnly: true }).filter((r) => r.status < 400).length;

  beforeAll(async () => {
    ws = await start({ provisioningMs: 300 });
    const workspace = mlWorkspace(ws);
    activities = workspaceActivities(workspace);
    await trainAndRegister(ws, sdk(ws), { job: 'train-a', model: 'demand', version: '1' });
  });
  afterAll(async () => {
    await ws.close();
    removeTempDirs();
  });

  it('follows the endpoint creation and the deployment it already started', async () => {
    const endpoint = await activities.beginCreateEndpoint({ endpointName: 'promo-ep', modelName: 'demand' });
    const again = await activities.beginCreateEndpoint({ endpointName: 'promo-ep', modelName: 'demand' });
    expect(again).toMatchObject({ ok: true });
    expect(await settled(again, {})).toEqual({ state: 'Succeeded' });
    expect(await settled(endpoint, {})).toEqual({ state: 'Succeeded' });

    const deploy = {
      endpointName: 'promo-ep',
      slot: 'blue' as const,
      modelName: 'demand',
      modelVersion: '1',
      instanceType: 'Standard_DS3_v2',
      instanceCount: 1,
      promotionId: 'promote:demand:1',
    };
    const first = await activities.beginDeploy(deploy);
    const before = writes();
    const rerun = await activities.beginDeploy(deploy);
    expect(rerun).toMatchObject({ ok: true });
    expect(writes()).toBe(before);
    expect(await settled(rerun, { slot: 'blue' })).toEqual({ state: 'Succeeded' });
    expect(await settled(first, { slot: 'blue' })).toEqual({ state: 'Succeeded' });
  });

  it('follows a traffic change it already made instead of refusing its own result', async () => {
    const shift = {
      endpointName: 'promo-ep',
      traffic: { blue: 100 },
      expect: { deployment: 'blue' as const, model: 'demand:1', traffic: {} },
    };
    const first = await activities.setTraffic(shift);
    expect(first).toMatchObject({ ok: true });
    const before = writes();
    const rerun = await activities.setTraffic(shift);
    expect(rerun).toEqual({ ok: true, retryAfterSeconds: 0 });
    expect(writes()).toBe(before);
    expect(await settled(rerun, {})).toEqual({ state: 'Succeeded' });
    // A change the endpoint no longer fits is refused without a write.
    const stale = await activities.setTraffic({
      ...shift,
      traffic: { blue: 0 },
      expect: { ...shift.expect, traffic: {} },
    });
    expect(stale).toMatchObject({ ok: false, code: 'EndpointChanged' });
    expect(writes()).toBe(before);
  });

  it('sends a change again when the update that asked for it failed', async () => {
    ws.faults.add({ kind: 'provisioning', target: 'endpoint', code: 'ResourceNotReady', count: 1 });
    const failed = await activities.setTraffic({ endpointName: 'promo-ep', traffic: { blue: 0 } });
    expect(await settled(failed, {})).toMatchObject({ state: 'Failed', code: 'ResourceNotReady' });
    const before = writes();
    const again = await activities.setTraffic({ endpointName: 'promo-ep', traffic: { blue: 0 } });
    expect(writes()).toBe(before + 1);
    expect(await settled(again, {})).toEqual({ state: 'Succeeded' });
  });

  it('re-runs a guarded step whose update failed as a change of its own, and checks the slot first', async () => {
    const shift = {
      endpointName: 'promo-ep',
      traffic: { blue: 100 },
      expect: { deployment: 'blue' as const, model: 'demand:1', traffic: { blue: 0 } },
    };
    ws.faults.add({ kind: 'provisioning', target: 'endpoint', code: 'ResourceNotReady', count: 1 });
    expect(await settled(await activities.setTraffic(shift), {})).toMatchObject({ state: 'Failed' });
    // The split is the one it asked for (not the expected one): its own, so it is sent again.
    const before = writes();
    const rerun = await activities.setTraffic(shift);
    expect(rerun).toMatchObject({ ok: true });
    expect(writes()).toBe(before + 1);
    expect(await settled(rerun, {})).toEqual({ state: 'Succeeded' });
    // The split it wants is there, but the slot serves another model: not its own doing.
    const other = await activities.setTraffic({ ...shift, expect: { ...shift.expect, model: 'demand:9' } });
    expect(other).toMatchObject({ ok: false, code: 'EndpointChanged' });
    expect(writes()).toBe(before + 1);
  });
});
