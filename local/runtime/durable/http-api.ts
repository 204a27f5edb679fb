import type { DurableEngine, ListFilter } from './engine';
import { DurableEngineError } from './errors';
import { isTerminal, RUNTIME_STATUSES } from './types';

/**
 * The Durable Functions HTTP surface, served under `/runtime/webhooks/durabletask/`:
 *  - the endpoints durable-functions' DurableClient calls when the binding data carries `rpcBaseUrl`;
 *  - the public management API that createCheckStatusResponse links point to (taskHub/connection/code query
 *    parameters are accepted and ignored: there is one task hub per engine and no keys locally).
 */

export interface DurableHttpRequest {
  method: string;
  /** Path after '/runtime/webhooks/durabletask/', e.g. 'instances/abc/raiseEvent/approve'. */
  path: string;
  query: URLSearchParams;
  body: string;
  /** e.g. http://127.0.0.1:7071 */
  origin: string;
  /** Optional request headers (lower-case names); used for x-ms-continuation-token. */
  headers?: Record<string, string | string[] | undefined>;
}

export interface DurableHttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

const WEBHOOK_PATH = '/runtime/webhooks/durabletask';
const INSTANCE_PLACEHOLDER = 'INSTANCEID';
const CONNECTION = 'Storage';

function commonQuery(taskHub: string): string {
  return `taskHub=${encodeURIComponent(taskHub)}&connection=${CONNECTION}`;
}

/** The `durableClient` input binding value, in the shape df.getClient validates and DurableClient reads. */
export function clientBindingData(origin: string, taskHub: string): object {
  const base = `${trimSlash(origin)}${WEBHOOK_PATH}`;
  const q = commonQuery(taskHub);
  const instance = `${base}/instances/${INSTANCE_PLACEHOLDER}`;
  return {
    taskHubName: taskHub,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?${q}`,
      createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${q}`,
    },
    managementUrls: managementUrls(base, INSTANCE_PLACEHOLDER, taskHub),
    baseUrl: base,
    requiredQueryStringParameters: q,
    rpcBaseUrl: `${base}/`,
    httpBaseUrl: base,
    // Kept for readers that look the instance placeholder up directly.
    instanceUrlTemplate: instance,
  };
}

function managementUrls(base: string, id: string, taskHub: string): Record<string, string> {
  const q = commonQuery(taskHub);
  const instance = `${base}/instances/${id}`;
  return {
    id,
    statusQueryGetUri: `${instance}?${q}`,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}?${q}`,
    terminatePostUri: `${instance}/terminate?reason={text}&${q}`,
    rewindPostUri: `${instance}/rewind?reason={text}&${q}`,
    purgeHistoryDeleteUri: `${instance}?${q}`,
    restartPostUri: `${instance}/restart?${q}`,
    suspendPostUri: `${instance}/suspend?reason={text}&${q}`,
    resumePostUri: `${instance}/resume?reason={text}&${q}`,
  };
}

function trimSlash(s: string): string {
  return s.endsWith('/') ? s.slice(0, -1) : s;
}

/** The check-status payload for one instance (what createCheckStatusResponse returns). */
export function checkStatusPayload(origin: string, taskHub: string, instanceId: string): Record<string, string> {
  return managementUrls(`${trimSlash(origin)}${WEBHOOK_PATH}`, encodeURIComponent(instanceId), taskHub);
}

class BadRequest extends Error {}

function parseBody(body: string): unknown {
  if (body === undefined || body === null || body.trim() === '') return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    throw new BadRequest(`The request body is not valid JSON: ${(err as Error).message}`);
  }
}

function flag(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  return v.toLowerCase() === 'true' || v === '1';
}

function dateParam(q: URLSearchParams, name: string): Date | undefined {
  const v = q.get(name);
  if (!v) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new BadRequest(`Query parameter '${name}' is not a valid date: ${v}`);
  return d;
}

function statusesParam(q: URLSearchParams): string[] | undefined {
  const all = q.getAll('runtimeStatus').flatMap((v) => v.split(','));
  const list = all.map((s) => s.trim()).filter((s) => s.length > 0);
  if (list.length === 0) return undefined;
  const known = new Map(RUNTIME_STATUSES.map((s) => [s.toLowerCase(), s]));
  return list.map((s) => {
    const k = known.get(s.toLowerCase());
    if (!k) throw new BadRequest(`Unknown runtimeStatus '${s}'.`);
    return k;
  });
}

function header(req: DurableHttpRequest, name: string): string | undefined {
  const h = req.headers?.[name] ?? req.headers?.[name.toLowerCase()];
  return Array.isArray(h) ? h[0] : h;
}

function message(status: number, text: string): DurableHttpResponse {
  return { status, headers: { 'Content-Type': 'application/json' }, body: { message: text } };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): DurableHttpResponse {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body };
}

function requestUrl(req: DurableHttpRequest): string {
  const qs = req.query.toString();
  return `${trimSlash(req.origin)}${WEBHOOK_PATH}/${req.path.replace(/^\/+/, '')}${qs ? `?${qs}` : ''}`;
}

export interface DurableHttpOptions {
  /** Page size for instance queries without `top` (the extension pages by 100 with x-ms-continuation-token). */
  defaultPageSize?: number;
}

export async function handleDurableHttp(
  engine: DurableEngine,
  req: DurableHttpRequest,
  opts: DurableHttpOptions = {},
): Promise<DurableHttpResponse> {
  try {
    return await route(engine, req, opts);
  } catch (err) {
    if (err instanceof BadRequest) return message(400, err.message);
    if (err instanceof DurableEngineError) return message(err.httpStatus, err.message);
    return message(500, err instanceof Error ? err.message : String(err));
  }
}

async function route(
  engine: DurableEngine,
  req: DurableHttpRequest,
  opts: DurableHttpOptions,
): Promise<DurableHttpResponse> {
  const method = req.method.toUpperCase();
  const segments = req.path
    .split('?')[0]!
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => decodeURIComponent(s));
  const [head, a, b, c] = segments;

  if (head === 'orchestrators' && a !== undefined && segments.length <= 3) {
    if (method !== 'POST') return message(405, 'Use POST to start an orchestration.');
    return startOrchestration(engine, req, a, b);
  }
  if (head === 'instances') {
    if (a === undefined) {
      if (method === 'GET') return listInstances(engine, req, opts.defaultPageSize ?? 100);
      if (method === 'DELETE') return purgeMany(engine, req);
      return message(405, 'Use GET to query or DELETE to purge instances.');
    }
    if (b === undefined) {
      if (method === 'GET') return getInstance(engine, req, a);
      if (method === 'DELETE') {
        const deleted = await engine.purge(a);
        return deleted ? json(200, { instancesDeleted: 1 }) : message(404, `No purgeable instance with ID '${a}'.`);
      }
      return message(405, 'Use GET for status or DELETE to purge.');
    }
    if (method !== 'POST') return message(405, `Use POST for ${b}.`);
    const reason = req.query.get('reason') ?? '';
    switch (b) {
      case 'raiseEvent': {
        if (!c || segments.length !== 4)
          return message(400, 'An event name is required: instances/{id}/raiseEvent/{eventName}.');
        const data = parseBody(req.body);
        await engine.raiseEvent(a, c, data);
        return { status: 202 };
      }
      case 'terminate':
        await engine.terminate(a, reason);
        return { status: 202 };
      case 'suspend':
        await engine.suspend(a, reason);
        return { status: 202 };
      case 'resume':
        await engine.resume(a, reason);
        return { status: 202 };
      case 'rewind':
        try {
          await engine.rewind(a, reason);
        } catch (err) {
          // DurableClient.rewind uses the body itself as the error message, so send a bare string.
          if (err instanceof DurableEngineError) return json(err.httpStatus, err.message);
          throw err;
        }
        return { status: 202 };
      case 'restart':
        return restart(engine, req, a);
      default:
        return message(404, `Unknown operation '${b}'.`);
    }
  }
  if (head === 'entities') {
    // Reading one entity's state, as DurableClient.readEntityState asks for it (docs: "HTTP API reference",
    // Get entity: 200 with the state as the body, 404 when the entity has none), and signalling one as
    // DurableClient.signalEntity does (Signal entity: POST with `op` and the JSON input as the body, 202). Listing
    // entities is not served.
    if (a !== undefined && b !== undefined && segments.length === 3) {
      const ref = { name: a.toLowerCase(), key: b };
      if (method === 'GET') {
        const entity = engine.getEntity(ref);
        return entity?.exists ? json(200, entity.state) : message(404, `No entity '${a}' with key '${b}'.`);
      }
      if (method === 'POST') {
        const op = req.query.get('op');
        if (!op) return message(400, 'An operation name is required: entities/{name}/{key}?op={operation}.');
        await engine.signalEntity(ref, op, parseBody(req.body));
        return { status: 202 };
      }
    }
    return message(501, 'The local durable engine serves only GET and POST entities/{name}/{key} over HTTP.');
  }
  return message(404, `No durable task endpoint at '${req.path}'.`);
}

async function startOrchestration(
  engine: DurableEngine,
  req: DurableHttpRequest,
  name: string,
  instanceId: string | undefined,
): Promise<DurableHttpResponse> {
  const input = parseBody(req.body);
  // DurableClient.startNew sends its `version` option as a query parameter.
  const version = req.query.get('version') ?? undefined;
  const id = await engine.startNew(name, {
    input,
    ...(instanceId !== undefined ? { instanceId } : {}),
    ...(version ? { version } : {}),
  });
  const payload = checkStatusPayload(req.origin, engine.taskHub, id);
  const timeoutSec = Number(req.query.get('timeout') ?? NaN);
  if (Number.isFinite(timeoutSec) && timeoutSec > 0) {
    // createAndWaitOnNewInstancePostUri: answer with the output if it finishes in time.
    try {
      const status = await engine.waitForCompletion(id, timeoutSec * 1000);
      return json(200, status.output);
    } catch {
      // still running: fall through to the 202 check-status response
    }
  }
  return json(202, payload, { Location: payload.statusQueryGetUri!, 'Retry-After': '10' });
}

async function getInstance(engine: DurableEngine, req: DurableHttpRequest, id: string): Promise<DurableHttpResponse> {
  const status = await engine.getStatus(id, {
    showHistory: flag(req.query, 'showHistory') === true,
    showHistoryOutput: flag(req.query, 'showHistoryOutput') === true,
    showInput: flag(req.query, 'showInput') !== false,
  });
  if (!status) return message(404, `No instance with ID '${id}' found.`);
  // durable-functions' DurableOrchestrationStatus reads `history`; the HTTP API's own name is `historyEvents`.
  if (status.historyEvents) Object.assign(status, { history: status.historyEvents });
  if (status.runtimeStatus === 'Failed' && flag(req.query, 'returnInternalServerErrorOnFailure') === true) {
    return json(500, status);
  }
  if (isTerminal(status.runtimeStatus)) return json(200, status);
  return json(202, status, { Location: requestUrl(req), 'Retry-After': '10' });
}

async function listInstances(
  engine: DurableEngine,
  req: DurableHttpRequest,
  defaultPageSize: number,
): Promise<DurableHttpResponse> {
  const q = req.query;
  const top = q.get('top');
  const filter: ListFilter = {
    runtimeStatus: statusesParam(q),
    createdTimeFrom: dateParam(q, 'createdTimeFrom'),
    createdTimeTo: dateParam(q, 'createdTimeTo'),
    instanceIdPrefix: q.get('instanceIdPrefix') ?? undefined,
    showInput: flag(q, 'showInput') !== false,
    continuationToken: header(req, 'x-ms-continuation-token') ?? q.get('continuationToken') ?? undefined,
  };
  if (top !== null) {
    const n = Number(top);
    if (!Number.isInteger(n) || n <= 0) throw new BadRequest(`Query parameter 'top' must be a positive integer.`);
    filter.top = n;
  } else {
    filter.top = defaultPageSize;
  }
  const page = await engine.list(filter);
  const headers: Record<string, string> = {};
  if (page.continuationToken) headers['x-ms-continuation-token'] = page.continuationToken;
  return json(200, page.instances, headers);
}

async function purgeMany(engine: DurableEngine, req: DurableHttpRequest): Promise<DurableHttpResponse> {
  const deleted = await engine.purgeMany({
    runtimeStatus: statusesParam(req.query),
    createdTimeFrom: dateParam(req.query, 'createdTimeFrom'),
    createdTimeTo: dateParam(req.query, 'createdTimeTo'),
  });
  if (deleted === 0) return message(404, 'No instances matched the purge filter.');
  return json(200, { instancesDeleted: deleted });
}

async function restart(engine: DurableEngine, req: DurableHttpRequest, id: string): Promise<DurableHttpResponse> {
  const status = await engine.getStatus(id);
  if (!status) return message(404, `No instance with ID '${id}' found.`);
  const newId = flag(req.query, 'restartWithNewInstanceId') === false ? id : undefined;
  const started = await engine.startNew(
    status.name,
    newId !== undefined
      ? { instanceId: newId, input: status.input ?? undefined }
      : { input: status.input ?? undefined },
  );
  const payload = checkStatusPayload(req.origin, engine.taskHub, started);
  return json(202, payload, { Location: payload.statusQueryGetUri! });
}
