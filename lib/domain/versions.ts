/**
 * Model versions as Azure ML names them. Pure.
 *
 * A version is a string (`ModelVersions_CreateOrUpdate` takes `{version}` as a path string; the auto-incremented
 * series is "1", "2", …). A version named in a request is kept exactly as sent: only the registry can say whether
 * it exists, so "0" or "007" are looked up like any other and refused when not registered.
 */

import { armNameProblem } from './names';

/** What is wrong with a string as a model version's name (whether it is registered is the registry's to say). */
export const versionProblem = (value: string): string | undefined => armNameProblem('version', value);

export type ParsedVersion = { ok: true; version: string } | { ok: false; message: string };

/**
 * A version from a JSON body: a string as Azure ML names it, or a JSON integer (Azure ML's own events send
 * `ModelVersion: 20`). Any other number is refused rather than turned into a string that names another version:
 * `1e20` would become "100000000000000000000" and `1.50` "1.5".
 */
export function parseModelVersion(value: unknown, field = 'modelVersion'): ParsedVersion {
  if (value === undefined || value === null || value === '') return { ok: false, message: `${field}: required.` };
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value > 0) return { ok: true, version: String(value) };
    return {
      ok: false,
      message: `${field}: a number is taken only as a whole number from 1 to ${Number.MAX_SAFE_INTEGER}; send the version as a string, exactly as Azure ML names it.`,
    };
  }
  if (typeof value !== 'string') return { ok: false, message: `${field}: expected a string.` };
  const problem = versionProblem(value);
  if (problem) return { ok: false, message: `${field}: ${JSON.stringify(value.slice(0, 80))} ${problem}.` };
  return { ok: true, version: value };
}

/** A version with what orders it among its model's versions. */
export interface OrderedVersion {
  version: string;
  /** When it was registered (ARM `systemData.createdAt`). */
  createdAt?: string;
}

const WHOLE_NUMBER = /^\d+$/;

/**
 * Which of two versions of a model is newer (> 0: `a`). Versions that are both whole numbers — the series Azure ML
 * numbers itself — follow their numbers (as big integers: "10" is newer than "9", whatever their length). Other
 * versions follow their registration time, which is what Azure ML's `latest` means ("the most recently created,
 * not the most recently updated": azure-ai-ml, `_get_latest` in azure/ai/ml/_utils/_asset_utils.py). Equal times,
 * or times not known, fall back to the versions' text, so the order is total and every caller agrees on it.
 */
export function compareVersions(a: OrderedVersion, b: OrderedVersion): number {
  if (WHOLE_NUMBER.test(a.version) && WHOLE_NUMBER.test(b.version)) {
    const difference = BigInt(a.version) - BigInt(b.version);
    if (difference !== 0n) return difference > 0n ? 1 : -1;
  }
  const at = Date.parse(a.createdAt ?? '');
  const bt = Date.parse(b.createdAt ?? '');
  if (Number.isFinite(at) && Number.isFinite(bt) && at !== bt) return at > bt ? 1 : -1;
  return a.version === b.version ? 0 : a.version > b.version ? 1 : -1;
}
