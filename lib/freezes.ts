/**
 * Release freezes asked for by a person (lib/domain/freeze.ts): checked here (who asks, why, until when, a policy for
 * the model), then kept by the model's release-freeze entity. Lifting one wakes the promotions waiting it out at
 * their release, which look again at once (without the wake-up they would look again within the hour).
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { promotionInstanceIdPrefix } from './domain/events';
import {
  freezeInForce,
  requestedFreezeHolds,
  type FreezeLift,
  type FreezeState,
  type FreezeWindow,
  type RequestedFreeze,
} from './domain/freeze';
import { lifecycleEvent } from './domain/lifecycle';
import { policyFor, type PolicySet } from './domain/policy';
import type { CallerResult } from './identity';
import type { LifecyclePublisher } from './ports';
import { readAllInstances } from './promotion-list';
import { EVENTS, type FreezeLifted, type PromotionStatus } from '../orchestrations/contract';
import { RELEASE_FREEZE_ENTITY } from '../orchestrations/release-freeze';

/** Kept in the entity, the timeline and the status: a sentence, not a document. */
export const MAX_FREEZE_REASON = 500;
const ZONED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;
/** How long a route waits for the entity to take its signal before it answers (signals are queued, not awaited). */
const SETTLE_MS = 10_000;

export interface FreezeView {
  modelName: string;
  /** What holds now: the policy's windows and a person's freeze together. */
  inForce: ReturnType<typeof freezeInForce>;
  /** A person's freeze that still holds, if any. */
  frozen: RequestedFreeze | null;
  lifted: FreezeState['lifted'] | null;
  windows: (FreezeWindow & { active: boolean })[];
}

export type FreezeAnswer<T> = { ok: true; value: T } | { ok: false; status: number; message: string };

interface FreezeRequest {
  modelName: string;
  reason: unknown;
  identify: () => CallerResult;
  /** Where freezing and lifting are announced (lifecycle events); none: not announced. */
  lifecycle?: LifecyclePublisher;
}

/** A person's freeze, named by its model and when it was asked for: its lifecycle events' `instanceId`. */
function freezeId(modelName: string, freeze: Pick<RequestedFreeze, 'at'>): string {
  return `freeze:${modelName}:${freeze.at.replace(/[-:]/g, '').replace(/\.\d+/, '')}`;
}

/** Announces a freeze or its lift to the lifecycle topics, as the flows announce their steps (never failing). */
async function announceFreeze(
  request: FreezeRequest,
  freeze: RequestedFreeze,
  step: 'release-frozen' | 'release-unfrozen',
  now: Date,
  details: Record<string, string | boolean | number | undefined>,
): Promise<void> {
  const subject = { instanceId: freezeId(request.modelName, freeze), modelName: request.modelName };
  await request.lifecycle?.publish([lifecycleEvent(subject, step, 1, now, details)]);
}

const entity = (modelName: string) => new df.EntityId(RELEASE_FREEZE_ENTITY, modelName);

async function readState(client: df.DurableClient, modelName: string): Promise<FreezeState | undefined> {
  const read = await client.readEntityState<FreezeState>(entity(modelName));
  return read.entityExists ? read.entityState : undefined;
}

/** Waits until the entity shows what was signalled, so the answer (and a reader right after) sees it. */
async function settle(client: df.DurableClient, modelName: string, done: (state: FreezeState | undefined) => boolean) {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const state = await readState(client, modelName);
    if (done(state) || Date.now() >= deadline) return state;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function checkReason(reason: unknown, what: string): FreezeAnswer<string> {
  const text = typeof reason === 'string' ? reason.trim() : '';
  if (reason !== undefined && typeof reason !== 'string')
    return { ok: false, status: 400, message: 'reason: must be a string.' };
  if (!text) return { ok: false, status: 400, message: `reason: say why ${what}.` };
  if (text.length > MAX_FREEZE_REASON)
    return { ok: false, status: 400, message: `reason: at most ${MAX_FREEZE_REASON} characters.` };
  return { ok: true, value: text };
}

export function freezeView(
  modelName: string,
  windows: readonly FreezeWindow[],
  state: FreezeState | undefined,
  now: Date,
): FreezeView {
  const at = now.getTime();
  return {
    modelName,
    inForce: freezeInForce(windows, state?.frozen, now),
    frozen: requestedFreezeHolds(state?.frozen, now) ? state!.frozen! : null,
    lifted: state?.lifted ?? null,
    windows: windows.map((w) => ({ ...w, active: Date.parse(w.from) <= at && at < Date.parse(w.until) })),
  };
}

/** The model's freezes: the policy's windows and a person's freeze, and what holds now. */
export async function readFreezes(
  client: df.DurableClient,
  policies: PolicySet,
  modelName: string,
  now: Date,
): Promise<FreezeAnswer<FreezeView>> {
  const policy = policyFor(policies, modelName);
  if (!policy) return { ok: false, status: 404, message: `No promotion policy covers model "${modelName}".` };
  return { ok: true, value: freezeView(modelName, policy.freezes ?? [], await readState(client, modelName), now) };
}

/** A person freezes the model's releases, until `until` or until lifted; a later freeze replaces an earlier one. */
export async function freezeReleases(
  client: df.DurableClient,
  policies: PolicySet,
  request: FreezeRequest & { until: unknown },
  now: Date,
): Promise<FreezeAnswer<FreezeView>> {
  const reason = checkReason(request.reason, "the model's releases are frozen");
  if (!reason.ok) return reason;
  let until: string | undefined;
  if (request.until !== undefined && request.until !== null) {
    if (
      typeof request.until !== 'string' ||
      !ZONED_TIME.test(request.until) ||
      !Number.isFinite(Date.parse(request.until))
    )
      return {
        ok: false,
        status: 400,
        message: 'until: must be an ISO 8601 time with a zone, e.g. 2026-11-30T06:00:00Z.',
      };
    if (Date.parse(request.until) <= now.getTime())
      return { ok: false, status: 400, message: `until: must be later than now (${now.toISOString()}).` };
    until = new Date(request.until).toISOString();
  }
  const policy = policyFor(policies, request.modelName);
  if (!policy) return { ok: false, status: 404, message: `No promotion policy covers model "${request.modelName}".` };
  const identified = request.identify();
  if (!identified.ok) return identified;
  const { caller } = identified;
  const freeze: RequestedFreeze = {
    by: caller.name,
    authenticated: caller.authenticated,
    identity: caller.source,
    reason: reason.value,
    at: now.toISOString(),
    ...(until ? { until } : {}),
  };
  await client.signalEntity(entity(request.modelName), 'freeze', freeze);
  const state = await settle(
    client,
    request.modelName,
    (s) => s?.frozen?.at === freeze.at && s.frozen.by === freeze.by,
  );
  await announceFreeze(request, freeze, 'release-frozen', now, {
    by: freeze.by,
    authenticated: freeze.authenticated,
    reason: freeze.reason,
    until: freeze.until,
  });
  return { ok: true, value: freezeView(request.modelName, policy.freezes ?? [], state, now) };
}

/**
 * A person lifts the freeze they (or another) asked for, and the promotions waiting at their release look again at
 * once. The policy's windows are not lifted here: they are the policy's, changed with it.
 */
export async function liftFreeze(
  context: InvocationContext,
  client: df.DurableClient,
  policies: PolicySet,
  request: FreezeRequest,
  now: Date,
): Promise<FreezeAnswer<FreezeView & { woke: string[] }>> {
  const reason = checkReason(request.reason, 'the freeze is lifted');
  if (!reason.ok) return reason;
  const policy = policyFor(policies, request.modelName);
  if (!policy) return { ok: false, status: 404, message: `No promotion policy covers model "${request.modelName}".` };
  const identified = request.identify();
  if (!identified.ok) return identified;
  const before = await readState(client, request.modelName);
  if (!requestedFreezeHolds(before?.frozen, now))
    return {
      ok: false,
      status: 409,
      message: `No freeze asked for by a person holds for model "${request.modelName}" (the policy's freezes windows change with the policy).`,
    };
  const { caller } = identified;
  const lift: FreezeLift = {
    by: caller.name,
    authenticated: caller.authenticated,
    identity: caller.source,
    reason: reason.value,
    at: now.toISOString(),
  };
  await client.signalEntity(entity(request.modelName), 'lift', lift);
  const state = await settle(client, request.modelName, (s) => s?.lifted?.at === lift.at && !s.frozen);
  const waiting = await readAllInstances(
    context,
    { instanceIdPrefix: promotionInstanceIdPrefix(request.modelName), pageSize: 1000, runtimeStatus: ['Running'] },
    (status) => (status.customStatus as PromotionStatus | null | undefined)?.phase === 'frozen',
  );
  const lifted: FreezeLifted = { by: lift.by, reason: lift.reason, at: lift.at };
  const woke: string[] = [];
  for (const promotion of waiting) {
    try {
      await client.raiseEvent(promotion.instanceId, EVENTS.freezeLifted, lifted);
      woke.push(promotion.instanceId);
    } catch {
      // It finished meanwhile: nothing waits.
    }
  }
  await announceFreeze(request, before!.frozen!, 'release-unfrozen', now, {
    by: lift.by,
    authenticated: lift.authenticated,
    reason: lift.reason,
    woke: woke.length,
  });
  return { ok: true, value: { ...freezeView(request.modelName, policy.freezes ?? [], state, now), woke } };
}
