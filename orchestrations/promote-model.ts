/**
 * promoteModel: one registered model version from "registered" to "serving", or to a recorded reason why not.
 *
 *   prepare (under the model's lock): a version older than a winner already staged or serving is superseded at
 *     once; else idle blue/green slot → deploy the challenger at 0 % → smoke test → paired evaluation against the
 *     champion through the deployment header → stage it (the previous staged version is unstaged and its promotion
 *     told it was superseded) → ask for approval, so a person is only ever asked about the newest winner;
 *   approval: a signed decision, a newer winner, or the policy's timeout — whichever comes first;
 *   release (under the lock): shift traffic on the plan made at evaluation (refused if the endpoint changed
 *     meanwhile: then deploy and test again, or end as superseded), wait for each endpoint update, then tag
 *     `production` and stamp the endpoint with the git commit; any failure puts the champion back to 100 %.
 */
import * as df from 'durable-functions';
import { asksPerson as policyAsksPerson, checkDecisionEvent, type DecisionCheck } from '../lib/domain/decisions';
import type { Evidence } from '../lib/domain/evaluation';
import { evidenceRecord } from '../lib/domain/evidence-record';
import { isSlot, type RolloutPlan, type Slot } from '../lib/domain/rollout-plan';
import type {
  ApprovalDecision,
  ApprovalRequested,
  NewerWinner,
  PromotionInput,
  PromotionResult,
  PromotionStatus,
  RolloutState,
  TimelineEntry,
} from './contract';
import {
  EVENTS,
  retirementId,
  type ActivityInput,
  type ActivityOutput,
  type FreezeLifted,
  type TestReport,
} from './contract';
import { describeFreeze, type FreezeInForce } from '../lib/domain/freeze';
import {
  activity,
  activityAlongside,
  activityPair,
  announce,
  isAtLeast,
  lifecycleSubject,
  lock,
  now,
  publishPending,
  type Context,
  type Step,
} from './durable';
import { deployToSlot, progressiveRollout, removeSlot, ROLLBACK_FAILED, shiftTraffic } from './rollout';

export const MODEL_LOCK_ENTITY = 'modelLock';

/** What preparing under the lock came to. */
type Prepared =
  | { ok: false; failure: { code: string; message: string } }
  | { ok: true; staged: false; superseded: NewerWinner; evidence?: Evidence }
  | { ok: true; staged: false; superseded?: undefined; evidence: Evidence }
  | {
      ok: true;
      staged: true;
      superseded?: undefined;
      plan: RolloutPlan;
      evidence: Evidence;
      /** Asked for while the lock was held (flow version 4 on). */
      approval?: AskedApproval;
    };
/** An approval request sent, and when its timer fires. */
interface AskedApproval {
  requested: ApprovalRequested;
  expiresAt: Date;
  /** What it was sent with: a reminder sends the same. */
  request?: ActivityInput<'requestApproval'>;
}
const SUPERSEDED = 'Superseded';
/** Flow version from which a newer winner is looked for before deploying, and approval asked under the lock. */
const NEWEST_WINNER_STAGED = 4;
/** Flow version from which decision events are checked by the promotion itself (see FLOW_VERSION). */
const CHECKED_DECISIONS = 3;
/** Flow version from which a decision event must also carry the seal of the app's decision routes. */
const SEALED_DECISIONS = 5;
/** Flow version from which traffic moves progressively: mirror, steps with bakes, judgement and controls. */
const PROGRESSIVE_ROLLOUT = 6;
/** Flow version from which approvers are reminded before the request expires (policy `approval.remindBefore`). */
const APPROVAL_REMINDERS = 7;
/** Flow version from which the previous champion's slot is removed when the policy's rollback window ends. */
const ROLLBACK_WINDOW = 8;
/** Flow version from which a release waits out a freeze (the policy's windows, or a person's freeze). */
const RELEASE_FREEZES = 10;
/**
 * Flow version from which the newer-winner check and the endpoint read before deploying are one round trip, and the
 * evaluation runs alongside the smoke test.
 */
const FIRST_READS_TOGETHER = 12;
/** Ignored events noted in the timeline; later ones are only counted. */
const MAX_IGNORED_NOTES = 5;

export function* withModelLock<T>(ctx: Context, modelName: string, body: () => Step<T>): Step<T> {
  const held = (yield lock(ctx, [new df.EntityId(MODEL_LOCK_ENTITY, modelName)])) as { release(): void };
  try {
    return yield* body();
  } finally {
    held.release();
  }
}

/**
 * Durable fails an orchestration whose custom status exceeds 16 KB of UTF-16 JSON (docs: "Custom orchestration
 * status"), and a promotion can note without bound (one entry per traffic step, retries, redeploys). The status
 * shows the latest entries, notes cut short, within a budget that leaves room for the rest of the status; the
 * result keeps every entry.
 */
const STATUS_BUDGET_CHARS = 6 * 1024; // 12 KB of UTF-16
const RECENT_ENTRIES = 25;
const NOTE_LIMIT = 300;

class Timeline {
  readonly status: PromotionStatus;
  readonly entries: TimelineEntry[] = [];
  constructor(
    private readonly ctx: Context,
    input: PromotionInput,
  ) {
    this.status = { phase: 'preparing', modelName: input.modelName, modelVersion: input.modelVersion, timeline: [] };
  }

  /** Published in the episode that takes the decision, so its sender learns at once that it was the one. */
  decided(decision: ApprovalDecision): void {
    this.status.decision = decision;
    this.publish();
  }

  /** Notes an event the promotion did not take; past a few, only counts them, so the status stays small. */
  ignored(note: string): void {
    this.status.ignoredEvents = (this.status.ignoredEvents ?? 0) + 1;
    if (this.status.ignoredEvents <= MAX_IGNORED_NOTES) this.mark(this.status.phase, note);
    else this.ctx.df.setCustomStatus(this.status);
  }

  /** The progressive rollout's state, shown with the timeline. */
  rollout(state: RolloutState): void {
    this.status.rollout = state;
    this.publish();
  }

  mark(phase: PromotionStatus['phase'], note: string): void {
    this.status.phase = phase;
    this.entries.push({ at: now(this.ctx).toISOString(), phase, note });
    this.publish();
  }

  private publish(): void {
    const recent = this.entries
      .slice(-RECENT_ENTRIES)
      .map((e) => (e.note.length > NOTE_LIMIT ? { ...e, note: `${e.note.slice(0, NOTE_LIMIT - 1)}…` } : e));
    while (recent.length > 1 && JSON.stringify({ ...this.status, timeline: recent }).length > STATUS_BUDGET_CHARS) {
      recent.shift();
    }
    this.status.timeline = recent;
    if (this.entries.length > recent.length) this.status.earlierEntries = this.entries.length - recent.length;
    this.ctx.df.setCustomStatus(this.status);
  }
}

export function* promoteModel(ctx: Context): Step<PromotionResult> {
  let result: PromotionResult;
  try {
    result = yield* promote(ctx);
  } catch (err) {
    // An activity that kept failing ends the promotion: the steps it would have carried are published first.
    yield* publishPending(ctx);
    throw err;
  }
  // Steps announced last (none today: every step is followed by an activity) are published before it ends.
  yield* publishPending(ctx);
  return result;
}

function* promote(ctx: Context): Step<PromotionResult> {
  const input = ctx.df.getInput() as PromotionInput;
  const { policy, modelName, modelVersion } = input;
  const promotionId = ctx.df.instanceId;
  const timeline = new Timeline(ctx, input);
  lifecycleSubject(ctx, { modelName, modelVersion });
  announce(ctx, 'promotion-started', {
    endpointName: policy.endpointName,
    source: input.source,
    attempt: input.attempt,
    retryOf: input.retryOf,
  });
  const result = (outcome: PromotionResult['outcome'], reason: string, extra: Partial<PromotionResult> = {}) => {
    timeline.mark('done', `${outcome}: ${reason}`);
    const rollout = timeline.status.rollout ? { rollout: timeline.status.rollout } : {};
    return {
      outcome,
      modelName,
      modelVersion,
      reason,
      ...extra,
      ...rollout,
      timeline: timeline.entries,
    } satisfies PromotionResult;
  };

  const asksPerson = (decision: string) => policyAsksPerson(policy.approval, decision);
  /** The links go to the approvers through the notifier, never into the status; a decision may come until expiry. */
  function* askForApproval(evidence: Evidence): Step<AskedApproval> {
    const expiresAt = new Date(now(ctx).getTime() + policy.approval.timeoutMs);
    // Published by requestApproval itself, once the approvers have been sent their links.
    announce(ctx, 'approval-requested', {
      expiresAt: expiresAt.toISOString(),
      approvers: policy.approval.approvers?.length ?? 0,
      evidence: evidence.decision,
    });
    const request: ActivityInput<'requestApproval'> = {
      promotionId,
      modelName,
      modelVersion,
      evidenceSummary: `${evidence.decision}: ${evidence.reason}`,
      expiresAt: expiresAt.toISOString(),
      nonce: ctx.df.newGuid(`${promotionId}:approval`),
      ...(policy.approval.approvers ? { approvers: [...policy.approval.approvers] } : {}),
    };
    const requested = yield* activity(ctx, 'requestApproval', request);
    // Only the expiry: a history recorded before the links left the status may still hold them in this output.
    timeline.status.approval = { expiresAt: requested.expiresAt };
    timeline.mark('awaiting-approval', `waiting for a decision until ${requested.expiresAt}`);
    return { requested, expiresAt, request };
  }

  /** Whether the promotion takes a decision event: well formed, admitted by the policy, and sent by the app. */
  function* takeDecision(data: unknown): Step<DecisionCheck> {
    const check = checkDecisionEvent(data, { approvers: policy.approval.approvers, registeredBy: input.registeredBy });
    if (!check.ok || !isAtLeast(ctx, SEALED_DECISIONS)) return check;
    const { sealed } = yield* activity(ctx, 'verifyDecision', {
      promotionId,
      decision: check.decision,
      ...(check.seal !== undefined ? { seal: check.seal } : {}),
    });
    return sealed ? check : { ok: false, problem: "seal: not sent through Champion's decision routes" };
  }

  // 1. Prepare and judge the challenger, holding the model's lock so two promotions never share the idle slot.
  timeline.mark('preparing', `evaluating ${modelName}:${modelVersion} for endpoint ${policy.endpointName}`);
  const prepared = yield* withModelLock(ctx, modelName, function* (): Step<Prepared> {
    // A newer winner already staged or serving: this version could never be staged, so it does not take the
    // idle slot (which may hold that winner) for nothing. From flow version 11 the endpoint is read meanwhile.
    let endpoint: ActivityOutput<'readEndpoint'> | undefined;
    if (isAtLeast(ctx, FIRST_READS_TOGETHER)) {
      const [{ newer }, view] = yield* activityPair(
        ctx,
        ['findNewerWinner', { modelName, modelVersion }],
        ['readEndpoint', { endpointName: policy.endpointName }],
      );
      if (newer) return { ok: true, staged: false, superseded: newer };
      endpoint = view;
    } else if (isAtLeast(ctx, NEWEST_WINNER_STAGED)) {
      const { newer } = yield* activity(ctx, 'findNewerWinner', { modelName, modelVersion });
      if (newer) return { ok: true, staged: false, superseded: newer };
    }
    const deployed = yield* deployToSlot(ctx, { policy, modelName, modelVersion, promotionId, endpoint }, (note) =>
      timeline.mark('deploying', note),
    );
    if (!deployed.ok) return { ok: false, failure: deployed.failure };
    const { slot, champion } = deployed;

    const testInput: ActivityInput<'testDeployment'> = {
      endpointName: policy.endpointName,
      slot,
      testSpec: policy.rollout.testSpec,
      evaluation: policy.evaluation,
    };
    const evaluationInput: ActivityInput<'evaluateChallenger'> = {
      policy,
      endpointName: policy.endpointName,
      championSlot: champion,
      challengerSlot: slot,
    };
    const comparison = champion ? `paired comparison against ${champion}` : 'no champion yet';
    /** The smoke test's report, and the evidence when it passed. */
    const testAndEvaluate = function* (): Step<{ test: TestReport; evidence?: Evidence }> {
      if (isAtLeast(ctx, FIRST_READS_TOGETHER)) {
        // The slot serves no one yet: the evaluation runs during the smoke test, which still decides first — a
        // failed one ends the preparation without waiting for the evaluation, whose result is never looked at.
        timeline.mark(
          'testing',
          `smoke test of ${slot} through the azureml-model-deployment header, evaluation alongside`,
        );
        const { first: test, second: evaluation } = yield* activityAlongside(
          ctx,
          ['testDeployment', testInput],
          ['evaluateChallenger', evaluationInput],
        );
        if (!test.ok) return { test };
        timeline.mark('evaluating', `smoke test passed; ${comparison}`);
        return { test, evidence: yield* evaluation() };
      }
      timeline.mark('testing', `smoke test of ${slot} through the azureml-model-deployment header`);
      const test = yield* activity(ctx, 'testDeployment', testInput);
      if (!test.ok) return { test };
      timeline.mark('evaluating', comparison);
      return { test, evidence: yield* activity(ctx, 'evaluateChallenger', evaluationInput) };
    };
    const { test, evidence } = yield* testAndEvaluate();
    if (!test.ok || !evidence) {
      yield* removeSlot(ctx, policy, slot);
      return { ok: false, failure: { code: 'SmokeTestFailed', message: test.failures.join('; ') } };
    }
    // Both models' values, the interval, guardrails, smoke test and the chart's differences, within a bounded size.
    timeline.status.evidence = evidenceRecord(evidence, test);
    timeline.mark('evaluated', `${evidence.decision}: ${evidence.reason}`);
    announce(ctx, 'evaluated', {
      decision: evidence.decision,
      reason: evidence.reason,
      n: evidence.kind === 'paired' ? evidence.n : undefined,
      champion,
    });
    if (evidence.decision !== 'win' && evidence.decision !== 'inconclusive') {
      yield* removeSlot(ctx, policy, slot);
      return { ok: true, staged: false, evidence };
    }

    const change = yield* activity(ctx, 'changeStage', { modelName, modelVersion, transition: 'stage', promotionId });
    if (change.superseded) {
      // A newer winner was staged meanwhile (it did not look before deploying, or the tags were edited by hand).
      yield* removeSlot(ctx, policy, slot);
      return { ok: true, staged: false, superseded: change.superseded, evidence };
    }
    if (change.displaced?.promotionId && change.displaced.promotionId !== promotionId) {
      yield* activity(ctx, 'signalInstance', {
        instanceId: change.displaced.promotionId,
        eventName: EVENTS.superseded,
        data: { by: promotionId, modelVersion },
      });
    }
    // Asked while the lock is held, a person is asked only about the newest winner: no newer one can be staged
    // between staging this version and asking.
    const approval =
      isAtLeast(ctx, NEWEST_WINNER_STAGED) && asksPerson(evidence.decision)
        ? yield* askForApproval(evidence)
        : undefined;
    return { ok: true, staged: true, plan: deployed.plan, evidence, approval };
  });

  if (!prepared.ok) return result('failed', prepared.failure.message, { failure: prepared.failure });
  if (prepared.superseded) {
    const { version, stage } = prepared.superseded;
    const evidence = prepared.evidence ? { evidence: prepared.evidence } : {};
    return result('superseded', `${modelName}:${version} is newer and already ${stage}`, evidence);
  }
  const { evidence } = prepared;
  if (!prepared.staged) return result('lost-evaluation', evidence.reason, { evidence });
  const slot = prepared.plan.challenger;

  // 2. Approval: a person decides (an inconclusive result always asks one), a newer winner, or the timeout.
  let decision: ApprovalDecision | undefined;
  if (asksPerson(evidence.decision)) {
    const { requested, expiresAt, request } = prepared.approval ?? (yield* askForApproval(evidence));

    const decided = ctx.df.waitForExternalEvent(EVENTS.decision);
    const superseded = ctx.df.waitForExternalEvent(EVENTS.superseded);
    const timeout = ctx.df.createTimer(expiresAt);
    // One reminder, raced with the decision like the expiry, when the policy asks for it and there is time left.
    const remindBeforeMs = policy.approval.remindBeforeMs;
    const remindAt =
      isAtLeast(ctx, APPROVAL_REMINDERS) && request && remindBeforeMs !== undefined
        ? new Date(expiresAt.getTime() - remindBeforeMs)
        : undefined;
    let reminder = remindAt && remindAt.getTime() > now(ctx).getTime() ? ctx.df.createTimer(remindAt) : undefined;
    /** The first of a decision event, a newer winner and the expiry; a reminder on the way is sent and waited past. */
    function* race(event: df.Task): Step<unknown> {
      for (;;) {
        const first: unknown = yield ctx.df.Task.any(
          reminder ? [event, superseded, timeout, reminder] : [event, superseded, timeout],
        );
        if (!reminder || first !== reminder) return first;
        reminder = undefined;
        // Published by remindApprovers itself, once the approvers have been sent their links again.
        announce(ctx, 'approval-reminded', { expiresAt: requested.expiresAt });
        yield* activity(ctx, 'remindApprovers', request!);
        timeline.mark(
          'awaiting-approval',
          `reminded the approvers; waiting for a decision until ${requested.expiresAt}`,
        );
      }
    }
    let winner = yield* race(decided);
    let taken: ApprovalDecision | undefined;
    if (winner === decided && !isAtLeast(ctx, CHECKED_DECISIONS)) taken = decided.result as ApprovalDecision;
    else if (winner === decided) {
      // A decision event the promotion cannot take (malformed, unknown, or from someone the policy does not admit
      // — possible through the Durable HTTP API) is noted and ignored; the wait goes on with the same timer and
      // supersession, as in the Durable Functions human-interaction sample (E4_SmsPhoneVerification).
      let event = decided;
      for (;;) {
        const check = yield* takeDecision(event.result);
        if (check.ok) {
          taken = check.decision;
          break;
        }
        timeline.ignored(`ignored a decision event: ${check.problem}`);
        event = ctx.df.waitForExternalEvent(EVENTS.decision);
        winner = yield* race(event);
        if (winner !== event) break;
      }
    }
    if (winner !== timeout) timeout.cancel();
    reminder?.cancel();

    if (winner === superseded) {
      const by = (superseded.result as { by?: string } | undefined)?.by ?? 'a newer promotion';
      return result('superseded', `a newer winner (${by}) replaced this staged version`, { evidence });
    }
    // The policy decides when nobody did in time.
    decision = taken ?? {
      decision: policy.approval.onTimeout === 'reject' ? 'reject' : 'approve',
      approver: 'policy:onTimeout',
      identity: 'policy',
      via: 'api',
      at: now(ctx).toISOString(),
    };
    timeline.decided(decision);
    if (winner === timeout) announce(ctx, 'approval-expired', { expiresAt: requested.expiresAt });
    announce(ctx, 'approval-decided', {
      decision: decision.decision,
      approver: decision.approver,
      via: decision.via,
      authenticated: decision.authenticated,
      timedOut: winner === timeout,
    });
    if (decision.decision === 'reject') {
      yield* withModelLock(ctx, modelName, () => rejectAndClean(ctx, input, slot, promotionId));
      return winner === timeout
        ? result('approval-timed-out', `no decision by ${requested.expiresAt}; the policy rejects on timeout`, {
            evidence,
            decision,
          })
        : result('rejected', `rejected by ${decision.approver}${decision.comment ? `: ${decision.comment}` : ''}`, {
            evidence,
            decision,
          });
    }
  }

  // 3. Release: traffic first, then the production tag and the release stamp.
  timeline.mark('rolling-out', `approved${decision ? ` by ${decision.approver}` : ' (no approval required)'}`);
  const release = function* () {
    const report = (note: string) =>
      timeline.mark(note.startsWith('rolling back') ? 'rolling-back' : 'rolling-out', note);
    const shift = {
      endpointName: policy.endpointName,
      model: `${modelName}:${modelVersion}`,
      deadlineMs: policy.rollout.provisioningDeadlineMs,
    };
    const move = (plan: RolloutPlan) =>
      isAtLeast(ctx, PROGRESSIVE_ROLLOUT)
        ? progressiveRollout(
            ctx,
            { policy, modelName, promotionId, plan, model: shift.model },
            {
              report,
              show: (state) => timeline.rollout(state),
              ignored: (note) => timeline.ignored(note),
            },
          )
        : shiftTraffic(ctx, { ...shift, plan }, report);
    // The plan made at evaluation still holds unless the endpoint changed meanwhile (the first step checks).
    let plan = prepared.plan;
    let shifted = yield* move(plan);
    if (!shifted.ok && shifted.stale) {
      // A newer winner may have taken the slot while this one waited for the lock, its signal too late to be
      // heard: then this one is superseded. A newer loser's leftover is replaced: deploy and test again.
      const { stage } = yield* activity(ctx, 'readStage', { modelName, modelVersion });
      if (stage !== 'staged') {
        const message = `${modelName}:${modelVersion} is ${stage ?? 'untagged'} now: a newer winner replaced it`;
        return { ok: false as const, failure: { code: SUPERSEDED, message } };
      }
      report(`${shifted.failure.message}: deploying again`);
      const redeployed = yield* deployToSlot(ctx, { policy, modelName, modelVersion, promotionId }, report);
      if (!redeployed.ok) return redeployed;
      if (redeployed.slot !== slot || redeployed.deployed) {
        const retest = yield* activity(ctx, 'testDeployment', {
          endpointName: policy.endpointName,
          slot: redeployed.slot,
          testSpec: policy.rollout.testSpec,
          evaluation: policy.evaluation,
        });
        if (!retest.ok) {
          yield* removeSlot(ctx, policy, redeployed.slot);
          return { ok: false as const, failure: { code: 'SmokeTestFailed', message: retest.failures.join('; ') } };
        }
      }
      plan = redeployed.plan;
      shifted = yield* move(plan);
    }
    if (!shifted.ok) return shifted;
    yield* activity(ctx, 'changeStage', { modelName, modelVersion, transition: 'promote', promotionId });
    // Traffic and tags say so now; published by recordRelease.
    announce(ctx, 'production-changed', { endpointName: policy.endpointName, slot: plan.challenger });
    const record = yield* activity(ctx, 'recordRelease', {
      endpointName: policy.endpointName,
      slot: plan.challenger,
      promotionId,
      modelName,
      modelVersion,
    });
    return { ok: true as const, release: record, slot: plan.challenger, previous: plan.champion };
  };
  /** The release freeze in force now, looked at under the lock, right before the release (flow version 10 on). */
  function* freezeInForce(): Step<(FreezeInForce & { frozen: true }) | undefined> {
    if (!isAtLeast(ctx, RELEASE_FREEZES)) return undefined;
    const freeze = yield* activity(ctx, 'checkReleaseFreeze', {
      modelName,
      windows: policy.freezes ?? [],
      at: now(ctx).toISOString(),
    });
    return freeze.frozen ? freeze : undefined;
  }
  /** The one open wait for a lift: a second wait for the same event name would take the next lift first. */
  let lifted: df.Task | undefined;
  /**
   * Waits out a freeze without the lock (a rollback, which is never frozen, takes it meanwhile): until it would end
   * by itself, or a person lifts it, then the release looks again.
   */
  function* waitOutFreeze(freeze: FreezeInForce & { frozen: true }, told: string | undefined): Step<string> {
    const why = describeFreeze(freeze);
    timeline.status.freeze = freeze;
    if (why !== told) timeline.mark('frozen', `${why}; the release waits`);
    lifted ??= ctx.df.waitForExternalEvent(EVENTS.freezeLifted);
    const timer = ctx.df.createTimer(new Date(freeze.recheckAt));
    const winner: unknown = yield ctx.df.Task.any([lifted, timer]);
    if (winner === lifted) {
      timer.cancel();
      const lift = lifted.result as Partial<FreezeLifted> | undefined;
      lifted = undefined;
      const by = typeof lift?.by === 'string' ? lift.by : 'someone';
      const reason = typeof lift?.reason === 'string' ? `: ${lift.reason}` : '';
      timeline.mark('frozen', `the freeze was lifted by ${by}${reason}; looking again`);
    }
    return why;
  }

  /** What the timeline last said of a freeze the release waits out. */
  let told: string | undefined;
  /** Releases under the lock, unless a freeze holds: then it says which, having changed nothing. */
  const releaseUnlessFrozen = function* () {
    const freeze = yield* freezeInForce();
    if (freeze) return { frozen: freeze } as const;
    if (told !== undefined) {
      delete timeline.status.freeze;
      timeline.mark('rolling-out', 'the release freeze is over: releasing');
    }
    return { frozen: undefined, outcome: yield* releaseOrRestore() };
  };
  const releaseOrRestore = function* () {
    const outcome = yield* release();
    if (outcome.ok || outcome.failure.code === SUPERSEDED) return outcome;
    if (outcome.failure.code === ROLLBACK_FAILED) {
      // Traffic is not where it was meant to be: if the endpoint really serves this version, the tags say so.
      const view = yield* activity(ctx, 'readEndpoint', { endpointName: policy.endpointName });
      const serving = Object.keys(view.deployments).find(
        (name) => view.deployments[name]?.model === `${modelName}:${modelVersion}` && view.traffic[name] === 100,
      );
      if (view.provisioningState === 'Succeeded' && serving && isSlot(serving)) {
        yield* activity(ctx, 'changeStage', { modelName, modelVersion, transition: 'promote', promotionId });
        announce(ctx, 'production-changed', { endpointName: policy.endpointName, slot: serving });
        yield* activity(ctx, 'recordRelease', {
          endpointName: policy.endpointName,
          slot: serving,
          promotionId,
          modelName,
          modelVersion,
        });
        return outcome;
      }
    }
    // It will not be deployed: left `staged`, it would look as if it still waited for a review.
    yield* activity(ctx, 'changeStage', { modelName, modelVersion, transition: 'unstage', promotionId });
    return outcome;
  };
  let attempt = yield* withModelLock(ctx, modelName, releaseUnlessFrozen);
  while (attempt.frozen) {
    told = yield* waitOutFreeze(attempt.frozen, told);
    attempt = yield* withModelLock(ctx, modelName, releaseUnlessFrozen);
  }
  const released = attempt.outcome;
  if (!released.ok) {
    if (released.failure.code === SUPERSEDED)
      return result('superseded', released.failure.message, { evidence, decision });
    return result('failed', released.failure.message, { evidence, decision, failure: released.failure });
  }
  // 4. The rollback window: the previous champion stays warm at 0 % (a rollback is one update), then is removed.
  let rollbackWindow: PromotionResult['rollbackWindow'];
  const windowMs = policy.rollout.rollbackWindowMs;
  const previous = released.previous;
  if (isAtLeast(ctx, ROLLBACK_WINDOW) && windowMs !== undefined && previous && isSlot(previous)) {
    const until = new Date(now(ctx).getTime() + windowMs).toISOString();
    const id = retirementId(modelName, modelVersion);
    yield* activity(ctx, 'startSlotRetirement', {
      instanceId: id,
      // The environment's workspace, when one started this promotion: the retirement's activities address it too.
      retirement: {
        modelName,
        policy,
        slot: previous,
        promotionId,
        until,
        ...(input.workspace ? { workspace: input.workspace } : {}),
      },
    });
    rollbackWindow = { slot: previous, until, retirementId: id };
    timeline.mark(
      'rolling-out',
      `rollback window: ${previous} stays warm at 0 % until ${until}, then is removed (${id})`,
    );
  }
  return result(
    'promoted',
    `${modelName}:${modelVersion} serves 100 % of ${policy.endpointName} from ${released.slot}`,
    {
      evidence,
      decision,
      release: { ...released.release, endpointName: policy.endpointName, slot: released.slot },
      ...(rollbackWindow ? { rollbackWindow } : {}),
    },
  );
}

function* rejectAndClean(ctx: Context, input: PromotionInput, slot: Slot, promotionId: string): Step<void> {
  yield* activity(ctx, 'changeStage', {
    modelName: input.modelName,
    modelVersion: input.modelVersion,
    transition: 'reject',
    promotionId,
  });
  const view = yield* activity(ctx, 'readEndpoint', { endpointName: input.policy.endpointName });
  // Only remove the slot if it still holds this version and serves nothing: a newer promotion may own it now.
  if (view.deployments[slot]?.model === `${input.modelName}:${input.modelVersion}` && !view.traffic[slot]) {
    yield* removeSlot(ctx, input.policy, slot);
  }
}
