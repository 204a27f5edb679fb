import { Agent, request as httpsRequest } from 'node:https';
import { DEFAULT_API_VERSION } from './workspace';

export interface ClientTarget {
  armEndpoint: string;
  caCert: string;
  token: string;
  subscriptionId: string;
  resourceGroup: string;
  workspaceName: string;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON body, or undefined when empty or not JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- callers read arbitrary ARM JSON
  body: any;
}

/**
 * A small raw-REST client for the local workspace (https with its CA, bearer token, keep-alive). Tests use it for
 * requests the typed SDK cannot make (malformed bodies, other api-versions); fixtures use it to set up endpoints.
 */
export class WorkspaceRestClient {
  readonly agent: Agent;

  constructor(readonly target: ClientTarget) {
    this.agent = new Agent({ keepAlive: true, ca: target.caCert, maxSockets: 64 });
  }

  close(): void {
    this.agent.destroy();
  }

  get workspacePath(): string {
    const t = this.target;
    return `/subscriptions/${t.subscriptionId}/resourceGroups/${t.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${t.workspaceName}`;
  }

  /** Any request; `path` is absolute (https://...) or relative to the ARM endpoint. */
  request(
    method: string,
    path: string,
    opts: { body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string>; token?: string | null } = {},
  ): Promise<RawResponse> {
    const url = new URL(path, this.target.armEndpoint);
    const payload =
      opts.rawBody !== undefined ? opts.rawBody : opts.body !== undefined ? JSON.stringify(opts.body) : undefined;
    const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
    const token = opts.token === undefined ? this.target.token : opts.token;
    if (token !== null && !headers.authorization) headers.authorization = `Bearer ${token}`;
    if (payload !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        { hostname: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown;
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {
              body = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A request under the workspace: `rest` like `/onlineEndpoints/ep`. */
  arm(
    method: string,
    rest: string,
    body?: unknown,
    opts: { apiVersion?: string | null; rawBody?: string; token?: string | null } = {},
  ): Promise<RawResponse> {
    const apiVersion = opts.apiVersion === undefined ? DEFAULT_API_VERSION : opts.apiVersion;
    const sep = rest.includes('?') ? '&' : '?';
    const q = apiVersion === null ? '' : `${sep}api-version=${encodeURIComponent(apiVersion)}`;
    return this.request(method, `${this.workspacePath}${rest}${q}`, { body, rawBody: opts.rawBody, token: opts.token });
  }

  /** Follows an LRO answer (Azure-AsyncOperation or Location) until it finishes; returns the final status body. */
  async waitForOperation(
    res: RawResponse,
    pollMs = 20,
    timeoutMs = 60_000,
  ): Promise<{ status: string; error?: unknown }> {
    const asyncOp = res.headers['azure-asyncoperation'];
    const location = res.headers.location;
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (typeof asyncOp === 'string') {
        const r = await this.request('GET', asyncOp);
        if (r.body?.status && r.body.status !== 'InProgress') return r.body;
      } else if (typeof location === 'string') {
        const r = await this.request('GET', location);
        if (r.status !== 202) return { status: r.status < 300 ? 'Succeeded' : 'Failed', error: r.body?.error };
      } else {
        return { status: res.status < 300 ? 'Succeeded' : 'Failed', error: res.body?.error };
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
    throw new Error('timed out waiting for a long-running operation');
  }

  /** PUT a resource and wait for its LRO; throws with the ARM error when either fails. */
  async putAndWait(rest: string, body: unknown, apiVersion?: string): Promise<RawResponse> {
    const res = await this.arm('PUT', rest, body, { apiVersion });
    if (res.status >= 300) throw new Error(`PUT ${rest} failed: ${res.status} ${res.text}`);
    const op = await this.waitForOperation(res);
    if (op.status !== 'Succeeded') throw new Error(`PUT ${rest} ${op.status}: ${JSON.stringify(op.error)}`);
    return this.arm('GET', rest, undefined, { apiVersion });
  }

  /** POST to a scoring URI with a key or token. */
  score(scoringUri: string, key: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
    return this.request('POST', scoringUri, {
      body,
      headers: { authorization: `Bearer ${key}`, ...headers },
      token: null,
    });
  }
}
