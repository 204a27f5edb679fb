/**
 * The decision event as the promotion takes it. Events reach an orchestration from the app's decision routes but
 * also raw, through the Durable HTTP API (`…/instances/{id}/raiseEvent/decision`): the promotion checks each one
 * itself, and one it cannot take is ignored (and noted) while it keeps waiting. Pure, so a flow can call it.
 */
import type { ApprovalDecision, IdentitySource } from '../../orchestrations/contract';
import { nameProblem, sameName } from './people';

/** A decision's comment is kept in the promotion's status and result: it must not grow without bound. */
export const MAX_COMMENT_LENGTH = 1000;
const MAX_ID_LENGTH = 64;

const DECISIONS: readonly string[] = ['approve', 'reject'] satisfies ApprovalDecision['decision'][];
const VIAS: readonly string[] = ['link', 'api', 'cli'] satisfies ApprovalDecision['via'][];
/** Where a decision's or a control's identity came from. */
export const IDENTITY_SOURCES: readonly string[] = [
  'app-service-authentication',
  'approval-link',
  'local-user',
  'request',
] satisfies IdentitySource[];
/** An ISO 8601 UTC instant, as the app stamps decisions and controls. */
export const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/**
 * Whether a promotion asks a person before releasing: when its policy requires approval, and always when the
 * evaluation was inconclusive (a person decides what the numbers could not).
 */
export function asksPerson(approval: { required: boolean }, evaluationDecision: string): boolean {
  return approval.required || evaluationDecision === 'inconclusive';
}

/** `seal` is checked by the verifyDecision activity: it takes the approval secret, which a flow never holds. */
export type DecisionCheck = { ok: true; decision: ApprovalDecision; seal?: string } | { ok: false; problem: string };

/**
 * Whether `data` is a decision this promotion may take: well formed, and an approval only from someone the policy
 * admits who did not register the model. The problem names the field and never repeats what was sent.
 */
export function checkDecisionEvent(
  data: unknown,
  rules: { approvers?: readonly string[]; registeredBy?: string },
): DecisionCheck {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, problem: 'not an object' };
  const d = data as Record<string, unknown>;
  if (typeof d.decision !== 'string' || !DECISIONS.includes(d.decision))
    return { ok: false, problem: 'decision: must be "approve" or "reject"' };
  if (typeof d.approver !== 'string') return { ok: false, problem: 'approver: must be a name' };
  const badName = nameProblem(d.approver);
  if (badName) return { ok: false, problem: `approver: ${badName}` };
  if (typeof d.via !== 'string' || !VIAS.includes(d.via)) return { ok: false, problem: 'via: unknown' };
  if (typeof d.at !== 'string' || !ISO_TIME.test(d.at)) return { ok: false, problem: 'at: must be an ISO time' };
  if (d.id !== undefined && (typeof d.id !== 'string' || d.id.length > MAX_ID_LENGTH))
    return { ok: false, problem: 'id: must be a short string' };
  if (d.comment !== undefined && (typeof d.comment !== 'string' || d.comment.length > MAX_COMMENT_LENGTH))
    return { ok: false, problem: `comment: must be text of at most ${MAX_COMMENT_LENGTH} characters` };
  if (d.authenticated !== undefined && typeof d.authenticated !== 'boolean')
    return { ok: false, problem: 'authenticated: must be true or false' };
  if (d.identity !== undefined && (typeof d.identity !== 'string' || !IDENTITY_SOURCES.includes(d.identity)))
    return { ok: false, problem: 'identity: unknown' };
  if (
    d.evidenceDigest !== undefined &&
    (typeof d.evidenceDigest !== 'string' || d.evidenceDigest.length > MAX_ID_LENGTH)
  )
    return { ok: false, problem: 'evidenceDigest: must be a short string' };
  if (d.seal !== undefined && (typeof d.seal !== 'string' || d.seal.length > MAX_ID_LENGTH))
    return { ok: false, problem: 'seal: must be a short string' };
  if (d.decision === 'approve') {
    if (sameName(d.approver, rules.registeredBy))
      return { ok: false, problem: 'approver: the registrant cannot approve their own model' };
    if (rules.approvers && !rules.approvers.some((allowed) => sameName(allowed, d.approver as string)))
      return { ok: false, problem: 'approver: not an approver for this model' };
  }
  const decision: ApprovalDecision = {
    ...(d.id !== undefined ? { id: d.id as string } : {}),
    decision: d.decision as ApprovalDecision['decision'],
    approver: d.approver,
    ...(d.authenticated !== undefined ? { authenticated: d.authenticated as boolean } : {}),
    ...(d.identity !== undefined ? { identity: d.identity as IdentitySource } : {}),
    ...(d.comment !== undefined ? { comment: d.comment as string } : {}),
    via: d.via as ApprovalDecision['via'],
    at: d.at,
    ...(d.evidenceDigest !== undefined ? { evidenceDigest: d.evidenceDigest as string } : {}),
  };
  return { ok: true, decision, ...(d.seal !== undefined ? { seal: d.seal as string } : {}) };
}
