import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Fault, Faults, ScoringFault } from './faults';
import { MinuteMetrics } from './metrics';
import type { Predictor } from './ml';
import type { Store } from './store';

export const SCORING_PREFIX = '/endpoints/';

/** What the data plane needs to know about one endpoint; rebuilt whenever ARM state changes. */
export interface EndpointDef {
  name: string;
  authMode: string;
  keys: string[];
  traffic: Record<string, number>;
  mirrorTraffic: Record<string, number>;
  deployments: {
    name: string;
    model?: string;
    predictor: Predictor | null;
    /** Requests it takes at once: 2 × maxConcurrentRequestsPerInstance × instances. */
    allowance: number;
  }[];
}

export interface DeploymentStats {
  endpoint: string;
  deployment: string;
  /** Live requests answered by this deployment (routed or targeted by header). */
  requests: number;
  /** Live requests answered with a 5xx (model failure or injected fault). */
  errors: number;
  /** Live requests rejected as bad input (4xx from the model). */
  clientErrors: number;
  errorRate: number;
  /** Copies received through mirror traffic; their responses are discarded. */
  mirroredRequests: number;
  mirroredErrors: number;
  latencyMs: { avg: number; p50: number; p95: number; p99: number; max: number };
  lastRequestAt: string | null;
}

// Upper bounds (ms) of the latency histogram buckets; percentiles report the bucket bound.
const BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000];

class Counter {
  requests = 0;
  errors = 0;
  clientErrors = 0;
  mirrored = 0;
  mirroredErrors = 0;
  latencySum = 0;
  latencyMax = 0;
  lastAt = 0;
  hist = new Array<number>(BUCKETS.length + 1).fill(0);
  dirty = false;

  record(ms: number, status: number, mirrored: boolean): void {
    if (mirrored) {
      this.mirrored++;
      if (status >= 500) this.mirroredErrors++;
    } else {
      this.requests++;
      if (status >= 500) this.errors++;
      else if (status >= 400) this.clientErrors++;
      this.latencySum += ms;
      if (ms > this.latencyMax) this.latencyMax = ms;
      let i = 0;
      while (i < BUCKETS.length && ms > BUCKETS[i]!) i++;
      this.hist[i]!++;
    }
    this.lastAt = Date.now();
    this.dirty = true;
  }

  percentile(p: number): number {
    const total = this.hist.reduce((s, v) => s + v, 0);
    if (total === 0) return 0;
    const rank = Math.ceil(p * total);
    let seen = 0;
    for (let i = 0; i < this.hist.length; i++) {
      seen += this.hist[i]!;
      if (seen >= rank) return i < BUCKETS.length ? BUCKETS[i]! : Math.round(this.latencyMax);
    }
    return Math.round(this.latencyMax);
  }

  toJSON(): Record<string, unknown> {
    const { dirty: _dirty, ...rest } = this;
    return rest;
  }

  static from(v: Record<string, unknown>): Counter {
    const c = new Counter();
    Object.assign(c, v);
    if (!Array.isArray(c.hist) || c.hist.length !== BUCKETS.length + 1) c.hist = new Array(BUCKETS.length + 1).fill(0);
    c.dirty = false;
    return c;
  }
}

interface DeploymentRuntime {
  name: string;
  header: string;
  model?: string;
  predictor: Predictor | null;
  faults: (Fault & ScoringFault)[];
  counter: Counter;
  allowance: number;
  /** Requests received and not yet answered (kept across routing rebuilds). */
  load: { inFlight: number };
}

interface EndpointRuntime {
  name: string;
  authMode: string;
  auth: Set<string>;
  deployments: Map<string, DeploymentRuntime>;
  /** Smooth weighted round-robin state (nginx's algorithm): exact proportions, deterministic. */
  wrr: { dep: DeploymentRuntime; weight: number; current: number }[];
  wrrTotal: number;
  mirror: { dep: DeploymentRuntime; percent: number } | null;
  mirrorAcc: number;
}

class ScoringError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The online endpoints' data plane: `POST /endpoints/{name}/score`. Kept lean because it is the benchmarked hot
 * path: routing tables live in memory and stats are counters flushed to SQLite on a timer, never per request.
 */
export class ScoringPlane {
  private readonly endpoints = new Map<string, EndpointRuntime>();
  private readonly counters = new Map<string, Counter>();
  private readonly tokens = new Map<string, { endpoint: string; expiresAt: number }>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly defs = new Map<string, EndpointDef>();
  /** Per-minute platform metrics (Azure Monitor's view of the same requests); unlike the counters, never reset. */
  readonly metrics: MinuteMetrics;

  constructor(
    private readonly store: Store,
    private readonly faults: Faults,
    private readonly armToken: () => string,
    flushMs: number,
  ) {
    this.metrics = new MinuteMetrics(store);
    for (const row of store.loadStats())
      this.counters.set(statKey(row.endpoint, row.deployment), Counter.from(row.stats));
    for (const t of store.tokens())
      this.tokens.set(t.token, { endpoint: t.endpoint.toLowerCase(), expiresAt: t.expiresAt });
    this.flushTimer = setInterval(() => this.flush(), flushMs);
    this.flushTimer.unref();
    faults.onChange = () => {
      for (const def of this.defs.values()) this.setEndpoint(def);
    };
  }

  close(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    this.flush();
  }

  flush(): void {
    const rows: { endpoint: string; deployment: string; stats: unknown }[] = [];
    for (const [key, c] of this.counters) {
      if (!c.dirty) continue;
      const [endpoint, deployment] = key.split('/') as [string, string];
      rows.push({ endpoint, deployment, stats: c.toJSON() });
      c.dirty = false;
    }
    if (rows.length > 0) this.store.saveStats(rows);
    this.metrics.flush();
  }

  addToken(token: string, endpoint: string, expiresAt: number): void {
    this.tokens.set(token, { endpoint: endpoint.toLowerCase(), expiresAt });
    const def = this.defs.get(endpoint.toLowerCase());
    if (def) this.setEndpoint(def);
  }

  removeEndpoint(name: string): void {
    this.endpoints.delete(name.toLowerCase());
    this.defs.delete(name.toLowerCase());
  }

  setEndpoint(def: EndpointDef): void {
    const lname = def.name.toLowerCase();
    this.defs.set(lname, def);
    const old = this.endpoints.get(lname);
    const deployments = new Map<string, DeploymentRuntime>();
    for (const d of def.deployments) {
      deployments.set(d.name.toLowerCase(), {
        name: d.name,
        header: d.name,
        model: d.model,
        predictor: d.predictor,
        faults: this.faults.scoringFor(def.name, d.name, d.model),
        counter: this.counter(def.name, d.name),
        allowance: d.allowance,
        load: old?.deployments.get(d.name.toLowerCase())?.load ?? { inFlight: 0 },
      });
    }
    const auth = new Set<string>();
    if (def.authMode === 'Key') for (const k of def.keys) auth.add(`Bearer ${k}`);
    else if (def.authMode === 'AMLToken') {
      for (const [t, v] of this.tokens) if (v.endpoint === lname && v.expiresAt > Date.now()) auth.add(`Bearer ${t}`);
    } else auth.add(`Bearer ${this.armToken()}`);
    const wrr = Object.entries(def.traffic)
      .filter(([, w]) => w > 0)
      .map(([n, weight]) => ({ dep: deployments.get(n.toLowerCase()), weight, current: 0 }))
      .filter((e): e is { dep: DeploymentRuntime; weight: number; current: number } => e.dep !== undefined);
    // Keep the round-robin position across rebuilds when the split is unchanged.
    const sameSplit =
      old &&
      old.wrr.length === wrr.length &&
      old.wrr.every((e, i) => e.dep.name === wrr[i]!.dep.name && e.weight === wrr[i]!.weight);
    if (sameSplit) wrr.forEach((e, i) => (e.current = old.wrr[i]!.current));
    const mirrorEntry = Object.entries(def.mirrorTraffic).find(([, p]) => p > 0);
    const mirrorDep = mirrorEntry ? deployments.get(mirrorEntry[0].toLowerCase()) : undefined;
    this.endpoints.set(lname, {
      name: def.name,
      authMode: def.authMode,
      auth,
      deployments,
      wrr,
      wrrTotal: wrr.reduce((s, e) => s + e.weight, 0),
      mirror: mirrorEntry && mirrorDep ? { dep: mirrorDep, percent: mirrorEntry[1] } : null,
      mirrorAcc: old?.mirrorAcc ?? 0,
    });
  }

  private counter(endpoint: string, deployment: string): Counter {
    const key = statKey(endpoint, deployment);
    let c = this.counters.get(key);
    if (!c) {
      c = new Counter();
      this.counters.set(key, c);
    }
    return c;
  }

  stats(filter: { endpoint?: string; deployment?: string } = {}): DeploymentStats[] {
    const out: DeploymentStats[] = [];
    for (const [key, c] of this.counters) {
      const [endpoint, deployment] = key.split('/') as [string, string];
      if (filter.endpoint && filter.endpoint.toLowerCase() !== endpoint) continue;
      if (filter.deployment && filter.deployment.toLowerCase() !== deployment) continue;
      const ep = this.endpoints.get(endpoint);
      const dep = ep?.deployments.get(deployment);
      out.push({
        endpoint: ep?.name ?? endpoint,
        deployment: dep?.name ?? deployment,
        requests: c.requests,
        errors: c.errors,
        clientErrors: c.clientErrors,
        errorRate: c.requests > 0 ? c.errors / c.requests : 0,
        mirroredRequests: c.mirrored,
        mirroredErrors: c.mirroredErrors,
        latencyMs: {
          avg: c.requests > 0 ? Math.round((c.latencySum / c.requests) * 1000) / 1000 : 0,
          p50: c.percentile(0.5),
          p95: c.percentile(0.95),
          p99: c.percentile(0.99),
          max: Math.round(c.latencyMax * 1000) / 1000,
        },
        lastRequestAt: c.lastAt ? new Date(c.lastAt).toISOString() : null,
      });
    }
    return out.sort((a, b) => (a.endpoint + '/' + a.deployment).localeCompare(b.endpoint + '/' + b.deployment));
  }

  resetStats(endpoint?: string): void {
    for (const key of [...this.counters.keys()]) {
      if (endpoint && !key.startsWith(endpoint.toLowerCase() + '/')) continue;
      const fresh = new Counter();
      this.counters.set(key, fresh);
      for (const ep of this.endpoints.values()) {
        for (const d of ep.deployments.values()) if (statKey(ep.name, d.name) === key) d.counter = fresh;
      }
    }
    this.store.clearStats(endpoint?.toLowerCase());
  }

  /** Handles `POST /endpoints/{name}/score`; `url` is the raw request URL. */
  handle(req: IncomingMessage, res: ServerResponse, url: string): void {
    const start = performance.now();
    const slash = url.indexOf('/', SCORING_PREFIX.length);
    const qs = url.indexOf('?');
    const name = url.slice(SCORING_PREFIX.length, slash < 0 ? (qs < 0 ? url.length : qs) : slash).toLowerCase();
    const rest = slash < 0 ? '' : url.slice(slash, qs < 0 ? url.length : qs);
    const ep = this.endpoints.get(name);
    if (!ep) return reply(res, 404, errorBody('EndpointNotFound', `No online endpoint named '${name}'.`));
    if (rest === '/swagger.json' && req.method === 'GET') return this.swagger(ep, res);
    if (rest !== '/score') return reply(res, 404, errorBody('NotFound', `Unknown scoring path '${rest}'.`));
    if (req.method !== 'POST') return reply(res, 405, errorBody('MethodNotAllowed', 'Scoring requires POST.'));
    const auth = req.headers.authorization;
    if (!auth || !ep.auth.has(auth)) {
      if (ep.authMode === 'AMLToken' && auth) this.refreshTokens(ep);
      if (!auth || !ep.auth.has(auth)) {
        req.resume();
        return reply(res, 401, errorBody('Unauthorized', 'Missing or invalid Authorization bearer key or token.'));
      }
    }
    const target = req.headers['azureml-model-deployment'];
    let dep: DeploymentRuntime | undefined;
    let mirror: DeploymentRuntime | undefined;
    if (typeof target === 'string' && target !== '') {
      dep = ep.deployments.get(target.toLowerCase());
      if (!dep) {
        req.resume();
        return reply(res, 404, errorBody('DeploymentNotFound', `No ready deployment named '${target}'.`));
      }
    } else {
      dep = this.pick(ep);
      if (!dep) {
        req.resume();
        return reply(
          res,
          404,
          errorBody(
            'NoValidDeployments',
            'No valid deployments to route to. Please check that the endpoint has at least one deployment with positive weight values or use a deployment specific header to route.',
          ),
        );
      }
      if (ep.mirror && ep.mirror.dep !== dep) {
        ep.mirrorAcc += ep.mirror.percent;
        if (ep.mirrorAcc >= 100) {
          ep.mirrorAcc -= 100;
          mirror = ep.mirror.dep;
        }
      }
    }
    if (dep.load.inFlight >= dep.allowance) {
      // Online-endpoint troubleshooting guide, "429 Too many pending requests": at most 2 ×
      // max_concurrent_requests_per_instance × instance_count requests in parallel; the rest are rejected.
      req.resume();
      dep.counter.record(performance.now() - start, 429, false);
      this.metrics.record(ep.name, dep.name, 429, performance.now() - start);
      return reply(
        res,
        429,
        errorBody(
          'TooManyPendingRequests',
          `Too many pending requests: deployment '${dep.name}' takes ${dep.allowance} requests at once (2 × maxConcurrentRequestsPerInstance × instance count).`,
        ),
      );
    }
    dep.load.inFlight++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const result = this.score(dep, body);
      const fault = this.faultFor(dep);
      const finish = (status: number, payload: string): void => {
        dep.load.inFlight--;
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          'azureml-model-deployment': dep.header,
          'x-request-id': randomUUID(),
          ...(fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {}),
        });
        res.end(payload);
        dep.counter.record(performance.now() - start, status, false);
        this.metrics.record(ep.name, dep.name, status, performance.now() - start);
      };
      const status = fault.status ?? result.status;
      const payload =
        fault.status !== undefined
          ? errorBody('ModelError', `Injected scoring failure (HTTP ${fault.status}).`)
          : result.payload;
      if (fault.latencyMs) delayUntil(start + fault.latencyMs, () => finish(status, payload));
      else finish(status, payload);
      if (mirror) {
        const m = mirror;
        setImmediate(() => {
          const t0 = performance.now();
          const r = this.score(m, body);
          const f = this.faultFor(m);
          m.counter.record(performance.now() - t0, f.status ?? r.status, true);
        });
      }
    });
  }

  private faultFor(dep: DeploymentRuntime): { status?: number; latencyMs?: number; retryAfterSeconds?: number } {
    if (dep.faults.length === 0) return {};
    let status: number | undefined;
    let retryAfterSeconds: number | undefined;
    let latencyMs = 0;
    for (const f of dep.faults) {
      const r = this.faults.applyScoring(f);
      if (r.status !== undefined && status === undefined) ({ status, retryAfterSeconds } = r);
      latencyMs += r.latencyMs ?? 0;
    }
    return { status, latencyMs, retryAfterSeconds };
  }

  private pick(ep: EndpointRuntime): DeploymentRuntime | undefined {
    const wrr = ep.wrr;
    if (wrr.length === 0) return undefined;
    if (wrr.length === 1) return wrr[0]!.dep;
    let best = wrr[0]!;
    for (const e of wrr) {
      e.current += e.weight;
      if (e.current > best.current) best = e;
    }
    best.current -= ep.wrrTotal;
    return best.dep;
  }

  private refreshTokens(ep: EndpointRuntime): void {
    const lname = ep.name.toLowerCase();
    const now = Date.now();
    for (const [t, v] of this.tokens) {
      if (v.expiresAt <= now) this.tokens.delete(t);
      else if (v.endpoint === lname) ep.auth.add(`Bearer ${t}`);
    }
  }

  /** Runs the deployment's model on a request body; the body formats are documented in the README. */
  private score(dep: DeploymentRuntime, body: Buffer): { status: number; payload: string } {
    const p = dep.predictor;
    if (!p)
      return { status: 502, payload: errorBody('ModelNotLoaded', `Deployment '${dep.name}' has no model loaded.`) };
    try {
      const rows = rowsFromBody(body, p.features);
      return { status: 200, payload: JSON.stringify(p.predict(rows)) };
    } catch (err) {
      if (err instanceof ScoringError) return { status: err.status, payload: errorBody(err.code, err.message) };
      return { status: 500, payload: errorBody('ModelError', (err as Error).message) };
    }
  }

  private swagger(ep: EndpointRuntime, res: ServerResponse): void {
    const features = [...ep.deployments.values()].find((d) => d.predictor)?.predictor?.features ?? [];
    reply(
      res,
      200,
      JSON.stringify({
        openapi: '3.0.1',
        info: { title: `${ep.name} (local workspace)`, version: '1' },
        paths: {
          '/score': {
            post: {
              requestBody: {
                content: {
                  'application/json': {
                    example: { input_data: { columns: features, data: [features.map(() => 0)] } },
                  },
                },
              },
              responses: { '200': { description: 'Array of predictions, one per row.' } },
            },
          },
        },
      }),
    );
  }
}

/** Runs `fn` once performance.now() reaches `at`; timers run on the loop's cached clock and can fire early. */
function delayUntil(at: number, fn: () => void): void {
  const left = at - performance.now();
  if (left <= 0) fn();
  else setTimeout(() => delayUntil(at, fn), Math.ceil(left));
}

function statKey(endpoint: string, deployment: string): string {
  return `${endpoint.toLowerCase()}/${deployment.toLowerCase()}`;
}

function reply(res: ServerResponse, status: number, payload: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/**
 * Accepted request bodies (rows in the model's feature order or as objects keyed by feature name):
 * `{"input_data": {"columns": [...], "data": [[...]]}}` (MLflow split), `{"input_data": [[...]] | [{...}]}`,
 * `{"data": [[...]] | [{...}]}`, or a bare array of rows.
 */
export function rowsFromBody(body: Buffer, features: string[]): number[][] {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ScoringError(400, 'BadRequest', `Request body is not valid JSON: ${(err as Error).message}`);
  }
  let rows: unknown = value;
  let columns: string[] | undefined;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    const inner = v.input_data ?? v.data ?? v.inputs;
    if (inner === undefined) {
      throw new ScoringError(400, 'BadRequest', "Request body needs 'input_data' or 'data'.");
    }
    rows = inner;
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) {
      const split = inner as Record<string, unknown>;
      if (!Array.isArray(split.columns) || !Array.isArray(split.data)) {
        throw new ScoringError(
          400,
          'BadRequest',
          '\'input_data\' must be rows or {"columns": [...], "data": [[...]]}.',
        );
      }
      columns = split.columns.map(String);
      rows = split.data;
    }
  }
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new ScoringError(400, 'BadRequest', 'Request body has no rows to score.');
  }
  const index = columns ? features.map((f) => columns.indexOf(f)) : undefined;
  if (index && index.some((i) => i < 0)) {
    const missing = features.filter((_, j) => index[j]! < 0);
    throw new ScoringError(400, 'BadRequest', `Missing feature column(s): ${missing.join(', ')}.`);
  }
  const out: number[][] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as unknown;
    let vals: unknown[];
    if (Array.isArray(row)) {
      if (index) vals = index.map((i) => row[i]);
      else if (row.length !== features.length) {
        throw new ScoringError(
          400,
          'BadRequest',
          `Row ${r} has ${row.length} values; the model expects ${features.length} (${features.join(', ')}).`,
        );
      } else vals = row;
    } else if (row && typeof row === 'object') {
      const obj = row as Record<string, unknown>;
      vals = features.map((f) => obj[f]);
    } else {
      throw new ScoringError(400, 'BadRequest', `Row ${r} must be an array or an object.`);
    }
    for (let j = 0; j < vals.length; j++) {
      if (typeof vals[j] !== 'number' || !Number.isFinite(vals[j])) {
        throw new ScoringError(400, 'BadRequest', `Row ${r}: feature '${features[j]}' must be a finite number.`);
      }
    }
    out[r] = vals as number[];
  }
  return out;
}
