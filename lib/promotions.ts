/**
 * Starting promotions and recording decisions: the edge logic shared by the Event Grid trigger, the HTTP API and
 * the CLI. Idempotent: one promotion per model version, whatever the number of deliveries.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as df from 'durable-functions';
import type { ApprovalDecision, PromotionInput, PromotionStatus } from '../orchestrations/contract';
import { EVENTS } from '../orchestrations/contract';
import { alreadyDecided, checkApprover, MAX_COMMENT_LENGTH, verifyApprovalToken } from './approval';
import { promotionInstanceId } from './domain/events';
import { policyFor, type PolicySet } from './domain/policy';

export type StartOutcome =
  | { kind: 'started'; id: string }
  | { kind: 'duplicate'; id: string; runtimeStatus: string }
  | { kind: 'no-policy'; message: string };

export async function instanceStatus(
  client: df.DurableClient,
  id: string,
): Promise<df.DurableOrchestrationStatus | undefined> {
  // getStatus rejects when the instance does not exist (the runtime answers 404).
  return client.getStatus(id).catch(() => undefined);
}

export async function startPromotion(
  client: df.DurableClient,
  policies: PolicySet,
  request: { modelName: string; modelVersion: string; registeredBy?: string; source: PromotionInput['source'] },
): Promise<StartOutcome> {
  const policy = policyFor(policies, request.modelName);
  if (!policy) return { kind: 'no-policy', message: `No promotion policy covers model "${request.modelName}".` };
  const id = promotionInstanceId(request.modelName, request.modelVersion);
  const existing = await instanceStatus(client, id);
  if (existing) return { kind: 'duplicate', id, runtimeStatus: String(existing.runtimeStatus) };
  const input: PromotionInput = { ...request, policy };
  try {
    await client.startNew('promoteModel', { instanceId: id, input });
  } catch (err) {
    // A concurrent delivery created it first.
    const raced = await instanceStatus(client, id);
    if (raced) return { kind: 'duplicate', id, runtimeStatus: String(raced.runtimeStatus) };
    throw err;
  }
  return { kind: 'started', id };
}

export type DecisionOutcome =
  { ok: true; pending?: true } | { ok: false; status: 400 | 403 | 404 | 409; message: string };

/** How long a decision's sender waits to learn whether the promotion took it, and how often it looks. */
export interface DecisionWait {
  timeoutMs: number;
  /** First pause between looks; it doubles up to 100 ms. */
  pollMs: number;
}

const DECISION_WAIT: DecisionWait = { timeoutMs: 10_000, pollMs: 5 };

/**
 * Checks a decision against the promotion it is for, then hands it to the waiting orchestration. A token (from
 * a signed link) must match the promotion and its decision; the registrant may not approve their own model.
 */
export async function submitDecision(
  client: df.DurableClient,
  secret: string,
  request: {
    promotionId: string;
    decision?: string;
    approver?: string;
    comment?: string;
    token?: string;
    via: ApprovalDecision['via'];
  },
  now: Date,
  wait: DecisionWait = DECISION_WAIT,
): Promise<DecisionOutcome> {
  let decision = request.decision;
  if (request.token !== undefined) {
    const verified = verifyApprovalToken(secret, request.token, now);
    if (!verified.ok)
      return { ok: false, status: 403, message: `The approval link is ${verified.reason.replace('-', ' ')}.` };
    if (verified.claims.promotionId !== request.promotionId) {
      return { ok: false, status: 403, message: 'The approval link belongs to another promotion.' };
    }
    if (decision !== undefined && decision !== verified.claims.decision) {
      return { ok: false, status: 400, message: `decision: the link is for "${verified.claims.decision}".` };
    }
    decision = verified.claims.decision;
  }
  if (decision !== 'approve' && decision !== 'reject') {
    return { ok: false, status: 400, message: 'decision: must be "approve" or "reject".' };
  }
  const status = await instanceStatus(client, request.promotionId);
  if (!status) return { ok: false, status: 404, message: `No promotion "${request.promotionId}".` };
  const input = status.input as PromotionInput;
  const refused = refusal(request.promotionId, status);
  if (refused) return { ok: false, status: 409, message: refused };
  const who = checkApprover({
    approver: request.approver,
    registeredBy: input.registeredBy,
    allowedApprovers: decision === 'approve' ? input.policy.approval.approvers : undefined,
  });
  if (!who.ok) {
    const messages = {
      anonymous: 'approver: who decides must be named.',
      'self-approval': 'approver: the person who registered the model cannot approve it.',
      'not-an-approver': `approver: "${request.approver}" is not an approver for ${input.modelName}.`,
    } as const;
    return { ok: false, status: who.reason === 'anonymous' ? 400 : 403, message: messages[who.reason] };
  }
  const payload: ApprovalDecision = {
    id: randomUUID(),
    decision,
    approver: request.approver!.trim(),
    comment: request.comment?.trim().slice(0, MAX_COMMENT_LENGTH),
    via: request.via,
    at: now.toISOString(),
  };
  await client.raiseEvent(request.promotionId, EVENTS.decision, payload);
  return decisionTaken(client, payload, request.promotionId, wait);
}

/** Why the promotion takes no decision now (it took one already, or no longer waits); undefined if it would. */
function refusal(promotionId: string, status: df.DurableOrchestrationStatus | undefined): string | undefined {
  const custom = status?.customStatus as PromotionStatus | undefined;
  const waiting = String(status?.runtimeStatus) === 'Running' && custom?.phase === 'awaiting-approval';
  if (waiting) return custom?.decision ? alreadyDecided(custom.decision) : undefined;
  const earlier = custom?.decision ? ` ${alreadyDecided(custom.decision)}` : '';
  const phase = custom?.phase ?? status?.runtimeStatus ?? 'gone';
  return `Promotion "${promotionId}" is not waiting for a decision (phase: ${phase}).${earlier}`;
}

/**
 * A promotion takes the first decision it receives, so two sent at once (a double click, two approvers) both
 * pass the checks above: the sender of each learns from the promotion's status which one it took.
 */
async function decisionTaken(
  client: df.DurableClient,
  sent: ApprovalDecision,
  promotionId: string,
  wait: DecisionWait,
): Promise<DecisionOutcome> {
  const deadline = Date.now() + wait.timeoutMs;
  for (let pause = wait.pollMs; ; pause = Math.min(2 * pause, 100)) {
    // The event was only just stored: the promotion needs a moment before there is anything to see.
    await sleep(pause);
    const status = await instanceStatus(client, promotionId);
    if ((status?.customStatus as PromotionStatus | undefined)?.decision?.id === sent.id) return { ok: true };
    const refused = refusal(promotionId, status);
    if (refused) return { ok: false, status: 409, message: refused };
    // The promotion has not handled the event yet; past the deadline, say it was sent but not yet taken.
    if (Date.now() >= deadline) return { ok: true, pending: true };
  }
}
