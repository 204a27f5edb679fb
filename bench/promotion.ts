/**
 * SUITE 3: promotions end to end on the embedded default (local/start.ts: the local Azure ML workspace and the
 * local Functions host running Champion, in this process).
 *
 * Models are trained up front (command jobs, in parallel) and registered one at a time through the official SDK;
 * each registration makes the workspace emit ModelRegistered, which it delivers to the app, which starts
 * `promote:demand:{version}`. One first model (no champion) is approved, then challengers of alternating quality
 * follow, each finishing before the next is registered (winners approved, so the champion swaps). Measured:
 *  1. event → decision: ModelRegistered's eventTime to the timeline entry `awaiting-approval` (or `done` for a
 *     lost evaluation), split by the timeline into delivery, provisioning (deploying → testing), smoke test and
 *     evaluation (1,000 evaluation rows scored on both champion and challenger through the deployment header);
 *  2. approval → traffic: POST of the approve link to the endpoint showing the challenger at 100 % (the ARM
 *     resource, and the traffic the scoring plane routes by), polled in-process every millisecond;
 *  3. ARM writes (PUT/PATCH/POST/DELETE) in the workspace's request log per full rollout, registration → promoted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createActivities, type ActivityHandlers } from '../lib/activities';
import { getApp } from '../lib/app';
import { policyFor, type Policy } from '../lib/domain/policy';
import { planBlueGreenRollout } from '../lib/domain/rollout-plan';
import { decideByLink, Inbox } from '../local/inbox';
import { Lab, type TrainedModel } from '../local/lab';
import { DEMO_ENDPOINT, DEMO_MODEL, demoPolicy, freePort, startEmbedded, type Embedded } from '../local/start';
import type { ArmRequestRow } from '../local/workspace/index';
import type { PromotionResult, PromotionStatus } from '../orchestrations/contract';
import { fmt, int, log, median, ms, now, percentile, ratio, sortedCopy, type Row, type SuiteResult } from './report';

export interface PromotionOptions {
  /** Measured challengers registered after the first model (≥ 20 for the percentiles to mean something). */
  challengers?: number;
  /** Challengers run first and left out of the figures (JIT and connection warm-up). */
  warmup?: number;
  /** Provisioning time of the second pass, which shows what waiting for Azure adds. */
  provisioningMs?: number;
  /** Measured challengers of that second pass. */
  provisionedChallengers?: number;
}

interface PassOptions {
  challengers: number;
  warmup: number;
  /** How long the local workspace keeps deployments and endpoint updates provisioning. */
  provisioningMs: number;
}

interface PassResult {
  provisioningMs: number;
  retryAfterSeconds: number;
  decisions: DecisionSample[];
  approvals: ApprovalSample[];
  losses: { version: string; writes: ArmRequestRow[] }[];
  firstModel?: { decisionMs: number; armMs: number };
  /** The plain script's durations over the same path (first pass only). */
  plainScriptMs: number[];
}

const GOALS = {
  decisionP50Ms: 50,
  decisionP99Ms: 200,
  trafficP99Ms: 20,
  writesPerRollout: 7,
  /** Champion's event → decision over the plain script's duration for the same calls. */
  overPlainScript: 1.5,
};

const MODEL = DEMO_MODEL;
const ENDPOINT = DEMO_ENDPOINT;
const EVAL_DATA = { name: 'bench-eval', version: '1' };
const EVAL_ROWS = 1000;
/**
 * Training-data quality (share of rows whose target follows the true relationship): the first model starts low,
 * every other challenger is a little better than the last better one (it usually wins and is approved), the others
 * are poor (they lose).
 */
const FIRST_QUALITY = 0.2;
const BEST_QUALITY = 1;
const POOR_QUALITY = 0.1;
const APPROVER = 'ana';

/** The demo policy of local/start.ts, evaluated on 1,000 rows. */
function benchPolicies(): unknown {
  const policy = demoPolicy();
  return {
    policies: [{ ...policy, evaluation: { ...policy.evaluation, dataAsset: EVAL_DATA, minSamples: EVAL_ROWS } }],
  };
}

interface PromotionView {
  runtimeStatus: string;
  status?: PromotionStatus;
  result?: PromotionResult;
}

type TimelineEntry = PromotionStatus['timeline'][number];

type Trained = TrainedModel & { quality: number };

interface DecisionSample {
  version: string;
  quality: number;
  /** 'awaiting-approval' or the outcome it finished with. */
  reached: string;
  evidence: string;
  rows?: number;
  totalMs: number;
  deliveryMs: number;
  /** preparing → deploying: the model's lock and reading the endpoint. */
  lockMs: number;
  provisioningMs: number;
  smokeMs: number;
  evaluationMs: number;
  /** evaluated → approval request: the stage tags and the approval links (0 for a loser). */
  stagingMs: number;
  /** Durable store transactions (each an fsync) and the commits grouped in them, registration → decision seen. */
  durableTransactions: number;
  durableCommits: number;
}

interface ApprovalSample {
  version: string;
  /** POST of the approve link → the endpoint resource (ARM, GET /api/endpoints) shows the challenger at 100 %. */
  armMs: number;
  /** … → the scoring plane routes 100 % to it (the endpoint update finished provisioning). */
  routedMs: number;
  /** … → the orchestration's 'traffic →' timeline entry (it decided to move traffic). */
  shiftEntryMs: number;
  /** ARM writes after the registration PUT, up to promoted. */
  writes: ArmRequestRow[];
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  intervalMs: number,
): Promise<T> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function entry(timeline: TimelineEntry[], phase: string, after = 0): TimelineEntry | undefined {
  return timeline.find((e) => e.phase === phase && Date.parse(e.at) >= after);
}

function at(e: TimelineEntry | undefined, what: string): number {
  if (!e) throw new Error(`the promotion's timeline has no ${what} entry`);
  return Date.parse(e.at);
}

/** `/subscriptions/…/workspaces/{ws}/onlineEndpoints/x` → `onlineEndpoints/x`. */
function pathTail(p: string): string {
  return p.replace(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/[^/]+\/workspaces\/[^/]+\/?/i, '');
}

function stats(values: number[]): { p50: number; p99: number } {
  const sorted = sortedCopy(values);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/** How often the bench looks whether a promotion has decided (see `decided`). */
const DECISION_LOOK_MS = 150;

/** A model no policy covers: its registrations start no promotion, so the plain script has the path to itself. */
const PLAIN_MODEL = 'demand-plain';

/**
 * The baseline the promotion is compared with: a plain script that makes a winner's calls in sequence with
 * Champion's own activity code (the same adapters, workspace calls and scoring requests), without the durable
 * runtime, events or the model's lock: read the endpoint, deploy to the idle slot and poll until it serves,
 * smoke-test it through the header, evaluate it against the champion, tag it staged and ask for approval. The slot
 * is emptied afterwards, untimed (as a loser's is after its decision). Returns its duration.
 */
async function plainScript(activities: ActivityHandlers, policy: Policy, version: string): Promise<number> {
  const started = now();
  const endpointName = policy.endpointName;
  await activities.findNewerWinner({ modelName: PLAIN_MODEL, modelVersion: version });
  const view = await activities.readEndpoint({ endpointName });
  const plan = planBlueGreenRollout({
    traffic: view.traffic,
    deployments: Object.keys(view.deployments),
    steps: policy.rollout.steps,
  });
  const slot = plan.challenger;
  const promotionId = `plain:${version}`;
  const deploy = await activities.beginDeploy({
    endpointName,
    slot,
    modelName: PLAIN_MODEL,
    modelVersion: version,
    instanceType: policy.rollout.instanceType,
    instanceCount: policy.rollout.instanceCount,
    requestSettings: policy.rollout.requestSettings,
    promotionId,
  });
  if (!deploy.ok) throw new Error(`plain script: deploy failed: ${deploy.message}`);
  // As the flow waits: at once when ARM says the operation is done, else as long as it asks.
  for (let wait = deploy.retryAfterSeconds; ;) {
    if (wait > 0) await sleep(wait * 1000);
    const check = await activities.checkProvisioning({ endpointName, slot, operationUrl: deploy.operationUrl });
    if (check.state === 'Succeeded') break;
    if (check.state === 'Failed') throw new Error(`plain script: provisioning failed: ${check.message}`);
    wait = Math.max(1, check.retryAfterSeconds);
  }
  const test = await activities.testDeployment({
    endpointName,
    slot,
    testSpec: policy.rollout.testSpec,
    evaluation: policy.evaluation,
  });
  if (!test.ok) throw new Error(`plain script: smoke test failed: ${test.failures.join('; ')}`);
  const evidence = await activities.evaluateChallenger({
    policy,
    endpointName,
    championSlot: plan.champion,
    challengerSlot: slot,
  });
  await activities.changeStage({ modelName: PLAIN_MODEL, modelVersion: version, transition: 'stage', promotionId });
  await activities.requestApproval({
    promotionId,
    modelName: PLAIN_MODEL,
    modelVersion: version,
    evidenceSummary: `${evidence.decision}: ${evidence.reason}`,
    expiresAt: new Date(Date.now() + policy.approval.timeoutMs).toISOString(),
    nonce: `${promotionId}:approval`,
  });
  const duration = now() - started;
  await activities.deleteDeployment({ endpointName, slot });
  return duration;
}

/**
 * One embedded default and one first model, then each pass's challengers one at a time, with the workspace's
 * provisioning time set per pass: the samples of every step.
 */
async function measurePasses(passes: PassOptions[]): Promise<PassResult[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'champion-bench-promotion-'));
  const policiesFile = path.join(dir, 'policies.json');
  const dataDir = path.join(dir, 'data');
  writeFileSync(policiesFile, JSON.stringify(benchPolicies(), null, 2));
  const hostLog: string[] = [];
  const envBefore = { ...process.env };
  // The app logs (telemetry, approval notices) with console.log in this process: keep them off stdout, which
  // carries the tables, and at hand for a crash report.
  const consoleLog = console.log;
  console.log = (...args: unknown[]) => {
    hostLog.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    if (hostLog.length > 200) hostLog.splice(0, 100);
  };
  let embedded: Embedded | undefined;
  const withHostLog = (err: unknown): Error => {
    const e = err instanceof Error ? err : new Error(String(err));
    if (hostLog.length > 0) e.message += `\nlast host log lines:\n  ${hostLog.slice(-15).join('\n  ')}`;
    return e;
  };
  try {
    log(`promotion: starting the embedded default (workspace + Functions host)`);
    embedded = await startEmbedded({
      appDir: path.resolve(__dirname, '..', '..'),
      dataDir,
      port: await freePort(),
      workspacePort: 0,
      policiesFile,
      provisioningMs: passes[0]?.provisioningMs ?? 0,
      log: (line) => {
        hostLog.push(line);
        if (hostLog.length > 200) hostLog.splice(0, 100);
      },
    });
    const { host, workspace } = embedded;
    const api = host.url;
    const engine = workspace.workspace;
    const retryAfterSeconds = engine.opts.retryAfterSeconds;
    await workspace.generateData({
      ...EVAL_DATA,
      rows: EVAL_ROWS,
      seed: 4242,
      description: 'Benchmark evaluation rows',
    });
    const lab = new Lab(workspace.workspaceJsonPath);

    const promotion = async (id: string): Promise<PromotionView | undefined> => {
      const res = await fetch(`${api}/api/promotions/${encodeURIComponent(id)}`);
      if (res.status !== 200) {
        await res.arrayBuffer();
        return undefined;
      }
      return (await res.json()) as PromotionView;
    };
    const settled = (p: PromotionView | undefined): boolean =>
      p !== undefined && p.runtimeStatus !== 'Running' && p.runtimeStatus !== 'Pending';
    /**
     * Until the promotion waits for a person or has finished. Looked at rarely: the times come from the timeline's
     * stamps, not from when the bench sees them, and each look (an API request, a status read) shares the one thread
     * with the promotion it times, a cost the plain script, which nobody watches, does not pay.
     */
    const decided = (id: string) =>
      waitFor(
        `${id} to reach a decision`,
        async () => {
          const p = await promotion(id);
          return p && (p.status?.phase === 'awaiting-approval' || settled(p)) ? p : undefined;
        },
        30_000,
        DECISION_LOOK_MS,
      );
    const finished = (id: string) =>
      waitFor(`${id} to finish`, async () => ((p) => (settled(p) ? p : undefined))(await promotion(id)), 30_000, 20);
    /** No LRO open in the workspace (a deleted slot is really gone before the next challenger needs it). */
    const quiet = () =>
      waitFor(
        'the workspace operations to finish',
        () => engine.store.openOperations().length === 0 || undefined,
        10_000,
        5,
      );
    const eventTime = (version: string) =>
      waitFor(
        `ModelRegistered for ${MODEL}:${version}`,
        () => {
          const e = workspace
            .events({ type: 'ModelRegistered' })
            .find((ev) => ev.data.ModelName === MODEL && String(ev.data.ModelVersion) === version);
          return e ? Date.parse(e.eventTime) : undefined;
        },
        5_000,
        2,
      );
    /** The deployment (slot) that serves `version`, from the workspace's own state. */
    const slotOf = (version: string): string | undefined => {
      const ep = engine.store.get(`onlineEndpoints/${ENDPOINT}`);
      if (!ep) return undefined;
      const ref = new RegExp(`(/models/${MODEL}/versions/${version}$)|(^azureml:${MODEL}:${version}$)`, 'i');
      return engine.store
        .list('onlineDeployment', ep.key)
        .find((d) => ref.test(String((d.body as { properties?: { model?: string } }).properties?.model ?? '')))?.name;
    };

    // Training is not measured: every model is trained before the first registration, jobs in parallel.
    const first = { version: '1', seed: 1, quality: FIRST_QUALITY };
    const count = passes.reduce((n, p) => n + p.warmup + p.challengers, 0);
    const better = Math.ceil(count / 2);
    const plan = Array.from({ length: count }, (_, i) => ({
      version: String(i + 2),
      seed: 100 + i,
      quality:
        i % 2 === 0
          ? Math.round(100 * (FIRST_QUALITY + ((BEST_QUALITY - FIRST_QUALITY) * (i / 2 + 1)) / better)) / 100
          : POOR_QUALITY,
    }));
    log(`promotion: training ${count + 1} models (command jobs in parallel; not measured)`);
    const trained = await Promise.all(
      [first, ...plan].map(async (m) => ({
        ...(await lab.train({ name: MODEL, version: m.version, seed: m.seed, quality: m.quality })),
        quality: m.quality,
      })),
    );

    let firstModel: { decisionMs: number; armMs: number } | undefined;

    /** Registers, waits for the decision and measures it; returns the promotion as it was then. */
    const registerAndDecide = async (t: Trained): Promise<{ view: PromotionView; sample: DecisionSample }> => {
      const id = `promote:${MODEL}:${t.version}`;
      const before = host.engine.stats();
      await lab.register(t);
      const emitted = await eventTime(t.version);
      const view = await decided(id);
      const after = host.engine.stats();
      const timeline = view.status?.timeline ?? [];
      // A winner's decision is its approval request; a loser's is the verdict (removing its slot comes after).
      const waiting = view.status?.phase === 'awaiting-approval';
      const decisionAt = at(entry(timeline, waiting ? 'awaiting-approval' : 'evaluated'), 'decision');
      const evaluated = at(entry(timeline, 'evaluated'), 'evaluated');
      const preparing = at(entry(timeline, 'preparing'), 'preparing');
      const deploying = at(entry(timeline, 'deploying'), 'deploying');
      const testing = at(entry(timeline, 'testing'), 'testing');
      const evaluating = at(entry(timeline, 'evaluating'), 'evaluating');
      const sample: DecisionSample = {
        version: t.version,
        quality: t.quality,
        reached: waiting ? 'awaiting-approval' : (view.result?.outcome ?? '?'),
        evidence: view.status?.evidence?.decision ?? view.result?.evidence?.decision ?? '?',
        rows: view.status?.evidence?.n,
        totalMs: decisionAt - emitted,
        deliveryMs: preparing - emitted,
        lockMs: deploying - preparing,
        provisioningMs: testing - deploying,
        smokeMs: evaluating - testing,
        evaluationMs: evaluated - evaluating,
        stagingMs: decisionAt - evaluated,
        durableTransactions: after.storeTransactions - before.storeTransactions,
        durableCommits: after.storeCommits - before.storeCommits,
      };
      return { view, sample };
    };

    /** Approves and times the traffic move; returns when the promotion has finished. */
    const approve = async (
      id: string,
      view: PromotionView,
      version: string,
    ): Promise<Omit<ApprovalSample, 'writes' | 'version'>> => {
      const url = Inbox.of(dataDir).message(id)?.approveUrl;
      if (!url) throw new Error(`${id} waits for approval but its approvers were sent no approve link`);
      const slot = slotOf(version);
      if (!slot) throw new Error(`no deployment of ${MODEL}:${version} on ${ENDPOINT}`);
      let armAt: number | undefined;
      let routedAt: number | undefined;
      let polling = true;
      const watcher = (async () => {
        while (polling && (armAt === undefined || routedAt === undefined)) {
          const ep = engine.store.get(`onlineEndpoints/${ENDPOINT}`);
          const t = now();
          if (armAt === undefined && ep?.body?.properties?.traffic?.[slot] === 100) armAt = t;
          if (routedAt === undefined && ep?.internal?.effectiveTraffic?.[slot] === 100) routedAt = t;
          await sleep(1);
        }
      })();
      const postedWall = Date.now();
      const posted = now();
      const res = await decideByLink(url, { approver: APPROVER });
      const answer = await res.text();
      if (res.status !== 202) {
        polling = false;
        await watcher;
        throw new Error(`approving ${id}: ${res.status} ${answer}`);
      }
      const done = await finished(id);
      if (done.result?.outcome !== 'promoted') {
        polling = false;
        await watcher;
        throw new Error(`${id} finished ${done.result?.outcome ?? done.runtimeStatus}: ${done.result?.reason ?? ''}`);
      }
      await waitFor(`traffic of ${ENDPOINT} to reach ${slot}`, () => routedAt !== undefined || undefined, 10_000, 5);
      polling = false;
      await watcher;
      const shift = done.status?.timeline.find((e) => e.phase === 'rolling-out' && e.note.includes('traffic →'));
      return {
        armMs: (armAt ?? NaN) - posted,
        routedMs: (routedAt ?? NaN) - posted,
        shiftEntryMs: at(shift, "'traffic →'") - postedWall,
      };
    };

    log(`promotion: first model ${MODEL}:1 (no champion; creates ${ENDPOINT}), approved`);
    {
      const t = trained[0]!;
      const { view, sample } = await registerAndDecide(t);
      if (sample.reached !== 'awaiting-approval') {
        throw new Error(`${MODEL}:1 did not reach awaiting-approval: ${view.result?.reason ?? '?'}`);
      }
      const a = await approve(`promote:${MODEL}:1`, view, '1');
      firstModel = { decisionMs: sample.totalMs, armMs: a.armMs };
      await quiet();
    }

    const results: PassResult[] = [];
    let next = 1;
    for (const { challengers, warmup, provisioningMs } of passes) {
      engine.opts.provisioningMs = provisioningMs;
      log(`promotion: ${warmup} warm-up and ${challengers} measured challengers, provisioning ${provisioningMs} ms`);
      const decisions: DecisionSample[] = [];
      const approvals: ApprovalSample[] = [];
      const losses: { version: string; writes: ArmRequestRow[] }[] = [];
      const plainScriptMs: number[] = [];
      // The first pass alternates each challenger with the plain script's run, so both see the same machine (a
      // busy neighbour slows them alike) and their ratio stays a property of the code.
      const plain =
        results.length === 0
          ? {
              activities: createActivities({
                ...getApp().deps,
                signal: () => Promise.resolve(false),
                start: () => Promise.resolve(false),
                readFreeze: () => Promise.resolve(undefined),
              }),
              policy: policyFor(getApp().policies, MODEL)!,
              good: trained.reduce((best, t) => (t.quality > best.quality ? t : best)),
            }
          : undefined;
      if (plain) log(`promotion: each challenger followed by the same path as a plain script`);
      for (const [i, t] of trained.slice(next, (next += warmup + challengers)).entries()) {
        const id = `promote:${MODEL}:${t.version}`;
        const measured = i >= warmup;
        workspace.clearRequestLog();
        const { view, sample } = await registerAndDecide(t);
        if (measured) decisions.push(sample);
        let line =
          `promotion: ${measured ? '' : 'warm-up '}${MODEL}:${t.version} (quality ${t.quality}) → ${sample.reached} (${sample.evidence}) ` +
          `in ${fmt(sample.totalMs, 0)} ms, ${fmt(sample.totalMs - sample.provisioningMs, 0)} ms without provisioning`;
        if (sample.reached === 'awaiting-approval') {
          const a = await approve(id, view, t.version);
          await quiet();
          const writes = workspace.requestLog({ writesOnly: true });
          if (measured) {
            approvals.push({
              version: t.version,
              ...a,
              writes: writes.slice(registrationIndex(writes, t.version) + 1),
            });
          }
          line += `; approved, traffic moved (ARM) ${fmt(a.armMs, 1)} ms after the POST`;
        } else {
          const done = await finished(id);
          await quiet();
          const writes = workspace.requestLog({ writesOnly: true });
          if (measured)
            losses.push({ version: t.version, writes: writes.slice(registrationIndex(writes, t.version) + 1) });
          if (done.result?.outcome !== 'lost-evaluation') {
            throw new Error(
              `${id} finished ${done.result?.outcome ?? done.runtimeStatus}: ${done.result?.reason ?? ''}`,
            );
          }
        }
        if (plain) {
          const version = String(i + 1);
          await lab.register({ ...plain.good, name: PLAIN_MODEL, version });
          const duration = await plainScript(plain.activities, plain.policy, version);
          if (measured) plainScriptMs.push(duration);
          await quiet();
          line += `; plain script ${fmt(duration, 0)} ms`;
        }
        log(line);
      }
      results.push({ provisioningMs, retryAfterSeconds, decisions, approvals, losses, firstModel, plainScriptMs });
    }
    return results;
  } catch (err) {
    throw withHostLog(err);
  } finally {
    await embedded?.close().catch(() => undefined);
    console.log = consoleLog;
    for (const k of Object.keys(process.env)) if (!(k in envBefore)) delete process.env[k];
    Object.assign(process.env, envBefore);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runPromotionSuite(opts: PromotionOptions = {}): Promise<SuiteResult> {
  const started = now();
  // Champion's own latency: the workspace finishes provisioning at once, so nothing but Champion's work is timed.
  // Then the same path with provisioning that takes a while, as it does on Azure (minutes there).
  const [own, slow] = (await measurePasses([
    { challengers: opts.challengers ?? 28, warmup: opts.warmup ?? 2, provisioningMs: 0 },
    { challengers: opts.provisionedChallengers ?? 8, warmup: 1, provisioningMs: opts.provisioningMs ?? 200 },
  ])) as [PassResult, PassResult];

  const rows: Row[] = [];
  const notes: string[] = [];
  const { decisions, approvals, losses } = own;
  const total = stats(decisions.map((d) => d.totalMs));
  rows.push({
    metric: 'event → decision p50',
    value: ms(total.p50),
    goal: `≤ ${GOALS.decisionP50Ms} ms`,
    met: total.p50 <= GOALS.decisionP50Ms,
  });
  rows.push({
    metric: 'event → decision p99',
    value: ms(total.p99),
    goal: `≤ ${GOALS.decisionP99Ms} ms`,
    met: total.p99 <= GOALS.decisionP99Ms,
  });
  // The path in order; each part's p50 / p99 over the same challengers (parts' percentiles do not add up).
  const part = (metric: string, samples: number[]): void => {
    const p = stats(samples);
    rows.push({ metric: `  ${metric} p50 / p99`, value: `${ms(p.p50)} / ${ms(p.p99)}` });
  };
  const step = (metric: string, pick: (d: DecisionSample) => number): void => part(metric, decisions.map(pick));
  step('delivery and start (event → preparing)', (d) => d.deliveryMs);
  step('model lock, endpoint read (preparing → deploying)', (d) => d.lockMs);
  step('deploy at 0 % (deploying → testing)', (d) => d.provisioningMs);
  step('smoke test, evaluation alongside (testing → evaluating)', (d) => d.smokeMs);
  step('rest of the evaluation, 2 × 1,000 rows (evaluating → evaluated)', (d) => d.evaluationMs);
  const winners = decisions.filter((d) => d.reached === 'awaiting-approval');
  if (winners.length > 0)
    part(
      'stage tag, approval request (winners)',
      winners.map((d) => d.stagingMs),
    );
  // Ratios that do not move with the machine's fsync cost: durable transactions on the path, and the same calls
  // made by a plain script in the same run, each run right after a challenger (see measurePasses).
  const durable = decisions.map((d) => d.durableTransactions);
  rows.push({
    metric: 'durable transactions (fsyncs) on the path, registration → decision p50 / max',
    value: `${fmt(median(durable), 0)} / ${int(Math.max(...durable))} (${fmt(median(decisions.map((d) => d.durableCommits)), 0)} commits grouped)`,
  });
  if (own.plainScriptMs.length > 0) {
    const plain = stats(own.plainScriptMs);
    const winnerTotal = stats(winners.map((d) => d.totalMs));
    rows.push({
      metric: 'plain script, same calls in sequence p50 / p99',
      value: `${ms(plain.p50)} / ${ms(plain.p99)}`,
    });
    rows.push({
      metric: 'event → decision ÷ plain script (winners, p50)',
      value: ratio(winnerTotal.p50 / plain.p50),
      goal: `≤ ${fmt(GOALS.overPlainScript, 1)}×`,
      met: winnerTotal.p50 / plain.p50 <= GOALS.overPlainScript,
    });
  }
  const byEvidence = (list: DecisionSample[]): string => {
    const counts = new Map<string, number>();
    for (const d of list) counts.set(d.evidence, (counts.get(d.evidence) ?? 0) + 1);
    return [...counts].map(([k, v]) => `${v} ${k}`).join(', ');
  };
  const lost = decisions.filter((d) => d.reached === 'lost-evaluation');
  rows.push({
    metric: 'decisions: awaiting approval / lost evaluation',
    value: `${winners.length} (${byEvidence(winners)}) / ${lost.length}`,
  });

  if (approvals.length > 0) {
    const arm = stats(approvals.map((a) => a.armMs));
    rows.push({ metric: 'approval → traffic 100 % on challenger p50', value: ms(arm.p50) });
    rows.push({
      metric: 'approval → traffic 100 % on challenger p99',
      value: ms(arm.p99),
      goal: `≤ ${GOALS.trafficP99Ms} ms`,
      met: arm.p99 <= GOALS.trafficP99Ms,
    });
    part(
      "approval → 'traffic →' timeline entry",
      approvals.map((a) => a.shiftEntryMs),
    );
    part(
      'approval → scoring routes 100 % (update provisioned)',
      approvals.map((a) => a.routedMs),
    );
  } else {
    rows.push({ metric: 'approval → traffic', value: 'no challenger was approved' });
  }

  const rollouts = [...approvals, ...slow.approvals];
  if (rollouts.length > 0) {
    const counts = rollouts.map((a) => a.writes.length);
    const worst = rollouts.reduce((w, a) => (a.writes.length > w.writes.length ? a : w));
    rows.push({
      metric: 'ARM writes per full rollout (max, both passes)',
      value: int(Math.max(...counts)),
      goal: `≤ ${GOALS.writesPerRollout}`,
      met: Math.max(...counts) <= GOALS.writesPerRollout,
    });
    const listKeys = worst.writes.filter((w) => w.method === 'POST' && /\/listKeys$/i.test(w.path)).length;
    if (listKeys > 0) {
      rows.push({
        metric: '  of which POST listKeys (a read in effect)',
        value: `${listKeys} (${worst.writes.length - listKeys} without them)`,
      });
    }
    if (Math.min(...counts) !== Math.max(...counts)) {
      rows.push({
        metric: '  ARM writes per full rollout min / median',
        value: `${Math.min(...counts)} / ${fmt(median(counts), 1)}`,
      });
    }
    notes.push(
      `ARM writes of the rollout of ${MODEL}:${worst.version} (after its registration PUT, up to promoted; ` +
        `${worst.writes.length}):`,
    );
    for (const w of worst.writes) notes.push(`  ${w.method} ${pathTail(w.path)} → ${w.status}`);
  }
  if (losses.length > 0) {
    rows.push({
      metric: 'ARM writes per lost evaluation (median)',
      value: fmt(median(losses.map((l) => l.writes.length)), 0),
    });
  }
  if (own.firstModel) {
    rows.push({
      metric: 'first model (creates the endpoint): event → decision / approval → traffic',
      value: `${ms(own.firstModel.decisionMs)} / ${ms(own.firstModel.armMs)}`,
    });
  }

  // Second pass: provisioning takes slow.provisioningMs.
  const slowTotal = stats(slow.decisions.map((d) => d.totalMs));
  const slowDeploy = stats(slow.decisions.map((d) => d.provisioningMs));
  rows.push({
    metric: `with ${slow.provisioningMs} ms provisioning: event → decision p50 / p99`,
    value: `${ms(slowTotal.p50)} / ${ms(slowTotal.p99)}`,
  });
  rows.push({
    metric: `  deploy at 0 % (deploying → testing) p50 / p99`,
    value: `${ms(slowDeploy.p50)} / ${ms(slowDeploy.p99)}`,
  });
  if (slow.approvals.length > 0) {
    const arm = stats(slow.approvals.map((a) => a.armMs));
    const routed = stats(slow.approvals.map((a) => a.routedMs));
    rows.push({
      metric: `  approval → traffic 100 % / scoring routes 100 % p50`,
      value: `${ms(arm.p50)} / ${ms(routed.p50)}`,
    });
  }

  const rowsSeen = [...new Set(decisions.map((d) => d.rows))].map((r) => (r === undefined ? '?' : int(r)));
  notes.unshift(
    `embedded default in this process (local workspace over https + local Functions host). Goals are measured ` +
      `with provisioning that finishes at once, so the figures are Champion's own work (on Azure provisioning ` +
      `takes minutes and dominates); a second pass with ${slow.provisioningMs} ms provisioning shows the flow ` +
      `waits only as long as the workspace says (retry-after-ms; Retry-After ${slow.retryAfterSeconds} s)`,
    `${decisions.length} challengers (after one approved first model and ${opts.warmup ?? 2} warm-up challengers) ` +
      `registered one at a time, each finished before the next; training-data quality alternates between a step ` +
      `up from the last better one (${FIRST_QUALITY} → ${BEST_QUALITY}) and poor (${POOR_QUALITY}); every ` +
      `challenger that reaches approval is approved (the champion swaps); evaluation rows scored per model per ` +
      `evaluation: ${rowsSeen.join(', ')} (paired, champion and challenger through the deployment header)`,
    `event → decision: ModelRegistered eventTime → timeline 'awaiting-approval' (the approval request) or, for ` +
      `a loser, 'evaluated' (the verdict; removing its slot comes after). Timeline stamps are the orchestration's ` +
      `clock (ms)`,
    `approval → traffic: POST of the approve link → the endpoint resource shows the challenger at 100 % ` +
      `(what GET /api/endpoints/${ENDPOINT} reports), polled in-process every ~1 ms, over the ` +
      `${approvals.length} approved challengers (p99 of so few samples is their maximum); the production tag ` +
      `waits for the update to finish (scoring routes 100 %)`,
    `ARM writes: PUT/PATCH/POST/DELETE in the workspace's request log (POST listKeys counts as a write), ` +
      `the registration PUT itself excluded; training happened before and is not counted`,
  );
  return { name: 'promotion', rows, notes, seconds: (now() - started) / 1000 };
}

/** Index of the registration PUT of `version` in a request log (−1 if absent: then nothing is cut). */
function registrationIndex(rows: ArmRequestRow[], version: string): number {
  const tail = `/models/${MODEL}/versions/${version}`.toLowerCase();
  return rows.findIndex((r) => r.method === 'PUT' && r.path.toLowerCase().endsWith(tail));
}
