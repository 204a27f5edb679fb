/**
 * The approval page in a real headless Chromium against the embedded default: the outbox shows the approval
 * request, its link opens a page with both models' metrics and the chart, and approving there lets the promotion
 * go on. Expired, invalid, reused and superseded links each show their page and change nothing; a decision made on
 * evidence that changed since the page was rendered is refused. Hostile text (a tag, a comment) stays text.
 * Screenshots of every page go to test-results/screenshots/.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApprovalToken } from '../../lib/approval';
import { decideByLink } from '../../local/inbox';
import { demoPolicy } from '../../local/start';
import type { PromotionResult, PromotionStatus } from '../../orchestrations/contract';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { EmbeddedApp } from '../support/embedded';
import { eventually, tempDir } from '../support/processes';

const ANA = 'ana@contoso.com';
const BO = 'bo@contoso.com';
const REGISTRANT = 'dana@contoso.com';
const HOSTILE_TAG = '<img src=x onerror="window.__xss=1">';
const HOSTILE_COMMENT = '</textarea><script>window.__xss=2</script><b id="injected">ok</b>';
const id = (version: number) => `promote:demand:${version}`;

interface Promotion {
  runtimeStatus: string;
  status?: PromotionStatus;
  result?: PromotionResult;
}

describe('approval page in a browser', { timeout: 240_000 }, () => {
  let app: EmbeddedApp;
  let browser: TestBrowser;
  const dialogs: string[] = [];

  const promotion = async (version: number): Promise<Promotion> =>
    (await (await fetch(`${app.url}/api/promotions/${encodeURIComponent(id(version))}`)).json()) as Promotion;
  const waitingForApproval = (version: number) =>
    eventually(
      async () => ((await promotion(version)).status?.phase === 'awaiting-approval' ? true : undefined),
      `${id(version)} to wait for approval`,
      900,
    );
  const finished = (version: number) =>
    eventually(
      async () => {
        const p = await promotion(version);
        return p.result ? p : undefined;
      },
      `${id(version)} to finish`,
      900,
    );
  const open = async (url: string): Promise<Page> => {
    const page = await browser.page();
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(url);
    return page;
  };
  const secret = () => readFileSync(path.join(app.dataDir, 'approval-secret'), 'utf8').trim();
  const linkWith = (version: number, token: string) =>
    `${app.url}/promotions/${encodeURIComponent(id(version))}#token=${encodeURIComponent(token)}`;
  const noScriptRan = async (page: Page) => {
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('#injected').count()).toBe(0);
  };

  beforeAll(async () => {
    const policies = path.join(tempDir('policies'), 'policies.json');
    const policy = { ...demoPolicy(), approval: { required: true, timeout: 'PT1H', approvers: [ANA, BO] } };
    writeFileSync(policies, JSON.stringify({ policies: [policy] }));
    app = await EmbeddedApp.start({
      provisioningMs: 50,
      args: ['--policies', policies],
      env: { CHAMPION_LOCAL_USER: 'carol@contoso.com' },
    });
    browser = await launchBrowser();
    // v1 becomes the champion through the API, so v2 is compared with it on the same rows.
    await app.lab.trainAndRegister({ name: 'demand', version: '1', seed: 11, quality: 0.6, as: REGISTRANT });
    await waitingForApproval(1);
    expect((await decideByLink(app.inbox.message(id(1), ANA)!.approveUrl)).status).toBe(202);
    expect((await finished(1)).result?.outcome).toBe('promoted');
    await app.lab.trainAndRegister({
      name: 'demand',
      version: '2',
      seed: 12,
      quality: 1,
      as: REGISTRANT,
      tags: { note: HOSTILE_TAG },
    });
    await waitingForApproval(2);
  }, 200_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('lists the approval request in the outbox page of the dashboard, one message per approver with their links', async () => {
    const page = await open(`${app.url}/`);
    await page.getByRole('navigation').getByRole('link', { name: 'Outbox' }).click();
    await page.waitForURL(/\/outbox$/);
    expect(await page.locator('nav a[aria-current="page"]').textContent()).toBe('Outbox');
    const messages = page.locator('#outbox article', { hasText: id(2) });
    expect(await messages.count()).toBe(2);
    expect(await messages.locator('.to').allTextContents()).toEqual(expect.arrayContaining([ANA, BO]));
    expect(await page.getByRole('main').textContent()).toContain('demand version 2');
    await screenshot(page, 'outbox');
    // Only the local runtime has an outbox; the link in it is the approver's own.
    const href = await messages
      .filter({ has: page.locator('.to', { hasText: /^ana@contoso\.com$/ }) })
      .locator('a.approve-link')
      .getAttribute('href');
    expect(href).toBe(app.inbox.message(id(2), ANA)!.approveUrl);
  });

  it('shows an expired link its page, and a decision through it changes nothing', async () => {
    const { approveUrl } = app.inbox.message(id(2), ANA)!;
    const claims = JSON.parse(
      Buffer.from(
        new URLSearchParams(new URL(approveUrl).hash.slice(1)).get('token')!.split('.')[0]!,
        'base64url',
      ).toString(),
    ) as { n: string };
    const expired = createApprovalToken(secret(), {
      promotionId: id(2),
      modelName: 'demand',
      modelVersion: '2',
      decision: 'approve',
      expiresAt: new Date(Date.now() - 60_000),
      nonce: claims.n,
      approver: ANA,
    });
    const page = await open(linkWith(2, expired));
    await page.locator('#link-expired').waitFor();
    expect(await page.locator('#link-expired').textContent()).toContain('expired');
    expect(await page.locator('#decide').isHidden()).toBe(true);
    // The token left the address bar before anything else happened.
    expect(new URL(page.url()).hash).toBe('');
    await screenshot(page, 'link-expired');
    // Sent anyway (as a form would), the server refuses it with its page.
    const res = await fetch(`${app.url}/promotions/${encodeURIComponent(id(2))}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: expired, decision: 'approve' }).toString(),
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('This approval link has expired');
    expect((await promotion(2)).status).toMatchObject({ phase: 'awaiting-approval' });
    expect((await promotion(2)).status?.decision).toBeUndefined();
  });

  it('refuses a link whose token was changed on the way, with its page', async () => {
    const { approveUrl } = app.inbox.message(id(2), ANA)!;
    const token = new URLSearchParams(new URL(approveUrl).hash.slice(1)).get('token')!;
    const [payload, signature] = token.split('.') as [string, string];
    const tampered = `${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    const page = await open(linkWith(2, tampered));
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('heading', { name: 'Not a valid approval link' }).waitFor();
    await screenshot(page, 'link-invalid');
    expect((await promotion(2)).status?.decision).toBeUndefined();
  });

  it("shows both models' metrics, the chart, the smoke test and the plan; refuses a decision on changed evidence", async () => {
    const page = await open(app.inbox.message(id(2), ANA)!.approveUrl);
    await page.locator('#decide').waitFor();
    const status = (await promotion(2)).status!;
    const evidence = status.evidence!;
    expect(evidence.primary?.champion).toEqual(expect.any(Number));
    expect(evidence.primary?.challenger).toEqual(expect.any(Number));
    const primaryRow = page.locator('#metrics tbody tr').first();
    expect(await primaryRow.locator('th').textContent()).toContain('mse');
    expect(await primaryRow.locator('[data-model=champion]').textContent()).toBe(
      String(Number(evidence.primary!.champion!.toPrecision(4))),
    );
    expect(await primaryRow.locator('[data-model=challenger]').textContent()).toBe(
      String(Number(evidence.primary!.challenger!.toPrecision(4))),
    );
    expect(await page.locator('#metrics tbody tr', { hasText: 'mae (guardrail)' }).count()).toBe(1);
    const bars = page.locator('#differences-chart rect');
    expect(await bars.count()).toBe(evidence.differences!.counts.length);
    expect(await page.locator('#chart-desc').textContent()).toContain(`${evidence.differences!.better} rows better`);
    expect(await page.locator('#smoke-test').innerText()).toMatch(/^Passed: 1 request/);
    expect(await page.locator('#rollout-plan').textContent()).toContain('100 %');
    expect(await page.locator('#registrant').textContent()).toContain(REGISTRANT);
    expect(await page.locator('#job').textContent()).toContain('demand-train-v2');
    expect(await page.locator('#tags').textContent()).toContain(HOSTILE_TAG);
    // This link approves; the other button is gone.
    expect(await page.getByRole('button', { name: 'Reject' }).count()).toBe(0);
    await noScriptRan(page);
    await screenshot(page, 'approval-page');

    // The version's registry facts change while the page is open: the decision made on the old ones is refused.
    await app.lab.workspace.updateModelTags('demand', '2', { 'git.commit': '0badc0ffee' }, []);
    await page.getByLabel('Comment (optional)').fill('looks fine');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('heading', { name: 'The evidence changed' }).waitFor();
    expect(await page.locator('#commit').textContent()).toContain('0badc0ffee');
    await screenshot(page, 'evidence-changed');
    const after = await promotion(2);
    expect(after.status?.phase).toBe('awaiting-approval');
    expect(after.status?.decision).toBeUndefined();
  });

  it('opens the page from a link sent before it existed (the decision route’s address), the token kept', async () => {
    const link = new URL(app.inbox.message(id(2), ANA)!.approveUrl);
    const old = `${app.url}/api/promotions/${encodeURIComponent(id(2))}/decision${link.hash}`;
    const page = await open(old);
    await page.locator('#decide').waitFor();
    expect(new URL(page.url()).pathname).toBe(`/promotions/${encodeURIComponent(id(2))}`);
    expect(new URL(page.url()).hash).toBe('');
    expect(await page.locator('#link-state').textContent()).toContain(`approves the promotion as ${ANA}`);
    expect((await promotion(2)).status?.decision).toBeUndefined();
  });

  it('approves through the link, shows the decision taken, and the promotion goes on', async () => {
    const page = await open(app.inbox.message(id(2), ANA)!.approveUrl);
    await page.locator('#decide').waitFor();
    await page.getByLabel('Comment (optional)').fill(HOSTILE_COMMENT);
    // Keyboard only: focus the button and press Enter.
    await page.getByRole('button', { name: 'Approve' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Decision taken' }).waitFor();
    const taken = await page.locator('#decision-taken').textContent();
    expect(taken).toContain(`Approved by ${ANA}`);
    expect(taken).toContain(HOSTILE_COMMENT);
    await noScriptRan(page);
    await screenshot(page, 'approval-decided');

    const done = await finished(2);
    expect(done.result?.outcome).toBe('promoted');
    expect(done.result?.decision).toMatchObject({ approver: ANA, via: 'link', comment: HOSTILE_COMMENT });
    // The decision records the digest of the evidence the page showed.
    expect(done.result?.decision?.evidenceDigest).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // The dashboard links the promotion to its page.
    const view = await open(`${app.url}/`);
    await view
      .locator(`a[href="/promotions/${encodeURIComponent(id(2))}"]`)
      .first()
      .click();
    await view.waitForURL((url) => url.pathname === `/promotions/${encodeURIComponent(id(2))}`);
    expect(await view.getByRole('heading', { level: 1 }).textContent()).toBe('Promotion of demand version 2');
    expect(await view.locator('#outcome').textContent()).toContain('Promoted');
    const serving = view.locator('#traffic tbody tr', { hasText: 'demand:2' });
    expect(await serving.locator('td.num').textContent()).toBe('100 %');
    expect(await view.locator('#timeline li').count()).toBe(done.result!.timeline!.length);
    expect(await view.locator('#decision-taken').textContent()).toContain(`Approved by ${ANA}`);
    await noScriptRan(view);
    await screenshot(view, 'promotion-page');
  });

  it('shows a reused link, and another approver’s link, the decision already taken; neither changes it', async () => {
    const before = (await promotion(2)).result;
    for (const [who, name] of [
      [ANA, 'link-reused'],
      [BO, 'link-other-approver'],
    ] as const) {
      const link = app.inbox.message(id(2), who)!.rejectUrl;
      const page = await open(link);
      await page.getByRole('heading', { name: 'Already decided', exact: true }).waitFor();
      expect(await page.locator('#link-notice').textContent()).toContain(`approved by ${ANA}`);
      expect(await page.locator('#decide').count()).toBe(0);
      await screenshot(page, name);
      const res = await fetch(link.split('#')[0]!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token: new URLSearchParams(new URL(link).hash.slice(1)).get('token')!,
          evidenceDigest: 'x',
        }).toString(),
      });
      expect(res.status).toBe(409);
    }
    expect((await promotion(2)).result).toEqual(before);
    expect(dialogs).toEqual([]);
  });

  it('shows a superseded promotion’s link its page, and it changes nothing', async () => {
    await app.lab.trainAndRegister({ name: 'demand', version: '3', seed: 14, quality: 1, as: REGISTRANT });
    await waitingForApproval(3);
    await app.lab.trainAndRegister({ name: 'demand', version: '4', seed: 15, quality: 1, as: REGISTRANT });
    const superseded = await finished(3);
    expect(superseded.result?.outcome).toBe('superseded');
    const page = await open(app.inbox.message(id(3), ANA)!.approveUrl);
    await page.getByRole('heading', { name: 'Superseded', exact: true }).waitFor();
    expect(await page.locator('#decide').count()).toBe(0);
    await screenshot(page, 'link-superseded');
    expect((await decideByLink(app.inbox.message(id(3), ANA)!.approveUrl)).status).toBe(409);
    expect((await promotion(3)).result).toEqual(superseded.result);
  });
});
