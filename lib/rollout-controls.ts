/**
 * Rollout controls by HTTP and CLI: pause, resume, promote now, abort, and an outside alert that stops a bake. Checked
 * here (the promotion, its rollout in progress, who asks, why), sealed with the approval secret, and raised into the
 * running promotion, which checks each event again (orchestrations/rollout.ts) and records who and why.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as df from 'durable-functions';
import { sealControl } from './approval';
import { CONTROL_ACTIONS, MAX_CONTROL_REASON } from './domain/rollout-controls';
import type { CallerResult } from './identity';
import { instanceStatus } from './promotions';
import { EVENTS, type PromotionStatus, type RolloutControl } from '../orchestrations/contract';

export type ControlOutcome =
  | { ok: true; control: RolloutControl; taken: boolean }
  | { ok: false; status: 400 | 401 | 403 | 404 | 409; message: string };

/** Rollout states in which a control can still change something. */
const IN_PROGRESS: ReadonlySet<string> = new Set(['shifting', 'baking', 'paused', 'judging']);

export function isControlAction(action: string): action is RolloutControl['action'] {
  return (CONTROL_ACTIONS as readonly string[]).includes(action);
}

/** Why this promotion takes no control now, or undefined when its rollout is in progress. */
function refusal(promotionId: string, status: df.DurableOrchestrationStatus | undefined): string | undefined {
  if (!status || status.name !== 'promoteModel') return undefined;
  const custom = status.customStatus as PromotionStatus | undefined;
  if (String(status.runtimeStatus) === 'Running' && custom?.rollout && IN_PROGRESS.has(custom.rollout.state))
    return undefined;
  const where = custom?.rollout
    ? `its rollout is ${custom.rollout.state}`
    : `phase: ${custom?.phase ?? status.runtimeStatus}`;
  return `Promotion "${promotionId}" has no rollout in progress (${where}).`;
}

export async function submitControl(
  client: df.DurableClient,
  secret: string,
  request: {
    promotionId: string;
    action: string;
    reason: string | undefined;
    via: RolloutControl['via'];
    identify: () => CallerResult;
  },
  now: Date,
  wait = { timeoutMs: 10_000, pollMs: 20 },
): Promise<ControlOutcome> {
  if (!isControlAction(request.action))
    return { ok: false, status: 400, message: `action: must be one of ${CONTROL_ACTIONS.join(', ')}.` };
  const reason = request.reason?.trim();
  if (!reason) return { ok: false, status: 400, message: `reason: say why (${request.action}).` };
  if (reason.length > MAX_CONTROL_REASON)
    return { ok: false, status: 400, message: `reason: at most ${MAX_CONTROL_REASON} characters.` };
  const identified = request.identify();
  if (!identified.ok) return { ok: false, status: identified.status, message: identified.message };
  const status = await instanceStatus(client, request.promotionId);
  if (!status || status.name !== 'promoteModel')
    return { ok: false, status: 404, message: `No promotion "${request.promotionId}".` };
  const refused = refusal(request.promotionId, status);
  if (refused) return { ok: false, status: 409, message: refused };
  const { caller } = identified;
  const control: RolloutControl = {
    id: randomUUID(),
    action: request.action,
    by: caller.name,
    authenticated: caller.authenticated,
    identity: caller.source,
    reason,
    via: request.via,
    at: now.toISOString(),
  };
  await client.raiseEvent(request.promotionId, EVENTS.control, {
    ...control,
    seal: sealControl(secret, request.promotionId, control),
  });
  // The rollout takes a control during a bake (or a pause): say whether it has, so the CLI can tell.
  const deadline = Date.now() + wait.timeoutMs;
  for (let pause = wait.pollMs; Date.now() < deadline; pause = Math.min(2 * pause, 200)) {
    await sleep(pause);
    const current = await instanceStatus(client, request.promotionId);
    const custom = current?.customStatus as PromotionStatus | undefined;
    const output = current?.output as { rollout?: PromotionStatus['rollout'] } | undefined;
    const controls = [...(custom?.rollout?.controls ?? []), ...(output?.rollout?.controls ?? [])];
    if (controls.some((c) => c.id === control.id)) return { ok: true, control, taken: true };
    if (refusal(request.promotionId, current)) break;
  }
  return { ok: true, control, taken: false };
}
