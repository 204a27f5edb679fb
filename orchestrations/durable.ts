/**
 * The one seam between Champion's flows and durable-functions' orchestration context. Flows compose these
 * typed steps with `yield*`, so an activity's input and output types come from the contract and a renamed
 * activity fails to compile.
 */
import * as df from 'durable-functions';
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
  return (yield ctx.df.callActivityWithRetry(name, TRANSIENT_FAULTS, input)) as ActivityOutput<K>;
}

/** Retries transient faults (throttling, timeouts) with backoff; result unions carry the expected failures. */
export function* activityWithRetry<K extends ActivityName>(
  ctx: Context,
  retry: df.RetryOptions,
  name: K,
  input: ActivityInput<K>,
): Step<ActivityOutput<K>> {
  return (yield ctx.df.callActivityWithRetry(name, retry, input)) as ActivityOutput<K>;
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
 * N together (a test checks that they agree). Instances started before versioning carry no version: 0.
 *   1: versioning introduced; every flow yields what version 0 yields.
 *   2: a removed slot's delete is followed until it is done, and a slot still being deleted is waited for, before
 *      the slot is deployed to or the model's lock released (rollout: removeSlot, deployToSlot).
 *   3: promoteModel checks each decision event and keeps waiting after one it cannot take.
 *   4: promoteModel looks for a newer winner before it deploys, and asks for approval before it releases the lock.
 *   5: promoteModel takes a decision event only with the seal of the app's decision routes (verifyDecision).
 *   6: promoteModel releases progressively: a checked update per step, mirror phase, bakes on durable timers, the
 *      judgement hook, sealed controls (pause, resume, promote now, abort) during a bake.
 */
export const FLOW_VERSION = 6;

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
