/**
 * A promotion across environments that fails in production, on the embedded default: its dry run shows the retry
 * going on after QA (where the version serves already) without writing anything in any workspace or the registry,
 * and the retry then does just that — no second promotion in QA, production's gate, and the writes the plan listed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromotionDryRun } from '../../lib/dry-run';
import { ENVIRONMENTS_MODEL, LOCAL_REGISTRY, localRegistryId, PROD_WORKSPACE, QA_WORKSPACE } from '../../local/start';
import type { PromotionResult } from '../../orchestrations/contract';
import { runCli } from '../support/cli';
import { EmbeddedApp } from '../support/embedded';
import { startEnvironmentsApp } from '../support/environments';
import { eventually } from '../support/processes';

interface LoggedRequest {
  seq: number;
  method: string;
  path: string;
}

describe('retrying a promotion that failed in production', { timeout: 300_000 }, () => {
  let app: EmbeddedApp;
  const model = ENVIRONMENTS_MODEL;
  const id = `promote:${model}:1`;
  const retried = `${id}:a2`;

  /** The request log of the app's workspace (QA, and the registry it serves), or of another one the host serves. */
  const requests = async (since: number, writesOnly = false, workspace?: string): Promise<LoggedRequest[]> =>
    (
      (await app.lab.admin(
        'GET',
        `requests?since=${since}${writesOnly ? '&writes=true' : ''}${workspace ? `&workspace=${workspace}` : ''}`,
      )) as { value: LoggedRequest[] }
    ).value;
  const lastSeq = async (workspace?: string) => (await requests(0, false, workspace)).at(-1)?.seq ?? 0;
  const ended = (promotionId: string) =>
    eventually(
      async () => {
        const res = await fetch(`${app.url}/api/promotions/${encodeURIComponent(promotionId)}`);
        if (res.status !== 200) return undefined;
        const p = (await res.json()) as { runtimeStatus: string; result?: PromotionResult };
        return p.runtimeStatus === 'Completed' || p.runtimeStatus === 'Failed' ? p : undefined;
      },
      `${promotionId} to end`,
      2400,
    );
  const inWorkspace = (workspace: string) => (r: { path: string }) => r.path.includes(`/workspaces/${workspace}/`);

  beforeAll(async () => {
    app = await startEnvironmentsApp('environments-retry', (prod) => ({
      ...prod,
      gate: { bake: 'PT1S' },
      registry: localRegistryId(LOCAL_REGISTRY),
    }));
    // Production's first deployment fails for want of quota: QA is promoted, production is not.
    await app.lab.admin('POST', `faults?workspace=${PROD_WORKSPACE}`, {
      kind: 'provisioning',
      endpoint: 'forecast-prod',
      code: 'OutOfQuota',
      message: 'Not enough quota for Standard_DS3_v2',
      count: 1,
    });
    await app.lab.trainAndRegister({ name: model, version: '1', seed: 41, outputToDatastore: true });
    const first = await ended(id);
    expect(first.result?.outcome, JSON.stringify(first.result)).toBe('failed');
    expect(first.result?.environments?.map((e) => e.state)).toEqual(['promoted', 'stopped']);
  }, 240_000);
  afterAll(async () => app?.stop());

  it('dry run: an environment it cannot read (a role missing) is reported as not reached, naming the error', async () => {
    await app.lab.admin('POST', `faults?workspace=${PROD_WORKSPACE}`, {
      kind: 'arm',
      method: 'GET',
      path: '*/onlineEndpoints/forecast-prod',
      status: 403,
      code: 'AuthorizationFailed',
      message: 'The client does not have authorization to perform action read over scope forecast-prod.',
      count: 20,
    });
    try {
      const res = await runCli(app.url, 'promote', model, '1', '--dry-run', '--json');
      expect(res.code, res.err).toBe(0);
      const prod = (JSON.parse(res.out) as PromotionDryRun).environments![1]!;
      expect(prod.plan).toBeUndefined();
      expect(prod.notReached).toMatch(/^prod: could not read it: .*AuthorizationFailed/);
    } finally {
      await app.lab.admin('DELETE', `faults?workspace=${PROD_WORKSPACE}`);
    }
  });

  it('dry run: the retry carries QA and plans the gate, the copy (made already) and production, writing nothing', async () => {
    const since = await lastSeq();
    const prodSince = await lastSeq(PROD_WORKSPACE);
    const json = await runCli(app.url, 'promote', model, '1', '--dry-run', '--json');
    const printed = await runCli(app.url, 'promote', model, '1', '--dry-run');
    expect(json.code, json.err).toBe(0);
    expect(printed.code, printed.err).toBe(0);
    expect(await requests(since, true)).toEqual([]);
    // It read QA and production.
    expect(await requests(prodSince, true, PROD_WORKSPACE)).toEqual([]);
    const read = await requests(since);
    expect(read.some(inWorkspace(QA_WORKSPACE))).toBe(true);
    expect((await requests(prodSince, false, PROD_WORKSPACE)).length).toBeGreaterThan(0);

    const { start, plan, environments } = JSON.parse(json.out) as PromotionDryRun;
    expect(start).toMatchObject({ id, wouldStart: false });
    expect(start.refusal).toContain(`champion retry ${id}`);
    const [qa, prod] = environments!;
    expect(qa).toMatchObject({ name: 'qa', carried: { promotionId: `${id}@qa` } });
    expect(qa!.plan).toBeUndefined();
    expect(prod!.gate).toEqual({ kind: 'bake', bake: 'PT1S', maxErrorRate: 0.01, in: 'qa' });
    // The failed attempt copied it already, through the registry: nothing to copy again.
    expect(prod!.copy).toMatchObject({ from: 'qa', registered: true, armWrites: [] });
    expect(plan).toEqual(prod!.plan);
    expect(plan.promotionId).toBe(`${retried}@prod`);
    expect(plan.verdict).toBe('would-stage');
    expect(plan.evaluation).toMatchObject({ previewed: true, decision: 'win' });
    expect(plan.evaluation.previewed && plan.evaluation.through).toContain("qa's evidence, reused");
    expect(printed.out).toContain('Across qa → prod: qa serves it already');
    expect(printed.out).toContain('== prod: forecast-prod in');
    expect(printed.out).toContain('Gate: a bake of PT1S in qa');

    // The retry does what the plan said: nothing in QA or the registry, production's writes as listed.
    const beforeRetry = await lastSeq();
    const prodBeforeRetry = await lastSeq(PROD_WORKSPACE);
    const retry = await runCli(app.url, 'retry', id);
    expect(retry.code, retry.err).toBe(0);
    expect(retry.out).toContain(`Serves qa already (promoted by ${id}@qa): nothing is done there.`);
    const done = await ended(retried);
    expect(done.result?.outcome, JSON.stringify(done.result)).toBe('promoted');
    expect(done.result?.environments?.map((e) => [e.name, e.state, e.carried ?? false])).toEqual([
      ['qa', 'promoted', true],
      ['prod', 'promoted', false],
    ]);
    expect((await fetch(`${app.url}/api/promotions/${encodeURIComponent(`${retried}@qa`)}`)).status).toBe(404);
    // On call, `champion show` says where it is in each environment and by which promotion.
    const shown = await runCli(app.url, 'show', retried);
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toMatch(new RegExp(`\\n\\s+qa\\s+promoted \\(earlier attempt\\)\\s+${id}@qa\\s`));
    expect(shown.out).toMatch(new RegExp(`\\n\\s+prod\\s+promoted\\s+${retried}@prod\\s+baked PT1S in qa`));
    // And so does its page, linking each environment's promotion.
    const page = await (await fetch(`${app.url}/promotions/${encodeURIComponent(retried)}`)).text();
    const row = (name: string) => new RegExp(`<tr data-environment="${name}">(.*?)</tr>`, 's').exec(page)?.[1] ?? '';
    expect(row('qa')).toContain('promoted (by an earlier attempt)');
    expect(row('qa')).toContain(`href="/promotions/${encodeURIComponent(`${id}@qa`)}"`);
    expect(row('prod')).toContain('baked PT1S in qa');
    expect(await requests(beforeRetry, true)).toEqual([]);
    // listKeys is a POST that changes nothing: the smoke test's key, read once.
    const made = (await requests(prodBeforeRetry, true, PROD_WORKSPACE)).filter((r) => !r.path.endsWith('/listKeys'));
    const planned = plan.armWrites.filter((w) => !w.when.startsWith('if ')).map((w) => `${w.method} ${w.path}`);
    expect(made.map((r) => `${r.method} ${r.path}`)).toEqual(planned);
    expect((await app.lab.inWorkspace(PROD_WORKSPACE).getModelVersion(model, '1'))?.tags.stage).toBe('production');
  });
});
