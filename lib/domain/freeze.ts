/**
 * Release freezes: times when no new version of a model may start serving. A freeze comes from the policy's
 * `freezes` windows (e.g. a sales weekend), or from a person (`champion freeze MODEL --reason …`, POST
 * /api/models/{name}/freeze), with an optional end. A promotion that reaches its release during a freeze waits — on a
 * durable timer for when the freeze would end, or the event sent when a person lifts it — and says why meanwhile.
 * Rollbacks are never frozen: putting the previous version back is how an incident ends.
 *
 * Pure: the flow hands in its own clock, and the freeze a person asked for as the release-freeze entity keeps it.
 */

/** A window of the policy's `freezes` (ISO 8601 times with a zone; `until` excluded). */
export interface FreezeWindow {
  from: string;
  until: string;
  reason: string;
}

/** Who asked for something, as the app's routes identify callers. */
export interface FreezeCaller {
  by: string;
  authenticated: boolean;
  identity: string;
}

/** A freeze a person asked for; without `until` it lasts until lifted. */
export interface RequestedFreeze extends FreezeCaller {
  reason: string;
  at: string;
  until?: string;
}

export interface FreezeLift extends FreezeCaller {
  reason: string;
  at: string;
}

/** The release-freeze entity's state, one per model. */
export interface FreezeState {
  frozen?: RequestedFreeze;
  /** The last lift, kept so a reader sees who lifted what. */
  lifted?: FreezeLift & { freeze: RequestedFreeze };
}

export type FreezeInForce =
  | { frozen: false }
  | {
      frozen: true;
      source: 'policy' | 'request';
      reason: string;
      /** The policy window's position in `freezes`, or who asked. */
      window?: number;
      by?: string;
      /** When it ends by itself; absent: when a person lifts it. */
      until?: string;
      /** When a waiting promotion looks again, lifted or not: the end, at most `MAX_RECHECK_MS` away. */
      recheckAt: string;
    };

/**
 * A promotion waiting out a freeze with no end looks again this often (a lift also wakes it at once): the safety net
 * for a lift whose wake-up it missed, at the cost of one activity an hour.
 */
export const MAX_RECHECK_MS = 60 * 60 * 1000;

const millis = (iso: string) => new Date(iso).getTime();

/** Whether a person's freeze still holds at `now` (it may have ended by itself). */
export function requestedFreezeHolds(freeze: RequestedFreeze | undefined, now: Date): freeze is RequestedFreeze {
  return freeze !== undefined && (freeze.until === undefined || millis(freeze.until) > now.getTime());
}

/**
 * The freeze in force at `now`, if any. With several, the one that lasts longest is told (a person's freeze without an
 * end first); the waiting promotion looks again when it ends, and the next one, if any, keeps it waiting.
 */
export function freezeInForce(
  windows: readonly FreezeWindow[],
  requested: RequestedFreeze | undefined,
  now: Date,
): FreezeInForce {
  const at = now.getTime();
  type Candidate = Omit<Extract<FreezeInForce, { frozen: true }>, 'recheckAt'>;
  const candidates: Candidate[] = windows.flatMap((window, index) =>
    millis(window.from) <= at && at < millis(window.until)
      ? [{ frozen: true, source: 'policy', reason: window.reason, window: index, until: window.until }]
      : [],
  );
  if (requestedFreezeHolds(requested, now)) {
    const { reason, by, until } = requested;
    candidates.unshift({ frozen: true, source: 'request', reason, by, ...(until !== undefined ? { until } : {}) });
  }
  const end = (c: Candidate) => (c.until === undefined ? Infinity : millis(c.until));
  const longest = candidates.reduce<Candidate | undefined>((a, c) => (!a || end(c) > end(a) ? c : a), undefined);
  if (!longest) return { frozen: false };
  return { ...longest, recheckAt: new Date(Math.min(end(longest), at + MAX_RECHECK_MS)).toISOString() };
}

/** One line for the timeline and the status: what freezes the release, and until when. */
export function describeFreeze(freeze: Extract<FreezeInForce, { frozen: true }>): string {
  const until = freeze.until ? `until ${freeze.until}` : 'until it is lifted';
  return freeze.source === 'policy'
    ? `releases of this model are frozen by the policy (freezes[${freeze.window}]) ${until}: ${freeze.reason}`
    : `releases of this model are frozen by ${freeze.by} ${until}: ${freeze.reason}`;
}
