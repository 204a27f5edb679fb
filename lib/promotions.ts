/**
 * Starting promotions and recording decisions: the edge logic shared by the Event Grid trigger, the HTTP API and
 * the CLI. Idempotent: one promotion per model version, whatever the number of deliveries; a failed one may be tried
 * again, each attempt its own instance.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as df from 'durable-functions';
import type {
  ApprovalDecision,
  CarriedEnvironment,
  PromotionInput,
  PromotionResult,
  PromotionStatus,
  RetrainingInput,
} from '../orchestrations/contract';
import { RETRAIN_MODEL_ORCHESTRATION } from '../orchestrations/retrain-model';
import { EVENTS } from '../orchestrations/contract';
import { alreadyDecided, checkApprover, MAX_COMMENT_LENGTH, sealDecision, verifyApprovalToken } from './approval';
import { attemptInstanceId, registrationStartsNewAttempt, retryVerdict, type AttemptState } from './domain/attempts';
import type { CallerResult } from './identity';
import { registrantOf } from './domain/people';
import { environmentPromotionId } from './domain/environments';
import { policyFor, type Policy, type PolicySet } from './domain/policy';
import { stageOf } from './domain/stages';
import type { MlWorkspace } from './ports';

export type StartOutcome =
  | { kind: 'started'; id: string; attempt: number }
  | { kind: 'exists'; id: string; runtimeStatus: string; message: string }
  /** Nothing to promote: the version is in production already. */
  | { kind: 'in-production'; message: string }
  | { kind: 'not-found'; message: string };

export async function instanceStatus(
  client: df.DurableClient,
  id: string,
): Promise<df.DurableOrchestrationStatus | undefined> {
  // getStatus rejects when the instance does not exist (the runtime answers 404).
  return client.getStatus(id).catch(() => undefined);
}

export interface Attempt {
  attempt: number;
  status: df.DurableOrchestrationStatus;
}

/** The attempts of one version's promotion, first to newest (numbered without gaps, so it reads until one is missing). */
export async function attemptsOf(
  client: df.DurableClient,
  modelName: string,
  modelVersion: string,
): Promise<Attempt[]> {
  const attempts: Attempt[] = [];
  for (let attempt = 1; ; attempt++) {
    const status = await instanceStatus(client, attemptInstanceId(modelName, modelVersion, attempt));
    if (!status) return attempts;
    attempts.push({ attempt, status });
  }
}

export function attemptState(status: df.DurableOrchestrationStatus): AttemptState & { createdTime: string } {
  const custom = status.customStatus as PromotionStatus | null | undefined;
  const result = status.output as PromotionResult | null | undefined;
  return {
    id: status.instanceId,
    runtimeStatus: String(status.runtimeStatus),
    createdTime: new Date(status.createdTime).toISOString(),
    ...(custom?.phase ? { phase: custom.phase } : {}),
    ...(result?.outcome ? { outcome: result.outcome, reason: result.reason } : {}),
  };
}

/** The registry lookup a start by hand needs: Azure ML, through the workspace port. */
export type Registry = Pick<MlWorkspace, 'getModelVersion'>;

export const unregistered = (modelName: string, modelVersion: string) => ({
  kind: 'not-found' as const,
  message: `modelVersion: ${modelName} has no version "${modelVersion}" in the registry; nothing was started.`,
});

/**
 * Starts a version's promotion, once. A registration event starts the first attempt, or a new one when the only
 * earlier attempt failed before the version was registered; a start by hand needs the version in the registry and
 * starts only the first attempt (a failed one is tried again with `retryPromotion`). Who registered the version is
 * read from the registry (`systemData`, set by Azure from the registrant's token), never from the event or request.
 */
export async function startPromotion(
  client: df.DurableClient,
  policies: PolicySet,
  registry: Registry,
  request: {
    modelName: string;
    modelVersion: string;
    source: 'event' | 'manual';
    /** When the version was registered (the event's time): an attempt created before it was about nothing. */
    registeredAt?: string;
  },
): Promise<StartOutcome> {
  const { registeredAt, ...start } = request;
  const policy = policyFor(policies, start.modelName);
  if (!policy) return { kind: 'not-found', message: `No promotion policy covers model "${start.modelName}".` };
  // Two independent reads, at once: they are the start's whole latency before the instance exists.
  const [version, attempts] = await Promise.all([
    registry.getModelVersion(start.modelName, start.modelVersion),
    attemptsOf(client, start.modelName, start.modelVersion),
  ]);
  if (!version && start.source === 'manual') return unregistered(start.modelName, start.modelVersion);
  const latest = attempts.at(-1);
  if (latest) {
    const state = attemptState(latest.status);
    const again = start.source === 'event' && registeredAt && registrationStartsNewAttempt(state, registeredAt);
    if (!again) return exists(state);
  }
  if (version && stageOf(version) === 'production') return inProduction(start.modelName, start.modelVersion);
  const attempt = (latest?.attempt ?? 0) + 1;
  return startAttempt(client, {
    ...start,
    ...registrantOf(version),
    policy,
    attempt,
    ...(latest ? { retryOf: latest.status.instanceId } : {}),
  });
}

export type RetryOutcome =
  | {
      kind: 'started';
      id: string;
      attempt: number;
      retryOf: string;
      /** Across environments: where it serves already, promoted by an earlier attempt; nothing is done there. */
      carried?: { environment: string; promotionId: string }[];
    }
  | { kind: 'refused'; status: 404 | 409; message: string };

/**
 * Starts a new attempt of a version's promotion whose newest attempt failed, timed out or was stopped (see
 * lib/domain/attempts.ts for the rule), under the model's current policy: whoever retries has fixed the cause,
 * which may be the policy. `id` may name any attempt; the newest one is judged.
 */
export async function retryPromotion(
  client: df.DurableClient,
  policies: PolicySet,
  registry: Registry,
  id: string,
  /** The registry of another workspace (a policy environment's): where a retry looks whether the version serves. */
  registryIn?: (workspaceId: string) => Registry,
): Promise<RetryOutcome> {
  const named = await instanceStatus(client, id);
  if (!named || named.name !== 'promoteModel')
    return { kind: 'refused', status: 404, message: `No promotion "${id}".` };
  const previous = named.input as PromotionInput;
  const latest = (await attemptsOf(client, previous.modelName, previous.modelVersion)).at(-1);
  const verdict = retryVerdict(attemptState(latest?.status ?? named));
  if (!verdict.retry) return { kind: 'refused', status: 409, message: verdict.reason };
  const policy = policyFor(policies, previous.modelName);
  if (!policy)
    return { kind: 'refused', status: 404, message: `No promotion policy covers model "${previous.modelName}".` };
  const version = await registry.getModelVersion(previous.modelName, previous.modelVersion);
  if (!version)
    return { kind: 'refused', status: 404, message: unregistered(previous.modelName, previous.modelVersion).message };
  const last = latest?.status ?? named;
  const carried = policy.environments
    ? await carriedEnvironments(client, policy, last, registryIn ?? (() => registry))
    : [];
  // Its promotion would stop when staging it, however often it were tried: unless an earlier attempt promoted it in
  // the first environment (the app's workspace), and this one goes on after it.
  const first = policy.environments?.[0]?.name;
  if (stageOf(version) === 'production' && !carried.some((c) => c.environment === first)) {
    return { kind: 'refused', status: 409, message: inProduction(previous.modelName, previous.modelVersion).message };
  }
  const retryOf = last.instanceId;
  const outcome = await startAttempt(client, {
    modelName: previous.modelName,
    modelVersion: previous.modelVersion,
    // Read again rather than copied: an attempt started before the registry was read carries a tag's say-so.
    ...registrantOf(version),
    policy,
    source: 'retry',
    attempt: (latest?.attempt ?? 1) + 1,
    retryOf,
    ...(carried.length > 0 ? { carried } : {}),
  });
  if (outcome.kind !== 'started') return { kind: 'refused', status: 409, message: outcome.message };
  const kept = carried.map(({ environment, promotionId }) => ({ environment, promotionId }));
  return { ...outcome, retryOf, ...(kept.length > 0 ? { carried: kept } : {}) };
}

/**
 * The environments that earlier attempts promoted the version in and where it is in production still: a retry does
 * nothing there (orchestrations/promote-environments.ts). An environment's promotion is found as the previous
 * attempt's sub-orchestration, or as one it carried itself; one rolled back or surpassed since is not carried, and is
 * promoted again.
 */
export async function carriedEnvironments(
  client: df.DurableClient,
  policy: Policy,
  previous: df.DurableOrchestrationStatus,
  registryIn: (workspaceId: string) => Registry,
): Promise<CarriedEnvironment[]> {
  const { modelName, modelVersion, carried: before = [] } = previous.input as PromotionInput;
  const carried: CarriedEnvironment[] = [];
  for (const environment of policy.environments ?? []) {
    let promoted = before.find((c) => c.environment === environment.name);
    if (!promoted) {
      const promotionId = environmentPromotionId(previous.instanceId, environment.name);
      const child = await instanceStatus(client, promotionId);
      const result = child?.output as PromotionResult | null | undefined;
      if (child?.runtimeStatus !== 'Completed' || result?.outcome !== 'promoted') continue;
      promoted = {
        environment: environment.name,
        promotionId,
        ...(result.evidence ? { evidence: result.evidence } : {}),
      };
    }
    const there = await registryIn(environment.workspace).getModelVersion(modelName, modelVersion);
    if (!there || stageOf(there) !== 'production') continue;
    carried.push(promoted);
  }
  return carried;
}

export function inProduction(
  modelName: string,
  modelVersion: string,
): Extract<StartOutcome, { kind: 'in-production' }> {
  return {
    kind: 'in-production',
    message: `${modelName}:${modelVersion} is in production already (stage=production): there is nothing to promote.`,
  };
}

export function exists(state: AttemptState): Extract<StartOutcome, { kind: 'exists' }> {
  const retry = retryVerdict(state).retry
    ? ` It can be tried again: POST /api/promotions/${encodeURIComponent(state.id)}/retry (champion retry ${state.id}).`
    : '';
  const ended = state.outcome ? `, ${state.outcome}` : '';
  return {
    kind: 'exists',
    id: state.id,
    runtimeStatus: state.runtimeStatus,
    message: `Promotion ${state.id} already exists (${state.runtimeStatus}${ended}).${retry}`,
  };
}

async function startAttempt(
  client: df.DurableClient,
  input: PromotionInput & { attempt: number },
): Promise<Exclude<StartOutcome, { kind: 'not-found' }>> {
  const id = attemptInstanceId(input.modelName, input.modelVersion, input.attempt);
  try {
    await client.startNew('promoteModel', { instanceId: id, input });
  } catch (err) {
    // A concurrent delivery or retry created it first.
    const raced = await instanceStatus(client, id);
    if (raced) return exists(attemptState(raced));
    throw err;
  }
  return { kind: 'started', id, attempt: input.attempt };
}

export type DecisionOutcome =
  { ok: true; approver: string; pending?: true } | { ok: false; status: 400 | 401 | 403 | 404 | 409; message: string };

/** How long a decision's sender waits to learn whether the promotion took it, and how often it looks. */
export interface DecisionWait {
  timeoutMs: number;
  /** First pause between looks; it doubles up to 100 ms. */
  pollMs: number;
}

const DECISION_WAIT: DecisionWait = { timeoutMs: 10_000, pollMs: 5 };

/**
 * Checks a decision against the promotion it is for, then hands it to the waiting orchestration. A token (from
 * a signed link) must match the promotion and its decision, and a link issued to one approver works for them
 * alone; `identify` says who the caller is (never the request's say-so on Azure). The registrant may not approve
 * their own model, and a policy's approvers list admits only its members.
 */
export async function submitDecision(
  client: df.DurableClient,
  secret: string,
  request: {
    promotionId: string;
    decision?: string;
    comment?: string;
    token?: string;
    via: ApprovalDecision['via'];
    /** Digest of the evidence the page showed, recorded with the decision (checked against the evidence by the caller). */
    evidenceDigest?: string;
    /** Who decides, given the approver a link was issued to (if any). */
    identify: (issuedTo: string | undefined) => CallerResult;
  },
  now: Date,
  wait: DecisionWait = DECISION_WAIT,
): Promise<DecisionOutcome> {
  let decision = request.decision;
  let issuedTo: string | undefined;
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
    issuedTo = verified.claims.approver;
  }
  if (decision !== 'approve' && decision !== 'reject') {
    return { ok: false, status: 400, message: 'decision: must be "approve" or "reject".' };
  }
  const identified = request.identify(issuedTo);
  if (!identified.ok) return { ok: false, status: identified.status, message: identified.message };
  const { caller } = identified;
  const status = await instanceStatus(client, request.promotionId);
  const rules = status && decisionRules(status);
  if (!rules) return { ok: false, status: 404, message: `No promotion "${request.promotionId}".` };
  const refused = refusal(request.promotionId, status);
  if (refused) return { ok: false, status: 409, message: refused };
  const who = checkApprover({
    approver: caller.name,
    registeredBy: rules.registeredBy,
    allowedApprovers: decision === 'approve' ? rules.approvers : undefined,
  });
  if (!who.ok) {
    const messages = {
      anonymous: 'approver: who decides must be named.',
      'self-approval': 'approver: the person who registered the model cannot approve it.',
      'not-an-approver': `approver: "${caller.name}" is not an approver for ${rules.modelName}.`,
    } as const;
    return { ok: false, status: who.reason === 'anonymous' ? 400 : 403, message: messages[who.reason] };
  }
  const payload: ApprovalDecision = {
    id: randomUUID(),
    decision,
    approver: caller.name,
    authenticated: caller.authenticated,
    identity: caller.source,
    comment: request.comment?.trim().slice(0, MAX_COMMENT_LENGTH),
    via: request.via,
    at: now.toISOString(),
    ...(request.evidenceDigest !== undefined ? { evidenceDigest: request.evidenceDigest } : {}),
  };
  const sealed = { ...payload, seal: sealDecision(secret, request.promotionId, payload) };
  await client.raiseEvent(request.promotionId, EVENTS.decision, sealed);
  return decisionTaken(client, payload, request.promotionId, wait);
}

/**
 * Who may decide on an instance that takes decisions: a promotion (its policy's approvers; never its registrant), or
 * a retraining run waiting to register its model (the retraining policy's approvers; Champion registers it, so there
 * is no registrant). Undefined for anything else.
 */
function decisionRules(
  status: df.DurableOrchestrationStatus,
): { modelName: string; approvers?: readonly string[]; registeredBy?: string } | undefined {
  if (status.name === RETRAIN_MODEL_ORCHESTRATION) {
    const input = status.input as RetrainingInput;
    if (!input.retraining.approval) return undefined;
    return { modelName: input.modelName, approvers: input.retraining.approval.approvers };
  }
  const input = status.input as PromotionInput | undefined;
  if (!input?.policy?.approval) return undefined;
  // A promotion across environments waiting at a gate: the gate's approvers decide.
  const gate = (status.customStatus as PromotionStatus | null | undefined)?.gate;
  const approvers = gate?.kind === 'approval' ? gate.approvers : input.policy.approval.approvers;
  return { modelName: input.modelName, approvers, registeredBy: input.registeredBy };
}

/** Why the promotion takes no decision now (it took one already, or no longer waits); undefined if it would. */
function refusal(promotionId: string, status: df.DurableOrchestrationStatus | undefined): string | undefined {
  const custom = status?.customStatus as PromotionStatus | undefined;
  const waiting = String(status?.runtimeStatus) === 'Running' && custom?.phase === 'awaiting-approval';
  if (waiting) return custom?.decision ? alreadyDecided(custom.decision) : undefined;
  const earlier = custom?.decision ? ` ${alreadyDecided(custom.decision)}` : '';
  const phase = custom?.phase ?? status?.runtimeStatus ?? 'gone';
  const what = status?.name === RETRAIN_MODEL_ORCHESTRATION ? 'Retraining' : 'Promotion';
  return `${what} "${promotionId}" is not waiting for a decision (phase: ${phase}).${earlier}`;
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
    if ((status?.customStatus as PromotionStatus | undefined)?.decision?.id === sent.id)
      return { ok: true, approver: sent.approver };
    const refused = refusal(promotionId, status);
    if (refused) return { ok: false, status: 409, message: refused };
    // The promotion has not handled the event yet; past the deadline, say it was sent but not yet taken.
    if (Date.now() >= deadline) return { ok: true, approver: sent.approver, pending: true };
  }
}
