/**
 * HTTP load generator run in a worker thread (its own event loop, so on 2 cores the server under test keeps the main
 * thread): a keep-alive agent, `concurrency` lanes each sending one request at a time, a warm-up, then a fixed
 * number of measured requests. Posts a LoadResult back.
 */
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

export interface LoadJob {
  url: string;
  headers: Record<string, string>;
  body: string;
  concurrency: number;
  warmup: number;
  requests: number;
  /** CA certificate for https targets. */
  ca?: string;
  /** Response header whose values are counted (e.g. azureml-model-deployment). */
  countHeader?: string;
  /** Hard stop for each phase (ms); the loops are bounded in count and time. */
  maxMs: number;
  /** Post {warm: true} after the warm-up and wait for any message before measuring. */
  syncStart?: boolean;
}

export interface LoadResult {
  requests: number;
  elapsedMs: number;
  /** Per-request latency (ms), request written → response fully read, in completion order. */
  latenciesMs: Float64Array;
  statuses: Record<string, number>;
  headerCounts: Record<string, number>;
  errors: number;
  firstError?: string;
  /** Event-loop utilisation of the client thread during the measured phase (1 = saturated). */
  clientElu: number;
}

async function run(job: LoadJob): Promise<LoadResult> {
  const target = new URL(job.url);
  const isHttps = target.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: job.concurrency, maxFreeSockets: job.concurrency };
  const agent = isHttps ? new https.Agent({ ...agentOptions, ca: job.ca }) : new http.Agent(agentOptions);
  const body = Buffer.from(job.body);
  const headers = { ...job.headers, 'content-length': String(body.length) };
  const request = isHttps ? https.request : http.request;
  const countHeader = job.countHeader?.toLowerCase();

  const latencies = new Float64Array(job.requests);
  const statuses: Record<string, number> = {};
  const headerCounts: Record<string, number> = {};
  let errors = 0;
  let firstError: string | undefined;
  let measuring = false;
  let done = 0;

  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      const req = request(
        { agent, method: 'POST', hostname: target.hostname, port: target.port, path: target.pathname, headers },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => {
            if (measuring) {
              latencies[done] = performance.now() - start;
              done++;
              const s = String(res.statusCode);
              statuses[s] = (statuses[s] ?? 0) + 1;
              if (countHeader) {
                const v = String(res.headers[countHeader] ?? '(none)');
                headerCounts[v] = (headerCounts[v] ?? 0) + 1;
              }
            }
            resolve();
          });
        },
      );
      req.on('error', (err) => {
        errors++;
        firstError ??= err.message;
        resolve();
      });
      req.end(body);
    });

  const phase = async (count: number, deadline: number): Promise<void> => {
    let issued = 0;
    const lane = async (): Promise<void> => {
      while (issued < count && performance.now() < deadline && errors < 100) {
        issued++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: job.concurrency }, lane));
  };

  await phase(job.warmup, performance.now() + job.maxMs);
  // Several client threads start measuring together: report warm, wait for the go.
  if (job.syncStart && parentPort) {
    const port = parentPort;
    await new Promise<void>((resolve) => {
      port.once('message', () => resolve());
      port.postMessage({ warm: true });
    });
  }
  measuring = true;
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await phase(job.requests, t0 + job.maxMs);
  const elapsedMs = performance.now() - t0;
  const clientElu = performance.eventLoopUtilization(elu0).utilization;
  agent.destroy();
  return {
    requests: done,
    elapsedMs,
    latenciesMs: latencies.slice(0, done),
    statuses,
    headerCounts,
    errors,
    ...(firstError ? { firstError } : {}),
    clientElu,
  };
}

if (parentPort) {
  const port = parentPort;
  run(workerData as LoadJob).then(
    (result) => port.postMessage(result, [result.latenciesMs.buffer as ArrayBuffer]),
    (err: unknown) => port.postMessage({ crash: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
}
