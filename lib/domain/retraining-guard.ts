/**
 * Whether a trigger should start a retraining run for one model. Pure: the caller passes the model's signal log,
 * its run state and `now`, stores the returned entry and, on `start`, marks the run active before acting.
 *
 * Rules, in order:
 *  1. A drift observation already in the log (Event Grid delivers at least once) is skipped as a duplicate and
 *     not recorded again, so it never counts twice.
 *  2. A recovery signal never starts anything; it is recorded because it counts as a healthy observation in the
 *     k-of-n window.
 *  3. Single-flight: no start while a run is active, for every trigger kind. Two training runs for one model would
 *     race to register versions.
 *  4. Cooldown: no start within `cooldownMs` after the last run finished. Drift and timer triggers respect it.
 *     Manual triggers bypass it: a person asked deliberately, and the cooldown exists to damp automated storms.
 *  5. k-of-n (drift only): at least k of the last n drift observations since the last run finished must be
 *     breaches. Observations from before that are considered answered by that run. Timer and manual triggers
 *     bypass it, since they are not drift evidence.
 */
export type DriftGeneration = 'v1' | 'v2';

export type RetrainingTrigger =
  | {
      kind: 'drift';
      generation: DriftGeneration;
      signal: 'breach' | 'recovery';
      /** Identifies the observation (monitor run) so redeliveries are recognised. */
      observationId: string;
    }
  | { kind: 'timer'; schedule?: string }
  | { kind: 'manual'; reason: string; requestedBy?: string };

export type SignalSource = 'drift-v1' | 'drift-v2' | 'timer' | 'manual';

export interface SignalEntry {
  /** ISO timestamp of when the trigger was evaluated. */
  at: string;
  source: SignalSource;
  signal: 'breach' | 'recovery' | 'scheduled' | 'requested';
  observationId?: string;
  reason?: string;
  decision: 'start' | 'skip';
}

export interface RetrainingState {
  activeRun?: { id: string; startedAt: string };
  lastFinishedAt?: string;
}

export interface RetrainingGuardPolicy {
  cooldownMs: number;
  kOfN?: { k: number; n: number };
}

export type StartReason = 'drift' | 'scheduled' | 'manual';
export type SkipReason = 'duplicate-signal' | 'recovery-signal' | 'single-flight' | 'cooldown' | 'k-of-n-not-met';

export type RetrainingDecision =
  { action: 'start'; reason: StartReason; detail: string } | { action: 'skip'; reason: SkipReason; detail: string };

export interface RetrainingGuardInput {
  trigger: RetrainingTrigger;
  log: readonly SignalEntry[];
  state: RetrainingState;
  now: Date;
  policy: RetrainingGuardPolicy;
}

export interface RetrainingGuardResult {
  decision: RetrainingDecision;
  /** Entry to append to the model's signal log; null for a duplicate, which is already there. */
  record: SignalEntry | null;
}

/** Keep this many entries at most; k-of-n never looks further back than n. */
export const SIGNAL_LOG_LIMIT = 100;

export function decideRetraining(input: RetrainingGuardInput): RetrainingGuardResult {
  const { trigger, log, state, now, policy } = input;
  validatePolicy(policy);
  const nowMs = now.getTime();
  if (!Number.isFinite(nowMs)) throw new RangeError('now is not a valid date');
  const at = now.toISOString();

  const entry = (decision: RetrainingDecision): RetrainingGuardResult => ({
    decision,
    record: { ...baseEntry(trigger, at), decision: decision.action },
  });

  if (trigger.kind === 'drift') {
    const source = driftSource(trigger.generation);
    if (log.some((e) => e.source === source && e.observationId === trigger.observationId)) {
      return {
        decision: {
          action: 'skip',
          reason: 'duplicate-signal',
          detail: `observation ${trigger.observationId} was already recorded`,
        },
        record: null,
      };
    }
    if (trigger.signal === 'recovery') {
      return entry({ action: 'skip', reason: 'recovery-signal', detail: 'monitor reports no threshold breach' });
    }
  }

  if (state.activeRun !== undefined) {
    return entry({
      action: 'skip',
      reason: 'single-flight',
      detail: `run ${state.activeRun.id} has been active since ${state.activeRun.startedAt}`,
    });
  }

  const lastFinishedMs = parseTime(state.lastFinishedAt, 'state.lastFinishedAt');
  if (trigger.kind !== 'manual' && lastFinishedMs !== undefined) {
    const remaining = lastFinishedMs + policy.cooldownMs - nowMs;
    if (remaining > 0) {
      return entry({
        action: 'skip',
        reason: 'cooldown',
        detail: `last run finished at ${state.lastFinishedAt}; cooldown ends in ${formatDuration(remaining)}`,
      });
    }
  }

  switch (trigger.kind) {
    case 'drift': {
      if (policy.kOfN === undefined) {
        return entry({ action: 'start', reason: 'drift', detail: `${trigger.generation} drift breach` });
      }
      const { k, n } = policy.kOfN;
      const window = recentDriftObservations(log, lastFinishedMs, n - 1);
      const breaches = window.filter((e) => e.signal === 'breach').length + 1;
      const seen = window.length + 1;
      if (breaches < k) {
        return entry({
          action: 'skip',
          reason: 'k-of-n-not-met',
          detail: `${breaches} of the last ${seen} drift observations are breaches; need ${k} of ${n}`,
        });
      }
      return entry({
        action: 'start',
        reason: 'drift',
        detail: `${breaches} of the last ${seen} drift observations are breaches (need ${k} of ${n})`,
      });
    }
    case 'timer':
      return entry({
        action: 'start',
        reason: 'scheduled',
        detail: trigger.schedule ? `schedule ${trigger.schedule}` : 'scheduled retraining',
      });
    case 'manual': {
      const cooling = lastFinishedMs !== undefined && lastFinishedMs + policy.cooldownMs > nowMs;
      return entry({
        action: 'start',
        reason: 'manual',
        detail: `${trigger.reason}${trigger.requestedBy ? ` (requested by ${trigger.requestedBy})` : ''}${
          cooling ? '; cooldown bypassed' : ''
        }`,
      });
    }
  }
}

/** Append an entry and keep the log bounded. */
export function appendSignal(
  log: readonly SignalEntry[],
  entry: SignalEntry | null,
  limit = SIGNAL_LOG_LIMIT,
): SignalEntry[] {
  const next = entry === null ? [...log] : [...log, entry];
  return next.length > limit ? next.slice(next.length - limit) : next;
}

function recentDriftObservations(
  log: readonly SignalEntry[],
  sinceMs: number | undefined,
  count: number,
): SignalEntry[] {
  if (count <= 0) return [];
  const drift = log.filter(
    (e) =>
      (e.source === 'drift-v1' || e.source === 'drift-v2') && (sinceMs === undefined || Date.parse(e.at) > sinceMs),
  );
  return drift.slice(-count);
}

function baseEntry(trigger: RetrainingTrigger, at: string): Omit<SignalEntry, 'decision'> {
  switch (trigger.kind) {
    case 'drift':
      return {
        at,
        source: driftSource(trigger.generation),
        signal: trigger.signal,
        observationId: trigger.observationId,
      };
    case 'timer':
      return {
        at,
        source: 'timer',
        signal: 'scheduled',
        ...(trigger.schedule !== undefined && { reason: trigger.schedule }),
      };
    case 'manual':
      return { at, source: 'manual', signal: 'requested', reason: trigger.reason };
  }
}

function driftSource(generation: DriftGeneration): SignalSource {
  return generation === 'v1' ? 'drift-v1' : 'drift-v2';
}

function validatePolicy(policy: RetrainingGuardPolicy): void {
  if (!Number.isFinite(policy.cooldownMs) || policy.cooldownMs < 0) {
    throw new RangeError('policy.cooldownMs must be a finite number >= 0');
  }
  if (policy.kOfN !== undefined) {
    const { k, n } = policy.kOfN;
    if (!Number.isInteger(k) || !Number.isInteger(n) || k < 1 || n < k) {
      throw new RangeError('policy.kOfN needs integers with 1 <= k <= n');
    }
  }
}

function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new RangeError(`${name} is not a valid timestamp`);
  return ms;
}

function formatDuration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.ceil(s / 60);
  if (m < 120) return `${m}m`;
  return `${Math.round((m / 60) * 10) / 10}h`;
}
