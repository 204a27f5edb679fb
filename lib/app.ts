/**
 * The composition root: settings → Azure adapters → activity dependencies. Built once per process when the app
 * starts (functions/startup.ts), so a bad setting stops it with the setting's name instead of failing invocations.
 */
import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/core-auth';
import { AzureKeyCredential } from '@azure/eventgrid';
import { EndpointKeyCache, type ActivityDeps, type WorkspaceDeps } from './activities';
import {
  createCloudEventSender,
  createTopicSender,
  EventGridSink,
  FanOutPublisher,
  MemoryTopic,
  ServiceBusSink,
  type LifecycleSink,
} from './adapters/lifecycle';
import { MemoryNotifier, OutboxNotifier, ServiceBusNotifier } from './adapters/notifier';
import { AppInsightsTelemetry, createTelemetry, TelemetrySink } from './adapters/telemetry';
import { createCredential } from './azure/credential';
import { BlobCodeStore, BlobModelFiles, DatastoreContainers } from './azure/blob-datastore';
import { BlobDataReader } from './azure/data-reader';
import { AzureMlRegistry } from './azure/ml-registry';
import { AzureMlWorkspace } from './azure/ml-workspace';
import { AzureMonitorMetrics } from './azure/metrics';
import { EndpointScoring } from './azure/scoring';
import { readSettings, type Settings } from './config';
import { parsePolicies, type PolicySet } from './domain/policy';
import { identityMode, type IdentityMode } from './identity';
import { parseWorkspaceId, sameWorkspace, workspaceId } from './domain/workspace-id';
import type { LifecyclePublisher, Notifier, Telemetry } from './ports';

export interface App {
  settings: Settings;
  /** The in-memory Service Bus topic lifecycle messages go to when no namespace is set (off Azure). */
  lifecycleTopic?: MemoryTopic;
  policies: PolicySet;
  /** The app's own workspace's ARM id: registrations there start promotions, and a policy's first environment is it. */
  workspaceId: string;
  /** Where approvers' identities come from. */
  identity: IdentityMode;
  deps: Omit<ActivityDeps, 'signal' | 'start' | 'readFreeze'>;
}

let app: App | undefined;

/** `appWorkspace`: the app's own workspace's ARM id, which every policy's first environment must be. */
export function loadPolicies(setting: string, appWorkspace?: string): PolicySet {
  const file = setting.startsWith('@') ? setting.slice(1) : undefined;
  const where = file ? `CHAMPION_POLICIES (${file})` : 'CHAMPION_POLICIES';
  let json: unknown;
  try {
    json = JSON.parse(file ? readFileSync(file, 'utf8') : setting);
  } catch (err) {
    const cause = (err as NodeJS.ErrnoException).code ? 'cannot be read' : 'not valid JSON';
    throw new Error(`${where}: ${cause} (${(err as Error).message})`);
  }
  try {
    return parsePolicies(json, appWorkspace ? { appWorkspace } : {});
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

export function getApp(env: Record<string, string | undefined> = process.env): App {
  if (app) return app;
  const settings = readSettings(env);
  const ownWorkspaceId = workspaceId({
    subscriptionId: settings.AZURE_SUBSCRIPTION_ID,
    resourceGroup: settings.AZURE_RESOURCE_GROUP,
    workspaceName: settings.AZUREML_WORKSPACE_NAME,
  });
  const policies = loadPolicies(settings.CHAMPION_POLICIES, ownWorkspaceId);
  const credential = createCredential({
    accessToken: settings.AZUREML_ACCESS_TOKEN,
    storageAccessToken: settings.AZUREML_STORAGE_ACCESS_TOKEN,
    managedIdentityClientId: settings.AZURE_CLIENT_ID,
  });
  const caCert = settings.AZUREML_CA_CERT_PATH ? readFileSync(settings.AZUREML_CA_CERT_PATH, 'utf8') : undefined;
  const address = {
    subscriptionId: settings.AZURE_SUBSCRIPTION_ID,
    resourceGroup: settings.AZURE_RESOURCE_GROUP,
    workspaceName: settings.AZUREML_WORKSPACE_NAME,
    armEndpoint: settings.AZUREML_ARM_ENDPOINT,
    caCert,
  };
  const storage = { blobServiceUrl: settings.AZUREML_BLOB_SERVICE_URL, caCert };
  /** The ports of one workspace: the app's own, or an environment's (same identity, ARM endpoint and storage rules). */
  const workspacePorts = (at: typeof address): WorkspaceDeps & { workspace: AzureMlWorkspace } => {
    const workspace = new AzureMlWorkspace(credential, at);
    const containers = () =>
      new DatastoreContainers(workspace.client, credential, at.resourceGroup, at.workspaceName, storage);
    return {
      workspace,
      data: new BlobDataReader(workspace.client, credential, at.resourceGroup, at.workspaceName, storage),
      code: new BlobCodeStore(containers()),
      modelFiles: new BlobModelFiles(containers()),
      // Azure Monitor is reached at the ARM endpoint: management.azure.com on Azure, the local workspace here.
      metrics: new AzureMonitorMetrics(credential, at),
      keys: new EndpointKeyCache(workspace),
    };
  };
  const own = workspacePorts(address);
  const environments = new Map<string, WorkspaceDeps>();
  const forWorkspace = (id: string): WorkspaceDeps => {
    const ref = parseWorkspaceId(id);
    const key = id.toLowerCase();
    if (sameWorkspace(id, ownWorkspaceId)) return own;
    let ports = environments.get(key);
    if (!ports) {
      ports = workspacePorts({ ...address, ...ref });
      environments.set(key, ports);
    }
    return ports;
  };
  // Registries through the app's own client pipeline (identity, ARM endpoint, retries), one per registry.
  const registries = new Map<string, AzureMlRegistry>();
  const forRegistry = (id: string): AzureMlRegistry => {
    const key = id.toLowerCase();
    let registry = registries.get(key);
    if (!registry) {
      registry = new AzureMlRegistry(own.workspace.client, id, { armEndpoint: address.armEndpoint, caCert });
      registries.set(key, registry);
    }
    return registry;
  };
  const log = (line: string) => console.log(line);
  const notifier: Notifier =
    settings.SERVICEBUS_NAMESPACE && settings.SERVICEBUS_TOPIC
      ? new ServiceBusNotifier({
          fullyQualifiedNamespace: settings.SERVICEBUS_NAMESPACE,
          topicName: settings.SERVICEBUS_TOPIC,
          credential,
        })
      : settings.CHAMPION_OUTBOX_DIR
        ? new OutboxNotifier(settings.CHAMPION_OUTBOX_DIR, log)
        : new MemoryNotifier({ log });
  const publicUrl =
    settings.CHAMPION_PUBLIC_URL ??
    (settings.WEBSITE_HOSTNAME ? `https://${settings.WEBSITE_HOSTNAME}` : 'http://127.0.0.1:7071');
  const lifecycleTopic = settings.SERVICEBUS_LIFECYCLE_TOPIC ? undefined : new MemoryTopic();
  const telemetry = createTelemetry({ connectionString: settings.APPLICATIONINSIGHTS_CONNECTION_STRING, log });
  app = {
    settings,
    ...(lifecycleTopic ? { lifecycleTopic } : {}),
    policies,
    workspaceId: ownWorkspaceId,
    identity: identityMode(settings),
    deps: {
      ...own,
      scoring: new EndpointScoring({ caCert }),
      notifier,
      telemetry,
      forWorkspace,
      forRegistry,
      approvalSecret: settings.CHAMPION_APPROVAL_SECRET,
      publicUrl,
      lifecycle: lifecyclePublisher(settings, credential, publicUrl, lifecycleTopic, telemetry, log),
      gitSha: settings.CHAMPION_GIT_SHA,
      gitRepository: settings.CHAMPION_GIT_REPOSITORY,
    },
  };
  return app;
}

/**
 * Lifecycle events go to the Event Grid topic when one is set (with the app's identity; a key only for the local
 * topic) and to the Service Bus lifecycle topic, or its in-memory stand-in off Azure.
 */
function lifecyclePublisher(
  settings: Settings,
  credential: TokenCredential,
  source: string,
  memoryTopic: MemoryTopic | undefined,
  telemetry: Telemetry,
  log: (line: string) => void,
): LifecyclePublisher {
  const sinks: LifecycleSink[] = [];
  // Application Insights only when a connection string set it up: otherwise no sink, nothing sent, nothing waited for.
  if (telemetry instanceof AppInsightsTelemetry) sinks.push(new TelemetrySink(telemetry));
  const endpoint = settings.CHAMPION_EVENTGRID_ENDPOINT;
  if (endpoint) {
    const key = settings.CHAMPION_EVENTGRID_KEY;
    const sender = createCloudEventSender({
      endpoint,
      credential: key ? new AzureKeyCredential(key) : credential,
      allowInsecureConnection: endpoint.startsWith('http:'),
    });
    sinks.push(new EventGridSink(sender, source));
  }
  const topic =
    settings.SERVICEBUS_NAMESPACE && settings.SERVICEBUS_LIFECYCLE_TOPIC
      ? createTopicSender(settings.SERVICEBUS_NAMESPACE, settings.SERVICEBUS_LIFECYCLE_TOPIC, credential)
      : memoryTopic;
  if (topic) sinks.push(new ServiceBusSink(topic, source));
  return new FanOutPublisher(sinks, { log });
}
