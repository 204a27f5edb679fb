/**
 * App settings, read once at start and validated: a bad or missing setting fails with its name.
 */
import { z } from 'zod';

const nonEmpty = z.string().trim().min(1, 'must be set');

const settingsSchema = z.object({
  AZURE_SUBSCRIPTION_ID: nonEmpty,
  AZURE_RESOURCE_GROUP: nonEmpty,
  AZUREML_WORKSPACE_NAME: nonEmpty,
  /** ARM endpoint; only set to point at another cloud or at the local workspace. */
  AZUREML_ARM_ENDPOINT: z.url({ protocol: /^https$/, error: 'must be an https URL' }).optional(),
  /** PEM file of an extra CA to trust (the local workspace's self-signed certificate). */
  AZUREML_CA_CERT_PATH: z.string().optional(),
  /**
   * Blob service URL of a datastore's storage account, `{account}` replaced by its accountName: only set to point
   * at a path-style emulator (the local workspace's Azurite, `https://127.0.0.1:PORT/{account}`). Default: the
   * datastore's own `https://{account}.blob.{endpoint}`.
   */
  AZUREML_BLOB_SERVICE_URL: z
    .string()
    .regex(/^https:\/\/[^\s]*\{account\}/, 'must be an https URL template containing {account}')
    .optional(),
  /** A fixed bearer token (the local workspace's); on Azure the managed identity is used instead. */
  AZUREML_ACCESS_TOKEN: z.string().optional(),
  /** With AZUREML_ACCESS_TOKEN: the fixed bearer token for Azure Storage (the local workspace's storage). */
  AZUREML_STORAGE_ACCESS_TOKEN: z.string().optional(),
  /** Client id of the user-assigned managed identity. */
  AZURE_CLIENT_ID: z.string().optional(),
  /** Promotion policies: JSON, or `@path/to/policies.json`. */
  CHAMPION_POLICIES: nonEmpty,
  /** The commit and repository this app was deployed from; stamped on deployments. */
  CHAMPION_GIT_SHA: z
    .string()
    .regex(/^[0-9a-f]{7,40}$/i, 'must be a git commit SHA')
    .optional(),
  CHAMPION_GIT_REPOSITORY: z.string().optional(),
  /** Key that signs approval links; at least 32 characters. */
  CHAMPION_APPROVAL_SECRET: z.string().min(32, 'must be at least 32 characters'),
  /** Public base URL of this app, for approval links. */
  CHAMPION_PUBLIC_URL: z.url().optional(),
  APPLICATIONINSIGHTS_CONNECTION_STRING: z.string().optional(),
  /** Service Bus namespace (fully qualified) and topic for approval notifications; unset = log only. */
  SERVICEBUS_NAMESPACE: z.string().optional(),
  SERVICEBUS_TOPIC: z.string().optional(),
  /** Service Bus topic for lifecycle events (with SERVICEBUS_NAMESPACE); unset: kept in memory. */
  SERVICEBUS_LIFECYCLE_TOPIC: z.string().optional(),
  /** Event Grid custom topic (CloudEvents schema) lifecycle events are published to; unset: none. */
  CHAMPION_EVENTGRID_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** The topic's access key: only for the local host's topic (on Azure the topic takes the app's identity alone). */
  CHAMPION_EVENTGRID_KEY: z.string().optional(),
  WEBSITE_HOSTNAME: z.string().optional(),
  /** Set to `True` by App Service when its authentication is on: only then are the principal headers trusted. */
  WEBSITE_AUTH_ENABLED: z.string().optional(),
  /** Off Azure, who decides when a request names nobody (default: the operating system's user). */
  CHAMPION_LOCAL_USER: z.string().optional(),
  /** Off Azure, the folder approval messages are written to (one file per approver), instead of memory. */
  CHAMPION_OUTBOX_DIR: z.string().optional(),
});

export type Settings = z.infer<typeof settingsSchema>;

export class ConfigError extends Error {}

export function readSettings(env: Record<string, string | undefined>): Settings {
  // Empty strings in local.settings.json mean "not set".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = settingsSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`);
    throw new ConfigError(`Invalid app settings: ${problems.join('; ')}`);
  }
  const settings = parsed.data;
  if (settings.SERVICEBUS_NAMESPACE && !settings.SERVICEBUS_TOPIC) {
    throw new ConfigError('Invalid app settings: SERVICEBUS_TOPIC: must be set with SERVICEBUS_NAMESPACE');
  }
  if (settings.SERVICEBUS_LIFECYCLE_TOPIC && !settings.SERVICEBUS_NAMESPACE) {
    throw new ConfigError('Invalid app settings: SERVICEBUS_NAMESPACE: must be set with SERVICEBUS_LIFECYCLE_TOPIC');
  }
  // A bearer token never goes over plain http (the SDK refuses it): only the local topic, with its key, is http.
  if (settings.CHAMPION_EVENTGRID_ENDPOINT?.startsWith('http:') && !settings.CHAMPION_EVENTGRID_KEY) {
    throw new ConfigError(
      'Invalid app settings: CHAMPION_EVENTGRID_ENDPOINT: must be https (http only for a local topic, with CHAMPION_EVENTGRID_KEY)',
    );
  }
  return settings;
}

export function publicBaseUrl(settings: Settings, fallback: string): string {
  if (settings.CHAMPION_PUBLIC_URL) return settings.CHAMPION_PUBLIC_URL.replace(/\/+$/, '');
  if (settings.WEBSITE_HOSTNAME) return `https://${settings.WEBSITE_HOSTNAME}`;
  return fallback;
}
