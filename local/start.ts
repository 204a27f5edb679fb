/**
 * The embedded default (`npm start`): the local Azure ML workspace and the local Functions host running
 * Champion's own registrations, wired together the way Azure wires them — the app reaches the workspace through
 * the official SDK over https, and the workspace delivers Event Grid events to the app's webhook.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadPolicies } from '../lib/app';
import { replaySchema } from './runtime/durable/replay';
import { EVENT_GRID_TOPIC_PATH } from './runtime/event-grid-topic';
import { LocalFunctionsHost } from './runtime/host';
import { whenPortInUse } from './runtime/port-in-use';
import { startWorkspace, type LocalWorkspace } from './workspace/index';

const usage = `Usage: npm start -- [options]

Runs Champion locally with no Azure account: a local Azure ML workspace (ARM REST over https, real models)
and the local Functions host serving the app.

Options:
  --port N            Functions host port (default: $FUNCTIONS_HTTP_PORT or 7071)
  --workspace-port N  local workspace port (default: $CHAMPION_WORKSPACE_PORT or 7443)
  --data-dir DIR      where all state is kept (default: $CHAMPION_DATA_DIR or .data)
  --policies FILE     promotion policies (default: the demo policies for the models "demand", "pricing" (a
                      judged canary) and "forecast" (QA → production), written to the data dir)
  --provisioning-ms N how long deployments take to provision in the local workspace (default 1500)
  --durable-schema V  the OOProc replay schema the durable engine advertises (default V4); V3 shows what an
                      extension older than DurableTask 3.13 does with the app
  --delete-ms N       how long deletes take in the local workspace (default half the provisioning time)
  -h, --help          show this help`;

export const DEMO_MODEL = 'demand';
export const DEMO_ENDPOINT = 'demand-ep';
export const DEMO_EVAL_DATA = { name: 'demand-eval', version: '1' };

/** The demo model's policy (a policies file holds `{policies: [...]}`). */
export function demoPolicy() {
  return {
    modelName: DEMO_MODEL,
    endpointName: DEMO_ENDPOINT,
    task: 'regression',
    primaryMetric: 'mse',
    minImprovement: 0,
    guardrails: [{ metric: 'mae', margin: 0.5 }],
    evaluation: { mode: 'paired', dataAsset: DEMO_EVAL_DATA, labelColumn: 'y', minSamples: 100 },
    approval: { required: true, timeout: 'PT24H', onTimeout: 'reject' },
    rollout: {
      instanceType: 'Standard_DS3_v2',
      instanceCount: 1,
      steps: [100],
      provisioningDeadline: 'PT10M',
      testSpec: { sampleRows: [[0, 0, 0, 0]], latencyBudgetMs: 2000 },
    },
    retraining: {
      schedule: '0 0 2 1 * *',
      cooldown: 'PT1H',
      trainingDataAsset: { name: 'demand-train' },
      jobSpec: 'jobs/train-demand.json',
    },
  };
}

export const CANARY_MODEL = 'pricing';
export const CANARY_ENDPOINT = 'pricing-ep';

/**
 * A second model, released progressively: a canary of 20 %, then 50 %, then 100 %, each step baked for 15 s and judged
 * against the champion on the endpoint's own signals; the previous version kept warm for an hour to roll back to.
 */
export function canaryPolicy() {
  const { retraining: _none, ...policy } = demoPolicy();
  return {
    ...policy,
    modelName: CANARY_MODEL,
    endpointName: CANARY_ENDPOINT,
    rollout: {
      ...policy.rollout,
      strategy: 'canary',
      steps: [20, 50, 100],
      bake: 'PT15S',
      rollbackWindow: 'PT1H',
      analysis: {
        // A demo's few hundred requests per step: an error rate's allowance of 5 % is what they can show.
        metrics: {
          errorRate: { maxIncrease: 0.05 },
          latency: { maxIncreaseMs: 100 },
          latencyP95: { maxIncreaseMs: 250 },
        },
        onInconclusive: 'pause',
        minRequests: 20,
        minSamples: 20,
        replaySampleSize: 30,
      },
    },
  };
}

/** The local workspaces' ARM ids: the first is QA (the app's own), the second production (WorkspaceOptions.workspaces). */
export const LOCAL_SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';
export const LOCAL_RESOURCE_GROUP = 'champion-local';
export const QA_WORKSPACE = 'champion-ws';
export const PROD_WORKSPACE = 'champion-prod';
/** The Azure ML registry the embedded default serves beside them, and its ARM id. */
export const LOCAL_REGISTRY = 'champion-registry';
export const localRegistryId = (name: string) =>
  `/subscriptions/${LOCAL_SUBSCRIPTION}/resourceGroups/${LOCAL_RESOURCE_GROUP}/providers/Microsoft.MachineLearningServices/registries/${name}`;
export const localWorkspaceId = (name: string) =>
  `/subscriptions/${LOCAL_SUBSCRIPTION}/resourceGroups/${LOCAL_RESOURCE_GROUP}/providers/Microsoft.MachineLearningServices/workspaces/${name}`;

export const ENVIRONMENTS_MODEL = 'forecast';

/**
 * The QA → production demo's policy: `forecast` is promoted in QA (the app's workspace, endpoint forecast-qa, a
 * person's approval), then a person opens the gate into production; the same model goes through the registry
 * champion-registry and is registered in production with its lineage, and released on forecast-prod with QA's evidence
 * reused (no second approval).
 */
export function environmentsPolicy() {
  const base = demoPolicy();
  return {
    modelName: ENVIRONMENTS_MODEL,
    endpointName: 'forecast-qa',
    task: base.task,
    primaryMetric: base.primaryMetric,
    minImprovement: base.minImprovement,
    guardrails: base.guardrails,
    evaluation: base.evaluation,
    approval: base.approval,
    rollout: base.rollout,
    environments: [
      { name: 'qa', workspace: localWorkspaceId(QA_WORKSPACE), endpointName: 'forecast-qa' },
      {
        name: 'prod',
        workspace: localWorkspaceId(PROD_WORKSPACE),
        endpointName: 'forecast-prod',
        // Through the host's registry, which keeps the promoted version with its lineage.
        registry: localRegistryId(LOCAL_REGISTRY),
        gate: { approval: { required: true, timeout: 'PT24H', onTimeout: 'reject' } },
        evaluation: { mode: 'reuse' },
        approval: { required: false },
      },
    ],
  };
}

/** The local topic's access key, as Event Grid shows a topic's keys (base64 of 32 random bytes), kept across starts. */
function topicKeyIn(dataDir: string): string {
  const file = path.join(dataDir, 'eventgrid-topic-key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

function secretIn(dataDir: string): string {
  const file = path.join(dataDir, 'approval-secret');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/** The git directory of a checkout: `.git` itself, or where a worktree's `.git` file points. */
function gitDir(repoDir: string): string {
  const dotGit = path.join(repoDir, '.git');
  if (!statSync(dotGit).isFile()) return dotGit;
  return path.resolve(
    repoDir,
    readFileSync(dotGit, 'utf8')
      .replace(/^gitdir:\s*/, '')
      .trim(),
  );
}

function gitCommit(repoDir: string): string | undefined {
  try {
    const dir = gitDir(repoDir);
    // A worktree keeps its HEAD; branches and packed refs live in the common directory.
    const common = existsSync(path.join(dir, 'commondir'))
      ? path.resolve(dir, readFileSync(path.join(dir, 'commondir'), 'utf8').trim())
      : dir;
    const head = readFileSync(path.join(dir, 'HEAD'), 'utf8').trim();
    if (/^[0-9a-f]{40}$/.test(head)) return head;
    const ref = head.replace(/^ref: /, '');
    const file = path.join(common, ref);
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    const packed = path.join(common, 'packed-refs');
    const line = existsSync(packed)
      ? readFileSync(packed, 'utf8')
          .split('\n')
          .find((l) => l.endsWith(` ${ref}`))
      : undefined;
    return line?.split(' ')[0];
  } catch {
    return undefined;
  }
}

function port(value: string | undefined, fallback: number, name: string): number {
  const n = Number(value ?? fallback);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name}: "${value}" is not a port number.`);
  return n;
}

/** A port that was free a moment ago, for servers whose URL must be known before they start. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface Embedded {
  host: LocalFunctionsHost;
  workspace: LocalWorkspace;
  close(): Promise<void>;
}

export async function startEmbedded(options: {
  appDir: string;
  dataDir: string;
  port: number;
  workspacePort: number;
  policiesFile?: string;
  provisioningMs?: number;
  durableSchema?: number;
  deleteMs?: number;
  log?: (line: string) => void;
}): Promise<Embedded> {
  const log = options.log ?? ((line: string) => console.log(line));
  mkdirSync(options.dataDir, { recursive: true });
  let policiesFile = options.policiesFile;
  if (!policiesFile) {
    policiesFile = path.join(options.dataDir, 'policies.json');
    if (!existsSync(policiesFile)) {
      const policies = [demoPolicy(), canaryPolicy(), environmentsPolicy()];
      writeFileSync(policiesFile, JSON.stringify({ policies }, null, 2));
    }
  }
  // A bad policy file stops everything before anything starts, with the path of the bad field.
  loadPolicies(`@${policiesFile}`, localWorkspaceId(QA_WORKSPACE));
  const hostUrl = `http://127.0.0.1:${options.port}`;
  const workspace = await startWorkspace({
    dataDir: path.join(options.dataDir, 'workspace'),
    port: options.workspacePort,
    // The person at the keyboard registers as the same local user the app decides as.
    ...(process.env.CHAMPION_LOCAL_USER ? { user: process.env.CHAMPION_LOCAL_USER } : {}),
    provisioningMs: options.provisioningMs ?? 1500,
    deleteMs: options.deleteMs,
    subscriptionId: LOCAL_SUBSCRIPTION,
    resourceGroup: LOCAL_RESOURCE_GROUP,
    workspaceName: QA_WORKSPACE,
    // Production, beside QA under its own ARM id; the app's Event Grid subscription is QA's, where models are
    // registered (a version copied into production starts no promotion of its own).
    workspaces: [{ workspaceName: PROD_WORKSPACE }],
    // A registry a policy's environment may copy through (`environments[i].registry`).
    registries: [{ registryName: LOCAL_REGISTRY }],
    eventSubscribers: [
      {
        url: `${hostUrl}/runtime/webhooks/eventgrid?functionName=onModelRegistered`,
        eventTypes: ['Microsoft.MachineLearningServices.ModelRegistered'],
      },
      {
        // Drift signals of both generations: model-monitor runs (v2) and dataset monitors (v1).
        url: `${hostUrl}/runtime/webhooks/eventgrid?functionName=onDriftDetected`,
        eventTypes: [
          'Microsoft.MachineLearningServices.RunStatusChanged',
          'Microsoft.MachineLearningServices.DatasetDriftDetected',
        ],
      },
    ],
    log: () => {},
  }).catch(whenPortInUse(options.workspacePort, '--workspace-port'));
  try {
    await workspace.generateData({
      ...DEMO_EVAL_DATA,
      rows: 400,
      seed: 1000,
      description: 'Evaluation rows for the demo model',
    });
  } catch {
    // Already there from an earlier start.
  }
  try {
    // Production keeps its own evaluation rows (the same generator and seed), named as QA's.
    await workspace.workspaces[PROD_WORKSPACE]!.workspace.generateData({
      ...DEMO_EVAL_DATA,
      rows: 400,
      seed: 1000,
      description: 'Evaluation rows for the demo model',
    });
  } catch {
    // Already there from an earlier start.
  }

  const sha = gitCommit(options.appDir);
  const topicKey = topicKeyIn(options.dataDir);
  Object.assign(process.env, {
    AZURE_SUBSCRIPTION_ID: workspace.subscriptionId,
    AZURE_RESOURCE_GROUP: workspace.resourceGroup,
    AZUREML_WORKSPACE_NAME: workspace.workspaceName,
    AZUREML_ARM_ENDPOINT: workspace.armEndpoint,
    AZUREML_CA_CERT_PATH: workspace.caCertPath,
    AZUREML_ACCESS_TOKEN: workspace.token,
    AZUREML_STORAGE_ACCESS_TOKEN: workspace.storageToken,
    AZUREML_BLOB_SERVICE_URL: workspace.blobServiceUrl,
    CHAMPION_POLICIES: `@${policiesFile}`,
    CHAMPION_APPROVAL_SECRET: secretIn(options.dataDir),
    CHAMPION_PUBLIC_URL: hostUrl,
    // Approval links are delivered here (one file per approver), never to the log.
    CHAMPION_OUTBOX_DIR: path.join(options.dataDir, 'outbox'),
    ...(sha ? { CHAMPION_GIT_SHA: sha } : {}),
    CHAMPION_GIT_REPOSITORY: process.env.CHAMPION_GIT_REPOSITORY ?? 'local',
    // Lifecycle events go to the host's own Event Grid topic, as they go to the custom topic on Azure.
    CHAMPION_EVENTGRID_ENDPOINT: `${hostUrl}${EVENT_GRID_TOPIC_PATH}`,
    CHAMPION_EVENTGRID_KEY: topicKey,
  });

  let host: LocalFunctionsHost;
  try {
    host = await LocalFunctionsHost.start({
      appDir: options.appDir,
      dataDir: path.join(options.dataDir, 'runtime'),
      port: options.port,
      durableSchema: options.durableSchema,
      eventGridTopicKey: topicKey,
      log,
    }).catch(whenPortInUse(options.port, '--port'));
  } catch (err) {
    await workspace.close();
    throw err;
  }
  return {
    host,
    workspace,
    close: async () => {
      await host.close();
      await workspace.close();
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'workspace-port': { type: 'string' },
      'data-dir': { type: 'string' },
      policies: { type: 'string' },
      'provisioning-ms': { type: 'string' },
      'durable-schema': { type: 'string' },
      'delete-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const appDir = path.resolve(__dirname, '..', '..');
  const embedded = await startEmbedded({
    appDir,
    dataDir: path.resolve(values['data-dir'] ?? process.env.CHAMPION_DATA_DIR ?? path.join(appDir, '.data')),
    port: port(values.port ?? process.env.FUNCTIONS_HTTP_PORT, 7071, '--port'),
    workspacePort: port(values['workspace-port'] ?? process.env.CHAMPION_WORKSPACE_PORT, 7443, '--workspace-port'),
    policiesFile: values.policies ? path.resolve(values.policies) : undefined,
    provisioningMs: values['provisioning-ms'] ? Number(values['provisioning-ms']) : undefined,
    durableSchema: values['durable-schema'] ? replaySchema(values['durable-schema'], '--durable-schema') : undefined,
    deleteMs: values['delete-ms'] ? Number(values['delete-ms']) : undefined,
  });
  const { host, workspace } = embedded;
  console.log(`Local Azure ML workspace: ${workspace.armEndpoint} (details in ${workspace.workspaceJsonPath})`);
  console.log(`Functions host listening on ${host.url}`);
  for (const fn of host.describe()) console.log(`  ${fn.name} [${fn.trigger}] ${fn.url ?? ''}`);
  const stop = () => void embedded.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
