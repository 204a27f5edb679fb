/**
 * The registry adapter (lib/azure/ml-registry.ts) against the local registry (local/workspace/registry.ts): a model
 * version's files go up to the blob location its pending upload gives, then the version is created there and read
 * back, as the Azure ML CLI creates a model in a registry; what the REST spec refuses is refused.
 */
import { createPipelineRequest } from '@azure/core-rest-pipeline';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureMlRegistry } from '../../lib/azure/ml-registry';
import type { LocalWorkspace } from '../../local/workspace/index';
import { removeTempDirs, sdk, start } from './helpers';

describe('an Azure ML registry on the local host', () => {
  let ws: LocalWorkspace;
  let registry: AzureMlRegistry;
  let registryId: string;

  beforeAll(async () => {
    ws = await start({ registries: [{ registryName: 'shared-models' }] });
    registryId = `/subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}/providers/Microsoft.MachineLearningServices/registries/shared-models`;
    registry = new AzureMlRegistry(sdk(ws), registryId, { armEndpoint: ws.armEndpoint, caCert: ws.caCert });
  });
  afterAll(async () => {
    await ws.close();
    removeTempDirs();
  });

  it('serves the registry under its own ARM id', () => {
    expect(ws.registries['shared-models']?.registryId).toBe(registryId);
  });

  it('creates a model version from files put with the pending upload SAS, and reads it back', async () => {
    expect(await registry.getModelVersion('churn', '1')).toBeUndefined();
    const upload = await registry.startPendingUpload('churn', '1', 'upload-1');
    expect(upload.sasUri.startsWith(`${upload.blobUri}?`)).toBe(true);
    // The same pending upload id, the same place.
    expect((await registry.startPendingUpload('churn', '1', 'upload-1')).blobUri).toBe(upload.blobUri);
    await registry.uploadFiles(upload, [
      { path: 'MLmodel', content: Buffer.from('flavors: {}\n') },
      { path: 'data/model.json', content: Buffer.from('{"w":[1]}') },
    ]);
    const created = await registry.createModelVersion({
      name: 'churn',
      version: '1',
      modelUri: upload.blobUri,
      modelType: 'mlflow_model',
      tags: { 'champion.source.version': 'churn:1' },
      properties: { 'metrics.rmse': '0.5' },
    });
    expect(created).toMatchObject({
      id: `${registryId}/models/churn/versions/1`,
      version: '1',
      assetUri: 'azureml://registries/shared-models/models/churn/versions/1',
      modelUri: upload.blobUri,
      modelType: 'mlflow_model',
      tags: { 'champion.source.version': 'churn:1' },
      properties: { 'metrics.rmse': '0.5' },
    });
    expect(await registry.getModelVersion('churn', '1')).toEqual(created);
    // The files are in the registry's storage, below the upload's location.
    const service = new BlobServiceClient(ws.blobServiceUrl.replace('{account}', 'devstoreaccount1'), ws.credential(), {
      tlsOptions: { ca: ws.caCert },
    } as never);
    const container = service.getContainerClient(ws.registries['shared-models']!.container);
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: 'models/churn/1/upload-1/' })) names.push(blob.name);
    expect(names.sort()).toEqual(['models/churn/1/upload-1/MLmodel', 'models/churn/1/upload-1/data/model.json']);
  });

  it('refuses what the spec refuses: a registry it does not serve, a body without properties, a bad pending upload type', async () => {
    const other = new AzureMlRegistry(sdk(ws), registryId.replace('shared-models', 'elsewhere'), {
      armEndpoint: ws.armEndpoint,
      caCert: ws.caCert,
    });
    await expect(other.startPendingUpload('churn', '2', 'x')).rejects.toMatchObject({ statusCode: 404 });
    const raw = (method: string, path: string, body: unknown) =>
      sdk(ws).sendRequest(
        createPipelineRequest({
          url: `${ws.armEndpoint}${registryId}${path}?api-version=2024-10-01`,
          method: method as 'PUT',
          body: JSON.stringify(body),
          headers: undefined,
        }),
      );
    const noProperties = await raw('PUT', '/models/churn/versions/2', { tags: {} });
    expect(noProperties.status).toBe(400);
    expect(noProperties.bodyAsText).toMatch(/properties/);
    const badType = await raw('POST', '/models/churn/versions/2/startPendingUpload', { pendingUploadType: 'Nope' });
    expect(badType.status).toBe(400);
    expect(badType.bodyAsText).toMatch(/pendingUploadType/);
    expect(await registry.getModelVersion('churn', '2')).toBeUndefined();
  });
});
