/**
 * Part of SUITE 4 (load): many promotions at once on the embedded default (the local workspace and the local
 * Functions host running Champion, in this process). 50 models, 20 versions each, all registered together through
 * the official SDK with approval required; every registration makes the workspace deliver ModelRegistered to the
 * app. Measured: registration → every promotion waiting for a person or finished, the process's memory, and the
 * paged promotion list; checked: one promotion per version (nothing lost or duplicated) and, per model, one
 * version waiting for approval — the newest winner.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lab } from '../local/lab';
import { DEMO_EVAL_DATA, demoPolicy, freePort, startEmbedded, type Embedded } from '../local/start';
import type { PromotionStatus } from '../orchestrations/contract';
import { fmt, int, log, ms, now, percentile, sortedCopy, type Row } from './report';

export interface ScaleOptions {
  models?: number;
  versionsPerModel?: number;
  /** Registrations in flight. */
  inFlight?: number;
}

const GOALS = { rssMb: 300, listP99Ms: 100 };

interface Listed {
  id: string;
  runtimeStatus: string;
  status?: PromotionStatus;
  result?: { outcome?: string };
}

const modelName = (m: number) => `m${String(m).padStart(2, '0')}`;

function policies(models: number): unknown {
  const { retraining: _retraining, ...policy } = demoPolicy();
  return {
    policies: Array.from({ length: models }, (_, m) => ({
      ...policy,
      modelName: modelName(m),
      endpointName: `${modelName(m)}-ep`,
    })),
  };
}

/** Every promotion through GET /api/promotions?top=…, with the latency of each page. */
async function listPaged(api: string, top: number): Promise<{ promotions: Listed[]; pageMs: number[] }> {
  const promotions: Listed[] = [];
  const pageMs: number[] = [];
  let token: string | null = null;
  do {
    const t = now();
    const res = await fetch(`${api}/api/promotions?top=${top}`, {
      headers: token ? { 'x-ms-continuation-token': token } : {},
    });
    if (res.status !== 200) throw new Error(`GET /api/promotions?top=${top}: ${res.status} ${await res.text()}`);
    promotions.push(...((await res.json()) as Listed[]));
    pageMs.push(now() - t);
    token = res.headers.get('x-ms-continuation-token');
  } while (token);
  return { promotions, pageMs };
}

const waiting = (p: Listed) => p.runtimeStatus === 'Running' && p.status?.phase === 'awaiting-approval';
const settled = (p: Listed) => waiting(p) || !['Running', 'Pending'].includes(p.runtimeStatus);

function peakRssMb(): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 1024;
}

export async function measurePromotionsAtScale(opts: ScaleOptions = {}): Promise<{ rows: Row[]; notes: string[] }> {
  const models = opts.models ?? 50;
  const perModel = opts.versionsPerModel ?? 20;
  const total = models * perModel;
  const dir = mkdtempSync(path.join(tmpdir(), 'champion-load-promotions-'));
  const policiesFile = path.join(dir, 'policies.json');
  writeFileSync(policiesFile, JSON.stringify(policies(models)));
  const envBefore = { ...process.env };
  // The app logs its telemetry with console.log in this process; stdout carries the tables.
  const consoleLog = console.log;
  console.log = () => {};
  let embedded: Embedded | undefined;
  try {
    embedded = await startEmbedded({
      appDir: path.resolve(__dirname, '..', '..'),
      dataDir: path.join(dir, 'data'),
      port: await freePort(),
      workspacePort: 0,
      policiesFile,
      provisioningMs: 0,
      log: () => {},
    });
    const api = embedded.host.url;
    const lab = new Lab(embedded.workspace.workspaceJsonPath);
    // One trained model serves every registration: training is not what this measures.
    const trained = await lab.train({ name: modelName(0), version: 'base', seed: 7 });
    const rssBefore = process.memoryUsage().rss / 2 ** 20;

    log(`load: registering ${int(total)} versions of ${models} models at once`);
    const t0 = now();
    let next = 0;
    const register = async () => {
      while (next < total) {
        const i = next++;
        const name = modelName(i % models);
        await lab.register({ ...trained, name, version: String(Math.floor(i / models) + 1) });
      }
    };
    await Promise.all(Array.from({ length: opts.inFlight ?? 32 }, register));
    const registeredMs = now() - t0;

    let listed: Listed[] = [];
    let lastLog = now();
    for (;;) {
      listed = (await listPaged(api, 1000)).promotions;
      if (listed.length >= total && listed.every(settled)) break;
      if (now() - t0 > 1_800_000) throw new Error(`${listed.filter(settled).length}/${total} promotions settled`);
      if (now() - lastLog > 15_000) {
        log(`load: ${listed.filter(settled).length}/${total} promotions settled`);
        lastLog = now();
      }
      await sleep(250);
    }
    const settledMs = now() - t0;
    const rssSettled = process.memoryUsage().rss / 2 ** 20;

    log('load: paging through the promotions');
    const pageMs: number[] = [];
    for (let pass = 0; pass < 5; pass++) pageMs.push(...(await listPaged(api, 50)).pageMs);
    const sortedPages = sortedCopy(pageMs);

    // One promotion per version, and per model one version waiting for a person: the newest (every version is a
    // winner here, none has a champion to beat).
    const ids = new Set(listed.map((p) => p.id));
    const failed = listed.filter((p) => p.runtimeStatus === 'Failed' || p.result?.outcome === 'failed');
    const waitingVersions = new Map<string, string[]>();
    for (const p of listed.filter(waiting)) {
      const [, model, version] = p.id.split(':');
      waitingVersions.set(model!, [...(waitingVersions.get(model!) ?? []), version!]);
    }
    const newestWaits = Array.from({ length: models }, (_, m) => waitingVersions.get(modelName(m))).filter(
      (v) => v?.length === 1 && v[0] === String(perModel),
    ).length;
    const outcomes = new Map<string, number>();
    for (const p of listed) {
      const key = waiting(p) ? 'awaiting-approval' : (p.result?.outcome ?? p.runtimeStatus);
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }

    const rssMax = Math.max(rssSettled, peakRssMb());
    const rows: Row[] = [
      {
        metric: `promotions (${models} models × ${perModel} versions, approval required): registered → all settled`,
        value: `${int(total)} in ${fmt(settledMs / 1000, 1)} s`,
      },
      { metric: 'registrations through the SDK', value: `${fmt(registeredMs / 1000, 1)} s` },
      {
        metric: 'one promotion per version (nothing lost or duplicated)',
        value: ids.size === total && listed.length === total ? 'yes' : `no (${listed.length} listed, ${ids.size} ids)`,
        goal: 'yes',
        met: ids.size === total && listed.length === total,
      },
      {
        metric: 'models whose newest version alone waits for approval',
        value: `${newestWaits}/${models}`,
        goal: `${models}/${models}`,
        met: newestWaits === models,
      },
      {
        metric: 'failed promotions',
        value: String(failed.length),
        goal: '0',
        met: failed.length === 0,
      },
      {
        metric: 'resident memory (workspace + host + app, peak)',
        value: `${fmt(rssMax)} MB`,
        goal: `≤ ${GOALS.rssMb} MB`,
        met: rssMax <= GOALS.rssMb,
      },
      {
        metric: `GET /api/promotions?top=50 p50 (${pageMs.length} pages)`,
        value: ms(percentile(sortedPages, 0.5)),
      },
      {
        metric: 'GET /api/promotions?top=50 p99',
        value: ms(percentile(sortedPages, 0.99)),
        goal: `≤ ${GOALS.listP99Ms} ms`,
        met: percentile(sortedPages, 0.99) <= GOALS.listP99Ms,
      },
    ];
    const notes = [
      `outcomes: ${[...outcomes].map(([k, n]) => `${k} ${n}`).join(', ')}; memory before the registrations ` +
        `${fmt(rssBefore)} MB, once settled ${fmt(rssSettled)} MB`,
      `every version registers the same trained model; evaluation on ${DEMO_EVAL_DATA.name} (400 rows), ` +
        `provisioning at once`,
    ];
    return { rows, notes };
  } finally {
    console.log = consoleLog;
    await embedded?.close();
    for (const key of Object.keys(process.env)) if (!(key in envBefore)) delete process.env[key];
    Object.assign(process.env, envBefore);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts the line that carries the result, among whatever else the app prints. */
export const RESULT_MARK = 'load-promotions-result ';

// Run as a child of the load suite, so its memory figures are its own: prints the rows and notes as JSON.
if (require.main === module) {
  measurePromotionsAtScale().then(
    (result) => {
      process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
