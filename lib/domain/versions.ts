/**
 * Model versions as Azure ML names them. Pure.
 *
 * A version is a string (`ModelVersions_CreateOrUpdate` takes `{version}` as a path string; the auto-incremented
 * series is "1", "2", …). A version named in a request is kept exactly as sent: only the registry can say whether
 * it exists, so "0" or "007" are looked up like any other and refused when not registered.
 */

/** The characters a version may have here: what can sit in an instance id and an ARM path without escaping. */
const VERSION_SHAPE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Whether a string has a model version's shape (whether it is registered is the registry's to say). */
export const isModelVersion = (value: string): boolean => VERSION_SHAPE.test(value);

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
  if (!isModelVersion(value)) {
    return {
      ok: false,
      message: `${field}: ${JSON.stringify(value.slice(0, 80))} is not a model version (letters, digits, '.', '_' and '-', at most 64).`,
    };
  }
  return { ok: true, version: value };
}
