/**
 * Orchestration versioning as the Durable Functions extension applies it (docs: "Orchestration versioning in
 * Durable Functions"): a new instance is stamped with host.json `defaultVersion` (or the version its starter
 * asked for) in its ExecutionStarted event, where the SDK reads `context.df.version`; a worker only runs the
 * instances its `versionMatchStrategy` accepts, and `versionFailureStrategy` says what happens to the others.
 */

export type VersionMatchStrategy = 'None' | 'Strict' | 'CurrentOrOlder';
export type VersionFailureStrategy = 'Reject' | 'Fail';

export interface VersioningOptions {
  /** host.json `defaultVersion`; undefined (or null) means new instances carry no version. */
  defaultVersion?: string;
  /** Default CurrentOrOlder, as in the extension. */
  matchStrategy?: VersionMatchStrategy;
  /** Default Reject, as in the extension. */
  failureStrategy?: VersionFailureStrategy;
}

const MATCH: readonly VersionMatchStrategy[] = ['None', 'Strict', 'CurrentOrOlder'];
const FAILURE: readonly VersionFailureStrategy[] = ['Reject', 'Fail'];

function enumSetting<T extends string>(key: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined || value === null) return undefined;
  // The extension binds host.json enums case-insensitively.
  const found = allowed.find((a) => typeof value === 'string' && a.toLowerCase() === value.toLowerCase());
  if (!found) throw new Error(`host.json durableTask.${key}: "${String(value)}" is not one of ${allowed.join(', ')}.`);
  return found;
}

/** Reads the three host.json keys (`extensions.durableTask`), refusing values the extension would refuse. */
export function versioningFromHostJson(durableTask: Record<string, unknown> | undefined): VersioningOptions {
  const version = durableTask?.defaultVersion;
  if (version !== undefined && version !== null && typeof version !== 'string') {
    throw new Error(`host.json durableTask.defaultVersion: expected a string, got ${JSON.stringify(version)}.`);
  }
  const options: VersioningOptions = {};
  if (typeof version === 'string' && version !== '') options.defaultVersion = version;
  const match = enumSetting('versionMatchStrategy', durableTask?.versionMatchStrategy, MATCH);
  if (match) options.matchStrategy = match;
  const failure = enumSetting('versionFailureStrategy', durableTask?.versionFailureStrategy, FAILURE);
  if (failure) options.failureStrategy = failure;
  return options;
}

function numericParts(v: string): number[] | undefined {
  return /^\d+(\.\d+){0,3}$/.test(v) ? v.split('.').map(Number) : undefined;
}

/**
 * The documented comparison rules: empty versions are equal and older than any defined one; versions that both
 * parse as numbers ("2", "1.0.3") compare part by part, a missing part being older (System.Version); anything else
 * compares as case-insensitive text.
 */
export function compareVersions(a: string | undefined, b: string | undefined): number {
  const x = a ?? '';
  const y = b ?? '';
  if (x === '' || y === '') return (x === '' ? 0 : 1) - (y === '' ? 0 : 1);
  const px = numericParts(x);
  const py = numericParts(y);
  if (px && py) {
    for (let i = 0; i < Math.max(px.length, py.length); i++) {
      const d = (px[i] ?? -1) - (py[i] ?? -1);
      if (d !== 0) return Math.sign(d);
    }
    return 0;
  }
  const lx = x.toLowerCase();
  const ly = y.toLowerCase();
  return lx < ly ? -1 : lx > ly ? 1 : 0;
}

/** Why this worker must not run an instance of `version`, or undefined when it may. */
export function versionMismatch(options: VersioningOptions, version: string | undefined): string | undefined {
  const strategy = options.matchStrategy ?? 'CurrentOrOlder';
  if (strategy === 'None') return undefined;
  const cmp = compareVersions(version, options.defaultVersion);
  if (strategy === 'Strict' ? cmp === 0 : cmp <= 0) return undefined;
  const want = strategy === 'Strict' ? 'exactly' : 'at most';
  return (
    `The orchestration's version '${version ?? ''}' does not match this worker's version ` +
    `'${options.defaultVersion ?? ''}' (versionMatchStrategy ${strategy}: ${want} the worker's defaultVersion).`
  );
}
