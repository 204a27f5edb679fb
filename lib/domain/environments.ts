/**
 * QA → production (policy `environments`): what each environment's promotion is given, and the lineage a version
 * copied into the next environment's workspace carries. Pure: the environments flow and the activities share it.
 */
import type { Evidence } from './evaluation';
import type { EnvironmentSettings, Policy } from './policy';

/** Evidence an environment reuses instead of evaluating again (`evaluation.mode: "reuse"`). */
export interface ReusedEvidence {
  /** The environment it was taken in, and that environment's promotion. */
  environment: string;
  promotionId: string;
  evidence: Evidence;
}

/** An environment's promotion policy: evaluation settings may carry evidence to reuse. */
export type EnvironmentPolicy = Policy & { evaluation: Policy['evaluation'] & { reuse?: ReusedEvidence } };

/** Tags a version registered in the next environment's workspace carries back to where it was promoted first. */
export const LINEAGE_TAGS = {
  /** ARM id of the workspace it was copied from. */
  workspace: 'champion.source.workspace',
  /** `name:version` there. */
  version: 'champion.source.version',
  /** The environment it was copied from, and the promotion that released it there. */
  environment: 'champion.source.environment',
  promotion: 'champion.source.promotion',
  /** `sha256:` of the evidence it was promoted on (lib/domain/environments.ts evidenceDigestInput). */
  evidence: 'champion.source.evidence',
} as const;

/** The instance id of an environment's promotion: its parent's, then `@` and the environment's name. */
export function environmentPromotionId(parentId: string, environment: string): string {
  return `${parentId}@${environment}`;
}

/**
 * The policy an environment's promotion runs with: the policy's own settings, with the environment's endpoint,
 * approval, rollout and evaluation data in their place; `reuse` carries the previous environment's evidence when the
 * environment reuses it. No `environments`: an environment's promotion is a single-environment one.
 */
export function environmentPolicy(
  policy: Policy,
  environment: EnvironmentSettings,
  reuse?: ReusedEvidence,
): EnvironmentPolicy {
  const { environments: _environments, ...single } = policy;
  const evaluation =
    environment.evaluation.mode === 'reuse' && reuse
      ? { ...policy.evaluation, reuse }
      : {
          ...policy.evaluation,
          ...(environment.evaluation.dataAsset ? { dataAsset: environment.evaluation.dataAsset } : {}),
        };
  return {
    ...single,
    environments: undefined,
    endpointName: environment.endpointName ?? policy.endpointName,
    approval: environment.approval ?? policy.approval,
    rollout: environment.rollout ?? policy.rollout,
    evaluation,
  };
}

/** The evidence an environment's promotion reuses, when its policy carries some. */
export function reusedEvidence(policy: Policy): ReusedEvidence | undefined {
  return (policy as EnvironmentPolicy).evaluation.reuse;
}

/** Canonical JSON (keys sorted) of evidence, the input of its digest: the same evidence always hashes the same. */
export function evidenceDigestInput(evidence: unknown): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.keys(value)
          .sort()
          .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
      );
    }
    return value;
  };
  return JSON.stringify(canonical(evidence));
}
