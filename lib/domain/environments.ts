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
  /** With an environment's `registry`: the registry's version it came through (`azureml://registries/…`). */
  registry: 'champion.source.registry',
} as const;

/** Whether a version's lineage tags say it was copied from `ref` (`name:version`) in the workspace `from`. */
export function copiedFrom(tags: Record<string, string>, from: string, ref: string): boolean {
  return tags[LINEAGE_TAGS.workspace]?.toLowerCase() === from.toLowerCase() && tags[LINEAGE_TAGS.version] === ref;
}

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

/** An environment of a policy, by name, as an operator names it (`--environment`, `environment`, `?environment=`). */
export type NamedEnvironment =
  { ok: true; environment: EnvironmentSettings; index: number } | { ok: false; message: string };

/**
 * The environment `name` of `policy`, or the problem naming the field: a policy without environments has none to
 * name, and a name that is not one of them is refused with the ones there are.
 */
export function environmentNamed(policy: Policy, name: unknown, field = 'environment'): NamedEnvironment {
  if (typeof name !== 'string' || name === '') return { ok: false, message: `${field}: must be a non-empty string.` };
  const environments = policy.environments ?? [];
  const shown = JSON.stringify(name.slice(0, 40));
  if (environments.length === 0) {
    return {
      ok: false,
      message: `${field}: ${shown}: the policy of ${policy.modelName} names no environments (it serves one endpoint).`,
    };
  }
  const index = environments.findIndex((e) => e.name === name);
  if (index < 0) {
    const names = environments.map((e) => e.name).join(', ');
    return { ok: false, message: `${field}: ${shown} is not one of ${policy.modelName}'s environments (${names}).` };
  }
  return { ok: true, environment: environments[index]!, index };
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
