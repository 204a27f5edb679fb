/**
 * Blue/green steps on a managed online endpoint. Every wait is a durable timer that honours ARM's retry hint
 * (retry-after-ms, else Retry-After), bounded by the policy's provisioning deadline; every failure leaves the
 * champion serving 100 %.
 */
import type { Policy } from '../lib/domain/policy';
import {
  classifyDeploymentFailure,
  endpointPreparation,
  idleSlotAction,
  planBlueGreenRollout,
  PROVISIONING_DEADLINE_EXCEEDED,
  type RolloutPlan,
  type Slot,
} from '../lib/domain/rollout-plan';
import { ENDPOINT_CHANGED, type ProvisioningCheck, type Removal, type Started } from './contract';
import { activity, isAtLeast, now, sleep, type Context, type Step } from './durable';

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

  let view = yield* activity(ctx, 'readEndpoint', { endpointName });
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
      }
    } catch (err) {
      failure = { code: 'TrafficShiftFailed', message: (err as Error).message };
    }
    if (failure) {
      report(`rolling back to ${JSON.stringify(plan.rollback)}`);
      const restored = yield* restoreTraffic(ctx, shift);
      const message = `moving traffic to ${plan.challenger} failed: ${failure.message}`;
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
function* restoreTraffic(ctx: Context, shift: TrafficShift): Step<{ ok: true } | { ok: false; message: string }> {
  const deadline = now(ctx).getTime() + shift.deadlineMs;
  for (;;) {
    let message: string;
    let wait = RESTORE_RETRY_SECONDS;
    try {
      const restored = yield* activity(ctx, 'setTraffic', {
        endpointName: shift.endpointName,
        traffic: shift.plan.rollback,
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
