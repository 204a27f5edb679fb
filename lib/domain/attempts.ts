/**
 * Attempts: a model version's promotion may be tried again after it failed, each attempt its own orchestration
 * instance (so each keeps its history). Pure: which instance id an attempt has, and whether a finished attempt may
 * be tried again.
 *
 * The rule (README, "Retrying a promotion"): an attempt that failed — the flow's outcome `failed` (a smoke test, a
 * deployment, a traffic update), an approval that timed out, or an orchestration the runtime reports Failed or
 * Terminated — may be retried. An attempt that is still running, or that ended with an answer (promoted, lost its
 * evaluation, rejected by a person, superseded by a newer winner) is never restarted: a retry would only ask the
 * same question again.
 */
import type { PromotionOutcome } from '../../orchestrations/contract';
import { durableInstanceId, promotionInstanceId } from './events';

/**
 * The instance id of one attempt. The first keeps the id one per version (`promote:demand:3`), so deliveries of
 * the same registration still find it; later ones add the attempt as a part of its own (`promote:demand:3:a2`).
 */
export function attemptInstanceId(modelName: string, modelVersion: string, attempt: number): string {
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be 1 or more, not ${attempt}`);
  return attempt === 1
    ? promotionInstanceId(modelName, modelVersion)
    : durableInstanceId('promote', modelName, modelVersion, `a${attempt}`);
}

/** What the runtime says of an attempt: its runtime status and, once it completed, the flow's outcome. */
export interface AttemptState {
  id: string;
  runtimeStatus: string;
  /** The custom status's phase while it runs. */
  phase?: string;
  outcome?: PromotionOutcome;
  /** The result's reason, shown in a refusal. */
  reason?: string;
}

const RUNNING_STATUSES = new Set(['Pending', 'Running', 'Suspended', 'ContinuedAsNew']);
/** Runtime statuses of an orchestration that stopped without finishing its flow (it threw, or someone ended it). */
const STOPPED_STATUSES = new Set(['Failed', 'Terminated', 'Canceled']);
const RETRYABLE_OUTCOMES: ReadonlySet<PromotionOutcome> = new Set(['failed', 'approval-timed-out']);

const FINAL_ANSWERS: Record<Exclude<PromotionOutcome, 'failed' | 'approval-timed-out'>, string> = {
  promoted: 'it succeeded, and a promotion that succeeded is never restarted',
  'lost-evaluation':
    'the challenger lost its evaluation against the champion, which is an answer, not a failure; register a new version to try again',
  rejected: "a person rejected it, and a person's decision is not overturned by a retry",
  superseded: 'a newer winner superseded it',
};

export type RetryVerdict = { retry: true } | { retry: false; reason: string };

/** Whether a new attempt may follow `latest`, the newest attempt of a model version. */
export function retryVerdict(latest: AttemptState): RetryVerdict {
  if (RUNNING_STATUSES.has(latest.runtimeStatus)) {
    const where = latest.phase ? `phase: ${latest.phase}` : latest.runtimeStatus;
    return {
      retry: false,
      reason: `Promotion ${latest.id} is still running (${where}); a retry starts a new attempt only once it has failed.`,
    };
  }
  if (STOPPED_STATUSES.has(latest.runtimeStatus)) return { retry: true };
  if (latest.outcome && RETRYABLE_OUTCOMES.has(latest.outcome)) return { retry: true };
  if (latest.outcome && latest.outcome in FINAL_ANSWERS) {
    const why = FINAL_ANSWERS[latest.outcome as keyof typeof FINAL_ANSWERS];
    return { retry: false, reason: `Promotion ${latest.id} ended ${latest.outcome}: ${why}.` };
  }
  return {
    retry: false,
    reason: `Promotion ${latest.id} ended ${latest.runtimeStatus} without an outcome to judge; it is not retried.`,
  };
}

/**
 * A registration event starts a new attempt only when the newest one failed and was created before the version was
 * registered: it was about a version that did not exist yet (a start by hand that came too early). A duplicate
 * delivery of the registration that started the attempt is older than the attempt, so it starts nothing.
 */
export function registrationStartsNewAttempt(
  latest: AttemptState & { createdTime: string },
  registeredAt: string,
): boolean {
  return retryVerdict(latest).retry && Date.parse(latest.createdTime) < Date.parse(registeredAt);
}
