/**
 * The dashboard and the production history in a real headless Chromium against the embedded default. After the
 * demo's swap (v1 deployed with no champion, then v2 approved and swapped in), the dashboard shows v2 in production
 * and the endpoint's traffic, and the history page answers "production at T" for a T before and one after the swap.
 * While a promotion runs the dashboard updates itself; a hostile rollback reason stays text; no approval token is
 * ever on the pages. Screenshots go to test-results/screenshots/.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelHistory } from '../../lib/domain/history';
import type { PromotionResult, PromotionStatus } from '../../orchestrations/contract';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { runCli } from '../support/cli';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

const HOSTILE = '<img src=x onerror="window.__xss=1">';
const id = (version: string) => `promote:demand:${version}`;

interface Promotion {
  runtimeStatus: string;
  status?: PromotionStatus;
  result?: PromotionResult;
}

interface EndpointView {
  traffic: Record<string, number>;
  deployments: { name: string; model: string | null }[];
}

describe('the dashboard and the production history in a browser', { timeout: 300_000 }, () => {
  let app: EmbeddedApp;
  let browser: TestBrowser;
  const tokens: string[] = [];
  /** What the policy blocked and what failed in the pages' script, on every page opened. */
  const consoleErrors: string[] = [];

  const getJson = async <T>(path: string) => (await (await fetch(`${app.url}${path}`)).json()) as T;
  const promotion = (version: string) => getJson<Promotion>(`/api/promotions/${encodeURIComponent(id(version))}`);
  const waitingForApproval = (version: string) =>
    eventually(
      async () => ((await promotion(version)).status?.phase === 'awaiting-approval' ? true : undefined),
      `${id(version)} to wait for approval`,
      1200,
    );
  const promote = async (version: string, seed: number, quality: number) => {
    await app.lab.trainAndRegister({ name: 'demand', version, seed, quality, as: 'dana' });
    await waitingForApproval(version);
    keepTokens(version);
    const approved = await runCli(app.url, 'approve', id(version), '--as', 'ana');
    expect(approved.code, approved.err).toBe(0);
    const done = await eventually(
      async () => {
        const p = await promotion(version);
        return p.runtimeStatus === 'Completed' ? p : undefined;
      },
      `${id(version)} to finish`,
      1200,
    );
    expect(done.result?.outcome, done.result?.reason).toBe('promoted');
  };
  /** The tokens the approvers were sent, which no page may show. */
  const keepTokens = (version: string) => {
    const message = app.inbox.message(id(version));
    for (const link of [message?.approveUrl, message?.rejectUrl]) {
      const token = link && new URLSearchParams(new URL(link).hash.slice(1)).get('token');
      if (token) tokens.push(token);
    }
  };
  const open = async (path: string): Promise<Page> => {
    const page = await browser.page();
    // A 400 page is logged as a failed load: only what the policy blocked counts here.
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => void consoleErrors.push(error.message));
    await page.goto(`${app.url}${path}`);
    return page;
  };
  const showsNoToken = async (page: Page) => {
    const content = await page.content();
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) expect(content).not.toContain(token);
    expect(content).not.toContain('#token=');
    expect(consoleErrors).toEqual([]);
  };

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 50 });
    browser = await launchBrowser();
    // The demo's first steps: v1 with no champion, then a better v2 swapped in blue/green.
    await promote('1', 11, 0.6);
    await promote('2', 12, 1);
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('shows the new production version after the swap, and the endpoint traffic as the API reports it', async () => {
    const endpoint = await getJson<EndpointView>('/api/endpoints/demand-ep');
    const serving = endpoint.deployments.find((d) => d.model === 'demand:2')!;
    const warm = endpoint.deployments.find((d) => d.model === 'demand:1')!;
    expect(endpoint.traffic).toMatchObject({ [serving.name]: 100, [warm.name]: 0 });

    const page = await open('/');
    expect(await page.title()).toBe('Dashboard · Champion');
    expect(await page.locator('[data-production="demand"]').textContent()).toBe('demand:2');
    const row = (slot: string) => page.locator(`tr[data-deployment="${slot}"]`);
    expect(await row(serving.name).textContent()).toMatch(/demand:2\s*Succeeded\s*100 %/);
    expect(await row(warm.name).textContent()).toMatch(/demand:1\s*Succeeded\s*0 %/);
    // The version table agrees with the registry's tags.
    const stages = await page.locator('table:has(caption:text("Versions of demand")) tbody tr').allTextContents();
    expect(stages.map((r) => r.replace(/\s+/g, ' ').trim().split(' ').slice(0, 2).join(' '))).toEqual([
      '2 production',
      '1 surpassed',
    ]);
    // The swap's traffic over time, and the promotion linked to its page.
    const chart = page.locator('svg[role="img"][aria-label^="Traffic of promote:demand:2"]');
    expect(await chart.count()).toBe(1);
    expect(await chart.getAttribute('aria-label')).toContain(`${serving.name} 100 %`);
    expect(await page.locator(`a[href="/promotions/${encodeURIComponent(id('2'))}"]`).count()).toBeGreaterThan(0);
    expect(await page.locator('main').getAttribute('data-live')).toBe('false');
    await showsNoToken(page);
    await screenshot(page, 'dashboard-after-swap');
  });

  it('opens a promotion from its link on the dashboard: its page with both models’ metrics, the chart and the traffic', async () => {
    const page = await open('/');
    await page
      .locator(`a[href="/promotions/${encodeURIComponent(id('2'))}"]`)
      .first()
      .click();
    await page.waitForURL((url) => url.pathname === `/promotions/${encodeURIComponent(id('2'))}`);
    expect(await page.title()).toBe('demand 2 · Champion');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Promotion of demand version 2');
    expect(await page.locator('#outcome').textContent()).toContain('Promoted');
    const primary = page.locator('#metrics tbody tr').first();
    expect(await primary.locator('[data-model=champion]').textContent()).toMatch(/^\d/);
    expect(await primary.locator('[data-model=challenger]').textContent()).toMatch(/^\d/);
    expect(await page.locator('#differences-chart rect').count()).toBeGreaterThan(0);
    expect(await page.locator('#decision-taken').textContent()).toContain('Approved by ana');
    const serving = page.locator('#traffic tbody tr', { hasText: 'demand:2' });
    expect(await serving.locator('td.num').textContent()).toBe('100 %');
    // Back to the dashboard through the site's navigation.
    await page.getByRole('navigation').getByRole('link', { name: 'Dashboard' }).click();
    await page.waitForURL((url) => url.pathname === '/');
    await showsNoToken(page);
  });

  it('is read with the keyboard: a skip link first, then every link and control in order', async () => {
    const page = await open('/');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.id')).toBe('main');
    // The first timeline opens from the keyboard.
    const summary = page.locator('details summary').first();
    await summary.focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('details').first().getAttribute('open')).not.toBeNull();
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.locator('header').count()).toBe(1);
    expect(await page.locator('nav[aria-label]').count()).toBe(1);
  });

  it('answers "what was in production at T" for a T before and a T after the swap', async () => {
    const history = await getJson<ModelHistory>('/api/models/demand/history');
    const [first, second] = history.intervals;
    expect([first?.version, second?.version]).toEqual(['1', '2']);
    const swap = Date.parse(second!.from!);
    expect(first!.until).toBe(second!.from);
    const before = new Date((Date.parse(first!.from!) + swap) / 2).toISOString();
    const after = new Date(swap + 1).toISOString();

    // From the dashboard's link, then the form, as a person would.
    const page = await open('/');
    await page.getByRole('link', { name: 'Production history of demand' }).click();
    await page.waitForURL(/\/models\/demand\/history$/);
    expect(await page.locator('tbody tr').count()).toBe(2);
    const ask = async (at: string) => {
      await page.getByLabel(/In production at/).fill(at);
      await page.keyboard.press('Enter');
      await page.waitForURL((url) => url.searchParams.get('at') === at);
      return page.locator('[data-answer]').getAttribute('data-answer');
    };
    expect(await ask(before)).toBe('1');
    expect((await page.locator('[data-answer]').textContent())?.replace(/\s+/g, ' ').trim()).toBe(
      'demand:1 was in production.',
    );
    await screenshot(page, 'history-before-swap');
    expect(await ask(after)).toBe('2');
    const answer = (await page.locator('section:has(#answer)').textContent())!;
    expect(answer).toContain('ana (unauthenticated)');
    expect(answer).toContain(`released by ${id('2')}`);
    await screenshot(page, 'history-after-swap');
    expect(await ask('2000-01-01T00:00:00Z')).toBe('');

    // A time that is not one: the field says so, and the page is a 400.
    const bad = await page.goto(`${app.url}/models/demand/history?at=yesterday`);
    expect(bad?.status()).toBe(400);
    expect(await page.getByLabel(/In production at/).getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#at-problem').textContent()).toMatch(/^at: an ISO 8601 date-time/);

    // The exports the page links to.
    const csv = await fetch(`${app.url}/models/demand/history?format=csv&at=${encodeURIComponent(after)}`);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = (await csv.text()).split('\r\n');
    expect(rows[1]!.split(',').slice(0, 2)).toEqual(['demand', '2']);
    await showsNoToken(page);
  });

  it('updates itself while a promotion runs, until it ends', async () => {
    await app.lab.trainAndRegister({ name: 'demand', version: '3', seed: 14, quality: 1, as: 'dana' });
    await waitingForApproval('3');
    keepTokens('3');
    const page = await open('/');
    expect(await page.locator('main').getAttribute('data-live')).toBe('true');
    expect(await page.locator('#live-controls').textContent()).toContain('1 running');
    await screenshot(page, 'dashboard-promotion-running');
    // Without JavaScript it reads the same, and reloads itself while something runs.
    const plain = await browser.page({ javaScriptEnabled: false });
    await plain.goto(`${app.url}/`);
    expect(await plain.locator('[data-production="demand"]').textContent()).toBe('demand:2');
    expect(await plain.locator('noscript').first().innerHTML()).toContain('http-equiv="refresh"');
    await page.evaluate('window.__sameDocument = true');
    const approved = await runCli(app.url, 'approve', id('3'), '--as', 'ana');
    expect(approved.code, approved.err).toBe(0);
    // No reload: the page fetches itself and swaps its content.
    await page.locator('[data-production="demand"]', { hasText: /^demand:3$/ }).waitFor({ timeout: 120_000 });
    await page.locator('main[data-live="false"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('#live-controls').textContent()).toContain('nothing running');
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    await showsNoToken(page);
  });

  it('shows a rollback in the history, its hostile reason as text', async () => {
    const rolled = await runCli(app.url, 'rollback', 'demand', '--as', 'oncall', '--reason', HOSTILE);
    expect(rolled.code, rolled.out + rolled.err).toBe(0);
    for (const path of ['/', '/models/demand/history']) {
      const page = await open(path);
      expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
      expect(await page.locator('main img').count()).toBe(0);
      if (path === '/') expect(await page.locator('[data-production="demand"]').textContent()).toBe('demand:2');
      else {
        const last = await page.locator('tbody tr').last().textContent();
        expect(last).toContain(`rolled back by oncall (unauthenticated): ${HOSTILE}`);
        await screenshot(page, 'history-after-rollback');
      }
    }
  });
});
