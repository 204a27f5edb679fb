/**
 * The local Functions host: loads an app's own entry (package.json `main`) unchanged, captures its registrations
 * through the `@azure/functions-core` stand-in, and serves them over real HTTP — HTTP triggers, the Event Grid
 * webhook, timers, and Durable Functions through the embedded engine and its HTTP API.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { DurableEngine } from './durable/engine';
import { clientBindingData, handleDurableHttp } from './durable/http-api';
import { DurableStore } from './durable/store';
import { versioningFromHostJson, type VersioningOptions } from './durable/versioning';
import { handleEventGridWebhook } from './event-grid';
import { EVENT_GRID_TOPIC_PATH, EVENT_STREAM_PATH, LocalEventGridTopic } from './event-grid-topic';
import { installFunctionsCore, type FunctionRegistry, type RegisteredFunction } from './functions-core';
import { fromTypedData, invokeFunction, jsonData, type InputBinding } from './invoke';
import { decodePathSegments, RouteTable } from './routes';
import { ScheduleStatusStore, TimerScheduler, type TimerInfo } from './timers';

export interface HostOptions {
  /** Folder holding the app's package.json and host.json. */
  appDir: string;
  dataDir: string;
  port?: number;
  hostname?: string;
  /** OOProc replay schema advertised to the SDK (REPLAY_SCHEMAS); default V4. Older ones show what an older
   * Durable extension does with the app. */
  durableSchema?: number;
  /**
   * With a key, the host also serves a local Event Grid custom topic (CloudEvents) at /_local/eventgrid/api/events,
   * taking that access key, and the stream it received at GET /_local/events?after=N.
   */
  eventGridTopicKey?: string;
  /** Largest accepted request body; the host's FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (default 100 MiB). */
  maxRequestBodySize?: number;
  log?: (line: string) => void;
}

interface HostJson {
  extensions?: {
    http?: { routePrefix?: string };
    durableTask?: { hubName?: string; maxConcurrentActivityFunctions?: number } & Record<string, unknown>;
  };
}

const DEFAULT_BODY_LIMIT = 100 * 1024 * 1024;

class BodyTooLarge extends Error {}

/** Expands the `main` entry of package.json: a file, or a glob with `*` / `**` segments. */
export function expandMain(appDir: string, pattern: string): string[] {
  const parts = pattern.split('/').filter((p) => p !== '' && p !== '.');
  const toRegex = (glob: string) =>
    new RegExp(
      '^' +
        glob
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '.') +
        '$',
    );
  const walk = (dir: string, rest: string[]): string[] => {
    const [head, ...tail] = rest;
    if (head === undefined) return [dir];
    if (head === '**') {
      const here = walk(dir, tail);
      const deeper = existsSync(dir)
        ? readdirSync(dir, { withFileTypes: true })
            .filter((d) => d.isDirectory())
            .flatMap((d) => walk(path.join(dir, d.name), rest))
        : [];
      return [...here, ...deeper];
    }
    if (!/[*?]/.test(head)) return existsSync(path.join(dir, head)) ? walk(path.join(dir, head), tail) : [];
    if (!existsSync(dir)) return [];
    const re = toRegex(head);
    return readdirSync(dir)
      .filter((name) => re.test(name))
      .sort()
      .flatMap((name) => walk(path.join(dir, name), tail));
  };
  return walk(appDir, parts).filter((f) => !f.endsWith('.map'));
}

export class LocalFunctionsHost {
  readonly registry: FunctionRegistry;
  readonly routes = new RouteTable<RegisteredFunction>();
  readonly routePrefix: string;
  readonly taskHub: string;
  engine!: DurableEngine;
  #server: http.Server | undefined;
  #timers: TimerScheduler | undefined;
  #statusStore: ScheduleStatusStore | undefined;
  #store: DurableStore | undefined;
  #topic: LocalEventGridTopic | undefined;
  #origin = '';
  #log: (line: string) => void;
  #bodyLimit: number;

  private constructor(private readonly options: HostOptions) {
    this.registry = installFunctionsCore();
    this.#log = options.log ?? ((line) => console.log(line));
    const bodyLimitSetting = Number(process.env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT);
    this.#bodyLimit = options.maxRequestBodySize ?? (bodyLimitSetting > 0 ? bodyLimitSetting : DEFAULT_BODY_LIMIT);
    const hostJsonPath = path.join(options.appDir, 'host.json');
    const hostJson: HostJson = existsSync(hostJsonPath) ? JSON.parse(readFileSync(hostJsonPath, 'utf8')) : {};
    const prefix = hostJson.extensions?.http?.routePrefix ?? 'api';
    this.routePrefix = prefix.replace(/^\/+|\/+$/g, '');
    this.taskHub = hostJson.extensions?.durableTask?.hubName ?? 'TestHubName';
    this.registry.logger = (level, category, message) => {
      if (category === 'system' && (level === 'debug' || level === 'trace')) return;
      this.#log(`[${category}] ${message}`);
    };
    this.#maxActivities = hostJson.extensions?.durableTask?.maxConcurrentActivityFunctions ?? 4;
    this.#versioning = versioningFromHostJson(hostJson.extensions?.durableTask);
    const overridable = hostJson.extensions?.durableTask?.overridableExistingInstanceStates;
    if (overridable !== undefined && String(overridable).toLowerCase() !== 'nonrunningstates') {
      throw new Error(
        `host.json durableTask.overridableExistingInstanceStates: "${String(overridable)}" is not supported by the ` +
          'local engine, which keeps running instances (NonRunningStates).',
      );
    }
  }

  #maxActivities: number;
  #versioning: VersioningOptions;

  static async start(options: HostOptions): Promise<LocalFunctionsHost> {
    const host = new LocalFunctionsHost(options);
    await host.#start();
    return host;
  }

  get url(): string {
    return this.#origin;
  }

  async #start(): Promise<void> {
    mkdirSync(this.options.dataDir, { recursive: true });
    if (this.options.eventGridTopicKey) {
      this.#topic = new LocalEventGridTopic(
        path.join(this.options.dataDir, 'events.db'),
        this.options.eventGridTopicKey,
      );
    }
    this.#loadApp();
    for (const hook of this.registry.hooksFor('appStart')) await hook({ hookData: {}, hostVersion: '4.0.0-local' });

    for (const fn of this.registry.byTriggerType('httpTrigger')) {
      const route = typeof fn.trigger.route === 'string' ? fn.trigger.route : fn.name;
      const methods = Array.isArray(fn.trigger.methods) ? (fn.trigger.methods as string[]) : undefined;
      this.routes.add(route, methods, fn);
    }

    // Listen first: the durable client's rpcBaseUrl and status links need the final port.
    this.#server = http.createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.#server!.once('error', reject);
      this.#server!.listen(this.options.port ?? 7071, this.options.hostname ?? '127.0.0.1', () => resolve());
    });
    const address = this.#server.address() as AddressInfo;
    this.#origin = `http://${address.address}:${address.port}`;

    this.#store = new DurableStore(path.join(this.options.dataDir, 'durable.db'));
    this.engine = new DurableEngine({
      store: this.#store,
      taskHub: this.taskHub,
      maxConcurrentActivities: this.#maxActivities,
      versioning: this.#versioning,
      schemaVersion: this.options.durableSchema,
      invokeOrchestrator: (name, trigger) => this.#invokeDurable(name, 'orchestrationTrigger', trigger),
      invokeActivity: (name, input) => this.#invokeDurable(name, 'activityTrigger', input),
      // Entity names arrive lower-cased (`@name@key`); registry lookups ignore case, as the Functions host does.
      invokeEntity: (name, batchRequest) => this.#invokeDurable(name, 'entityTrigger', batchRequest),
      isOrchestrator: (name) => this.registry.get(name)?.trigger.type === 'orchestrationTrigger',
      isActivity: (name) => this.registry.get(name)?.trigger.type === 'activityTrigger',
      isEntity: (name) => this.registry.get(name)?.trigger.type === 'entityTrigger',
      log: this.#log,
    });
    this.engine.start();

    this.#statusStore = new ScheduleStatusStore(path.join(this.options.dataDir, 'host.db'));
    this.#timers = new TimerScheduler(
      this.#statusStore,
      (name, info) => this.#invokeTimer(name, info),
      undefined,
      this.#log,
    );
    this.#timers.start(
      this.registry.byTriggerType('timerTrigger').map((fn) => ({
        name: fn.name,
        schedule: String(fn.trigger.schedule),
        runOnStartup: fn.trigger.runOnStartup === true,
        useMonitor: fn.trigger.useMonitor !== false,
      })),
      process.env,
    );
  }

  #loadApp(): void {
    const pkg = JSON.parse(readFileSync(path.join(this.options.appDir, 'package.json'), 'utf8')) as { main?: string };
    if (!pkg.main) throw new Error(`${this.options.appDir}/package.json has no "main": the host cannot find the app.`);
    const files = expandMain(this.options.appDir, pkg.main);
    if (files.length === 0) {
      throw new Error(`package.json "main" (${pkg.main}) matches no file under ${this.options.appDir}: was it built?`);
    }
    // The app's entry is CommonJS, loaded the way the Node worker loads it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    for (const file of files) require(file);
    if (this.registry.functions.size === 0) this.#log('Warning: the app registered no functions.');
  }

  /** The extra inputs a function asked for that the host supplies (durable client). */
  #extraInputs(fn: RegisteredFunction): InputBinding[] {
    return Object.entries(fn.bindings)
      .filter(([, b]) => b.direction === 'in' && b.type === 'durableClient')
      .map(([name]) => ({ name, data: { string: JSON.stringify(clientBindingData(this.#origin, this.taskHub)) } }));
  }

  async #invokeDurable(name: string, triggerType: string, input: unknown): Promise<unknown> {
    const fn = this.registry.get(name);
    if (!fn || fn.trigger.type !== triggerType) throw new Error(`No ${triggerType} function named "${name}".`);
    const inputs = [{ name: fn.triggerName, data: jsonData(input) }, ...this.#extraInputs(fn)];
    const result = await invokeFunction(this.registry, fn, inputs, {
      log: (f, _id, level, message) => this.#log(`[${f}] ${level === 'information' ? '' : level + ': '}${message}`),
    });
    // The engine matches yielded tasks by identity, so it reads the orchestrator state as the handler built it.
    return triggerType === 'orchestrationTrigger' ? result.rawResult : fromTypedData(result.returnValue);
  }

  /**
   * Invokes any non-HTTP function with a JSON input (Event Grid, timers, Service Bus, the admin API); `serialised`
   * says the input is already its JSON text.
   */
  async invokeWithInput(fn: RegisteredFunction, input: unknown, serialised = false): Promise<unknown> {
    const data = serialised ? { json: input as string } : jsonData(input);
    const result = await invokeFunction(this.registry, fn, [{ name: fn.triggerName, data }, ...this.#extraInputs(fn)], {
      log: (f, _id, _level, message) => this.#log(`[${f}] ${message}`),
    });
    return fromTypedData(result.returnValue);
  }

  async #invokeTimer(name: string, info: TimerInfo): Promise<void> {
    const fn = this.registry.get(name);
    if (fn) await this.invokeWithInput(fn, info);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // Joined, not resolved: a path such as `//` or `//host/x` is a path here, never another origin.
    const url = URL.parse(`${this.#origin}${req.url ?? '/'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    if (!url || !decodePathSegments(url.pathname)) {
      req.resume();
      return send(res, 400, { error: `The request target ${req.url} is not a valid path (a malformed %-escape?).` });
    }
    try {
      const body = await readBody(req, this.#bodyLimit);
      const pathname = url.pathname;
      if (pathname === '/runtime/webhooks/eventgrid') {
        const reply = await handleEventGridWebhook(
          { method, query: url.searchParams, headers: req.headers, body: body.toString('utf8') },
          {
            exists: (name) => this.registry.get(name)?.trigger.type === 'eventGridTrigger',
            invoke: async (name, _event, json) => {
              await this.invokeWithInput(this.registry.get(name)!, json, true);
            },
          },
        );
        return send(res, reply.status, reply.body, reply.headers);
      }
      if (pathname.startsWith('/runtime/webhooks/durabletask/')) {
        const reply = await handleDurableHttp(this.engine, {
          method,
          path: pathname.slice('/runtime/webhooks/durabletask/'.length),
          query: url.searchParams,
          body: body.toString('utf8'),
          origin: this.#origin,
          headers: req.headers,
        });
        return send(res, reply.status, reply.body, reply.headers);
      }
      if (pathname.startsWith('/admin/')) return await this.#handleAdmin(method, pathname, body, res);
      if (this.#topic && pathname === EVENT_GRID_TOPIC_PATH) {
        const reply = this.#topic.publish({ method, query: url.searchParams, headers: req.headers, body });
        return send(res, reply.status, reply.body);
      }
      if (this.#topic && pathname === EVENT_STREAM_PATH) {
        if (method !== 'GET') return send(res, 405, { error: `${method} is not allowed here.` });
        const reply = this.#topic.serve(url.searchParams);
        return send(res, reply.status, reply.body);
      }

      const prefix = this.routePrefix ? `/${this.routePrefix}` : '';
      if (prefix && !(pathname === prefix || pathname.startsWith(prefix + '/'))) {
        return send(res, 404, { error: `No route for ${pathname}.` });
      }
      const match = this.routes.match(method, pathname.slice(prefix.length));
      if (match.kind === 'none') return send(res, 404, { error: `No function for ${method} ${pathname}.` });
      if (match.kind === 'method-not-allowed') return send(res, 405, { error: `${method} is not allowed here.` });
      await this.#invokeHttp(match.route.target, match.params, req, url, body, res);
    } catch (err) {
      if (err instanceof BodyTooLarge) return send(res, 413, { error: err.message });
      this.#log(`Request ${method} ${url.pathname} failed: ${err instanceof Error ? err.stack : String(err)}`);
      if (!res.headersSent) send(res, 500, { error: 'The function failed; see the host log.' });
      else res.end();
    }
  }

  async #invokeHttp(
    fn: RegisteredFunction,
    params: Record<string, string>,
    req: http.IncomingMessage,
    url: URL,
    body: Buffer,
    res: http.ServerResponse,
  ): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    const httpData = {
      method: req.method ?? 'GET',
      url: url.href,
      headers,
      query: Object.fromEntries(url.searchParams),
      params,
      body: { bytes: body },
    };
    let result;
    try {
      result = await invokeFunction(
        this.registry,
        fn,
        [{ name: fn.triggerName, data: { http: httpData } }, ...this.#extraInputs(fn)],
        {
          log: (f, _id, _level, message) => this.#log(`[${f}] ${message}`),
        },
      );
    } catch (err) {
      // The real host answers an unhandled exception with a bare 500.
      this.#log(`[${fn.name}] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      res.writeHead(500).end();
      return;
    }
    const reply = result.returnValue?.http;
    if (!reply) {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(Number(reply.statusCode ?? 200), reply.headers ?? {});
    const replyBody = reply.body?.bytes ?? reply.body?.string;
    res.end(replyBody === undefined ? undefined : Buffer.from(replyBody as Uint8Array));
  }

  /** Core Tools' admin surface: invoke a non-HTTP function, list functions, host status. */
  async #handleAdmin(method: string, pathname: string, body: Buffer, res: http.ServerResponse): Promise<void> {
    if (method === 'GET' && pathname === '/admin/host/status') {
      return send(res, 200, { state: 'Running', version: '4.0.0-local', functions: this.registry.functions.size });
    }
    if (method === 'GET' && pathname === '/admin/functions') return send(res, 200, this.describe());
    const match = /^\/admin\/functions\/([^/]+)$/.exec(pathname);
    if (method === 'POST' && match) {
      const fn = this.registry.get(decodeURIComponent(match[1] as string));
      if (!fn) return send(res, 404, { error: `No function named "${match[1]}".` });
      if (fn.trigger.type === 'httpTrigger') return send(res, 400, { error: 'Call HTTP functions on their route.' });
      let input: unknown;
      try {
        input = body.length ? (JSON.parse(body.toString('utf8')) as { input?: unknown }).input : undefined;
      } catch {
        return send(res, 400, { error: 'The body must be JSON: {"input": ...}.' });
      }
      const value = typeof input === 'string' ? tryParse(input) : input;
      void this.invokeWithInput(fn, value ?? defaultInput(fn)).catch((err: unknown) =>
        this.#log(`[${fn.name}] failed: ${err instanceof Error ? err.message : String(err)}`),
      );
      return send(res, 202);
    }
    return send(res, 404, { error: `No admin route ${method} ${pathname}.` });
  }

  /** One line per function: name, trigger, and where it listens. */
  describe(): { name: string; trigger: string; url?: string }[] {
    return [...this.registry.functions.values()].map((fn) => {
      const entry = { name: fn.name, trigger: fn.trigger.type } as { name: string; trigger: string; url?: string };
      if (fn.trigger.type === 'httpTrigger') {
        const route = typeof fn.trigger.route === 'string' ? fn.trigger.route : fn.name;
        entry.url = `${this.#origin}/${this.routePrefix ? this.routePrefix + '/' : ''}${route}`;
      } else if (fn.trigger.type === 'eventGridTrigger') {
        entry.url = `${this.#origin}/runtime/webhooks/eventgrid?functionName=${fn.name}`;
      } else if (fn.trigger.type === 'timerTrigger') {
        entry.url = `schedule ${String(fn.trigger.schedule)}`;
      }
      return entry;
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    this.#server?.closeAllConnections?.();
    await this.#timers?.stop();
    await this.engine?.stop();
    this.#store?.close();
    this.#statusStore?.close();
    this.#topic?.close();
    for (const hook of this.registry.hooksFor('appTerminate')) await hook({ hookData: {} });
  }
}

function defaultInput(fn: RegisteredFunction): unknown {
  return fn.trigger.type === 'timerTrigger'
    ? { Schedule: { AdjustForDST: true }, ScheduleStatus: null, IsPastDue: false }
    : { id: randomUUID() };
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      req.resume();
      reject(new BodyTooLarge(`The request body is larger than ${limit} bytes.`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge(`The request body is larger than ${limit} bytes.`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
  res.writeHead(status, { 'content-type': type, ...headers }).end(text);
}
