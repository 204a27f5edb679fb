/**
 * QA → production: a promotion across a policy's environments (policy `environments`), in order.
 *
 *   for each environment: (after the first) its gate — a person's approval, or a bake without incidents in the
 *   previous environment on a durable timer — then the version is registered in its workspace with lineage back to
 *   where it was promoted (copyModelVersion); then the environment's own promotion, the unchanged promoteModel, runs
 *   as a sub-orchestration addressed to that workspace (orchestrations/durable.ts), with the environment's endpoint,
 *   approval, rollout and evaluation (its own data, or the previous environment's evidence reused).
 *
 * It stops at the first environment that does not end promoted, and at a gate that does not open: nothing is then
 * registered or deployed in the next workspace. Registered as `promoteModel`: a policy without environments runs
 * promoteModel itself, yielding exactly what it always did.
 */
import * as df from 'durable-functions';
import { checkDecisionEvent } from '../lib/domain/decisions';
import { environmentPolicy, environmentPromotionId, type ReusedEvidence } from '../lib/domain/environments';
import { gateKey, type GateArrival } from '../lib/domain/gates';
import type { Evidence } from '../lib/domain/evaluation';
import type { EnvironmentSettings, GateSettings } from '../lib/domain/policy';
import type {
  ActivityInput,
  ApprovalDecision,
  EnvironmentProgress,
  PromotionInput,
  PromotionResult,
  PromotionStatus,
  TimelineEntry,
} from './contract';
import { EVENTS } from './contract';
import {
  activity,
  announce,
  isAtLeast,
  lifecycleSubject,
  now,
  publishPending,
  type Context,
  type Step,
} from './durable';
import { ENVIRONMENT_GATE_ENTITY } from './environment-gate';
import { promoteModel } from './promote-model';

/**
 * Flow version from which gates are first-class: a promotion waits at a gate in the gate's entity (a newer version
 * reaching it supersedes an older one waiting there), announces reaching, opening and closing it (gate-waiting,
 * gate-opened, gate-closed) and the gate's approval as a promotion's, and reminds approvers before the gate's
 * approval expires (its `approval.remindBefore`).
 */
export const FIRST_CLASS_GATES = 11;

/** The name every promotion is registered under (the API, the dashboard and the decision routes look for it). */
export const PROMOTION_ORCHESTRATION = 'promoteModel';

/** A promotion: across the policy's environments when it names some, else promoteModel as it always ran. */
export function* promotion(ctx: Context): Step<PromotionResult> {
  const input = ctx.df.getInput() as PromotionInput;
  if (input.policy.environments && input.environment === undefined) return yield* promoteAcrossEnvironments(ctx);
  return yield* promoteModel(ctx);
}

/** What a gate came to: open, or closed with the outcome the promotion ends with. */
type GateOutcome =
  | { open: true; note: string; decision?: ApprovalDecision }
  | {
      open: false;
      outcome: PromotionResult['outcome'];
      reason: string;
      decision?: ApprovalDecision;
      failure?: { code: string; message: string };
    };

export function* promoteAcrossEnvironments(ctx: Context): Step<PromotionResult> {
  if (!isAtLeast(ctx, FIRST_CLASS_GATES)) return yield* acrossEnvironments(ctx);
  const { modelName, modelVersion } = ctx.df.getInput() as PromotionInput;
  lifecycleSubject(ctx, { modelName, modelVersion });
  let result: PromotionResult;
  try {
    result = yield* acrossEnvironments(ctx);
  } catch (err) {
    // An activity that kept failing ends the promotion: the steps it would have carried are published first.
    yield* publishPending(ctx);
    throw err;
  }
  // A gate that closed is announced last: published before the promotion ends.
  yield* publishPending(ctx);
  return result;
}

function* acrossEnvironments(ctx: Context): Step<PromotionResult> {
  const input = ctx.df.getInput() as PromotionInput;
  const { policy, modelName, modelVersion } = input;
  const environments = policy.environments ?? [];
  const promotionId = ctx.df.instanceId;
  const entries: TimelineEntry[] = [];
  const progress: EnvironmentProgress[] = environments.map((e) => ({
    name: e.name,
    workspace: e.workspace,
    endpointName: e.endpointName ?? policy.endpointName,
    state: 'pending',
  }));
  const status: PromotionStatus = { phase: 'preparing', modelName, modelVersion, timeline: [], environments: progress };
  const mark = (phase: PromotionStatus['phase'], note: string) => {
    status.phase = phase;
    entries.push({ at: now(ctx).toISOString(), phase, note });
    status.timeline = entries.slice(-25);
    ctx.df.setCustomStatus(status);
  };
  const end = (
    outcome: PromotionResult['outcome'],
    reason: string,
    extra: Partial<PromotionResult> = {},
  ): PromotionResult => {
    delete status.gate;
    mark('done', `${outcome}: ${reason}`);
    return { outcome, modelName, modelVersion, reason, ...extra, environments: progress, timeline: entries };
  };

  mark('preparing', `${modelName}:${modelVersion} through ${environments.map((e) => e.name).join(' → ')}`);
  let evidence: Evidence | undefined;
  let last: PromotionResult | undefined;
  let previous: { environment: EnvironmentSettings; promotionId: string; releasedAt: string } | undefined;
  let gateDecision: ApprovalDecision | undefined;

  for (const [index, environment] of environments.entries()) {
    const here = progress[index]!;
    const carried = input.carried?.find((c) => c.environment === environment.name);
    if (carried) {
      // An earlier attempt promoted it here and it serves still: promoting it again would find it in production.
      const { promotionId: by } = carried;
      Object.assign(here, { state: 'promoted', carried: true, promotionId: by, outcome: 'promoted' });
      here.reason = `promoted by ${by}, an earlier attempt`;
      if (carried.evidence) evidence = carried.evidence;
      mark('rolling-out', `${environment.name}: serves it already, promoted by ${by}`);
      previous = { environment, promotionId: by, releasedAt: now(ctx).toISOString() };
      continue;
    }
    if (previous) {
      // 1. The gate into this environment, while the version serves the previous one.
      here.state = 'gate';
      const gate = yield* passGate(ctx, {
        input,
        promotionId,
        from: previous,
        to: environment,
        gate: environment.gate!,
        evidence,
        status,
        mark,
      });
      here.gate = gate.open ? gate.note : gate.reason;
      if (gate.decision) gateDecision = gate.decision;
      if (!gate.open) {
        here.state = 'stopped';
        return end(gate.outcome, gate.reason, {
          ...(evidence ? { evidence } : {}),
          ...(gate.decision ? { decision: gate.decision } : {}),
          ...(gate.failure ? { failure: gate.failure } : {}),
        });
      }
      // 2. The same model, registered in this environment's workspace with its lineage.
      here.state = 'copying';
      mark('rolling-out', `registering ${modelName}:${modelVersion} in ${environment.name} (${environment.workspace})`);
      const copy = yield* activity(ctx, 'copyModelVersion', {
        workspace: environment.workspace,
        fromWorkspace: previous.environment.workspace,
        modelName,
        modelVersion,
        sourceEnvironment: previous.environment.name,
        sourcePromotionId: previous.promotionId,
        ...(evidence ? { evidence } : {}),
        ...(environment.registry ? { registry: environment.registry } : {}),
      });
      if (!copy.ok) {
        here.state = 'stopped';
        const failure = { code: copy.code, message: copy.message };
        return end('failed', `${environment.name}: ${copy.message}`, {
          failure,
          ...(evidence ? { evidence } : {}),
          ...(gateDecision ? { decision: gateDecision } : {}),
        });
      }
      here.lineage = copy.tags;
      mark(
        'rolling-out',
        `${modelName}:${modelVersion} ${copy.created ? 'registered' : 'already registered'} in ${environment.name} from ${previous.environment.name}`,
      );
    }

    // 3. The environment's own promotion, addressed to its workspace.
    const childId = environmentPromotionId(promotionId, environment.name);
    const reuse: ReusedEvidence | undefined =
      previous && evidence
        ? { environment: previous.environment.name, promotionId: previous.promotionId, evidence }
        : undefined;
    const { carried: _carried, ...parentInput } = input;
    const childInput: PromotionInput = {
      ...parentInput,
      policy: environmentPolicy(policy, environment, reuse),
      workspace: environment.workspace,
      environment: environment.name,
    };
    here.state = 'promoting';
    here.promotionId = childId;
    mark('rolling-out', `promoting in ${environment.name}: ${childId}`);
    const result = (yield ctx.df.callSubOrchestrator(
      PROMOTION_ORCHESTRATION,
      childInput,
      childId,
    ) as df.Task) as PromotionResult;
    last = result;
    here.outcome = result.outcome;
    here.reason = result.reason;
    if (result.evidence) evidence = result.evidence;
    if (result.outcome !== 'promoted') {
      here.state = 'stopped';
      return end(result.outcome, `${environment.name}: ${result.reason}`, {
        ...(evidence ? { evidence } : {}),
        ...(result.decision ? { decision: result.decision } : {}),
        ...(result.failure ? { failure: result.failure } : {}),
      });
    }
    here.state = 'promoted';
    mark('rolling-out', `promoted in ${environment.name}: ${result.reason}`);
    previous = { environment, promotionId: childId, releasedAt: now(ctx).toISOString() };
  }
  return end('promoted', `${modelName}:${modelVersion} serves ${environments.map((e) => e.name).join(' → ')}`, {
    ...(evidence ? { evidence } : {}),
    ...(gateDecision ? { decision: gateDecision } : last?.decision ? { decision: last.decision } : {}),
    ...(last?.release ? { release: last.release } : {}),
  });
}

interface GateContext {
  input: PromotionInput;
  promotionId: string;
  from: { environment: EnvironmentSettings; promotionId: string; releasedAt: string };
  to: EnvironmentSettings;
  gate: GateSettings;
  evidence: Evidence | undefined;
  status: PromotionStatus;
  mark: (phase: PromotionStatus['phase'], note: string) => void;
}

/**
 * The gate into `to`. First-class (FIRST_CLASS_GATES): the promotion takes its place at the gate first — superseded
 * at once by a newer version waiting there, or displacing an older one, which is told — then waits, and leaves the
 * place when the wait ends, announcing whether the gate opened.
 */
function* passGate(ctx: Context, g: GateContext): Step<GateOutcome> {
  if (!isAtLeast(ctx, FIRST_CLASS_GATES)) return yield* waitAtGate(ctx, g);
  const { input, to, gate, promotionId } = g;
  const { modelName, modelVersion } = input;
  const place = new df.EntityId(ENVIRONMENT_GATE_ENTITY, gateKey(modelName, to.name));
  const arrival = (yield ctx.df.callEntity(place, 'arrive', { promotionId, modelVersion })) as GateArrival;
  let outcome: GateOutcome;
  if (!arrival.waits) {
    const by = arrival.supersededBy;
    outcome = {
      open: false,
      outcome: 'superseded',
      reason: `${to.name} gate: ${modelName}:${by.modelVersion} is newer and waits there (${by.promotionId})`,
    };
  } else {
    if (arrival.displaced) {
      yield* activity(ctx, 'signalInstance', {
        instanceId: arrival.displaced.promotionId,
        eventName: EVENTS.superseded,
        data: { by: promotionId, modelVersion, gate: to.name },
      });
    }
    outcome = yield* waitAtGate(ctx, g, ctx.df.waitForExternalEvent(EVENTS.superseded));
    ctx.df.signalEntity(place, 'leave', { promotionId });
  }
  if (outcome.open) {
    announce(ctx, 'gate-opened', { environment: to.name, kind: gate.kind, note: outcome.note });
  } else {
    announce(ctx, 'gate-closed', {
      environment: to.name,
      kind: gate.kind,
      outcome: outcome.outcome,
      reason: outcome.reason,
    });
  }
  return outcome;
}

/** Whether a superseded event is for this gate (one sent for an earlier gate may still be buffered). */
function supersedesHere(data: unknown, gate: string): boolean {
  const named = (data as { gate?: unknown } | null | undefined)?.gate;
  return named === undefined || named === gate;
}

/**
 * Waits at the gate: a bake, or a person's approval. `superseded` (first-class gates): the event a newer version's
 * promotion sends when it reaches the same gate; the wait then ends with this promotion superseded.
 */
function* waitAtGate(ctx: Context, g: GateContext, superseded?: df.Task): Step<GateOutcome> {
  const firstClass = superseded !== undefined;
  const { input, gate, from, to } = g;
  const ref = `${input.modelName}:${input.modelVersion}`;
  let newer = superseded;
  /** The first of `tasks` and a newer version's promotion, skipping events sent for another gate. */
  function* race(tasks: df.Task[]): Step<unknown> {
    for (;;) {
      const first: unknown = yield ctx.df.Task.any(newer ? [...tasks, newer] : tasks);
      if (first !== newer || supersedesHere(newer?.result, to.name)) return first;
      newer = ctx.df.waitForExternalEvent(EVENTS.superseded);
    }
  }
  const supersededOutcome = (): GateOutcome => {
    const by = (newer?.result as { by?: unknown } | undefined)?.by;
    return {
      open: false,
      outcome: 'superseded',
      reason: `${to.name} gate: a newer version's promotion (${typeof by === 'string' ? by : 'unknown'}) reached it`,
    };
  };
  if (gate.kind === 'bake') {
    // A bake: the version serves the previous environment for the whole duration, then its record is read.
    const until = new Date(now(ctx).getTime() + gate.bakeMs);
    g.status.gate = { environment: to.name, kind: 'bake', until: until.toISOString() };
    g.mark('rolling-out', `baking in ${from.environment.name} until ${until.toISOString()} before ${to.name}`);
    const startedAt = now(ctx).toISOString();
    if (firstClass) {
      announce(ctx, 'gate-waiting', {
        environment: to.name,
        from: from.environment.name,
        kind: 'bake',
        until: until.toISOString(),
      });
      // Published now, not by the activity after the bake.
      yield* publishPending(ctx);
    }
    const timer = ctx.df.createTimer(until);
    const first: unknown = firstClass ? yield* race([timer]) : yield timer;
    if (firstClass && first !== timer) {
      timer.cancel();
      delete g.status.gate;
      return supersededOutcome();
    }
    const bake = yield* activity(ctx, 'checkBake', {
      workspace: from.environment.workspace,
      endpointName: from.environment.endpointName ?? input.policy.endpointName,
      model: ref,
      from: startedAt,
      to: until.toISOString(),
      maxErrorRate: gate.maxErrorRate,
    });
    delete g.status.gate;
    if (!bake.ok) {
      const message = `the bake in ${from.environment.name} found incidents: ${bake.incidents.join('; ')}`;
      return { open: false, outcome: 'failed', reason: message, failure: { code: 'GateClosed', message } };
    }
    return {
      open: true,
      note: `baked ${gate.bake} in ${from.environment.name}: ${bake.requests} requests, ${bake.serverErrors} answered 5xx`,
    };
  }

  // An approval, through the same links, identities and decision routes as a promotion's.
  const approval = gate.approval;
  const expiresAt = new Date(now(ctx).getTime() + approval.timeoutMs);
  const evidenceNote = g.evidence ? `; evidence: ${g.evidence.decision}: ${g.evidence.reason}` : '';
  const request: ActivityInput<'requestApproval'> = {
    promotionId: g.promotionId,
    modelName: input.modelName,
    modelVersion: input.modelVersion,
    evidenceSummary: `promote to ${to.name}: ${ref} serves ${from.environment.name} (${from.promotionId})${evidenceNote}`,
    expiresAt: expiresAt.toISOString(),
    nonce: ctx.df.newGuid(`${g.promotionId}:gate:${to.name}`),
    ...(approval.approvers ? { approvers: [...approval.approvers] } : {}),
  };
  if (firstClass) {
    // Published by requestApproval itself, once the approvers have been sent their links.
    const details = { environment: to.name, expiresAt: request.expiresAt };
    announce(ctx, 'gate-waiting', { ...details, from: from.environment.name, kind: 'approval' });
    announce(ctx, 'approval-requested', {
      ...details,
      approvers: approval.approvers?.length ?? 0,
      evidence: g.evidence?.decision,
    });
  }
  const requested = yield* activity(ctx, 'requestApproval', request);
  g.status.approval = { expiresAt: requested.expiresAt };
  g.status.gate = {
    environment: to.name,
    kind: 'approval',
    until: requested.expiresAt,
    ...(approval.approvers ? { approvers: [...approval.approvers] } : {}),
  };
  g.mark('awaiting-approval', `waiting for a decision to enter ${to.name} until ${requested.expiresAt}`);
  const timeout = ctx.df.createTimer(expiresAt);
  // One reminder, raced with the decision like the expiry, when the gate's approval asks for it and there is time.
  const remindAt =
    firstClass && approval.remindBeforeMs !== undefined
      ? new Date(expiresAt.getTime() - approval.remindBeforeMs)
      : undefined;
  let reminder = remindAt && remindAt.getTime() > now(ctx).getTime() ? ctx.df.createTimer(remindAt) : undefined;
  /** The first of a decision event, a newer version and the expiry; a reminder on the way is sent and waited past. */
  function* decisionOrExpiry(event: df.Task): Step<unknown> {
    for (;;) {
      const first = yield* race(reminder ? [event, timeout, reminder] : [event, timeout]);
      if (!reminder || first !== reminder) return first;
      reminder = undefined;
      // Published by remindApprovers itself, once the approvers have been sent their links again.
      announce(ctx, 'approval-reminded', { environment: to.name, expiresAt: requested.expiresAt });
      yield* activity(ctx, 'remindApprovers', request);
      g.mark('awaiting-approval', `reminded the approvers; waiting for a decision to enter ${to.name}`);
    }
  }
  let taken: ApprovalDecision | undefined;
  let first: unknown;
  for (;;) {
    const event = ctx.df.waitForExternalEvent(EVENTS.decision);
    first = firstClass ? yield* decisionOrExpiry(event) : yield ctx.df.Task.any([event, timeout]);
    if (first !== event) break;
    const check = checkDecisionEvent(event.result, {
      approvers: approval.approvers,
      registeredBy: input.registeredBy,
    });
    if (check.ok) {
      const { sealed } = yield* activity(ctx, 'verifyDecision', {
        promotionId: g.promotionId,
        decision: check.decision,
        ...(check.seal !== undefined ? { seal: check.seal } : {}),
      });
      if (sealed) {
        taken = check.decision;
        break;
      }
      g.mark('awaiting-approval', "ignored a decision event: seal: not sent through Champion's decision routes");
    } else {
      g.mark('awaiting-approval', `ignored a decision event: ${check.problem}`);
    }
  }
  reminder?.cancel();
  if (firstClass && first === newer) {
    timeout.cancel();
    delete g.status.gate;
    delete g.status.approval;
    return supersededOutcome();
  }
  if (taken) timeout.cancel();
  const decision: ApprovalDecision = taken ?? {
    decision: approval.onTimeout === 'reject' ? 'reject' : 'approve',
    approver: 'policy:onTimeout',
    identity: 'policy',
    via: 'api',
    at: now(ctx).toISOString(),
  };
  g.status.decision = decision;
  delete g.status.gate;
  delete g.status.approval;
  // Published at once: the decision's sender looks for it, as for a promotion's.
  ctx.df.setCustomStatus(g.status);
  if (firstClass) {
    if (!taken) announce(ctx, 'approval-expired', { environment: to.name, expiresAt: requested.expiresAt });
    announce(ctx, 'approval-decided', {
      environment: to.name,
      decision: decision.decision,
      approver: decision.approver,
      via: decision.via,
      authenticated: decision.authenticated,
      timedOut: !taken,
    });
  }
  if (decision.decision === 'reject') {
    const reason = taken
      ? `${to.name} gate rejected by ${decision.approver}${decision.comment ? `: ${decision.comment}` : ''}`
      : `${to.name} gate: no decision by ${requested.expiresAt}; the policy rejects on timeout`;
    return { open: false, outcome: taken ? 'rejected' : 'approval-timed-out', reason, decision };
  }
  return { open: true, note: `approved by ${decision.approver}`, decision };
}
