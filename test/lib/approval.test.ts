import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type ApprovalClaims,
  approvalUrls,
  checkApprover,
  createApprovalToken,
  createApprovalTokens,
  decideOnce,
  isSealed,
  sealDecision,
  verifyApprovalToken,
} from '../../lib/approval';
import type { ApprovalDecision } from '../../orchestrations/contract';

const SECRET = 'an-approval-secret-that-is-long-enough-0123';
const OTHER_SECRET = 'another-approval-secret-also-long-enough-987';
const EXPIRES = new Date('2030-01-02T03:04:05.678Z');
const BEFORE = new Date('2030-01-01T00:00:00.000Z');

const claims: ApprovalClaims = {
  promotionId: 'churn-7-20300101',
  modelName: 'churn',
  modelVersion: '7',
  decision: 'approve',
  expiresAt: EXPIRES,
  nonce: '4f3c2b1a-0000-4000-8000-000000000001',
};

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('createApprovalToken / verifyApprovalToken', () => {
  it('round-trips the claims', () => {
    const token = createApprovalToken(SECRET, claims);
    expect(verifyApprovalToken(SECRET, token, BEFORE)).toEqual({ ok: true, claims });
  });

  it('gives the same token for the same inputs and a different one for another nonce or decision', () => {
    const token = createApprovalToken(SECRET, claims);
    expect(createApprovalToken(SECRET, { ...claims })).toBe(token);
    expect(createApprovalToken(SECRET, { ...claims, nonce: 'other' })).not.toBe(token);
    expect(createApprovalToken(SECRET, { ...claims, decision: 'reject' })).not.toBe(token);
  });

  it('makes compact URL-safe tokens', () => {
    const token = createApprovalToken(SECRET, claims);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(encodeURIComponent(token)).toBe(token);
  });

  it('accepts the secret as a string or as its bytes', () => {
    const token = createApprovalToken(Buffer.from(SECRET, 'utf8'), claims);
    expect(token).toBe(createApprovalToken(SECRET, claims));
    expect(verifyApprovalToken(Buffer.from(SECRET, 'utf8'), token, BEFORE).ok).toBe(true);
  });

  it('rejects a token signed with another secret', () => {
    const token = createApprovalToken(OTHER_SECRET, claims);
    expect(verifyApprovalToken(SECRET, token, BEFORE)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('rejects a token with any character changed, including the spare bits of the last one', () => {
    const token = createApprovalToken(SECRET, claims);
    const reasons = new Set<string>();
    for (let i = 0; i < token.length; i++) {
      if (token[i] === '.') continue;
      for (const replacement of [BASE64URL_ALPHABET[0], BASE64URL_ALPHABET[1]]) {
        if (replacement === token[i]) continue;
        const tampered = token.slice(0, i) + replacement + token.slice(i + 1);
        const result = verifyApprovalToken(SECRET, tampered, BEFORE);
        reasons.add(result.ok ? 'ok' : result.reason);
      }
    }
    expect([...reasons]).toEqual(['bad-signature']);
  });

  it('rejects a payload re-encoded with other claims under the original signature', () => {
    const token = createApprovalToken(SECRET, claims);
    const [payload, signature] = token.split('.') as [string, string];
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...decoded, d: 'reject' })).toString('base64url');
    expect(verifyApprovalToken(SECRET, `${forged}.${signature}`, BEFORE)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('rejects a truncated or extended signature', () => {
    const token = createApprovalToken(SECRET, claims);
    expect(verifyApprovalToken(SECRET, token.slice(0, -1), BEFORE)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyApprovalToken(SECRET, `${token}A`, BEFORE)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it.each([
    ['empty', ''],
    ['no separator', 'abcdef'],
    ['three parts', 'a.b.c'],
    ['empty payload', '.abc'],
    ['empty signature', 'abc.'],
    ['base64 padding', 'abc=.def'],
    ['standard base64 characters', 'ab+c.de/f'],
    ['whitespace', 'abc .def'],
    ['far too long', `${'a'.repeat(5000)}.abc`],
  ])('calls a token malformed: %s', (_name, token) => {
    expect(verifyApprovalToken(SECRET, token, BEFORE)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('calls a correctly signed payload that is not a claim set malformed', () => {
    const sign = (payload: string) => `${payload}.${createHmac('sha256', SECRET).update(payload).digest('base64url')}`;
    const notJson = Buffer.from('not json').toString('base64url');
    const wrongShape = Buffer.from(JSON.stringify({ p: 'x', d: 'maybe' })).toString('base64url');
    expect(verifyApprovalToken(SECRET, sign(notJson), BEFORE)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyApprovalToken(SECRET, sign(wrongShape), BEFORE)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('expires at expiresAt', () => {
    const token = createApprovalToken(SECRET, claims);
    const justBefore = new Date(EXPIRES.getTime() - 1);
    expect(verifyApprovalToken(SECRET, token, justBefore).ok).toBe(true);
    expect(verifyApprovalToken(SECRET, token, EXPIRES)).toEqual({ ok: false, reason: 'expired' });
    expect(verifyApprovalToken(SECRET, token, new Date('2031-01-01T00:00:00Z'))).toEqual({
      ok: false,
      reason: 'expired',
    });
  });

  it('checks the signature before the expiry, so a forged token never reveals whether it expired', () => {
    const token = createApprovalToken(OTHER_SECRET, claims);
    expect(verifyApprovalToken(SECRET, token, new Date('2031-01-01T00:00:00Z'))).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('refuses a short secret, missing claims and invalid dates', () => {
    expect(() => createApprovalToken('too-short', claims)).toThrow(/at least 32 bytes/);
    expect(() => verifyApprovalToken('too-short', 'a.b', BEFORE)).toThrow(/at least 32 bytes/);
    expect(() => createApprovalToken(SECRET, { ...claims, nonce: '' })).toThrow(/nonce/);
    expect(() => createApprovalToken(SECRET, { ...claims, promotionId: '', modelName: '' })).toThrow(
      /promotionId, modelName/,
    );
    expect(() => createApprovalToken(SECRET, { ...claims, expiresAt: new Date('nope') })).toThrow(/expiresAt/);
    expect(() => verifyApprovalToken(SECRET, 'a.b', new Date('nope'))).toThrow(/now/);
  });
});

describe('createApprovalTokens', () => {
  it('makes an approve and a reject token sharing one nonce', () => {
    const { decision: _decision, ...shared } = claims;
    const tokens = createApprovalTokens(SECRET, shared);
    const approve = verifyApprovalToken(SECRET, tokens.approve, BEFORE);
    const reject = verifyApprovalToken(SECRET, tokens.reject, BEFORE);
    expect(approve).toEqual({ ok: true, claims: { ...claims, decision: 'approve' } });
    expect(reject).toEqual({ ok: true, claims: { ...claims, decision: 'reject' } });
  });
});

describe('checkApprover', () => {
  it.each([
    [{ approver: 'bob@contoso.com', registeredBy: 'alice@contoso.com' }, { ok: true }],
    [
      { approver: 'Alice@Contoso.com', registeredBy: 'alice@contoso.com' },
      { ok: false, reason: 'self-approval' },
    ],
    [
      { approver: ' alice@contoso.com ', registeredBy: 'ALICE@contoso.com' },
      { ok: false, reason: 'self-approval' },
    ],
    [
      { approver: '', registeredBy: 'alice@contoso.com' },
      { ok: false, reason: 'anonymous' },
    ],
    [
      { approver: '   ', registeredBy: 'alice@contoso.com' },
      { ok: false, reason: 'anonymous' },
    ],
    [
      { approver: undefined, registeredBy: 'alice@contoso.com' },
      { ok: false, reason: 'anonymous' },
    ],
    [{ approver: 'bob@contoso.com', registeredBy: undefined }, { ok: true }],
    [
      { approver: 'BOB@contoso.com', registeredBy: 'alice@contoso.com', allowedApprovers: ['bob@contoso.com'] },
      { ok: true },
    ],
    [
      { approver: 'carol@contoso.com', registeredBy: 'alice@contoso.com', allowedApprovers: ['bob@contoso.com'] },
      { ok: false, reason: 'not-an-approver' },
    ],
    [
      { approver: 'bob@contoso.com', registeredBy: 'alice@contoso.com', allowedApprovers: [] },
      { ok: false, reason: 'not-an-approver' },
    ],
    [
      { approver: 'alice@contoso.com', registeredBy: 'alice@contoso.com', allowedApprovers: ['alice@contoso.com'] },
      { ok: false, reason: 'self-approval' },
    ],
  ])('%j → %j', (input, expected) => {
    expect(checkApprover(input)).toEqual(expected);
  });
});

describe('decideOnce', () => {
  const first: ApprovalDecision = {
    id: 'd1',
    decision: 'approve',
    approver: 'bob@contoso.com',
    at: '2030-01-01T12:00:00.000Z',
    via: 'link',
  };
  const second: ApprovalDecision = {
    ...first,
    id: 'd2',
    decision: 'reject',
    approver: 'carol@contoso.com',
    via: 'api',
  };

  it('accepts the first decision', () => {
    expect(decideOnce(undefined, first)).toEqual({ ok: true, decision: first });
  });

  it('turns a later decision away with the earlier one and a message for the 409', () => {
    const result = decideOnce(first, second);
    expect(result).toEqual({
      ok: false,
      reason: 'already-decided',
      previous: first,
      message: expect.stringContaining('already approved by bob@contoso.com at 2030-01-01T12:00:00.000Z'),
    });
  });

  it('also turns away a repeat of the same decision', () => {
    const rejected = { decision: 'reject' as const, approver: '', at: '2030-01-02T00:00:00.000Z' };
    const result = decideOnce(rejected, { ...rejected });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toBe(
      'This promotion was already rejected at 2030-01-02T00:00:00.000Z; a decision can be made only once.',
    );
  });
});

describe('the seal of a decision made on a page', () => {
  const decision: ApprovalDecision = {
    id: 'd1',
    decision: 'approve',
    approver: 'ana',
    via: 'link',
    at: '2030-01-01T00:00:00.000Z',
  };

  it('covers the digest of the evidence shown: another digest, or none, breaks it', () => {
    const onPage = { ...decision, evidenceDigest: 'digest-of-what-was-shown' };
    const seal = sealDecision(SECRET, 'p1', onPage);
    expect(isSealed(SECRET, 'p1', onPage, seal)).toBe(true);
    expect(isSealed(SECRET, 'p1', { ...onPage, evidenceDigest: 'another' }, seal)).toBe(false);
    expect(isSealed(SECRET, 'p1', decision, seal)).toBe(false);
  });

  it('keeps the seal of a decision without a digest as it was (API and CLI decisions, recorded histories)', () => {
    const fields = ['decision-seal-v1', 'p1', 'd1', 'approve', 'ana', null, null, null, 'link', decision.at];
    const before = createHmac('sha256', Buffer.from(SECRET, 'utf8')).update(JSON.stringify(fields)).digest('base64url');
    expect(sealDecision(SECRET, 'p1', decision)).toBe(before);
  });
});

describe('approvalUrls', () => {
  const tokens = createApprovalTokens(SECRET, {
    promotionId: 'churn 7/a',
    modelName: 'churn',
    modelVersion: '7',
    expiresAt: EXPIRES,
    nonce: 'n1',
  });

  it("points both links at the promotion's page with the token in the fragment, never in the query", () => {
    const urls = approvalUrls('https://champion.example.net', 'churn 7/a', tokens);
    expect(urls).toEqual({
      approveUrl: `https://champion.example.net/promotions/churn%207%2Fa#token=${tokens.approve}`,
      rejectUrl: `https://champion.example.net/promotions/churn%207%2Fa#token=${tokens.reject}`,
    });
  });

  it('drops trailing slashes of the base URL and round-trips the token through URL parsing', () => {
    const { approveUrl } = approvalUrls('http://localhost:7071//', 'p1', tokens);
    const url = new URL(approveUrl);
    expect(url.pathname).toBe('/promotions/p1');
    expect(url.search).toBe('');
    expect(new URLSearchParams(url.hash.slice(1)).get('token')).toBe(tokens.approve);
  });
});

describe('approval tokens bound to an approver', () => {
  it('carry the approver they were issued to; without one, they are for anyone allowed', () => {
    const claims = { promotionId: 'p', modelName: 'm', modelVersion: '1', expiresAt: EXPIRES, nonce: 'n' };
    const bound = createApprovalTokens(SECRET, { ...claims, approver: 'bo@contoso.com' });
    const open = createApprovalTokens(SECRET, claims);
    const verified = verifyApprovalToken(SECRET, bound.approve, new Date(0));
    expect(verified).toMatchObject({ ok: true, claims: { approver: 'bo@contoso.com', decision: 'approve' } });
    expect(verifyApprovalToken(SECRET, open.reject, new Date(0))).toMatchObject({ ok: true });
    expect((verifyApprovalToken(SECRET, open.reject, new Date(0)) as { claims: object }).claims).not.toHaveProperty(
      'approver',
    );
    expect(bound.approve).not.toBe(open.approve);
  });
});
