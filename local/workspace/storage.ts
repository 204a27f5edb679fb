/**
 * The workspace's storage account: Azurite (Microsoft's storage emulator) serving the Blob REST API over https in
 * this process, with `--oauth basic` so clients present Entra ID bearer tokens as on Azure. Its state lives in
 * `<dataDir>/storage` and survives restarts; the port is free at each start (clients get the URL from config).
 */
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';
import type { PipelineOptions } from '@azure/core-rest-pipeline';
import type { StoragePipelineOptions } from '@azure/storage-blob';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BlobConfiguration from 'azurite/dist/src/blob/BlobConfiguration';
import BlobServer from 'azurite/dist/src/blob/BlobServer';
import { configLogger } from 'azurite/dist/src/common/Logger';
import { EMULATOR_ACCOUNT_KEY, EMULATOR_ACCOUNT_NAME } from 'azurite/dist/src/common/utils/constants';

/** Azurite's built-in account; the datastore names it as its `accountName`. */
export const STORAGE_ACCOUNT: string = EMULATOR_ACCOUNT_NAME;

export interface LocalStorage {
  /** `https://HOST:PORT`; accounts are path-style below it: `{blobEndpoint}/{account}/{container}/{blob}`. */
  blobEndpoint: string;
  /** Blob service URL template with `{account}`, the form Champion's AZUREML_BLOB_SERVICE_URL takes. */
  blobServiceUrl: string;
  /** A container of the account, reached with the account key (the workspace's own access to its storage). */
  container(name: string): ContainerClient;
  /** Saves Azurite's metadata now, so what was written survives a kill -9 (see startStorage). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A bearer token Azurite's `--oauth basic` accepts (azurite/src/blob/authentication/BlobTokenAuthenticator.ts,
 * authenticateBasic): a JWT whose `iss` starts with one of its VALID_ISSUE_PREFIXES (`https://sts.windows.net/`),
 * whose `aud` is one of VALID_BLOB_AUDIENCES (`https://storage.azure.com`), with `iat`, `nbf` and `exp` and the
 * time between nbf and exp. The signature is not checked ("skip in basic check"), so the token is unsigned.
 */
export function storageAccessToken(tenantId: string, lifetimeSeconds: number, now = Date.now()): string {
  const seconds = Math.floor(now / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = {
    aud: 'https://storage.azure.com',
    iss: `https://sts.windows.net/${tenantId}/`,
    iat: seconds,
    nbf: seconds - 300,
    exp: seconds + lifetimeSeconds,
    sub: 'champion-local',
    tid: tenantId,
  };
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/**
 * Pipeline options trusting `ca`. Storage clients hand these to core-client's createClientPipeline, which honours
 * `tlsOptions` although StoragePipelineOptions does not declare it.
 */
export function storagePipelineOptions(ca: string | undefined): StoragePipelineOptions {
  const options: StoragePipelineOptions & PipelineOptions = ca ? { tlsOptions: { ca } } : {};
  return options;
}

export async function startStorage(opts: {
  dataDir: string;
  host: string;
  port?: number;
  certPath: string;
  keyPath: string;
  caCert: string;
}): Promise<LocalStorage> {
  mkdirSync(opts.dataDir, { recursive: true });
  configLogger(false);
  const config = new BlobConfiguration(
    opts.host,
    opts.port ?? 0,
    undefined,
    join(opts.dataDir, '__azurite_db_blob__.json'),
    join(opts.dataDir, '__azurite_db_blob_extent__.json'),
    [{ locationId: 'Default', locationPath: join(opts.dataDir, '__blobstorage__'), maxConcurrency: 10 }],
    false,
    undefined,
    false,
    undefined,
    false,
    // The SDK sends a newer x-ms-version than this Azurite release lists; the REST shapes used here are older.
    true,
    opts.certPath,
    opts.keyPath,
    '',
    'basic',
  );
  const server = new BlobServer(config);
  await server.start();
  const { port } = new URL(server.getHttpServerAddress());
  const urlHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  const blobEndpoint = `https://${urlHost}:${port}`;
  const service = new BlobServiceClient(
    `${blobEndpoint}/${STORAGE_ACCOUNT}`,
    new StorageSharedKeyCredential(STORAGE_ACCOUNT, EMULATOR_ACCOUNT_KEY.toString('base64')),
    storagePipelineOptions(opts.caCert),
  );
  // Azurite's LokiJS stores save every 5 s (autosaveInterval in LokiBlobMetadataStore/LokiExtentMetadataStore), so a
  // kill -9 can lose blobs it already acknowledged; Azure Storage keeps a write once it answered. The workspace
  // saves before it registers anything written there (data, code and model versions).
  const save = (store: { db: { saveDatabase(callback: (err?: Error | null) => void): void } }) =>
    new Promise<void>((resolve, reject) => store.db.saveDatabase((err) => (err ? reject(err) : resolve())));
  let closing: Promise<void> | undefined;
  return {
    blobEndpoint,
    blobServiceUrl: `${blobEndpoint}/{account}`,
    container: (name) => service.getContainerClient(name),
    flush: async () => {
      await Promise.all([save(server.metadataStore), save(server.extentMetadataStore)]);
    },
    close: () => (closing ??= server.close()),
  };
}
