/**
 * Approvers are who they say they are: names compared in one form, look-alikes refused, and the caller taken from
 * App Service authentication on Azure ("Work with user identities in Azure App Service authentication") or, locally,
 * from the configured user — never from what a request says about itself where that cannot be trusted.
 */
import type * as df from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { createApprovalTokens } from '../../lib/approval';
import { nameProblem, normalizeName, sameName } from '../../lib/domain/people';
import { decisionCaller, identityMode, type IdentityMode } from '../../lib/identity';
import { submitDecision } from '../../lib/promotions';
import type { ApprovalDecision, PromotionInput, PromotionStatus } from '../../orchestrations/contract';

const SECRET = 'an-approval-secret-of-at-least-32-bytes';
const ID = 'promote:demand:3';
const NOW = new Date('2030-01-01T00:00:00Z');
const APP_SERVICE: IdentityMode = { kind: 'app-service' };
const LOCAL: IdentityMode = { kind: 'local', localUser: 'ana@contoso.com' };

const headers =
  (values: Record<string, string>) =>
  (name: string): string | null =>
    values[name] ?? null;
const signedIn = (name: string) => headers({ 'x-ms-client-principal-name': name, 'x-ms-client-principal-idp': 'aad' });

describe('names', () => {
  it.each([
    ['Ana@Contoso.com', 'ana@contoso.com'],
    ['ａｎａ＠ｃｏｎｔｏｓｏ．ｃｏｍ', 'ana@contoso.com'], // fullwidth
    ['ANA@CONTOSO.COM ', 'ana@contoso.com'],
  ])('%s is the same person as %s (NFKC, case-folded)', (a, b) => {
    expect(normalizeName(a)).toBe(normalizeName(b));
    expect(sameName(a, b)).toBe(true);
  });

  it.each([
    ['\u0430na@contoso.com', 'mix Latin, Cyrillic or Greek'], // Cyrillic а
    ['an\u200Ba@contoso.com', 'invisible'], // zero-width space
    ['ana\u200D@contoso.com', 'invisible'], // zero-width joiner
    ['\u202Emoc.osotnoc@ana', 'invisible'], // right-to-left override
    ['ana\n@contoso.com', 'control'],
    ['ana\u0000', 'control'],
    ['   ', 'empty'],
    ['a'.repeat(257), 'at most 256'],
  ])('refuses %j as a name', (name, why) => {
    expect(nameProblem(name)).toContain(why);
  });

  it('takes names in one script, whatever it is', () => {
    expect(nameProblem('анна@контосо.рф')).toBeUndefined();
    expect(nameProblem('ana.o’neil@contoso.com')).toBeUndefined();
    expect(sameName('анна', 'ana')).toBe(false);
  });
});

describe('identityMode', () => {
  it('trusts the principal headers only when App Service authentication is on', () => {
    expect(identityMode({ WEBSITE_AUTH_ENABLED: 'True', WEBSITE_HOSTNAME: 'x.azurewebsites.net' })).toEqual(
      APP_SERVICE,
    );
    expect(identityMode({ WEBSITE_AUTH_ENABLED: 'False', WEBSITE_HOSTNAME: 'x.azurewebsites.net' })).toEqual({
      kind: 'unavailable',
    });
    expect(identityMode({ CHAMPION_LOCAL_USER: 'ana' })).toEqual({ kind: 'local', localUser: 'ana' });
    expect(identityMode({})).toMatchObject({ kind: 'local', localUser: expect.any(String) });
  });
});

describe('decisionCaller behind App Service authentication', () => {
  it('is the signed-in user, authenticated, with their provider', () => {
    expect(decisionCaller(APP_SERVICE, signedIn('ana@contoso.com'), undefined)).toEqual({
      ok: true,
      caller: { name: 'ana@contoso.com', authenticated: true, source: 'app-service-authentication', idp: 'aad' },
    });
  });

  it('decodes X-MS-CLIENT-PRINCIPAL when the name header is absent', () => {
    const principal = Buffer.from(
      JSON.stringify({
        auth_typ: 'aad',
        name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
        claims: [{ typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name', val: 'bo@contoso.com' }],
      }),
    ).toString('base64');
    expect(decisionCaller(APP_SERVICE, headers({ 'x-ms-client-principal': principal }), undefined)).toMatchObject({
      ok: true,
      caller: { name: 'bo@contoso.com', authenticated: true, idp: 'aad' },
    });
  });

  it('answers 401 to a caller who is not signed in', () => {
    expect(decisionCaller(APP_SERVICE, headers({}), 'ana@contoso.com')).toMatchObject({ ok: false, status: 401 });
  });

  it('refuses a body naming someone else than the signed-in user (forged)', () => {
    expect(decisionCaller(APP_SERVICE, signedIn('mallory@contoso.com'), 'ana@contoso.com')).toMatchObject({
      ok: false,
      status: 403,
      message: 'approver: you are signed in as mallory@contoso.com.',
    });
  });

  it("refuses a link issued to another approver (forwarded), and takes the approver's own in any case or width", () => {
    expect(decisionCaller(APP_SERVICE, signedIn('mallory@contoso.com'), undefined, 'ana@contoso.com')).toMatchObject({
      ok: false,
      status: 403,
    });
    expect(decisionCaller(APP_SERVICE, signedIn('ANA@contoso.com'), undefined, 'ａｎａ@contoso.com')).toMatchObject({
      ok: true,
      caller: { name: 'ANA@contoso.com', authenticated: true },
    });
  });

  it('refuses a signed-in name with invisible characters', () => {
    expect(decisionCaller(APP_SERVICE, signedIn('ana\u200B@contoso.com'), undefined)).toMatchObject({
      ok: false,
      status: 400,
      message: expect.stringContaining('x-ms-client-principal-name:'),
    });
  });
});

describe('decisionCaller on Azure without authentication', () => {
  it('refuses everyone: no identity there can be trusted', () => {
    expect(decisionCaller({ kind: 'unavailable' }, signedIn('ana@contoso.com'), 'ana@contoso.com')).toMatchObject({
      ok: false,
      status: 403,
      message: expect.stringContaining('App Service authentication'),
    });
  });
});

describe('decisionCaller locally', () => {
  it('is the local user when nobody is named, the name given otherwise, never authenticated', () => {
    expect(decisionCaller(LOCAL, headers({}), undefined)).toEqual({
      ok: true,
      caller: { name: 'ana@contoso.com', authenticated: false, source: 'local-user' },
    });
    expect(decisionCaller(LOCAL, headers({}), 'bo@contoso.com')).toEqual({
      ok: true,
      caller: { name: 'bo@contoso.com', authenticated: false, source: 'request' },
    });
  });

  it.each(['x-ms-client-principal-name', 'x-ms-client-principal', 'X-MS-CLIENT-PRINCIPAL-ID'.toLowerCase()])(
    'refuses a forged %s header: only App Service authentication sets it',
    (header) => {
      expect(decisionCaller(LOCAL, headers({ [header]: 'ana@contoso.com' }), undefined)).toMatchObject({
        ok: false,
        status: 403,
        message: expect.stringContaining(header),
      });
    },
  );

  it('decides through a link as the approver it was issued to, and refuses it to anyone else (forwarded)', () => {
    expect(decisionCaller(LOCAL, headers({}), undefined, 'bo@contoso.com')).toEqual({
      ok: true,
      caller: { name: 'bo@contoso.com', authenticated: false, source: 'approval-link' },
    });
    expect(decisionCaller(LOCAL, headers({}), 'mallory@contoso.com', 'bo@contoso.com')).toMatchObject({
      ok: false,
      status: 403,
    });
  });

  it('answers 400 naming the field for a name with a zero-width character', () => {
    expect(decisionCaller(LOCAL, headers({}), 'b\u200Bo@contoso.com')).toMatchObject({
      ok: false,
      status: 400,
      message: expect.stringMatching(/^approver: /),
    });
  });
});

/** A promotion of a model dana registered, waiting for approval; it takes whatever decision is raised. */
function waitingPromotion(approvers?: string[]) {
  let taken: ApprovalDecision | undefined;
  const raised: ApprovalDecision[] = [];
  const client = {
    getStatus: async () => ({
      runtimeStatus: 'Running',
      input: {
        modelName: 'demand',
        modelVersion: '3',
        registeredBy: 'dana@contoso.com',
        policy: { approval: approvers ? { approvers } : {} },
      } as unknown as PromotionInput,
      customStatus: {
        phase: 'awaiting-approval',
        modelName: 'demand',
        modelVersion: '3',
        timeline: [],
        ...(taken ? { decision: taken } : {}),
      } satisfies PromotionStatus,
    }),
    raiseEvent: async (_id: string, _name: string, data: ApprovalDecision) => {
      raised.push(data);
      taken = data;
    },
  } as unknown as df.DurableClient;
  return { client, raised };
}

const tokensFor = (approver?: string) =>
  createApprovalTokens(SECRET, {
    promotionId: ID,
    modelName: 'demand',
    modelVersion: '3',
    expiresAt: new Date('2030-01-02T00:00:00Z'),
    nonce: 'n',
    ...(approver ? { approver } : {}),
  });

function decide(
  client: df.DurableClient,
  mode: IdentityMode,
  request: { token?: string; claimed?: string; headers?: Record<string, string>; decision?: string },
) {
  return submitDecision(
    client,
    SECRET,
    {
      promotionId: ID,
      decision: request.decision,
      token: request.token,
      via: request.token ? 'link' : 'api',
      identify: (issuedTo) => decisionCaller(mode, headers(request.headers ?? {}), request.claimed, issuedTo),
    },
    NOW,
    { timeoutMs: 50, pollMs: 1 },
  );
}

describe('approvals with a forged, forwarded, look-alike or self identity are refused', () => {
  const approvers = ['ana@contoso.com', 'bo@contoso.com'];

  it('forged: a principal header sent without App Service authentication is refused; nothing is raised', async () => {
    const { client, raised } = waitingPromotion(approvers);
    const outcome = await decide(client, LOCAL, {
      decision: 'approve',
      headers: { 'x-ms-client-principal-name': 'ana@contoso.com' },
    });
    expect(outcome).toMatchObject({ ok: false, status: 403 });
    expect(raised).toEqual([]);
  });

  it('forged: behind App Service authentication the body cannot name another approver', async () => {
    const { client, raised } = waitingPromotion(approvers);
    const outcome = await decide(client, APP_SERVICE, {
      decision: 'approve',
      claimed: 'ana@contoso.com',
      headers: { 'x-ms-client-principal-name': 'mallory@contoso.com' },
    });
    expect(outcome).toMatchObject({ ok: false, status: 403 });
    expect(raised).toEqual([]);
  });

  it("forwarded: bo's link used by someone signed in as ana, or named otherwise locally, is refused", async () => {
    const { client, raised } = waitingPromotion(approvers);
    const bo = tokensFor('bo@contoso.com');
    expect(
      await decide(client, APP_SERVICE, {
        token: bo.approve,
        headers: { 'x-ms-client-principal-name': 'ana@contoso.com' },
      }),
    ).toMatchObject({ ok: false, status: 403, message: expect.stringContaining('issued to another approver') });
    expect(await decide(client, LOCAL, { token: bo.approve, claimed: 'carol@contoso.com' })).toMatchObject({
      ok: false,
      status: 403,
    });
    expect(raised).toEqual([]);
    // bo's own use of it is taken, recorded as authenticated by the platform.
    expect(
      await decide(client, APP_SERVICE, {
        token: bo.approve,
        headers: { 'x-ms-client-principal-name': 'Bo@Contoso.com' },
      }),
    ).toEqual({ ok: true, approver: 'Bo@Contoso.com' });
    expect(raised).toMatchObject([
      { approver: 'Bo@Contoso.com', authenticated: true, identity: 'app-service-authentication', via: 'link' },
    ]);
  });

  it('look-alike: a Cyrillic or zero-width variant of an approver is refused (400), a foreign name 403', async () => {
    const { client, raised } = waitingPromotion(approvers);
    expect(await decide(client, LOCAL, { decision: 'approve', claimed: '\u0430na@contoso.com' })).toMatchObject({
      ok: false,
      status: 400,
      message: expect.stringMatching(/^approver: /),
    });
    expect(await decide(client, LOCAL, { decision: 'approve', claimed: 'a\u200Bna@contoso.com' })).toMatchObject({
      ok: false,
      status: 400,
    });
    expect(await decide(client, LOCAL, { decision: 'approve', claimed: 'анна@контосо.рф' })).toMatchObject({
      ok: false,
      status: 403,
      message: expect.stringContaining('is not an approver'),
    });
    expect(raised).toEqual([]);
  });

  it('look-alike: a fullwidth variant of an approver is that approver, not someone else', async () => {
    const { client, raised } = waitingPromotion(approvers);
    expect(await decide(client, LOCAL, { decision: 'approve', claimed: 'ａｎａ@contoso.com' })).toMatchObject({
      ok: true,
    });
    expect(raised).toHaveLength(1);
  });

  it('self: the registrant cannot approve, in any case or width, through the API or a link', async () => {
    const { client, raised } = waitingPromotion();
    for (const claimed of ['dana@contoso.com', 'DANA@contoso.com', 'ｄａｎａ@contoso.com']) {
      expect(await decide(client, LOCAL, { decision: 'approve', claimed })).toMatchObject({
        ok: false,
        status: 403,
        message: 'approver: the person who registered the model cannot approve it.',
      });
    }
    expect(
      await decide(client, APP_SERVICE, {
        token: tokensFor().approve,
        headers: { 'x-ms-client-principal-name': 'Dana@Contoso.com' },
      }),
    ).toMatchObject({ ok: false, status: 403 });
    expect(raised).toEqual([]);
  });

  it('locally, a decision records how its approver was established and that it was not authenticated', async () => {
    const { client, raised } = waitingPromotion();
    expect(await decide(client, LOCAL, { decision: 'reject' })).toEqual({ ok: true, approver: 'ana@contoso.com' });
    expect(raised).toMatchObject([{ approver: 'ana@contoso.com', authenticated: false, identity: 'local-user' }]);
  });
});
