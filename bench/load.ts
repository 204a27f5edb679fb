/**
 * SUITE 4: load. 10,000 instances parked in the approval wait's shape (a decision event raced with a 24 h timer)
 * on one local durable engine, in a child process of its own (bench/parked-host.ts) so its memory is its own.
 * Measured side by side in one run:
 *  - starting them all through the Durable HTTP API (64 requests in flight) until every one is parked;
 *  - the engine process's resident memory with all of them parked (and its peak);
 *  - paged listing (`GET …/instances?top=50`, following `x-ms-continuation-token`: the query the promotion list
 *    makes) p50/p99 over every page;
 *  - a restart after kill -9: from spawning the new process until it serves and has resumed everything the store
 *    holds, and until a decision raised to one instance has completed it;
 *  - then a decision raised to every instance: each completes exactly once with its own decision (nothing lost or
 *    duplicated), and the drain rate.
 * Then 1,000 promotions at once across 50 models on the embedded default (bench/load-promotions.ts), in a child
 * process of its own too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RESULT_MARK } from './load-promotions';
import { DECISION_EVENT, PARKED_ORCHESTRATION } from './parked-host';
import { fmt, int, log, ms, now, percentile, sortedCopy, type Row, type SuiteResult } from './report';

export interface LoadOptions {
  /** Instances parked in the approval wait. */
  instances?: number;
  /** Requests in flight while starting instances and raising decisions. */
  inFlight?: number;
  /** Page size of the listing. */
  pageSize?: number;
}

const GOALS = { rssMb: 300, restartMs: 2_000, listP99Ms: 100 };
const WEBHOOK = '/runtime/webhooks/durabletask';

interface Host {
  child: ChildProcess;
  base: string;
  lines: AsyncIterator<string>;
}

async function nextLine(host: Host, prefix: string): Promise<string> {
  for (;;) {
    const next = await host.lines.next();
    if (next.done) throw new Error(`parked host exited before printing "${prefix}"`);
    if (next.value.startsWith(prefix)) return next.value;
  }
}

async function spawnHost(dataDir: string): Promise<Host> {
  const child = spawn(process.execPath, [join(__dirname, 'parked-host.js'), dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const host: Host = { child, base: '', lines };
  const port = (await nextLine(host, 'listening ')).split(' ')[1];
  host.base = `http://127.0.0.1:${port}${WEBHOOK}`;
  return host;
}

function residentMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function call(url: string, init?: RequestInit): Promise<Response> {
  const res = await fetch(url, init);
  if (res.status >= 400) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return res;
}

/** Runs fn over 0..n-1 with at most `limit` calls in flight. */
async function forEachLimited(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

interface Page {
  ms: number;
  instances: { instanceId: string; runtimeStatus: string; output?: unknown }[];
}

/** Every instance matching `query`, page by page, with each page's latency. */
async function listAll(host: Host, query: string, pageSize: number): Promise<Page[]> {
  const pages: Page[] = [];
  let token: string | null = null;
  do {
    const t = now();
    const res = await call(`${host.base}/instances/?top=${pageSize}&showInput=false${query}`, {
      headers: token ? { 'x-ms-continuation-token': token } : {},
    });
    const instances = (await res.json()) as Page['instances'];
    pages.push({ ms: now() - t, instances });
    token = res.headers.get('x-ms-continuation-token');
  } while (token);
  return pages;
}

const count = (pages: Page[]) => pages.reduce((n, p) => n + p.instances.length, 0);

/** Waits until no instance matches `query` (e.g. none still Pending). */
async function until(host: Host, query: string, what: string, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (count(await listAll(host, query, 1_000)) > 0) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stop(host: Host, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (host.child.exitCode !== null || host.child.signalCode !== null) return resolve();
    host.child.once('exit', () => resolve());
    host.child.kill(signal);
  });
}

/** bench/load-promotions.ts in a process of its own; its rows and notes. */
async function promotionsAtScale(): Promise<{ rows: Row[]; notes: string[] }> {
  const child = spawn(process.execPath, [join(__dirname, 'load-promotions.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`promotions at scale exited with ${code}`);
  const line = Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .find((l) => l.startsWith(RESULT_MARK));
  if (!line) throw new Error('promotions at scale printed no result');
  return JSON.parse(line.slice(RESULT_MARK.length)) as { rows: Row[]; notes: string[] };
}

const instanceId = (i: number) => `park-${String(i).padStart(5, '0')}`;

export async function runLoadSuite(opts: LoadOptions = {}): Promise<SuiteResult> {
  const started = now();
  const n = opts.instances ?? 10_000;
  const inFlight = opts.inFlight ?? 64;
  const pageSize = opts.pageSize ?? 50;
  const dir = mkdtempSync(join(tmpdir(), 'champion-load-'));
  let host = await spawnHost(dir);
  try {
    log(`load: starting ${int(n)} instances of ${PARKED_ORCHESTRATION}`);
    const t0 = now();
    await forEachLimited(n, inFlight, async (i) => {
      await call(`${host.base}/orchestrators/${PARKED_ORCHESTRATION}/${instanceId(i)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ i }),
      });
    });
    const acceptedMs = now() - t0;
    await until(host, '&runtimeStatus=Pending', 'every instance is parked');
    const parkedMs = now() - t0;
    const parkedMemory = residentMb(host.child.pid!);

    log('load: paging through every instance');
    const pages = await listAll(host, '&runtimeStatus=Running', pageSize);
    if (count(pages) !== n) throw new Error(`listed ${count(pages)} running instances, expected ${n}`);
    const pageMs = sortedCopy(pages.map((p) => p.ms));

    log('load: kill -9 and restart');
    await stop(host, 'SIGKILL');
    const r0 = now();
    host = await spawnHost(dir);
    const servingMs = now() - r0;
    await nextLine(host, 'idle');
    const readyMs = now() - r0;
    const restartedMemory = residentMb(host.child.pid!);
    const probe = instanceId(Math.floor(n / 2));
    await call(`${host.base}/instances/${probe}/raiseEvent/${DECISION_EVENT}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve', i: Math.floor(n / 2) }),
    });
    for (;;) {
      const status = (await (await call(`${host.base}/instances/${probe}`)).json()) as { runtimeStatus: string };
      if (status.runtimeStatus === 'Completed') break;
      await new Promise((r) => setTimeout(r, 2));
    }
    const firstDecisionMs = now() - r0;

    log(`load: a decision to every instance`);
    const d0 = now();
    await forEachLimited(n, inFlight, async (i) => {
      if (instanceId(i) === probe) return;
      await call(`${host.base}/instances/${instanceId(i)}/raiseEvent/${DECISION_EVENT}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve', i }),
      });
    });
    await until(host, '&runtimeStatus=Running,Pending', 'every instance took its decision');
    const drainSeconds = (now() - d0) / 1000;

    // Nothing lost or duplicated: every instance completed once, with its own decision.
    const done = (await listAll(host, '&runtimeStatus=Completed', 1_000)).flatMap((p) => p.instances);
    const ids = new Set(done.map((s) => s.instanceId));
    const wrong = done.filter((s) => (s.output as { i?: number } | undefined)?.i !== Number(s.instanceId.slice(5)));
    const failed = count(await listAll(host, '&runtimeStatus=Failed,Terminated', 1_000));
    const intact = done.length === n && ids.size === n && wrong.length === 0 && failed === 0;

    const rows: Row[] = [
      { metric: `instances parked (start → all waiting)`, value: `${int(n)} in ${fmt(parkedMs / 1000, 2)} s` },
      { metric: 'starts accepted/s (HTTP, 64 in flight)', value: fmt(n / (acceptedMs / 1000)) },
      {
        metric: 'resident memory, all parked',
        value: `${fmt(parkedMemory.rss)} MB`,
        goal: `≤ ${GOALS.rssMb} MB`,
        met: parkedMemory.rss <= GOALS.rssMb,
      },
      {
        metric: 'peak resident memory (starting them)',
        value: `${fmt(parkedMemory.peak)} MB`,
        goal: `≤ ${GOALS.rssMb} MB`,
        met: parkedMemory.peak <= GOALS.rssMb,
      },
      {
        metric: `list p50, page of ${pageSize} (${pages.length} pages)`,
        value: ms(percentile(pageMs, 0.5)),
      },
      {
        metric: `list p99, page of ${pageSize}`,
        value: ms(percentile(pageMs, 0.99)),
        goal: `≤ ${GOALS.listP99Ms} ms`,
        met: percentile(pageMs, 0.99) <= GOALS.listP99Ms,
      },
      {
        metric: 'restart (kill -9) → serving and every instance resumed',
        value: ms(readyMs),
        goal: `≤ ${fmt(GOALS.restartMs)} ms`,
        met: readyMs <= GOALS.restartMs,
      },
      { metric: 'restart → serving HTTP', value: ms(servingMs) },
      { metric: 'restart → one raised decision completed', value: ms(firstDecisionMs) },
      { metric: 'resident memory after restart', value: `${fmt(restartedMemory.rss)} MB` },
      { metric: 'decisions taken/s (all instances)', value: fmt(n / drainSeconds) },
      {
        metric: 'every instance completed once with its own decision',
        value: intact
          ? 'yes'
          : `no (${done.length} done, ${ids.size} distinct, ${wrong.length} wrong, ${failed} failed)`,
        goal: 'yes',
        met: intact,
      },
    ];
    log(`load: promotions at scale (a child process)`);
    const scale = await promotionsAtScale();
    rows.push(...scale.rows);
    const notes = [
      ...scale.notes,
      `engine in a child process (node ${process.version}), store <tmp>/durable.db with the host's pragmas; ` +
        `each instance: ExecutionStarted, a 24 h timer and a decision wait (Task.any), as promoteModel's approval`,
      `memory from /proc/PID/status (VmRSS, VmHWM); list pages through the Durable HTTP API the app's list uses`,
    ];
    return { name: 'load', rows, notes, seconds: (now() - started) / 1000 };
  } finally {
    await stop(host, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
