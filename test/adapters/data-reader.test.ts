import type { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import type { PipelineOptions } from '@azure/core-rest-pipeline';
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatastoreUri } from '../../lib/azure/data-reader';
import type { LocalWorkspace } from '../../local/workspace/index';
import { trainingJobSpec } from '../../local/lab';
import {
  dataReader,
  mlWorkspace,
  removeTempDirs,
  sdk,
  start,
  TRAIN_COMMAND,
  trainingCode,
  waitFor,
} from '../workspace/helpers';

/** Data assets as Azure ML keeps them: blobs in the default datastore's container, read with a storage token. */
describe('BlobDataReader against the local workspace and its storage account (Azurite)', () => {
  let ws: LocalWorkspace;
  let client: AzureMachineLearningWorkspaces;
  let container: ContainerClient;

  /** Blob client of the datastore's container with the app's own token credential, as Champion uploads. */
  function containerWith(token: string): ContainerClient {
    const options: StoragePipelineOptions & PipelineOptions = { tlsOptions: { ca: ws.caCert } };
    const credential = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }) };
    const service = new BlobServiceClient(ws.blobServiceUrl.replace('{account}', 'devstoreaccount1'), credential, {
      ...options,
      retryOptions: { maxTries: 1 },
    });
    return service.getContainerClient(ws.datastoreContainer);
  }

  async function upload(path: string, text: string): Promise<void> {
    await container.getBlockBlobClient(path).upload(text, Buffer.byteLength(text));
  }

  async function register(name: string, dataType: 'uri_file' | 'uri_folder' | 'mltable', dataUri: string) {
    await client.dataVersions.createOrUpdate(ws.resourceGroup, ws.workspaceName, name, '1', {
      properties: { dataType, dataUri },
    });
  }

  beforeAll(async () => {
    ws = await start();
    client = sdk(ws);
    container = containerWith(ws.storageToken);
  });
  afterAll(async () => {
    await ws.close();
    removeTempDirs();
  });

  it('reads the datastore through ARM: an Azure Blob datastore whose container is not named after it', async () => {
    const ds = await client.datastores.get(ws.resourceGroup, ws.workspaceName, 'workspaceblobstore');
    expect(ds.properties).toMatchObject({
      datastoreType: 'AzureBlob',
      accountName: 'devstoreaccount1',
      containerName: ws.datastoreContainer,
      endpoint: 'core.windows.net',
    });
    expect(ws.datastoreContainer).toMatch(/^azureml-blobstore-[0-9a-f-]{36}$/);
  });

  it('parses the short and the long datastore URI forms', () => {
    expect(parseDatastoreUri('azureml://datastores/workspaceblobstore/paths/a/b.csv')).toEqual({
      datastore: 'workspaceblobstore',
      path: 'a/b.csv',
    });
    expect(
      parseDatastoreUri(
        'azureml://subscriptions/sub-1/resourcegroups/rg-1/workspaces/ws-1/datastores/workspaceblobstore/paths/a/b.csv',
      ),
    ).toEqual({
      datastore: 'workspaceblobstore',
      path: 'a/b.csv',
      workspace: { subscriptionId: 'sub-1', resourceGroup: 'rg-1', name: 'ws-1' },
    });
    expect(parseDatastoreUri('https://acct.blob.core.windows.net/c/a.csv')).toBeUndefined();
    expect(parseDatastoreUri('azureml:demand:1')).toBeUndefined();
  });

  it('reads a uri_file asset given by the short form and by the long form', async () => {
    await upload('sales/2024.csv', 'x1,y\n1,2\n3,4\n');
    await register('sales-short', 'uri_file', 'azureml://datastores/workspaceblobstore/paths/sales/2024.csv');
    await register(
      'sales-long',
      'uri_file',
      `azureml://subscriptions/${ws.subscriptionId}/resourcegroups/${ws.resourceGroup}/workspaces/${ws.workspaceName}/datastores/workspaceblobstore/paths/sales/2024.csv`,
    );
    const reader = dataReader(ws);
    const expected = {
      columns: ['x1', 'y'],
      rows: [
        [1, 2],
        [3, 4],
      ],
    };
    expect(await reader.readDataAsset('sales-short', '1')).toEqual(expected);
    expect(await reader.readDataAsset('sales-long', '1')).toEqual(expected);
  });

  it('reads every CSV part of a uri_folder asset as one table, in name order', async () => {
    await upload('parts/part-0001.csv', 'x1,y\n1,10\n2,20\n');
    await upload('parts/part-0000.csv', 'x1,y\n0,0\n');
    await upload('parts/nested/part-0002.csv', 'x1,y\n3,30\n');
    await upload('parts/_SUCCESS', '');
    await upload('partsX/other.csv', 'x1,y\n99,99\n');
    await register('parts', 'uri_folder', 'azureml://datastores/workspaceblobstore/paths/parts');
    const table = await dataReader(ws).readDataAsset('parts', '1');
    expect(table.columns).toEqual(['x1', 'y']);
    expect(table.rows).toEqual([
      [3, 30],
      [0, 0],
      [1, 10],
      [2, 20],
    ]);
  });

  it('refuses a folder whose parts have different headers, naming the part', async () => {
    await upload('mixed/a.csv', 'x1,y\n1,2\n');
    await upload('mixed/b.csv', 'x1,x2,y\n1,2,3\n');
    await register('mixed', 'uri_folder', 'azureml://datastores/workspaceblobstore/paths/mixed/');
    await expect(dataReader(ws).readDataAsset('mixed', '1')).rejects.toThrow(/mixed\/b\.csv has columns \[x1, x2, y\]/);
  });

  it('refuses a long form naming another workspace, an mltable asset and a non-datastore URI', async () => {
    await register(
      'elsewhere',
      'uri_file',
      `azureml://subscriptions/${ws.subscriptionId}/resourcegroups/other-rg/workspaces/other-ws/datastores/workspaceblobstore/paths/sales/2024.csv`,
    );
    await register('table', 'mltable', 'azureml://datastores/workspaceblobstore/paths/sales/');
    await register('remote', 'uri_file', 'https://acct.blob.core.windows.net/c/a.csv');
    const reader = dataReader(ws);
    await expect(reader.readDataAsset('elsewhere', '1')).rejects.toThrow(/workspace other-rg\/other-ws/);
    await expect(reader.readDataAsset('table', '1')).rejects.toThrow(/is mltable; only uri_file and uri_folder/);
    await expect(reader.readDataAsset('remote', '1')).rejects.toThrow(/only azureml:\/\/datastores/);
  });

  it("storage refuses the ARM token, which is no storage JWT (Azurite's --oauth basic: AuthenticationFailed)", async () => {
    await expect(containerWith(ws.token).getBlobClient('sales/2024.csv').downloadToBuffer()).rejects.toMatchObject({
      statusCode: 403,
    });
    const claims = JSON.parse(Buffer.from(ws.storageToken.split('.')[1]!, 'base64url').toString('utf8')) as {
      aud: string;
      iss: string;
    };
    expect(claims.aud).toBe('https://storage.azure.com');
    expect(claims.iss).toMatch(/^https:\/\/sts\.windows\.net\//);
  });

  it('trains on a uri_folder asset: the local workspace reads all its parts', async () => {
    const header = 'x1,x2,x3,x4,y';
    const row = (i: number) => `${i % 7},${i % 5},${i % 3},${i % 2},${(i % 7) * 2 + (i % 5) - (i % 3) + 0.5 * (i % 2)}`;
    for (const part of [0, 1, 2]) {
      const rows = Array.from({ length: 40 }, (_, i) => row(part * 40 + i));
      await upload(`train-folder/part-${part}.csv`, `${header}\n${rows.join('\n')}\n`);
    }
    await register('train-folder', 'uri_folder', 'azureml://datastores/workspaceblobstore/paths/train-folder');
    const workspace = mlWorkspace(ws);
    const spec = await trainingJobSpec(workspace, {
      command: TRAIN_COMMAND,
      codeId: await trainingCode(ws),
      environmentId: 'azureml:local-sklearn:1',
      data: { name: 'train-folder', version: '1' },
    });
    expect(spec.inputs).toMatchObject({ training_data: { jobInputType: 'uri_folder' } });
    await workspace.submitJob('folder-job', spec);
    const job = await waitFor(async () => {
      const j = await client.jobs.get(ws.resourceGroup, ws.workspaceName, 'folder-job');
      return ['Completed', 'Failed'].includes(j.properties.status ?? '') ? j : undefined;
    }, 'folder job');
    expect(job.properties.status).toBe('Completed');
    const props = job.properties.properties ?? {};
    expect(Number(props['training.rows.train']) + Number(props['training.rows.test'])).toBe(120);
  });
});
