/**
 * ModelRegistry over an Azure Machine Learning registry (`…/providers/Microsoft.MachineLearningServices/registries/{r}`),
 * through the official management SDK's pipeline (@azure/arm-machinelearning: the app's identity, retries). The typed
 * client of 2.1.1 (api-version 2022-10-01) has no registry operations, so its pipeline sends them with api-version
 * 2024-10-01, where the REST spec has them (mfe.json `RegistryModelVersions_Get`, `_CreateOrUpdate`,
 * `_CreateOrGetStartPendingUpload`); a version's files go up with @azure/storage-blob to the blob location and SAS
 * the pending upload gives.
 */
import type { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import { createPipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { armJson, armRequest } from './arm-request';
import { AnonymousCredential, BlockBlobClient, type StoragePipelineOptions } from '@azure/storage-blob';
import type { PipelineOptions } from '@azure/core-rest-pipeline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseRegistryId } from '../domain/workspace-id';
import type { CodeFile, ModelRegistry, NewModelVersion, PendingUpload, RegistryModelVersion } from '../ports';

export const REGISTRY_API_VERSION = '2024-10-01';

export class AzureMlRegistry implements ModelRegistry {
  readonly #base: string;
  readonly #origin: string;
  readonly #name: string;

  constructor(
    private readonly client: AzureMachineLearningWorkspaces,
    readonly registryId: string,
    private readonly options: { armEndpoint?: string; caCert?: string; pollMs?: number; deadlineMs?: number } = {},
  ) {
    const endpoint = (options.armEndpoint ?? 'https://management.azure.com').replace(/\/+$/, '');
    this.#origin = new URL(endpoint).origin;
    this.#name = parseRegistryId(registryId).registryName;
    this.#base = `${endpoint}${registryId}`;
  }

  /** `azureml://registries/{r}/models/{m}/versions/{v}`: how jobs and deployments name a registry's model version. */
  assetUri(name: string, version: string): string {
    return `azureml://registries/${this.#name}/models/${name}/versions/${version}`;
  }

  async getModelVersion(name: string, version: string): Promise<RegistryModelVersion | undefined> {
    const response = await this.#send('GET', `/models/${this.#versionPath(name, version)}`);
    if (response.status === 404) return undefined;
    return this.#toVersion(name, armJson(response));
  }

  async startPendingUpload(name: string, version: string, pendingUploadId: string): Promise<PendingUpload> {
    const response = await this.#send('POST', `/models/${this.#versionPath(name, version)}/startPendingUpload`, {
      pendingUploadId,
      pendingUploadType: 'TemporaryBlobReference',
    });
    const body = armJson(response) as {
      blobReferenceForConsumption?: { blobUri?: string; credential?: { credentialType?: string; sasUri?: string } };
    };
    const reference = body.blobReferenceForConsumption;
    if (!reference?.blobUri || !reference.credential?.sasUri) {
      throw new Error(`startPendingUpload for ${name}:${version} in ${this.registryId} gave no blob location and SAS.`);
    }
    return { blobUri: reference.blobUri, sasUri: reference.credential.sasUri };
  }

  async uploadFiles(upload: PendingUpload, files: readonly CodeFile[]): Promise<void> {
    const [base, query] = upload.sasUri.split('?');
    // Storage hands its options to core-client's createClientPipeline, which honours tlsOptions (untyped here).
    const options: StoragePipelineOptions & PipelineOptions = this.options.caCert
      ? { tlsOptions: { ca: this.options.caCert } }
      : {};
    for (const file of files) {
      const path = file.path.split('/').map(encodeURIComponent).join('/');
      await new BlockBlobClient(
        `${base!.replace(/\/+$/, '')}/${path}?${query ?? ''}`,
        new AnonymousCredential(),
        options,
      ).uploadData(file.content);
    }
  }

  async createModelVersion(version: NewModelVersion): Promise<RegistryModelVersion> {
    const response = await this.#send('PUT', `/models/${this.#versionPath(version.name, version.version)}`, {
      properties: {
        modelUri: version.modelUri,
        modelType: version.modelType,
        tags: version.tags,
        properties: version.properties,
        ...(version.description ? { description: version.description } : {}),
      },
    });
    // A long-running create (Azure-AsyncOperation or Location, as ARM's async contract has it) is followed to its end.
    const operation = response.headers.get('azure-asyncoperation') ?? response.headers.get('location');
    if (operation && (response.status === 201 || response.status === 202)) await this.#follow(operation);
    else armJson(response);
    const created = await this.getModelVersion(version.name, version.version);
    if (!created)
      throw new Error(`${version.name}:${version.version} is not in ${this.registryId} after its creation.`);
    return created;
  }

  async #follow(operationUrl: string): Promise<void> {
    // The pipeline signs every request with the ARM token: only ever send it to ARM.
    if (new URL(operationUrl).origin !== this.#origin) {
      throw new Error(`Operation URL ${operationUrl} is not on the ARM endpoint ${this.#origin}; not polled.`);
    }
    const deadline = Date.now() + (this.options.deadlineMs ?? 600_000);
    for (;;) {
      const response = await this.client.sendRequest(createPipelineRequest({ url: operationUrl, method: 'GET' }));
      if (response.status !== 202) {
        const body = armJson(response) as { status?: string; error?: { code?: string; message?: string } };
        const status = body.status ?? 'Succeeded';
        if (status === 'Succeeded') return;
        if (status === 'Failed' || status === 'Canceled') {
          throw new Error(`Creating the model version in ${this.registryId} ${status}: ${body.error?.message ?? ''}`);
        }
      }
      if (Date.now() > deadline)
        throw new Error(`Creating the model version in ${this.registryId} did not end in time.`);
      const retryAfter = Number(response.headers.get('retry-after'));
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : (this.options.pollMs ?? 1000));
    }
  }

  /** `{name}/versions/{version}` below the registry's `models`. */
  #versionPath(name: string, version: string): string {
    return `${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`;
  }

  #toVersion(name: string, body: unknown): RegistryModelVersion {
    const arm = body as {
      id?: string;
      name?: string;
      properties?: {
        modelUri?: string;
        modelType?: string;
        tags?: Record<string, string | null> | null;
        properties?: Record<string, string | null> | null;
      };
    };
    const strings = (map: Record<string, string | null> | null | undefined) =>
      Object.fromEntries(Object.entries(map ?? {}).map(([k, v]) => [k, v ?? '']));
    return {
      id: arm.id ?? '',
      name,
      version: arm.name ?? '',
      assetUri: this.assetUri(name, arm.name ?? ''),
      ...(arm.properties?.modelUri ? { modelUri: arm.properties.modelUri } : {}),
      ...(arm.properties?.modelType ? { modelType: arm.properties.modelType } : {}),
      tags: strings(arm.properties?.tags),
      properties: strings(arm.properties?.properties),
    };
  }

  #send(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<PipelineResponse> {
    return this.client.sendRequest(
      armRequest(method, `${this.#base}${path}?api-version=${REGISTRY_API_VERSION}`, body),
    );
  }
}
