/**
 * Which models beginDeploy deploys how, over the production adapter against the local workspace: an MLflow model
 * without a scoring script or an environment; a custom model only with the policy's codeConfiguration and environment
 * ("Guidelines for deploying MLflow models"), and without them not at all (no ARM write).
 */
import type { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCORING_SCRIPT_REQUIRED, type ActivityHandlers } from '../../lib/activities';
import type { LocalWorkspace } from '../../local/workspace/index';
import type { ActivityInput, Started } from '../../orchestrations/contract';
import {
  mlWorkspace,
  removeTempDirs,
  sdk,
  start,
  trainAndRegister,
  waitFor,
  workspaceActivities,
} from '../workspace/helpers';

const EP = 'deployable-ep';
const CODE = { codeId: 'azureml:score-code:1', scoringScript: 'score.py' };

describe('beginDeploy and the model type', () => {
  let ws: LocalWorkspace;
  let client: AzureMachineLearningWorkspaces;
  let activities: ActivityHandlers;

  const writes = () => ws.requestLog({ writesOnly: true }).filter((r) => r.status < 400).length;
  const deploy = (slot: 'blue' | 'green', modelName: string, extra: Partial<ActivityInput<'beginDeploy'>> = {}) =>
    activities.beginDeploy({
      endpointName: EP,
      slot,
      modelName,
      modelVersion: '1',
      instanceType: 'Standard_DS3_v2',
      instanceCount: 1,
      promotionId: `promote:${modelName}:1`,
      ...extra,
    });
  const settled = (started: Started, slot: 'blue' | 'green') =>
    waitFor(async () => {
      if (!started.ok) throw new Error(`not started: ${started.message}`);
      const check = await activities.checkProvisioning({ endpointName: EP, slot, operationUrl: started.operationUrl });
      return check.state === 'InProgress' ? undefined : check;
    }, 'the deployment to provision');
  const deployment = (slot: string) => client.onlineDeployments.get(ws.resourceGroup, ws.workspaceName, EP, slot);

  beforeAll(async () => {
    ws = await start();
    client = sdk(ws);
    activities = workspaceActivities(mlWorkspace(ws));
    await trainAndRegister(ws, client, { job: 'deployable-train', model: 'flow', version: '1' });
    await client.modelVersions.createOrUpdate(ws.resourceGroup, ws.workspaceName, 'custom', '1', {
      properties: { modelUri: 'azureml://jobs/deployable-train/outputs/model', modelType: 'custom_model' },
    });
    const endpoint = await activities.beginCreateEndpoint({ endpointName: EP, modelName: 'flow' });
    await waitFor(async () => {
      if (!endpoint.ok) throw new Error(endpoint.message);
      return (await activities.checkProvisioning({ endpointName: EP })).state === 'Succeeded';
    }, 'the endpoint');
  }, 60_000);

  afterAll(async () => {
    await ws.close();
    removeTempDirs();
  });

  it('deploys an mlflow_model without a scoring script or an environment', async () => {
    const started = await deploy('blue', 'flow');
    expect(await settled(started, 'blue')).toEqual({ state: 'Succeeded' });
    const sent = await deployment('blue');
    expect(sent.properties.codeConfiguration ?? undefined).toBeUndefined();
    expect(sent.properties.environmentId ?? undefined).toBeUndefined();
  });

  it('refuses a custom_model without a scoring script and an environment, before any ARM write', async () => {
    const before = writes();
    const started = await deploy('green', 'custom');
    expect(started).toMatchObject({ ok: false, code: SCORING_SCRIPT_REQUIRED });
    expect(!started.ok && started.message).toContain('rollout.codeConfiguration and rollout.environment');
    expect(writes()).toBe(before);
    const scriptOnly = await deploy('green', 'custom', { codeConfiguration: CODE });
    expect(scriptOnly).toMatchObject({ ok: false, code: SCORING_SCRIPT_REQUIRED });
  });

  it("sends a custom model's scoring script and environment from the policy", async () => {
    const started = await deploy('green', 'custom', { codeConfiguration: CODE, environmentId: 'azureml:score-env:1' });
    expect(await settled(started, 'green')).toEqual({ state: 'Succeeded' });
    const sent = await deployment('green');
    expect(sent.properties.codeConfiguration).toEqual(CODE);
    expect(sent.properties.environmentId).toBe('azureml:score-env:1');
  });
});
