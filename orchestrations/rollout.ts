/**
 * Blue/green steps on a managed online endpoint. Every wait is a durable timer that honours ARM's retry hint
 * (retry-after-ms, else Retry-After), bounded by the policy's provisioning deadline; every failure leaves the
 * champion serving 100 %.
 */
import type * as df from 'durable-functions';
import type { Policy } from '../lib/domain/policy';
import { checkControlEvent, type ControlCheck } from '../lib/domain/rollout-controls';
import {
  classifyDeploymentFailure,
  endpointPreparation,
  idleSlotAction,
  planBlueGreenRollout,
  planRolloutPhases,
  PROVISIONING_DEADLINE_EXCEEDED,
  type RolloutPhase,
  type RolloutPlan,
  type Slot,
} from '../lib/domain/rollout-plan';
import {
  ENDPOINT_CHANGED,
  EVENTS,
  type ProvisioningCheck,
  type Removal,
  type RolloutControl,
  type RolloutState,
  type Started,
  type StepVerdict,
  type TrafficExpectation,
  type ActivityOutput,
} from './contract';
import { activity, announce, isAtLeast, now, sleep, type Context, type Step } from './durable';

type Failure = { code: string; message: string };

/** Restoring the champion's traffic failed too: the endpoint needs a person. */
export const ROLLBACK_FAILED = 'RollbackFailed';
type Finished = Exclude<ProvisioningCheck, { state: 'InProgress' }>;

const MIN_REPOLL_SECONDS = 1;

/** Polls an ARM operation until it finishes or the deadline passes. */
function* waitForProvisioning(
  ctx: Context,
  started: Extract<Started, { ok: true }>,
  target: { endpointName: string; slot?: Slot; deleting?: boolean },
  deadline: Date,
): Step<Finished> {
  let wait = started.retryAfterSeconds;
  for (;;) {
    // ARM may say "poll now" (retry-after-ms: 0) for an operation that is already done: no timer then.
    if (wait > 0) yield* sleep(ctx, wait);
    const check = yield* activity(ctx, 'checkProvisioning', { ...target, operationUrl: started.operationUrl });
    if (check.state !== 'InProgress') return check;
    if (now(ctx).getTime() >= deadline.getTime()) {
      return {
        state: 'Failed',
        code: PROVISIONING_DEADLINE_EXCEEDED,
        message: `still provisioning at the policy's deadline (${deadline.toISOString()})`,
      };
    }
    // Only the first look may come at once: later ones never poll faster than once a second.
    wait = Math.max(check.retryAfterSeconds, MIN_REPOLL_SECONDS);
  }
}

/** Starts an ARM operation, retrying only what Azure ML's failure codes say is worth retrying now. */
function* startWithRetry(ctx: Context, start: () => Step<Started>, deadline: Date): Step<Started> {
  for (;;) {
    const started = yield* start();
    if (started.ok) return started;
    const failure = classifyDeploymentFailure(started.code, started.message, {
      retryAfterSeconds: started.retryAfterSeconds,
    });
    const retryAt = now(ctx).getTime() + (failure.retryAfterSeconds ?? 0) * 1000;
    if (failure.action !== 'retry-after' || retryAt >= deadline.getTime()) return started;
    yield* sleep(ctx, failure.retryAfterSeconds ?? 60);
  }
}

export interface DeployRequest {
  policy: Policy;
  modelName: string;
  modelVersion: string;
  promotionId: string;
  /** The endpoint as just read under the model's lock, when the caller read it already. */
  endpoint?: ActivityOutput<'readEndpoint'>;
}

export type DeployResult =
  | {
      ok: true;
      slot: Slot;
      champion: string | null;
      /** false when the slot already held the model */
      deployed: boolean;
      /** Traffic steps and rollback for this slot: valid while the model's lock is held. */
      plan: RolloutPlan;
    }
  | { ok: false; failure: Failure };

/** Creates the endpoint if missing, then deploys the challenger into the idle slot at 0 % traffic. */
export function* deployToSlot(
  ctx: Context,
  request: DeployRequest,
  report: (note: string) => void,
): Step<DeployResult> {
  const { policy } = request;
  const endpointName = policy.endpointName;
  const deadline = new Date(now(ctx).getTime() + policy.rollout.provisioningDeadlineMs);

  let view = request.endpoint ?? (yield* activity(ctx, 'readEndpoint', { endpointName }));
  const preparation = endpointPreparation(view);
  if (preparation !== 'ready') {
    if (preparation === 'create') {
      report(`creating endpoint ${endpointName}`);
      const started = yield* startWithRetry(
        ctx,
        () => activity(ctx, 'beginCreateEndpoint', { endpointName, modelName: request.modelName }),
        deadline,
      );
      if (!started.ok) return { ok: false, failure: started };
      const done = yield* waitForProvisioning(ctx, started, { endpointName }, deadline);
      if (done.state === 'Failed') return { ok: false, failure: done };
    } else {
      const done = yield* waitForProvisioning(ctx, { ok: true, retryAfterSeconds: 5 }, { endpointName }, deadline);
      if (done.state === 'Failed') return { ok: false, failure: done };
    }
    view = yield* activity(ctx, 'readEndpoint', { endpointName });
  }

  let plan;
  try {
    plan = planBlueGreenRollout({
      traffic: view.traffic,
      deployments: Object.keys(view.deployments),
      steps: policy.rollout.steps,
    });
  } catch (err) {
    return { ok: false, failure: { code: 'NoIdleSlot', message: (err as Error).message } };
  }
  const slot = plan.challenger;
  const model = `${request.modelName}:${request.modelVersion}`;
  const action = idleSlotAction(view.deployments[slot], model);
  if (isAtLeast(ctx, 2) && action.waitForDelete) {
    // ARM refuses a PUT to a deployment that is still being deleted (409): wait until it is gone.
    report(`waiting for the delete of ${slot} to finish`);
    const gone = yield* waitForDeletion(ctx, endpointName, slot, { deleted: true }, deadline);
    if (gone.state === 'Failed') return { ok: false, failure: gone };
  }
  if (!action.deploy) {
    report(`${slot} already holds ${model}`);
    return { ok: true, slot, champion: plan.champion, deployed: false, plan };
  }

  report(`deploying ${model} to ${slot} at 0 %${plan.champion ? ` (champion: ${plan.champion})` : ''}`);
  const started = yield* startWithRetry(
    ctx,
    () =>
      activity(ctx, 'beginDeploy', {
        endpointName,
        slot,
        modelName: request.modelName,
        modelVersion: request.modelVersion,
        instanceType: policy.rollout.instanceType,
        instanceCount: policy.rollout.instanceCount,
        requestSettings: policy.rollout.requestSettings,
        promotionId: request.promotionId,
        ...(policy.rollout.codeConfiguration
          ? { codeConfiguration: policy.rollout.codeConfiguration, environmentId: policy.rollout.environment }
          : {}),
      }),
    deadline,
  );
  if (!started.ok) return { ok: false, failure: started };
  const done = yield* waitForProvisioning(ctx, started, { endpointName, slot }, deadline);
  if (done.state === 'Failed') {
    const failure = classifyDeploymentFailure(done.code, done.message);
    // A failed or stuck deployment is removed so the idle slot is clean; it never carried traffic.
    if (failure.action === 'delete-and-keep-champion' || done.code === PROVISIONING_DEADLINE_EXCEEDED) {
      yield* removeSlot(ctx, policy, slot);
    }
    return { ok: false, failure: { code: done.code, message: `${failure.reason} (${done.message})` } };
  }
  return { ok: true, slot, champion: plan.champion, deployed: true, plan };
}

/**
 * Deletes the slot's deployment and waits until it is gone, so the slot is never handed on (nor the model's lock
 * released) while ARM would still refuse a PUT to it. A delete that fails or outlasts the policy's deadline leaves a
 * deployment the next promotion replaces.
 */
export function* removeSlot(ctx: Context, policy: Policy, slot: Slot): Step<void> {
  const endpointName = policy.endpointName;
  const removal = yield* activity(ctx, 'deleteDeployment', { endpointName, slot });
  if (!removal.deleted || !isAtLeast(ctx, 2)) return;
  const deadline = new Date(now(ctx).getTime() + policy.rollout.provisioningDeadlineMs);
  yield* waitForDeletion(ctx, endpointName, slot, removal, deadline);
}

/** Follows a deployment delete: its `Location` when ARM gave one, else the deployment until it no longer exists. */
function* waitForDeletion(
  ctx: Context,
  endpointName: string,
  slot: Slot,
  removal: Extract<Removal, { deleted: true }>,
  deadline: Date,
): Step<Finished> {
  const { retryAfterSeconds = 0, operationUrl } = removal;
  return yield* waitForProvisioning(
    ctx,
    { ok: true, retryAfterSeconds, operationUrl },
    { endpointName, slot, deleting: true },
    deadline,
  );
}

export interface TrafficShift {
  endpointName: string;
  plan: RolloutPlan;
  /** "name:version" the plan's challenger slot must hold. */
  model: string;
  /** How long each endpoint update may take. */
  deadlineMs: number;
}

export type ShiftResult = { ok: true } | { ok: false; failure: Failure; stale: boolean };

/**
 * Applies each traffic step and waits for the endpoint update to finish. The first step goes ahead only while the
 * endpoint is as planned (else `stale`, with nothing changed); any later failure restores the champion's traffic.
 */
export function* shiftTraffic(ctx: Context, shift: TrafficShift, report: (note: string) => void): Step<ShiftResult> {
  const { endpointName, plan } = shift;
  for (const [index, traffic] of plan.steps.entries()) {
    report(`traffic → ${JSON.stringify(traffic)}`);
    const expect =
      index === 0 ? { deployment: plan.challenger, model: shift.model, traffic: plan.rollback } : undefined;
    let failure: Failure | undefined;
    try {
      const started = yield* activity(ctx, 'setTraffic', { endpointName, traffic, ...(expect ? { expect } : {}) });
      if (!started.ok) {
        if (started.code === ENDPOINT_CHANGED) {
          return { ok: false, stale: true, failure: { code: started.code, message: started.message } };
        }
        failure = started;
      } else {
        const done = yield* waitForUpdate(ctx, started, shift);
        if (done.state === 'Failed') failure = done;
        else
          announce(ctx, 'rollout-step', {
            endpointName,
            step: index + 1,
            steps: plan.steps.length,
            traffic: JSON.stringify(traffic),
          });
      }
    } catch (err) {
      failure = { code: 'TrafficShiftFailed', message: (err as Error).message };
    }
    if (failure) {
      report(`rolling back to ${JSON.stringify(plan.rollback)}`);
      const restored = yield* restoreTraffic(ctx, shift);
      const message = `moving traffic to ${plan.challenger} failed: ${failure.message}`;
      if (restored.ok)
        announce(ctx, 'rolled-back', { endpointName, traffic: JSON.stringify(plan.rollback), reason: failure.message });
      return {
        ok: false,
        stale: false,
        failure: restored.ok
          ? { code: 'TrafficShiftFailed', message: `${message}; the champion's traffic is restored` }
          : {
              code: ROLLBACK_FAILED,
              message: `${message}; restoring ${JSON.stringify(plan.rollback)} failed too (${restored.message}): the endpoint needs a person`,
            },
      };
    }
  }
  return { ok: true };
}

const RESTORE_RETRY_SECONDS = 30;

/**
 * Puts the champion's traffic back. ARM refuses a change (409) while an update is still in progress, so it keeps
 * trying, as often as ARM says (30 s when it does not), for as long as one update may take.
 */
function* restoreTraffic(
  ctx: Context,
  shift: TrafficShift,
  mirror?: Record<string, number>,
): Step<{ ok: true } | { ok: false; message: string }> {
  const deadline = now(ctx).getTime() + shift.deadlineMs;
  for (;;) {
    let message: string;
    let wait = RESTORE_RETRY_SECONDS;
    try {
      const restored = yield* activity(ctx, 'setTraffic', {
        endpointName: shift.endpointName,
        traffic: shift.plan.rollback,
        ...(mirror ? { mirror } : {}),
      });
      if (restored.ok) {
        const done = yield* waitForUpdate(ctx, restored, shift, new Date(deadline));
        if (done.state === 'Succeeded') return { ok: true };
        message = done.message;
      } else {
        message = restored.message;
        wait = restored.retryAfterSeconds ?? wait;
      }
    } catch (err) {
      message = (err as Error).message;
    }
    wait = Math.max(wait, MIN_REPOLL_SECONDS);
    if (now(ctx).getTime() + wait * 1000 > deadline) return { ok: false, message };
    yield* sleep(ctx, wait);
  }
}

/** Waits for an endpoint update, by default for as long as the policy lets one update take. */
function* waitForUpdate(
  ctx: Context,
  started: Extract<Started, { ok: true }>,
  shift: TrafficShift,
  deadline = new Date(now(ctx).getTime() + shift.deadlineMs),
): Step<Finished> {
  return yield* waitForProvisioning(ctx, started, { endpointName: shift.endpointName }, deadline);
}

// ---------------------------------------------------------------------------------------------------------------
// Progressive rollout (flow version 6 on): mirror, steps, bakes, judgement, controls.

/** A person stopped the rollout (abort, or an outside alert): the champion serves everything again. */
export const ROLLOUT_ABORTED = 'RolloutAborted';
/** A step's judgement failed: the champion serves everything again. */
export const ROLLOUT_ROLLED_BACK = 'RolloutRolledBack';
/** The rollout outlasted the policy's maxDuration (e.g. paused too long): the champion serves everything again. */
export const ROLLOUT_TIMED_OUT = 'RolloutMaxDurationExceeded';

/** What the judgement of one step looks at: both deployments over the same window. */
export interface JudgeRequest {
  policy: Policy;
  modelName: string;
  endpointName: string;
  championDeployment: string;
  challengerDeployment: string;
  /** The window the step served in (ISO times): from its traffic update to the end of its bake. */
  from: string;
  to: string;
  phase: RolloutPhase;
}

export interface StepJudgement {
  verdict: StepVerdict['verdict'];
  reason: string;
  metrics?: unknown[];
  /** What an Inconclusive verdict does: wait for a person (pause), or go back to the champion (abort). */
  onInconclusive?: 'pause' | 'abort';
}

/** Flow version 9: a baked step is judged by the `judgeRolloutStep` activity when the policy has `rollout.analysis`. */
export const JUDGED_STEPS = 9;

/**
 * The judgement of a step once its bake is over: the one place the analysis plugs in (Pass goes on, Fail rolls back
 * automatically, Inconclusive pauses or aborts as the policy says). Without analysis in the policy, or with no
 * champion to compare with, every step that baked passes and nothing is scheduled; instances started before flow
 * version 9 keep that behaviour.
 */
export function* judgeStep(ctx: Context, request: JudgeRequest): Step<StepJudgement> {
  const analysis = request.policy.rollout.analysis;
  if (!analysis || !isAtLeast(ctx, JUDGED_STEPS)) {
    return { verdict: 'Pass', reason: `no analysis in the policy: step ${request.phase.index} baked` };
  }
  if (request.championDeployment === request.challengerDeployment) {
    return { verdict: 'Pass', reason: `no champion to compare with: step ${request.phase.index} baked` };
  }
  try {
    const judgement = yield* activity(ctx, 'judgeRolloutStep', {
      modelName: request.modelName,
      endpointName: request.endpointName,
      championDeployment: request.championDeployment,
      challengerDeployment: request.challengerDeployment,
      from: request.from,
      to: request.to,
      analysis,
      phase: request.phase.kind,
    });
    return { ...judgement, onInconclusive: analysis.onInconclusive };
  } catch (err) {
    // The signals could not be read (after the activity's retries): nothing is known, so nothing passes.
    const message = (err as Error).message.slice(0, 300);
    return {
      verdict: 'Inconclusive',
      reason: `the judgement could not be made: ${message}`,
      onInconclusive: analysis.onInconclusive,
    };
  }
}

export interface ProgressiveRollout {
  policy: Policy;
  modelName: string;
  promotionId: string;
  plan: RolloutPlan;
  /** "name:version" the plan's challenger slot must hold. */
  model: string;
}

export interface RolloutHooks {
  /** A timeline entry; `rolling back …` notes mark the way back. */
  report(note: string): void;
  /** The rollout's state for the custom status. */
  show(state: RolloutState): void;
  /** A control event the rollout did not take. */
  ignored(note: string): void;
}

type BakeOutcome =
  { kind: 'baked' } | { kind: 'deadline' } | { kind: 'promote-now' | 'abort'; control: RolloutControl };

/** Controls shown in the status (the timeline keeps each), and the length of their reasons there. */
const STATUS_CONTROLS = 3;
const STATUS_REASON = 200;

/**
 * Moves traffic through the policy's phases: each one checked traffic update (the endpoint must still be as the
 * previous phase left it), then a durable timer for its bake, the same timer for seconds in tests and hours on Azure,
 * so a restarted host continues the bake from what its history recorded. During a bake, controls (pause, resume,
 * promote now, abort, an alert) are taken as events sealed by the app's routes; once it is over, `judgeStep` decides.
 * Every way back restores the champion's traffic in one update.
 */
export function* progressiveRollout(ctx: Context, r: ProgressiveRollout, hooks: RolloutHooks): Step<ShiftResult> {
  const { policy, plan } = r;
  const settings = policy.rollout;
  const phases = planRolloutPhases(plan, { bakeMs: settings.bakeMs ?? 0, mirror: settings.mirror });
  const usesMirror = phases.some((phase) => phase.kind === 'mirror');
  const shift: TrafficShift = {
    endpointName: policy.endpointName,
    plan,
    model: r.model,
    deadlineMs: settings.provisioningDeadlineMs,
  };
  const startedAt = now(ctx);
  const deadline =
    settings.maxDurationMs === undefined ? undefined : new Date(startedAt.getTime() + settings.maxDurationMs);
  const state: RolloutState = {
    strategy: settings.strategy ?? 'canary',
    state: 'shifting',
    step: 0,
    of: phases.length,
    kind: 'live',
    percent: 0,
    champion: plan.champion,
    challenger: plan.challenger,
    startedAt: startedAt.toISOString(),
    ...(deadline ? { deadline: deadline.toISOString() } : {}),
    controls: [],
    verdicts: [],
  };
  const show = () => hooks.show({ ...state, controls: state.controls.slice(-STATUS_CONTROLS) });
  /** The one open wait for a control event: a second wait for the same name would take the next event first. */
  let control: df.Task | undefined;

  function* takeControl(data: unknown): Step<ControlCheck> {
    const check = checkControlEvent(data);
    if (!check.ok) return check;
    const { sealed } = yield* activity(ctx, 'verifyControl', {
      promotionId: r.promotionId,
      control: check.control,
      ...(check.seal !== undefined ? { seal: check.seal } : {}),
    });
    return sealed ? check : { ok: false, problem: "seal: not sent through Champion's control routes" };
  }

  function* back(code: string, why: string): Step<ShiftResult> {
    state.state = code === ROLLOUT_ROLLED_BACK ? 'rolled-back' : 'aborted';
    hooks.report(`rolling back to ${JSON.stringify(plan.rollback)}: ${why}`);
    show();
    const restored = yield* restoreTraffic(ctx, shift, usesMirror ? {} : undefined);
    if (restored.ok) announce(ctx, 'rolled-back', { endpointName: shift.endpointName, reason: why });
    return {
      ok: false,
      stale: false,
      failure: restored.ok
        ? { code, message: `${why}; the champion's traffic is restored` }
        : {
            code: ROLLBACK_FAILED,
            message: `${why}; restoring ${JSON.stringify(plan.rollback)} failed (${restored.message}): the endpoint needs a person`,
          },
    };
  }

  /**
   * Waits out a bake (or, paused, for a person), taking controls as they come. Pause stops the clock and keeps what
   * is left; resume starts a timer for that; the policy's deadline ends any wait.
   */
  function* bake(phase: RolloutPhase, bakeMs: number, startPaused: boolean): Step<BakeOutcome> {
    let paused = startPaused;
    let remainingMs = bakeMs;
    let endsAt = new Date(now(ctx).getTime() + bakeMs);
    const showWait = () => {
      state.state = paused ? 'paused' : 'baking';
      if (paused) {
        delete state.bakeEndsAt;
        state.remainingBakeMs = remainingMs;
      } else {
        delete state.remainingBakeMs;
        state.bakeEndsAt = endsAt.toISOString();
      }
      show();
    };
    showWait();
    for (;;) {
      const until = paused ? deadline : deadline && deadline.getTime() < endsAt.getTime() ? deadline : endsAt;
      control ??= ctx.df.waitForExternalEvent(EVENTS.control);
      const timer = until ? ctx.df.createTimer(until) : undefined;
      const winner = timer ? yield ctx.df.Task.any([control, timer]) : yield control;
      if (timer && winner === timer) {
        if (deadline && now(ctx).getTime() >= deadline.getTime()) return { kind: 'deadline' };
        return { kind: 'baked' };
      }
      timer?.cancel();
      const data = (control as df.Task & { result?: unknown }).result;
      control = undefined;
      const check = yield* takeControl(data);
      if (!check.ok) {
        hooks.ignored(`ignored a rollout control: ${check.problem}`);
        continue;
      }
      const taken = check.control;
      state.controls.push({
        ...taken,
        reason: taken.reason.length > STATUS_REASON ? `${taken.reason.slice(0, STATUS_REASON - 1)}…` : taken.reason,
        takenAt: now(ctx).toISOString(),
        step: phase.index,
      });
      const who = `${taken.action} by ${taken.by}${taken.authenticated ? '' : ' (unauthenticated)'} via ${taken.via}: ${taken.reason}`;
      if (taken.action === 'promote-now' || taken.action === 'abort') {
        hooks.report(`step ${phase.index}/${phases.length}: ${who}`);
        return { kind: taken.action, control: taken };
      }
      if (taken.action === 'pause') {
        if (paused) hooks.report(`step ${phase.index}/${phases.length}: ${who} (already paused)`);
        else {
          paused = true;
          remainingMs = Math.max(0, endsAt.getTime() - now(ctx).getTime());
          hooks.report(`step ${phase.index}/${phases.length}: ${who}; ${remainingMs / 1000} s of the bake left`);
        }
      } else if (!paused) hooks.report(`step ${phase.index}/${phases.length}: ${who} (not paused)`);
      else {
        paused = false;
        endsAt = new Date(now(ctx).getTime() + remainingMs);
        hooks.report(`step ${phase.index}/${phases.length}: ${who}; baking until ${endsAt.toISOString()}`);
        if (remainingMs === 0) return { kind: 'baked' };
      }
      showWait();
    }
  }

  let expected: TrafficExpectation['traffic'] = plan.rollback;
  for (let i = 0; i < phases.length; i++) {
    const phase = phases[i] as RolloutPhase;
    state.step = phase.index;
    state.kind = phase.kind;
    state.percent = phase.percent;
    if (phase.kind === 'mirror') state.mirrorPercent = phase.mirror[plan.challenger];
    else delete state.mirrorPercent;
    state.state = 'shifting';
    delete state.bakeEndsAt;
    delete state.remainingBakeMs;
    const what =
      phase.kind === 'mirror'
        ? `mirroring ${phase.mirror[plan.challenger]} % of live traffic to ${plan.challenger}, live traffic unchanged`
        : `${phase.percent} % of live traffic to ${plan.challenger}`;
    hooks.report(`step ${phase.index}/${phases.length}: ${what}; traffic → ${JSON.stringify(phase.traffic)}`);
    show();

    const applied = yield* applyPhase(ctx, shift, phase, usesMirror, {
      deployment: plan.challenger,
      model: r.model,
      traffic: expected,
    });
    if (!applied.ok) {
      // Before the first change nothing moved: the caller decides what a changed endpoint means.
      if (applied.stale && i === 0) return applied;
      return yield* back(
        'TrafficShiftFailed',
        `moving traffic to ${plan.challenger} failed: ${applied.failure.message}`,
      );
    }
    expected = phase.traffic;
    announce(ctx, 'rollout-step', {
      endpointName: shift.endpointName,
      step: phase.index,
      steps: phases.length,
      traffic: JSON.stringify(phase.traffic),
    });
    if (i === phases.length - 1 || phase.bakeMs <= 0) continue;

    const from = now(ctx);
    const bakeEndsAt = new Date(from.getTime() + phase.bakeMs);
    hooks.report(`step ${phase.index}/${phases.length}: baking until ${bakeEndsAt.toISOString()}`);
    let outcome = yield* bake(phase, phase.bakeMs, false);
    if (outcome.kind === 'baked') {
      state.state = 'judging';
      show();
      const judgement = yield* judgeStep(ctx, {
        policy,
        modelName: r.modelName,
        endpointName: policy.endpointName,
        championDeployment: plan.champion ?? plan.challenger,
        challengerDeployment: plan.challenger,
        from: from.toISOString(),
        to: now(ctx).toISOString(),
        phase,
      });
      state.verdicts.push({ step: phase.index, verdict: judgement.verdict, reason: judgement.reason });
      announce(ctx, 'verdict', { step: phase.index, verdict: judgement.verdict, reason: judgement.reason });
      hooks.report(`step ${phase.index}/${phases.length}: ${judgement.verdict}: ${judgement.reason}`);
      if (judgement.verdict === 'Fail')
        return yield* back(ROLLOUT_ROLLED_BACK, `step ${phase.index} failed its judgement: ${judgement.reason}`);
      if (judgement.verdict === 'Inconclusive') {
        if (judgement.onInconclusive === 'abort')
          return yield* back(ROLLOUT_ROLLED_BACK, `step ${phase.index} was inconclusive: ${judgement.reason}`);
        hooks.report(`step ${phase.index}/${phases.length}: paused until a person resumes, promotes or aborts`);
        outcome = yield* bake(phase, 0, true);
      }
    }
    if (outcome.kind === 'deadline')
      return yield* back(
        ROLLOUT_TIMED_OUT,
        `the rollout reached its maximum duration (${settings.maxDurationMs! / 1000} s, until ${deadline?.toISOString()})`,
      );
    if (outcome.kind === 'abort') {
      const { by, via, reason } = outcome.control;
      const who = via === 'alert' ? `an alert from ${by}` : by;
      return yield* back(ROLLOUT_ABORTED, `aborted at step ${phase.index} by ${who}: ${reason}`);
    }
    // Promote now: the remaining steps and their judgements are skipped, the last one follows at once.
    if (outcome.kind === 'promote-now') i = phases.length - 2;
  }
  state.state = 'completed';
  show();
  return { ok: true };
}

/** One phase's traffic update, checked against what the previous phase left, and waited for. */
function* applyPhase(
  ctx: Context,
  shift: TrafficShift,
  phase: RolloutPhase,
  usesMirror: boolean,
  expect: TrafficExpectation,
): Step<ShiftResult> {
  try {
    const started = yield* activity(ctx, 'setTraffic', {
      endpointName: shift.endpointName,
      traffic: phase.traffic,
      ...(usesMirror ? { mirror: phase.mirror } : {}),
      expect,
    });
    if (!started.ok) {
      const failure = { code: started.code, message: started.message };
      return { ok: false, stale: started.code === ENDPOINT_CHANGED, failure };
    }
    const done = yield* waitForUpdate(ctx, started, shift);
    if (done.state === 'Failed')
      return { ok: false, stale: false, failure: { code: done.code, message: done.message } };
    return { ok: true };
  } catch (err) {
    return { ok: false, stale: false, failure: { code: 'TrafficShiftFailed', message: (err as Error).message } };
  }
}
