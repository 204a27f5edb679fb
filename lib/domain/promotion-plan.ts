/**
 * A promotion's plan: what `promoteModel` would decide and write, from the live state it would start from, without
 * doing any of it (`champion promote MODEL VERSION --dry-run`). Pure, and built from the same decisions the flow
 * takes (newer winner, endpoint preparation, idle slot, stage transitions, who is asked, traffic steps), so the plan
 * cannot drift from what a promotion does. Whatever depends on what has not happened yet (a smoke test, an evaluation
 * that cannot be previewed, a person's decision) is said as a condition, never guessed.
 */
import { asksPerson } from './decisions';
import type { Evidence } from './evaluation';
import type { Registrant } from './people';
import type { Policy } from './policy';
import {
  endpointPreparation,
  idleSlotAction,
  planBlueGreenRollout,
  RolloutPlanError,
  type EndpointPreparation,
  type RolloutPlan,
  type Slot,
  type TrafficMap,
} from './rollout-plan';
import { applyTagWrites, stageOf, transitionWrites, type ModelVersionTags, type TagWrite } from './stages';

/** The endpoint as the flow's `readEndpoint` sees it. */
export interface EndpointState {
  exists: boolean;
  provisioningState?: string;
  traffic: Record<string, number>;
  deployments: Record<string, { model?: string; provisioningState: string }>;
}

/** The evaluation as a dry run could preview it: through deployments that exist, or why not. */
export type EvaluationPreview =
  { previewed: true; evidence: Evidence; through: string } | { previewed: false; why: string };

export interface PromotionPlanInput {
  policy: Policy;
  modelName: string;
  modelVersion: string;
  /** The instance id the start would take. */
  promotionId: string;
  /** The model's versions with their tags, as the registry lists them now. */
  versions: readonly ModelVersionTags[];
  endpoint: EndpointState;
  /** The version as registered: its ARM id and whether Azure deploys it without a scoring script. */
  model: { id: string; deployableWithoutCode: boolean };
  registrant?: Registrant;
  evaluation: EvaluationPreview;
  /** Tags the flow stamps on the deployment and, once released, on the endpoint. */
  releaseTags: Record<string, string>;
  /** ARM id of the workspace: every write's path starts with it. */
  workspacePath: string;
}

export interface ArmWrite {
  method: 'PUT' | 'PATCH' | 'POST' | 'DELETE';
  path: string;
  /** What the body carries (or what the request does). */
  body: string;
  /** When it is sent: `always`, or the condition. */
  when: string;
}

export type PlanVerdict =
  /** The version is in production already: there is nothing to promote, and a start is refused. */
  | 'in-production'
  /** A newer version is already staged or serving: nothing would be deployed. */
  | 'superseded'
  /** The promotion would fail before evaluating (no idle slot, a model Azure cannot deploy as is). */
  | 'would-fail'
  /** The evaluation preview says the challenger loses: it would be deployed, tested, evaluated and removed. */
  | 'would-lose'
  /** It would be staged and go on to approval and release (when the evaluation could not be previewed: if it wins). */
  | 'would-stage';

export interface PromotionPlan {
  modelName: string;
  modelVersion: string;
  promotionId: string;
  verdict: PlanVerdict;
  /** One sentence: what the promotion would do, or where it would stop and why. */
  summary: string;
  endpoint: { name: string; exists: boolean; preparation: EndpointPreparation };
  slot?: {
    challenger: Slot;
    champion: string | null;
    /** false when the idle slot already holds this version, ready: it is used as it is. */
    deploy: boolean;
    /** The idle slot's deployment is still being deleted: the flow waits for it to go first. */
    waitForDelete: boolean;
    /** What the idle slot holds now, which the deployment replaces. */
    replaces?: string;
  };
  smokeTest?: { requests: number; through: Slot; latencyBudgetMs: number };
  evaluation: { mode: Policy['evaluation']['mode'] } & (
    | { previewed: true; decision: Evidence['decision']; reason: string; n?: number; through: string }
    | { previewed: false; why: string }
  );
  /** Tag writes when it is staged (`stage`, and the promotion that staged it), and which promotion it displaces. */
  stageTags: TagWrite[];
  displaces?: { version: string; promotionId?: string };
  approval: {
    /** `yes`; `no`; or `if-inconclusive` when the policy does not require one and the evaluation is unknown. */
    asked: 'yes' | 'no' | 'if-inconclusive';
    /** Who is sent links: the policy's approvers, or null for anyone holding a link. */
    approvers: string[] | null;
    /** Refused as an approver: the person who registered the version. */
    registrant?: Registrant;
    /** As the policy gives it: an ISO-8601 duration or seconds. */
    timeout: string | number;
    onTimeout: 'approve' | 'reject';
  };
  traffic?: { steps: TrafficMap[]; rollback: TrafficMap };
  /** Tag writes once traffic has moved (`production`, the previous one `surpassed`). */
  productionTags: TagWrite[];
  /** Tags stamped on the endpoint at release. */
  endpointTags?: Record<string, string>;
  /** Every ARM write the promotion would make, in order, with when it is sent. */
  armWrites: ArmWrite[];
}

const IF_IT_WINS = 'if it wins (or is inconclusive)';

function describeTags(write: TagWrite): string {
  const set = Object.entries(write.set ?? {}).map(([k, v]) => `${k}=${v}`);
  const removed = (write.remove ?? []).map((k) => `-${k}`);
  return `the version with its tags, ${[...set, ...removed].join(', ')} (the whole version: ARM has no PATCH for model versions)`;
}

export function planPromotion(input: PromotionPlanInput): PromotionPlan {
  const { policy, modelName, modelVersion, promotionId } = input;
  const model = `${modelName}:${modelVersion}`;
  const endpointName = policy.endpointName;
  const endpointPath = `${input.workspacePath}/onlineEndpoints/${endpointName}`;
  const modelPath = (version: string) => `${input.workspacePath}/models/${modelName}/versions/${version}`;
  const writes: ArmWrite[] = [];
  const preparation = endpointPreparation(input.endpoint);
  const approval: PromotionPlan['approval'] = {
    asked: input.evaluation.previewed
      ? asksPerson(policy.approval, input.evaluation.evidence.decision)
        ? 'yes'
        : 'no'
      : asksPerson(policy.approval, 'win')
        ? 'yes'
        : 'if-inconclusive',
    approvers: policy.approval.approvers ? [...policy.approval.approvers] : null,
    ...(input.registrant ? { registrant: input.registrant } : {}),
    timeout: policy.approval.timeout,
    onTimeout: policy.approval.onTimeout,
  };
  const evaluation: PromotionPlan['evaluation'] = input.evaluation.previewed
    ? {
        mode: policy.evaluation.mode,
        previewed: true,
        decision: input.evaluation.evidence.decision,
        reason: input.evaluation.evidence.reason,
        ...(input.evaluation.evidence.kind === 'paired' ? { n: input.evaluation.evidence.n } : {}),
        through: input.evaluation.through,
      }
    : { mode: policy.evaluation.mode, previewed: false, why: input.evaluation.why };
  const base = {
    modelName,
    modelVersion,
    promotionId,
    endpoint: { name: endpointName, exists: input.endpoint.exists, preparation },
    evaluation,
    approval,
    stageTags: [] as TagWrite[],
    productionTags: [] as TagWrite[],
    armWrites: writes,
  };

  // A version in production cannot be staged: the start refuses it (lib/promotions.ts), so nothing is planned.
  const own = input.versions.find((v) => v.version === modelVersion);
  if (own && stageOf(own) === 'production') {
    return {
      ...base,
      verdict: 'in-production',
      summary: `${model} is in production already (stage=production): there is nothing to promote`,
    };
  }

  // As the flow, first: a newer winner already staged or serving supersedes this version before anything is deployed.
  const staging = transitionWrites(input.versions, modelVersion, 'stage', promotionId);
  if (staging.superseded) {
    const { version, stage } = staging.superseded;
    return {
      ...base,
      verdict: 'superseded',
      summary: `${modelName}:${version} is newer and already ${stage}: ${model} would be superseded at once, deploying nothing`,
    };
  }

  if (preparation === 'create') {
    writes.push({
      method: 'PUT',
      path: endpointPath,
      body: `a managed online endpoint: authMode Key, system-assigned identity, tags champion.model=${modelName}`,
      when: 'always (the endpoint does not exist)',
    });
  }
  // A new endpoint starts with no deployments and no traffic.
  const view: EndpointState =
    preparation === 'create'
      ? { exists: true, provisioningState: 'Succeeded', traffic: {}, deployments: {} }
      : input.endpoint;
  let rollout: RolloutPlan;
  try {
    rollout = planBlueGreenRollout({
      traffic: view.traffic,
      deployments: Object.keys(view.deployments),
      steps: policy.rollout.steps,
    });
  } catch (err) {
    if (!(err instanceof RolloutPlanError)) throw err;
    return { ...base, verdict: 'would-fail', summary: `no idle slot on ${endpointName}: ${err.message}` };
  }
  const slotName = rollout.challenger;
  const held = view.deployments[slotName];
  const action = idleSlotAction(held, model);
  const slot: NonNullable<PromotionPlan['slot']> = {
    challenger: slotName,
    champion: rollout.champion,
    deploy: action.deploy,
    waitForDelete: action.waitForDelete,
    ...(held ? { replaces: `${held.model ?? 'an unknown model'} (${held.provisioningState})` } : {}),
  };
  const withSlot = { ...base, slot };

  if (action.deploy) {
    const { codeConfiguration, environment } = policy.rollout;
    if (!input.model.deployableWithoutCode && !(codeConfiguration && environment)) {
      return {
        ...withSlot,
        verdict: 'would-fail',
        summary: `${model} is not an MLflow model and the policy gives no rollout.codeConfiguration and rollout.environment: Azure would not deploy it`,
      };
    }
    const settings = policy.rollout.requestSettings;
    writes.push({
      method: 'PUT',
      path: `${endpointPath}/deployments/${slotName}`,
      body:
        `model ${input.model.id}, ${policy.rollout.instanceCount} × ${policy.rollout.instanceType}` +
        `${codeConfiguration ? `, scoring script ${codeConfiguration.scoringScript}, environment ${environment}` : ''}` +
        `${settings ? `, requestSettings ${JSON.stringify(settings)}` : ''}` +
        `, tags ${Object.entries(input.releaseTags)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}`,
      when: 'always',
    });
  }
  const testSpec = policy.rollout.testSpec;
  const smokeTest = {
    requests: (testSpec.sampleRows ?? []).length + (testSpec.goldenCases ?? []).length,
    through: slotName,
    latencyBudgetMs: testSpec.latencyBudgetMs,
  };
  const removeSlot = (when: string): ArmWrite => ({
    method: 'DELETE',
    path: `${endpointPath}/deployments/${slotName}`,
    body: `removes ${model} from ${slotName} (it never carried traffic)`,
    when,
  });
  const evidence = input.evaluation.previewed ? input.evaluation.evidence : undefined;
  if (evidence && evidence.decision !== 'win' && evidence.decision !== 'inconclusive') {
    writes.push(removeSlot('always: the evaluation preview says it does not win'));
    return {
      ...withSlot,
      smokeTest,
      verdict: 'would-lose',
      summary: `${model} would be ${action.deploy ? `deployed to ${slotName}, ` : ''}tested and evaluated, lose (${evidence.decision}: ${evidence.reason}) and be removed`,
    };
  }
  writes.push(removeSlot(evidence ? 'if the smoke test fails' : `if the smoke test fails or it does not win`));

  const stagedWhen = evidence ? 'always' : IF_IT_WINS;
  for (const write of staging.writes) {
    writes.push({ method: 'PUT', path: modelPath(write.version), body: describeTags(write), when: stagedWhen });
  }
  const released = approval.asked === 'no' ? stagedWhen : `${evidence ? '' : `${IF_IT_WINS}, `}once approved`;
  for (const [index, traffic] of rollout.steps.entries()) {
    writes.push({
      method: 'PUT',
      path: endpointPath,
      body: `the endpoint as read, with traffic ${JSON.stringify(traffic)} (ARM has no PATCH for traffic)${index === 0 ? `; sent only while ${slotName} holds ${model} and the traffic is ${JSON.stringify(rollout.rollback)}` : ''}`,
      when: released,
    });
  }
  const promoted = transitionWrites(
    applyTagWrites(input.versions, staging.writes),
    modelVersion,
    'promote',
    promotionId,
  );
  for (const write of promoted.writes) {
    writes.push({
      method: 'PUT',
      path: modelPath(write.version),
      body: describeTags(write),
      when: `${released}, after the endpoint update has finished`,
    });
  }
  const endpointTags = { ...input.releaseTags, 'champion.slot': slotName };
  writes.push({
    method: 'PATCH',
    path: endpointPath,
    body: `tags ${Object.entries(endpointTags)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')} (the endpoint's other tags kept)`,
    when: `${released}, after the endpoint update has finished`,
  });
  writes.push({
    method: 'PUT',
    path: endpointPath,
    body: `the endpoint as read, with traffic ${JSON.stringify(rollout.rollback)}: the champion back`,
    when: 'if a traffic step fails',
  });

  const asked =
    approval.asked === 'yes'
      ? `wait for ${approval.approvers ? approval.approvers.join(', ') : 'an approver'} (until ${policy.approval.timeout}, then ${policy.approval.onTimeout})`
      : approval.asked === 'no'
        ? 'release without asking'
        : 'release without asking (a person is asked if the evaluation is inconclusive)';
  const steps = rollout.steps.map((s) => JSON.stringify(s)).join(' → ');
  return {
    ...withSlot,
    smokeTest,
    verdict: 'would-stage',
    summary:
      `${model} would be ${action.deploy ? `deployed to ${slotName} at 0 %` : `tested where it is (${slotName})`}` +
      `${rollout.champion ? ` against the champion in ${rollout.champion}` : ' (no champion yet)'}, ` +
      `${evidence ? `win (${evidence.decision})` : 'evaluated'}, staged, ${asked}, then traffic ${steps}`,
    stageTags: staging.writes,
    ...(staging.displaced ? { displaces: staging.displaced } : {}),
    traffic: { steps: rollout.steps, rollback: rollout.rollback },
    productionTags: promoted.writes,
    endpointTags,
  };
}
