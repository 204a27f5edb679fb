/**
 * Scoring over an Azure ML online endpoint's data plane: `POST {scoringUri}` with the endpoint key, optionally
 * pinned to one deployment by the `azureml-model-deployment` header (which bypasses the traffic split).
 */
import https from 'node:https';
import type { ScoreRequest, ScoreResult, Scoring } from '../ports';

export class ScoringError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly deployment: string | undefined,
  ) {
    super(message);
  }
}

export class EndpointScoring implements Scoring {
  readonly #agent: https.Agent;

  /** `caCert`: an extra CA to trust, for endpoints with a private certificate. */
  constructor(options: { caCert?: string; timeoutMs?: number } = {}) {
    this.#agent = new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      ...(options.caCert ? { ca: options.caCert } : {}),
    });
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  readonly #timeoutMs: number;

  score(request: ScoreRequest): Promise<ScoreResult> {
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
