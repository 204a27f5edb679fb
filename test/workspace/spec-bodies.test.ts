import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceRestClient } from '../../local/workspace/client';
import type { LocalWorkspace } from '../../local/workspace/index';
import { PROVISIONING_MS, removeTempDirs, rest, start, trainingCode, waitFor } from './helpers';

// Request bodies shaped like the 2022-10-01 REST specification's examples (placeholders replaced with values the
// local workspace can act on). Responses must carry the same property names as the examples' responses.

let ws: LocalWorkspace;
let raw: WorkspaceRestClient;

const systemDataKeys = [
  'createdAt',
  'createdBy',
  'createdByType',
  'lastModifiedAt',
  'lastModifiedBy',
  'lastModifiedByType',
];

beforeAll(async () => {
  ws = await start();
  raw = rest(ws);
});

afterAll(async () => {
  raw.close();
  await ws.close();
  removeTempDirs();
});

function expectResource(body: Record<string, unknown>, type: string): void {
  expect(Object.keys(body)).toEqual(expect.arrayContaining(['id', 'name', 'type', 'properties', 'systemData']));
  expect(body.type).toBe(`Microsoft.MachineLearningServices/workspaces/${type}`);
  expect(Object.keys(body.systemData as object).sort()).toEqual([...systemDataKeys].sort());
}

describe('REST specification example bodies', () => {
  it('DataVersionBase/createOrUpdate', async () => {
    await ws.generateData({ name: 'spec-data-src', rows: 100 });
    const src = await raw.arm('GET', '/data/spec-data-src/versions/1');
    const body = {
      properties: {
        dataType: 'uri_file',
        dataUri: src.body.properties.dataUri,
        description: 'string',
        tags: { string: 'string' },
        properties: { string: 'string' },
        isAnonymous: false,
      },
    };
    const r = await raw.arm('PUT', '/data/spec-data/versions/1', body);
    expect(r.status).toBe(201);
    expectResource(r.body, 'data/versions');
    expect(r.body.properties).toMatchObject(body.properties);
    expect((await raw.arm('PUT', '/data/spec-data/versions/1', body)).status).toBe(200);
  });

  it('EnvironmentVersion/createOrUpdate', async () => {
    const body = {
      properties: {
        description: 'string',
        tags: { string: 'string' },
        properties: { string: 'string' },
        isAnonymous: false,
        image: 'docker.io/tensorflow/serving:latest',
        condaFile: 'string',
        build: {
          contextUri:
            'https://storage-account.blob.core.windows.net/azureml/DockerBuildContext/95ddede6b9b8c4e90472db3acd0a8d28/',
          dockerfilePath: 'prod/Dockerfile',
        },
        inferenceConfig: {
          livenessRoute: { path: 'string', port: 1 },
          readinessRoute: { path: 'string', port: 1 },
          scoringRoute: { path: 'string', port: 1 },
        },
      },
    };
    const r = await raw.arm('PUT', '/environments/spec-env/versions/1', body);
    expect(r.status).toBe(201);
    expectResource(r.body, 'environments/versions');
    expect(r.body.properties).toMatchObject(body.properties);
    expect(r.body.properties.environmentType).toBeDefined();
  });

  it('Job/CommandJob/createOrUpdate (its placeholder computeId is refused; with a compute id the command fails at run time, clearly)', async () => {
    const body = {
      properties: {
        description: 'string',
        tags: { string: 'string' },
        properties: { string: 'string' },
        displayName: 'string',
        experimentName: 'string',
        services: {
          string: { jobServiceType: 'string', port: 1, endpoint: 'string', properties: { string: 'string' } },
        },
        computeId: 'string',
        jobType: 'Command',
        resources: { instanceCount: 1, instanceType: 'string', properties: { string: { a: null } } },
        codeId: 'string',
        command: 'string',
        environmentId: 'string',
        inputs: { string: { description: 'string', jobInputType: 'literal', value: 'string' } },
        outputs: {
          string: { description: 'string', jobOutputType: 'uri_file', mode: 'ReadWriteMount', uri: 'string' },
        },
        distribution: { distributionType: 'TensorFlow', workerCount: 1, parameterServerCount: 1 },
        limits: { timeout: 'PT5M', jobLimitsType: 'Command' },
        environmentVariables: { string: 'string' },
        identity: { identityType: 'AMLToken' },
      },
    };
    const placeholder = await raw.arm('PUT', '/jobs/spec-job', body);
    expect(placeholder.status).toBe(400);
    expect(placeholder.body.error).toMatchObject({ code: 'UserError', target: 'properties.computeId' });
    body.properties.computeId = `${raw.workspacePath}/computes/cpu-cluster`;
    // The example's codeId is a placeholder too: a job names a code version of the workspace by its ARM id.
    const noCode = await raw.arm('PUT', '/jobs/spec-job', body);
    expect(noCode.status).toBe(400);
    expect(noCode.body.error).toMatchObject({ code: 'UserError', target: 'properties.codeId' });
    body.properties.codeId = await trainingCode(ws);
    const r = await raw.arm('PUT', '/jobs/spec-job', body);
    expect(r.status).toBe(201);
    expectResource(r.body, 'jobs');
    expect(r.body.properties.status).toBe('NotStarted');
    for (const k of Object.keys(body.properties)) expect(r.body.properties).toHaveProperty(k);
    const failed = await waitFor(async () => {
      const j = await raw.arm('GET', '/jobs/spec-job');
      return j.body.properties.status === 'Failed' ? j.body : undefined;
    }, 'spec job to fail');
    expect(failed.properties.properties['error.message']).toMatch(/no task/);
  });

  it('ModelVersion/createOrUpdate and ModelContainer/createOrUpdate', async () => {
    const container = {
      properties: { description: 'string', tags: { string: 'string' }, properties: { string: 'string' } },
    };
    const c = await raw.arm('PUT', '/models/spec-model', container);
    expect(c.status).toBe(201);
    expectResource(c.body, 'models');
    expect(Object.keys(c.body.properties)).toEqual(
      expect.arrayContaining(['description', 'tags', 'properties', 'isArchived', 'latestVersion', 'nextVersion']),
    );
    const body = {
      properties: {
        description: 'string',
        tags: { string: 'string' },
        properties: { string: 'string' },
        isAnonymous: false,
        flavors: { string: { data: { string: 'string' } } },
        modelType: 'CustomModel',
        modelUri: 'string',
      },
    };
    const r = await raw.arm('PUT', '/models/spec-model/versions/1', body);
    expect(r.status).toBe(201);
    expectResource(r.body, 'models/versions');
    expect(r.body.properties).toMatchObject(body.properties);
  });

  it('OnlineEndpoint create, get, update (PATCH), getToken, listKeys and delete', async () => {
    const body = {
      properties: { description: 'string', properties: { string: 'string' }, authMode: 'AMLToken', traffic: {} },
      tags: {},
      location: 'string',
      kind: 'string',
      identity: { type: 'SystemAssigned', userAssignedIdentities: { string: {} } },
      sku: { name: 'string', tier: 'Free', size: 'string', family: 'string', capacity: 1 },
    };
    const created = await raw.arm('PUT', '/onlineEndpoints/spec-ep', body);
    expect(created.status).toBe(201);
    expect(created.body.properties.provisioningState).toBe('Creating');
    expect(created.headers['azure-asyncoperation']).toMatch(/mfeOperationsStatus/);
    expect(created.headers['retry-after']).toBeDefined();
    // The operation finishes within the provisioning time; retry-after-ms tells a poller when.
    const hintMs = Number(created.headers['retry-after-ms']);
    expect(hintMs).toBeGreaterThan(0);
    expect(hintMs).toBeLessThanOrEqual(PROVISIONING_MS);
    expect((await raw.waitForOperation(created)).status).toBe('Succeeded');
    const got = await raw.arm('GET', '/onlineEndpoints/spec-ep');
    // Property names of OnlineEndpoint/get.json.
    expect(Object.keys(got.body)).toEqual(
      expect.arrayContaining([
        'id',
        'name',
        'type',
        'properties',
        'systemData',
        'tags',
        'location',
        'kind',
        'identity',
        'sku',
      ]),
    );
    expect(Object.keys(got.body.properties)).toEqual(
      expect.arrayContaining([
        'description',
        'properties',
        'scoringUri',
        'swaggerUri',
        'authMode',
        'provisioningState',
        'traffic',
      ]),
    );
    expect(Object.keys(got.body.identity)).toEqual(expect.arrayContaining(['type', 'principalId', 'tenantId']));

    const patch = await raw.arm('PATCH', '/onlineEndpoints/spec-ep', {
      tags: {},
      identity: { type: 'SystemAssigned', userAssignedIdentities: { string: {} } },
    });
    expect(patch.status).toBe(202);
    expect(patch.headers.location).toMatch(/mfeOperationResults/);
    await raw.waitForOperation(patch);

    const token = await raw.arm('POST', '/onlineEndpoints/spec-ep/token');
    expect(Object.keys(token.body).sort()).toEqual([
      'accessToken',
      'expiryTimeUtc',
      'refreshAfterTimeUtc',
      'tokenType',
    ]);

    // OnlineEndpoints_Delete in stable/2022-10-01/mfe.json: 202 with Location, Retry-After, x-ms-async-operation-timeout.
    const del = await raw.arm('DELETE', '/onlineEndpoints/spec-ep');
    expect(del.status).toBe(202);
    expect(del.headers.location).toMatch(/mfeOperationResults/);
    expect(del.headers['azure-asyncoperation']).toBeUndefined();
    expect((await raw.waitForOperation(del)).status).toBe('Succeeded');
    expect((await raw.arm('GET', '/onlineEndpoints/spec-ep')).status).toBe(404);
    expect((await raw.arm('DELETE', '/onlineEndpoints/spec-ep')).status).toBe(204);
  });

  it('OnlineDeployment/ManagedOnlineDeployment/createOrUpdate', async () => {
    await ws.generateData({ name: 'spec-train', rows: 100 });
    await raw.arm('PUT', '/jobs/spec-train-job', {
      properties: {
        jobType: 'Command',
        command: 'python train.py --task regression --target y --data azureml:spec-train:1',
        codeId: await trainingCode(ws),
        environmentId: 'azureml:env:1',
      },
    });
    await waitFor(
      async () => (await raw.arm('GET', '/jobs/spec-train-job')).body.properties.status === 'Completed',
      'training',
    );
    const model = await raw.arm('PUT', '/models/spec-trained/versions/1', {
      properties: { modelUri: 'azureml://jobs/spec-train-job/outputs/model' },
    });
    await raw.putAndWait('/onlineEndpoints/spec-ep2', {
      location: 'string',
      identity: { type: 'SystemAssigned' },
      properties: { authMode: 'Key' },
    });
    const body = {
      properties: {
        description: 'string',
        properties: { string: 'string' },
        codeConfiguration: { codeId: 'string', scoringScript: 'string' },
        environmentId: 'string',
        environmentVariables: { string: 'string' },
        scaleSettings: { scaleType: 'Default' },
        requestSettings: { maxQueueWait: 'PT5M', requestTimeout: 'PT5M', maxConcurrentRequestsPerInstance: 1 },
        appInsightsEnabled: false,
        livenessProbe: {
          failureThreshold: 1,
          successThreshold: 1,
          timeout: 'PT5M',
          period: 'PT5M',
          initialDelay: 'PT5M',
        },
        instanceType: 'string',
        model: model.body.id,
        endpointComputeType: 'Managed',
        modelMountPath: 'string',
        readinessProbe: {
          failureThreshold: 30,
          successThreshold: 1,
          timeout: 'PT2S',
          period: 'PT10S',
          initialDelay: 'PT1S',
        },
      },
      tags: {},
      location: 'string',
      kind: 'string',
      identity: { type: 'SystemAssigned', userAssignedIdentities: { string: {} } },
      sku: { name: 'string', tier: 'Free', size: 'string', family: 'string', capacity: 1 },
    };
    const r = await raw.arm('PUT', '/onlineEndpoints/spec-ep2/deployments/testDeploymentName', body);
    expect(r.status).toBe(201);
    expect(r.body.properties).toMatchObject({ ...body.properties, provisioningState: 'Creating' });
    expect(Object.keys(r.body)).toEqual(
      expect.arrayContaining([
        'id',
        'name',
        'type',
        'properties',
        'systemData',
        'tags',
        'location',
        'kind',
        'identity',
        'sku',
      ]),
    );
    expect((await raw.waitForOperation(r)).status).toBe('Succeeded');
    const logs = await raw.arm('POST', '/onlineEndpoints/spec-ep2/deployments/testDeploymentName/getLogs', {
      containerType: 'InferenceServer',
      tail: 10,
    });
    expect(Object.keys(logs.body)).toEqual(['content']);
  });

  it('Job/cancel and Job/delete answer 202 with Location', async () => {
    const put = await raw.arm('PUT', '/jobs/spec-cancel', {
      properties: { jobType: 'Command', command: 'python train.py', environmentId: 'azureml:env:1' },
    });
    expect(put.status).toBe(201);
    const cancel = await raw.arm('POST', '/jobs/spec-cancel/cancel');
    expect(cancel.status).toBe(202);
    expect(cancel.headers.location).toBeTruthy();
    await raw.waitForOperation(cancel);
    expect((await raw.arm('GET', '/jobs/spec-cancel')).body.properties.status).toBe('Canceled');
  });
});
