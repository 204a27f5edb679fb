/**
 * The one seam between Champion's flows and durable-functions' orchestration context. Flows compose these
 * typed steps with `yield*`, so an activity's input and output types come from the contract and a renamed
 * activity fails to compile.
 */
import * as df from 'durable-functions';
import {
  lifecycleEvent,
  type LifecycleEvent,
  type LifecycleStep,
  type LifecycleSubject,
  type LifecycleValue,
} from '../lib/domain/lifecycle';
import type { ActivityInput, ActivityName, ActivityOutput } from './contract';

export type Context = df.OrchestrationContext;
export type Step<T> = Generator<df.Task, T, unknown>;

/**
 * Every activity is idempotent, so an unexpected fault (a 5xx streak past the SDK's own retries, a lost
 * connection) is retried a few times, 1 s then 2 s apart, before the flow treats it as a failure.
 */
const TRANSIENT_FAULTS = Object.assign(new df.RetryOptions(1000, 3), { backoffCoefficient: 2 });

export function* activity<K extends ActivityName>(
  ctx: Context,
  name: K,
  input: ActivityInput<K>,
): Step<ActivityOutput<K>> {
  return yield* activityWithRetry(ctx, TRANSIENT_FAULTS, name, input);
}

/** Retries transient faults (throttling, timeouts) with backoff; result unions carry the expected failures. */
export function* activityWithRetry<K extends ActivityName>(
  ctx: Context,
  retry: df.RetryOptions,
  name: K,
  input: ActivityInput<K>,
): Step<ActivityOutput<K>> {
  const carrier = carrierTask(ctx, name, input, retry);
  return (yield* carrying(ctx, carrier, function* () {
    return yield carrier.task;
  })) as ActivityOutput<K>;
}

/**
 * Two independent activities at once: the flow waits for the slower one instead of each in turn. Both are retried
 * like `activity`; if either keeps failing, the step fails.
 */
export function* activityPair<A extends ActivityName, B extends ActivityName>(
  ctx: Context,
  first: [A, ActivityInput<A>],
  second: [B, ActivityInput<B>],
): Step<[ActivityOutput<A>, ActivityOutput<B>]> {
  const a = carrierTask(ctx, ...first);
  const b = plainTask(ctx, ...second);
  return (yield* carrying(ctx, a, function* () {
    return yield ctx.df.Task.all([a.task, b]);
  })) as [ActivityOutput<A>, ActivityOutput<B>];
}

/**
 * Two activities at once, where the first can make the second moot: returns with the first's output, and a step
 * that waits for the second's. A flow that does not take that step never looks at the second's result.
 */
export function* activityAlongside<A extends ActivityName, B extends ActivityName>(
  ctx: Context,
  first: [A, ActivityInput<A>],
  second: [B, ActivityInput<B>],
): Step<{ first: ActivityOutput<A>; second: () => Step<ActivityOutput<B>> }> {
  const a = carrierTask(ctx, ...first);
  const b = plainTask(ctx, ...second);
  const output = (yield* carrying(ctx, a, function* () {
    // Both are scheduled by the race; then each is waited for (a finished one resumes at once, a failed one throws).
    yield ctx.df.Task.any([a.task, b]);
    return yield a.task;
  })) as ActivityOutput<A>;
  return {
    first: output,
    second: function* () {
      return (yield b) as ActivityOutput<B>;
    },
  };
}

/** An activity's task, not yet scheduled (yielding schedules it), carrying the lifecycle steps announced so far. */
function carrierTask<K extends ActivityName>(
  ctx: Context,
  name: K,
  input: ActivityInput<K>,
  retry: df.RetryOptions = TRANSIENT_FAULTS,
): { task: df.Task; lifecycle: LifecycleEvent[] } {
  const lifecycle = takeAnnounced(ctx);
  const addressed = addressedInput(ctx, input);
  const carried = lifecycle.length > 0 ? { ...addressed, lifecycle } : addressed;
  return { task: ctx.df.callActivityWithRetry(name, retry, carried), lifecycle };
}

/** An activity's task that carries nothing. */
function plainTask<K extends ActivityName>(ctx: Context, name: K, input: ActivityInput<K>): df.Task {
  return ctx.df.callActivityWithRetry(name, TRANSIENT_FAULTS, addressedInput(ctx, input));
}

/** Runs `body`; if the activity carrying lifecycle steps failed, they are not published: the next activity carries them. */
function* carrying<T>(
  ctx: Context,
  carrier: { task: df.Task; lifecycle: LifecycleEvent[] },
  body: () => Step<T>,
): Step<T> {
  try {
    return yield* body();
  } catch (err) {
    if (carrier.task.isFaulted) announced(ctx).queue.unshift(...carrier.lifecycle);
    throw err;
  }
}

/**
 * A flow started for an environment has its workspace's ARM id in its input (`workspace`, set by the environments
 * flow): every activity it calls addresses that workspace, so the promotion's own code stays the same for every
 * environment. Flows started without one (every single-environment promotion) call activities exactly as before.
 * An input that names its own `workspace` keeps it.
 */
function addressedInput<T>(ctx: Context, input: T): T {
  const workspace = (ctx.df.getInput() as { workspace?: unknown } | undefined)?.workspace;
  if (typeof workspace !== 'string' || typeof input !== 'object' || input === null || 'workspace' in input)
    return input;
  return { ...input, workspace };
}

// ---------------------------------------------------------------------------------------------------------------
// Lifecycle events (lib/domain/lifecycle.ts). A flow announces each step as it happens; the next activity it calls
// carries the pending announcements in its input (`lifecycle`) and publishes them once it has done its own work.
// Publishing thus adds no durable action: no activity, no timer, no transaction on the flow's path. The state is
// rebuilt identically on every replay (the flow's own code fills it), so ids and times are deterministic.

interface Announced {
  subject?: LifecycleSubject;
  queue: LifecycleEvent[];
  occurrences: Map<LifecycleStep, number>;
}

const announcements = new WeakMap<object, Announced>();

function announced(ctx: Context): Announced {
  // Keyed by the orchestration's `df` object: one per execution of the flow, shared by its sub-steps.
  let state = announcements.get(ctx.df);
  if (!state) {
    state = { queue: [], occurrences: new Map() };
    announcements.set(ctx.df, state);
  }
  return state;
}

/** Names what the flow's announcements are about (its instance, model and version). */
export function lifecycleSubject(ctx: Context, subject: Omit<LifecycleSubject, 'instanceId'>): void {
  announced(ctx).subject = { instanceId: ctx.df.instanceId, ...subject };
}

/** Announces a step, published by the next activity the flow calls. Without a subject, announces nothing. */
export function announce(
  ctx: Context,
  step: LifecycleStep,
  details: Record<string, LifecycleValue | undefined> = {},
): void {
  const state = announced(ctx);
  if (!state.subject) return;
  const occurrence = (state.occurrences.get(step) ?? 0) + 1;
  state.occurrences.set(step, occurrence);
  state.queue.push(lifecycleEvent(state.subject, step, occurrence, now(ctx), details));
}

/** Whether announcements wait for an activity to carry them (a flow that ends publishes them with `publishPending`). */
export function hasAnnounced(ctx: Context): boolean {
  return announced(ctx).queue.length > 0;
}

/**
 * Publishes what the flow announced and no activity carried yet, with an activity of its own (flow version
 * LIFECYCLE_FLUSH on): for a flow that ends right after a step, such as a retraining that failed or a skipped signal.
 */
export function* publishPending(ctx: Context): Step<void> {
  if (!hasAnnounced(ctx) || !isAtLeast(ctx, LIFECYCLE_FLUSH)) return;
  yield* activity(ctx, 'publishLifecycle', {});
}

function takeAnnounced(ctx: Context): LifecycleEvent[] {
  const state = announced(ctx);
  return state.queue.splice(0, state.queue.length);
}

/**
 * What Champion needs from the Durable extension: critical sections (`lock`) arrive with OOProc schema V4, in
 * Microsoft.Azure.WebJobs.Extensions.DurableTask 3.13.0; extension bundle 4.37.1 is the first shown to carry it
 * (README, "Durable Functions extension").
 */
export const EXTENSION_FLOOR =
  'Champion needs Microsoft.Azure.WebJobs.Extensions.DurableTask 3.13.0 or later (critical sections): ' +
  'extension bundle 4.37.1 or later (host.json extensionBundle "[4.37.1, 5.0.0)"), or the package installed ' +
  'explicitly.';

/**
 * `context.df.lock`, failing with the extension floor named when the extension is too old: the SDK throws before
 * anything is scheduled, so a promotion stops at its first step and changes nothing.
 */
export function lock(ctx: Context, entities: df.EntityId[]): df.Task {
  try {
    return ctx.df.lock(entities);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (!message.includes('schema V4')) throw err;
    throw new Error(`${EXTENSION_FLOOR} ${message}`);
  }
}

export function* sleep(ctx: Context, seconds: number): Step<void> {
  yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + seconds * 1000));
}

export function now(ctx: Context): Date {
  return ctx.df.currentUtcDateTime;
}

/**
 * Flow versions. Each new instance is stamped with host.json `defaultVersion` and keeps it for life, so in-flight
 * instances replay the code path they started on: a change to what a flow yields goes behind `isAtLeast(ctx, N)`
 * with N the next version, the old path stays as it was, and FLOW_VERSION and host.json `defaultVersion` move to
 * N together (a test checks that they agree). Instances started before versioning carry no version: 0. Each flow's
 * recorded history at the previous version is then frozen and replayed (test/orchestrations/golden): promoteModel's,
 * and the promotion across environments' with its environments' promotions (promote-environments.json).
 *   1: versioning introduced; every flow yields what version 0 yields.
 *   2: a removed slot's delete is followed until it is done, and a slot still being deleted is waited for, before
 *      the slot is deployed to or the model's lock released (rollout: removeSlot, deployToSlot).
 *   3: promoteModel checks each decision event and keeps waiting after one it cannot take.
 *   4: promoteModel looks for a newer winner before it deploys, and asks for approval before it releases the lock.
 *   5: promoteModel takes a decision event only with the seal of the app's decision routes (verifyDecision).
 *   6: promoteModel releases progressively: a checked update per step, mirror phase, bakes on durable timers, the
 *      judgement hook, sealed controls (pause, resume, promote now, abort) during a bake.
 *   7: a flow that ends with lifecycle steps no activity carried publishes them (publishLifecycle); promoteModel
 *      reminds approvers before the approval expires when the policy says when (approval.remindBefore).
 *   8: promoteModel starts the removal of the previous champion's slot when the policy has a rollback window.
 *   9: a baked step is judged by the judgeRolloutStep activity when the policy has rollout.analysis.
 *  10: promoteModel looks for a release freeze under the lock before it releases (checkReleaseFreeze), and waits one
 *      out on a durable timer or a lift.
 *  11: a promotion across environments takes its place at a gate (a newer version there supersedes an older one),
 *      announces the gate and its approval, and reminds the gate's approvers (approval.remindBefore).
 *  12: promoteModel reads the endpoint while it looks for a newer winner (activityPair), and
 *      evaluates the challenger while it smoke-tests it (activityAlongside): a failed smoke test decides at once.
 */
export const FLOW_VERSION = 12;

/** Flow version from which a flow's last announced steps are published by an activity of their own. */
export const LIFECYCLE_FLUSH = 7;

export function flowVersion(ctx: Context): number {
  const version = ctx.df.version;
  if (version === undefined || version === '') return 0;
  const n = Number(version);
  if (!Number.isInteger(n) || n < 0) throw new Error(`Unknown flow version '${version}': expected a whole number.`);
  return n;
}

/** Whether this instance started on flow version `version` or later (see FLOW_VERSION). */
export function isAtLeast(ctx: Context, version: number): boolean {
  return flowVersion(ctx) >= version;
}
