/**
 * Operators' surfaces across environments on the embedded default (QA, the app's workspace, and production beside it):
 * forecast v1 then v2 promoted through QA and production; a rollback addresses the environment it names (production's
 * endpoint and registry, QA left as it is); each environment's production history (API, CSV, CLI, page) and endpoint
 * (dashboard, in a real headless Chromium); bad environment names are refused naming the field, changing nothing.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvironmentHistory, ScopedHistory } from '../../lib/history';
import { ENVIRONMENTS_MODEL, PROD_WORKSPACE } from '../../local/start';
import type { PromotionResult, PromotionStatus, RollbackResult } from '../../orchestrations/contract';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { runCli } from '../support/cli';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

interface Instance<S, R> {
  runtimeStatus: string;
  status?: S;
  result?: R;
}

describe('operating a model across QA and production', { timeout: 300_000 }, () => {
  let app: EmbeddedApp;
  const model = ENVIRONMENTS_MODEL;

  const read = async <S, R>(path: string): Promise<Instance<S, R> | undefined> => {
    const res = await fetch(`${app.url}${path}`);
    return res.status === 200 ? ((await res.json()) as Instance<S, R>) : undefined;
  };
  const promotion = (id: string) => read<PromotionStatus, PromotionResult>(`/api/promotions/${encodeURIComponent(id)}`);
  const until = <T>(what: string, look: () => Promise<T | undefined>) => eventually(look, what, 1800);
  const waiting = (id: string) =>
    until(`${id} to wait for a decision`, async () => {
      const p = await promotion(id);
      return p?.status?.phase === 'awaiting-approval' ? p : undefined;
    });
  const approve = async (id: string, approver: string) => {
    const res = await runCli(app.url, 'approve', id, '--as', approver);
    expect(res.code, res.err).toBe(0);
  };
  /** Registers a version and takes it through QA and the production gate. */
  const promoteThroughProduction = async (version: string, seed: number, quality: number) => {
    await app.lab.trainAndRegister({ name: model, version, seed, quality, as: 'dana', outputToDatastore: true });
    const parent = `promote:${model}:${version}`;
    await waiting(`${parent}@qa`);
    await approve(`${parent}@qa`, 'ana');
    await waiting(parent);
    await approve(parent, 'bo');
    const done = await until(`${parent} to finish`, async () => {
      const p = await promotion(parent);
      return p && p.runtimeStatus !== 'Running' && p.runtimeStatus !== 'Pending' ? p : undefined;
    });
    expect(done.result?.outcome, JSON.stringify(done.result)).toBe('promoted');
  };
  /** The model version an endpoint of a workspace serves at 100 %. */
  const serving = async (workspace: 'qa' | 'prod') => {
    const ws = workspace === 'prod' ? app.lab.inWorkspace(PROD_WORKSPACE) : app.lab.workspace;
    const endpointName = workspace === 'prod' ? 'forecast-prod' : 'forecast-qa';
    const endpoint = await ws.getEndpoint(endpointName);
    const slot = Object.entries(endpoint?.traffic ?? {}).find(([, pct]) => pct === 100)?.[0];
    const deployment = slot ? await ws.getDeployment(endpointName, slot) : undefined;
    return /\/versions\/(\w+)$/.exec(deployment?.modelId ?? '')?.[1];
  };
  /** ARM writes either workspace received (the local workspace's request log). */
  const writes = async () => {
    let count = 0;
    for (const workspace of ['', `&workspace=${PROD_WORKSPACE}`]) {
      const log = (await app.lab.admin('GET', `requests?method=WRITE${workspace}`)) as { value: unknown[] };
      count += log.value.length;
    }
    return count;
  };

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 50 });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });
  let browser: TestBrowser | undefined;
  /** What the pages' policy blocked or their script threw. */
  const pageErrors: string[] = [];
  const open = async (path: string): Promise<Page> => {
    browser ??= await launchBrowser();
    const page = await browser.page();
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) pageErrors.push(message.text());
    });
    page.on('pageerror', (error) => void pageErrors.push(error.message));
    await page.goto(`${app.url}${path}`);
    return page;
  };
  const history = async (query = '') => {
    const res = await fetch(`${app.url}/api/models/${model}/history${query}`);
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as ScopedHistory;
  };
  const versions = (h: { intervals: { version: string }[] }) => h.intervals.map((i) => i.version);

  it('promotes v1 then v2 through QA and production', async () => {
    // v2 clearly better, so production (which reuses QA's evidence and asks nobody) releases it without a person.
    await promoteThroughProduction('1', 5, 0.6);
    await promoteThroughProduction('2', 6, 1);
    expect(await serving('qa')).toBe('2');
    expect(await serving('prod')).toBe('2');
  });

  it('refuses a rollback naming no such environment, or naming one for a model without environments, with a 400 naming the field', async () => {
    const before = await writes();
    const post = (name: string, body: unknown) =>
      fetch(`${app.url}/api/models/${name}/rollback`, { method: 'POST', body: JSON.stringify(body) });
    const cases: [string, unknown, RegExp][] = [
      [
        model,
        { reason: 'x', environment: 'staging' },
        /^environment: "staging" is not one of forecast's environments \(qa, prod\)/,
      ],
      [model, { reason: 'x', environment: 7 }, /^environment: must be a non-empty string/],
      [model, { reason: 'x', environment: '' }, /^environment: must be a non-empty string/],
      [
        'demand',
        { reason: 'x', environment: 'prod' },
        /^environment: "prod": the policy of demand names no environments/,
      ],
    ];
    for (const [name, body, message] of cases) {
      const res = await post(name, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    }
    const cli = await runCli(app.url, 'rollback', model, '--environment', 'staging', '--reason', 'x');
    expect(cli.code).not.toBe(0);
    expect(cli.err).toMatch(/environment: "staging" is not one of forecast's environments \(qa, prod\)/);
    expect(await writes()).toBe(before);
    expect(await serving('prod')).toBe('2');
  });

  it("rolls back the environment it names: production's endpoint and tags, QA left as it is", async () => {
    const prod = app.lab.inWorkspace(PROD_WORKSPACE);
    const res = await runCli(
      app.url,
      'rollback',
      model,
      '--environment',
      'prod',
      '--reason',
      'late answers in production',
      '--as',
      'oncall',
      '--json',
    );
    expect(res.code, res.out + res.err).toBe(0);
    const view = JSON.parse(res.out) as { result: RollbackResult };
    expect(view.result).toMatchObject({ outcome: 'rolled-back', environment: 'prod' });
    expect(view.result.to?.model).toBe(`${model}:1`);
    expect(await serving('prod')).toBe('1');
    expect((await prod.getModelVersion(model, '1'))?.tags.stage).toBe('production');
    expect((await prod.getModelVersion(model, '2'))?.tags.stage).toBe('surpassed');
    // QA still serves v2, tagged as it was.
    expect(await serving('qa')).toBe('2');
    expect((await app.lab.workspace.getModelVersion(model, '2'))?.tags.stage).toBe('production');
    expect((await app.lab.workspace.getModelVersion(model, '1'))?.tags.stage).toBe('surpassed');
  });

  it("keeps each environment's production history: the releases there, and production's rollback", async () => {
    const prod = await history('?environment=prod');
    expect(prod).toMatchObject({ environment: 'prod', endpointName: 'forecast-prod', productionNow: '1' });
    expect(versions(prod)).toEqual(['1', '2', '1']);
    expect(prod.intervals[0]!.cause).toEqual({ kind: 'promotion', id: `promote:${model}:1@prod` });
    expect(prod.intervals[2]!.cause).toMatchObject({ kind: 'rollback', requestedBy: 'oncall' });
    expect(prod.notes).toEqual([]);
    // Without one: the first environment's, with every environment's beside it.
    const all = await history();
    expect(all).toMatchObject({ environment: 'qa', endpointName: 'forecast-qa', productionNow: '2' });
    expect(versions(all)).toEqual(['1', '2']);
    expect(all.intervals.map((i) => i.cause)).toEqual([
      { kind: 'promotion', id: `promote:${model}:1@qa` },
      { kind: 'promotion', id: `promote:${model}:2@qa` },
    ]);
    expect(all.environments?.map((e: EnvironmentHistory) => [e.environment, versions(e)])).toEqual([
      ['qa', ['1', '2']],
      ['prod', ['1', '2', '1']],
    ]);
    const csv = await fetch(`${app.url}/api/models/${model}/history?format=csv&environment=prod`);
    expect(csv.headers.get('content-disposition')).toContain(`${model}-prod-history.csv`);
    expect((await csv.text()).trim().split('\r\n')).toHaveLength(4);
    const at = await history(`?environment=prod&at=${encodeURIComponent(new Date().toISOString())}`);
    expect(at).toMatchObject({ environment: 'prod', production: { version: '1' } });

    const bad = await fetch(`${app.url}/api/models/${model}/history?environment=staging`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^environment: "staging" is not one of/);
    const single = await fetch(`${app.url}/api/models/demand/history?environment=prod`);
    expect(single.status).toBe(400);

    const cli = await runCli(app.url, 'history', model);
    expect(cli.code, cli.err).toBe(0);
    expect(cli.out).toContain(`Model ${model} in production in qa (endpoint forecast-qa)`);
    expect(cli.out).toContain(`Model ${model} in production in prod (endpoint forecast-prod)`);
    expect(cli.out).toContain('by oncall: late answers in production');
    const one = await runCli(app.url, 'history', model, '--environment', 'prod', '--at', new Date().toISOString());
    expect(one.out).toMatch(new RegExp(`${model}:1 was in production in prod\\.`));
  });

  it("shows each environment's endpoint and production version on the dashboard, and each one's history on its page", async () => {
    const page = await open('/');
    const production = (env: string) => page.locator(`[data-production="${model}@${env}"]`).textContent();
    expect(await production('qa')).toBe(`${model}:2`);
    expect(await production('prod')).toBe(`${model}:1`);
    const rows = async (env: string) =>
      (await page.locator(`[data-environment="${env}"] tr[data-deployment]`).allTextContents()).map((r) =>
        r.replace(/\s+/g, ' ').trim(),
      );
    // Production serves v1 again from its warm slot; v2 stays deployed at 0 %.
    expect((await rows('prod')).sort()).toEqual(
      [
        expect.stringMatching(new RegExp(`${model}:1 Succeeded 100 %$`)),
        expect.stringMatching(new RegExp(`${model}:2 Succeeded 0 %$`)),
      ].sort() as never,
    );
    expect(await rows('qa')).toContainEqual(expect.stringMatching(new RegExp(`${model}:2 Succeeded 100 %$`)));
    expect(await page.getByRole('heading', { name: /Endpoint forecast-prod \(prod\)/ }).count()).toBe(1);
    await screenshot(page, 'dashboard-environments');

    const historyPage = await open(`/models/${model}/history`);
    const section = (env: string) => historyPage.locator(`[data-environment="${env}"] tbody tr`);
    expect(await section('qa').count()).toBe(2);
    expect(await section('prod').count()).toBe(3);
    expect(await section('prod').last().textContent()).toContain('rolled back by oncall');
    // "In production at T" asked of production, through the form.
    await historyPage.selectOption('#environment', 'prod');
    await historyPage.fill('#at', new Date().toISOString());
    await historyPage.getByRole('button', { name: 'Ask' }).click();
    await historyPage.waitForURL((url) => url.searchParams.get('environment') === 'prod');
    expect(await historyPage.locator('[data-answer]').getAttribute('data-answer')).toBe('1');
    expect(await historyPage.locator('#answer').textContent()).toContain('in prod');
    await screenshot(historyPage, 'history-environments');
    const bad = await open(`/models/${model}/history?environment=staging`);
    expect(await bad.locator('[role="alert"]').textContent()).toMatch(/^environment: "staging" is not one of/);
    expect(pageErrors).toEqual([]);
  });
});
