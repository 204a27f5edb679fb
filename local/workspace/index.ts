import type { TokenCredential } from '@azure/core-auth';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { ADMIN_PREFIX, handleAdmin } from './admin';
import { MLFLOW_PREFIX } from './mlflow';
import { generateDataset, type Dataset, type GenerateOptions, type Table } from './datagen';
import { normalizeEventType, type EventGridEvent, type EventRetryOptions, type Subscriber } from './events';
import type { Fault, FaultSpec } from './faults';
import { sendJson } from './http';
import { Principals, type Principal, type PrincipalType } from './principals';
import { LocalRegistry } from './registry';
import { SCORING_PREFIX, type DeploymentStats } from './scoring';
import { Store, type ArmRequestRow, type DeliveryRow } from './store';
import { loadOrCreateCertificate } from './tls';
import { startStorage, storageAccessToken, type LocalStorage } from './storage';
import { DEFAULT_API_VERSION, stableUuid, Workspace, type MonitorSignal } from './workspace';

export { generateDataset, parseCsv, toCsv, type Dataset, type GenerateOptions } from './datagen';
export { AML_EVENT_TYPES, type EventGridEvent, type Subscriber } from './events';
export type { Fault, FaultSpec } from './faults';
export { loadPredictor, train, type ModelArtifact, type Predictor } from './ml';
export { parseCommand } from './command';
export { WorkspaceRestClient, type RawResponse } from './client';
export type { DeploymentStats } from './scoring';
export type { ArmRequestRow, DeliveryRow } from './store';
export type { Principal, PrincipalType } from './principals';
export { DEFAULT_API_VERSION, SUPPORTED_API_VERSIONS, type MonitorSignal } from './workspace';

export interface WorkspaceOptions {
  /** Created if missing; holds cert, SQLite db, artefacts and workspace.json. */
  dataDir: string;
  /** 0 = ephemeral; default 0. */
  port?: number;
  /** Port of the storage account (Azurite's Blob service); 0 = ephemeral, the default. */
  storagePort?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  subscriptionId?: string;
  resourceGroup?: string;
  workspaceName?: string;
  /** Azure region reported in resource bodies and operation URLs; default 'westeurope'. */
  location?: string;
  /** How long deployments/endpoints stay Creating/Updating; default 1000. */
  provisioningMs?: number;
  /** How long deployments/endpoints stay Deleting; default half of `provisioningMs`. */
  deleteMs?: number;
  /**
   * Retry-After value on LROs; default 1 (0 is sent as-is). An operation due sooner also gets `retry-after-ms`
   * with the time it has left.
   */
  retryAfterSeconds?: number;
  /** How long a command job takes from submission to Completed; default 1000. */
  jobMs?: number;
  /** Fixed ARM bearer token; default a random one, kept in the data directory across restarts. */
  token?: string;
  /**
   * The person at the keyboard: `userToken` is theirs (type User), and the admin surface acts as them. Default the
   * OS user's name; a UPN such as `dana@contoso.com` looks as Azure records users.
   */
  user?: string;
  /** Page size of list operations before a nextLink; default 100. */
  pageSize?: number;
  /** How often in-memory scoring stats are flushed to SQLite; default 1000 ms. */
  statsFlushMs?: number;
  /**
   * Also serve the scoring data plane (only) over plain http on this port (0 = ephemeral). Off by default: Azure
   * scores over https; this exists to measure scoring without TLS and for http-only tools.
   */
  scoringHttpPort?: number;
  eventSubscribers?: Subscriber[];
  eventRetry?: EventRetryOptions;
  /** Faults active from the start (also settable through the admin surface). */
  faults?: FaultSpec[];
  log?: (line: string) => void;
  /**
   * More workspaces served by the same host beside this one, each under its own ARM id (same subscription, tenant,
   * region and storage account; its own state, datastore container, endpoints and events), as a QA and a production
   * workspace are on Azure. ARM paths go to the workspace they name, operation polls to the workspace that started
   * the operation, scoring to the workspace that has the endpoint (endpoint names are unique per region). The admin
   * surface (`/_local`) is this workspace's.
   */
  workspaces?: { workspaceName: string; resourceGroup?: string; eventSubscribers?: Subscriber[] }[];
  /**
   * Azure ML registries served by the same host, each under its own ARM id in this workspace's subscription and
   * resource group (`…/providers/Microsoft.MachineLearningServices/registries/{name}`): model versions and their
   * pending uploads (local/workspace/registry.ts), its files in a container of the same storage account.
   */
  registries?: { registryName: string }[];
}

/** Another workspace served by the same host (WorkspaceOptions.workspaces). */
export interface ServedWorkspace {
  workspaceName: string;
  resourceGroup: string;
  /** `/subscriptions/…/workspaces/{name}`: what a policy's environment names. */
  workspaceId: string;
  datastoreContainer: string;
  /** ARM calls it received (as LocalWorkspace.requestLog). */
  requestLog(filter?: { method?: string; path?: string | RegExp; writesOnly?: boolean }): ArmRequestRow[];
  events(filter?: { type?: string }): EventGridEvent[];
  addEventSubscriber(s: Subscriber): void;
  readonly workspace: Workspace;
}

export interface LocalWorkspace {
  /** https://127.0.0.1:PORT */
  armEndpoint: string;
  caCertPath: string;
  caCert: string;
  subscriptionId: string;
  resourceGroup: string;
  workspaceName: string;
  location: string;
  /** Bearer token an ARM client presents (through credential()): the app's, a managed identity (`appIdentity`). */
  token: string;
  /** The principal `token` stands for: what `systemData.createdBy` records for what the app writes. */
  appIdentity: Principal;
  /** Bearer token of the local user (`user`), as a person signed in with the Azure CLI would present. */
  userToken: string;
  user: Principal;
  /** A bearer token for another principal (a user by default), issued once and kept across restarts. */
  tokenFor(name: string, type?: PrincipalType): string;
  /** Bearer token for the storage scope: a JWT as Entra ID issues, which Azurite's `--oauth basic` checks. */
  storageToken: string;
  /** Blob service URL template with `{account}` (path-style, Azurite): `https://HOST:PORT/{account}`. */
  blobServiceUrl: string;
  /** The storage container behind the default datastore `workspaceblobstore`. */
  datastoreContainer: string;
  /** The storage account (Azurite), reached with its key. */
  storage: LocalStorage;
  /** <dataDir>/workspace.json with all of the above. */
  workspaceJsonPath: string;
  dataDir: string;
  port: number;
  apiVersion: string;
  /** A TokenCredential giving the storage token for the storage scope and the ARM token for any other. */
  credential(): TokenCredential;
  close(): Promise<void>;
  /** `{armEndpoint}/endpoints/{name}/score`, the same value as the endpoint's properties.scoringUri. */
  scoringUri(endpoint: string): string;
  /** `http://HOST:PORT` of the plain-http scoring listener, when scoringHttpPort was given. */
  scoringHttpEndpoint?: string;
  /** Current keys of a Key-auth endpoint (what listKeys returns). */
  endpointKeys(endpoint: string): { primaryKey: string; secondaryKey: string };
  /** URL of an admin route, e.g. adminUrl('scoring/stats'). */
  adminUrl(path?: string): string;
  /** ARM calls received, oldest first (including LRO polls). */
  requestLog(filter?: {
    method?: string;
    path?: string | RegExp;
    since?: number;
    writesOnly?: boolean;
  }): ArmRequestRow[];
  clearRequestLog(): void;
  scoringStats(filter?: { endpoint?: string; deployment?: string }): DeploymentStats[];
  resetScoringStats(endpoint?: string): void;
  /** Writes in-memory scoring stats to SQLite now (they are otherwise flushed on a timer). */
  flushScoringStats(): void;
  faults: { add(spec: FaultSpec): Fault; list(): Fault[]; remove(id: string): boolean; clear(): void };
  /** Generates seeded rows and registers them as a data asset version (uri_file CSV in the default datastore). */
  generateData(
    args: GenerateOptions & { name: string; version?: string; description?: string; tags?: Record<string, string> },
  ): Promise<DataVersionBody>;
  /** Uploads the given rows to the default datastore and registers them as a data asset version. */
  uploadData(args: { name: string; version?: string; table: Table; description?: string }): Promise<DataVersionBody>;
  /**
   * Uploads files (path → text) to the default datastore and registers them as a code version (once): what a job's
   * `codeId` names and its command runs.
   */
  uploadCode(args: {
    name: string;
    version: string;
    files: Record<string, string>;
  }): Promise<{ id: string; name: string }>;
  /** Generates rows without registering them (e.g. drifted traffic to score). */
  sampleRows(opts?: GenerateOptions): Dataset;
  emitMonitorSignal(kind: 'breach' | 'recovery', signal?: MonitorSignal): EventGridEvent;
  emitDatasetDrift(args?: {
    driftName?: string;
    baseDatasetId?: string;
    targetDatasetId?: string;
    driftCoefficient?: number;
  }): EventGridEvent;
  addEventSubscriber(s: Subscriber): void;
  removeEventSubscriber(url: string): boolean;
  eventSubscribers(): Subscriber[];
  /** Events published so far (whether or not anyone subscribed). */
  events(filter?: { type?: string }): EventGridEvent[];
  deliveries(filter?: { status?: 'pending' | 'delivered' | 'dead' }): DeliveryRow[];
  /** The engine behind the server, for tests that need to reach further. */
  readonly workspace: Workspace;
  /** The other workspaces this host serves (WorkspaceOptions.workspaces), by name. */
  readonly workspaces: Record<string, ServedWorkspace>;
  /** The registries this host serves (WorkspaceOptions.registries), by name. */
  readonly registries: Record<string, LocalRegistry>;
}

export interface DataVersionBody {
  id: string;
  name: string;
  properties: { dataUri: string } & Record<string, unknown>;
}

/** The scope Azure Storage clients ask tokens for (the SDK's default audience). */
const STORAGE_SCOPE = 'https://storage.azure.com/.default';

export async function startWorkspace(opts: WorkspaceOptions): Promise<LocalWorkspace> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const tls = loadOrCreateCertificate(dataDir, host);
  const store = new Store(join(dataDir, 'workspace.db'));
  let storage: LocalStorage | undefined;
  let workspace: Workspace | undefined;
  const others: Workspace[] = [];
  const stores: Store[] = [];
  let server: Server | undefined;
  let plainServer: HttpServer | undefined;
  try {
    const token = opts.token ?? store.meta('token') ?? randomBytes(32).toString('base64url');
    store.setMeta('token', token);
    // On Azure systemData names a managed identity by an id (a GUID), a user by their sign-in name.
    const appIdentity: Principal = { name: stableUuid('app-identity'), type: 'ManagedIdentity' };
    const user: Principal = { name: opts.user ?? userInfo().username, type: 'User' };
    const principals = new Principals(store);
    principals.assign(token, appIdentity);
    const userToken = principals.tokenFor(user);
    if (!store.meta('createdAt')) store.setMeta('createdAt', String(Date.now()));
    storage = await startStorage({
      dataDir: join(dataDir, 'storage'),
      host,
      port: opts.storagePort,
      certPath: tls.certPath,
      keyPath: tls.keyPath,
      caCert: tls.cert,
    });
    const storageToken = storageAccessToken(stableUuid('tenant'), 365 * 24 * 3600);
    const ws = new Workspace(
      {
        dataDir,
        subscriptionId: opts.subscriptionId ?? '00000000-0000-0000-0000-000000000000',
        resourceGroup: opts.resourceGroup ?? 'champion-local',
        workspaceName: opts.workspaceName ?? 'champion-ws',
        location: opts.location ?? 'westeurope',
        provisioningMs: opts.provisioningMs ?? 1000,
        deleteMs: opts.deleteMs ?? (opts.provisioningMs ?? 1000) / 2,
        retryAfterSeconds: opts.retryAfterSeconds ?? 1,
        jobMs: opts.jobMs ?? 1000,
        pageSize: opts.pageSize ?? 100,
        statsFlushMs: opts.statsFlushMs ?? 1000,
        eventRetry: opts.eventRetry ?? {},
        log,
      },
      token,
      store,
      storage,
      principals,
      user,
    );
    workspace = ws;
    await storage.container(ws.datastoreContainer).createIfNotExists();
    for (const s of opts.eventSubscribers ?? []) ws.events.addSubscriber(s);
    for (const f of opts.faults ?? []) ws.faults.add(f);
    for (const more of opts.workspaces ?? []) {
      const name = more.workspaceName;
      const resourceGroup = more.resourceGroup ?? ws.opts.resourceGroup;
      if ([ws, ...others].some((w) => same(w.opts.workspaceName, name) && same(w.opts.resourceGroup, resourceGroup))) {
        throw new Error(`workspaces: '${resourceGroup}/${name}' is served twice.`);
      }
      const dir = join(dataDir, 'workspaces', resourceGroup, name);
      mkdirSync(dir, { recursive: true });
      const otherStore = new Store(join(dir, 'workspace.db'));
      stores.push(otherStore);
      const other = new Workspace(
        { ...ws.opts, dataDir: dir, workspaceName: name, resourceGroup },
        token,
        otherStore,
        storage,
        principals,
        user,
      );
      others.push(other);
      await storage.container(other.datastoreContainer).createIfNotExists();
      for (const s of more.eventSubscribers ?? []) other.events.addSubscriber(s);
    }
    const registries: LocalRegistry[] = [];
    for (const { registryName } of opts.registries ?? []) {
      if (registries.some((r) => same(r.opts.registryName, registryName))) {
        throw new Error(`registries: '${registryName}' is served twice.`);
      }
      const registry = new LocalRegistry(
        {
          subscriptionId: ws.opts.subscriptionId,
          resourceGroup: ws.opts.resourceGroup,
          registryName,
          location: ws.opts.location,
        },
        dataDir,
        storage,
      );
      await registry.start();
      registries.push(registry);
    }
    const all = [ws, ...others];
    for (const w of all) w.registries = () => registries;
    for (const w of all) w.siblings = () => all.filter((x) => x !== w);
    /** The workspace an ARM path names, or that started the operation it polls; else this one (which answers 404). */
    const armTarget = (u: string): Workspace => {
      const seg = u.split('?')[0]!.split('/').filter(Boolean).map(safeDecode);
      if (same(seg[2], 'resourceGroups') && same(seg[6], 'workspaces') && seg[7]) {
        return all.find((w) => same(seg[7], w.opts.workspaceName) && same(seg[3], w.opts.resourceGroup)) ?? ws;
      }
      if (same(seg[2], 'providers') && same(seg[4], 'locations') && seg[7]) {
        return all.find((w) => w.hasOperation(seg[7]!)) ?? ws;
      }
      return ws;
    };
    /** Scoring goes to the workspace that has the endpoint: its name is unique in the region. */
    const scoringTarget = (u: string): Workspace => {
      const name = safeDecode(u.slice(SCORING_PREFIX.length).split(/[/?]/)[0] ?? '');
      return all.find((w) => w.hasEndpoint(name)) ?? ws;
    };
    /** MLflow URLs carry the workspace's ARM id after the prefix. */
    const mlflowTarget = (u: string): Workspace => armTarget(u.slice(MLFLOW_PREFIX.length));

    let info: Record<string, unknown> = {};
    const srv = createServer({ key: tls.key, cert: tls.cert, keepAlive: true }, (req, res) => {
      const u = req.url ?? '/';
      if (u.startsWith(SCORING_PREFIX)) return scoringTarget(u).scoring.handle(req, res, u);
      if (u.startsWith(ADMIN_PREFIX) || u === '/_local') return void handleAdmin(ws, () => info, req, res);
      if (/^\/subscriptions\//i.test(u)) return void armTarget(u).handleArm(req, res);
      // @azure/monitor-query puts the resource id, with its own leading '/', after a '/' of the path template
      // (`/{resourceUri}/providers/Microsoft.Insights/metrics`); ARM answers such calls (the SDK's samples pass ids
      // so), so the doubled slash is read as one.
      if (/^\/\/+subscriptions\//i.test(u)) {
        req.url = u.replace(/^\/+/, '/');
        return void armTarget(req.url).handleArm(req, res);
      }
      if (u.toLowerCase().startsWith(`${MLFLOW_PREFIX}/`)) return mlflowTarget(u).handleMlflow(req, res);
      req.resume();
      sendJson(res, 404, { error: { code: 'NotFound', message: `Nothing is served at '${u}'.` } });
    });
    server = srv;
    srv.keepAliveTimeout = 30_000;
    await new Promise<void>((ok, fail) => {
      srv.once('error', fail);
      srv.listen(opts.port ?? 0, host, () => {
        srv.off('error', fail);
        ok();
      });
    });
    const port = (srv.address() as AddressInfo).port;
    const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    const armEndpoint = `https://${urlHost}:${port}`;
    let scoringHttpEndpoint: string | undefined;
    if (opts.scoringHttpPort !== undefined) {
      const plain = createHttpServer({ keepAlive: true }, (req, res) => {
        const u = req.url ?? '/';
        if (u.startsWith(SCORING_PREFIX)) return scoringTarget(u).scoring.handle(req, res, u);
        req.resume();
        sendJson(res, 404, {
          error: { code: 'NotFound', message: `Only scoring is served over http; ARM is at ${armEndpoint}.` },
        });
      });
      plain.keepAliveTimeout = 30_000;
      plainServer = plain;
      await new Promise<void>((ok, fail) => {
        plain.once('error', fail);
        plain.listen(opts.scoringHttpPort, host, () => {
          plain.off('error', fail);
          ok();
        });
      });
      scoringHttpEndpoint = `http://${urlHost}:${(plain.address() as AddressInfo).port}`;
    }
    for (const w of all) w.start(armEndpoint);

    const workspaceJsonPath = join(dataDir, 'workspace.json');
    info = {
      armEndpoint,
      caCertPath: tls.certPath,
      subscriptionId: ws.opts.subscriptionId,
      resourceGroup: ws.opts.resourceGroup,
      workspaceName: ws.opts.workspaceName,
      location: ws.opts.location,
      token,
      appIdentity,
      userToken,
      user,
      storageToken,
      blobServiceUrl: storage.blobServiceUrl,
      datastoreContainer: ws.datastoreContainer,
      apiVersion: DEFAULT_API_VERSION,
      workspaceId: ws.workspaceId,
      scoringBaseUri: `${armEndpoint}${SCORING_PREFIX}`,
      ...(scoringHttpEndpoint ? { scoringHttpBaseUri: `${scoringHttpEndpoint}${SCORING_PREFIX}` } : {}),
      adminEndpoint: `${armEndpoint}/_local`,
      ...(others.length > 0
        ? {
            workspaces: others.map((w) => ({
              workspaceName: w.opts.workspaceName,
              resourceGroup: w.opts.resourceGroup,
              workspaceId: w.workspaceId,
              datastoreContainer: w.datastoreContainer,
            })),
          }
        : {}),
      ...(registries.length > 0
        ? { registries: registries.map((r) => ({ registryName: r.opts.registryName, registryId: r.registryId })) }
        : {}),
      pid: process.pid,
    };
    writeFileSync(workspaceJsonPath, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
    log(`local workspace listening on ${armEndpoint} (data ${dataDir})`);

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        await Promise.all(
          [srv, plainServer].map(
            (x) =>
              x &&
              new Promise<void>((ok) => {
                x.close(() => ok());
                x.closeAllConnections();
              }),
          ),
        );
        await ws.close();
        for (const w of others) await w.close();
        await storage?.close();
        store.close();
        for (const s of stores) s.close();
      })());

    return {
      armEndpoint,
      caCertPath: tls.certPath,
      caCert: tls.cert,
      subscriptionId: ws.opts.subscriptionId,
      resourceGroup: ws.opts.resourceGroup,
      workspaceName: ws.opts.workspaceName,
      location: ws.opts.location,
      token,
      appIdentity,
      userToken,
      user,
      tokenFor: (name, type = 'User') => principals.tokenFor({ name, type }),
      storageToken,
      blobServiceUrl: storage.blobServiceUrl,
      datastoreContainer: ws.datastoreContainer,
      storage,
      workspaceJsonPath,
      dataDir,
      port,
      apiVersion: DEFAULT_API_VERSION,
      workspace: ws,
      credential: () => ({
        getToken: async (scopes) => ({
          token: [scopes].flat().includes(STORAGE_SCOPE) ? storageToken : token,
          expiresOnTimestamp: Date.now() + 3600_000,
          tokenType: 'Bearer',
        }),
      }),
      close,
      scoringUri: (endpoint) => ws.scoringUri(endpoint),
      scoringHttpEndpoint,
      endpointKeys: (endpoint) => {
        const row = store.get(`onlineEndpoints/${endpoint}`);
        if (!row) throw new Error(`No online endpoint '${endpoint}'.`);
        return row.internal.keys;
      },
      adminUrl: (path = '') => `${armEndpoint}/_local/${path.replace(/^\/+/, '')}`,
      requestLog: (filter = {}) => requestRows(store, filter),
      clearRequestLog: () => store.clearRequests(),
      scoringStats: (filter) => ws.scoring.stats(filter),
      resetScoringStats: (endpoint) => ws.scoring.resetStats(endpoint),
      flushScoringStats: () => ws.scoring.flush(),
      faults: {
        add: (spec) => ws.faults.add(spec),
        list: () => ws.faults.all(),
        remove: (id) => ws.faults.remove(id),
        clear: () => ws.faults.clear(),
      },
      generateData: async (args) => (await ws.generateData(args)) as DataVersionBody,
      uploadData: async (args) => (await ws.createDataAsset(args)) as DataVersionBody,
      uploadCode: async (args) => (await ws.createCodeAsset(args)) as { id: string; name: string },
      sampleRows: (o) => generateDataset(o),
      emitMonitorSignal: (kind, signal) => ws.emitMonitorSignal(kind, signal),
      emitDatasetDrift: (args) => ws.emitDatasetDrift(args),
      addEventSubscriber: (s) => ws.events.addSubscriber(s),
      removeEventSubscriber: (url) => ws.events.removeSubscriber(url),
      eventSubscribers: () => ws.events.subscribers(),
      events: (filter = {}) =>
        store
          .events({ type: filter.type ? normalizeEventType(filter.type) : undefined })
          .map((e) => e.event as unknown as EventGridEvent),
      deliveries: (filter) => store.deliveries(filter),
      workspaces: Object.fromEntries(others.map((w) => [w.opts.workspaceName, served(w)])),
      registries: Object.fromEntries(registries.map((r) => [r.opts.registryName, r])),
    };
  } catch (err) {
    server?.close();
    plainServer?.close();
    await workspace?.close().catch(() => undefined);
    for (const w of others) await w.close().catch(() => undefined);
    await storage?.close().catch(() => undefined);
    store.close();
    for (const s of stores) s.close();
    throw err;
  }
}

function same(a: string | undefined, b: string): boolean {
  return a?.toLowerCase() === b.toLowerCase();
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function requestRows(
  store: Store,
  filter: { method?: string; path?: string | RegExp; since?: number; writesOnly?: boolean },
): ArmRequestRow[] {
  const method = filter.method?.toUpperCase();
  let rows = store.requests({ since: filter.since, method: method && method !== 'WRITE' ? method : undefined });
  if (filter.writesOnly || method === 'WRITE') rows = rows.filter((r) => r.method !== 'GET');
  const p = filter.path;
  if (p !== undefined) rows = rows.filter((r) => (typeof p === 'string' ? r.path.includes(p) : p.test(r.path)));
  return rows;
}

function served(w: Workspace): ServedWorkspace {
  return {
    workspaceName: w.opts.workspaceName,
    resourceGroup: w.opts.resourceGroup,
    workspaceId: w.workspaceId,
    datastoreContainer: w.datastoreContainer,
    requestLog: (filter = {}) => requestRows(w.store, filter),
    events: (filter = {}) =>
      w.store
        .events({ type: filter.type ? normalizeEventType(filter.type) : undefined })
        .map((e) => e.event as unknown as EventGridEvent),
    addEventSubscriber: (s) => w.events.addSubscriber(s),
    workspace: w,
  };
}
