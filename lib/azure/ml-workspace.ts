/**
 * MlWorkspace over the official Azure ML management SDK (@azure/arm-machinelearning, api-version 2022-10-01).
 *
 * Two calls go around the typed operations on purpose, through the same client pipeline (auth, retries):
 * - traffic changes use a newer api-version, because the typed serializer drops `mirrorTraffic` and a
 *   GET-change-PUT with it would silently wipe mirror traffic;
 * - operation status is read from the Azure-AsyncOperation URL, the only place ARM reports why a deployment
 *   failed (OutOfQuota, ResourceNotReady, …);
 * - jobs are sent and read with a newer api-version, because the typed serializer of 2022-10-01 looks up asset
 *   inputs and outputs under `JobInput.uri_file` (…) while its mappers are registered as `AssetJobInput.uri_file`,
 *   so it falls back to the base type and drops their `uri` and `mode`.
 */
import { AzureMachineLearningWorkspaces, type ModelVersion as ArmModelVersion } from '@azure/arm-machinelearning';
import type { TokenCredential } from '@azure/core-auth';
import { createPipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { armErrorOf, armJson, armRequest } from './arm-request';
import type {
  Accepted,
  CodeVersion,
  Compute,
  DataVersion,
  Deployment,
  EnvironmentVersion,
  DeploymentSpec,
  Endpoint,
  Job,
  MlWorkspace,
  ModelVersion,
  NewCodeVersion,
  NewEnvironmentVersion,
  NewModelVersion,
  OperationStatus,
  TrafficRead,
} from '../ports';
import { armPathSegment } from '../domain/names';

export interface WorkspaceAddress {
  subscriptionId: string;
  resourceGroup: string;
  workspaceName: string;
  /** ARM endpoint; https://management.azure.com on Azure. */
  armEndpoint?: string;
  /** Extra CA certificate (PEM) to trust, for a workspace with a private certificate. */
  caCert?: string;
}

const TRAFFIC_API_VERSION = '2023-04-01';
const JOB_API_VERSION = '2023-04-01';
/** Answers to an operation poll that say "ask again", not "the operation failed". */
const RETRYABLE_STATUS = new Set([408, 429]);
const DEFAULT_RETRY_AFTER_SECONDS = 5;

function stringMap(value: Record<string, string | null> | undefined | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value ?? {})) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

/**
 * How long ARM asks a poller to wait, in seconds: `retry-after-ms` / `x-ms-retry-after-ms` (milliseconds, which
 * Azure services send for short operations and the Azure SDK reads first) or `Retry-After` (whole seconds).
 */
export function retryAfter(headers: { get(name: string): string | undefined } | undefined): number {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const raw = headers?.get(name);
    const ms = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
    if (Number.isFinite(ms) && ms >= 0) return ms / 1000;
  }
  const value = Number(headers?.get('retry-after'));
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_RETRY_AFTER_SECONDS;
}

/** What to poll for an operation ARM accepted, from the headers of its first response. */
function acceptedFrom(headers: { get(name: string): string | undefined } | undefined): Accepted {
  return {
    retryAfterSeconds: retryAfter(headers),
    operationUrl: headers?.get('azure-asyncoperation') ?? headers?.get('location') ?? undefined,
  };
}

/** The path of an online endpoint below the workspace: the name is checked and encoded, so it addresses only itself. */
function endpointPath(name: string): string {
  return `/onlineEndpoints/${armPathSegment('endpoint', name, 'endpointName')}`;
}

function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 404;
}

export class AzureMlWorkspace implements MlWorkspace {
  readonly client: AzureMachineLearningWorkspaces;
  readonly #rg: string;
  readonly #ws: string;
  readonly #base: string;
  readonly #armOrigin: string;
  #region: Promise<string> | undefined;
  #tracking: Promise<string> | undefined;

  constructor(credential: TokenCredential, address: WorkspaceAddress) {
    this.client = new AzureMachineLearningWorkspaces(credential, address.subscriptionId, {
      endpoint: address.armEndpoint,
      ...(address.caCert ? { tlsOptions: { ca: address.caCert } } : {}),
    });
    this.#rg = address.resourceGroup;
    this.#ws = address.workspaceName;
    const endpoint = (address.armEndpoint ?? 'https://management.azure.com').replace(/\/+$/, '');
    this.#armOrigin = new URL(endpoint).origin;
    this.#base =
      `${endpoint}/subscriptions/${address.subscriptionId}/resourceGroups/${address.resourceGroup}` +
      `/providers/Microsoft.MachineLearningServices/workspaces/${address.workspaceName}`;
  }

  #toModelVersion(name: string, arm: ArmModelVersion): ModelVersion {
    return {
      name,
      version: arm.name ?? '',
      id: arm.id ?? '',
      tags: stringMap(arm.properties.tags),
      properties: stringMap(arm.properties.properties),
      modelUri: arm.properties.modelUri,
      modelType: arm.properties.modelType,
      description: arm.properties.description,
      ...(arm.systemData?.createdAt ? { createdAt: arm.systemData.createdAt.toISOString() } : {}),
      ...(arm.systemData?.createdBy ? { createdBy: arm.systemData.createdBy } : {}),
      ...(arm.systemData?.createdByType ? { createdByType: arm.systemData.createdByType } : {}),
    };
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion | undefined> {
    try {
      return this.#toModelVersion(name, await this.client.modelVersions.get(this.#rg, this.#ws, name, version));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async listModelVersions(name: string): Promise<ModelVersion[]> {
    const out: ModelVersion[] = [];
    try {
      for await (const v of this.client.modelVersions.list(this.#rg, this.#ws, name)) {
        out.push(this.#toModelVersion(name, v));
      }
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    return out;
  }

  async updateModelTags(
    name: string,
    version: string,
    set: Record<string, string>,
    remove: string[],
  ): Promise<ModelVersion> {
    const current = await this.client.modelVersions.get(this.#rg, this.#ws, name, version);
    const tags = { ...stringMap(current.properties.tags), ...set };
    for (const key of remove) delete tags[key];
    const updated = await this.client.modelVersions.createOrUpdate(this.#rg, this.#ws, name, version, {
      properties: { ...current.properties, tags },
    });
    return this.#toModelVersion(name, updated);
  }

  async registerModelVersion(model: NewModelVersion): Promise<ModelVersion> {
    const created = await this.client.modelVersions.createOrUpdate(this.#rg, this.#ws, model.name, model.version, {
      properties: {
        modelUri: model.modelUri,
        modelType: model.modelType,
        tags: model.tags ?? {},
        properties: model.properties ?? {},
        description: model.description,
      },
    });
    return this.#toModelVersion(model.name, created);
  }

  async getEndpoint(name: string): Promise<Endpoint | undefined> {
    // Read with the newer api-version so mirror traffic is visible.
    const response = await this.#send('GET', endpointPath(name), TRAFFIC_API_VERSION);
    if (response.status === 404) return undefined;
    const body = armJson(response) as {
      name: string;
      tags?: Record<string, string>;
      properties: {
        provisioningState?: string;
        traffic?: Record<string, number>;
        mirrorTraffic?: Record<string, number>;
        scoringUri?: string;
      };
    };
    return {
      name: body.name,
      provisioningState: body.properties.provisioningState ?? 'Succeeded',
      traffic: body.properties.traffic ?? {},
      mirrorTraffic: body.properties.mirrorTraffic ?? {},
      scoringUri: body.properties.scoringUri,
      tags: body.tags ?? {},
    };
  }

  async beginCreateEndpoint(name: string, tags: Record<string, string>): Promise<Accepted> {
    const location = await this.#location();
    return this.#accepted((onResponse) =>
      this.client.onlineEndpoints.beginCreateOrUpdate(
        this.#rg,
        this.#ws,
        name,
        {
          location,
          tags,
          identity: { type: 'SystemAssigned' },
          properties: { authMode: 'Key' },
        },
        { onResponse },
      ),
    );
  }

  async readTraffic(endpointName: string): Promise<TrafficRead> {
    const response = await this.#send('GET', endpointPath(endpointName), TRAFFIC_API_VERSION);
    const resource = armJson(response) as {
      properties: {
        traffic?: Record<string, number>;
        mirrorTraffic?: Record<string, number>;
        provisioningState?: string;
      };
    };
    return {
      endpointName,
      traffic: resource.properties.traffic ?? {},
      mirrorTraffic: resource.properties.mirrorTraffic ?? {},
      provisioningState: resource.properties.provisioningState ?? 'Succeeded',
      resource,
    };
  }

  async replaceTraffic(
    read: TrafficRead,
    traffic: Record<string, number>,
    mirror?: Record<string, number>,
  ): Promise<Accepted> {
    const resource = read.resource as { properties: Record<string, unknown> };
    // mirrorTraffic exists from api-version 2023-04-01 on (TRAFFIC_API_VERSION), so it is read and written here.
    const mirrorTraffic = mirror === undefined ? {} : { mirrorTraffic: mirror };
    const body = { ...resource, properties: { ...resource.properties, traffic, ...mirrorTraffic } };
    const put = await this.#send('PUT', endpointPath(read.endpointName), TRAFFIC_API_VERSION, body);
    armJson(put);
    return acceptedFrom(put.headers);
  }

  async updateEndpointTags(endpointName: string, tags: Record<string, string>): Promise<void> {
    const current = await this.getEndpoint(endpointName);
    if (!current) throw new Error(`Endpoint ${endpointName} does not exist.`);
    // PATCH accepts tags alone and leaves traffic untouched.
    await this.client.onlineEndpoints.beginUpdateAndWait(this.#rg, this.#ws, endpointName, {
      tags: { ...current.tags, ...tags },
    });
  }

  async getEndpointKey(endpointName: string): Promise<string> {
    const keys = await this.client.onlineEndpoints.listKeys(this.#rg, this.#ws, endpointName);
    if (!keys.primaryKey) throw new Error(`Endpoint ${endpointName} returned no key.`);
    return keys.primaryKey;
  }

  #toDeployment(
    endpointName: string,
    d: {
      name?: string;
      tags?: Record<string, string>;
      sku?: { capacity?: number };
      properties: {
        provisioningState?: string;
        model?: string;
        instanceType?: string;
        requestSettings?: { maxConcurrentRequestsPerInstance?: number };
      };
    },
  ): Deployment {
    return {
      name: d.name ?? '',
      endpointName,
      provisioningState: d.properties.provisioningState ?? 'Succeeded',
      modelId: d.properties.model,
      tags: d.tags ?? {},
      instanceType: d.properties.instanceType,
      instanceCount: d.sku?.capacity,
      maxConcurrentRequestsPerInstance: d.properties.requestSettings?.maxConcurrentRequestsPerInstance,
    };
  }

  async getDeployment(endpointName: string, name: string): Promise<Deployment | undefined> {
    try {
      return this.#toDeployment(
        endpointName,
        await this.client.onlineDeployments.get(this.#rg, this.#ws, endpointName, name),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async listDeployments(endpointName: string): Promise<Deployment[]> {
    const out: Deployment[] = [];
    for await (const d of this.client.onlineDeployments.list(this.#rg, this.#ws, endpointName)) {
      out.push(this.#toDeployment(endpointName, d));
    }
    return out;
  }

  async beginCreateDeployment(endpointName: string, name: string, spec: DeploymentSpec): Promise<Accepted> {
    const location = await this.#location();
    return this.#accepted((onResponse) =>
      this.client.onlineDeployments.beginCreateOrUpdate(
        this.#rg,
        this.#ws,
        endpointName,
        name,
        {
          location,
          tags: spec.tags,
          sku: { name: 'Default', capacity: spec.instanceCount },
          properties: {
            endpointComputeType: 'Managed',
            model: spec.modelId,
            instanceType: spec.instanceType,
            ...(spec.codeConfiguration ? { codeConfiguration: spec.codeConfiguration } : {}),
            ...(spec.environmentId ? { environmentId: spec.environmentId } : {}),
            requestSettings: spec.requestSettings,
          },
        },
        { onResponse },
      ),
    );
  }

  async beginDeleteDeployment(endpointName: string, name: string): Promise<Accepted> {
    return this.#accepted((onResponse) =>
      this.client.onlineDeployments.beginDelete(this.#rg, this.#ws, endpointName, name, { onResponse }),
    );
  }

  async getOperationStatus(operationUrl: string): Promise<OperationStatus> {
    // The pipeline signs every request with the ARM token: only ever send it to ARM.
    if (new URL(operationUrl).origin !== this.#armOrigin) {
      throw new Error(`Operation URL ${operationUrl} is not on the ARM endpoint ${this.#armOrigin}; not polled.`);
    }
    const response = await this.client.sendRequest(createPipelineRequest({ url: operationUrl, method: 'GET' }));
    const retryAfterSeconds = retryAfter(response.headers);
    // A Location URL (deletes) answers 202 while the operation runs, 200 or 204 once it is done, and the error
    // itself when it failed (ARM's async contract); an Azure-AsyncOperation URL answers 200 with {status, error}.
    if (response.status === 202) return { status: 'InProgress', retryAfterSeconds };
    if (response.status >= 400 && response.status < 500 && !RETRYABLE_STATUS.has(response.status)) {
      const error = armErrorOf(response);
      return {
        status: 'Failed',
        error: { code: error?.code ?? `Http${response.status}`, message: error?.message ?? '' },
        retryAfterSeconds,
      };
    }
    const body = armJson(response) as { status?: string; error?: { code?: string; message?: string } };
    return {
      status: body.status ?? 'Succeeded',
      error: body.error ? { code: body.error.code ?? 'Unknown', message: body.error.message ?? '' } : undefined,
      retryAfterSeconds,
    };
  }

  async submitJob(name: string, spec: Record<string, unknown>): Promise<Job> {
    const response = await this.#send('PUT', `/jobs/${name}`, JOB_API_VERSION, { properties: spec });
    return this.#toJob(armJson(response) as never);
  }

  async getJob(name: string): Promise<Job | undefined> {
    const response = await this.#send('GET', `/jobs/${name}`, JOB_API_VERSION);
    if (response.status === 404) return undefined;
    return this.#toJob(armJson(response) as never);
  }

  async getRunMetrics(jobName: string): Promise<Record<string, number> | undefined> {
    const url = `${await this.#trackingUri()}/api/2.0/mlflow/runs/get?run_id=${encodeURIComponent(jobName)}`;
    const response = await this.client.sendRequest(createPipelineRequest({ url, method: 'GET' }));
    if (response.status === 404) return undefined;
    const body = armJson(response) as { run?: { data?: { metrics?: { key: string; value: number }[] } } };
    return Object.fromEntries((body.run?.data?.metrics ?? []).map((m) => [m.key, m.value]));
  }

  /**
   * The workspace's MLflow tracking URI over https (`mlFlowTrackingUri` names it `azureml://`); it takes the same ARM
   * token the client's pipeline sends. Read once: it never changes.
   */
  #trackingUri(): Promise<string> {
    this.#tracking ??= this.client.workspaces.get(this.#rg, this.#ws).then(
      (ws) => {
        if (!ws.mlFlowTrackingUri) throw new Error(`Workspace ${this.#ws} reports no mlFlowTrackingUri.`);
        return ws.mlFlowTrackingUri.replace(/^azureml:\/\//i, 'https://').replace(/\/+$/, '');
      },
      (err: unknown) => {
        this.#tracking = undefined;
        throw err;
      },
    );
    return this.#tracking;
  }

  async getCompute(name: string): Promise<Compute | undefined> {
    try {
      const compute = await this.client.computeOperations.get(this.#rg, this.#ws, name);
      return {
        name: compute.name ?? name,
        id: compute.id ?? '',
        provisioningState: compute.properties?.provisioningState ?? 'Succeeded',
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async cancelJob(name: string): Promise<void> {
    await this.client.jobs.beginCancel(this.#rg, this.#ws, name);
  }

  #toJob(job: {
    name?: string;
    properties: {
      status?: string;
      properties?: Record<string, string | null>;
      tags?: Record<string, string | null>;
      outputs?: Record<string, { uri?: string } | null>;
    };
  }): Job {
    const outputs: Record<string, string> = {};
    for (const [k, v] of Object.entries(job.properties.outputs ?? {})) if (v?.uri) outputs[k] = v.uri;
    return {
      name: job.name ?? '',
      status: job.properties.status ?? 'Unknown',
      properties: stringMap(job.properties.properties),
      tags: stringMap(job.properties.tags),
      outputs,
    };
  }

  async getEnvironmentVersion(name: string, version: string): Promise<EnvironmentVersion | undefined> {
    try {
      const env = await this.client.environmentVersions.get(this.#rg, this.#ws, name, version);
      return {
        name,
        version: env.name ?? version,
        id: env.id ?? '',
        image: env.properties.image,
        tags: stringMap(env.properties.tags),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async createEnvironmentVersion(environment: NewEnvironmentVersion): Promise<EnvironmentVersion> {
    const created = await this.client.environmentVersions.createOrUpdate(
      this.#rg,
      this.#ws,
      environment.name,
      environment.version,
      {
        properties: {
          image: environment.image,
          build: environment.build,
          condaFile: environment.condaFile,
          osType: environment.osType,
          description: environment.description,
          tags: environment.tags ?? {},
        },
      },
    );
    return {
      name: environment.name,
      version: created.name ?? environment.version,
      id: created.id ?? '',
      image: created.properties.image,
      tags: stringMap(created.properties.tags),
    };
  }

  async getCodeVersion(name: string, version: string): Promise<CodeVersion | undefined> {
    try {
      const code = await this.client.codeVersions.get(this.#rg, this.#ws, name, version);
      return { name, version: code.name ?? version, id: code.id ?? '', codeUri: code.properties.codeUri };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** PUT .../codes/{name}/versions/{version} (examples/CodeVersion/createOrUpdate.json of the 2022-10-01 spec). */
  async createCodeVersion(code: NewCodeVersion): Promise<CodeVersion> {
    const created = await this.client.codeVersions.createOrUpdate(this.#rg, this.#ws, code.name, code.version, {
      properties: {
        codeUri: code.codeUri,
        description: code.description,
        tags: code.tags ?? {},
        properties: code.properties ?? {},
        isAnonymous: false,
      },
    });
    return {
      name: code.name,
      version: created.name ?? code.version,
      id: created.id ?? '',
      codeUri: created.properties.codeUri,
    };
  }

  async listDataVersions(name: string): Promise<DataVersion[]> {
    const out: DataVersion[] = [];
    try {
      for await (const v of this.client.dataVersions.list(this.#rg, this.#ws, name)) {
        out.push({
          name,
          version: v.name ?? '',
          id: v.id ?? '',
          dataType: v.properties.dataType,
          dataUri: v.properties.dataUri,
          createdAt: v.systemData?.createdAt?.toISOString(),
        });
      }
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    return out;
  }

  /** The workspace's region, which new endpoints and deployments must name; it never changes, so it is read once. */
  #location(): Promise<string> {
    this.#region ??= this.client.workspaces.get(this.#rg, this.#ws).then(
      (ws) => ws.location ?? 'local',
      (err: unknown) => {
        this.#region = undefined;
        throw err;
      },
    );
    return this.#region;
  }

  /** Sends the initial request of an LRO and returns without waiting: orchestrations poll with durable timers. */
  async #accepted(
    start: (onResponse: (raw: { headers: { get(name: string): string | undefined } }) => void) => Promise<unknown>,
  ): Promise<Accepted> {
    let headers: { get(name: string): string | undefined } | undefined;
    await start((raw) => {
      headers ??= raw.headers;
    });
    return acceptedFrom(headers);
  }

  #send(method: 'GET' | 'PUT', path: string, apiVersion: string, body?: unknown): Promise<PipelineResponse> {
    return this.client.sendRequest(armRequest(method, `${this.#base}${path}?api-version=${apiVersion}`, body));
  }
}
