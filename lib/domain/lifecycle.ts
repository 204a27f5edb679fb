/**
 * Lifecycle events: every step of a promotion or a retraining, as Champion publishes it (a CloudEvent 1.0 on an Event
 * Grid topic, a message on a Service Bus topic, a custom event in Application Insights). Pure: the flows announce
 * steps, activities carry them out.
 *
 * Ids are deterministic — the instance id and the step (and its occurrence from the second on) — so a re-executed
 * activity publishes the same id again, and Service Bus duplicate detection or a consumer keyed by id drops it.
 */

/**
 * Every step type, with its CloudEvent `type`. Adding a step type is one line here (then announce it from a flow).
 */
export const LIFECYCLE_STEPS = {
  'promotion-started': 'Champion.Promotion.Started',
  evaluated: 'Champion.Promotion.Evaluated',
  'approval-requested': 'Champion.Approval.Requested',
  'approval-reminded': 'Champion.Approval.Reminded',
  'approval-decided': 'Champion.Approval.Decided',
  'approval-expired': 'Champion.Approval.Expired',
  'gate-waiting': 'Champion.Gate.Waiting',
  'gate-opened': 'Champion.Gate.Opened',
  'gate-closed': 'Champion.Gate.Closed',
  'rollout-step': 'Champion.Rollout.StepCompleted',
  verdict: 'Champion.Rollout.Verdict',
  'rolled-back': 'Champion.Rollout.RolledBack',
  'production-changed': 'Champion.Production.Changed',
  'release-frozen': 'Champion.Release.Frozen',
  'release-unfrozen': 'Champion.Release.Unfrozen',
  'retraining-started': 'Champion.Retraining.Started',
  'retraining-skipped': 'Champion.Retraining.Skipped',
  'retraining-finished': 'Champion.Retraining.Finished',
  'retraining-failed': 'Champion.Retraining.Failed',
} as const;

export type LifecycleStep = keyof typeof LIFECYCLE_STEPS;

export type LifecycleValue = string | number | boolean | null;

/** What a flow is about: its instance and model (and version, for promotions). */
export interface LifecycleSubject {
  /** The orchestration instance (promotion, retraining run or signal, rollback), or a person's freeze. */
  instanceId: string;
  modelName: string;
  modelVersion?: string;
}

/** One step as a flow announced it: JSON, so it travels in an activity's input. */
export interface LifecycleEvent {
  /** `{instanceId}:{step}`, then `:{n}` from its second occurrence in the same instance. */
  id: string;
  step: LifecycleStep;
  /** The CloudEvent type (LIFECYCLE_STEPS). */
  type: string;
  /** `models/{model}` or `models/{model}/versions/{version}`: Event Grid subscriptions filter on its prefix. */
  subject: string;
  /** When the step happened, by the flow's clock (ISO 8601). */
  time: string;
  data: LifecycleData;
}

export interface LifecycleData extends LifecycleSubject {
  step: LifecycleStep;
  /** Step details: flat values, so they filter (Service Bus properties) and chart (Application Insights). */
  details: Record<string, LifecycleValue>;
}

export function lifecycleSubjectPath(subject: Pick<LifecycleSubject, 'modelName' | 'modelVersion'>): string {
  const model = `models/${subject.modelName}`;
  return subject.modelVersion !== undefined ? `${model}/versions/${subject.modelVersion}` : model;
}

export function lifecycleEventId(instanceId: string, step: LifecycleStep, occurrence: number): string {
  return occurrence > 1 ? `${instanceId}:${step}:${occurrence}` : `${instanceId}:${step}`;
}

export function lifecycleEvent(
  subject: LifecycleSubject,
  step: LifecycleStep,
  occurrence: number,
  time: Date,
  details: Record<string, LifecycleValue | undefined> = {},
): LifecycleEvent {
  const kept: Record<string, LifecycleValue> = {};
  for (const [key, value] of Object.entries(details)) if (value !== undefined) kept[key] = value;
  return {
    id: lifecycleEventId(subject.instanceId, step, occurrence),
    step,
    type: LIFECYCLE_STEPS[step],
    subject: lifecycleSubjectPath(subject),
    time: time.toISOString(),
    data: {
      instanceId: subject.instanceId,
      modelName: subject.modelName,
      ...(subject.modelVersion !== undefined ? { modelVersion: subject.modelVersion } : {}),
      step,
      details: kept,
    },
  };
}

/** A well-formed event (activities check what they are handed: a raw history could carry anything). */
export function isLifecycleEvent(value: unknown): value is LifecycleEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Partial<LifecycleEvent>;
  return (
    typeof event.id === 'string' &&
    typeof event.step === 'string' &&
    Object.hasOwn(LIFECYCLE_STEPS, event.step) &&
    event.type === LIFECYCLE_STEPS[event.step] &&
    typeof event.subject === 'string' &&
    typeof event.time === 'string' &&
    typeof event.data === 'object' &&
    event.data !== null &&
    typeof event.data.instanceId === 'string' &&
    typeof event.data.modelName === 'string'
  );
}
