/**
 * The pages behind App Service authentication (WEBSITE_AUTH_ENABLED=True), with the principal headers the platform
 * would set given by the browser, as the platform's front end does after sign-in: a caller not signed in is sent to
 * sign in and the link's token survives it in the tab; a signed-in approver decides on the promotion's page; a
 * signed-in user who is not an approver sees no form; a form posted from another site is refused.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoPolicy } from '../../local/start';
import type { PromotionResult, PromotionStatus } from '../../orchestrations/contract';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { EmbeddedApp } from '../support/embedded';
import { eventually, tempDir } from '../support/processes';

const ANA = 'ana@contoso.com';
const BO = 'bo@contoso.com';
const id = (version: number) => `promote:demand:${version}`;
const signedIn = (name: string) => ({ 'x-ms-client-principal-name': name, 'x-ms-client-principal-idp': 'aad' });

interface Promotion {
  runtimeStatus: string;
  status?: PromotionStatus;
  result?: PromotionResult;
}

describe('pages behind App Service authentication', { timeout: 240_000 }, () => {
  let app: EmbeddedApp;
  let browser: TestBrowser;

  const promotion = async (version: number): Promise<Promotion> =>
    (await (await fetch(`${app.url}/api/promotions/${encodeURIComponent(id(version))}`)).json()) as Promotion;
  const waitingForApproval = (version: number) =>
    eventually(
      async () => ((await promotion(version)).status?.phase === 'awaiting-approval' ? true : undefined),
      `${id(version)} to wait for approval`,
      900,
    );
  const pagePath = (version: number) => `/promotions/${encodeURIComponent(id(version))}`;

  beforeAll(async () => {
    const policies = path.join(tempDir('policies'), 'policies.json');
    const policy = { ...demoPolicy(), approval: { required: true, timeout: 'PT1H', approvers: [ANA] } };
    writeFileSync(policies, JSON.stringify({ policies: [policy] }));
    app = await EmbeddedApp.start({
      provisioningMs: 50,
      args: ['--policies', policies],
      env: { WEBSITE_AUTH_ENABLED: 'True' },
    });
    browser = await launchBrowser();
    await app.lab.trainAndRegister({ name: 'demand', version: '1', seed: 11, quality: 0.6, as: 'dana@contoso.com' });
    await waitingForApproval(1);
  }, 200_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('sends a caller who is not signed in to sign in, keeping the link’s token in the tab, then decides signed in', async () => {
    const link = app.inbox.message(id(1), ANA)!.approveUrl;
    const page = await browser.page();
    await page.goto(link);
    expect(await page.getByRole('heading', { name: 'Sign in', exact: true }).count()).toBe(1);
    const signIn = await page.locator('#sign-in').getAttribute('href');
    expect(signIn).toBe(`/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(pagePath(1))}`);
    expect(await page.locator('#metrics').count()).toBe(0);
    expect(new URL(page.url()).hash).toBe('');
    await screenshot(page, 'sign-in');
    // Back from sign-in (the platform now sets the principal headers), without the fragment.
    await page.context().setExtraHTTPHeaders(signedIn(ANA));
    await page.goto(link.split('#')[0]!);
    await page.locator('#decide').waitFor();
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('heading', { name: 'Decision taken' }).waitFor();
    const decided = await eventually(async () => (await promotion(1)).result ?? undefined, `${id(1)} to finish`, 900);
    expect(decided.outcome).toBe('promoted');
    expect(decided.decision).toMatchObject({
      approver: ANA,
      authenticated: true,
      identity: 'app-service-authentication',
      via: 'link',
    });
  });

  it('offers the form on the promotion’s page to a signed-in approver only, and refuses a form from another site', async () => {
    await app.lab.trainAndRegister({ name: 'demand', version: '2', seed: 12, quality: 1, as: 'dana@contoso.com' });
    await waitingForApproval(2);
    const bo = await browser.page({ extraHTTPHeaders: signedIn(BO) });
    await bo.goto(`${app.url}${pagePath(2)}`);
    expect(await bo.locator('#decide').isHidden()).toBe(true);
    expect(await bo.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(await bo.locator('#caller-line').textContent()).toContain(`You (${BO}) are not an approver`);
    await screenshot(bo, 'promotion-page-not-an-approver');

    const ana = await browser.page({ extraHTTPHeaders: signedIn(ANA) });
    await ana.goto(`${app.url}${pagePath(2)}`);
    const digest = await ana.locator('input[name=evidenceDigest]').getAttribute('value');
    const forged = await fetch(`${app.url}${pagePath(2)}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'http://elsewhere.example',
        ...signedIn(ANA),
      },
      body: new URLSearchParams({ decision: 'approve', evidenceDigest: digest! }).toString(),
    });
    expect(forged.status).toBe(403);
    expect((await promotion(2)).status?.decision).toBeUndefined();

    expect(await ana.locator('#caller-line').textContent()).toContain(`You decide as ${ANA}`);
    await screenshot(ana, 'promotion-page-approver');
    await ana.getByLabel('Comment (optional)').fill('not this one');
    await ana.getByRole('button', { name: 'Reject' }).click();
    await ana.getByRole('heading', { name: 'Decision taken' }).waitFor();
    expect(await ana.locator('#decision-taken').textContent()).toContain(`Rejected by ${ANA} (signed in)`);
    const rejected = await eventually(async () => (await promotion(2)).result ?? undefined, `${id(2)} to finish`, 900);
    expect(rejected.outcome).toBe('rejected');
    expect(rejected.decision).toMatchObject({ approver: ANA, authenticated: true, comment: 'not this one' });
  });
});
