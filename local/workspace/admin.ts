import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { generateDataset, tableFromJson } from './datagen';
import { normalizeEventType } from './events';
import { faultSchema } from './faults';
import { PRINCIPAL_TYPES, principalNameProblem } from './principals';
import { ArmError, globToRegExp, parseJson, readBody, sendJson, validate } from './http';
import type { Workspace } from './workspace';

export const ADMIN_PREFIX = '/_local/';

const name = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9\-_.]{0,254}$/, 'must be a valid asset name');
const dict = z.record(z.string(), z.string());

const generatorFields = {
  rows: z.number().int().min(1).max(1_000_000).optional(),
  seed: z.number().int().optional(),
  task: z.enum(['regression', 'classification']).optional(),
  features: z.number().int().min(1).max(20).optional(),
  drift: z.number().min(0).max(10).optional(),
  quality: z.number().min(0).max(1).optional(),
  noise: z.number().min(0).optional(),
  target: z.string().min(1).optional(),
};

const generateBody = z.strictObject({
  name,
  version: z.string().min(1).optional(),
  description: z.string().optional(),
  tags: dict.optional(),
  ...generatorFields,
});

const sampleBody = z.strictObject({ ...generatorFields, omitTarget: z.boolean().optional() });

const rowsBody = z.strictObject({
  name,
  version: z.string().min(1).optional(),
  description: z.string().optional(),
  tags: dict.optional(),
  rows: z.union([
    z.array(z.record(z.string(), z.union([z.number(), z.string(), z.null()]))).min(1),
    z.strictObject({ columns: z.array(z.string()).min(1), data: z.array(z.array(z.unknown())).min(1) }),
  ]),
});

const monitorBody = z.strictObject({
  monitorName: z.string().min(1).optional(),
  endpoint: z.string().min(1).optional(),
  deployment: z.string().min(1).optional(),
  signal: z.string().min(1).optional(),
  metric: z.string().min(1).optional(),
  value: z.number().optional(),
  threshold: z.number().optional(),
});

const driftBody = z.strictObject({
  driftName: z.string().min(1).optional(),
  baseDatasetId: z.string().min(1).optional(),
  targetDatasetId: z.string().min(1).optional(),
  driftCoefficient: z.number().optional(),
});

const subscriberBody = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  eventTypes: z.array(z.string().min(1)).min(1).optional(),
});

// Stands in for signing in to Entra ID: whoever reaches the local admin surface may act as anyone.
const tokenBody = z.strictObject({
  name: z.string().superRefine((n, ctx) => {
    const problem = principalNameProblem(n);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  type: z.enum(PRINCIPAL_TYPES).optional(),
});

const resetBody = z.strictObject({ endpoint: z.string().min(1).optional() }).optional();

/**
 * The local-only admin surface under `/_local/` (JSON in and out; see README.md for the route list). It never
 * collides with ARM paths, which all start with `/subscriptions/`.
 */
export async function handleAdmin(
  ws: Workspace,
  info: () => unknown,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://local');
  const method = (req.method ?? 'GET').toUpperCase();
  const path = url.pathname.replace(/\/+$/, '');
  const q = url.searchParams;
  try {
    const body = method === 'POST' || method === 'PUT' ? parseJson(await readBody(req)) : undefined;
    if (method === 'GET' || method === 'DELETE') req.resume();
    const r = await route(ws, info, method, path, q, body);
    sendJson(res, r.status, r.body);
  } catch (err) {
    req.resume();
    if (err instanceof ArmError) sendJson(res, err.status, err.body());
    else if (err instanceof RangeError) sendJson(res, 400, { error: { code: 'BadRequest', message: err.message } });
    else sendJson(res, 500, { error: { code: 'InternalServerError', message: (err as Error).message } });
  }
}

function route(
  ws: Workspace,
  info: () => unknown,
  method: string,
  path: string,
  q: URLSearchParams,
  body: unknown,
): { status: number; body?: unknown } | Promise<{ status: number; body?: unknown }> {
  const bad = (): never => {
    throw new ArmError(404, 'NotFound', `No admin route ${method} ${path}. See GET /_local/ for the list.`);
  };
  const v = <S extends z.ZodType>(schema: S): z.output<S> => validate(schema, body ?? {}, { code: 'BadRequest' });
  switch (`${method} ${path}`) {
    case 'GET /_local':
      return { status: 200, body: { routes: ROUTES } };
    case 'GET /_local/health':
      return { status: 200, body: { status: 'ok' } };
    case 'GET /_local/info':
      return { status: 200, body: info() };
    case 'GET /_local/requests': {
      const since = intParam(q, 'since');
      const method_ = q.get('method')?.toUpperCase();
      const pattern = q.get('path');
      const writes = q.get('writes') === 'true';
      // Another workspace this host serves, by name: its own log.
      const of = servedWorkspace(ws, q);
      let rows = of.store.requests({ since, method: method_ && method_ !== 'WRITE' ? method_ : undefined });
      if (writes || method_ === 'WRITE') rows = rows.filter((r) => r.method !== 'GET');
      if (pattern) {
        const re = globToRegExp(pattern);
        rows = rows.filter((r) => re.test(r.path));
      }
      return { status: 200, body: { value: rows } };
    }
    case 'DELETE /_local/requests':
      ws.store.clearRequests();
      return { status: 204 };
    case 'GET /_local/scoring/stats':
      return {
        status: 200,
        body: {
          value: ws.scoring.stats({
            endpoint: q.get('endpoint') ?? undefined,
            deployment: q.get('deployment') ?? undefined,
          }),
        },
      };
    case 'POST /_local/scoring/stats/reset': {
      const b = v(resetBody);
      ws.scoring.resetStats(b?.endpoint);
      return { status: 204 };
    }
    // Another workspace this host serves, by name: its own faults.
    case 'GET /_local/faults':
      return { status: 200, body: { value: servedWorkspace(ws, q).faults.all() } };
    case 'POST /_local/faults':
      return { status: 201, body: servedWorkspace(ws, q).faults.add(v(faultSchema)) };
    case 'DELETE /_local/faults':
      servedWorkspace(ws, q).faults.clear();
      return { status: 204 };
    case 'POST /_local/data/generate':
      return ws.generateData(v(generateBody)).then((body) => ({ status: 201, body }));
    case 'POST /_local/data/sample': {
      const ds = generateDataset(v(sampleBody));
      return { status: 200, body: { columns: ds.columns, data: ds.rows } };
    }
    case 'POST /_local/data/rows': {
      const b = v(rowsBody);
      return ws
        .createDataAsset({
          name: b.name,
          version: b.version,
          description: b.description,
          tags: b.tags,
          table: tableFromJson(b.rows),
        })
        .then((body) => ({ status: 201, body }));
    }
    case 'POST /_local/monitor/breach':
      return { status: 202, body: ws.emitMonitorSignal('breach', v(monitorBody)) };
    case 'POST /_local/monitor/recover':
      return { status: 202, body: ws.emitMonitorSignal('recovery', v(monitorBody)) };
    case 'POST /_local/monitor/dataset-drift':
      return { status: 202, body: ws.emitDatasetDrift(v(driftBody)) };
    // Each served workspace is its own Event Grid topic: `workspace=NAME` subscribes to another one's events.
    case 'GET /_local/event-subscribers':
      return { status: 200, body: { value: servedWorkspace(ws, q).events.subscribers() } };
    case 'POST /_local/event-subscribers': {
      const b = v(subscriberBody);
      const of = servedWorkspace(ws, q);
      of.events.addSubscriber(b);
      return { status: 201, body: { value: of.events.subscribers() } };
    }
    case 'DELETE /_local/event-subscribers': {
      const u = q.get('url');
      if (!u) throw new ArmError(400, 'BadRequest', "Query parameter 'url' names the subscriber to remove.", 'url');
      if (!servedWorkspace(ws, q).events.removeSubscriber(u))
        throw new ArmError(404, 'NotFound', `No subscriber '${u}'.`, 'url');
      return { status: 204 };
    }
    case 'POST /_local/tokens': {
      const { name: who, type = 'User' } = v(tokenBody);
      return { status: 200, body: { token: ws.principals.tokenFor({ name: who, type }), name: who, type } };
    }
    case 'GET /_local/events': {
      const of = servedWorkspace(ws, q);
      return {
        status: 200,
        body: {
          value: of.store
            .events({ type: q.get('type') ? normalizeEventType(q.get('type')!) : undefined })
            .map((e) => e.event),
          deliveries: of.store.deliveries({ status: q.get('status') ?? undefined }).map(({ event: _e, ...d }) => d),
        },
      };
    }
  }
  const fault = /^\/_local\/faults\/([^/]+)$/.exec(path);
  if (fault && method === 'DELETE') {
    if (!ws.faults.remove(fault[1]!)) throw new ArmError(404, 'NotFound', `No fault '${fault[1]}'.`, 'id');
    return { status: 204 };
  }
  const job = /^\/_local\/jobs\/([^/]+)$/.exec(path);
  if (job && method === 'GET') {
    const row = ws.store.get(`jobs/${job[1]}`);
    if (!row) throw new ArmError(404, 'NotFound', `No job '${job[1]}'.`, 'name');
    return { status: 200, body: { name: row.name, ...row.body.properties } };
  }
  return bad();
}

/** This workspace, or another one this host serves when the query names it (`workspace=NAME`). */
function servedWorkspace(ws: Workspace, q: URLSearchParams): Workspace {
  const named = q.get('workspace');
  const of = named
    ? [ws, ...ws.siblings()].find((w) => w.opts.workspaceName.toLowerCase() === named.toLowerCase())
    : ws;
  if (!of) throw new ArmError(404, 'NotFound', `No workspace named '${named}' is served here.`, 'workspace');
  return of;
}

function intParam(q: URLSearchParams, key: string): number | undefined {
  const raw = q.get(key);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new ArmError(400, 'BadRequest', `'${key}' must be a non-negative integer.`, key);
  return n;
}

export const ROUTES = [
  'GET /_local/health',
  'GET /_local/info — endpoint, CA path, subscription, resource group, workspace, token',
  'GET /_local/requests?method=PUT|WRITE&path=glob&since=seq&workspace=NAME — ARM request log (of another served workspace with workspace)',
  'DELETE /_local/requests',
  'GET /_local/scoring/stats?endpoint=&deployment=',
  'POST /_local/scoring/stats/reset {endpoint?}',
  'GET|POST|DELETE /_local/faults?workspace=NAME (of another served workspace with workspace), DELETE /_local/faults/{id}',
  'POST /_local/data/generate {name, version?, rows?, seed?, task?, features?, drift?, quality?, noise?, target?}',
  'POST /_local/data/sample {rows?, seed?, drift?, ..., omitTarget?} — rows without registering',
  'POST /_local/data/rows {name, version?, rows: [{...}] | {columns, data}}',
  'POST /_local/monitor/breach|recover {monitorName?, endpoint?, deployment?, signal?, metric?, value?, threshold?}',
  'POST /_local/monitor/dataset-drift {driftName?, baseDatasetId?, targetDatasetId?, driftCoefficient?}',
  'GET|POST /_local/event-subscribers?workspace=NAME {url, eventTypes?}, DELETE /_local/event-subscribers?url=&workspace=NAME',
  'GET /_local/events?type=&status=pending|delivered|dead&workspace=NAME',
  'GET /_local/jobs/{name}',
  'POST /_local/tokens {name, type?: User|Application|ManagedIdentity|Key} — a bearer token for that principal',
];
