/**
 * Following a promotion or a retraining run until it ends. What is printed comes from pure functions of what the
 * API answered (a `Snapshot`); `follow` is the one polling loop, which only reads: stopping it (Ctrl-C) leaves the
 * promotion or run as it is.
 */
import { setTimeout as wait } from 'node:timers/promises';
import type { PromotionOutcome, RetrainingOutcome, TimelineEntry } from '../orchestrations/contract';
import type { PromotionSummary, RetrainingRunView } from './api';
import { ApiError, UnreachableError } from './api';
import { formatTime } from './format';
import { println, type CliIo } from './io';

/** What one poll saw, reduced to what the watch prints. */
export interface Snapshot {
  createdTime: string;
  /** Timeline entries, oldest first; `firstIndex` is the position of the first among all of them. */
  entries: TimelineEntry[];
  firstIndex: number;
  /** While running: what it waits for now ("the deployment to provision"). */
  waitingFor?: string;
  /** Once it ended: how to say so, and the exit code that tells scripts. */
  ended?: { summary: string; exitCode: number; lastUpdatedTime: string; next?: string };
}

/** Exit codes of a promotion followed to its end; 1 and 2 stay "the app failed" and "bad usage". */
export const PROMOTION_EXIT_CODES: Record<PromotionOutcome, number> = {
  promoted: 0,
  failed: 3,
  rejected: 4,
  'approval-timed-out': 5,
  superseded: 6,
  'lost-evaluation': 7,
};

/** Exit codes of a retraining run followed to its end. */
export const RETRAINING_EXIT_CODES: Record<RetrainingOutcome, number> = {
  registered: 0,
  failed: 3,
  'job-failed': 3,
  'timed-out': 3,
  'data-check-failed': 4,
  rejected: 5,
  'approval-timed-out': 6,
};

/** Ctrl-C stopped the watch (128 + SIGINT, as shells report it). */
export const INTERRUPTED_EXIT_CODE = 130;

/** A promotion or run the runtime failed or terminated has no outcome; it counts as failed. */
export const RUNTIME_FAILED_EXIT_CODE = 3;

/** Runtime states after which an orchestration does nothing more. */
const ENDED_STATES = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

export const hasEnded = (runtimeStatus: string): boolean => ENDED_STATES.has(runtimeStatus);

/** "0:05", "12:34", "1:02:03", "2d 03:04:05": time since the start, never negative. */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  if (days > 0) return `${days}d ${String(hours).padStart(2, '0')}:${String(minutes).padStart(2, '0')}:${seconds}`;
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, '0')}:${seconds}`;
  return `${minutes}:${seconds}`;
}

const elapsedBetween = (from: string, to: string): string => formatElapsed(Date.parse(to) - Date.parse(from));

/** The widest phase name, so notes line up. */
const PHASE_WIDTH = 'awaiting-approval'.length;

/** "[0:05] deploying          deploying demand:3 to blue at 0 %" */
export function entryLine(createdTime: string, entry: TimelineEntry): string {
  return `[${elapsedBetween(createdTime, entry.at)}] ${entry.phase.padEnd(PHASE_WIDTH)}  ${entry.note}`.trimEnd();
}

/** What a running promotion waits for in its phase; undefined once it is done. */
export function promotionWaitingFor(p: PromotionSummary): string | undefined {
  const status = p.status;
  switch (status?.phase) {
    case undefined:
    case 'preparing':
      return 'its turn (promotions of a model prepare one at a time)';
    case 'deploying':
      return 'the deployment to provision';
    case 'testing':
      return 'the smoke test';
    case 'evaluating':
      return 'the evaluation against the champion';
    case 'evaluated':
      return 'the evaluation to be acted on';
    case 'awaiting-approval': {
      const until = status.approval ? ` until ${formatTime(status.approval.expiresAt)}` : '';
      return `approval${until} (champion approve ${p.id}, or champion reject ${p.id})`;
    }
    case 'frozen': {
      const freeze = status.freeze;
      if (!freeze) return 'the release freeze to end';
      const end = freeze.until
        ? `until ${formatTime(freeze.until)}`
        : `until lifted (champion unfreeze ${status.modelName})`;
      return `the release freeze to end, ${end}: ${freeze.reason}`;
    }
    case 'rolling-out':
      return 'the traffic update to roll out';
    case 'rolling-back':
      return "the champion's traffic to be restored";
    case 'done':
      return undefined;
  }
}

/** What a running retraining run waits for in its phase. */
export function retrainingWaitingFor(run: RetrainingRunView): string | undefined {
  const status = run.status;
  switch (status?.phase) {
    case undefined:
      return 'the run to start';
    case 'environment':
      return 'the training environment';
    case 'data-checks':
      return 'the checks of the training data';
    case 'training':
      return `the training job${status.jobName ? ` ${status.jobName}` : ''} to finish`;
    case 'awaiting-approval':
      return `a person's approval before registering${status.approval ? ` (until ${status.approval.expiresAt})` : ''}`;
    case 'registering':
      return 'the trained model to be registered';
    case 'done':
      return undefined;
  }
}

function endedSummary(outcome: string | undefined, reason: string | undefined, runtimeStatus: string): string {
  if (!outcome) return `ended without an outcome: the runtime reports ${runtimeStatus}`;
  return `${outcome}${reason ? `: ${reason}` : ''}`;
}

export function promotionSnapshot(p: PromotionSummary): Snapshot {
  const ended = hasEnded(p.runtimeStatus);
  // Once finished, the result keeps every entry; the custom status only the latest.
  const fullTimeline = ended ? p.result?.timeline : undefined;
  const waitingFor = ended ? undefined : promotionWaitingFor(p);
  return {
    createdTime: p.createdTime,
    entries: fullTimeline ?? p.status?.timeline ?? [],
    firstIndex: fullTimeline ? 0 : (p.status?.earlierEntries ?? 0),
    ...(waitingFor ? { waitingFor } : {}),
    ...(ended
      ? {
          ended: {
            summary: endedSummary(p.result?.outcome, p.result?.reason, p.runtimeStatus),
            exitCode: p.result?.outcome ? PROMOTION_EXIT_CODES[p.result.outcome] : RUNTIME_FAILED_EXIT_CODE,
            lastUpdatedTime: p.lastUpdatedTime,
          },
        }
      : {}),
  };
}

export function retrainingSnapshot(run: RetrainingRunView): Snapshot {
  const ended = hasEnded(run.runtimeStatus);
  const waitingFor = ended ? undefined : retrainingWaitingFor(run);
  const result = run.result ?? undefined;
  return {
    createdTime: run.createdTime,
    entries: run.status?.timeline ?? [],
    firstIndex: 0,
    ...(waitingFor ? { waitingFor } : {}),
    ...(ended
      ? {
          ended: {
            summary: endedSummary(result?.outcome, result?.reason, run.runtimeStatus),
            exitCode: result?.outcome ? RETRAINING_EXIT_CODES[result.outcome] : RUNTIME_FAILED_EXIT_CODE,
            lastUpdatedTime: run.lastUpdatedTime,
            ...(result?.promotionId
              ? { next: `Follow its promotion with: champion show ${result.promotionId} --watch` }
              : {}),
          },
        }
      : {}),
  };
}

/** The status line a terminal redraws in place: time since the start and the current wait. */
export function statusLine(snapshot: Snapshot, nowMs: number): string {
  const elapsed = formatElapsed(nowMs - Date.parse(snapshot.createdTime));
  return `[${elapsed}] ${snapshot.waitingFor ? `waiting for ${snapshot.waitingFor}` : 'working'}`;
}

/** The line printed (without a terminal) when the current wait changes. */
export const waitingLine = (waitingFor: string): string => `  … waiting for ${waitingFor}`;

/** Polls start quick (a promotion's first steps take moments) and slow down to every 2 s while nothing changes. */
export const FIRST_POLL_MS = 250;
export const MAX_POLL_MS = 2000;

export function nextPollDelay(previousMs: number, changed: boolean): number {
  return changed ? FIRST_POLL_MS * 2 : Math.min(MAX_POLL_MS, Math.round(previousMs * 1.5));
}

/** Polls that may fail in a row (the app restarting, a network blip) before the watch gives up. */
const MAX_FAILED_POLLS = 5;

const isTransient = (err: unknown): boolean =>
  err instanceof UnreachableError || (err instanceof ApiError && err.status >= 500);

const defaultSleep = async (ms: number, signal: AbortSignal): Promise<void> => {
  await wait(ms, undefined, { signal }).catch(() => undefined);
};

/** Waits `ms` with the io's sleep (tests pass one that returns at once). */
export function pause(io: CliIo, ms: number, signal = new AbortController().signal): Promise<void> {
  return (io.sleep ?? defaultSleep)(ms, signal);
}

export interface FollowOptions {
  /** "promotion promote:demand:3", as the first and last lines name it. */
  subject: string;
  /** What Ctrl-C leaves running: "the promotion". */
  carriesOn: string;
  /** Reads the current state; its first failure (an unknown id: 404) ends the watch with the app's message. */
  read: () => Promise<Snapshot>;
}

/**
 * Prints each new timeline entry with the time since the start, and the current wait, until the end; resolves
 * with the exit code. On a terminal the wait is a status line redrawn in place; otherwise plain lines only.
 */
export async function follow(io: CliIo, options: FollowOptions): Promise<number> {
  const stop = new AbortController();
  const removeInterrupt = io.onInterrupt?.(() => stop.abort());
  const terminal = io.isTTY === true;
  let statusShown = false;
  const clearStatus = () => {
    if (statusShown) io.stdout('\r\x1b[2K');
    statusShown = false;
  };
  const print = (line: string) => {
    clearStatus();
    println(io.stdout, line);
  };

  let printed = 0;
  let lastWaiting: string | undefined;
  let delay = FIRST_POLL_MS;
  let failedPolls = 0;
  try {
    for (let poll = 0; ; poll++) {
      let snapshot: Snapshot | undefined;
      try {
        snapshot = await options.read();
        failedPolls = 0;
      } catch (err) {
        if (poll === 0 || !isTransient(err) || ++failedPolls >= MAX_FAILED_POLLS) throw err;
        print(`  (${err instanceof Error ? err.message : String(err)}; trying again)`);
      }
      if (stop.signal.aborted) break;
      if (snapshot !== undefined) {
        if (poll === 0) {
          print(
            `Following ${options.subject}, started ${formatTime(snapshot.createdTime)}. ` +
              `Ctrl-C stops watching; ${options.carriesOn} carries on.`,
          );
        }
        const before = printed;
        if (snapshot.firstIndex > printed) {
          print(`  (${snapshot.firstIndex - printed} earlier entries not shown)`);
          printed = snapshot.firstIndex;
        }
        const { firstIndex, createdTime } = snapshot;
        snapshot.entries.forEach((entry, i) => {
          if (firstIndex + i < printed) return;
          print(entryLine(createdTime, entry));
          printed = firstIndex + i + 1;
        });
        if (snapshot.ended) {
          const { summary, exitCode, lastUpdatedTime, next } = snapshot.ended;
          print(
            `${capitalise(options.subject)} ${summary} (after ${elapsedBetween(snapshot.createdTime, lastUpdatedTime)}).`,
          );
          if (next) print(next);
          return exitCode;
        }
        const changed = printed !== before || snapshot.waitingFor !== lastWaiting;
        if (terminal) {
          clearStatus();
          io.stdout(statusLine(snapshot, Date.now()));
          statusShown = true;
        } else if (snapshot.waitingFor && snapshot.waitingFor !== lastWaiting) {
          print(waitingLine(snapshot.waitingFor));
        }
        lastWaiting = snapshot.waitingFor;
        delay = poll === 0 ? FIRST_POLL_MS : nextPollDelay(delay, changed);
      }
      await pause(io, delay, stop.signal);
      if (stop.signal.aborted) break;
    }
    print(`Stopped watching ${options.subject}; ${options.carriesOn} carries on.`);
    return INTERRUPTED_EXIT_CODE;
  } finally {
    clearStatus();
    removeInterrupt?.();
  }
}

const capitalise = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);
