/**
 * Blue/green rollout planning on an Azure ML managed online endpoint, and what a failed deployment means.
 *
 * The challenger always goes into the idle slot (`blue` or `green`), the champion keeps serving from wherever it
 * is, traffic moves in the policy's steps, and a rollback puts the champion back to 100 %.
 */

export const SLOTS = ['blue', 'green'] as const;
export type Slot = (typeof SLOTS)[number];

/** Deployment name → percent of live traffic, as on the endpoint (whole numbers adding up to 100, or all 0). */
export type TrafficMap = Record<string, number>;

export interface RolloutPlanInput {
  /** The endpoint's current traffic map. */
  traffic: Readonly<TrafficMap>;
  /** Names of the deployments that exist on the endpoint. */
  deployments: readonly string[];
  /** Challenger percentages from the policy, strictly increasing and ending at 100 (e.g. [10, 50, 100]). */
  steps: readonly number[];
}

export interface RolloutPlan {
  /** The deployment serving all traffic now; null when nothing serves (first model). */
  champion: string | null;
  /** The idle slot the challenger is deployed into. */
  challenger: Slot;
  /** The idle slot already holds a (0 %) deployment, which the new one replaces. */
  challengerSlotExists: boolean;
  /** Full traffic maps to apply in order; the last sends 100 % to the challenger. */
  steps: TrafficMap[];
  /** Traffic that restores the champion (champion 100, challenger 0). */
  rollback: TrafficMap;
}

export class RolloutPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RolloutPlanError';
  }
}

export function isSlot(name: string): name is Slot {
  return (SLOTS as readonly string[]).includes(name);
}

function validateTraffic(traffic: Readonly<TrafficMap>): void {
  let total = 0;
  for (const [deployment, percent] of Object.entries(traffic)) {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
      throw new RolloutPlanError(`traffic for '${deployment}' must be a whole percentage 0–100, got ${percent}`);
    }
    total += percent;
  }
  if (total !== 0 && total !== 100) {
    throw new RolloutPlanError(`endpoint traffic must add up to 100 (or 0 when nothing serves), got ${total}`);
  }
}

function validateSteps(steps: readonly number[]): void {
  if (steps.length === 0) throw new RolloutPlanError('rollout needs at least one traffic step');
  steps.forEach((step, index) => {
    if (!Number.isInteger(step) || step < 1 || step > 100) {
      throw new RolloutPlanError(`rollout step ${index} must be a whole percentage 1–100, got ${step}`);
    }
    const previous = steps[index - 1];
    if (previous !== undefined && step <= previous) {
      throw new RolloutPlanError(`rollout steps must increase strictly, got ${previous} then ${step}`);
    }
  });
  if (steps[steps.length - 1] !== 100) throw new RolloutPlanError('the last rollout step must be 100');
}

/**
 * Chooses the idle slot and the traffic sequence. The idle slot is whichever of `blue`/`green` carries no traffic
 * (missing counts as idle; `blue` first when both are idle). It is an error when both slots carry traffic, or when
 * traffic is split between several deployments: a previous rollout is unfinished and must be completed or rolled
 * back first.
 */
export function planBlueGreenRollout(input: RolloutPlanInput): RolloutPlan {
  validateTraffic(input.traffic);
  validateSteps(input.steps);
  const serving = Object.entries(input.traffic)
    .filter(([, percent]) => percent > 0)
    .map(([deployment]) => deployment);
  const idleSlots = SLOTS.filter((slot) => (input.traffic[slot] ?? 0) === 0);
  const challenger = idleSlots[0];
  if (challenger === undefined) {
    throw new RolloutPlanError(
      `both blue (${input.traffic.blue} %) and green (${input.traffic.green} %) carry traffic: finish or roll back the previous rollout first`,
    );
  }
  if (serving.length > 1) {
    const split = serving.map((deployment) => `${deployment} ${input.traffic[deployment]} %`).join(', ');
    throw new RolloutPlanError(`traffic is split (${split}): finish or roll back the previous rollout first`);
  }
  const champion = serving[0] ?? null;
  const challengerSlotExists = input.deployments.includes(challenger);
  const traffic = (challengerPercent: number): TrafficMap =>
    champion === null
      ? { [challenger]: 100 }
      : { [champion]: 100 - challengerPercent, [challenger]: challengerPercent };
  // Without a champion there is nothing to share traffic with: the challenger takes everything at once.
  const steps = champion === null ? [traffic(100)] : input.steps.map(traffic);
  const rollback: TrafficMap = champion === null ? { [challenger]: 0 } : { [champion]: 100, [challenger]: 0 };
  return { champion, challenger, challengerSlotExists, steps, rollback };
}

/** What the endpoint needs before a slot can be chosen: created when missing, awaited while it provisions. */
export type EndpointPreparation = 'ready' | 'create' | 'wait-for-provisioning';

export function endpointPreparation(endpoint: { exists: boolean; provisioningState?: string }): EndpointPreparation {
  if (!endpoint.exists) return 'create';
  return endpoint.provisioningState === 'Succeeded' ? 'ready' : 'wait-for-provisioning';
}

/**
 * What the challenger's idle slot needs, from what it holds now: a deployment still being deleted is awaited first
 * (ARM refuses a PUT to it), a slot already serving-ready with this very model is used as it is, anything else is
 * (re)deployed.
 */
export function idleSlotAction(
  deployment: { model?: string; provisioningState: string } | undefined,
  model: string,
): { waitForDelete: boolean; deploy: boolean } {
  const waitForDelete = deployment?.provisioningState === 'Deleting';
  const holdsIt = deployment?.model === model && deployment.provisioningState === 'Succeeded';
  return { waitForDelete, deploy: !holdsIt };
}

/**
 * One phase of a progressive rollout: a traffic update, then a bake (a durable timer) before the next phase. A mirror
 * phase keeps all live traffic on the champion and copies `mirrorPercent` % of it to the challenger.
 */
export interface RolloutPhase {
  kind: 'mirror' | 'live';
  /** 1-based position among the phases, and how many there are. */
  index: number;
  of: number;
  /** The challenger's share of live traffic in this phase. */
  percent: number;
  traffic: TrafficMap;
  /** Mirror traffic of this phase (the challenger's copy); `{}` clears any mirror. */
  mirror: TrafficMap;
  /** How long the phase serves before the next one; 0: the next follows once the update is done. */
  bakeMs: number;
}

/**
 * The phases of a progressive rollout on a blue/green plan: an optional mirror phase, then one live phase per traffic
 * step, each step below 100 % baking for `bakeMs`. Without a champion there is nothing to mirror or share with: one
 * phase, the challenger at 100 %.
 */
export function planRolloutPhases(
  plan: RolloutPlan,
  settings: { bakeMs: number; mirror?: { percent: number; durationMs: number } },
): RolloutPhase[] {
  const phases: Omit<RolloutPhase, 'index' | 'of'>[] = [];
  if (settings.mirror && plan.champion !== null) {
    phases.push({
      kind: 'mirror',
      percent: 0,
      traffic: plan.rollback,
      mirror: { [plan.challenger]: settings.mirror.percent },
      bakeMs: settings.mirror.durationMs,
    });
  }
  for (const traffic of plan.steps) {
    const percent = traffic[plan.challenger] ?? 0;
    phases.push({ kind: 'live', percent, traffic, mirror: {}, bakeMs: percent < 100 ? settings.bakeMs : 0 });
  }
  return phases.map((phase, i) => ({ ...phase, index: i + 1, of: phases.length }));
}

/** Whether two splits route the same: a deployment at 0 % and one the map leaves out are alike. */
export function sameTraffic(a: Readonly<TrafficMap>, b: Readonly<TrafficMap>): boolean {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].every((name) => (a[name] ?? 0) === (b[name] ?? 0));
}

/** The other slot, e.g. to name where the previous champion lives after a completed rollout. */
export function otherSlot(slot: Slot): Slot {
  return slot === 'blue' ? 'green' : 'blue';
}

// ---------------------------------------------------------------------------------------------------------------
// Deployment failures

export type FailureAction = 'keep-champion-report' | 'retry-later' | 'retry-after' | 'delete-and-keep-champion';

export type FailureCategory =
  | 'provisioning-deadline'
  | 'throttled'
  | 'canceled'
  | 'capacity'
  | 'quota'
  | 'container-not-ready'
  | 'image-build'
  | 'authorization'
  | 'bad-argument'
  | 'unknown';

export interface FailureClassification {
  category: FailureCategory;
  retryable: boolean;
  retryAfterSeconds?: number;
  action: FailureAction;
  reason: string;
}

/** Code the orchestrator uses when a deployment did not finish provisioning before the policy's deadline. */
export const PROVISIONING_DEADLINE_EXCEEDED = 'ProvisioningDeadlineExceeded';
/** Wait after OperationCanceled (the operation was superseded); the documented advice is about a minute. */
export const CANCELED_RETRY_SECONDS = 60;
/** Wait after throttling when the response carried no Retry-After. */
export const THROTTLED_DEFAULT_RETRY_SECONDS = 60;
/** Long backoff before trying again when the region lacks capacity for the instance type. */
export const CAPACITY_RETRY_SECONDS = 3600;

export interface FailureDetails {
  /** Seconds from the response's Retry-After header, if any. */
  retryAfterSeconds?: number;
  /** HTTP status of the failed request, if known. */
  httpStatus?: number;
}

const has = (text: string, ...needles: string[]) => needles.some((needle) => text.includes(needle.toLowerCase()));

/**
 * What to do about a failed online deployment, from its error code and message (Azure ML's documented
 * troubleshooting codes). The inner error code often only appears in the message (e.g. code `DeploymentFailed`
 * with `OutOfQuota` inside), so both are searched. Unknown failures are not retried: the champion keeps serving
 * and a person looks at the report.
 */
export function classifyDeploymentFailure(
  code: string | undefined,
  message: string | undefined,
  details: FailureDetails = {},
): FailureClassification {
  const codeText = (code ?? '').toLowerCase();
  const text = `${codeText} ${(message ?? '').toLowerCase()}`;
  const status = details.httpStatus;

  if (has(codeText, PROVISIONING_DEADLINE_EXCEEDED)) {
    return {
      category: 'provisioning-deadline',
      retryable: false,
      action: 'delete-and-keep-champion',
      reason: 'the deployment did not finish provisioning before the policy deadline: delete it and keep the champion',
    };
  }
  if (status === 429 || codeText === '429' || has(text, 'TooManyRequests', 'throttl')) {
    const wait = details.retryAfterSeconds ?? THROTTLED_DEFAULT_RETRY_SECONDS;
    return {
      category: 'throttled',
      retryable: true,
      retryAfterSeconds: wait,
      action: 'retry-after',
      reason: `Azure Resource Manager throttled the request: wait ${wait} s as told, then retry`,
    };
  }
  if (has(text, 'OperationCanceled', 'OperationCancelled')) {
    return {
      category: 'canceled',
      retryable: true,
      retryAfterSeconds: CANCELED_RETRY_SECONDS,
      action: 'retry-after',
      reason: 'the operation was canceled or superseded by another one: retry after about a minute',
    };
  }
  if (
    has(
      text,
      'OutOfCapacity',
      'lack of Azure Machine Learning capacity',
      'insufficient capacity',
      'capacity in the region',
    )
  ) {
    return {
      category: 'capacity',
      retryable: true,
      retryAfterSeconds: CAPACITY_RETRY_SECONDS,
      action: 'retry-later',
      reason:
        'the region lacks capacity for the instance type: keep the champion at 100 %, report, and retry later with a long backoff',
    };
  }
  if (has(text, 'OutOfQuota', 'quota')) {
    return {
      category: 'quota',
      retryable: false,
      action: 'keep-champion-report',
      reason:
        'not enough VM quota for the instance type: keep the champion at 100 % and report (raise the quota or change the instance type)',
    };
  }
  if (has(text, 'ResourceNotReady', 'liveness probe', 'readiness probe', 'crashloop', 'container crashed')) {
    return {
      category: 'container-not-ready',
      retryable: false,
      action: 'delete-and-keep-champion',
      reason:
        'the scoring container crashed or failed its probes (model, scoring script or environment): delete the failed deployment and keep the champion',
    };
  }
  if (has(text, 'ImageBuildFailure')) {
    return {
      category: 'image-build',
      retryable: false,
      action: 'keep-champion-report',
      reason: 'the environment image failed to build: keep the champion and report the environment',
    };
  }
  if (
    status === 401 ||
    status === 403 ||
    has(
      text,
      'AuthorizationFailed',
      'AuthenticationFailed',
      'InvalidAuthenticationToken',
      'Unauthorized',
      'Forbidden',
      'authorization error',
      'SecretsInjectionError',
      'role assignment',
      'does not have authorization',
      'permission',
    )
  ) {
    return {
      category: 'authorization',
      retryable: false,
      action: 'keep-champion-report',
      reason: 'an identity lacks a role on storage, registry or workspace: keep the champion and report',
    };
  }
  if (has(text, 'BadArgument', 'InvalidArgument', 'ValidationError', 'invalid')) {
    return {
      category: 'bad-argument',
      retryable: false,
      action: 'keep-champion-report',
      reason: 'the deployment specification is invalid: keep the champion and report',
    };
  }
  return {
    category: 'unknown',
    retryable: false,
    action: 'keep-champion-report',
    reason: `unrecognised deployment failure${code ? ` '${code}'` : ''}: keep the champion and report`,
  };
}

/** A person's rollback: the version in the warm slot back to 100 %, in one traffic update. */
export interface ManualRollback {
  /** The slot serving now, and what it serves ("name:version"). */
  serving: { slot: Slot; model: string };
  /** The warm slot at 0 % that takes the traffic back, and what it holds. */
  warm: { slot: Slot; model: string };
  /** One step: the warm slot 100 %, the serving one 0 %; `rollback` restores the split as it is now. */
  plan: RolloutPlan;
}

/**
 * What a manual rollback of `modelName` would do on this endpoint, or why there is nothing to roll back to: it needs
 * one slot serving everything and the other still deployed (warm), holding a version of the same model. Whether that
 * version is the previous production one is for the stage tags to say (the caller reads them).
 */
export function planManualRollback(
  modelName: string,
  endpoint: {
    traffic: Readonly<TrafficMap>;
    deployments: Readonly<Record<string, { model?: string; provisioningState: string }>>;
  },
): { ok: true; rollback: ManualRollback } | { ok: false; problem: string } {
  let plan: RolloutPlan;
  try {
    plan = planBlueGreenRollout({
      traffic: endpoint.traffic,
      deployments: Object.keys(endpoint.deployments),
      steps: [100],
    });
  } catch (err) {
    if (err instanceof RolloutPlanError) return { ok: false, problem: err.message };
    throw err;
  }
  const servingSlot = plan.champion;
  const servingModel = servingSlot === null ? undefined : endpoint.deployments[servingSlot]?.model;
  if (servingSlot === null || !isSlot(servingSlot) || servingModel === undefined)
    return { ok: false, problem: 'no blue/green slot serves this endpoint: there is nothing to roll back' };
  const warm = endpoint.deployments[plan.challenger];
  if (!warm?.model)
    return {
      ok: false,
      problem: `${plan.challenger} is not deployed: no earlier version is kept warm to roll back to (a release keeps the previous one only for the policy's rollback window)`,
    };
  if (!warm.model.startsWith(`${modelName}:`))
    return { ok: false, problem: `${plan.challenger} holds ${warm.model}, not a version of ${modelName}` };
  if (warm.provisioningState !== 'Succeeded')
    return {
      ok: false,
      problem: `${plan.challenger} (${warm.model}) is ${warm.provisioningState}, not ready to serve`,
    };
  return {
    ok: true,
    rollback: {
      serving: { slot: servingSlot, model: servingModel },
      warm: { slot: plan.challenger, model: warm.model },
      plan,
    },
  };
}
