/**
 * The ports activities use to reach the outside world. Orchestrations never see these; activities get them from
 * `createActivities(deps)`. Azure adapters implement them with the official SDKs; unit tests hand in fakes.
 */
import type { CodeFile } from './domain/code-snapshot';
import type { LifecycleEvent } from './domain/lifecycle';
import type { Registrant } from './domain/people';

export interface ModelVersion {
  name: string;
  version: string;
  /** ARM id of the version, e.g. `/subscriptions/…/models/churn/versions/3`. */
  id: string;
  tags: Record<string, string>;
  properties: Record<string, string>;
  modelUri?: string;
  /** `mlflow_model` deploys without a scoring script or an environment; any other type needs both. */
  modelType?: string;
  description?: string;
  /** When the version was registered (ARM `systemData.createdAt`, ISO 8601). */
  createdAt?: string;
  /**
   * Who registered the version, as Azure records it from their token (`systemData.createdBy`): a user's name, or an
   * application's or managed identity's id. Unlike a tag, the registrant cannot write it.
   */
  createdBy?: string;
  /** `User`, `Application`, `ManagedIdentity` or `Key` (`systemData.createdByType`). */
  createdByType?: string;
}

/** Model types as the Azure ML CLI and SDK v2 register them (AssetTypes). */
export type ModelType = 'mlflow_model' | 'custom_model' | 'triton_model';

export interface NewModelVersion {
  name: string;
  version: string;
  modelUri: string;
  modelType: ModelType;
  tags?: Record<string, string>;
  properties?: Record<string, string>;
  description?: string;
}

export type ProvisioningState = 'Creating' | 'Updating' | 'Deleting' | 'Succeeded' | 'Failed' | 'Canceled' | string;

export interface Endpoint {
  name: string;
  provisioningState: ProvisioningState;
  /** deployment name → percent; sums to 100 once any deployment serves. */
  traffic: Record<string, number>;
  mirrorTraffic: Record<string, number>;
  scoringUri?: string;
  tags: Record<string, string>;
}

export interface Deployment {
  name: string;
  endpointName: string;
  provisioningState: ProvisioningState;
  /** ARM id of the model version it serves. */
  modelId?: string;
  tags: Record<string, string>;
  instanceType?: string;
  instanceCount?: number;
  /** Requests one instance processes at once (Azure's default is 1). */
  maxConcurrentRequestsPerInstance?: number;
  /** Set when provisioning failed: Azure ML's error code (OutOfQuota, ResourceNotReady, …) and message. */
  error?: { code: string; message: string };
}

export interface CodeConfiguration {
  /** ARM id of a code asset version. */
  codeId: string;
  /** Path of the scoring script inside the code asset, e.g. `score.py`. */
  scoringScript: string;
}

export interface DeploymentSpec {
  modelId: string;
  instanceType: string;
  instanceCount: number;
  /** Absent = Azure's defaults. */
  requestSettings?: RequestSettings;
  tags: Record<string, string>;
  /** A custom model's scoring script and environment (ARM id); an MLflow model deploys without them. */
  codeConfiguration?: CodeConfiguration;
  environmentId?: string;
}

export interface RequestSettings {
  maxConcurrentRequestsPerInstance: number;
  /** ISO-8601 duration, e.g. PT5S. */
  requestTimeout?: string;
}

/** What an LRO-starting call tells the caller about polling. */
export interface Accepted {
  retryAfterSeconds: number;
  /** Azure-AsyncOperation URL, when ARM gave one: it carries the error code of a failed operation. */
  operationUrl?: string;
}

export interface TrafficRead {
  endpointName: string;
  traffic: Record<string, number>;
  /** Mirror traffic as read (deployment → percent of live requests copied to it). */
  mirrorTraffic: Record<string, number>;
  provisioningState: string;
  /** The resource as read, which the change writes back (ARM has no PATCH for traffic). */
  resource: unknown;
}

export interface OperationStatus {
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled' | string;
  error?: { code: string; message: string };
  retryAfterSeconds: number;
}

export interface Job {
  name: string;
  status: string;
  properties: Record<string, string>;
  tags: Record<string, string>;
  /** URI of the job's model output, when it has one. */
  outputs: Record<string, string>;
}

export interface MlWorkspace {
  getModelVersion(name: string, version: string): Promise<ModelVersion | undefined>;
  listModelVersions(name: string): Promise<ModelVersion[]>;
  /** Sets and removes tags on one version (GET, change, PUT: ARM has no PATCH for model versions). */
  updateModelTags(name: string, version: string, set: Record<string, string>, remove: string[]): Promise<ModelVersion>;
  registerModelVersion(model: NewModelVersion): Promise<ModelVersion>;

  getEndpoint(name: string): Promise<Endpoint | undefined>;
  /** Starts creating the endpoint; poll with getEndpoint. */
  beginCreateEndpoint(name: string, tags: Record<string, string>): Promise<Accepted>;
  /** The endpoint's split and provisioning state, as read for a traffic change. */
  readTraffic(endpointName: string): Promise<TrafficRead>;
  /**
   * Replaces the split of the endpoint as `read` saw it, keeping tags, and mirror traffic unless `mirror` is given;
   * returns the endpoint update to poll.
   */
  replaceTraffic(
    read: TrafficRead,
    traffic: Record<string, number>,
    mirror?: Record<string, number>,
  ): Promise<Accepted>;
  updateEndpointTags(endpointName: string, tags: Record<string, string>): Promise<void>;
  getEndpointKey(endpointName: string): Promise<string>;

  getDeployment(endpointName: string, name: string): Promise<Deployment | undefined>;
  listDeployments(endpointName: string): Promise<Deployment[]>;
  /** Starts creating or replacing a deployment; poll with getDeployment. */
  beginCreateDeployment(endpointName: string, name: string, spec: DeploymentSpec): Promise<Accepted>;
  beginDeleteDeployment(endpointName: string, name: string): Promise<Accepted>;

  getOperationStatus(operationUrl: string): Promise<OperationStatus>;

  /** A compute target of the workspace by name: its ARM id is what a job's `computeId` takes. */
  getCompute(name: string): Promise<Compute | undefined>;
  submitJob(name: string, spec: Record<string, unknown>): Promise<Job>;
  /**
   * The metrics a job's run logged, each at its latest value, from the workspace's MLflow tracking API (the run id
   * is the job name); undefined when the tracking store has no such run.
   */
  getRunMetrics(jobName: string): Promise<Record<string, number> | undefined>;
  getJob(name: string): Promise<Job | undefined>;
  cancelJob(name: string): Promise<void>;

  getEnvironmentVersion(name: string, version: string): Promise<EnvironmentVersion | undefined>;
  createEnvironmentVersion(environment: NewEnvironmentVersion): Promise<EnvironmentVersion>;
  /** Versions of a data asset (empty when the asset does not exist). */
  listDataVersions(name: string): Promise<DataVersion[]>;

  getCodeVersion(name: string, version: string): Promise<CodeVersion | undefined>;
  createCodeVersion(code: NewCodeVersion): Promise<CodeVersion>;
}

export interface CodeVersion {
  name: string;
  version: string;
  /** ARM id of the version: what a command job's `codeId` takes. */
  id: string;
  /** Blob URL of the snapshot's folder. */
  codeUri?: string;
}

export interface NewCodeVersion {
  name: string;
  version: string;
  codeUri: string;
  description?: string;
  tags?: Record<string, string>;
  properties?: Record<string, string>;
}

export type { CodeFile } from './domain/code-snapshot';

/**
 * A model's files in a workspace's datastores, for registering the same model in another workspace: read where the
 * source's version keeps them, written to the target's default datastore, as a model is registered from files
 * (the Azure ML CLI uploads a local model folder to the default datastore, then registers the datastore path).
 */
export interface ModelFiles {
  /** The files below a datastore URI (`azureml://datastores/{ds}/paths/{p}`, short or long form), paths relative to it. */
  read(datastoreUri: string): Promise<CodeFile[]>;
  /** Writes the files below `folder` of the default datastore; returns the folder's datastore URI (short form). */
  write(folder: string, files: readonly CodeFile[]): Promise<string>;
}

/** Where code snapshots are uploaded: the workspace's default datastore. */
export interface CodeStore {
  /** Uploads the files below `folder` of the default datastore; returns the folder's blob URL (a codeUri). */
  uploadCode(folder: string, files: readonly CodeFile[]): Promise<string>;
}

export interface EnvironmentVersion {
  name: string;
  version: string;
  /** ARM id of the version: what a job's `environmentId` takes. */
  id: string;
  image?: string;
  tags: Record<string, string>;
}

export interface NewEnvironmentVersion {
  name: string;
  version: string;
  /** A base image, or a Docker build context. */
  image?: string;
  build?: { contextUri: string; dockerfilePath?: string };
  condaFile?: string;
  osType?: 'Linux' | 'Windows';
  description?: string;
  tags?: Record<string, string>;
}

export interface Compute {
  name: string;
  /** `/subscriptions/…/workspaces/{ws}/computes/{name}`. */
  id: string;
  provisioningState: string;
}

export interface DataVersion {
  name: string;
  version: string;
  /** ARM id of the version: what a job's data input takes as `uri`. */
  id: string;
  /** `uri_file`, `uri_folder` or `mltable`: the type a job input of this data must declare. */
  dataType: string;
  dataUri?: string;
  createdAt?: string;
}

/** A value in a table or a scoring request. */
export type Cell = number | string | boolean | null;

export interface ScoreRequest {
  scoringUri: string;
  key: string;
  /** The model's input column names (its signature's, or the evaluation data's); rows in that order. */
  columns: string[];
  rows: Cell[][];
  /** Sends the request to this deployment only (header azureml-model-deployment), bypassing the split. */
  deployment?: string;
}

export interface ScoreResult {
  predictions: number[];
  /** The deployment that answered, from the response header. */
  servedBy?: string;
  latencyMs: number;
}

export interface Scoring {
  score(request: ScoreRequest): Promise<ScoreResult>;
}

/** A table read from a data asset: column names and rows of cells. */
export interface Table {
  columns: string[];
  rows: (number | string | null)[][];
}

export interface DataReader {
  /** Reads a data asset version's rows (CSV with a header, or JSON rows). */
  readDataAsset(name: string, version: string): Promise<Table>;
}

/** One approver's links; `approver` absent: anyone the policy allows may use them. */
export interface ApproverLinks {
  approver?: string;
  approveUrl: string;
  rejectUrl: string;
}

/** What approvers are sent. The links carry tokens: a notifier delivers them and never logs them. */
export interface ApprovalRequest {
  promotionId: string;
  modelName: string;
  modelVersion: string;
  /** Who registered the version, as the registry recorded it (absent when it did not). */
  registrant?: Registrant;
  evidenceSummary: string;
  links: ApproverLinks[];
  expiresAt: string;
  /** A reminder of a request already sent (the same links), shortly before it expires. */
  reminder?: boolean;
}

export interface Notifier {
  approvalRequested(request: ApprovalRequest): Promise<void>;
}

export interface Telemetry {
  event(name: string, properties: Record<string, string | number | boolean>): void;
  exception(error: Error, properties?: Record<string, string>): void;
}

/** Requests one deployment answered in a window, by status class, as the endpoint's platform metrics count them. */
export interface DeploymentRequestCounts {
  requests: number;
  /** Answered 5xx: the deployment failed. */
  serverErrors: number;
  /** Answered 4xx: a bad request, or more at once than the deployment takes (429). */
  clientErrors: number;
}

/** The endpoint's own signals: Azure Monitor's platform metrics of an online endpoint. */
export interface EndpointMetrics {
  /**
   * Requests each deployment answered between `from` and `to` (deployment name → counts; a deployment with no
   * requests is absent). Azure Monitor keeps these per minute, so the window is widened to whole minutes.
   */
  requestCounts(endpointName: string, from: Date, to: Date): Promise<Record<string, DeploymentRequestCounts>>;
}

/** Where lifecycle events go (an Event Grid topic, a Service Bus topic, Application Insights). */
export interface LifecyclePublisher {
  /**
   * Publishes the events in order, each once (an event already taken is not sent again). Never throws: a delivery
   * failure is retried a bounded number of times, then logged.
   */
  publish(events: readonly LifecycleEvent[]): Promise<void>;
}

/** A model version in an Azure ML registry (`registries/{r}/models/{m}/versions/{v}`). */
export interface RegistryModelVersion {
  /** ARM id of the version. */
  id: string;
  name: string;
  version: string;
  /** `azureml://registries/{r}/models/{m}/versions/{v}`: how workspaces' jobs and deployments name it. */
  assetUri: string;
  modelUri?: string;
  modelType?: string;
  tags: Record<string, string>;
  properties: Record<string, string>;
}

/** Where a registry takes a version's files before the version is created: a blob location and its SAS URL. */
export interface PendingUpload {
  blobUri: string;
  sasUri: string;
}

/**
 * An Azure ML registry's model versions, reached with the app's identity: a version is created there from files put
 * at the location a pending upload gives (the Azure ML CLI's `az ml model create --registry-name` does the same).
 */
export interface ModelRegistry {
  readonly registryId: string;
  getModelVersion(name: string, version: string): Promise<RegistryModelVersion | undefined>;
  startPendingUpload(name: string, version: string, pendingUploadId: string): Promise<PendingUpload>;
  uploadFiles(upload: PendingUpload, files: readonly CodeFile[]): Promise<void>;
  /** Creates the version (its `modelUri` the pending upload's `blobUri`) and answers it once it exists. */
  createModelVersion(version: NewModelVersion): Promise<RegistryModelVersion>;
}
