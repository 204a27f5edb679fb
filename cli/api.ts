/**
 * A small typed client for the app's HTTP API (functions/http.ts). Every method resolves with the parsed JSON
 * body or throws: `ApiError` when the app answered 4xx/5xx (or something that is not JSON), `UnreachableError` when
 * it could not be reached at all.
 */
import type { PromotionDryRun, RetrainingPlan } from '../lib/dry-run';
import type { RetrainingDecision } from '../lib/domain/retraining-guard';
import type {
  ApprovalDecision,
  PromotionResult,
  PromotionStatus,
  RetrainingResult,
  RetrainingStatus,
  RetrainingTriggerInfo,
  RollbackResult,
  RollbackStatus,
} from '../orchestrations/contract';
import type { Registrant } from '../lib/domain/people';
import type { ProductionInterval } from '../lib/domain/history';
import type { ScopedHistory } from '../lib/history';
import type { FreezeView } from '../lib/freezes';
import type { CliIo } from './io';

export const DEFAULT_URL = 'http://127.0.0.1:7071';
export const DEFAULT_TIMEOUT_MS = 30_000;

/** The app answered with an error status; `message` is its `error` field when it sent one. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    /** The parsed response body, when it was JSON (a 409 on start carries the existing promotion's `id`). */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** No HTTP answer at all: the connection was refused or broke, or the app did not answer in time. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
  constructor(
    readonly baseUrl: string,
    readonly reason: 'unreachable' | 'timeout',
    /** The network error code when there is one (ECONNREFUSED, ENOTFOUND, ECONNRESET…). */
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(
      reason === 'timeout'
        ? `Champion at ${baseUrl} did not answer in time.`
        : `Cannot reach Champion at ${baseUrl}: is it running? (npm start)`,
      options,
    );
  }
}

/** One promotion as the API lists it: the orchestration's state plus its custom status and output. */
export interface PromotionSummary {
  id: string;
  /** 1 for the version's first promotion, then one more for each retry (absent from apps without retries). */
  attempt?: number;
  /** The attempt this one tries again. */
  retryOf?: string;
  /** Who registered the version, as the registry recorded it. */
  registrant?: Registrant;
  runtimeStatus: string;
  createdTime: string;
  lastUpdatedTime: string;
  /** Absent (or null) until the orchestration first reports. */
  status?: PromotionStatus | null;
  /** Absent (or null) until the promotion finishes. */
  result?: PromotionResult | null;
}

/** One promotion with every attempt of its model version, as `GET /api/promotions/{id}` answers. */
export interface PromotionDetails extends PromotionSummary {
  attempts?: { id: string; attempt: number; runtimeStatus: string; outcome: string | null }[];
}

export interface StartPromotionRequest {
  modelName: string;
  modelVersion: string;
}

export interface StartedPromotion {
  id: string;
  attempt: number;
  statusUrl: string;
}

export interface RetriedPromotion extends StartedPromotion {
  retryOf: string;
  /** Across environments: where it serves already, promoted by an earlier attempt; the retry does nothing there. */
  carried?: { environment: string; promotionId: string }[];
}

export interface DecisionRequest {
  decision: ApprovalDecision['decision'];
  /** Off Azure, who decides (default: the app's local user); on Azure the signed-in identity decides. */
  approver?: string;
  comment?: string;
  /** A signed approval-link token; sent in the body, never in the URL (where it would be logged). */
  token?: string;
  /** The digest of the evidence decided on (getDecisionEvidence): refused (409) when the evidence changed since. */
  evidenceDigest?: string;
}

export interface ModelVersionView {
  version: string;
  /** The `stage` tag; null when the version has none. */
  stage: string | null;
  tags: Record<string, string>;
  properties: Record<string, string>;
}

export interface ModelView {
  name: string;
  versions: ModelVersionView[];
}

export interface DeploymentView {
  name: string;
  /** "name:version" of the model it serves, when known. */
  model: string | null;
  provisioningState: string;
  /** Percent of the endpoint's live traffic. */
  traffic: number;
  tags: Record<string, string>;
}

export interface EndpointDetails {
  name: string;
  provisioningState: string;
  traffic: Record<string, number>;
  mirrorTraffic: Record<string, number>;
  tags: Record<string, string>;
  deployments: DeploymentView[];
}

export interface Health {
  status: string;
  models: string[];
  gitCommit: string | null;
}

/** One retraining run (`retrain:{model}:{n}`), as `GET /api/retrainings` lists it. */
export interface RetrainingRunView {
  kind: 'run';
  id: string;
  modelName?: string;
  runtimeStatus: string;
  createdTime: string;
  lastUpdatedTime: string;
  trigger?: RetrainingTriggerInfo;
  status?: RetrainingStatus | null;
  result?: RetrainingResult | null;
}

/** One signal (drift, schedule, a person) and what the model's guard decided about it. */
export interface RetrainingSignalView {
  kind: 'trigger';
  id: string;
  modelName?: string;
  runtimeStatus: string;
  createdTime: string;
  source?: RetrainingTriggerInfo['source'];
  note?: string;
  /** Absent until the guard has answered. */
  decision?: RetrainingDecision;
  /** The run it started, or the one that made it skip. */
  runId?: string;
  runOutcome?: string;
}

export interface RetrainingList {
  runs: RetrainingRunView[];
  triggers: RetrainingSignalView[];
}

export interface StartRetrainingRequest {
  modelName: string;
  reason: string;
  requestedBy?: string;
}

/** The signal started; `decision` and `runId` once the guard answered (it usually has). */
export interface StartedRetraining {
  id: string;
  decision?: RetrainingDecision;
  runId?: string;
  statusUrl: string;
}

export interface RollbackView {
  id: string;
  runtimeStatus: string;
  status?: RollbackStatus | null;
  result?: RollbackResult | null;
}

/** What was in production at one instant (`GET /api/models/{name}/history?at=…`). */
export interface ProductionAt {
  modelName: string;
  /** The environment asked about, for a policy with environments. */
  environment?: string;
  at: string;
  production: ProductionInterval | null;
}

export interface ChampionApi {
  readonly baseUrl: string;
  listPromotions(filter?: { model?: string }): Promise<PromotionSummary[]>;
  getPromotion(id: string): Promise<PromotionDetails>;
  startPromotion(request: StartPromotionRequest): Promise<StartedPromotion>;
  /** A new attempt of a promotion that failed, timed out or was stopped (409 for one running or finished well). */
  retryPromotion(id: string): Promise<RetriedPromotion>;
  /** Asks for the previous production version back (`by`: off Azure, who asks). */
  rollback(
    model: string,
    request: { reason: string; by?: string; environment?: string },
  ): Promise<{ id: string; statusUrl: string }>;
  getRollback(id: string): Promise<RollbackView>;
  /** Freezes a model's releases (`until`: ISO 8601 with a zone; absent: until lifted), or lifts that freeze. */
  freeze(model: string, request: { reason: string; until?: string; by?: string }): Promise<FreezeView>;
  unfreeze(model: string, request: { reason: string; by?: string }): Promise<FreezeView & { woke: string[] }>;
  getFreeze(model: string): Promise<FreezeView>;
  /** Pause, resume, promote-now or abort a promotion's rollout; `taken` once the rollout recorded it. */
  controlRollout(
    id: string,
    action: string,
    request: { reason: string; by?: string },
  ): Promise<{ accepted: boolean; taken: boolean; action: string; by: string; authenticated: boolean }>;
  /**
   * Always sent with `via: 'cli'`. Resolves once the promotion took it (202), or with `pending` when it had not
   * handled it yet; a decision that lost to another one is refused (409).
   */
  /** `approver`: who the app recorded as deciding. */
  decide(id: string, request: DecisionRequest): Promise<{ accepted: boolean; pending?: boolean; approver?: string }>;
  /** The digest of the evidence a decision would be taken on now (404 when it waits for none). */
  getDecisionEvidence(id: string): Promise<{ id: string; evidenceDigest: string }>;
  getModel(name: string): Promise<ModelView>;
  getEndpoint(name: string): Promise<EndpointDetails>;
  health(): Promise<Health>;
  listRetrainings(filter?: { model?: string }): Promise<RetrainingList>;
  /** A run (`retrain:…`) or a signal, by its id. */
  getRetraining(id: string): Promise<RetrainingRunView | RetrainingSignalView>;
  /** Asks the model's guard for a run; a skip (cooldown, one already running) is refused (409) with its reason. */
  startRetraining(request: StartRetrainingRequest): Promise<StartedRetraining>;
  /**
   * The model's production intervals, oldest first; for a policy with environments, the one named (default: the
   * first) with every environment's beside it.
   */
  getHistory(model: string, environment?: string): Promise<ScopedHistory>;
  getProductionAt(model: string, at: string, environment?: string): Promise<ProductionAt>;
  /** The same as CSV (RFC 4180, with a header); with `at`, the one row in production then. */
  getHistoryCsv(model: string, at?: string, environment?: string): Promise<string>;
  /** What a start of this version would do, changing nothing (`dryRun: true`); 404 for an unknown model or version. */
  dryRunPromotion(request: StartPromotionRequest): Promise<PromotionDryRun>;
  /** What a retraining run would do now, changing nothing (`dryRun: true`). */
  dryRunRetraining(request: StartRetrainingRequest): Promise<RetrainingPlan>;
}

/** Trims trailing slashes: "http://host:7071/" → "http://host:7071". */
export function normalizeBaseUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '');
}

function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: unknown } | undefined)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

function errorMessage(body: unknown, response: Response): string {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error === 'string' && error.trim()) return error;
  return `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
}

/**
 * `options.functionKey` (from CHAMPION_FUNCTION_KEY) is sent as `x-functions-key`, which Azure Functions requires
 * on the API routes; the local host, like Core Tools, does not check it.
 */
export function api(
  baseUrl: string,
  io: Pick<CliIo, 'fetch'>,
  options: { timeoutMs?: number; functionKey?: string } = {},
): ChampionApi {
  const base = normalizeBaseUrl(baseUrl);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const enc = encodeURIComponent;

  async function send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    accept: string,
  ): Promise<{ response: Response; text: string }> {
    try {
      const response = await io.fetch(`${base}${path}`, {
        method,
        headers: {
          ...(body === undefined ? { accept } : { 'content-type': 'application/json' }),
          ...(options.functionKey ? { 'x-functions-key': options.functionKey } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { response, text: await response.text() };
    } catch (err) {
      throw new UnreachableError(base, isTimeout(err) ? 'timeout' : 'unreachable', networkCode(err), { cause: err });
    }
  }

  /** A text body (CSV); an error status is reported from its JSON `error` as for any other call. */
  async function requestText(path: string, accept: string): Promise<string> {
    const { response, text } = await send('GET', path, undefined, accept);
    if (response.ok) return text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: the status says it.
    }
    throw new ApiError(response.status, errorMessage(parsed, response), parsed);
  }

  async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const { response, text } = await send(method, path, body, 'application/json');
    let parsed: unknown;
    let isJson = false;
    if (text.trim()) {
      try {
        parsed = JSON.parse(text);
        isJson = true;
      } catch {
        // Not JSON: reported below.
      }
    }
    if (!response.ok) throw new ApiError(response.status, errorMessage(parsed, response), parsed);
    if (!isJson) {
      throw new ApiError(response.status, `${method} ${path} answered ${response.status} without a JSON body.`);
    }
    return parsed as T;
  }

  return {
    baseUrl: base,
    listPromotions: (filter = {}) =>
      request('GET', `/api/promotions${filter.model ? `?model=${enc(filter.model)}` : ''}`),
    getPromotion: (id) => request('GET', `/api/promotions/${enc(id)}`),
    startPromotion: (req) => request('POST', '/api/promotions', req),
    retryPromotion: (id) => request('POST', `/api/promotions/${enc(id)}/retry`),
    decide: (id, decision) =>
      decision.token
        ? request('POST', `/api/promotions/${enc(id)}/decision`, { ...decision, via: 'cli' })
        : request('POST', `/api/promotions/${enc(id)}/decisions`, { ...decision, via: 'cli' }),
    getDecisionEvidence: (id) => request('GET', `/api/promotions/${enc(id)}/evidence`),
    rollback: (model, req) => request('POST', `/api/models/${enc(model)}/rollback`, req),
    getRollback: (id) => request('GET', `/api/rollbacks/${enc(id)}`),
    freeze: (model, req) => request('POST', `/api/models/${enc(model)}/freeze`, req),
    unfreeze: (model, req) => request('POST', `/api/models/${enc(model)}/unfreeze`, req),
    getFreeze: (model) => request('GET', `/api/models/${enc(model)}/freeze`),
    controlRollout: (id, action, req) =>
      request('POST', `/api/promotions/${enc(id)}/rollout/${enc(action)}`, { ...req, via: 'cli' }),
    getModel: (name) => request('GET', `/api/models/${enc(name)}`),
    getEndpoint: (name) => request('GET', `/api/endpoints/${enc(name)}`),
    health: () => request('GET', '/api/health'),
    listRetrainings: (filter = {}) =>
      request('GET', `/api/retrainings${filter.model ? `?model=${enc(filter.model)}` : ''}`),
    getRetraining: (id) => request('GET', `/api/retrainings/${enc(id)}`),
    startRetraining: (req) => request('POST', '/api/retrainings', req),
    getHistory: (model, environment) =>
      request(
        'GET',
        `/api/models/${enc(model)}/history${environment !== undefined ? `?environment=${enc(environment)}` : ''}`,
      ),
    getProductionAt: (model, at, environment) =>
      request(
        'GET',
        `/api/models/${enc(model)}/history?at=${enc(at)}${environment !== undefined ? `&environment=${enc(environment)}` : ''}`,
      ),
    getHistoryCsv: (model, at, environment) =>
      requestText(
        `/api/models/${enc(model)}/history?format=csv${at ? `&at=${enc(at)}` : ''}${environment !== undefined ? `&environment=${enc(environment)}` : ''}`,
        'text/csv',
      ),
    dryRunPromotion: (req) => request('POST', '/api/promotions', { ...req, dryRun: true }),
    dryRunRetraining: (req) => request('POST', '/api/retrainings', { ...req, dryRun: true }),
  };
}
