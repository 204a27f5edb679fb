/**
 * Azure ML's naming rules for the ARM names Champion puts into request paths, in one place for the edge (which
 * answers 400) and the adapter (which refuses to send). A name that passes has no `/`, `%`, `?`, `#` or `..`, so it
 * can only ever address the resource it names; adapters still URL-encode it.
 *
 * Sources:
 * - Online endpoint names: "Manage and increase quotas and limits for resources with Azure Machine
 *   Learning" (learn.microsoft.com, azure/machine-learning/how-to-manage-quotas), section "Azure Machine Learning
 *   online endpoints and batch endpoints": begin with a letter, 3–32 characters, letters, digits and hyphens.
 *   (Deployment names are Champion's own, `blue` and `green`.)
 * - Asset names (models, data, environments, jobs) and versions: the REST specification
 *   (azure-rest-api-specs, machinelearningservices stable/2022-10-01/mfe.json; @azure/arm-machinelearning's
 *   parameter `name1` carries the same pattern) `^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$`; names registered through the
 *   v1 SDK may also contain ".", which reads accept.
 */

export type ArmNameKind = 'endpoint' | 'asset' | 'version';

interface NameRule {
  pattern: RegExp;
  rule: string;
}

export const ARM_NAME_RULES: Record<ArmNameKind, NameRule> = {
  endpoint: {
    pattern: /^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$/,
    rule: 'must be 3–32 characters: a letter first, then letters, digits or "-", not ending with "-"',
  },
  asset: {
    pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/,
    rule: 'must start with a letter or digit and contain only letters, digits, "-", "_" or "." (at most 255 characters)',
  },
  version: {
    pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/,
    rule: 'must start with a letter or digit and contain only letters, digits, "-", "_" or "." (at most 100 characters)',
  },
};

/** What is wrong with `value` as a name of that kind, or undefined when it is valid. */
export function armNameProblem(kind: ArmNameKind, value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  const { pattern, rule } = ARM_NAME_RULES[kind];
  return pattern.test(value) ? undefined : rule;
}

export class InvalidArmNameError extends Error {
  override readonly name = 'InvalidArmNameError';
  constructor(
    readonly field: string,
    readonly value: string,
    readonly rule: string,
  ) {
    super(`${field}: ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)} ${rule}.`);
  }
}

/** `value` if it is a valid name of that kind; throws {@link InvalidArmNameError} naming `field` otherwise. */
export function checkArmName(kind: ArmNameKind, value: string, field: string = kind): string {
  const problem = armNameProblem(kind, value);
  if (problem) throw new InvalidArmNameError(field, String(value), problem);
  return value;
}

/** A checked name, URL-encoded as one path segment. */
export function armPathSegment(kind: ArmNameKind, value: string, field?: string): string {
  return encodeURIComponent(checkArmName(kind, value, field));
}
