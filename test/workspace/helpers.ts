import { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivities, type ActivityDeps, type ActivityHandlers } from '../../lib/activities';
import { BlobCodeStore, DatastoreContainers } from '../../lib/azure/blob-datastore';
import { BlobDataReader } from '../../lib/azure/data-reader';
import { AzureMlWorkspace } from '../../lib/azure/ml-workspace';
import { trainingJobSpec } from '../../local/lab';
import { uploadTrainingCode } from '../../local/workspace/fixtures';
import { WorkspaceRestClient } from '../../local/workspace/client';
import { startWorkspace, type LocalWorkspace, type WorkspaceOptions } from '../../local/workspace/index';

export const LRO = { updateIntervalInMs: 20 };

const dirs: string[] = [];

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'champion-ws-test-'));
  dirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export const PROVISIONING_MS = 100;

/** A workspace tuned for tests: short provisioning, Retry-After 0 (the SDK then uses updateIntervalInMs). */
export function start(opts: Partial<WorkspaceOptions> = {}): Promise<LocalWorkspace> {
  return startWorkspace({
    dataDir: opts.dataDir ?? tempDir(),
    provisioningMs: PROVISIONING_MS,
    retryAfterSeconds: 0,
    jobMs: 60,
    statsFlushMs: 50,
    eventRetry: { baseMs: 30, maxMs: 200 },
    ...opts,
  });
}

/** The production ARM adapter, pointed at the workspace. */
export function mlWorkspace(ws: LocalWorkspace): AzureMlWorkspace {
  return new AzureMlWorkspace(ws.credential(), {
    subscriptionId: ws.subscriptionId,
    resourceGroup: ws.resourceGroup,
    workspaceName: ws.workspaceName,
    armEndpoint: ws.armEndpoint,
    caCert: ws.caCert,
  });
}

/**
 * Champion's activities over `workspace`, with quiet telemetry, a test signing secret and a signal that is always
 * delivered; `extra` adds the ports a test uses (scoring, data). The rest stay absent: a test that reaches for one
 * fails loudly.
 */
export function workspaceActivities(workspace: AzureMlWorkspace, extra: Partial<ActivityDeps> = {}): ActivityHandlers {
  return createActivities({
    workspace,
    telemetry: { event: () => {}, exception: () => {} },
    approvalSecret: 'test-secret',
    publicUrl: 'http://127.0.0.1:7071',
    signal: async () => true,
    start: async () => true,
    readFreeze: async () => undefined,
    ...extra,
  } as ActivityDeps);
}

/** The real SDK client, pointed at the workspace the way production code must be configured. */
export function sdk(ws: LocalWorkspace): AzureMachineLearningWorkspaces {
  return new AzureMachineLearningWorkspaces(ws.credential(), ws.subscriptionId, {
    endpoint: ws.armEndpoint,
    tlsOptions: { ca: ws.caCert },
    retryOptions: { retryDelayInMs: 10, maxRetryDelayInMs: 50 },
  });
}

/** The production data reader: datastores through ARM, blobs from the workspace's Azurite with a storage token. */
export function dataReader(ws: LocalWorkspace): BlobDataReader {
  return new BlobDataReader(sdk(ws), ws.credential(), ws.resourceGroup, ws.workspaceName, {
    blobServiceUrl: ws.blobServiceUrl,
    caCert: ws.caCert,
  });
}

/** The production code store: the default datastore through ARM, blobs uploaded to Azurite with a storage token. */
export function codeStore(ws: LocalWorkspace): BlobCodeStore {
  return new BlobCodeStore(
    new DatastoreContainers(sdk(ws), ws.credential(), ws.resourceGroup, ws.workspaceName, {
      blobServiceUrl: ws.blobServiceUrl,
      caCert: ws.caCert,
    }),
  );
}

export function rest(ws: LocalWorkspace): WorkspaceRestClient {
  return new WorkspaceRestClient(ws);
}

export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

export const TRAIN_COMMAND = 'python train.py --task regression --target y --data ${{inputs.training_data}}';

/** ARM id of a code version holding the repo's train.py, what TRAIN_COMMAND runs (registered once). */
export const trainingCode = uploadTrainingCode;

/**
 * Generates data, runs a training job through the SDK and registers its output as a model version. `columns`
 * renames the generated columns (x1..x4, then the target y).
 */
export async function trainAndRegister(
  ws: LocalWorkspace,
  client: AzureMachineLearningWorkspaces,
  args: {
    job: string;
    model: string;
    version: string;
    seed?: number;
    drift?: number;
    quality?: number;
    columns?: string[];
    /** Where the job writes its model: a datastore path (default: kept by the job). */
    modelOutputUri?: string;
  },
): Promise<{ modelId: string; metrics: Record<string, string> }> {
  const rg = ws.resourceGroup;
  const name = ws.workspaceName;
  const generate = { rows: 400, seed: args.seed ?? 1, drift: args.drift ?? 0, quality: args.quality ?? 1 };
  const data = await (args.columns
    ? ws.uploadData({ name: `${args.job}-data`, table: { ...ws.sampleRows(generate), columns: args.columns } })
    : ws.generateData({ name: `${args.job}-data`, ...generate }));
  const workspace = mlWorkspace(ws);
  await workspace.submitJob(
    args.job,
    await trainingJobSpec(workspace, {
      command: TRAIN_COMMAND.replace('--target y', `--target ${args.columns?.at(-1) ?? 'y'}`),
      codeId: await trainingCode(ws),
      environmentId: 'azureml:local-sklearn:1',
      data: { name: `${args.job}-data`, version: String(data.name) },
      ...(args.modelOutputUri ? { modelOutputUri: args.modelOutputUri } : {}),
    }),
  );
  const job = await waitFor(async () => {
    const j = await client.jobs.get(rg, name, args.job);
    return ['Completed', 'Failed', 'Canceled'].includes(j.properties.status ?? '') ? j : undefined;
  }, `job ${args.job}`);
  if (job.properties.status !== 'Completed') {
    throw new Error(`job ${args.job} ${job.properties.status}: ${JSON.stringify(job.properties.properties)}`);
  }
  const logged = (await workspace.getRunMetrics(args.job)) ?? {};
  const metrics = Object.fromEntries(Object.entries(logged).map(([k, v]) => [`metrics.${k}`, String(v)]));
  const mv = await client.modelVersions.createOrUpdate(rg, name, args.model, args.version, {
    properties: {
      modelUri: `azureml://jobs/${args.job}/outputs/model`,
      modelType: 'mlflow_model',
      properties: metrics,
      tags: { stage: 'candidate' },
    },
  });
  return { modelId: mv.id!, metrics };
}

export function endpointBody(location: string, extra: Record<string, unknown> = {}) {
  return {
    location,
    identity: { type: 'SystemAssigned' as const },
    properties: { authMode: 'Key' as const, ...extra },
  };
}

export function deploymentBody(location: string, modelId: string) {
  return {
    location,
    sku: { name: 'Default', capacity: 1 },
    properties: {
      endpointComputeType: 'Managed' as const,
      model: modelId,
      instanceType: 'Standard_DS3_v2',
    },
  };
}

export const ROWS = { input_data: { columns: ['x1', 'x2', 'x3', 'x4'], data: [[0.1, -0.2, 0.3, 0.5]] } };
