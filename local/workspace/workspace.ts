/* eslint-disable @typescript-eslint/no-explicit-any -- ARM bodies are free-form JSON validated by zod on the way in */
import { MetricsError, METRICS_API_VERSIONS } from './metrics';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { commandScript, parseCommand, type JobInputSpec } from './command';
import { checkComputeId, checkJobInputs, computeBody, jobOutputs, LOCAL_COMPUTES } from './jobs';
import { MLFLOW_PREFIX, mlflowReply, type MlflowMetric } from './mlflow';
import {
  concatTables,
  generateDataset,
  readTable,
  tableFromText,
  toCsv,
  type GenerateOptions,
  type Table,
} from './datagen';
import { EventBus, type EventGridEvent, type EventRetryOptions } from './events';
import { Faults } from './faults';
import { ArmError, notFound, parseJson, readBody, sendJson, userError, validate } from './http';
import { ARTIFACT_FILE, train, TrainingError, type Predictor } from './ml';
import { formatMlmodel, isMlflowModelType, loadModelFolder, MLMODEL_FILE, mlmodelFor } from './mlmodel';
import type { Principal, Principals } from './principals';
import * as S from './schemas';
import { ScoringPlane, type EndpointDef } from './scoring';
import type { LocalRegistry } from './registry';
import { STORAGE_ACCOUNT, type LocalStorage } from './storage';
import { Store, type OperationRow, type ResourceKind, type ResourceRow } from './store';
import { Layout, parseUri } from './uris';

/** Envelope fields of a tracked ARM resource; anything else a client sends is kept as it came. */
const TRACKED_RESOURCE_KEYS = [
  'location',
  'kind',
  'tags',
  'identity',
  'sku',
  'properties',
  'id',
  'name',
  'type',
  'systemData',
];

/** The one datastore of the local workspace: a container of its storage account (Azurite). */
export const DEFAULT_DATASTORE = 'workspaceblobstore';

type Json = Record<string, any>;

export const DEFAULT_API_VERSION = '2022-10-01';

/** api-versions the local workspace answers; anything else gets NoRegisteredProviderFound as from ARM. */
export const SUPPORTED_API_VERSIONS = [
  '2022-05-01',
  '2022-10-01',
  '2022-12-01-preview',
  '2023-04-01',
  '2023-04-01-preview',
  '2023-06-01-preview',
  '2023-08-01-preview',
  '2023-10-01',
  '2024-01-01-preview',
  '2024-04-01',
  '2024-04-01-preview',
  '2024-07-01-preview',
  '2024-10-01',
  '2024-10-01-preview',
  '2025-01-01-preview',
  '2025-04-01-preview',
  '2025-06-01',
  '2025-09-01',
];

/** mirrorTraffic joined the online endpoint schema after 2022-10-01. */
export function supportsMirror(apiVersion: string): boolean {
  return apiVersion.slice(0, 10) > '2022-10-01';
}

const TERMINAL_JOB = new Set(['Completed', 'Failed', 'Canceled', 'NotResponding', 'Paused']);
const ENDPOINT_NAME = /^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$/;
const DEPLOYMENT_NAME = /^[a-zA-Z][a-zA-Z0-9-]{0,31}$/;
const RESOURCE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9\-_.]{0,254}$/;
const VERSION = /^[a-zA-Z0-9][a-zA-Z0-9\-_.]{0,99}$/;
const PROVIDER = 'Microsoft.MachineLearningServices';

export interface ResolvedOptions {
  dataDir: string;
  subscriptionId: string;
  resourceGroup: string;
  workspaceName: string;
  location: string;
  provisioningMs: number;
  deleteMs: number;
  retryAfterSeconds: number;
  jobMs: number;
  pageSize: number;
  statsFlushMs: number;
  eventRetry: EventRetryOptions;
  log: (line: string) => void;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface AssetKind {
  segment: 'models' | 'environments' | 'data' | 'codes';
  container: ResourceKind;
  version: ResourceKind;
  type: string;
}

const ASSETS: Record<string, AssetKind> = {
  models: { segment: 'models', container: 'modelContainer', version: 'modelVersion', type: 'models' },
  environments: {
    segment: 'environments',
    container: 'environmentContainer',
    version: 'environmentVersion',
    type: 'environments',
  },
  data: { segment: 'data', container: 'dataContainer', version: 'dataVersion', type: 'data' },
  // Code versions as azure-rest-api-specs Microsoft.MachineLearningServices stable/2022-10-01
  // examples/CodeVersion/createOrUpdate.json and get.json show them.
  codes: { segment: 'codes', container: 'codeContainer', version: 'codeVersion', type: 'codes' },
};

/** Options for a monitoring signal raised through the admin surface. */
export interface MonitorSignal {
  monitorName?: string;
  endpoint?: string;
  deployment?: string;
  signal?: string;
  metric?: string;
  value?: number;
  threshold?: number;
}

/**
 * The local stand-in for an Azure Machine Learning workspace: ARM control plane (2022-10-01 shapes), long-running
 * operations, command-job training, model registration, online endpoints and the Event Grid events they raise.
 */
export class Workspace {
  readonly store: Store;
  readonly faults = new Faults();
  readonly events: EventBus;
  readonly scoring: ScoringPlane;
  readonly layout: Layout;
  baseUrl = '';
  private readonly opTimers = new Map<string, NodeJS.Timeout>();
  private readonly jobTimers = new Map<string, NodeJS.Timeout>();
  private readonly predictors = new Map<string, { model: string; predictor: Predictor }>();
  private readonly logs = new Map<string, string[]>();
  /** The principal of the ARM request being served (its bearer token's), for the writes it makes. */
  private readonly requestCaller = new AsyncLocalStorage<Principal>();
  private closed = false;
  /**
   * The other workspaces the same host serves in this region: an online endpoint's name is unique in its Azure region
   * ("Deploy and score a machine learning model by using an online endpoint": "the endpoint name must be unique in
   * the Azure region"), so one taken by a sibling is refused.
   */
  siblings: () => readonly Workspace[] = () => [];
  /** The registries the host serves (WorkspaceOptions.registries): their ARM paths come to this workspace's server. */
  registries: () => readonly LocalRegistry[] = () => [];

  /**
   * `token` is the app's (the ARM token `credential()` gives); `principals` says who each accepted token stands for;
   * `localUser` is who the admin surface acts for.
   */
  constructor(
    readonly opts: ResolvedOptions,
    readonly token: string,
    store: Store,
    readonly storage: LocalStorage,
    readonly principals: Principals,
    readonly localUser: Principal,
  ) {
    this.layout = new Layout(opts.dataDir);
    this.store = store;
    this.events = new EventBus(store, this.workspaceId, opts.eventRetry, opts.log);
    this.scoring = new ScoringPlane(store, this.faults, () => this.token, opts.statsFlushMs);
  }

  /** Whether this workspace has an online endpoint of that name (names are case-insensitive). */
  hasEndpoint(name: string): boolean {
    return this.store.get(`onlineEndpoints/${name}`) !== undefined;
  }

  /** Whether an ARM operation of this workspace has that id (operation URLs do not name their workspace). */
  hasOperation(id: string): boolean {
    return this.store.getOperation(id) !== undefined;
  }

  get workspaceId(): string {
    const o = this.opts;
    return `/subscriptions/${o.subscriptionId}/resourceGroups/${o.resourceGroup}/providers/${PROVIDER}/workspaces/${o.workspaceName}`;
  }

  /** Resumes what was in flight when the process stopped: LROs finish, running jobs re-run, events redeliver. */
  start(baseUrl: string): void {
    this.baseUrl = baseUrl;
    for (const dep of this.store.listKind('onlineDeployment')) {
      if (dep.internal.servingModel) this.loadDeploymentModel(dep, dep.internal.servingModel, false);
    }
    for (const ep of this.store.listKind('onlineEndpoint')) this.refreshEndpoint(ep.name);
    const now = Date.now();
    for (const op of this.store.openOperations()) {
      this.scheduleOp(
        op,
        Math.max(0, Math.min(op.dueAt - now, Math.max(this.opts.provisioningMs, this.opts.deleteMs))),
      );
    }
    for (const job of this.store.listKind('job')) {
      const status = job.body.properties.status;
      if (status === 'CancelRequested' || TERMINAL_JOB.has(status)) continue;
      this.opts.log(`job ${job.name} was ${status} when the workspace stopped; running it again`);
      this.scheduleJob(job.name);
    }
    this.events.start();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.opTimers.values()) clearTimeout(t);
    for (const t of this.jobTimers.values()) clearTimeout(t);
    this.opTimers.clear();
    this.jobTimers.clear();
    this.events.stop();
    await this.events.drain();
    this.scoring.close();
  }

  // ---- ARM entry point ----------------------------------------------------------------------------------------

  async handleArm(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://local');
    const method = (req.method ?? 'GET').toUpperCase();
    const apiVersion = url.searchParams.get('api-version');
    const clientRequestId = header(req, 'x-ms-client-request-id');
    const requestId = randomUUID();
    res.on('finish', () => {
      if (this.closed) return;
      try {
        this.store.logRequest({
          at: new Date().toISOString(),
          method,
          path: url.pathname,
          apiVersion,
          status: res.statusCode,
          clientRequestId: clientRequestId ?? null,
        });
      } catch {
        // The store may be closing; the request log is best effort.
      }
    });
    const common: Record<string, string> = {
      'x-ms-request-id': requestId,
      'x-ms-correlation-request-id': header(req, 'x-ms-correlation-request-id') ?? requestId,
      ...(clientRequestId ? { 'x-ms-client-request-id': clientRequestId } : {}),
    };
    try {
      const auth = req.headers.authorization;
      if (!auth)
        throw new ArmError(
          401,
          'AuthenticationFailed',
          "Authentication failed. The 'Authorization' header is missing.",
        );
      const caller = this.principals.fromAuthorization(auth);
      if (!caller) throw new ArmError(401, 'InvalidAuthenticationToken', 'The access token is invalid.');
      // Azure Monitor's metrics API under a resource id: another provider (Microsoft.Insights), other api-versions.
      const metricsOf = /^\/*(.*?)\/providers\/microsoft\.insights\/metrics\/?$/i.exec(url.pathname);
      if (metricsOf) {
        const reply = this.metricsReply(method, metricsOf[1]!, apiVersion, url.searchParams);
        sendJson(res, reply.status, reply.body, { ...common, ...(reply.headers ?? {}) });
        return;
      }
      if (!apiVersion) {
        throw new ArmError(
          400,
          'MissingApiVersionParameter',
          'The api-version query parameter (?api-version=) is required for all requests.',
        );
      }
      if (!SUPPORTED_API_VERSIONS.includes(apiVersion)) {
        throw new ArmError(
          400,
          'NoRegisteredProviderFound',
          `No registered resource provider found for location '${this.opts.location}' and API version '${apiVersion}' for type 'workspaces'. The supported api-versions are '${SUPPORTED_API_VERSIONS.join(', ')}'.`,
        );
      }
      const fault = this.faults.takeArm(method, url.pathname);
      if (fault) {
        const code =
          fault.code ??
          (fault.status === 429 ? 'TooManyRequests' : fault.status >= 500 ? 'InternalServerError' : 'BadRequest');
        const message =
          fault.message ??
          (fault.status === 429
            ? 'The request is being throttled as the limit has been reached for operation type - Write. Please retry after the Retry-After interval.'
            : `Injected fault (HTTP ${fault.status}).`);
        const headers: Record<string, string> =
          fault.status === 429 || fault.status === 503 || fault.retryAfterSeconds !== undefined
            ? { 'Retry-After': String(fault.retryAfterSeconds ?? 1) }
            : {};
        throw new ArmError(fault.status, code, message, undefined, headers);
      }
      const body =
        method === 'PUT' || method === 'PATCH' || method === 'POST' ? parseJson(await readBody(req)) : undefined;
      if (body === undefined && method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
        throw new ArmError(400, 'InvalidRequestContent', 'The request content was invalid: a JSON body is required.');
      }
      const reply = await this.requestCaller.run(caller, () => this.route(method, url, apiVersion, body));
      sendJson(res, reply.status, reply.body, { ...common, ...(reply.headers ?? {}) });
    } catch (err) {
      req.resume();
      if (err instanceof ArmError) {
        sendJson(res, err.status, err.body(), { ...common, ...err.headers });
      } else {
        this.opts.log(`internal error on ${method} ${url.pathname}: ${(err as Error).stack ?? String(err)}`);
        sendJson(res, 500, { error: { code: 'InternalServerError', message: (err as Error).message } }, common);
      }
    }
  }

  /**
   * `GET {online endpoint id}/providers/Microsoft.Insights/metrics`: the endpoint's platform metrics as Azure Monitor
   * serves them, from the scoring plane's per-minute records (local/workspace/metrics.ts names the sources). Only
   * online endpoints have metrics here; role assignments (Monitoring Reader) are not checked locally.
   */
  private metricsReply(
    method: string,
    resourcePath: string,
    apiVersion: string | null,
    params: URLSearchParams,
  ): Reply {
    if (method !== 'GET') throw methodNotAllowed(method);
    if (!apiVersion) {
      throw new ArmError(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    }
    if (!METRICS_API_VERSIONS.includes(apiVersion)) {
      throw new ArmError(
        400,
        'NoRegisteredProviderFound',
        `No registered resource provider found for location '${this.opts.location}' and API version '${apiVersion}' for type 'metrics'. The supported api-versions are '${METRICS_API_VERSIONS.join(', ')}'.`,
      );
    }
    const seg = resourcePath
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
    const o = this.opts;
    const eq = (a: string | undefined, b: string): boolean => a?.toLowerCase() === b.toLowerCase();
    const expected: [number, string][] = [
      [0, 'subscriptions'],
      [1, o.subscriptionId],
      [2, 'resourceGroups'],
      [3, o.resourceGroup],
      [4, 'providers'],
      [5, PROVIDER],
      [6, 'workspaces'],
      [7, o.workspaceName],
      [8, 'onlineEndpoints'],
    ];
    if (seg.length !== 10 || expected.some(([i, v]) => !eq(seg[i], v))) {
      // Wording is local: the local workspace keeps metrics for its online endpoints only.
      throw new ArmError(404, 'ResourceNotFound', `The resource '/${seg.join('/')}' has no metrics here.`);
    }
    const row = this.mustEndpoint(seg[9]!);
    try {
      return {
        status: 200,
        body: this.scoring.metrics.query(this.id(`onlineEndpoints/${row.name}`), row.name, params),
      };
    } catch (err) {
      if (err instanceof MetricsError) throw new ArmError(err.status, err.code, err.message);
      throw err;
    }
  }

  /** The workspace's MLflow tracking API (runs/get, metrics/get-history), with the same bearer token as ARM. */
  handleMlflow(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const url = new URL(req.url ?? '/', 'https://local');
    if (!this.principals.fromAuthorization(req.headers.authorization)) {
      sendJson(res, 401, { error_code: 'UNAUTHENTICATED', message: 'The access token is missing or invalid.' });
      return;
    }
    const reply = mlflowReply(
      (req.method ?? 'GET').toUpperCase(),
      url,
      this.workspaceId,
      (id) => {
        const row = this.store.get(`jobs/${id}`);
        if (!row) return undefined;
        const p = row.body.properties;
        return {
          name: row.name,
          status: p.status,
          experimentName: p.experimentName,
          tags: p.tags ?? {},
          createdAt: row.createdAt,
          updatedAt: row.updatedAt,
          metrics: (row.internal.metrics ?? []) as MlflowMetric[],
        };
      },
      (name) => stableUuid(`experiment:${name}`),
    );
    sendJson(res, reply.status, reply.body);
  }

  private route(method: string, url: URL, apiVersion: string, body: unknown): Reply | Promise<Reply> {
    const seg = url.pathname
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
    const o = this.opts;
    const eq = (a: string | undefined, b: string): boolean => a?.toLowerCase() === b.toLowerCase();
    if (!eq(seg[0], 'subscriptions') || seg.length < 2) throw this.unknownRoute(url.pathname);
    if (!eq(seg[1], o.subscriptionId)) {
      throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${seg[1]}' could not be found.`);
    }
    // Operation status / result polling: /subscriptions/{s}/providers/{P}/locations/{l}/mfeOperations*/{id}
    if (eq(seg[2], 'providers') && eq(seg[3], PROVIDER) && eq(seg[4], 'locations') && seg.length === 8) {
      if (method !== 'GET') throw methodNotAllowed(method);
      if (eq(seg[6], 'mfeOperationsStatus')) return this.operationStatus(seg[7]!);
      if (eq(seg[6], 'mfeOperationResults')) return this.operationResult(seg[7]!, apiVersion);
      throw this.unknownRoute(url.pathname);
    }
    if (!eq(seg[2], 'resourceGroups') || seg.length < 4) throw this.unknownRoute(url.pathname);
    if (!eq(seg[3], o.resourceGroup)) {
      throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${seg[3]}' could not be found.`);
    }
    if (eq(seg[4], 'providers') && eq(seg[5], PROVIDER) && eq(seg[6], 'registries') && seg[7]) {
      const registry = this.registries().find((r) => eq(seg[7], r.opts.registryName));
      if (!registry) throw notFound(`${PROVIDER}/registries/${seg[7]}`);
      return registry.route(method, seg.slice(8), body, this.caller());
    }
    if (!eq(seg[4], 'providers') || !eq(seg[5], PROVIDER) || !eq(seg[6], 'workspaces')) {
      throw this.unknownRoute(url.pathname);
    }
    if (seg.length === 7) {
      if (method !== 'GET') throw methodNotAllowed(method);
      return { status: 200, body: { value: [this.workspaceBody()] } };
    }
    if (!eq(seg[7], o.workspaceName)) throw notFound(`${PROVIDER}/workspaces/${seg[7]}`);
    const rest = seg.slice(8);
    const q = url.searchParams;
    const [collection, name, sub, subName, action] = rest;
    const n = rest.length;
    if (n === 0) {
      if (method !== 'GET') throw methodNotAllowed(method);
      return { status: 200, body: this.workspaceBody() };
    }
    const c = collection!.toLowerCase();
    const asset = ASSETS[c];
    if (asset) {
      if (n === 1 && method === 'GET') return this.listContainers(asset, q, url);
      if (n === 2) {
        if (method === 'GET')
          return { status: 200, body: this.containerBody(asset, this.mustGet(`${c}/${name}`, asset)) };
        if (method === 'PUT') return this.putContainer(asset, name!, body);
        if (method === 'DELETE') return this.deleteContainer(asset, name!);
      }
      if (n === 3 && eq(sub, 'versions') && method === 'GET') return this.listVersions(asset, name!, q, url);
      if (n === 4 && eq(sub, 'versions')) {
        const key = `${c}/${name}/versions/${subName}`;
        if (method === 'GET') return { status: 200, body: this.versionBody(asset, this.mustGet(key, asset)) };
        if (method === 'PUT') return this.putVersionFromStorage(asset, name!, subName!, body);
        if (method === 'DELETE') return this.deleteVersion(asset, name!, subName!);
      }
      if (n <= 4) throw methodNotAllowed(method);
    }
    if (c === 'datastores') {
      if (method !== 'GET') throw methodNotAllowed(method);
      if (n === 1) return { status: 200, body: { value: [this.datastoreBody(DEFAULT_DATASTORE)] } };
      if (n === 2) {
        if (!eq(name, DEFAULT_DATASTORE)) throw notFound(`datastores/${name}`);
        return { status: 200, body: this.datastoreBody(DEFAULT_DATASTORE) };
      }
    }
    if (c === 'computes') {
      if (method !== 'GET') throw methodNotAllowed(method);
      const body = (compute: string) => computeBody(this.workspaceId, compute, o.location);
      if (n === 1) return { status: 200, body: { value: LOCAL_COMPUTES.map(body) } };
      if (n === 2) {
        const compute = LOCAL_COMPUTES.find((cn) => eq(name, cn));
        if (!compute) throw notFound(`${PROVIDER}/workspaces/${o.workspaceName}/computes/${name}`);
        return { status: 200, body: body(compute) };
      }
    }
    if (c === 'onlineendpoints') {
      if (n === 1 && method === 'GET') return this.listEndpoints(q, url, apiVersion);
      if (n === 2) {
        if (method === 'GET') return { status: 200, body: this.endpointBody(this.mustEndpoint(name!), apiVersion) };
        if (method === 'PUT') return this.putEndpoint(name!, body, apiVersion);
        if (method === 'PATCH') return this.patchEndpoint(name!, body, apiVersion);
        if (method === 'DELETE') return this.deleteEndpoint(name!, apiVersion);
        throw methodNotAllowed(method);
      }
      if (n === 3 && method === 'POST') {
        if (eq(sub, 'listKeys')) return this.listKeys(name!);
        if (eq(sub, 'regenerateKeys')) return this.regenerateKeys(name!, body, apiVersion);
        if (eq(sub, 'token')) return this.endpointToken(name!);
      }
      if (n === 3 && eq(sub, 'deployments') && method === 'GET') return this.listDeployments(name!, q, url);
      if (n === 4 && eq(sub, 'deployments')) {
        if (method === 'GET') return { status: 200, body: this.deploymentBody(this.mustDeployment(name!, subName!)) };
        if (method === 'PUT') return this.putDeployment(name!, subName!, body, apiVersion);
        if (method === 'PATCH') return this.patchDeployment(name!, subName!, body, apiVersion);
        if (method === 'DELETE') return this.deleteDeployment(name!, subName!, apiVersion);
        throw methodNotAllowed(method);
      }
      if (n === 5 && eq(sub, 'deployments') && eq(action, 'getLogs') && method === 'POST') {
        return this.deploymentLogs(name!, subName!, body);
      }
      if (n === 5 && eq(sub, 'deployments') && eq(action, 'skus') && method === 'GET') {
        this.mustDeployment(name!, subName!);
        return { status: 200, body: { value: [skuBody()] } };
      }
    }
    if (c === 'jobs') {
      if (n === 1 && method === 'GET') return this.listJobs(q, url);
      if (n === 2) {
        if (method === 'GET') return { status: 200, body: this.jobBody(this.mustJob(name!)) };
        if (method === 'PUT') return this.putJob(name!, body);
        if (method === 'DELETE') return this.deleteJob(name!, apiVersion);
        throw methodNotAllowed(method);
      }
      if (n === 3 && eq(sub, 'cancel') && method === 'POST') return this.cancelJob(name!, apiVersion);
    }
    throw this.unknownRoute(url.pathname);
  }

  private unknownRoute(path: string): ArmError {
    return new ArmError(
      404,
      'InvalidResourceType',
      `The resource type could not be found in the namespace '${PROVIDER}' for path '${path}'.`,
    );
  }

  // ---- shared helpers -----------------------------------------------------------------------------------------

  private id(key: string): string {
    // Keys are lower-case; ids use the canonical segment names and the resources' own casing.
    return `${this.workspaceId}/${key}`;
  }

  /** Who an ARM write is made by: the caller of the request, or the local user for the admin surface. */
  private caller(): Principal {
    return this.requestCaller.getStore() ?? this.localUser;
  }

  /**
   * ARM's `systemData` (common types `SystemData`): who created the resource and who last wrote it, as their tokens
   * identify them. A resource stored before authorship was recorded has no creator to report.
   */
  private systemData(row: ResourceRow): Json {
    const by = this.store.authorship(row.key);
    return {
      createdAt: new Date(row.createdAt).toISOString(),
      ...(by ? { createdBy: by.createdBy.name, createdByType: by.createdBy.type } : {}),
      lastModifiedAt: new Date(by?.modifiedAt ?? row.updatedAt).toISOString(),
      ...(by ? { lastModifiedBy: by.modifiedBy.name, lastModifiedByType: by.modifiedBy.type } : {}),
    };
  }

  private mustGet(key: string, asset: AssetKind): ResourceRow {
    const row = this.store.get(key);
    if (!row || (row.kind !== asset.container && row.kind !== asset.version)) {
      throw notFound(`${PROVIDER}/workspaces/${this.opts.workspaceName}/${key}`);
    }
    return row;
  }

  private mustEndpoint(name: string): ResourceRow {
    const row = this.store.get(`onlineEndpoints/${name}`);
    if (!row) throw notFound(`${PROVIDER}/workspaces/${this.opts.workspaceName}/onlineEndpoints/${name}`);
    return row;
  }

  private mustDeployment(endpoint: string, name: string): ResourceRow {
    this.mustEndpoint(endpoint);
    const row = this.store.get(`onlineEndpoints/${endpoint}/deployments/${name}`);
    if (!row) {
      throw notFound(
        `${PROVIDER}/workspaces/${this.opts.workspaceName}/onlineEndpoints/${endpoint}/deployments/${name}`,
      );
    }
    return row;
  }

  private mustJob(name: string): ResourceRow {
    const row = this.store.get(`jobs/${name}`);
    if (!row) throw notFound(`${PROVIDER}/workspaces/${this.opts.workspaceName}/jobs/${name}`);
    return row;
  }

  private page<T>(
    items: T[],
    q: URLSearchParams,
    url: URL,
    size = this.opts.pageSize,
  ): { value: T[]; nextLink?: string } {
    const skipRaw = q.get('$skip');
    const start = skipRaw ? Number.parseInt(skipRaw, 10) : 0;
    if (!Number.isInteger(start) || start < 0)
      throw userError(`Invalid continuation token '$skip=${skipRaw}'.`, '$skip');
    const value = items.slice(start, start + size);
    if (start + size >= items.length) return { value };
    const next = new URL(url.pathname, this.baseUrl);
    for (const [k, v] of q) if (k !== '$skip') next.searchParams.append(k, v);
    next.searchParams.set('$skip', String(start + size));
    return { value, nextLink: next.toString() };
  }

  // ---- workspace ----------------------------------------------------------------------------------------------

  /**
   * The container behind the default datastore. Azure names it `azureml-blobstore-{workspace guid}`, not after the
   * datastore, so a client that confuses the two fails here as it would there.
   */
  get datastoreContainer(): string {
    return `azureml-blobstore-${stableUuid(`workspace:${this.workspaceId}`)}`;
  }

  /** The default datastore: an Azure Blob datastore on the workspace's storage account (served by Azurite). */
  private datastoreBody(name: string): Json {
    return {
      id: `${this.workspaceId}/datastores/${name}`,
      name,
      type: `${PROVIDER}/workspaces/datastores`,
      properties: {
        datastoreType: 'AzureBlob',
        accountName: STORAGE_ACCOUNT,
        containerName: this.datastoreContainer,
        endpoint: 'core.windows.net',
        protocol: 'https',
        isDefault: true,
        credentials: { credentialsType: 'None' },
      },
    };
  }

  private workspaceBody(): Json {
    const o = this.opts;
    const wsGuid = stableUuid(`workspace:${this.workspaceId}`);
    return {
      id: this.workspaceId,
      name: o.workspaceName,
      type: `${PROVIDER}/workspaces`,
      location: o.location,
      tags: {},
      kind: 'Default',
      identity: { type: 'SystemAssigned', principalId: stableUuid('principal'), tenantId: stableUuid('tenant') },
      sku: { name: 'Basic', tier: 'Basic' },
      properties: {
        workspaceId: wsGuid,
        friendlyName: o.workspaceName,
        description: 'Champion local workspace',
        provisioningState: 'Succeeded',
        discoveryUrl: `${this.baseUrl}/_local/info`,
        // On Azure `azureml://{region}.api.azureml.ms/mlflow/v1.0{id}`; here the workspace's own host serves it.
        mlFlowTrackingUri: `${this.baseUrl.replace(/^https:/, 'azureml:')}${MLFLOW_PREFIX}${this.workspaceId}`,
        hbiWorkspace: false,
        publicNetworkAccess: 'Enabled',
        storageHnsEnabled: false,
        v1LegacyMode: false,
        tenantId: stableUuid('tenant'),
      },
      systemData: {
        createdAt: new Date(Number(this.store.meta('createdAt') ?? Date.now())).toISOString(),
        createdBy: this.localUser.name,
        createdByType: this.localUser.type,
      },
    };
  }

  // ---- asset containers and versions --------------------------------------------------------------------------

  private containerBody(asset: AssetKind, row: ResourceRow): Json {
    const versions = this.store.list(asset.version, row.key);
    const latest = versions.reduce<ResourceRow | undefined>(
      (a, v) => (!a || v.createdAt >= a.createdAt ? v : a),
      undefined,
    );
    return {
      id: this.id(`${asset.segment}/${row.name}`),
      name: row.name,
      type: `${PROVIDER}/workspaces/${asset.type}`,
      properties: {
        description: null,
        tags: {},
        properties: {},
        isArchived: false,
        ...row.body.properties,
        latestVersion: latest?.name ?? null,
        nextVersion: nextVersion(versions.map((v) => v.name)),
      },
      systemData: this.systemData(row),
    };
  }

  private versionBody(asset: AssetKind, row: ResourceRow): Json {
    const container = row.parent ? this.store.get(row.parent) : undefined;
    const cname = container?.name ?? row.parent?.split('/')[1] ?? '';
    return {
      id: this.id(`${asset.segment}/${cname}/versions/${row.name}`),
      name: row.name,
      type: `${PROVIDER}/workspaces/${asset.type}/versions`,
      properties: row.body.properties,
      systemData: this.systemData(row),
    };
  }

  private listContainers(asset: AssetKind, q: URLSearchParams, url: URL): Reply {
    const view = listView(q);
    const rows = this.store
      .list(asset.container, null)
      .filter((r) => view(Boolean(r.body.properties?.isArchived)))
      .map((r) => this.containerBody(asset, r));
    const count = q.get('count');
    const size = count ? Number.parseInt(count, 10) : undefined;
    if (size !== undefined && !(size > 0)) throw userError(`Invalid value for 'count': ${count}.`, 'count');
    return { status: 200, body: this.page(rows, q, url, size) };
  }

  private putContainer(asset: AssetKind, name: string, body: unknown): Reply {
    checkName(name, RESOURCE_NAME, 'name');
    const parsed = validate(S.assetContainerBody, body);
    const key = `${asset.segment}/${name}`;
    const existing = this.store.get(key);
    const row = this.store.put(
      {
        key,
        kind: asset.container,
        parent: null,
        name: existing?.name ?? name,
        body: {
          properties: {
            ...parsed.properties,
            tags: parsed.properties.tags ?? {},
            properties: parsed.properties.properties ?? {},
          },
        },
      },
      this.caller(),
    );
    return { status: existing ? 200 : 201, body: this.containerBody(asset, row) };
  }

  private deleteContainer(asset: AssetKind, name: string): Reply {
    const key = `${asset.segment}/${name}`;
    const row = this.store.get(key);
    if (!row || row.kind !== asset.container) return { status: 204 };
    if (asset.segment === 'models') rmSync(this.layout.model(row.name, ''), { recursive: true, force: true });
    this.store.delete(key);
    return { status: 200 };
  }

  private listVersions(asset: AssetKind, name: string, q: URLSearchParams, url: URL): Reply {
    const container = this.mustGet(`${asset.segment}/${name}`, asset);
    const view = listView(q);
    let rows = this.store
      .list(asset.version, container.key)
      .filter((r) => view(Boolean(r.body.properties?.isArchived)));
    const version = q.get('version');
    if (version) rows = rows.filter((r) => r.name === version);
    const description = q.get('description');
    if (description) rows = rows.filter((r) => String(r.body.properties?.description ?? '').includes(description));
    const tags = q.get('tags') ?? q.get('$tags');
    if (tags) rows = rows.filter((r) => matchesKv(r.body.properties?.tags, tags));
    const props = q.get('properties');
    if (props) rows = rows.filter((r) => matchesKv(r.body.properties?.properties, props));
    rows = sortRows(rows, q.get('$orderBy') ?? q.get('orderBy'), 'createdtime desc');
    const offset = q.get('offset');
    if (offset) {
      const o = Number.parseInt(offset, 10);
      if (!(o >= 0)) throw userError(`Invalid value for 'offset': ${offset}.`, 'offset');
      rows = rows.slice(o);
    }
    const top = q.get('$top');
    if (top) {
      const t = Number.parseInt(top, 10);
      if (!(t > 0)) throw userError(`Invalid value for '$top': ${top}.`, '$top');
      rows = rows.slice(0, t);
    }
    return {
      status: 200,
      body: this.page(
        rows.map((r) => this.versionBody(asset, r)),
        q,
        url,
      ),
    };
  }

  /**
   * Storage is saved before a version that points into it is registered (it must outlive a crash as on Azure), and a
   * model registered from a datastore path is downloaded first, so the registration itself runs without yielding to
   * other requests.
   */
  private async putVersionFromStorage(asset: AssetKind, name: string, version: string, body: unknown): Promise<Reply> {
    if (asset.segment !== 'environments') await this.storage.flush();
    const modelUri: unknown = asset.segment === 'models' ? (body as Json | undefined)?.properties?.modelUri : undefined;
    const parsed = typeof modelUri === 'string' ? parseUri(modelUri) : undefined;
    if (parsed?.kind !== 'datastore') return this.putVersion(asset, name, version, body, undefined);
    const staging = join(this.opts.dataDir, 'staging', randomUUID());
    try {
      const staged = await this.downloadFromDatastore(parsed.datastore, parsed.path, staging);
      return this.putVersion(asset, name, version, body, staged);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  /**
   * A job output whose `uri` is a path of the default datastore is written there, as Azure's job writes an output to
   * the location its uri names ("Access data in a job": outputs, `path`); the files stay readable with the storage
   * SDK after the job. Outputs without such a uri stay where the local workspace keeps them.
   */
  private async writeOutputToDatastore(uri: unknown, dir: string): Promise<void> {
    const parsed = typeof uri === 'string' ? parseUri(uri) : undefined;
    if (parsed?.kind !== 'datastore' || parsed.datastore.toLowerCase() !== DEFAULT_DATASTORE) return;
    const container = this.storage.container(this.datastoreContainer);
    const prefix = parsed.path.replace(/\/+$/, '');
    for (const file of readdirSync(dir)) {
      await container.getBlockBlobClient(`${prefix}/${file}`).uploadFile(join(dir, file));
    }
    await this.storage.flush();
  }

  /** Copies a datastore blob, or the blobs under a folder path, into `dir`; the local path, or undefined if none. */
  private async downloadFromDatastore(datastore: string, path: string, dir: string): Promise<string | undefined> {
    if (datastore.toLowerCase() !== DEFAULT_DATASTORE) return undefined;
    const container = this.storage.container(this.datastoreContainer);
    const file = container.getBlobClient(path);
    if (path && (await file.exists())) {
      const local = this.layout.inside(dir, path.split('/').at(-1)!);
      mkdirSync(dir, { recursive: true });
      await file.downloadToFile(local);
      return local;
    }
    const prefix = path === '' || path.endsWith('/') ? path : `${path}/`;
    let found = false;
    for await (const blob of container.listBlobsFlat({ prefix })) {
      const local = this.layout.inside(dir, blob.name.slice(prefix.length));
      mkdirSync(dirname(local), { recursive: true });
      await container.getBlobClient(blob.name).downloadToFile(local);
      found = true;
    }
    return found ? dir : undefined;
  }

  private putVersion(
    asset: AssetKind,
    name: string,
    version: string,
    body: unknown,
    staged: string | undefined,
  ): Reply {
    checkName(name, RESOURCE_NAME, 'name');
    checkName(version, VERSION, 'version');
    const schema = {
      models: S.modelVersionBody,
      data: S.dataVersionBody,
      environments: S.environmentVersionBody,
      codes: S.codeVersionBody,
    }[asset.segment];
    const parsed = validate(schema, body) as Json;
    const containerKey = `${asset.segment}/${name}`;
    const key = `${containerKey}/versions/${version}`;
    const existing = this.store.get(key);
    const container = this.store.get(containerKey);
    const hasContainer = container?.kind === asset.container;
    // Names are case-insensitive: keep the casing the asset was first created with.
    const cname = hasContainer ? container.name : name;
    const vname = existing?.name ?? version;
    const props: Json = {
      ...parsed.properties,
      tags: parsed.properties.tags ?? {},
      properties: parsed.properties.properties ?? {},
    };
    props.isAnonymous ??= false;
    props.isArchived ??= false;
    if (asset.segment === 'models') props.modelType ??= 'CustomModel';
    if (asset.segment === 'environments') {
      props.environmentType = 'UserCreated';
      props.osType ??= 'Linux';
      props.autoRebuild ??= 'Disabled';
    }
    let artifact: { from: string; folder: boolean; job?: string } | undefined;
    if (existing) {
      for (const field of ['modelUri', 'dataUri', 'codeUri'] as const) {
        const before = existing.body.properties?.[field];
        if (field in props && before !== undefined && props[field] !== before) {
          throw userError(
            `'properties.${field}' of an existing version cannot be changed (it is '${before}').`,
            `properties.${field}`,
          );
        }
      }
    } else if (asset.segment === 'models' && props.modelUri) {
      artifact = this.resolveModelArtifact(props.modelUri, staged);
      if (artifact?.job && !props.jobName) props.jobName = artifact.job;
    }
    const row = this.store.transaction(() => {
      if (!hasContainer) {
        this.store.put(
          {
            key: containerKey,
            kind: asset.container,
            parent: null,
            name: cname,
            body: {
              properties: {
                description: null,
                tags: {},
                properties: {},
                isArchived: false,
                // DataContainer requires a dataType; an implicit container takes its first version's.
                ...(asset.segment === 'data' ? { dataType: props.dataType } : {}),
              },
            },
          },
          this.caller(),
        );
      }
      return this.store.put(
        {
          key,
          kind: asset.version,
          parent: containerKey,
          name: vname,
          body: { properties: props },
          internal: existing?.internal ?? (artifact ? { artifact: true } : {}),
        },
        this.caller(),
      );
    });
    if (artifact) {
      const dest = this.layout.model(cname, vname);
      mkdirSync(dest, { recursive: true });
      if (artifact.folder) cpSync(artifact.from, dest, { recursive: true });
      else copyFileSync(artifact.from, join(dest, ARTIFACT_FILE));
    }
    if (!existing && asset.segment === 'models') {
      this.events.publish('ModelRegistered', `models/${cname}:${vname}`, {
        ModelName: cname,
        ModelVersion: /^\d+$/.test(vname) ? Number(vname) : vname,
        ModelTags: props.tags ?? {},
        ModelProperties: props.properties ?? {},
      });
    }
    return { status: existing ? 200 : 201, body: this.versionBody(asset, row) };
  }

  private deleteVersion(asset: AssetKind, name: string, version: string): Reply {
    const key = `${asset.segment}/${name}/versions/${version}`;
    const row = this.store.get(key);
    if (!row || row.kind !== asset.version) return { status: 204 };
    if (asset.segment === 'models') {
      const cname = row.parent ? (this.store.get(row.parent)?.name ?? name) : name;
      rmSync(this.layout.model(cname, row.name), { recursive: true, force: true });
    }
    this.store.delete(key);
    return { status: 200 };
  }

  /**
   * Finds the model files a modelUri points at: a folder (an MLflow model's MLmodel and data, or a model.json) or a
   * model.json file. Job outputs must exist (registering from a missing job output is a client error); other URIs
   * are accepted without files, and deploying such a model fails provisioning. A datastore path is read from the
   * copy `staged` holds (downloaded beforehand from storage).
   */
  private resolveModelArtifact(
    modelUri: string,
    staged: string | undefined,
  ): { from: string; folder: boolean; job?: string } | undefined {
    const parsed = parseUri(modelUri);
    if (parsed.kind === 'jobOutput') {
      const job = this.store.get(`jobs/${parsed.job}`);
      if (!job)
        throw userError(
          `modelUri '${modelUri}' refers to job '${parsed.job}', which does not exist.`,
          'properties.modelUri',
        );
      if (job.body.properties.status !== 'Completed') {
        throw userError(
          `modelUri '${modelUri}' refers to job '${parsed.job}', which is ${job.body.properties.status}; only Completed jobs have outputs.`,
          'properties.modelUri',
        );
      }
      const outputs = job.body.properties.outputs ?? {};
      if (parsed.output !== 'model' && !outputs[parsed.output]) {
        throw userError(`Job '${parsed.job}' has no output '${parsed.output}'.`, 'properties.modelUri');
      }
      const folder = this.layout.jobOutput(job.name);
      if (!isModelFolder(folder)) {
        throw userError(`Job '${parsed.job}' produced no model artefact.`, 'properties.modelUri');
      }
      return { from: folder, folder: true, job: job.name };
    }
    let path: string | undefined;
    if (parsed.kind === 'datastore') path = staged;
    else if (parsed.kind === 'file') path = parsed.path;
    if (!path || !existsSync(path)) return undefined;
    if (statSync(path).isDirectory()) return isModelFolder(path) ? { from: path, folder: true } : undefined;
    return { from: path, folder: false };
  }

  // ---- online endpoints ---------------------------------------------------------------------------------------

  scoringUri(endpoint: string): string {
    return `${this.baseUrl}/endpoints/${endpoint}/score`;
  }

  private endpointBody(row: ResourceRow, apiVersion: string): Json {
    const b = row.body;
    const properties: Json = {
      description: null,
      properties: {},
      ...b.properties,
      scoringUri: this.scoringUri(row.name),
      swaggerUri: `${this.baseUrl}/endpoints/${row.name}/swagger.json`,
      traffic: b.properties.traffic ?? {},
    };
    if (supportsMirror(apiVersion)) properties.mirrorTraffic = b.properties.mirrorTraffic ?? {};
    else delete properties.mirrorTraffic;
    return {
      id: this.id(`onlineEndpoints/${row.name}`),
      name: row.name,
      type: `${PROVIDER}/workspaces/onlineEndpoints`,
      location: b.location,
      tags: b.tags ?? {},
      ...(b.kind !== undefined ? { kind: b.kind } : {}),
      identity: withPrincipal(b.identity),
      ...(b.sku ? { sku: b.sku } : {}),
      properties,
      systemData: this.systemData(row),
    };
  }

  private listEndpoints(q: URLSearchParams, url: URL, apiVersion: string): Reply {
    let rows = this.store.list('onlineEndpoint', null);
    const name = q.get('name');
    if (name) rows = rows.filter((r) => r.name.toLowerCase() === name.toLowerCase());
    const tags = q.get('tags');
    if (tags) rows = rows.filter((r) => matchesKv(r.body.tags, tags));
    const props = q.get('properties');
    if (props) rows = rows.filter((r) => matchesKv(r.body.properties?.properties, props));
    const computeType = q.get('computeType');
    if (computeType && computeType !== 'Managed') rows = [];
    rows = sortRows(rows, q.get('orderBy'), 'createdatdesc');
    const count = q.get('count');
    const size = count ? Number.parseInt(count, 10) : undefined;
    return {
      status: 200,
      body: this.page(
        rows.map((r) => this.endpointBody(r, apiVersion)),
        q,
        url,
        size,
      ),
    };
  }

  private putEndpoint(name: string, body: unknown, apiVersion: string): Reply {
    checkName(
      name,
      ENDPOINT_NAME,
      'endpointName',
      '3-32 characters: letters, digits and hyphens, starting with a letter',
    );
    const parsed = validate(S.onlineEndpointBody, body) as Json;
    const key = `onlineEndpoints/${name}`;
    const existing = this.store.get(key);
    const holder = existing ? undefined : this.siblings().find((w) => w.hasEndpoint(name));
    if (holder) {
      // Status as for any name already taken; the service's exact wording is not published, this one is local.
      throw new ArmError(
        409,
        'Conflict',
        `An online endpoint named '${name}' already exists in region '${this.opts.location}' (workspace '${holder.opts.workspaceName}'): endpoint names are unique per region.`,
        'name',
      );
    }
    this.assertNoOpenOperation(key, `online endpoint '${name}'`);
    if (existing?.body.properties.provisioningState === 'Deleting') {
      throw new ArmError(409, 'Conflict', `Online endpoint '${name}' is being deleted.`);
    }
    if (existing && existing.body.properties.authMode !== parsed.properties.authMode) {
      // Azure does not allow switching auth mode in place.
      throw userError('properties.authMode cannot be changed on an existing endpoint.', 'properties.authMode');
    }
    const traffic: Record<string, number> = parsed.properties.traffic ?? {};
    const mirror: Record<string, number> = supportsMirror(apiVersion) ? (parsed.properties.mirrorTraffic ?? {}) : {};
    this.validateTraffic(name, traffic, mirror, Boolean(existing));
    const properties = {
      ...parsed.properties,
      traffic: canonicalTraffic(name, traffic, (d) => this.store.get(`onlineEndpoints/${name}/deployments/${d}`)?.name),
      mirrorTraffic: canonicalTraffic(
        name,
        mirror,
        (d) => this.store.get(`onlineEndpoints/${name}/deployments/${d}`)?.name,
      ),
      provisioningState: existing ? 'Updating' : 'Creating',
    };
    delete (properties as Json).scoringUri;
    delete (properties as Json).swaggerUri;
    delete (properties as Json).keys;
    const internal = existing?.internal ?? {
      keys: { primaryKey: newKey(), secondaryKey: newKey() },
      effectiveTraffic: {},
      effectiveMirror: {},
    };
    const row = this.store.put(
      {
        key,
        kind: 'onlineEndpoint',
        parent: null,
        name: existing?.name ?? name,
        body: {
          location: parsed.location,
          ...(parsed.kind !== undefined ? { kind: parsed.kind } : {}),
          tags: parsed.tags ?? {},
          identity: parsed.identity ?? { type: 'SystemAssigned' },
          ...(parsed.sku ? { sku: parsed.sku } : {}),
          ...passthrough(parsed, TRACKED_RESOURCE_KEYS),
          properties,
        },
        internal,
      },
      this.caller(),
    );
    const failure = this.faults.takeProvisioning('endpoint', name);
    const op = this.startOperation(existing ? 'endpoint-update' : 'endpoint-create', key, this.opts.provisioningMs, {
      ...(failure ? { failure } : {}),
    });
    return {
      status: existing ? 200 : 201,
      body: this.endpointBody(row, apiVersion),
      headers: this.lroHeaders(op, apiVersion, { asyncOperation: true }),
    };
  }

  private validateTraffic(
    endpoint: string,
    traffic: Record<string, number>,
    mirror: Record<string, number>,
    exists: boolean,
  ): void {
    const deployment = (d: string): ResourceRow | undefined =>
      exists ? this.store.get(`onlineEndpoints/${endpoint}/deployments/${d}`) : undefined;
    let total = 0;
    for (const [d, w] of Object.entries(traffic)) {
      const dep = deployment(d);
      if (!dep) {
        throw userError(
          `Traffic names deployment '${d}', which does not exist in endpoint '${endpoint}'.`,
          `properties.traffic.${d}`,
        );
      }
      if (w > 0 && dep.body.properties.provisioningState !== 'Succeeded') {
        throw userError(
          `Deployment '${d}' is ${dep.body.properties.provisioningState}; only Succeeded deployments can take traffic.`,
          `properties.traffic.${d}`,
        );
      }
      total += w;
    }
    if (total !== 0 && total !== 100) {
      throw userError(
        `Traffic values must sum to 100 (or 0 when no deployment takes traffic); they sum to ${total}.`,
        'properties.traffic',
      );
    }
    const mirrored = Object.entries(mirror).filter(([, p]) => p > 0);
    let mirrorTotal = 0;
    for (const [d, p] of Object.entries(mirror)) {
      if (!deployment(d)) {
        throw userError(
          `Mirror traffic names deployment '${d}', which does not exist in endpoint '${endpoint}'.`,
          `properties.mirrorTraffic.${d}`,
        );
      }
      if (p > 50)
        throw userError(`Mirror traffic for '${d}' is ${p}%; it cannot exceed 50%.`, `properties.mirrorTraffic.${d}`);
      mirrorTotal += p;
      const live = Object.entries(traffic).find(([t]) => t.toLowerCase() === d.toLowerCase())?.[1] ?? 0;
      if (p > 0 && live > 0) {
        throw userError(
          `Deployment '${d}' cannot take both live traffic and mirror traffic.`,
          `properties.mirrorTraffic.${d}`,
        );
      }
    }
    if (mirrored.length > 1)
      throw userError('Mirror traffic can go to one deployment only.', 'properties.mirrorTraffic');
    if (mirrorTotal > 50)
      throw userError(`Mirror traffic totals ${mirrorTotal}%; it cannot exceed 50%.`, 'properties.mirrorTraffic');
  }

  private patchEndpoint(name: string, body: unknown, apiVersion: string): Reply {
    const row = this.mustEndpoint(name);
    const parsed = validate(S.endpointPatchBody, body) as Json;
    const updated = this.store.put(
      {
        ...row,
        body: {
          ...row.body,
          ...(parsed.tags !== undefined ? { tags: parsed.tags ?? {} } : {}),
          ...(parsed.identity !== undefined ? { identity: parsed.identity } : {}),
        },
      },
      this.caller(),
    );
    const op = this.startOperation('endpoint-patch', updated.key, 0, {});
    return { status: 202, headers: this.lroHeaders(op, apiVersion, { location: true }) };
  }

  private deleteEndpoint(name: string, apiVersion: string): Reply {
    const key = `onlineEndpoints/${name}`;
    const row = this.store.get(key);
    if (!row) return { status: 204 };
    const existingDelete = this.store.openOperationFor(key);
    if (existingDelete?.kind === 'endpoint-delete') {
      return { status: 202, headers: this.lroHeaders(existingDelete, apiVersion, { location: true }) };
    }
    // Deleting an endpoint cancels whatever was provisioning in it.
    this.cancelOpenOperations(key);
    for (const dep of this.store.list('onlineDeployment', key)) this.cancelOpenOperations(dep.key);
    this.store.put({
      ...row,
      body: { ...row.body, properties: { ...row.body.properties, provisioningState: 'Deleting' } },
    });
    const op = this.startOperation('endpoint-delete', key, this.opts.deleteMs, {});
    return { status: 202, headers: this.lroHeaders(op, apiVersion, { location: true }) };
  }

  private listKeys(name: string): Reply {
    const row = this.mustEndpoint(name);
    if (row.body.properties.authMode !== 'Key') {
      throw userError(
        `Online endpoint '${name}' uses ${row.body.properties.authMode} auth; keys are only available for Key auth.`,
      );
    }
    return { status: 200, body: row.internal.keys };
  }

  private regenerateKeys(name: string, body: unknown, apiVersion: string): Reply {
    const row = this.mustEndpoint(name);
    const parsed = validate(S.regenerateKeysBody, body);
    if (row.body.properties.authMode !== 'Key') {
      throw userError(`Online endpoint '${name}' uses ${row.body.properties.authMode} auth; it has no keys.`);
    }
    const keys = { ...row.internal.keys };
    keys[parsed.keyType === 'Primary' ? 'primaryKey' : 'secondaryKey'] = parsed.keyValue ?? newKey();
    this.store.put({ ...row, internal: { ...row.internal, keys } });
    this.refreshEndpoint(row.name);
    const op = this.startOperation('endpoint-keys', row.key, 0, {});
    return { status: 202, headers: this.lroHeaders(op, apiVersion, { location: true }) };
  }

  private endpointToken(name: string): Reply {
    const row = this.mustEndpoint(name);
    if (row.body.properties.authMode !== 'AMLToken') {
      throw userError(
        `Online endpoint '${name}' uses ${row.body.properties.authMode} auth; tokens are only issued for AMLToken auth.`,
      );
    }
    const token = randomBytes(32).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const expires = now + 3600;
    this.store.putToken(token, row.name, expires * 1000);
    this.scoring.addToken(token, row.name, expires * 1000);
    return {
      status: 200,
      body: { accessToken: token, tokenType: 'Bearer', expiryTimeUtc: expires, refreshAfterTimeUtc: now + 1800 },
    };
  }

  /** Rebuilds an endpoint's routing table from stored state (effective traffic, loaded models, keys). */
  refreshEndpoint(name: string): void {
    const row = this.store.get(`onlineEndpoints/${name}`);
    if (!row || row.internal.created !== true) {
      this.scoring.removeEndpoint(name);
      return;
    }
    const deployments = this.store.list('onlineDeployment', row.key).map((d) => {
      const loaded = this.predictors.get(d.key);
      const perInstance = Number(d.body.properties.requestSettings?.maxConcurrentRequestsPerInstance ?? 1);
      const instances = Number(d.body.sku?.capacity ?? 1);
      return {
        name: d.name,
        model: loaded?.model,
        predictor: loaded?.predictor ?? null,
        allowance: 2 * Math.max(1, perInstance) * Math.max(1, instances),
      };
    });
    const def: EndpointDef = {
      name: row.name,
      authMode: row.body.properties.authMode,
      keys: [row.internal.keys.primaryKey, row.internal.keys.secondaryKey],
      traffic: row.internal.effectiveTraffic ?? {},
      mirrorTraffic: row.internal.effectiveMirror ?? {},
      deployments: deployments.filter((d) => d.predictor),
    };
    this.scoring.setEndpoint(def);
  }

  // ---- online deployments -------------------------------------------------------------------------------------

  private deploymentBody(row: ResourceRow): Json {
    const b = row.body;
    const endpoint = row.parent ? this.store.get(row.parent)?.name : undefined;
    return {
      id: this.id(`onlineEndpoints/${endpoint ?? row.parent?.split('/')[1]}/deployments/${row.name}`),
      name: row.name,
      type: `${PROVIDER}/workspaces/onlineEndpoints/deployments`,
      location: b.location,
      tags: b.tags ?? {},
      ...(b.kind !== undefined ? { kind: b.kind } : {}),
      ...(b.identity ? { identity: withPrincipal(b.identity) } : {}),
      sku: b.sku ?? { name: 'Default', capacity: 1 },
      properties: b.properties,
      systemData: this.systemData(row),
    };
  }

  private listDeployments(endpoint: string, q: URLSearchParams, url: URL): Reply {
    const ep = this.mustEndpoint(endpoint);
    let rows = sortRows(this.store.list('onlineDeployment', ep.key), q.get('$orderBy'), 'createdtime asc');
    const top = q.get('$top');
    if (top) rows = rows.slice(0, Math.max(0, Number.parseInt(top, 10) || 0));
    return {
      status: 200,
      body: this.page(
        rows.map((r) => this.deploymentBody(r)),
        q,
        url,
      ),
    };
  }

  /** Resolves a deployment's `model` reference to a registered model version. */
  private resolveModelRef(ref: string): ResourceRow | undefined {
    const parsed = parseUri(ref);
    let name: string | undefined;
    let version: string | undefined;
    if (parsed.kind === 'modelAsset' || parsed.kind === 'dataAsset') {
      name = parsed.name;
      version = parsed.version;
    } else {
      const m = /^(?:azureml:)?([^:/@]+)[:@]([^:/@]+)$/.exec(ref.trim());
      if (m) [name, version] = [m[1]!, m[2]!];
    }
    if (!name || !version) return undefined;
    if (version === 'latest') {
      const versions = this.store.list('modelVersion', `models/${name}`);
      return versions.reduce<ResourceRow | undefined>((a, v) => (!a || v.createdAt >= a.createdAt ? v : a), undefined);
    }
    return this.store.get(`models/${name}/versions/${version}`);
  }

  private putDeployment(endpoint: string, name: string, body: unknown, apiVersion: string): Reply {
    const ep = this.mustEndpoint(endpoint);
    checkName(name, DEPLOYMENT_NAME, 'deploymentName', 'up to 32 letters, digits and hyphens, starting with a letter');
    const parsed = validate(S.onlineDeploymentBody, body) as Json;
    if (ep.body.properties.provisioningState === 'Deleting') {
      throw new ArmError(409, 'Conflict', `Online endpoint '${endpoint}' is being deleted.`);
    }
    const key = `onlineEndpoints/${endpoint}/deployments/${name}`;
    if (this.store.openOperationFor(key)?.kind === 'deployment-delete') {
      throw new ArmError(
        409,
        'Conflict',
        `Deployment '${name}' of online endpoint '${endpoint}' is being deleted; wait for the delete to finish before creating it again.`,
      );
    }
    this.assertNoOpenOperation(key, `deployment '${name}'`);
    const model = this.resolveModelRef(parsed.properties.model);
    if (!model) {
      throw userError(
        `Model '${parsed.properties.model}' was not found in workspace '${this.opts.workspaceName}'. Use a model version id or azureml:NAME:VERSION.`,
        'properties.model',
      );
    }
    assertDeployable(model.body.properties.modelType, parsed.properties);
    const existing = this.store.get(key);
    // Azure's defaults (OnlineRequestSettings in the 2022-10-01 specification) for what the request leaves out.
    const requestSettings = {
      requestTimeout: 'PT5S',
      maxConcurrentRequestsPerInstance: 1,
      maxQueueWait: 'PT0.5S',
      ...stripNulls(parsed.properties.requestSettings ?? {}),
    };
    const properties = {
      scaleSettings: { scaleType: 'Default' },
      livenessProbe: defaultProbe(),
      readinessProbe: defaultProbe(),
      appInsightsEnabled: false,
      egressPublicNetworkAccess: 'Enabled',
      instanceType: 'Standard_DS3_v2',
      properties: {},
      ...stripNulls(parsed.properties),
      requestSettings,
      provisioningState: existing ? 'Updating' : 'Creating',
    };
    const row = this.store.put(
      {
        key,
        kind: 'onlineDeployment',
        parent: ep.key,
        name: existing?.name ?? name,
        body: {
          location: parsed.location,
          ...(parsed.kind !== undefined ? { kind: parsed.kind } : {}),
          tags: parsed.tags ?? {},
          ...(parsed.identity ? { identity: parsed.identity } : {}),
          sku: parsed.sku ?? existing?.body.sku ?? { name: 'Default', capacity: 1 },
          ...passthrough(parsed, TRACKED_RESOURCE_KEYS),
          properties,
        },
        internal: existing?.internal ?? {},
      },
      this.caller(),
    );
    const modelName = this.store.get(model.parent ?? '')?.name ?? model.parent?.split('/')[1];
    const failure = this.faults.takeProvisioning('deployment', ep.name, row.name);
    this.appendLog(
      row.key,
      `${existing ? 'Updating' : 'Creating'} deployment ${row.name} with model ${modelName}:${model.name}`,
    );
    const op = this.startOperation(
      existing ? 'deployment-update' : 'deployment-create',
      key,
      this.opts.provisioningMs,
      {
        model: `${modelName}:${model.name}`,
        ...(failure ? { failure } : {}),
      },
    );
    return {
      status: existing ? 200 : 201,
      body: this.deploymentBody(row),
      headers: this.lroHeaders(op, apiVersion, { asyncOperation: true }),
    };
  }

  private patchDeployment(endpoint: string, name: string, body: unknown, apiVersion: string): Reply {
    const row = this.mustDeployment(endpoint, name);
    const parsed = validate(S.deploymentPatchBody, body) as Json;
    this.store.put(
      {
        ...row,
        body: {
          ...row.body,
          ...(parsed.tags !== undefined ? { tags: parsed.tags ?? {} } : {}),
          ...(parsed.sku ? { sku: { ...(row.body.sku ?? {}), ...parsed.sku } } : {}),
        },
      },
      this.caller(),
    );
    const op = this.startOperation('deployment-patch', row.key, 0, {});
    return { status: 202, headers: this.lroHeaders(op, apiVersion, { location: true }) };
  }

  private deleteDeployment(endpoint: string, name: string, apiVersion: string): Reply {
    const ep = this.mustEndpoint(endpoint);
    const key = `onlineEndpoints/${endpoint}/deployments/${name}`;
    const row = this.store.get(key);
    if (!row) return { status: 204 };
    const open = this.store.openOperationFor(key);
    if (open?.kind === 'deployment-delete') {
      return { status: 202, headers: this.lroHeaders(open, apiVersion, { location: true }) };
    }
    const lname = row.name.toLowerCase();
    const weight = (m: Record<string, number> | undefined): number =>
      Object.entries(m ?? {}).find(([d]) => d.toLowerCase() === lname)?.[1] ?? 0;
    const live = Math.max(weight(ep.body.properties.traffic), weight(ep.internal.effectiveTraffic));
    if (live > 0) {
      throw userError(
        `Deployment '${row.name}' still receives ${live}% of the traffic of endpoint '${ep.name}'. Set its traffic to 0 before deleting it.`,
        'traffic',
      );
    }
    const mirrored = Math.max(weight(ep.body.properties.mirrorTraffic), weight(ep.internal.effectiveMirror));
    if (mirrored > 0) {
      throw userError(
        `Deployment '${row.name}' still receives ${mirrored}% mirror traffic of endpoint '${ep.name}'. Remove the mirror before deleting it.`,
        'mirrorTraffic',
      );
    }
    this.cancelOpenOperations(key);
    this.store.put({
      ...row,
      body: { ...row.body, properties: { ...row.body.properties, provisioningState: 'Deleting' } },
    });
    const op = this.startOperation('deployment-delete', key, this.opts.deleteMs, {});
    return { status: 202, headers: this.lroHeaders(op, apiVersion, { location: true }) };
  }

  private deploymentLogs(endpoint: string, name: string, body: unknown): Reply {
    const row = this.mustDeployment(endpoint, name);
    const parsed = validate(S.getLogsBody, body ?? {}) ?? {};
    const lines =
      parsed.containerType === 'StorageInitializer'
        ? [`Downloading model for ${row.name} from the local model store`, 'Model download complete']
        : (this.logs.get(row.key) ?? []);
    const tail = parsed.tail ?? lines.length;
    return { status: 200, body: { content: lines.slice(Math.max(0, lines.length - tail)).join('\n') } };
  }

  private appendLog(key: string, line: string): void {
    const lines = this.logs.get(key) ?? [];
    lines.push(`${new Date().toISOString()} ${line}`);
    if (lines.length > 500) lines.splice(0, lines.length - 500);
    this.logs.set(key, lines);
  }

  /**
   * Loads the files of a model version ("name:version") for a deployment: without a scoring script, as an MLflow
   * model (its MLmodel and data).
   */
  private loadDeploymentModel(dep: ResourceRow, model: string, throwOnError: true): void;
  private loadDeploymentModel(dep: ResourceRow, model: string, throwOnError: false): void;
  private loadDeploymentModel(dep: ResourceRow, model: string, throwOnError: boolean): void {
    const [name, version] = splitModel(model);
    try {
      const dir = this.layout.model(name, version);
      if (!existsSync(dir)) {
        throw new Error(`model ${model} has no files; register it from a job output or a folder that holds a model`);
      }
      const { predictor, summary } = loadModelFolder(dir, !dep.body.properties.codeConfiguration);
      this.predictors.set(dep.key, { model, predictor });
      this.appendLog(dep.key, `Loaded model ${model} (${summary}; features ${predictor.features.join(', ')})`);
    } catch (err) {
      this.appendLog(dep.key, `Failed to load model ${model}: ${(err as Error).message}`);
      if (throwOnError) throw err;
    }
  }

  // ---- long-running operations --------------------------------------------------------------------------------

  private assertNoOpenOperation(key: string, what: string): void {
    const op = this.store.openOperationFor(key);
    if (op) {
      throw new ArmError(
        409,
        'Conflict',
        `An operation (${op.kind}) is already in progress for ${what}; wait for it to finish before changing it.`,
      );
    }
  }

  private startOperation(
    kind: string,
    resourceKey: string,
    durationMs: number,
    payload: Record<string, unknown>,
  ): OperationRow {
    const now = Date.now();
    const op: OperationRow = {
      id: randomUUID(),
      kind,
      resourceKey,
      status: 'InProgress',
      startedAt: now,
      dueAt: now + durationMs,
      endedAt: null,
      payload,
      error: null,
    };
    this.store.putOperation(op);
    this.scheduleOp(op, durationMs);
    return op;
  }

  private scheduleOp(op: OperationRow, delayMs: number): void {
    const t = setTimeout(() => {
      this.opTimers.delete(op.id);
      if (this.closed) return;
      try {
        this.completeOperation(op.id);
      } catch (err) {
        this.opts.log(`operation ${op.kind} ${op.id} crashed: ${(err as Error).stack ?? String(err)}`);
      }
    }, delayMs);
    t.unref();
    this.opTimers.set(op.id, t);
  }

  private cancelOpenOperations(key: string): void {
    for (let op = this.store.openOperationFor(key); op; op = this.store.openOperationFor(key)) {
      const t = this.opTimers.get(op.id);
      if (t) clearTimeout(t);
      this.opTimers.delete(op.id);
      this.finishOp(op, 'Canceled', { code: 'OperationCanceled', message: 'The operation was canceled by a delete.' });
    }
  }

  private finishOp(op: OperationRow, status: OperationRow['status'], error: OperationRow['error'] = null): void {
    this.store.putOperation({ ...op, status, error, endedAt: Date.now() });
  }

  private completeOperation(id: string): void {
    const op = this.store.getOperation(id);
    if (!op || op.status !== 'InProgress') return;
    const row = this.store.get(op.resourceKey);
    const failure = op.payload.failure as { code: string; message: string } | undefined;
    switch (op.kind) {
      case 'endpoint-create':
      case 'endpoint-update': {
        if (!row)
          return this.finishOp(op, 'Failed', { code: 'ResourceNotFound', message: 'The endpoint no longer exists.' });
        const ok = !failure;
        const internal = ok
          ? {
              ...row.internal,
              created: true,
              effectiveTraffic: row.body.properties.traffic ?? {},
              effectiveMirror: row.body.properties.mirrorTraffic ?? {},
            }
          : row.internal;
        this.store.transaction(() => {
          this.store.put({
            ...row,
            body: {
              ...row.body,
              properties: { ...row.body.properties, provisioningState: ok ? 'Succeeded' : 'Failed' },
            },
            internal,
          });
          this.finishOp(op, ok ? 'Succeeded' : 'Failed', failure ?? null);
        });
        this.refreshEndpoint(row.name);
        this.opts.log(`endpoint ${row.name} ${ok ? 'provisioned' : `failed: ${failure!.code}`}`);
        return;
      }
      case 'deployment-create':
      case 'deployment-update': {
        if (!row)
          return this.finishOp(op, 'Failed', { code: 'ResourceNotFound', message: 'The deployment no longer exists.' });
        const model = op.payload.model as string;
        let error = failure ?? null;
        if (!error) {
          try {
            this.loadDeploymentModel(row, model, true);
          } catch (err) {
            error = {
              code: 'ResourceNotReady',
              message: `User container has crashed or terminated: ${(err as Error).message}. Please see troubleshooting guide, available here: https://aka.ms/oe-tsg#error-resourcenotready`,
            };
          }
        } else this.appendLog(row.key, `Provisioning failed: ${error.code}: ${error.message}`);
        this.store.transaction(() => {
          this.store.put({
            ...row,
            body: {
              ...row.body,
              properties: { ...row.body.properties, provisioningState: error ? 'Failed' : 'Succeeded' },
            },
            // A failed update keeps serving the model that was already live, as Azure's instances do.
            internal: error ? row.internal : { ...row.internal, servingModel: model },
          });
          this.finishOp(op, error ? 'Failed' : 'Succeeded', error);
        });
        const endpoint = this.store.get(row.parent ?? '');
        if (endpoint) this.refreshEndpoint(endpoint.name);
        this.opts.log(`deployment ${row.name} ${error ? `failed: ${error.code}` : 'provisioned'}`);
        return;
      }
      case 'endpoint-delete': {
        if (row) {
          for (const dep of this.store.list('onlineDeployment', row.key)) this.predictors.delete(dep.key);
          this.store.delete(row.key);
          this.scoring.removeEndpoint(row.name);
        }
        return this.finishOp(op, 'Succeeded');
      }
      case 'deployment-delete': {
        if (row) {
          this.predictors.delete(row.key);
          this.store.delete(row.key);
          const endpoint = this.store.get(row.parent ?? '');
          if (endpoint) this.refreshEndpoint(endpoint.name);
        }
        return this.finishOp(op, 'Succeeded');
      }
      case 'job-cancel': {
        if (row && !TERMINAL_JOB.has(row.body.properties.status)) this.setJobStatus(row.name, 'Canceled');
        return this.finishOp(op, 'Succeeded');
      }
      case 'job-delete': {
        if (row) {
          this.store.delete(row.key);
          rmSync(join(this.opts.dataDir, 'jobs', row.name), { recursive: true, force: true });
        }
        return this.finishOp(op, 'Succeeded');
      }
      default:
        return this.finishOp(op, 'Succeeded');
    }
  }

  private operationUrl(
    op: OperationRow,
    kind: 'mfeOperationsStatus' | 'mfeOperationResults',
    apiVersion: string,
  ): string {
    const o = this.opts;
    return `${this.baseUrl}/subscriptions/${o.subscriptionId}/providers/${PROVIDER}/locations/${o.location}/${kind}/${op.id}?api-version=${apiVersion}`;
  }

  private lroHeaders(
    op: OperationRow,
    apiVersion: string,
    which: { asyncOperation?: boolean; location?: boolean },
  ): Record<string, string> {
    return {
      ...this.pollHint(op),
      'x-ms-async-operation-timeout': 'PT1H',
      ...(which.asyncOperation
        ? { 'Azure-AsyncOperation': this.operationUrl(op, 'mfeOperationsStatus', apiVersion) }
        : {}),
      ...(which.location ? { Location: this.operationUrl(op, 'mfeOperationResults', apiVersion) } : {}),
    };
  }

  /**
   * When to poll again: `Retry-After` in whole seconds, and `retry-after-ms` (as Azure services send for short
   * operations) for an operation due sooner than that, so a poller that honours it waits no longer than needed.
   * An operation past its due time that still runs gets no `retry-after-ms`: "now" would only invite a tight loop.
   */
  private pollHint(op: OperationRow): Record<string, string> {
    const pace = { 'Retry-After': String(this.opts.retryAfterSeconds) };
    const dueInMs = Math.ceil(op.dueAt - Date.now());
    const instant = op.dueAt === op.startedAt;
    if (dueInMs <= 0 && !instant) return pace;
    const paceMs = this.opts.retryAfterSeconds * 1000;
    const hintMs = Math.max(0, paceMs > 0 ? Math.min(paceMs, dueInMs) : dueInMs);
    return { ...pace, 'retry-after-ms': String(hintMs) };
  }

  private operationStatus(id: string): Reply {
    const op = this.store.getOperation(id);
    if (!op) throw notFound(`operation ${id}`);
    const o = this.opts;
    return {
      status: 200,
      body: {
        id: `/subscriptions/${o.subscriptionId}/providers/${PROVIDER}/locations/${o.location}/mfeOperationsStatus/${op.id}`,
        name: op.id,
        status: op.status,
        startTime: new Date(op.startedAt).toISOString(),
        ...(op.endedAt ? { endTime: new Date(op.endedAt).toISOString() } : {}),
        ...(op.error ? { error: op.error } : {}),
      },
      headers: op.status === 'InProgress' ? this.pollHint(op) : {},
    };
  }

  private operationResult(id: string, apiVersion: string): Reply {
    const op = this.store.getOperation(id);
    if (!op) throw notFound(`operation ${id}`);
    if (op.status === 'InProgress')
      return { status: 202, headers: this.lroHeaders(op, apiVersion, { location: true }) };
    if (op.status === 'Failed' || op.status === 'Canceled') {
      throw new ArmError(
        400,
        op.error?.code ?? 'OperationFailed',
        op.error?.message ?? `The operation ${op.status.toLowerCase()}.`,
      );
    }
    const row = this.store.get(op.resourceKey);
    if (row && (op.kind === 'endpoint-patch' || op.kind === 'endpoint-keys')) {
      return { status: 200, body: this.endpointBody(row, apiVersion) };
    }
    if (row && op.kind === 'deployment-patch') return { status: 200, body: this.deploymentBody(row) };
    // ARM's async contract: a finished DELETE polled through Location answers 204, anything else 200.
    return { status: op.kind.endsWith('-delete') ? 204 : 200 };
  }

  // ---- jobs ---------------------------------------------------------------------------------------------------

  private jobBody(row: ResourceRow): Json {
    return {
      id: this.id(`jobs/${row.name}`),
      name: row.name,
      type: `${PROVIDER}/workspaces/jobs`,
      properties: row.body.properties,
      systemData: this.systemData(row),
    };
  }

  private listJobs(q: URLSearchParams, url: URL): Reply {
    const view = listView(q);
    let rows = this.store.list('job', null).filter((r) => view(Boolean(r.body.properties.isArchived)));
    const jobType = q.get('jobType');
    if (jobType) rows = rows.filter((r) => r.body.properties.jobType.toLowerCase() === jobType.toLowerCase());
    const tag = q.get('tag');
    if (tag) rows = rows.filter((r) => matchesKv(r.body.properties.tags, tag));
    rows = sortRows(rows, null, 'createdtime desc');
    return {
      status: 200,
      body: this.page(
        rows.map((r) => this.jobBody(r)),
        q,
        url,
      ),
    };
  }

  private putJob(name: string, body: unknown): Reply {
    checkName(name, RESOURCE_NAME, 'id');
    const head = validate(S.jobBody, body) as Json;
    if (head.properties.jobType !== 'Command') {
      throw userError(
        `The local workspace runs Command jobs only; got jobType '${head.properties.jobType}'.`,
        'properties.jobType',
      );
    }
    const parsed = validate(S.commandJobBody, body) as Json;
    const key = `jobs/${name}`;
    const existing = this.store.get(key);
    if (existing) {
      // Jobs are immutable once submitted; only descriptive fields change.
      const p = parsed.properties;
      const props = {
        ...existing.body.properties,
        ...(p.description !== undefined ? { description: p.description } : {}),
        ...(p.displayName ? { displayName: p.displayName } : {}),
        ...(p.tags ? { tags: p.tags } : {}),
        ...(p.isArchived !== undefined ? { isArchived: p.isArchived } : {}),
        properties: { ...existing.body.properties.properties, ...(p.properties ?? {}) },
      };
      const row = this.store.put({ ...existing, body: { properties: props } }, this.caller());
      return { status: 200, body: this.jobBody(row) };
    }
    if (parsed.properties.computeId) checkComputeId(parsed.properties.computeId, this.workspaceId);
    if (parsed.properties.codeId) this.codeVersionOf(parsed.properties.codeId);
    checkJobInputs(parsed.properties.inputs);
    const outputs = jobOutputs(name, parsed.properties.outputs);
    const props = {
      description: null,
      tags: {},
      properties: {},
      displayName: name,
      experimentName: 'Default',
      isArchived: false,
      computeId: null,
      ...parsed.properties,
      outputs,
      status: 'NotStarted',
      services: {
        Studio: { jobServiceType: 'Studio', endpoint: `${this.baseUrl}/_local/jobs/${name}` },
        Tracking: { jobServiceType: 'Tracking', endpoint: `${this.baseUrl}/_local/jobs/${name}` },
      },
    };
    const row = this.store.put({ key, kind: 'job', parent: null, name, body: { properties: props } }, this.caller());
    this.scheduleJob(name);
    return { status: 201, body: this.jobBody(row) };
  }

  private cancelJob(name: string, apiVersion: string): Reply {
    const row = this.mustJob(name);
    const open = this.store.openOperationFor(row.key);
    if (open) return { status: 202, headers: this.lroHeaders(open, apiVersion, { location: true }) };
    const terminal = TERMINAL_JOB.has(row.body.properties.status);
    if (!terminal) {
      this.clearJobTimer(row.name);
      this.setJobStatus(row.name, 'CancelRequested');
    }
    const op = this.startOperation('job-cancel', row.key, terminal ? 0 : this.opts.provisioningMs / 4, {});
    return { status: 202, headers: this.lroHeaders(op, apiVersion, { location: true }) };
  }

  private deleteJob(name: string, apiVersion: string): Reply {
    const row = this.store.get(`jobs/${name}`);
    if (!row) return { status: 204 };
    const open = this.store.openOperationFor(row.key);
    if (open?.kind === 'job-delete') {
      return { status: 202, headers: this.lroHeaders(open, apiVersion, { location: true, asyncOperation: true }) };
    }
    this.clearJobTimer(row.name);
    this.cancelOpenOperations(row.key);
    const op = this.startOperation('job-delete', row.key, this.opts.provisioningMs / 4, {});
    return { status: 202, headers: this.lroHeaders(op, apiVersion, { location: true, asyncOperation: true }) };
  }

  private clearJobTimer(name: string): void {
    const t = this.jobTimers.get(name.toLowerCase());
    if (t) clearTimeout(t);
    this.jobTimers.delete(name.toLowerCase());
  }

  /** NotStarted → Running (after a fifth of jobMs) → trained and Completed/Failed (after jobMs). */
  private scheduleJob(name: string): void {
    const lname = name.toLowerCase();
    this.clearJobTimer(name);
    const runAt = this.opts.jobMs;
    const t1 = setTimeout(
      () => {
        if (this.closed) return;
        this.setJobStatus(name, 'Running');
        const t2 = setTimeout(
          () => {
            this.jobTimers.delete(lname);
            if (!this.closed) void this.runJob(name);
          },
          runAt - Math.floor(runAt / 5),
        );
        t2.unref();
        this.jobTimers.set(lname, t2);
      },
      Math.floor(runAt / 5),
    );
    t1.unref();
    this.jobTimers.set(lname, t1);
  }

  private setJobStatus(name: string, status: string, extraProps: Record<string, string> = {}): void {
    const row = this.store.get(`jobs/${name}`);
    if (!row) return;
    const props = row.body.properties;
    if (props.status === status && Object.keys(extraProps).length === 0) return;
    const updated = this.store.put({
      ...row,
      body: { properties: { ...props, status, properties: { ...(props.properties ?? {}), ...extraProps } } },
    });
    const p = updated.body.properties;
    const experimentId = stableUuid(`experiment:${p.experimentName}`);
    const data = {
      ExperimentId: experimentId,
      ExperimentName: p.experimentName,
      RunId: updated.name,
      RunType: 'azureml.scriptrun',
      RunTags: p.tags ?? {},
      RunProperties: p.properties ?? {},
    };
    const subject = `experiments/${experimentId}/runs/${updated.name}`;
    if (status === 'Running' || TERMINAL_JOB.has(status)) {
      this.events.publish('RunStatusChanged', subject, { ...data, RunStatus: status });
    }
    if (status === 'Completed') this.events.publish('RunCompleted', subject, data);
  }

  /** Trains the model a command job describes; failures become a Failed job with the reason in its properties. */
  private async runJob(name: string): Promise<void> {
    const running = () => {
      const row = this.store.get(`jobs/${name}`);
      const status = row?.body.properties.status;
      return this.closed || !row || TERMINAL_JOB.has(status) || status === 'CancelRequested' ? undefined : row;
    };
    const row = running();
    if (!row) return;
    const p = row.body.properties;
    try {
      await this.checkScript(p.command, p.codeId ?? undefined);
      const cmd = parseCommand(p.command, (p.inputs ?? {}) as Record<string, JobInputSpec | null>);
      const table = await this.readData(cmd.data);
      // Canceled, deleted or shut down while the data was read.
      if (!running()) return;
      const artifact = train(table, {
        task: cmd.task,
        target: cmd.target,
        features: cmd.features,
        testSize: cmd.testSize,
        seed: cmd.seed,
        maxSteps: cmd.maxSteps,
      });
      const dir = this.layout.jobOutput(row.name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, ARTIFACT_FILE), JSON.stringify(artifact));
      writeFileSync(join(dir, MLMODEL_FILE), formatMlmodel(mlmodelFor(artifact, ARTIFACT_FILE, row.name)));
      await this.writeOutputToDatastore(p.outputs?.model?.uri, dir);
      const props: Record<string, string> = {
        'training.task': artifact.task,
        'training.algorithm': artifact.algorithm,
        'training.target': artifact.target,
        'training.features': artifact.features.join(','),
        'training.data': cmd.data,
        'training.rows.train': String(artifact.rows.train),
        'training.rows.test': String(artifact.rows.test),
        'training.modelUri': `azureml://jobs/${row.name}/outputs/model`,
      };
      // Metrics go to the run's MLflow tracking store, as a training script's mlflow.log_metric calls put them.
      const loggedAt = Date.now();
      const metrics: MlflowMetric[] = Object.entries(artifact.metrics).map(([key, value]) => ({
        key,
        value,
        timestamp: loggedAt,
        step: 0,
      }));
      const current = this.store.get(row.key);
      if (current) this.store.put({ ...current, internal: { ...current.internal, metrics } });
      this.opts.log(`job ${row.name} completed: ${JSON.stringify(artifact.metrics)}`);
      this.setJobStatus(row.name, 'Completed', props);
    } catch (err) {
      if (!running()) return;
      const user = err instanceof TrainingError || err instanceof ArmError;
      const message = (err as Error).message;
      this.opts.log(`job ${row.name} failed: ${message}`);
      this.setJobStatus(row.name, 'Failed', {
        'error.code': user ? 'UserError' : 'SystemError',
        'error.message': message,
      });
    }
  }

  /**
   * The code version a job's `codeId` names: the ARM id of a code version of this workspace (mfe.json
   * `CommandJob.codeId`, "ARM resource ID of the code asset"; clients resolve `azureml:NAME:VERSION` first, as for
   * computeId). The specification documents only the default error response for this case and Azure's answer is not
   * published: it is refused here like the other job fields, 400 UserError naming the field, in local wording.
   */
  private codeVersionOf(codeId: string): ResourceRow {
    const prefix = `${this.workspaceId}/codes/`.toLowerCase();
    const m = codeId.toLowerCase().startsWith(prefix)
      ? /^([^/]+)\/versions\/([^/]+)$/i.exec(codeId.slice(prefix.length))
      : null;
    const row = m ? this.store.get(`codes/${m[1]}/versions/${m[2]}`) : undefined;
    if (!row || row.kind !== 'codeVersion') {
      throw userError(
        `codeId '${codeId}' is not the ARM resource id of a code version of this workspace ` +
          `(${this.workspaceId}/codes/{name}/versions/{version}).`,
        'properties.codeId',
      );
    }
    return row;
  }

  /**
   * On Azure a command job runs in a working directory holding its code snapshot (codeId) and nothing else, so a
   * `python script.py` whose script is not in the snapshot, or a job without codeId, is accepted and then fails when
   * Python cannot open the file. The local workspace trains in-process (ml.ts) and runs no Python, so it cannot run
   * the script it would download; it checks that the script is in the snapshot in Azurite and fails the job as
   * Python would when it is not.
   */
  private async checkScript(command: string, codeId: string | undefined): Promise<void> {
    const script = commandScript(command);
    if (!script) return;
    const missing = (why: string) =>
      new TrainingError(`python: can't open file '${script}': [Errno 2] No such file or directory (${why}).`);
    if (!codeId) throw missing('the job has no codeId, so its working directory holds no code');
    const code = this.codeVersionOf(codeId);
    const codeUri: string = code.body.properties.codeUri ?? '';
    const folder = this.datastoreFolderOf(codeUri);
    if (folder === undefined) throw missing(`codeUri '${codeUri}' is not in this workspace's default datastore`);
    const blob = folder ? `${folder}/${script}` : script;
    if (!(await this.storage.container(this.datastoreContainer).getBlobClient(blob).exists())) {
      throw missing(`the code snapshot ${codeUri} holds no ${script}`);
    }
  }

  /**
   * The folder of the default datastore's container a codeUri names: its blob URL, path-style as Azurite serves it
   * (`https://HOST:PORT/{account}/{container}/{path}`; any host and port, which change between starts) or as Azure
   * writes it (`https://{account}.blob.{suffix}/{container}/{path}`), or `azureml://datastores/…/paths/…`.
   */
  private datastoreFolderOf(codeUri: string): string | undefined {
    const parsed = parseUri(codeUri);
    if (parsed.kind === 'datastore') {
      return parsed.datastore.toLowerCase() === DEFAULT_DATASTORE ? parsed.path.replace(/\/+$/, '') : undefined;
    }
    let url: URL;
    try {
      url = new URL(codeUri);
    } catch {
      return undefined;
    }
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (url.hostname.toLowerCase().startsWith(`${STORAGE_ACCOUNT.toLowerCase()}.blob.`)) parts.unshift(STORAGE_ACCOUNT);
    const [account, container, ...rest] = parts;
    if (account !== STORAGE_ACCOUNT || container !== this.datastoreContainer) return undefined;
    return rest.join('/');
  }

  /** Reads a table from a data URI: data asset references are followed to their dataUri. */
  async readData(uri: string, depth = 0): Promise<Table> {
    const parsed = parseUri(uri);
    switch (parsed.kind) {
      case 'dataAsset': {
        if (depth > 2) throw new TrainingError(`Data reference '${uri}' does not resolve to a file.`);
        let version = parsed.version;
        if (version === 'latest') {
          const versions = this.store.list('dataVersion', `data/${parsed.name}`);
          const latest = versions.reduce<ResourceRow | undefined>(
            (a, v) => (!a || v.createdAt >= a.createdAt ? v : a),
            undefined,
          );
          if (!latest) throw new TrainingError(`Data asset '${parsed.name}' has no versions.`);
          version = latest.name;
        }
        const row = this.store.get(`data/${parsed.name}/versions/${version}`);
        if (!row) throw new TrainingError(`Data asset '${parsed.name}:${version}' was not found.`);
        return this.readData(row.body.properties.dataUri, depth + 1);
      }
      case 'datastore':
        return this.readDatastore(parsed.datastore, parsed.path, uri);
      case 'file':
        return readTableAt(parsed.path, uri);
      case 'jobOutput':
        return readTableAt(this.layout.jobOutput(parsed.job, parsed.output), uri);
      case 'modelAsset':
        throw new TrainingError(`'${uri}' is a model, not data.`);
      case 'remote':
        throw new TrainingError(
          `Cannot read '${uri}': the local workspace reads data assets, azureml://datastores/... paths and local files only.`,
        );
    }
  }

  /**
   * A datastore path is a blob (uri_file) or a folder of blobs (uri_folder); a folder's CSV/JSON files are read
   * in name order as one table, each with the same columns.
   */
  private async readDatastore(datastore: string, path: string, uri: string): Promise<Table> {
    if (datastore.toLowerCase() !== DEFAULT_DATASTORE) {
      throw new TrainingError(
        `Datastore '${datastore}' of '${uri}' does not exist; the workspace has '${DEFAULT_DATASTORE}'.`,
      );
    }
    const container = this.storage.container(this.datastoreContainer);
    const file = container.getBlobClient(path);
    const parts: { name: string; text: string }[] = [];
    if (path && (await file.exists())) {
      parts.push({ name: path, text: (await file.downloadToBuffer()).toString('utf8') });
    } else {
      const prefix = path === '' || path.endsWith('/') ? path : `${path}/`;
      for await (const blob of container.listBlobsFlat({ prefix })) {
        if (!/\.(csv|json)$/i.test(blob.name)) continue;
        const text = (await container.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
        parts.push({ name: blob.name, text });
      }
      if (parts.length === 0) throw new TrainingError(`Data not found at '${uri}'.`);
    }
    try {
      return concatTables(parts.map((part) => ({ source: part.name, table: tableFromText(part.text, part.name) })));
    } catch (err) {
      throw new TrainingError(`Cannot read '${uri}': ${(err as Error).message}`);
    }
  }

  // ---- admin helpers ------------------------------------------------------------------------------------------

  /**
   * Uploads files as a code snapshot below `LocalUpload/{version}/{name}` of the default datastore (where `az ml` puts
   * code) and registers them as a code version whose codeUri is that folder's blob URL; an existing version is kept.
   */
  async createCodeAsset(args: { name: string; version: string; files: Record<string, string> }): Promise<Json> {
    checkName(args.name, RESOURCE_NAME, 'name');
    checkName(args.version, VERSION, 'version');
    const existing = this.store.get(`codes/${args.name}/versions/${args.version}`);
    if (existing?.kind === 'codeVersion') return this.versionBody(ASSETS.codes!, existing);
    const folder = `LocalUpload/${args.version}/${args.name}`;
    const container = this.storage.container(this.datastoreContainer);
    for (const [path, text] of Object.entries(args.files)) {
      await container.getBlockBlobClient(`${folder}/${path}`).upload(text, Buffer.byteLength(text));
    }
    await this.storage.flush();
    const body = { properties: { codeUri: `${container.url}/${folder}` } };
    return this.putVersion(ASSETS.codes!, args.name, args.version, body, undefined).body as Json;
  }

  /** Uploads rows as CSV to the default datastore and registers them as a uri_file data asset version. */
  async createDataAsset(args: {
    name: string;
    version?: string;
    table: Table;
    description?: string;
    tags?: Record<string, string>;
    properties?: Record<string, string>;
  }): Promise<Json> {
    checkName(args.name, RESOURCE_NAME, 'name');
    const versions = this.store.list('dataVersion', `data/${args.name}`).map((v) => v.name);
    const version = args.version ?? nextVersion(versions);
    checkName(version, VERSION, 'version');
    if (versions.some((v) => v.toLowerCase() === version.toLowerCase())) {
      throw new ArmError(409, 'Conflict', `Data asset '${args.name}' already has version '${version}'.`, 'version');
    }
    const rel = `local-data/${args.name}/${version}/data.csv`;
    const csv = toCsv(args.table.columns, args.table.rows);
    await this.storage.container(this.datastoreContainer).getBlockBlobClient(rel).upload(csv, Buffer.byteLength(csv));
    await this.storage.flush();
    const reply = this.putVersion(
      ASSETS.data!,
      args.name,
      version,
      {
        properties: {
          dataType: 'uri_file',
          dataUri: `azureml://datastores/${DEFAULT_DATASTORE}/paths/${rel}`,
          description: args.description ?? null,
          tags: args.tags ?? {},
          properties: {
            rows: String(args.table.rows.length),
            columns: args.table.columns.join(','),
            ...(args.properties ?? {}),
          },
        },
      },
      undefined,
    );
    return reply.body as Json;
  }

  async generateData(
    args: GenerateOptions & { name: string; version?: string; description?: string; tags?: Record<string, string> },
  ): Promise<Json> {
    const { name, version, description, tags, ...gen } = args;
    const ds = generateDataset(gen);
    return this.createDataAsset({
      name,
      version,
      description,
      tags,
      table: ds,
      properties: {
        'generator.seed': String(gen.seed ?? 1),
        'generator.drift': String(gen.drift ?? 0),
        'generator.quality': String(gen.quality ?? 1),
        'generator.task': gen.task ?? 'regression',
        'generator.target': ds.target,
      },
    });
  }

  /** Model monitoring v2: a breach is RunStatusChanged whose run tags carry azureml_modelmonitor_threshold_breached. */
  emitMonitorSignal(kind: 'breach' | 'recovery', s: MonitorSignal = {}): EventGridEvent {
    const monitor = s.monitorName ?? 'champion-monitor';
    const runId = `${monitor}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const experimentName = `azureml-monitor-${monitor}`;
    const experimentId = stableUuid(`experiment:${experimentName}`);
    const tags: Record<string, string> = {
      azureml_modelmonitor_name: monitor,
      azureml_modelmonitor_signal: s.signal ?? 'data-drift',
      ...(s.endpoint ? { azureml_modelmonitor_endpoint: s.endpoint } : {}),
      ...(s.deployment ? { azureml_modelmonitor_deployment: s.deployment } : {}),
    };
    if (kind === 'breach') {
      const detail =
        s.metric !== undefined
          ? ` Metric ${s.metric} = ${s.value ?? 'n/a'} violates threshold ${s.threshold ?? 'n/a'}.`
          : '';
      tags.azureml_modelmonitor_threshold_breached = `Signal ${s.signal ?? 'data-drift'} of monitor ${monitor} has failed due to one or more features violating metric thresholds.${detail}`;
    }
    return this.events.publish('RunStatusChanged', `experiments/${experimentId}/runs/${runId}`, {
      ExperimentId: experimentId,
      ExperimentName: experimentName,
      RunId: runId,
      RunType: 'azureml.modelmonitor',
      RunTags: tags,
      RunProperties: {
        ...(s.metric !== undefined ? { metric: s.metric } : {}),
        ...(s.value !== undefined ? { value: String(s.value) } : {}),
        ...(s.threshold !== undefined ? { threshold: String(s.threshold) } : {}),
      },
      RunStatus: kind === 'breach' ? 'Failed' : 'Completed',
    });
  }

  /** The retired v1 dataset monitor event, for subscribers that still handle it. */
  emitDatasetDrift(
    args: { driftName?: string; baseDatasetId?: string; targetDatasetId?: string; driftCoefficient?: number } = {},
  ): EventGridEvent {
    const driftName = args.driftName ?? 'champion-drift';
    const runId = `${driftName}_${Date.now()}`;
    const end = new Date();
    const start = new Date(end.getTime() - 24 * 3600_000);
    return this.events.publish('DatasetDriftDetected', `datadrift/${stableUuid(driftName)}/run/${runId}`, {
      DataDriftId: stableUuid(driftName),
      DataDriftName: driftName,
      RunId: runId,
      BaseDatasetId: args.baseDatasetId ?? stableUuid('base'),
      TargetDatasetId: args.targetDatasetId ?? stableUuid('target'),
      DriftCoefficient: args.driftCoefficient ?? 0.83,
      StartTime: start.toISOString(),
      EndTime: end.toISOString(),
    });
  }
}

// ---- small helpers ----------------------------------------------------------------------------------------------

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function methodNotAllowed(method: string): ArmError {
  return new ArmError(405, 'MethodNotAllowed', `The method '${method}' is not supported on this resource.`);
}

function checkName(value: string, pattern: RegExp, field: string, rule?: string): void {
  if (!pattern.test(value)) {
    throw userError(`Invalid ${field} '${value}'${rule ? `: ${rule}` : ` (must match ${pattern.source})`}.`, field);
  }
}

export function stableUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function newKey(): string {
  return randomBytes(24).toString('base64url');
}

function nextVersion(versions: string[]): string {
  const nums = versions.filter((v) => /^\d+$/.test(v)).map(Number);
  return String(nums.length ? Math.max(...nums) + 1 : 1);
}

/**
 * A deployment without a scoring script and an environment works only for MLflow models ("Guidelines for deploying
 * MLflow models"). Azure answers a custom model's deployment without a scoring script 400 BadRequest with the detail
 * MissingDriverProgram (Azure/azure-cli-extensions#5583, Azure/azure-sdk-for-python#35387).
 */
function assertDeployable(
  modelType: unknown,
  properties: { codeConfiguration?: unknown; environmentId?: unknown },
): void {
  if (isMlflowModelType(modelType)) return;
  if (!properties.codeConfiguration) {
    throw new ArmError(400, 'BadRequest', 'The request is invalid.', undefined, {}, [
      { code: 'MissingDriverProgram', message: 'Could not find driver program in the request.' },
    ]);
  }
  if (!properties.environmentId) {
    throw new ArmError(400, 'BadRequest', 'The request is invalid.', 'properties.environmentId', {}, [
      {
        code: 'UserError',
        message: `A ${String(modelType ?? 'custom')} model runs its scoring script in an environment: set properties.environmentId.`,
      },
    ]);
  }
}

/** A folder holding a model: an MLflow model (MLmodel) or a model.json. */
function isModelFolder(dir: string): boolean {
  return existsSync(join(dir, MLMODEL_FILE)) || existsSync(join(dir, ARTIFACT_FILE));
}

function splitModel(model: string): [string, string] {
  const i = model.lastIndexOf(':');
  return [model.slice(0, i), model.slice(i + 1)];
}

function listView(q: URLSearchParams): (archived: boolean) => boolean {
  const v = (q.get('listViewType') ?? 'ActiveOnly').toLowerCase();
  if (v === 'all') return () => true;
  if (v === 'archivedonly') return (a) => a;
  if (v === 'activeonly') return (a) => !a;
  throw userError(
    `Invalid listViewType '${q.get('listViewType')}': expected ActiveOnly, ArchivedOnly or All.`,
    'listViewType',
  );
}

/** `tag1,tag2=value2`: every listed key present (and equal when a value is given). */
function matchesKv(dict: Record<string, string | null> | undefined | null, filter: string): boolean {
  const d = dict ?? {};
  return filter
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .every((p) => {
      const eq = p.indexOf('=');
      if (eq < 0) return p in d;
      return d[p.slice(0, eq)] === p.slice(eq + 1);
    });
}

const ORDERS: Record<string, (a: ResourceRow, b: ResourceRow) => number> = {
  createdtime: (a, b) => a.createdAt - b.createdAt || a.seq - b.seq,
  createdat: (a, b) => a.createdAt - b.createdAt || a.seq - b.seq,
  modifiedtime: (a, b) => a.updatedAt - b.updatedAt || a.seq - b.seq,
  updatedat: (a, b) => a.updatedAt - b.updatedAt || a.seq - b.seq,
  version: (a, b) => compareVersions(a.name, b.name) || a.seq - b.seq,
  name: (a, b) => a.name.localeCompare(b.name) || a.seq - b.seq,
};

/** Accepts `createdtime desc`, `version asc`, `CreatedAtDesc`-style enums and `properties.X desc`-less forms. */
function sortRows(rows: ResourceRow[], orderBy: string | null, fallback: string): ResourceRow[] {
  const raw = (orderBy ?? fallback).trim();
  const m = /^([a-z_.]+?)\s*(asc|desc)?$/i.exec(raw.replace(/\s+/g, ' '));
  const field = m?.[1]?.toLowerCase();
  const cmp = field ? ORDERS[field] : undefined;
  if (!m || !cmp) {
    throw userError(
      `Unsupported order '${raw}': use createdtime|modifiedtime|version|name followed by asc or desc (or CreatedAtDesc/CreatedAtAsc/UpdatedAtDesc/UpdatedAtAsc).`,
      '$orderBy',
    );
  }
  const desc = (m[2] ?? 'asc').toLowerCase() === 'desc';
  return [...rows].sort((a, b) => (desc ? -cmp(a, b) : cmp(a, b)));
}

function compareVersions(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a.localeCompare(b, undefined, { numeric: true });
}

function canonicalTraffic(
  _endpoint: string,
  traffic: Record<string, number>,
  nameOf: (d: string) => string | undefined,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [d, w] of Object.entries(traffic)) out[nameOf(d) ?? d] = w;
  return out;
}

function withPrincipal(identity: Json | undefined): Json {
  const id = identity ?? { type: 'SystemAssigned' };
  if (!String(id.type).includes('SystemAssigned')) return id;
  return { principalId: stableUuid('principal'), tenantId: stableUuid('tenant'), ...id };
}

function passthrough(body: Json, known: string[]): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(body)) if (!known.includes(k)) out[k] = v;
  return out;
}

function stripNulls(o: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

function defaultProbe(): Json {
  return { failureThreshold: 30, successThreshold: 1, timeout: 'PT2S', period: 'PT10S', initialDelay: 'PT10S' };
}

function skuBody(): Json {
  return {
    resourceType: `${PROVIDER}/workspaces/onlineEndpoints/deployments`,
    sku: { name: 'Default', tier: 'Standard' },
    capacity: { minimum: 1, maximum: 20, default: 1, scaleType: 'Automatic' },
  };
}

function readTableAt(path: string, uri: string): Table {
  if (!existsSync(path)) throw new TrainingError(`Data not found at '${uri}'.`);
  let file = path;
  if (statSync(path).isDirectory()) {
    const candidates = readdirSync(path)
      .filter((f) => /\.(csv|json)$/i.test(f))
      .sort();
    if (candidates.length === 0) throw new TrainingError(`Folder '${uri}' holds no .csv or .json file.`);
    file = join(path, candidates[0]!);
  }
  try {
    return readTable(file);
  } catch (err) {
    throw new TrainingError(`Cannot read '${uri}': ${(err as Error).message}`);
  }
}
