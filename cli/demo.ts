/**
 * `champion demo`: the whole promotion story told against a running app, for a newcomer's first look. With no
 * `--url` it starts the embedded default itself (local workspace + local Functions host) in a fresh data
 * directory, so `npm run demo` needs nothing else. Exits non-zero when any step does not happen as described.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { format, parseArgs } from 'node:util';
import { decideByLink, Inbox } from '../local/inbox';
import { Lab, runsAsOnAzure } from '../local/lab';
import { readFileSync } from 'node:fs';
import { AzureMlRegistry } from '../lib/azure/ml-registry';
import { LINEAGE_TAGS } from '../lib/domain/environments';
import type { PromotionDryRun } from '../lib/dry-run';
import {
  ENVIRONMENTS_MODEL,
  freePort,
  LOCAL_REGISTRY,
  localRegistryId,
  localWorkspaceId,
  PROD_WORKSPACE,
  QA_WORKSPACE,
  startEmbedded,
} from '../local/start';

interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
}

const usage = `Usage: champion demo [options]

Tells the story end to end: v1 trained and deployed (no champion) → v2 better, approved, blue/green swap, v1
surpassed → v3 worse, not staged → v4 staged, then v5 supersedes it → a broken challenger fails its smoke test
and the champion keeps serving → a storm of 20 drift signals starts exactly one retraining, whose model is
promoted → a drifted training feed is stopped by the data checks before any job is submitted → every training
job is checked to have run as Azure ML runs it → on a second model, released as a judged canary under live
traffic: a challenger whose errors rise is rolled back before its second step, a healthy one walks its steps to
100 %, and a person rolls back to the previous version → QA → production across two
workspaces: forecast v1 is promoted in QA, approved at the gate, copied through an Azure ML registry and registered
in production with its lineage, then released there; v2 is rejected at the gate and production is left as it was →
a dry run of v2 across both workspaces shows the plan (gate, copy through the registry, release) and writes nothing.

Options:
  --url URL          a running Champion (npm start); default: start the embedded default in a temp folder
  --workspace FILE   the local workspace's workspace.json (with --url; default .data/workspace/workspace.json)
  --keep             keep the temp data folder (printed at the end)
  -h, --help         show this help`;

interface Promotion {
  id: string;
  runtimeStatus: string;
  status?: {
    phase: string;
    rollout?: { state?: string };
    timeline: { at: string; phase: string; note: string }[];
  };
  result?: {
    outcome: string;
    reason: string;
    release?: { slot: string; gitSha?: string };
    failure?: { code: string };
    rollout?: { verdicts: { step: number; verdict: string; reason: string }[] };
  };
}

class Story {
  failures = 0;
  constructor(
    private readonly io: Io,
    readonly url: string,
    readonly lab: Lab,
    /** Where the app delivers approval links (they never appear in its status or log). */
    readonly inbox: Inbox,
  ) {}

  say(line: string): void {
    this.io.stdout(`${line}\n`);
  }

  check(ok: boolean, what: string): void {
    this.say(`   ${ok ? '✔' : '✘'} ${what}`);
    if (!ok) this.failures++;
  }

  async promotion(id: string): Promise<Promotion | undefined> {
    const res = await fetch(`${this.url}/api/promotions/${encodeURIComponent(id)}`);
    return res.status === 200 ? ((await res.json()) as Promotion) : undefined;
  }

  /** Polls until the promotion reaches a phase or finishes; bounded (about two minutes). */
  async until(id: string, done: (p: Promotion) => boolean): Promise<Promotion | undefined> {
    for (let i = 0; i < 1200; i++) {
      const p = await this.promotion(id);
      if (p && done(p)) return p;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  }

  waiting(id: string) {
    return this.until(
      id,
      (p) =>
        p.status?.phase === 'awaiting-approval' || (p.runtimeStatus !== 'Running' && p.runtimeStatus !== 'Pending'),
    );
  }

  finished(id: string) {
    return this.until(id, (p) => p.runtimeStatus !== 'Running' && p.runtimeStatus !== 'Pending');
  }

  async approve(p: Promotion, approver: string): Promise<boolean> {
    const link = this.inbox.message(p.id)?.approveUrl;
    if (!link) return false;
    const res = await decideByLink(link, { approver, comment: 'looks good' });
    return res.status === 202;
  }

  async reject(p: Promotion, approver: string): Promise<boolean> {
    const link = this.inbox.message(p.id)?.rejectUrl;
    if (!link) return false;
    const res = await decideByLink(link, { approver, comment: 'not in production yet' });
    return res.status === 202;
  }

  async stages(): Promise<Record<string, string | undefined>> {
    return this.lab.modelStages('demand');
  }

  async servingSlot(endpoint = 'demand-ep'): Promise<string | undefined> {
    const res = await fetch(`${this.url}/api/endpoints/${endpoint}`);
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { deployments: { name: string; model: string | null; traffic: number }[] };
    const serving = body.deployments.find((d) => d.traffic === 100);
    return serving ? `${serving.name} (${serving.model})` : undefined;
  }

  /** Polls a promotion like `until`, printing each timeline entry as it appears. */
  async follow(id: string, done: (p: Promotion) => boolean): Promise<Promotion | undefined> {
    const printed = new Set<string>();
    return this.until(id, (p) => {
      for (const entry of p.status?.timeline ?? []) {
        const key = `${entry.at} ${entry.phase} ${entry.note}`;
        if (printed.has(key)) continue;
        printed.add(key);
        this.say(`     ${entry.at.slice(11, 19)}  ${entry.phase.padEnd(17)} ${entry.note}`);
      }
      return done(p);
    });
  }

  timeline(p: Promotion | undefined): void {
    for (const entry of p?.status?.timeline ?? [])
      this.say(`     ${entry.at.slice(11, 19)}  ${entry.phase.padEnd(17)} ${entry.note}`);
  }
}

async function tell(story: Story): Promise<void> {
  const train = (version: string, seed: number, quality: number) =>
    story.lab.trainAndRegister({ name: 'demand', version, seed, quality, as: 'dana' });

  story.say('1. v1 is trained and registered; with no champion it wins by default and waits for approval.');
  await train('1', 11, 0.6);
  let p = await story.waiting('promote:demand:1');
  story.timeline(p);
  story.check(p?.status?.phase === 'awaiting-approval', 'v1 is staged and waits for a person');
  story.check((await story.stages())['1'] === 'staged', 'v1 carries stage=staged');
  story.check(p !== undefined && (await story.approve(p, 'ana')), 'ana approves through the signed link');
  p = await story.finished('promote:demand:1');
  story.check(p?.result?.outcome === 'promoted', `v1 promoted: ${p?.result?.reason}`);
  story.say(`   serving: ${await story.servingSlot()}`);

  story.say('2. v2 is better: paired evaluation on the same rows, approval, blue/green swap.');
  await train('2', 12, 1);
  p = await story.waiting('promote:demand:2');
  story.check(p?.status?.phase === 'awaiting-approval', 'v2 beats the champion and waits for approval');
  story.check(p !== undefined && (await story.approve(p, 'ana')), 'ana approves');
  p = await story.finished('promote:demand:2');
  story.timeline(p);
  story.check(p?.result?.outcome === 'promoted', `v2 promoted: ${p?.result?.reason}`);
  const afterSwap = await story.stages();
  story.check(afterSwap['1'] === 'surpassed' && afterSwap['2'] === 'production', 'v1 surpassed, v2 production');
  story.say(`   serving: ${await story.servingSlot()}`);

  story.say('3. v3 is worse: it loses the evaluation, is never staged, and the champion keeps serving.');
  await train('3', 13, 0.1);
  p = await story.finished('promote:demand:3');
  story.check(p?.result?.outcome === 'lost-evaluation', `v3: ${p?.result?.reason}`);
  story.check((await story.stages())['3'] === undefined, 'v3 has no stage tag');

  story.say('4. v4 is staged; before anyone approves it, v5 arrives and supersedes it.');
  await train('4', 14, 1);
  p = await story.waiting('promote:demand:4');
  story.check(p?.status?.phase === 'awaiting-approval', 'v4 staged, waiting for approval');
  await train('5', 15, 1);
  p = await story.waiting('promote:demand:5');
  const v4 = await story.finished('promote:demand:4');
  story.check(v4?.result?.outcome === 'superseded', `v4: ${v4?.result?.reason}`);
  const afterSupersede = await story.stages();
  story.check(afterSupersede['4'] === 'unstaged' && afterSupersede['5'] === 'staged', 'v4 unstaged, v5 staged');
  story.check(p !== undefined && (await story.approve(p, 'ana')), 'ana approves v5');
  p = await story.finished('promote:demand:5');
  story.check(p?.result?.outcome === 'promoted', `v5 promoted: ${p?.result?.reason}`);

  story.say('6. v6 is broken: its scoring fails the smoke test, and v5 keeps serving 100 %.');
  const before = await story.servingSlot();
  await story.lab.admin('POST', 'faults', { kind: 'scoring', model: 'demand:6', status: 500 });
  await train('6', 16, 1);
  p = await story.finished('promote:demand:6');
  story.timeline(p);
  story.check(p?.result?.outcome === 'failed', `v6: ${p?.result?.reason}`);
  story.check((await story.servingSlot()) === before, `still serving ${before}`);
  const final = await story.stages();
  story.check(final['5'] === 'production' && final['6'] === undefined, 'v5 production, v6 untagged');

  // Continuous training: drift signals through the guard, a retraining run, and its promotion.
  const appUrl = story.url;
  interface RetrainingView {
    runtimeStatus: string;
    status?: { timeline: { at: string; phase: string; note: string }[] };
    result?: {
      outcome: string;
      reason: string;
      modelVersion?: string;
      job?: { name: string };
      dataCheck?: { report: string };
    };
  }
  interface TriggerView {
    decision?: { action: string; reason: string };
    runId?: string;
  }
  const retrainings = async () =>
    (await (await fetch(`${appUrl}/api/retrainings?model=demand`)).json()) as {
      runs: { id: string }[];
      triggers: TriggerView[];
    };
  const retraining = async (id: string): Promise<RetrainingView | undefined> => {
    for (let i = 0; i < 1200; i++) {
      const res = await fetch(`${appUrl}/api/retrainings/${encodeURIComponent(id)}`);
      const r = res.status === 200 ? ((await res.json()) as RetrainingView) : undefined;
      if (r && r.runtimeStatus !== 'Running' && r.runtimeStatus !== 'Pending') return r;
      await new Promise((done) => setTimeout(done, 100));
    }
    return undefined;
  };
  const decided = async (count: number): Promise<TriggerView[]> => {
    for (let i = 0; i < 600; i++) {
      const triggers = (await retrainings()).triggers.filter((t) => t.decision);
      if (triggers.length >= count) return triggers;
      await new Promise((done) => setTimeout(done, 100));
    }
    return [];
  };
  const runTimeline = (r: RetrainingView | undefined) => {
    for (const entry of r?.status?.timeline ?? [])
      story.say(`     ${entry.at.slice(11, 19)}  ${entry.phase.padEnd(17)} ${entry.note}`);
  };

  story.say('7. Production traffic drifts: the model monitor on demand-ep breaches 20 times at once; one retraining');
  story.say('   starts on the refreshed training data, registers a new version, and that version is promoted.');
  await story.lab.admin('POST', 'data/generate', { name: 'demand-train', version: '1', rows: 4000, seed: 23 });
  await Promise.all(
    Array.from({ length: 20 }, () =>
      story.lab.admin('POST', 'monitor/breach', {
        endpoint: 'demand-ep',
        signal: 'feature-drift',
        metric: 'psi',
        value: 0.41,
        threshold: 0.2,
      }),
    ),
  );
  const storm = await decided(20);
  const started = storm.filter((t) => t.decision?.action === 'start');
  story.check(
    storm.length === 20 && started.length === 1 && (await retrainings()).runs.length === 1,
    `20 signals, exactly one retraining started (${started[0]?.runId}); the other ${storm.length - started.length} recorded against it (${[...new Set(storm.filter((t) => t.decision?.action === 'skip').map((t) => t.decision?.reason))].join(', ')})`,
  );
  const run = await retraining(started[0]?.runId ?? 'retrain:demand:1');
  runTimeline(run);
  story.check(run?.result?.outcome === 'registered', `retrain:demand:1: ${run?.result?.reason}`);
  const retrained = run?.result?.modelVersion ?? '7';
  p = await story.waiting(`promote:demand:${retrained}`);
  const evidence = (p?.status as { evidence?: { reason: string } } | undefined)?.evidence;
  story.check(
    p?.status?.phase === 'awaiting-approval',
    `v${retrained} waits for approval (${evidence?.reason ?? 'no evidence'})`,
  );
  story.check(p !== undefined && (await story.approve(p, 'ana')), `ana approves v${retrained}`);
  p = await story.finished(`promote:demand:${retrained}`);
  story.check(p?.result?.outcome === 'promoted', `v${retrained} promoted: ${p?.result?.reason}`);
  const afterRetraining = await story.stages();
  story.check(
    afterRetraining[retrained] === 'production' && afterRetraining['5'] === 'surpassed',
    `v${retrained} production, v5 surpassed`,
  );
  const types = await story.lab.deployedModelTypes('demand-ep');
  story.check(
    Object.keys(types).length > 0 && Object.values(types).every((t) => t === 'mlflow_model'),
    `every deployment on demand-ep serves an MLflow model, deployed without a scoring script or an environment (${Object.entries(
      types,
    )
      .map(([d, t]) => `${d}: ${t}`)
      .join(', ')})`,
  );

  story.say('8. A broken feed lands far off the reference distribution; ana asks for a retraining by hand (a person');
  story.say('   bypasses the cooldown), and the data checks stop it before any compute is spent.');
  await story.lab.admin('POST', 'data/generate', {
    name: 'demand-train',
    version: '2',
    rows: 1000,
    seed: 24,
    drift: 5,
  });
  const asked = await fetch(`${appUrl}/api/retrainings`, {
    method: 'POST',
    body: JSON.stringify({ modelName: 'demand', reason: 'new data landed', requestedBy: 'ana' }),
  });
  const askedBody = (await asked.json()) as { runId?: string };
  story.check(asked.status === 202 && askedBody.runId !== undefined, `retraining ${askedBody.runId} started by ana`);
  const stopped = await retraining(askedBody.runId ?? 'retrain:demand:2');
  story.check(stopped?.result?.outcome === 'data-check-failed', `${askedBody.runId}: ${stopped?.result?.reason}`);
  story.check(stopped?.result?.job === undefined, 'no training job was submitted');
  const versionsAfter = Object.keys(await story.stages());
  story.check(!versionsAfter.includes(String(Number(retrained) + 1)), 'no new version was registered');

  story.say('9. Every training job ran as Azure ML runs it.');
  const jobs = await story.lab.jobBodies();
  const offShape = jobs.filter((j) => !runsAsOnAzure(j.properties)).map((j) => j.name);
  story.check(
    jobs.length > 0 && offShape.length === 0,
    `all ${jobs.length} jobs have their code as a code asset, typed data inputs, a compute ARM id and a declared model output` +
      (offShape.length ? ` (not: ${offShape.join(', ')})` : ''),
  );
  await progressiveDelivery(story);
  await qaToProduction(story);
  await dryRunAcrossEnvironments(story);
}

/** Chapter 10: a second model released as a judged canary while live clients use its endpoint. */
async function progressiveDelivery(story: Story): Promise<void> {
  const model = 'pricing';
  const endpoint = 'pricing-ep';
  const train = (version: string, seed: number, quality: number) =>
    story.lab.trainAndRegister({ name: model, version, seed, quality, as: 'dana' });
  // A paused rollout waits for a person: the story stops following it there.
  const settled = (p: Promotion) =>
    (p.runtimeStatus !== 'Running' && p.runtimeStatus !== 'Pending') || p.status?.rollout?.state === 'paused';
  const approve = async (version: string): Promise<Promotion | undefined> => {
    const p = await story.waiting(`promote:${model}:${version}`);
    story.check(
      p?.status?.phase === 'awaiting-approval',
      `${model}:${version} wins its evaluation and waits for approval`,
    );
    return p;
  };
  const verdicts = (p: Promotion | undefined) =>
    (p?.result?.rollout?.verdicts ?? []).map((v) => `step ${v.step} ${v.verdict}`).join(', ');

  story.say('10. pricing is released progressively (its policy: canary 20 % → 50 % → 100 %, each step baked 15 s and');
  story.say("    judged against the champion on the endpoint's request metrics and replayed requests).");
  await train('1', 31, 0.6);
  let p = await approve('1');
  story.check(p !== undefined && (await story.approve(p, 'ana')), 'ana approves pricing:1');
  p = await story.finished(`promote:${model}:1`);
  story.check(p?.result?.outcome === 'promoted', `pricing:1 takes 100 % at once (nothing to compare with)`);
  const champion = await story.servingSlot(endpoint);
  const clients = await story.lab.clients(endpoint);
  try {
    story.say(
      '    pricing:2 passes its evaluation, then half its answers start failing (a fault injected into its slot):',
    );
    await train('2', 32, 1);
    p = await approve('2');
    await story.lab.admin('POST', 'faults', { kind: 'scoring', endpoint, model: `${model}:2`, errorRate: 0.5 });
    story.check(p !== undefined && (await story.approve(p, 'ana')), 'ana approves pricing:2');
    p = await story.follow(`promote:${model}:2`, settled);
    story.check(
      p?.result?.failure?.code === 'RolloutRolledBack' && verdicts(p) === 'step 1 Fail',
      `pricing:2 rolled back automatically at its first step (${verdicts(p)}): ${p?.result?.reason}`,
    );
    story.check((await story.servingSlot(endpoint)) === champion, `the champion serves 100 % again: ${champion}`);

    story.say('    pricing:3 is healthy: it walks its steps to 100 %, each verdict printed as it comes:');
    const failedAt = Date.now();
    await train('3', 33, 1);
    p = await approve('3');
    // Azure Monitor counts an endpoint's requests per minute and deployment name: in the minute pricing:2 failed in,
    // green's count still holds its errors, so pricing:3 starts taking traffic in the next one.
    const nextMinute = Math.ceil((failedAt + 1) / 60_000) * 60_000 - Date.now();
    if (nextMinute > 0) {
      story.say(
        `    (approved in the next minute, ${Math.ceil(nextMinute / 1000)} s from now: green's request counts for this`,
      );
      story.say("     minute still hold pricing:2's errors, and Azure Monitor counts per minute)");
      await new Promise((r) => setTimeout(r, nextMinute + 500));
    }
    story.check(p !== undefined && (await story.approve(p, 'ana')), 'ana approves pricing:3');
    p = await story.follow(`promote:${model}:3`, settled);
    story.check(
      p?.result?.outcome === 'promoted' && verdicts(p) === 'step 1 Pass, step 2 Pass',
      `pricing:3 promoted after its judged steps (${verdicts(p)})`,
    );
    story.say(`   serving: ${await story.servingSlot(endpoint)}`);
  } finally {
    const answered = await clients.stop();
    const failed = Object.entries(answered).filter(([, c]) => c.serverErrors > 0);
    story.say(
      `   live clients: ${Object.entries(answered)
        .map(
          ([d, c]) => `${c.ok + c.serverErrors} answered by ${d}${c.serverErrors ? ` (${c.serverErrors} failed)` : ''}`,
        )
        .join(', ')}${failed.length ? '' : ', none failed'}`,
    );
  }

  story.say(
    '    On call, bo rolls pricing back: the previous version is still warm at 0 %, so it is one traffic update.',
  );
  const asked = await fetch(`${story.url}/api/models/${model}/rollback`, {
    method: 'POST',
    body: JSON.stringify({ reason: 'complaints about quotes since the release', by: 'bo' }),
  });
  const { id } = (await asked.json()) as { id?: string };
  story.check(asked.status === 202 && id !== undefined, `rollback ${id} started by bo`);
  let rolledBack: { runtimeStatus: string; result?: { outcome: string; reason: string } } | undefined;
  for (let i = 0; i < 1200 && id; i++) {
    const res = await fetch(`${story.url}/api/rollbacks/${encodeURIComponent(id)}`);
    rolledBack = res.status === 200 ? ((await res.json()) as typeof rolledBack) : undefined;
    if (rolledBack?.result) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  story.check(rolledBack?.result?.outcome === 'rolled-back', `${id}: ${rolledBack?.result?.reason}`);
  const stages = await story.lab.modelStages(model);
  story.check(
    stages['1'] === 'production' && stages['3'] === 'surpassed' && stages['2'] === 'unstaged',
    `pricing:1 production again, pricing:3 surpassed, pricing:2 unstaged; serving: ${await story.servingSlot(endpoint)}`,
  );
}

/** Chapter 11: the `forecast` policy's environments, QA (the app's workspace) then production (a second workspace). */
async function qaToProduction(story: Story): Promise<void> {
  story.say('11. QA → production across two workspaces: forecast v1 is promoted in QA, a person opens the gate,');
  story.say(
    '    and the same model goes through a registry into production with its lineage, released there on QA’s evidence.',
  );
  const prod = story.lab.inWorkspace(PROD_WORKSPACE);
  const model = ENVIRONMENTS_MODEL;
  const train = (version: string, seed: number, quality: number) =>
    story.lab.trainAndRegister({ name: model, version, seed, quality, as: 'dana', outputToDatastore: true });
  await train('1', 31, 0.6);
  let p = await story.waiting(`promote:${model}:1@qa`);
  story.check(p?.status?.phase === 'awaiting-approval', `promote:${model}:1@qa waits for approval in QA`);
  story.check(p !== undefined && (await story.approve(p, 'ana')), `ana approves ${model}:1 in QA`);
  p = await story.waiting(`promote:${model}:1`);
  const gate = (p?.status as { gate?: { environment: string; kind: string } } | undefined)?.gate;
  story.check(
    gate?.environment === 'prod' && gate.kind === 'approval' && (await prod.getModelVersion(model, '1')) === undefined,
    `${model}:1 serves QA and waits at the production gate; nothing is in production yet`,
  );
  story.check(p !== undefined && (await story.approve(p, 'bo')), 'bo opens the gate into production');
  p = await story.finished(`promote:${model}:1`);
  story.check(p?.result?.outcome === 'promoted', `promote:${model}:1: ${p?.result?.reason}`);
  const copy = await prod.getModelVersion(model, '1');
  const lineage = Object.entries(copy?.tags ?? {}).filter(([k]) => k.startsWith('champion.source.'));
  story.check(
    copy?.tags[LINEAGE_TAGS.workspace] === localWorkspaceId(QA_WORKSPACE) &&
      copy.tags[LINEAGE_TAGS.version] === `${model}:1` &&
      copy.tags[LINEAGE_TAGS.promotion] === `promote:${model}:1@qa` &&
      copy.tags[LINEAGE_TAGS.evidence]?.startsWith('sha256:') === true,
    `the production copy points back to QA: ${lineage.map(([k, v]) => `${k.slice('champion.source.'.length)}=${v.startsWith('sha256:') ? `${v.slice(0, 19)}…` : v}`).join(', ')}`,
  );
  // A policy that names a registry for production (the embedded default's does) sends the copy through it.
  const through = copy?.tags[LINEAGE_TAGS.registry];
  if (through) {
    const registry = new AzureMlRegistry(story.lab.client, localRegistryId(LOCAL_REGISTRY), {
      armEndpoint: story.lab.info.armEndpoint,
      caCert: readFileSync(story.lab.info.caCertPath, 'utf8'),
    });
    const shared = await registry.getModelVersion(model, '1');
    story.check(
      shared?.assetUri === through && shared.tags[LINEAGE_TAGS.promotion] === `promote:${model}:1@qa`,
      `it came through the registry: ${through}, whose version carries the same lineage`,
    );
  }
  const endpoint = await prod.getEndpoint('forecast-prod');
  const serving = Object.entries(endpoint?.traffic ?? {}).find(([, pct]) => pct === 100)?.[0];
  const deployment = serving ? await prod.getDeployment('forecast-prod', serving) : undefined;
  story.check(
    copy?.tags.stage === 'production' && /\/models\/forecast\/versions\/1$/.test(deployment?.modelId ?? ''),
    `forecast-prod in ${PROD_WORKSPACE} serves ${model}:1 from ${serving}, tagged production there`,
  );

  story.say('12. forecast v2 passes QA, but bo rejects it at the gate: production is left as it was.');
  await train('2', 32, 1);
  p = await story.waiting(`promote:${model}:2@qa`);
  story.check(p !== undefined && (await story.approve(p, 'ana')), `ana approves ${model}:2 in QA`);
  p = await story.waiting(`promote:${model}:2`);
  story.check(
    p?.status?.phase === 'awaiting-approval' && (await story.reject(p, 'bo')),
    'bo rejects it at the production gate',
  );
  p = await story.finished(`promote:${model}:2`);
  story.check(p?.result?.outcome === 'rejected', `promote:${model}:2: ${p?.result?.reason}`);
  const after = await prod.getEndpoint('forecast-prod');
  const stillServing = Object.entries(after?.traffic ?? {}).find(([, pct]) => pct === 100)?.[0];
  const still = stillServing ? await prod.getDeployment('forecast-prod', stillServing) : undefined;
  story.check(
    (await prod.getModelVersion(model, '2')) === undefined && /\/versions\/1$/.test(still?.modelId ?? ''),
    `nothing of ${model}:2 was registered or deployed in production; forecast-prod still serves ${model}:1`,
  );
}

/** Chapter 13: a dry run after all that, across both workspaces and the registry: a plan, and no write anywhere. */
async function dryRunAcrossEnvironments(story: Story): Promise<void> {
  story.say('13. A dry run of forecast v2 across QA → production: the plan from live state, and nothing written.');
  const model = ENVIRONMENTS_MODEL;
  const lastSeq = async (workspace: string) =>
    ((await story.lab.admin('GET', `requests?workspace=${workspace}`)) as { value: { seq: number }[] }).value.at(-1)
      ?.seq ?? 0;
  const writesSince = async (workspace: string, since: number) =>
    (
      (await story.lab.admin('GET', `requests?workspace=${workspace}&since=${since}&writes=true`)) as {
        value: unknown[];
      }
    ).value.length;
  const before = { qa: await lastSeq(QA_WORKSPACE), prod: await lastSeq(PROD_WORKSPACE) };
  const res = await fetch(`${story.url}/api/promotions`, {
    method: 'POST',
    body: JSON.stringify({ modelName: model, modelVersion: '2', dryRun: true }),
  });
  const preview = res.status === 200 ? ((await res.json()) as PromotionDryRun) : undefined;
  const [qa, prod] = preview?.environments ?? [];
  story.check(
    qa?.carried !== undefined && prod?.gate?.kind === 'approval' && prod.plan?.verdict === 'would-stage',
    `the plan: ${model}:2 serves QA already (${qa?.carried?.promotionId}); production's gate, then ${prod?.plan?.summary}`,
  );
  const copy = prod?.copy?.armWrites.map(
    (w) => `${w.method} ${w.path.replace(/^.*\/Microsoft\.MachineLearningServices\//, '')}`,
  );
  story.check(prod?.copy?.registry?.has === false && copy?.length === 3, `the copy it would make: ${copy?.join(', ')}`);
  const writes = {
    qa: await writesSince(QA_WORKSPACE, before.qa),
    prod: await writesSince(PROD_WORKSPACE, before.prod),
  };
  story.check(
    writes.qa === 0 && writes.prod === 0,
    `no write while it ran: ${writes.qa} in ${QA_WORKSPACE} (and the registry), ${writes.prod} in ${PROD_WORKSPACE}`,
  );
}

export async function runDemo(argv: string[], io: Io): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        workspace: { type: 'string' },
        keep: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.stderr(`${(err as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(`${usage}\n`);
    return 0;
  }

  let close = async () => {};
  let url: string | undefined = values.url;
  let workspaceJson = path.resolve(values.workspace ?? '.data/workspace/workspace.json');
  let dataDir: string | undefined;
  if (!url) {
    const dir = mkdtempSync(path.join(tmpdir(), 'champion-demo-'));
    dataDir = dir;
    io.stdout(`Starting the embedded default in ${dir} …\n`);
    // The app runs in this process: its own log lines go to a file so the story stays readable.
    const appLog = path.join(dir, 'app.log');
    const consoleLog = console.log;
    console.log = (...args: unknown[]) => appendFileSync(appLog, `${format(...args)}\n`);
    const embedded = await startEmbedded({
      appDir: path.resolve(__dirname, '..', '..'),
      dataDir: dir,
      port: await freePort(),
      workspacePort: await freePort(),
      provisioningMs: 300,
      log: (line) => appendFileSync(appLog, `${line}\n`),
    });
    url = embedded.host.url;
    workspaceJson = embedded.workspace.workspaceJsonPath;
    close = async () => {
      await embedded.close();
      console.log = consoleLog;
      if (!values.keep) rmSync(dir, { recursive: true, force: true });
    };
  }

  // The embedded default keeps its outbox beside the workspace's folder (`.data/outbox`).
  const inbox = Inbox.of(path.dirname(path.dirname(workspaceJson)));
  const story = new Story(io, url!, new Lab(workspaceJson), inbox);
  try {
    await tell(story);
  } catch (err) {
    story.check(false, `the demo stopped: ${(err as Error).message}`);
  } finally {
    await close();
  }
  story.say(
    story.failures === 0
      ? '\nEvery step happened as described.'
      : `\n${story.failures} step(s) did not happen as described.`,
  );
  if (dataDir && values.keep) story.say(`Data kept in ${dataDir} (the app's log: ${path.join(dataDir, 'app.log')})`);
  return story.failures === 0 ? 0 : 1;
}
