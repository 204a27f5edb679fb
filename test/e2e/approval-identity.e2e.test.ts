/**
 * Approvers are who they say they are, and approval tokens never leak — on the embedded default, through its
 * public surfaces only: the decision routes, the Durable HTTP API, the CLI, and the app's own log. The policy
 * lists two approvers; the app's local user (CHAMPION_LOCAL_USER) is not one of them. dana registers the model
 * signed in as herself, with a tag claiming bo did: the registrant is who the workspace recorded, not the tag.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli';
import type { ApproverMessage } from '../../lib/adapters/notifier';
import { decideByLink } from '../../local/inbox';
import { demoPolicy } from '../../local/start';
import type { PromotionResult, PromotionStatus } from '../../orchestrations/contract';
import { EmbeddedApp } from '../support/embedded';
import { eventually, tempDir } from '../support/processes';

const ID = 'promote:demand:1';
const ANA = 'ana@contoso.com';
const BO = 'bo@contoso.com';
const REGISTRANT = 'dana@contoso.com';

interface Promotion {
  runtimeStatus: string;
  status?: PromotionStatus;
  result?: PromotionResult;
}

describe('approvers are who they say they are; tokens never leak', { timeout: 120_000 }, () => {
  let app: EmbeddedApp;
  let api: string;
  let ana: ApproverMessage;
  let bo: ApproverMessage;

  const promotion = async (): Promise<Promotion> =>
    (await (await fetch(`${api}/api/promotions/${encodeURIComponent(ID)}`)).json()) as Promotion;
  const decide = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(`${api}/api/promotions/${encodeURIComponent(ID)}/decisions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const durable = (suffix: string, init?: RequestInit) =>
    fetch(`${api}/runtime/webhooks/durabletask/instances/${encodeURIComponent(ID)}${suffix}`, init);
  const cli = async (...argv: string[]) => {
    const { code, out, err } = await runCli(api, ...argv);
    return { code, out: out + err };
  };
  /** Every approval token sent, whole and by its signature (which alone would be worth stealing). */
  const tokens = () =>
    [ana, bo].flatMap((m) =>
      [m.approveUrl, m.rejectUrl].flatMap((url) => {
        const token = new URLSearchParams(new URL(url).hash.slice(1)).get('token')!;
        return [token, token.split('.')[1]!];
      }),
    );
  /** Everything an operator or an intermediary can see: statuses, lists, the durable history, CLI output, logs. */
  const everythingVisible = async (): Promise<Record<string, string>> => ({
    'GET /api/promotions': await (await fetch(`${api}/api/promotions`)).text(),
    'GET /api/promotions/{id}': await (await fetch(`${api}/api/promotions/${encodeURIComponent(ID)}`)).text(),
    'durable status with input and history': await (
      await durable('?showInput=true&showHistory=true&showHistoryOutput=true')
    ).text(),
    'champion promotions': (await cli('promotions')).out,
    'champion promotions --json': (await cli('promotions', '--json')).out,
    'champion show': (await cli('show', ID)).out,
    'champion show --json': (await cli('show', ID, '--json')).out,
    'app log': app.app.output(),
  });
  const expectNoToken = async () => {
    const visible = await everythingVisible();
    const secrets = tokens();
    for (const [where, text] of Object.entries(visible)) {
      expect(text.length, where).toBeGreaterThan(0);
      for (const secret of secrets) expect(text.includes(secret), `a token in ${where}`).toBe(false);
    }
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
    api = app.url;
    await app.lab.trainAndRegister({
      name: 'demand',
      version: '1',
      seed: 1,
      as: REGISTRANT,
      tags: { registered_by: BO },
    });
    await eventually(
      async () => ((await promotion()).status?.phase === 'awaiting-approval' ? true : undefined),
      `${ID} to wait for approval`,
      600,
    );
    ana = app.inbox.message(ID, ANA)!;
    bo = app.inbox.message(ID, BO)!;
  }, 90_000);
  afterAll(async () => app?.stop());

  it('sends each listed approver links of their own, and none to anyone else', () => {
    expect(ana).toMatchObject({ approver: ANA, promotionId: ID });
    expect(bo).toMatchObject({ approver: BO, promotionId: ID });
    expect(ana.approveUrl).not.toBe(bo.approveUrl);
    expect(app.inbox.message(ID)).toBeUndefined();
    // The token rides in the fragment, which no request carries.
    expect(new URL(ana.approveUrl).search).toBe('');
  });

  it('shows approvers who registered the model, as the workspace recorded it', async () => {
    const registrant = { name: REGISTRANT, type: 'User' };
    expect(ana.registrant).toEqual(registrant);
    expect(((await promotion()) as { registrant?: unknown }).registrant).toEqual(registrant);
    expect((await cli('show', ID)).out).toMatch(/Registered by\s+dana@contoso\.com \(User\)/);
    // Nobody can say otherwise when starting one by hand.
    const claimed = await fetch(`${api}/api/promotions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ modelName: 'demand', modelVersion: '1', registeredBy: BO }),
    });
    expect(claimed.status).toBe(400);
    expect(((await claimed.json()) as { error: string }).error).toMatch(/^registeredBy: /);
  });

  it('refuses a forged identity: a principal header without App Service authentication, or the local user', async () => {
    const forged = await decide({ decision: 'approve' }, { 'x-ms-client-principal-name': ANA });
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { error: string }).error).toContain('x-ms-client-principal-name');
    // Naming nobody decides as the local user, who is not an approver.
    const local = await decide({ decision: 'approve' });
    expect(local.status).toBe(403);
    expect(((await local.json()) as { error: string }).error).toContain('carol@contoso.com');
  });

  it("refuses a forwarded link: bo's link used by someone else", async () => {
    const res = await decideByLink(bo.approveUrl, { approver: 'carol@contoso.com' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toContain('issued to another approver');
  });

  it('refuses look-alike names (Cyrillic, zero-width) naming the field, and the registrant in any width', async () => {
    for (const approver of ['\u0430na@contoso.com', 'an\u200Ba@contoso.com', 'ana@contoso.com\u202E']) {
      const res = await decide({ decision: 'approve', approver });
      expect(res.status, approver).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/^approver: /);
    }
    for (const approver of [REGISTRANT, 'Dana@Contoso.com', 'ＤＡＮＡ@contoso.com']) {
      const self = await decide({ decision: 'approve', approver });
      expect(self.status, approver).toBe(403);
      expect(((await self.json()) as { error: string }).error).toContain('registered the model');
    }
  });

  it('refuses a token in the query string, and serves the page that reads it from the fragment', async () => {
    const token = new URLSearchParams(new URL(ana.approveUrl).hash.slice(1)).get('token')!;
    const inQuery = await fetch(`${api}/api/promotions/${encodeURIComponent(ID)}/decision?token=${token}`, {
      method: 'POST',
      body: '{}',
    });
    expect(inQuery.status).toBe(400);
    expect(((await inQuery.json()) as { error: string }).error).toMatch(/^token: /);
    // The link opens the promotion's page, whose script reads the token from the fragment.
    expect(new URL(ana.approveUrl).pathname).toBe(`/promotions/${encodeURIComponent(ID)}`);
    const page = await fetch(ana.approveUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('location.hash');
    // Nor does the page take one in its query string.
    const pageWithQuery = await fetch(`${api}/promotions/${encodeURIComponent(ID)}?token=${token}`);
    expect(pageWithQuery.status).toBe(400);
    expect(await pageWithQuery.text()).toContain('never in the query string');
  });

  it('ignores raw decision events sent through the Durable HTTP API, noting them, and keeps waiting', async () => {
    const raw = [
      'approve',
      { decision: 'yes', approver: ANA, via: 'api', at: '2030-01-01T00:00:00Z' },
      { decision: 'approve', approver: REGISTRANT, via: 'api', at: '2030-01-01T00:00:00Z' },
      { decision: 'approve', approver: 'carol@contoso.com', via: 'api', at: '2030-01-01T00:00:00Z' },
      // Well formed, from a listed approver, but not through Champion's routes: no seal, so no approval.
      { decision: 'approve', approver: ANA, via: 'api', at: '2030-01-01T00:00:00Z' },
    ];
    for (const data of raw) {
      const res = await durable('/raiseEvent/decision', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(data),
      });
      expect(res.status).toBe(202);
    }
    const p = await eventually(async () => {
      const current = await promotion();
      return current.status?.ignoredEvents === raw.length ? current : undefined;
    }, 'the promotion to note the raw events');
    expect(p.runtimeStatus).toBe('Running');
    expect(p.status?.phase).toBe('awaiting-approval');
    expect(p.status?.decision).toBeUndefined();
    expect(p.status?.timeline.filter((e) => e.note.startsWith('ignored a decision event')).map((e) => e.note)).toEqual([
      'ignored a decision event: not an object',
      'ignored a decision event: decision: must be "approve" or "reject"',
      'ignored a decision event: approver: the registrant cannot approve their own model',
      'ignored a decision event: approver: not an approver for this model',
      "ignored a decision event: seal: not sent through Champion's decision routes",
    ]);
  });

  it('keeps every token out of every status, list, history, CLI output and log line, before and after', async () => {
    await expectNoToken();
    // bo, whom the tag named as the registrant, approves: the tag changes nothing.
    const approved = await decideByLink(bo.approveUrl, { comment: 'error down' });
    expect(approved.status).toBe(202);
    expect(await approved.json()).toEqual({ accepted: true, approver: BO });
    const done = await eventually(
      async () => {
        const p = await promotion();
        return p.runtimeStatus === 'Completed' ? p : undefined;
      },
      `${ID} to finish`,
      600,
    );
    // The record says who approved, through what, and that it was not authenticated by a platform.
    expect(done.result).toMatchObject({
      outcome: 'promoted',
      decision: { approver: BO, authenticated: false, identity: 'approval-link', via: 'link', comment: 'error down' },
    });
    await expectNoToken();
  });
});
