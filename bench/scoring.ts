/**
 * SUITE 2: online-endpoint scoring of the local workspace (local/workspace) against bare Node servers.
 *
 * One run, same client settings for every target (keep-alive agent, same concurrency, same request body and
 * headers, warm-up, then a fixed number of requests), targets interleaved over a few rounds:
 *  (a) the endpoint over https with the 90/10 blue/green split (startScoringFixture),
 *  (b) the same endpoint over plain http (the fixture's plainHttpScoring listener),
 *  (c) a bare node:http server answering the endpoint's own JSON response body,
 *  (d) a bare node:https server with the workspace's certificate (what TLS alone costs).
 * The client runs in a worker thread; the servers share the main thread, as they would share a process.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { startScoringFixture, type ScoringFixture } from '../local/workspace/fixtures';
import type { LoadJob, LoadResult } from './load-worker';
import { fmt, int, log, median, ms, now, percentile, ratio, sortedCopy, type Row, type SuiteResult } from './report';

export interface ScoringOptions {
  concurrency?: number;
  /** Measured requests per target per round. */
  requests?: number;
  /** Warm-up requests per target per round (also opens the keep-alive connections). */
  warmup?: number;
  rounds?: number;
  /** Worker threads the client load is split over (same total concurrency); default 1 (BENCH_CLIENT_THREADS). */
  clientThreads?: number;
}

const GOAL_A_OVER_C = 0.5;
const DEPLOYMENT_HEADER = 'azureml-model-deployment';

interface Target {
  key: 'a' | 'b' | 'c' | 'd';
  label: string;
  url: string;
}

interface Aggregate {
  requests: number;
  elapsedMs: number;
  latencies: number[];
  statuses: Record<string, number>;
  headerCounts: Record<string, number>;
  errors: number;
  firstError?: string;
  /** Measured requests/s of each round. */
  rps: number[];
  serverElu: number[];
  clientElu: number[];
}

type WorkerMessage = LoadResult | { crash: string } | { warm: true };

/**
 * Runs the load in `threads` worker threads that split the concurrency and the request counts, warm up, then start
 * measuring together. Throughput = all measured requests / the slowest thread's measured time.
 */
async function runLoad(job: LoadJob, threads: number): Promise<LoadResult> {
  const workers: Worker[] = [];
  const results: Promise<LoadResult>[] = [];
  const warm: Promise<void>[] = [];
  const share = (n: number, i: number): number => Math.floor(n / threads) + (i < n % threads ? 1 : 0);
  for (let i = 0; i < threads; i++) {
    const part: LoadJob = {
      ...job,
      concurrency: share(job.concurrency, i),
      warmup: share(job.warmup, i),
      requests: share(job.requests, i),
      syncStart: true,
    };
    const worker = new Worker(join(__dirname, 'load-worker.js'), { workerData: part });
    workers.push(worker);
    let warmed!: () => void;
    warm.push(new Promise<void>((resolve) => (warmed = resolve)));
    results.push(
      new Promise<LoadResult>((resolve, reject) => {
        let settled = false;
        worker.on('message', (msg: WorkerMessage) => {
          if ('warm' in msg) return warmed();
          settled = true;
          if ('crash' in msg) reject(new Error(`load worker crashed: ${msg.crash}`));
          else resolve(msg);
        });
        worker.once('error', (err) => {
          settled = true;
          reject(err);
        });
        worker.once('exit', (code) => {
          if (!settled) reject(new Error(`load worker exited with code ${code} before reporting`));
        });
      }),
    );
  }
  try {
    await Promise.race([Promise.all(warm), Promise.all(results)]);
    for (const w of workers) w.postMessage('go');
    const parts = await Promise.all(results);
    const merged: LoadResult = {
      requests: 0,
      elapsedMs: 0,
      latenciesMs: new Float64Array(parts.reduce((s, p) => s + p.latenciesMs.length, 0)),
      statuses: {},
      headerCounts: {},
      errors: 0,
      clientElu: 0,
    };
    let offset = 0;
    for (const p of parts) {
      merged.requests += p.requests;
      merged.elapsedMs = Math.max(merged.elapsedMs, p.elapsedMs);
      merged.latenciesMs.set(p.latenciesMs, offset);
      offset += p.latenciesMs.length;
      for (const [k, n] of Object.entries(p.statuses)) merged.statuses[k] = (merged.statuses[k] ?? 0) + n;
      for (const [k, n] of Object.entries(p.headerCounts)) merged.headerCounts[k] = (merged.headerCounts[k] ?? 0) + n;
      merged.errors += p.errors;
      if (p.firstError) merged.firstError ??= p.firstError;
      merged.clientElu += p.clientElu / parts.length;
    }
    return merged;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** One POST from the main thread (probe): status, deployment header and body. */
function probe(
  url: string,
  headers: Record<string, string>,
  body: string,
  ca?: string,
): Promise<{ status: number; deployment?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const request = u.protocol === 'https:' ? https.request : http.request;
    const req = request(
      {
        method: 'POST',
        hostname: u.hostname,
        port: u.port,
        path: u.pathname,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        ...(ca ? { ca } : {}),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const dep = res.headers[DEPLOYMENT_HEADER];
          resolve({
            status: res.statusCode ?? 0,
            ...(typeof dep === 'string' ? { deployment: dep } : {}),
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Bare servers with the same server options as the workspace's listeners, answering `payload` to any request. */
async function startBaseline(
  kind: 'http' | 'https',
  payload: string,
  tls: { key: string; cert: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const length = String(Buffer.byteLength(payload));
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    req.on('data', () => {});
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': length });
      res.end(payload);
    });
  };
  const server =
    kind === 'https'
      ? https.createServer({ key: tls.key, cert: tls.cert, keepAlive: true }, handler)
      : http.createServer({ keepAlive: true }, handler);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${kind}://127.0.0.1:${port}/endpoints/baseline/score`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

function splitText(counts: Record<string, number>): string {
  const total = Object.values(counts).reduce((s, n) => s + n, 0);
  return Object.entries(counts)
    .sort((x, y) => y[1] - x[1])
    .map(([k, n]) => `${k} ${fmt((100 * n) / total, 1)} %`)
    .join(' / ');
}

export async function runScoringSuite(opts: ScoringOptions = {}): Promise<SuiteResult> {
  const started = now();
  const concurrency = opts.concurrency ?? 16;
  const requests = opts.requests ?? 5_000;
  const warmup = opts.warmup ?? 500;
  const rounds = opts.rounds ?? 7;
  const clientThreads = Math.max(1, opts.clientThreads ?? (Number(process.env.BENCH_CLIENT_THREADS) || 1));

  log('scoring: starting the workspace fixture (trains two models, deploys them at 90/10)');
  const fixture: ScoringFixture = await startScoringFixture({ plainHttpScoring: true, workspace: { log: () => {} } });
  const closers: (() => Promise<void>)[] = [];
  try {
    const body = JSON.stringify(fixture.sampleBody);
    const headers = {
      'content-type': 'application/json',
      authorization: `Bearer ${fixture.key}`,
    };
    // The JSON the endpoint answers (blue serves 90 %), served verbatim by the bare servers.
    const answer = await probe(fixture.scoringUri, { ...headers, [DEPLOYMENT_HEADER]: 'blue' }, body, fixture.caCert);
    if (answer.status !== 200) throw new Error(`scoring probe answered ${answer.status}: ${answer.body}`);
    const tls = { key: readFileSync(join(fixture.ws.dataDir, 'key.pem'), 'utf8'), cert: fixture.caCert };
    const plainBase = await startBaseline('http', answer.body, tls);
    closers.push(plainBase.close);
    const tlsBase = await startBaseline('https', answer.body, tls);
    closers.push(tlsBase.close);

    const targets: Target[] = [{ key: 'a', label: '(a) endpoint https 90/10', url: fixture.scoringUri }];
    if (fixture.plainScoringUri) {
      targets.push({ key: 'b', label: '(b) endpoint plain http', url: fixture.plainScoringUri });
    }
    targets.push({ key: 'c', label: '(c) bare node:http', url: plainBase.url });
    targets.push({ key: 'd', label: '(d) bare node:https', url: tlsBase.url });

    const agg = new Map<Target['key'], Aggregate>();
    for (const t of targets) {
      agg.set(t.key, {
        requests: 0,
        elapsedMs: 0,
        latencies: [],
        statuses: {},
        headerCounts: {},
        errors: 0,
        rps: [],
        serverElu: [],
        clientElu: [],
      });
    }
    for (let round = 1; round <= rounds; round++) {
      // Rotate the order each round so no target always follows the same one.
      const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
      for (const t of order) {
        log(`scoring: round ${round}/${rounds} ${t.label}: ${int(requests)} requests, ${concurrency} concurrent`);
        const elu0 = performance.eventLoopUtilization();
        const r = await runLoad(
          {
            url: t.url,
            headers,
            body,
            concurrency,
            warmup,
            requests,
            ca: fixture.caCert,
            countHeader: DEPLOYMENT_HEADER,
            maxMs: 60_000,
          },
          clientThreads,
        );
        // Main-thread (server) utilisation over the whole run, warm-up included: close enough to tell who saturates.
        const serverElu = performance.eventLoopUtilization(elu0).utilization;
        const a = agg.get(t.key)!;
        a.requests += r.requests;
        a.elapsedMs += r.elapsedMs;
        a.rps.push((r.requests * 1000) / r.elapsedMs);
        for (const l of r.latenciesMs) a.latencies.push(l);
        for (const [k, n] of Object.entries(r.statuses)) a.statuses[k] = (a.statuses[k] ?? 0) + n;
        for (const [k, n] of Object.entries(r.headerCounts)) a.headerCounts[k] = (a.headerCounts[k] ?? 0) + n;
        a.errors += r.errors;
        a.firstError ??= r.firstError;
        a.serverElu.push(serverElu);
        a.clientElu.push(r.clientElu);
      }
    }

    const fig = (k: Target['key']): { rps: number; p50: number; p99: number; a: Aggregate } | undefined => {
      const a = agg.get(k);
      if (!a) return undefined;
      const sorted = sortedCopy(a.latencies);
      return { rps: median(a.rps), p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), a };
    };
    /** Median over the rounds of the per-round throughput ratio x/y (each round measures both back to back). */
    const ratioOf = (x: Aggregate, y: Aggregate): number => median(x.rps.map((r, i) => r / y.rps[i]!));
    const A = fig('a')!;
    const B = fig('b');
    const C = fig('c')!;
    const D = fig('d')!;

    const rows: Row[] = [];
    const notes: string[] = [];
    for (const t of targets) {
      const f = fig(t.key)!;
      rows.push({ metric: `${t.label}: req/s`, value: int(f.rps) });
      rows.push({ metric: `${t.label}: p50 / p99`, value: `${ms(f.p50)} / ${ms(f.p99)}` });
      const non200 = Object.entries(f.a.statuses).filter(([s]) => s !== '200');
      if (non200.length > 0 || f.a.errors > 0) {
        rows.push({
          metric: `${t.label}: failed requests`,
          value: String(non200.reduce((s, [, n]) => s + n, 0) + f.a.errors),
        });
        notes.push(
          `${t.label}: statuses ${JSON.stringify(f.a.statuses)}, socket errors ${f.a.errors}` +
            (f.a.firstError ? ` (${f.a.firstError})` : ''),
        );
      }
    }
    const aOverC = ratioOf(A.a, C.a);
    rows.push({
      metric: '(a)/(c) throughput',
      value: ratio(aOverC),
      goal: `≥ ${GOAL_A_OVER_C}×`,
      met: aOverC >= GOAL_A_OVER_C,
    });
    rows.push({ metric: '(a)/(d) throughput', value: ratio(ratioOf(A.a, D.a)) });
    if (B) rows.push({ metric: '(b)/(c) throughput', value: ratio(ratioOf(B.a, C.a)) });
    rows.push({ metric: '(d)/(c) throughput (TLS alone)', value: ratio(ratioOf(D.a, C.a)) });

    const blue = A.a.headerCounts['blue'] ?? 0;
    const total = Object.values(A.a.headerCounts).reduce((s, n) => s + n, 0);
    const bluePct = total > 0 ? (100 * blue) / total : 0;
    rows.push({
      metric: `(a) observed split (${DEPLOYMENT_HEADER})`,
      value: splitText(A.a.headerCounts),
      goal: 'blue 90 / green 10 (±1 pt)',
      met: Math.abs(bluePct - 90) <= 1 && Math.abs(100 - bluePct - 10) <= 1,
    });

    notes.unshift(
      `client: ${clientThreads} worker thread(s), keep-alive agent, ${concurrency} concurrent, ` +
        `${int(warmup)} warm-up + ${int(requests)} measured requests per target per round, ${rounds} rounds ` +
        `(order rotated); body ${Buffer.byteLength(body)} B, answer ${Buffer.byteLength(answer.body)} B`,
      `req/s and ratios: median over the rounds (ratios per round, targets back to back); latency over all requests`,
      `event-loop utilisation server/client (median of rounds): ` +
        targets
          .map((t) => {
            const a = agg.get(t.key)!;
            return `${t.key} ${fmt(median(a.serverElu), 2)}/${fmt(median(a.clientElu), 2)}`;
          })
          .join(', ') +
        ' (client and server share the 2 cores)',
    );
    if (B) notes.push(`(b) observed split: ${splitText(B.a.headerCounts)}`);
    if (!B) notes.push('(b) skipped: the fixture offers no plain-http scoring listener');
    return { name: 'scoring', rows, notes, seconds: (now() - started) / 1000 };
  } finally {
    for (const close of closers.reverse()) await close();
    await fixture.close();
  }
}
