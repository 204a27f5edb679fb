/**
 * Model stage tags on Azure ML model versions.
 *
 * Tag key `stage`, values:
 * - `staged`     — won evaluation, ready for review;
 * - `unstaged`   — was staged, but replaced or rejected before deployment;
 * - `production` — serving;
 * - `surpassed`  — was production, replaced;
 * - no tag       — never passed evaluation.
 * At most one version per model is `staged` and at most one is `production`.
 *
 * Every transition is a pure function from the model's current versions to the minimal list of tag writes; applying
 * the writes and repeating the transition yields no writes, so a retried activity is harmless.
 */

import { compareVersions } from './versions';

export const STAGE_TAG = 'stage';
export const STAGES = ['staged', 'unstaged', 'production', 'surpassed'] as const;
export type Stage = (typeof STAGES)[number];

export interface ModelVersionTags {
  version: string;
  tags: Readonly<Record<string, string>>;
  /** When it was registered: orders versions that are not whole numbers (see compareVersions). */
  createdAt?: string;
}

export interface TagWrite {
  version: string;
  set?: Record<string, string>;
  remove?: string[];
}

export type StageViolation =
  | { kind: 'multiple-staged'; versions: string[]; message: string }
  | { kind: 'multiple-production'; versions: string[]; message: string }
  | { kind: 'unknown-stage'; versions: string[]; message: string }
  | { kind: 'duplicate-version'; versions: string[]; message: string };

/** A transition that makes no sense for the current tags (e.g. staging the version that is serving). */
export class StageTransitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StageTransitionError';
  }
}

export function isStage(value: string | undefined): value is Stage {
  return (STAGES as readonly string[]).includes(value as string);
}

/** The version's stage; undefined when it never passed evaluation (or carries an unknown value). */
export function stageOf(version: ModelVersionTags): Stage | undefined {
  const value = version.tags[STAGE_TAG];
  return isStage(value) ? value : undefined;
}

export function versionsInStage(versions: readonly ModelVersionTags[], stage: Stage): string[] {
  return versions.filter((candidate) => stageOf(candidate) === stage).map((candidate) => candidate.version);
}

function find(versions: readonly ModelVersionTags[], version: string): ModelVersionTags {
  const found = versions.find((candidate) => candidate.version === version);
  if (!found) throw new StageTransitionError(`model version ${version} is not among the model's versions`);
  return found;
}

const setStage = (version: string, stage: Stage): TagWrite => ({ version, set: { [STAGE_TAG]: stage } });

/** Moves every version currently in `from` (other than `except`) to `to`. */
function demoteOthers(versions: readonly ModelVersionTags[], from: Stage, to: Stage, except: string): TagWrite[] {
  return versionsInStage(versions, from)
    .filter((version) => version !== except)
    .map((version) => setStage(version, to));
}

/**
 * The challenger `version` won evaluation: it becomes `staged`, and a previously staged version becomes `unstaged`.
 * Any non-serving version may be staged, including a `surpassed` one (re-evaluated as a rollback candidate);
 * staging the version in production is refused.
 */
export function stageChallenger(versions: readonly ModelVersionTags[], version: string): TagWrite[] {
  const target = find(versions, version);
  if (stageOf(target) === 'production') {
    throw new StageTransitionError(`model version ${version} is in production and cannot be staged`);
  }
  const writes = demoteOthers(versions, 'staged', 'unstaged', version);
  if (stageOf(target) !== 'staged') writes.push(setStage(version, 'staged'));
  return writes;
}

/**
 * The newest winner that stands and is newer than `version`: a version `staged` or in `production`. Staging
 * `version` then would undo a newer winner, so `version` is superseded instead, however late it finished. A newer
 * version that was unstaged (rejected, superseded, failed to roll out) does not stand. "Newer" is compareVersions.
 */
export function newerWinner(
  versions: readonly ModelVersionTags[],
  version: string,
): { version: string; stage: 'staged' | 'production' } | undefined {
  const self = versions.find((candidate) => candidate.version === version) ?? { version };
  const newer = versions
    .filter((candidate) => compareVersions(candidate, self) > 0)
    .flatMap((candidate) => {
      const stage = stageOf(candidate);
      return stage === 'staged' || stage === 'production' ? [{ candidate, stage }] : [];
    })
    .sort((x, y) => compareVersions(y.candidate, x.candidate));
  const newest = newer[0];
  return newest && { version: newest.candidate.version, stage: newest.stage };
}

/**
 * Traffic has moved to `version`: it becomes `production` and the previous production version becomes `surpassed`.
 * Call it only after the endpoint serves the version; tags follow traffic. Any version may be promoted (a rollback
 * promotes a `surpassed` one back).
 */
export function promoteToProduction(versions: readonly ModelVersionTags[], version: string): TagWrite[] {
  const target = find(versions, version);
  const writes = demoteOthers(versions, 'production', 'surpassed', version);
  if (stageOf(target) !== 'production') writes.push(setStage(version, 'production'));
  return writes;
}

/** A staged `version` was replaced before deployment: `staged` → `unstaged`. Any other stage: no writes. */
export function unstage(versions: readonly ModelVersionTags[], version: string): TagWrite[] {
  return stageOf(find(versions, version)) === 'staged' ? [setStage(version, 'unstaged')] : [];
}

/**
 * A person (or the approval timeout) rejected the staged `version`. It passed evaluation but will not be deployed,
 * which is exactly `unstaged`; who rejected it and why belongs in the promotion's event history, not in the tag.
 * Naming the version keeps a late rejection of an old candidate from unstaging a newer one: if `version` is no
 * longer staged there are no writes.
 */
export function rejectStaged(versions: readonly ModelVersionTags[], version: string): TagWrite[] {
  return unstage(versions, version);
}

/** Tag recording which promotion staged a version, so a newer winner can tell it it was superseded. */
export const PROMOTION_TAG = 'champion.promotion';

export type StageTransition = 'stage' | 'promote' | 'reject' | 'unstage';

/** The tag writes of one transition of a promotion, or the newer winner that keeps `version` from being staged. */
export type TransitionWrites =
  | { superseded: { version: string; stage: 'staged' | 'production' }; writes: [] }
  | { superseded?: undefined; writes: TagWrite[]; displaced?: { version: string; promotionId?: string } };

/**
 * What `transition` of `version` by the promotion `promotionId` writes, from the model's versions as they are:
 * staging is refused in favour of a newer winner, unstages the previous staged version (naming the promotion that
 * staged it, so it can be told) and records which promotion staged this one.
 */
export function transitionWrites(
  versions: readonly ModelVersionTags[],
  version: string,
  transition: StageTransition,
  promotionId: string,
): TransitionWrites {
  switch (transition) {
    case 'stage': {
      const superseded = newerWinner(versions, version);
      if (superseded) return { superseded, writes: [] };
      const previous = versionsInStage(versions, 'staged').find((v) => v !== version);
      const displaced = previous
        ? { version: previous, promotionId: versions.find((v) => v.version === previous)?.tags[PROMOTION_TAG] }
        : undefined;
      const writes = stageChallenger(versions, version);
      // Record which promotion staged it; harmless when already there.
      const own = versions.find((v) => v.version === version);
      if (own && own.tags[PROMOTION_TAG] !== promotionId) {
        const existing = writes.find((w) => w.version === version);
        if (existing) existing.set = { ...existing.set, [PROMOTION_TAG]: promotionId };
        else writes.push({ version, set: { [PROMOTION_TAG]: promotionId } });
      }
      return { writes, ...(displaced ? { displaced } : {}) };
    }
    case 'promote':
      return { writes: promoteToProduction(versions, version) };
    case 'reject': {
      const current = versions.find((v) => v.version === version);
      return { writes: current && stageOf(current) === 'staged' ? rejectStaged(versions, version) : [] };
    }
    case 'unstage':
      return { writes: unstage(versions, version) };
  }
}

/** Violations of the tag invariants; empty when the tags are consistent. */
export function checkInvariants(versions: readonly ModelVersionTags[]): StageViolation[] {
  const violations: StageViolation[] = [];
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const candidate of versions) {
    if (seen.has(candidate.version)) duplicates.add(candidate.version);
    seen.add(candidate.version);
  }
  if (duplicates.size > 0) {
    const listed = [...duplicates];
    violations.push({
      kind: 'duplicate-version',
      versions: listed,
      message: `versions listed more than once: ${listed.join(', ')}`,
    });
  }
  const staged = versionsInStage(versions, 'staged');
  if (staged.length > 1) {
    violations.push({
      kind: 'multiple-staged',
      versions: staged,
      message: `more than one staged version: ${staged.join(', ')}`,
    });
  }
  const production = versionsInStage(versions, 'production');
  if (production.length > 1) {
    violations.push({
      kind: 'multiple-production',
      versions: production,
      message: `more than one production version: ${production.join(', ')}`,
    });
  }
  const unknown = versions
    .filter((candidate) => candidate.tags[STAGE_TAG] !== undefined && !isStage(candidate.tags[STAGE_TAG]))
    .map((candidate) => candidate.version);
  if (unknown.length > 0) {
    violations.push({
      kind: 'unknown-stage',
      versions: unknown,
      message: `unknown '${STAGE_TAG}' tag values on versions ${unknown.join(', ')} (expected one of ${STAGES.join(', ')})`,
    });
  }
  return violations;
}

/** The versions after the writes (pure), e.g. to preview a transition or to simulate the registry in tests. */
export function applyTagWrites(versions: readonly ModelVersionTags[], writes: readonly TagWrite[]): ModelVersionTags[] {
  return versions.map((candidate) => {
    const own = writes.filter((write) => write.version === candidate.version);
    if (own.length === 0) return candidate;
    const tags: Record<string, string> = { ...candidate.tags };
    for (const write of own) {
      for (const key of write.remove ?? []) delete tags[key];
      Object.assign(tags, write.set ?? {});
    }
    return { version: candidate.version, tags };
  });
}
