/**
 * Dry runs against the embedded default: `champion promote MODEL VERSION --dry-run` and `champion retrain MODEL
 * --dry-run` report a plan read from live state, and the local workspace's ARM request log shows no write while they
 * run. The promotion's plan is then held to what the promotion really does: once approved, the writes it makes are
 * the ones the plan listed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromotionDryRun, RetrainingPlan } from '../../lib/dry-run';
import type { Lab } from '../../local/lab';
import { runCli } from '../support/cli';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

interface LoggedRequest {
  seq: number;
  method: string;
  path: string;
  status: number;
}

interface Promotion {
  runtimeStatus: string;
  status?: { phase: string };
  result?: { outcome: string; reason: string; decision?: { evidenceDigest?: string } };
}

describe('dry runs on live state', { timeout: 240_000 }, () => {
  let app: EmbeddedApp;
  let lab: Lab;

  const requests = async (since: number, writesOnly = false): Promise<LoggedRequest[]> =>
    (
      (await lab.admin('GET', `requests?since=${since}${writesOnly ? '&writes=true' : ''}`)) as {
        value: LoggedRequest[];
      }
    ).value;
  const lastSeq = async () => (await requests(0)).at(-1)?.seq ?? 0;
  const promotion = async (id: string): Promise<Promotion | undefined> => {
    const res = await fetch(`${app.url}/api/promotions/${encodeURIComponent(id)}`);
    return res.status === 200 ? ((await res.json()) as Promotion) : undefined;
  };
  const phase = (id: string, wanted: string) =>
    eventually(
      async () => ((await promotion(id))?.status?.phase === wanted ? true : undefined),
      `${id}: ${wanted}`,
      1200,
    );
  const finished = (id: string) =>
    eventually(
      async () => {
        const p = await promotion(id);
        return p?.runtimeStatus === 'Completed' ? p : undefined;
      },
      `${id} to finish`,
      1200,
    );

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 50 });
    lab = app.lab;
    // v1 serves, v2 is deployed at 0 %, staged, and waits for a person: nothing else runs.
    await lab.trainAndRegister({ name: 'demand', version: '1', seed: 1 });
    await phase('promote:demand:1', 'awaiting-approval');
    expect((await runCli(app.url, 'approve', 'promote:demand:1', '--as', 'ana')).code).toBe(0);
    expect((await finished('promote:demand:1')).result?.outcome).toBe('promoted');
    await lab.trainAndRegister({ name: 'demand', version: '2', seed: 2 });
    await phase('promote:demand:2', 'awaiting-approval');
  }, 120_000);
  afterAll(async () => app?.stop());

  it('refuses an unknown version (404, checked against the registry) and a malformed flag (400)', async () => {
    const since = await lastSeq();
    const post = (body: unknown) => fetch(`${app.url}/api/promotions`, { method: 'POST', body: JSON.stringify(body) });
    const unknown = await post({ modelName: 'demand', modelVersion: '42', dryRun: true });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/^modelVersion: demand has no version "42"/);
    expect((await post({ modelName: 'nomodel', modelVersion: '1', dryRun: true })).status).toBe(404);
    const bad = await post({ modelName: 'demand', modelVersion: '2', dryRun: 'yes' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^dryRun: /);
    const cli = await runCli(app.url, 'promote', 'demand', '42', '--dry-run');
    expect(cli.code).toBe(1);
    expect(cli.err).toContain('HTTP 404');
    expect(await requests(since, true)).toEqual([]);
    expect(await promotion('promote:demand:42')).toBeUndefined();
  });

  it('the version serving: a plan that says there is nothing to promote (not a 500), writing nothing', async () => {
    const since = await lastSeq();
    const res = await runCli(app.url, 'promote', 'demand', '1', '--dry-run', '--json');
    expect(res.code, res.err).toBe(0);
    const { start, plan } = JSON.parse(res.out) as PromotionDryRun;
    expect(start).toMatchObject({ id: 'promote:demand:1', wouldStart: false });
    expect(plan).toMatchObject({ verdict: 'in-production', armWrites: [], stageTags: [], productionTags: [] });
    expect(plan.summary).toBe('demand:1 is in production already (stage=production): there is nothing to promote');
    expect(await requests(since, true)).toEqual([]);
  });

  it('a decision through the API or the CLI can be bound to the evidence read: a stale digest is refused, changing nothing', async () => {
    const id = 'promote:demand:2';
    const shown = await runCli(app.url, 'show', id);
    expect(shown.code, shown.err).toBe(0);
    const digest = /^\s*Evidence\s+(\S+)$/m.exec(shown.out)?.[1];
    const evidence = (await (await fetch(`${app.url}/api/promotions/${encodeURIComponent(id)}/evidence`)).json()) as {
      evidenceDigest: string;
    };
    expect(digest).toBe(evidence.evidenceDigest);
    expect(shown.out).toContain(`champion approve ${id} --evidence ${digest}`);
    // The approval page binds its form to the same digest.
    expect(await (await fetch(`${app.url}/promotions/${encodeURIComponent(id)}`)).text()).toContain(
      `name="evidenceDigest" value="${digest}"`,
    );

    const stale = await runCli(app.url, 'approve', id, '--as', 'ana', '--evidence', 'a-digest-of-other-evidence');
    expect(stale.code).toBe(1);
    expect(stale.err).toContain(`evidenceDigest: the evidence of ${id} changed since it was read`);
    const bad = await fetch(`${app.url}/api/promotions/${encodeURIComponent(id)}/decisions`, {
      method: 'POST',
      body: JSON.stringify({ decision: 'approve', approver: 'ana', evidenceDigest: 42 }),
    });
    expect(bad.status).toBe(400);
    expect((await promotion(id))?.status?.phase).toBe('awaiting-approval');
    expect((await fetch(`${app.url}/api/promotions/promote:demand:1/evidence`)).status).toBe(404);
  });

  it("a promotion's dry run reports the plan, writes nothing, and the release then makes exactly the writes it listed", async () => {
    const since = await lastSeq();
    const printed = await runCli(app.url, 'promote', 'demand', '2', '--dry-run');
    const json = await runCli(app.url, 'promote', 'demand', '2', '--dry-run', '--json');
    const writesDuringDryRuns = await requests(since, true);
    expect(printed.code, printed.err).toBe(0);
    expect(json.code, json.err).toBe(0);
    expect(writesDuringDryRuns).toEqual([]);
    // It read live state (ARM GETs), and no Durable instance was started for it.
    expect((await requests(since)).length).toBeGreaterThan(0);
    expect(await promotion('promote:demand:2:a2')).toBeUndefined();

    const { start, plan } = JSON.parse(json.out) as PromotionDryRun;
    expect(start).toMatchObject({ id: 'promote:demand:2', wouldStart: false });
    expect(start.refusal).toContain('already exists');
    expect(plan.verdict).toBe('would-stage');
    const endpoint = (await (await fetch(`${app.url}/api/endpoints/demand-ep`)).json()) as {
      traffic: Record<string, number>;
      deployments: { name: string; model: string | null }[];
    };
    const v2Slot = endpoint.deployments.find((d) => d.model === 'demand:2')!.name;
    const v1Slot = endpoint.deployments.find((d) => d.model === 'demand:1')!.name;
    // v2 is already in the idle slot: used as it is, evaluated through it against v1.
    expect(plan.slot).toMatchObject({ challenger: v2Slot, champion: v1Slot, deploy: false });
    expect(plan.evaluation).toMatchObject({ mode: 'paired', previewed: true });
    expect(plan.approval).toMatchObject({ asked: 'yes', onTimeout: 'reject' });
    expect(plan.traffic?.steps.at(-1)).toEqual({ [v1Slot]: 0, [v2Slot]: 100 });
    expect(plan.productionTags).toEqual([
      { version: '1', set: { stage: 'surpassed' } },
      { version: '2', set: { stage: 'production' } },
    ]);
    expect(printed.out).toContain('Dry run of demand:2: nothing was changed.');
    expect(printed.out).toMatch(/Evaluation \(paired, previewed through/);
    expect(printed.out).toContain(`PATCH ${plan.armWrites.find((w) => w.method === 'PATCH')!.path}`);
    expect(printed.out).toContain('the plan is what promote:demand:2 does from here');
    // Staged already by its own promotion: no stage write left.
    expect(plan.stageTags).toEqual([]);

    // Approved, the promotion makes the writes the plan gave for a release, in that order, and no other.
    const beforeRelease = await lastSeq();
    const { evidenceDigest } = (await (await fetch(`${app.url}/api/promotions/promote:demand:2/evidence`)).json()) as {
      evidenceDigest: string;
    };
    const approved = await runCli(app.url, 'approve', 'promote:demand:2', '--as', 'ana', '--evidence', evidenceDigest);
    expect(approved.code, approved.err).toBe(0);
    expect((await finished('promote:demand:2')).result?.outcome).toBe('promoted');
    expect((await finished('promote:demand:2')).result?.decision).toMatchObject({ evidenceDigest });
    const made = (await requests(beforeRelease, true)).map((r) => `${r.method} ${r.path}`);
    const planned = plan.armWrites.filter((w) => !w.when.startsWith('if ')).map((w) => `${w.method} ${w.path}`);
    expect(made).toEqual(planned);
  });

  it("a retraining's dry run runs the data checks, shows the job as it would be sent, and submits nothing", async () => {
    await lab.admin('POST', 'data/generate', { name: 'demand-train', version: '1', rows: 500, seed: 23 });
    const since = await lastSeq();
    const res = await runCli(app.url, 'retrain', 'demand', '--dry-run', '--json');
    const printed = await runCli(app.url, 'retrain', 'demand', '--dry-run');
    expect(res.code, res.err).toBe(0);
    expect(printed.code, printed.err).toBe(0);
    expect(await requests(since, true)).toEqual([]);
    const plan = JSON.parse(res.out) as RetrainingPlan;
    expect(plan.guard.decision).toMatchObject({ action: 'start' });
    expect(plan.guard.runId).toBe('retrain:demand:1');
    expect(plan.dataChecks).toMatchObject({ ok: true, dataVersion: '1' });
    expect(plan.environment?.version).toMatch(/^[0-9a-f]{16,}$/);
    expect(plan.code?.version).toMatch(/^[0-9a-f]{64}$/);
    expect(plan.job?.name).toBe('retrain-demand-1-xxxxxxxx');
    expect(plan.job?.body).toMatchObject({
      jobType: 'Command',
      tags: { 'champion.model': 'demand', 'champion.retraining': 'retrain:demand:1', 'champion.trigger': 'manual' },
      properties: { 'training.data_asset': 'demand-train:1' },
    });
    expect(plan.armWrites.map((w) => w.method)).toContain('PUT');
    expect(printed.out).toContain('Dry run of a retraining of demand: nothing was changed.');
    expect(printed.out).toContain('"jobType": "Command"');
    // No run, no job.
    const list = (await (await fetch(`${app.url}/api/retrainings?model=demand`)).json()) as {
      runs: unknown[];
      triggers: unknown[];
    };
    expect(list).toEqual({ runs: [], triggers: [] });
    expect((await lab.jobBodies()).filter((j) => j.name.startsWith('retrain-'))).toEqual([]);
  });
});
