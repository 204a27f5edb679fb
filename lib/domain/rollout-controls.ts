/**
 * Rollout controls as the promotion takes them. Like decisions, control events reach an orchestration from the app's
 * control routes but also raw, through the Durable HTTP API: the promotion checks each one itself (this shape, then
 * the seal through the verifyControl activity) and ignores, noting it, one it cannot take. Pure, so a flow can call it.
 */
import type { IdentitySource, RolloutControl } from '../../orchestrations/contract';
import { IDENTITY_SOURCES, ISO_TIME } from './decisions';
import { nameProblem } from './people';

export const CONTROL_ACTIONS = [
  'pause',
  'resume',
  'promote-now',
  'abort',
] as const satisfies RolloutControl['action'][];
/** A control's reason is kept in the promotion's status and result: a sentence, not a document. */
export const MAX_CONTROL_REASON = 500;
const MAX_ID_LENGTH = 64;
const VIAS: readonly string[] = ['api', 'cli', 'alert'] satisfies RolloutControl['via'][];

export type ControlCheck = { ok: true; control: RolloutControl; seal?: string } | { ok: false; problem: string };

/** Whether `data` is a well-formed control; the problem names the field and never repeats what was sent. */
export function checkControlEvent(data: unknown): ControlCheck {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, problem: 'not an object' };
  const d = data as Record<string, unknown>;
  if (typeof d.action !== 'string' || !(CONTROL_ACTIONS as readonly string[]).includes(d.action))
    return { ok: false, problem: `action: must be one of ${CONTROL_ACTIONS.join(', ')}` };
  if (typeof d.by !== 'string') return { ok: false, problem: 'by: must be a name' };
  const badName = nameProblem(d.by);
  if (badName) return { ok: false, problem: `by: ${badName}` };
  if (typeof d.authenticated !== 'boolean') return { ok: false, problem: 'authenticated: must be true or false' };
  if (typeof d.identity !== 'string' || !IDENTITY_SOURCES.includes(d.identity))
    return { ok: false, problem: 'identity: unknown' };
  if (typeof d.reason !== 'string' || d.reason.trim() === '' || d.reason.length > MAX_CONTROL_REASON)
    return { ok: false, problem: `reason: must be text of 1 to ${MAX_CONTROL_REASON} characters` };
  if (typeof d.via !== 'string' || !VIAS.includes(d.via)) return { ok: false, problem: 'via: unknown' };
  if (typeof d.at !== 'string' || !ISO_TIME.test(d.at)) return { ok: false, problem: 'at: must be an ISO time' };
  if (d.id !== undefined && (typeof d.id !== 'string' || d.id.length > MAX_ID_LENGTH))
    return { ok: false, problem: 'id: must be a short string' };
  if (d.seal !== undefined && (typeof d.seal !== 'string' || d.seal.length > MAX_ID_LENGTH))
    return { ok: false, problem: 'seal: must be a short string' };
  const control: RolloutControl = {
    ...(d.id !== undefined ? { id: d.id as string } : {}),
    action: d.action as RolloutControl['action'],
    by: d.by,
    authenticated: d.authenticated,
    identity: d.identity as IdentitySource,
    reason: d.reason,
    via: d.via as RolloutControl['via'],
    at: d.at,
  };
  return { ok: true, control, ...(d.seal !== undefined ? { seal: d.seal as string } : {}) };
}
