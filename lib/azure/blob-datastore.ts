/**
 * Blob containers of Azure ML datastores, reached as Azure ML does: the datastore resource (read through ARM) names
 * the storage account, container and endpoint suffix; @azure/storage-blob talks to it with the app's token credential.
 */
import type { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import type { TokenCredential } from '@azure/core-auth';
import type { PipelineOptions } from '@azure/core-rest-pipeline';
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import type { CodeFile, CodeStore, ModelFiles } from '../ports';
import { parseDatastoreUri } from './data-reader';

/** The default blob datastore Azure ML creates with every workspace (azure-ai-ml `WORKSPACE_BLOB_STORE`). */
export const DEFAULT_DATASTORE = 'workspaceblobstore';

export interface BlobReaderOptions {
  /**
   * Blob service URL for an account, `{account}` replaced; default `https://{account}.blob.{endpoint suffix}`.
   * Path-style URLs (as Azurite uses) point it elsewhere.
   */
  blobServiceUrl?: string;
  caCert?: string;
}

export class DatastoreContainers {
  readonly #services = new Map<string, BlobServiceClient>();

  constructor(
    private readonly client: AzureMachineLearningWorkspaces,
    private readonly credential: TokenCredential,
    private readonly resourceGroup: string,
    private readonly workspaceName: string,
    private readonly options: BlobReaderOptions = {},
  ) {}

  /** The datastore's container, from its ARM resource (account, container, endpoint suffix). */
  async container(datastoreName: string): Promise<ContainerClient> {
    const datastore = await this.client.datastores.get(this.resourceGroup, this.workspaceName, datastoreName);
    const props = datastore.properties as {
      datastoreType: string;
      accountName?: string;
      containerName?: string;
      endpoint?: string;
      protocol?: string;
    };
    if (props.datastoreType !== 'AzureBlob' || !props.accountName || !props.containerName) {
      throw new Error(`Datastore ${datastoreName} is ${props.datastoreType}; only Azure Blob datastores are used.`);
    }
    const url = (
      this.options.blobServiceUrl ??
      `${props.protocol ?? 'https'}://{account}.blob.${props.endpoint ?? 'core.windows.net'}`
    ).replace('{account}', props.accountName);
    let service = this.#services.get(url);
    if (!service) {
      // Storage hands its options to core-client's createClientPipeline, which honours tlsOptions (untyped here).
      const options: StoragePipelineOptions & PipelineOptions = this.options.caCert
        ? { tlsOptions: { ca: this.options.caCert } }
        : {};
      service = new BlobServiceClient(url, this.credential, options);
      this.#services.set(url, service);
    }
    return service.getContainerClient(props.containerName);
  }
}

/**
 * Uploads code snapshots to the workspace's default datastore with the app's identity (Storage Blob Data Contributor
 * on the account), as `az ml` uploads a job's `code` folder before it registers the code version.
 */
export class BlobCodeStore implements CodeStore {
  constructor(private readonly containers: DatastoreContainers) {}

  async uploadCode(folder: string, files: readonly CodeFile[]): Promise<string> {
    const container = await this.containers.container(DEFAULT_DATASTORE);
    for (const file of files) {
      // Same folder, same bytes: a retried upload rewrites identical blobs.
      await container.getBlockBlobClient(`${folder}/${file.path}`).uploadData(file.content);
    }
    return `${container.url}/${folder.split('/').map(encodeURIComponent).join('/')}`;
  }
}

/** A model's files in the workspace's datastores (ModelFiles), read and written with the storage SDK. */
export class BlobModelFiles implements ModelFiles {
  constructor(private readonly containers: DatastoreContainers) {}

  async read(datastoreUri: string): Promise<CodeFile[]> {
    const location = parseDatastoreUri(datastoreUri);
    if (!location)
      throw new Error(`"${datastoreUri}" is not a datastore URI (azureml://datastores/{datastore}/paths/{path}).`);
    const container = await this.containers.container(location.datastore);
    const single = container.getBlobClient(location.path);
    if (location.path !== '' && !location.path.endsWith('/') && (await single.exists())) {
      return [{ path: location.path.split('/').at(-1)!, content: await single.downloadToBuffer() }];
    }
    const prefix = location.path === '' || location.path.endsWith('/') ? location.path : `${location.path}/`;
    const files: CodeFile[] = [];
    for await (const blob of container.listBlobsFlat({ prefix })) {
      files.push({
        path: blob.name.slice(prefix.length),
        content: await container.getBlobClient(blob.name).downloadToBuffer(),
      });
    }
    return files;
  }

  async write(folder: string, files: readonly CodeFile[]): Promise<string> {
    const container = await this.containers.container(DEFAULT_DATASTORE);
    for (const file of files) {
      // Same folder, same bytes: a retried copy rewrites identical blobs.
      await container.getBlockBlobClient(`${folder}/${file.path}`).uploadData(file.content);
    }
    return `azureml://datastores/${DEFAULT_DATASTORE}/paths/${folder}`;
  }
}
