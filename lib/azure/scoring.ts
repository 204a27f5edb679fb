/**
 * Scoring over an Azure ML online endpoint's data plane: `POST {scoringUri}` with the endpoint key, optionally
 * pinned to one deployment by the `azureml-model-deployment` header (which bypasses the traffic split).
 *
 * 429 (more requests in flight than the deployment's allowance, or the endpoint's rate limit) and 503 are answered
 * again after a backoff, as the online-endpoint troubleshooting guide advises; a `Retry-After` sets the wait.
 */
import https from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import type { ScoreRequest, ScoreResult, Scoring } from '../ports';

export class ScoringError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly deployment: string | undefined,
    /** What the answer asked for before a retry, when it said. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** How often and how patiently a throttled or unavailable request is sent again. */
export interface ScoringRetry {
  /** Sends in all, the first included. */
  attempts: number;
  /** The first backoff; it doubles on each retry, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A longer `Retry-After` than this is not waited for here: the error goes to the caller. */
  maxRetryAfterMs: number;
}

const RETRIED_STATUS = new Set([429, 503]);
const DEFAULT_RETRY: ScoringRetry = { attempts: 6, baseDelayMs: 500, maxDelayMs: 16_000, maxRetryAfterMs: 60_000 };

/**
 * How long a 429/503 asks the client to wait, in milliseconds: `retry-after-ms` / `x-ms-retry-after-ms`, else
 * `Retry-After` in seconds or as an HTTP date; undefined when it does not say.
 */
export function retryAfterMs(
  headers: Record<string, string | string[] | undefined>,
  now = Date.now(),
): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = Number(headers[name]);
    if (headers[name] !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  }
  const value = headers['retry-after'];
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

export class EndpointScoring implements Scoring {
  readonly #agent: https.Agent;
  readonly #timeoutMs: number;
  readonly #retry: ScoringRetry;

  /** `caCert`: an extra CA to trust, for endpoints with a private certificate. */
  constructor(options: { caCert?: string; timeoutMs?: number; retry?: Partial<ScoringRetry> } = {}) {
    this.#agent = new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      ...(options.caCert ? { ca: options.caCert } : {}),
    });
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  async score(request: ScoreRequest): Promise<ScoreResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#send(request);
      } catch (err) {
        const retried = err instanceof ScoringError && RETRIED_STATUS.has(err.status);
        if (!retried || attempt >= this.#retry.attempts) throw err;
        const backoff = Math.min(this.#retry.baseDelayMs * 2 ** (attempt - 1), this.#retry.maxDelayMs);
        const wait = err.retryAfterMs ?? backoff;
        if (wait > this.#retry.maxRetryAfterMs) throw err;
        await delay(wait);
      }
    }
  }

  #send(request: ScoreRequest): Promise<ScoreResult> {
    const body = JSON.stringify({ input_data: { columns: request.columns, data: request.rows } });
    const headers: Record<string, string | number> = {
      authorization: `Bearer ${request.key}`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    };
    if (request.deployment) headers['azureml-model-deployment'] = request.deployment;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = https.request(
        request.scoringUri,
        { method: 'POST', headers, agent: this.#agent, timeout: this.#timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const latencyMs = performance.now() - started;
            const text = Buffer.concat(chunks).toString('utf8');
            const servedBy = res.headers['azureml-model-deployment'] as string | undefined;
            if ((res.statusCode ?? 500) >= 400) {
              reject(
                new ScoringError(
                  `Scoring answered ${res.statusCode}: ${text.slice(0, 300)}`,
                  res.statusCode ?? 500,
                  servedBy,
                  retryAfterMs(res.headers),
                ),
              );
              return;
            }
            try {
              resolve({ predictions: parsePredictions(JSON.parse(text)), servedBy, latencyMs });
            } catch (err) {
              reject(new ScoringError(`Scoring returned an unreadable body: ${(err as Error).message}`, 502, servedBy));
            }
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(new ScoringError(`Scoring timed out after ${this.#timeoutMs} ms`, 504, request.deployment)),
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Accepts the shapes scoring scripts commonly return: `[…]`, `{"predictions": […]}` or `{"result": […]}`. */
export function parsePredictions(body: unknown): number[] {
  const list = Array.isArray(body)
    ? body
    : ((body as { predictions?: unknown; result?: unknown }).predictions ?? (body as { result?: unknown }).result);
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    throw new Error('expected an array of numbers, or {"predictions": [numbers]}');
  }
  return list as number[];
}
