/**
 * Signed approval links for promotions: they are signed, expire, and work once; the registrant cannot approve their
 * own model; every decision is kept in an audit record.
 *
 * Everything here is pure (no clock, no randomness): the caller passes `now` and the nonce, so an orchestration can
 * use it on replay and the same inputs always give the same token.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { ApprovalDecision, RolloutControl } from '../orchestrations/contract';
import { sameName } from './domain/people';

export type Decision = 'approve' | 'reject';

export interface ApprovalClaims {
  promotionId: string;
  modelName: string;
  modelVersion: string;
  decision: Decision;
  expiresAt: Date;
  /** Shared by the approve and reject tokens of one request: the consumer accepts one decision per nonce. */
  nonce: string;
  /** The approver the link was issued to: only they may use it. Absent when anyone allowed may. */
  approver?: string;
}

export type VerifyResult =
  { ok: true; claims: ApprovalClaims } | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' };

/** Matches the app setting's minimum (CHAMPION_APPROVAL_SECRET). */
const MIN_SECRET_BYTES = 32;
/** Real tokens are a few hundred characters; anything far longer is not worth hashing. */
const MAX_TOKEN_LENGTH = 4096;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const nonEmpty = z.string().min(1);
// Short keys keep the links short; the order is fixed so the same claims give the same token.
const payloadSchema = z.strictObject({
  p: nonEmpty,
  m: nonEmpty,
  v: nonEmpty,
  d: z.enum(['approve', 'reject']),
  e: z.number().int(),
  n: nonEmpty,
  a: nonEmpty.optional(),
});

const claimNames: Record<string, string> = {
  p: 'promotionId',
  m: 'modelName',
  v: 'modelVersion',
  d: 'decision',
  e: 'expiresAt',
  n: 'nonce',
  a: 'approver',
};

function secretBytes(secret: string | Buffer): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (bytes.length < MIN_SECRET_BYTES)
    throw new TypeError(`Approval secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return bytes;
}

function sign(secret: Buffer, payload: string): string {
  return createHmac('sha256', secret).update(payload, 'ascii').digest('base64url');
}

export function createApprovalToken(secret: string | Buffer, claims: ApprovalClaims): string {
  const key = secretBytes(secret);
  const expires = claims.expiresAt.getTime();
  if (!Number.isFinite(expires)) throw new TypeError('expiresAt must be a valid date');
  const payload = payloadSchema.safeParse({
    p: claims.promotionId,
    m: claims.modelName,
    v: claims.modelVersion,
    d: claims.decision,
    e: expires,
    n: claims.nonce,
    a: claims.approver,
  });
  if (!payload.success) {
    const fields = payload.error.issues.map((i) => claimNames[String(i.path[0])] ?? String(i.path[0]));
    throw new TypeError(`Invalid approval claims: ${fields.join(', ')}`);
  }
  const encoded = Buffer.from(JSON.stringify(payload.data), 'utf8').toString('base64url');
  return `${encoded}.${sign(key, encoded)}`;
}

/** The approve and reject tokens of one request; they share the nonce, so only the first one used counts. */
export function createApprovalTokens(
  secret: string | Buffer,
  claims: Omit<ApprovalClaims, 'decision'>,
): { approve: string; reject: string } {
  return {
    approve: createApprovalToken(secret, { ...claims, decision: 'approve' }),
    reject: createApprovalToken(secret, { ...claims, decision: 'reject' }),
  };
}

export function verifyApprovalToken(secret: string | Buffer, token: string, now: Date): VerifyResult {
  const key = secretBytes(secret);
  if (!Number.isFinite(now.getTime())) throw new TypeError('now must be a valid date');
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  const [encoded, signature] = parts;
  if (parts.length !== 2 || !encoded || !signature || !BASE64URL.test(encoded) || !BASE64URL.test(signature)) {
    return { ok: false, reason: 'malformed' };
  }

  // Compare the encoded strings, not decoded bytes: base64 has spare bits in its last character, so two different
  // strings can decode to the same MAC, and a changed character must never verify.
  const expected = Buffer.from(sign(key, encoded), 'ascii');
  const given = Buffer.from(signature, 'ascii');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad-signature' };
  }

  // Only parsed once authenticated; a signed payload that does not parse was not made by createApprovalToken.
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: 'malformed' };
  const payload = parsed.data;

  if (now.getTime() >= payload.e) return { ok: false, reason: 'expired' };
  return {
    ok: true,
    claims: {
      promotionId: payload.p,
      modelName: payload.m,
      modelVersion: payload.v,
      decision: payload.d,
      expiresAt: new Date(payload.e),
      nonce: payload.n,
      ...(payload.a !== undefined ? { approver: payload.a } : {}),
    },
  };
}

/**
 * A decision the app's routes checked carries a seal: an HMAC, under the approval secret, of the promotion and every
 * field of the decision. Events also reach a promotion raw, through the Durable HTTP API; the promotion takes only
 * sealed ones, so naming a listed approver there approves nothing.
 */
export function sealDecision(secret: string | Buffer, promotionId: string, decision: ApprovalDecision): string {
  const fields = [
    'decision-seal-v1',
    promotionId,
    decision.id ?? null,
    decision.decision,
    decision.approver,
    decision.authenticated ?? null,
    decision.identity ?? null,
    decision.comment ?? null,
    decision.via,
    decision.at,
    // Appended only when present, so decisions sealed before it existed keep their seal.
    ...(decision.evidenceDigest !== undefined ? [decision.evidenceDigest] : []),
  ];
  return createHmac('sha256', secretBytes(secret)).update(JSON.stringify(fields), 'utf8').digest('base64url');
}

export function isSealed(
  secret: string | Buffer,
  promotionId: string,
  decision: ApprovalDecision,
  seal: unknown,
): boolean {
  if (typeof seal !== 'string') return false;
  const expected = Buffer.from(sealDecision(secret, promotionId, decision), 'ascii');
  const given = Buffer.from(seal, 'ascii');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * A rollout control the app's control routes checked carries a seal too (the same secret, another purpose), so a raw
 * `rollout-control` event through the Durable HTTP API pauses, promotes or aborts nothing.
 */
export function sealControl(secret: string | Buffer, promotionId: string, control: RolloutControl): string {
  const fields = [
    'rollout-control-seal-v1',
    promotionId,
    control.id ?? null,
    control.action,
    control.by,
    control.authenticated,
    control.identity,
    control.reason,
    control.via,
    control.at,
  ];
  return createHmac('sha256', secretBytes(secret)).update(JSON.stringify(fields), 'utf8').digest('base64url');
}

export function isControlSealed(
  secret: string | Buffer,
  promotionId: string,
  control: RolloutControl,
  seal: unknown,
): boolean {
  if (typeof seal !== 'string') return false;
  const expected = Buffer.from(sealControl(secret, promotionId, control), 'ascii');
  const given = Buffer.from(seal, 'ascii');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export type ApproverCheck = { ok: true } | { ok: false; reason: 'self-approval' | 'not-an-approver' | 'anonymous' };

/**
 * Who may decide. `allowedApprovers` undefined admits anyone but the registrant; a list (even empty) admits only
 * its members. Identities (UPNs, e-mail addresses) compare in their normalized form (NFKC, case-folded).
 */
export function checkApprover(input: {
  approver: string | undefined;
  registeredBy: string | undefined;
  allowedApprovers?: readonly string[];
}): ApproverCheck {
  const approver = input.approver?.trim();
  if (!approver) return { ok: false, reason: 'anonymous' };
  if (sameName(approver, input.registeredBy)) return { ok: false, reason: 'self-approval' };
  if (input.allowedApprovers && !input.allowedApprovers.some((allowed) => sameName(allowed, approver))) {
    return { ok: false, reason: 'not-an-approver' };
  }
  return { ok: true };
}

export { MAX_COMMENT_LENGTH } from './domain/decisions';

/** The part of a decision `decideOnce` needs; the promotion's ApprovalDecision fits. */
export interface RecordedDecision {
  decision: Decision;
  approver: string;
  at: string;
}

export type DecideOnceResult<T extends RecordedDecision> =
  { ok: true; decision: T } | { ok: false; reason: 'already-decided'; previous: T; message: string };

/** The first decision wins; a later one (the other link, a second click, a retry) gets the earlier one back. */
export function decideOnce<T extends RecordedDecision>(previous: T | undefined, incoming: T): DecideOnceResult<T> {
  if (previous === undefined) return { ok: true, decision: incoming };
  return { ok: false, reason: 'already-decided', previous, message: alreadyDecided(previous) };
}

/** What a sender is told about the decision taken before theirs. */
export function alreadyDecided(previous: RecordedDecision): string {
  const verb = previous.decision === 'approve' ? 'approved' : 'rejected';
  const by = previous.approver ? ` by ${previous.approver}` : '';
  return `This promotion was already ${verb}${by} at ${previous.at}; a decision can be made only once.`;
}

/**
 * The links sent to an approver: the promotion's page (`/promotions/{id}`, a retraining run's approval too). The
 * token rides in the fragment, which browsers never send and proxies and access logs never see; the page's script
 * moves it into the body of the page's form.
 */
export function approvalUrls(
  baseUrl: string,
  promotionId: string,
  tokens: { approve: string; reject: string },
): { approveUrl: string; rejectUrl: string } {
  const base = `${baseUrl.replace(/\/+$/, '')}/promotions/${encodeURIComponent(promotionId)}#token=`;
  return {
    approveUrl: base + encodeURIComponent(tokens.approve),
    rejectUrl: base + encodeURIComponent(tokens.reject),
  };
}
