/**
 * Production history: what was in production for a model at any time, who approved it, from which commit, with
 * which evidence. Built from Champion's own records (promotions that released a version, rollbacks that put one
 * back) and the registry (each version's stage tag and who registered it, from which commit and job). Pure: the
 * records are read elsewhere (lib/history.ts).
 */
import type { Evidence } from './evaluation';
import type { ApprovalDecision, PromotionResult, RollbackResult } from '../../orchestrations/contract';
import { STAGE_TAG } from './stages';

/** A promotion instance as the task hub reports it. */
export interface PromotionRecord {
  id: string;
  lastUpdatedTime: string;
  result?: PromotionResult | null;
}

/** A rollback instance as the task hub reports it. */
export interface RollbackRecord {
  id: string;
  lastUpdatedTime: string;
  result?: RollbackResult | null;
}

/** What the history reads of a registered version. */
export interface RegistryVersion {
  version: string;
  tags: Readonly<Record<string, string>>;
  properties: Readonly<Record<string, string>>;
  createdAt?: string;
  createdBy?: string;
  createdByType?: string;
}

/** What put a version in production. */
export type ProductionCause =
  | { kind: 'promotion'; id: string }
  | { kind: 'rollback'; id: string; requestedBy: string; authenticated: boolean; reason: string }
  /** The registry tags it `production` and no record of Champion's says how it got there. */
  | { kind: 'registry' };

export interface ProductionInterval {
  version: string;
  /** When it entered production (the release or rollback was done); null when no record says. */
  from: string | null;
  /** When another version replaced it; null while it serves. */
  until: string | null;
  cause: ProductionCause;
  /** The promotion that released this version (for a rollback, the last one before it), if Champion released it. */
  promotionId: string | null;
  /** The person's decision that promotion took; null when none was asked for or no promotion released it. */
  approval: Pick<ApprovalDecision, 'approver' | 'authenticated' | 'identity' | 'via' | 'at' | 'comment'> | null;
  evidence: Evidence | null;
  /** The model's source commit and training job, as the registry records them. */
  commit: string | null;
  repository: string | null;
  trainingJob: string | null;
  registeredBy: { name: string; type: string | null } | null;
  registeredAt: string | null;
  /** Where it was released, and the commit of Champion that released it. */
  release: { endpointName: string; slot: string; championCommit: string | null } | null;
}

export interface ModelHistory {
  modelName: string;
  /** Oldest first; consecutive intervals meet (one's `until` is the next one's `from`). */
  intervals: ProductionInterval[];
  /** The version the registry tags `production` now (null: none). */
  productionNow: string | null;
  /** Where the records and the registry disagree, said plainly. */
  notes: string[];
}

/**
 * Tags and properties a version's source commit may be under: `git.commit` (what Champion's retraining and the
 * README's registrations write) and MLflow's system tag `mlflow.source.git.commit`.
 */
const COMMIT_KEYS = ['git.commit', 'mlflow.source.git.commit'];
const REPOSITORY_KEYS = ['git.repository', 'mlflow.source.git.repoURL'];
const JOB_KEYS = ['training.job'];

function lookup(version: RegistryVersion | undefined, keys: readonly string[]): string | null {
  if (!version) return null;
  for (const key of keys) {
    const value = version.tags[key] ?? version.properties[key];
    if (value) return value;
  }
  return null;
}

interface Change {
  at: string;
  version: string;
  cause: Exclude<ProductionCause, { kind: 'registry' }>;
  promotion?: PromotionRecord;
}

/** When a finished instance was done: its last timeline entry, else when the task hub last updated it. */
function doneAt(timeline: { at: string }[] | undefined, lastUpdatedTime: string): string {
  return timeline?.at(-1)?.at ?? lastUpdatedTime;
}

const versionOf = (model: string) => model.slice(model.indexOf(':') + 1);

/** The history of `modelName` from its promotions, rollbacks and registered versions (any order). */
export function buildHistory(
  modelName: string,
  records: { promotions: readonly PromotionRecord[]; rollbacks: readonly RollbackRecord[] },
  versions: readonly RegistryVersion[],
): ModelHistory {
  const changes: Change[] = [];
  for (const promotion of records.promotions) {
    const result = promotion.result;
    if (result?.outcome !== 'promoted' || result.modelName !== modelName) continue;
    const at = doneAt(result.timeline, promotion.lastUpdatedTime);
    changes.push({ at, version: result.modelVersion, cause: { kind: 'promotion', id: promotion.id }, promotion });
  }
  for (const rollback of records.rollbacks) {
    const result = rollback.result;
    if (result?.outcome !== 'rolled-back' || result.modelName !== modelName || !result.to) continue;
    changes.push({
      at: doneAt(result.timeline, rollback.lastUpdatedTime),
      version: versionOf(result.to.model),
      cause: {
        kind: 'rollback',
        id: rollback.id,
        requestedBy: result.requestedBy.name,
        authenticated: result.requestedBy.authenticated,
        reason: result.requestReason,
      },
    });
  }
  changes.sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || a.cause.id.localeCompare(b.cause.id));

  const byVersion = new Map(versions.map((v) => [v.version, v]));
  const productionNow = versions.find((v) => v.tags[STAGE_TAG] === 'production')?.version ?? null;
  const notes: string[] = [];
  const intervals: ProductionInterval[] = [];
  /** The last promotion that released each version, as of the change being read. */
  const releasedBy = new Map<string, PromotionRecord>();

  for (const [index, change] of changes.entries()) {
    if (change.promotion) releasedBy.set(change.version, change.promotion);
    const next = changes[index + 1];
    intervals.push(
      interval(change.version, change.at, next?.at ?? null, change.cause, releasedBy.get(change.version), byVersion),
    );
  }

  const last = changes.at(-1);
  if (!last && productionNow) {
    intervals.push(interval(productionNow, null, null, { kind: 'registry' }, undefined, byVersion));
    notes.push(`${modelName}:${productionNow} is tagged production, but no promotion or rollback records how.`);
  } else if (last && productionNow !== last.version) {
    notes.push(
      `The last change recorded put ${modelName}:${last.version} in production (${last.at}), but the registry tags ` +
        (productionNow ? `${modelName}:${productionNow}` : 'no version') +
        ' production now: its tags were changed outside Champion.',
    );
  }
  return { modelName, intervals, productionNow, notes };
}

function interval(
  version: string,
  from: string | null,
  until: string | null,
  cause: ProductionCause,
  promotion: PromotionRecord | undefined,
  byVersion: ReadonlyMap<string, RegistryVersion>,
): ProductionInterval {
  const registered = byVersion.get(version);
  const result = promotion?.result;
  const decision = result?.decision;
  return {
    version,
    from,
    until,
    cause,
    promotionId: promotion?.id ?? null,
    approval: decision
      ? {
          approver: decision.approver,
          ...(decision.authenticated !== undefined ? { authenticated: decision.authenticated } : {}),
          ...(decision.identity ? { identity: decision.identity } : {}),
          via: decision.via,
          at: decision.at,
          ...(decision.comment ? { comment: decision.comment } : {}),
        }
      : null,
    evidence: result?.evidence ?? null,
    commit: lookup(registered, COMMIT_KEYS),
    repository: lookup(registered, REPOSITORY_KEYS),
    trainingJob: lookup(registered, JOB_KEYS),
    registeredBy: registered?.createdBy ? { name: registered.createdBy, type: registered.createdByType ?? null } : null,
    registeredAt: registered?.createdAt ?? null,
    release: result?.release
      ? {
          endpointName: result.release.endpointName,
          slot: result.release.slot,
          championCommit: result.release.gitSha ?? null,
        }
      : null,
  };
}

/**
 * The interval in production at `at` (its `from` ≤ at < its `until`), or undefined when nothing was. An interval
 * whose start no record gives counts from the version's registration.
 */
export function productionAt(history: ModelHistory, at: Date): ProductionInterval | undefined {
  const time = at.getTime();
  return history.intervals.find((entry) => {
    const from = entry.from ?? entry.registeredAt;
    if (from === null || Date.parse(from) > time) return false;
    return entry.until === null || time < Date.parse(entry.until);
  });
}

/** An ISO 8601 date-time with a time zone (`2026-03-01T12:00:00Z`), or undefined when `text` is not one. */
export function parseInstant(text: string): Date | undefined {
  // Date.parse also takes forms such as "March 7" and reads a zone-less time as local: ask for the one unambiguous form.
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
  if (!iso.test(text)) return undefined;
  // Date rolls 2026-02-30 over into March: the calendar date must exist as written.
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined;
  const date = new Date(text.length === 10 ? `${text}T00:00:00Z` : text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export const HISTORY_CSV_COLUMNS = [
  'model',
  'version',
  'from',
  'until',
  'cause',
  'cause_id',
  'requested_by',
  'reason',
  'promotion',
  'approved_by',
  'approver_authenticated',
  'approved_at',
  'evidence_decision',
  'evidence_metric',
  'evidence_reason',
  'commit',
  'repository',
  'training_job',
  'registered_by',
  'registered_at',
  'endpoint',
  'slot',
  'champion_commit',
] as const;

/** One row per interval, oldest first, under a header: RFC 4180 (CRLF line ends, quoted where needed). */
export function historyCsv(history: ModelHistory): string {
  const rows = history.intervals.map((entry) => {
    const cause = entry.cause;
    const row: Record<(typeof HISTORY_CSV_COLUMNS)[number], string | null | undefined> = {
      model: history.modelName,
      version: entry.version,
      from: entry.from,
      until: entry.until,
      cause: cause.kind,
      cause_id: cause.kind === 'registry' ? null : cause.id,
      requested_by: cause.kind === 'rollback' ? cause.requestedBy : null,
      reason: cause.kind === 'rollback' ? cause.reason : null,
      promotion: entry.promotionId,
      approved_by: entry.approval?.approver,
      approver_authenticated: entry.approval ? String(entry.approval.authenticated ?? false) : null,
      approved_at: entry.approval?.at,
      evidence_decision: entry.evidence?.decision,
      evidence_metric: entry.evidence?.metric,
      evidence_reason: entry.evidence?.reason,
      commit: entry.commit,
      repository: entry.repository,
      training_job: entry.trainingJob,
      registered_by: entry.registeredBy?.name,
      registered_at: entry.registeredAt,
      endpoint: entry.release?.endpointName,
      slot: entry.release?.slot,
      champion_commit: entry.release?.championCommit,
    };
    return HISTORY_CSV_COLUMNS.map((column) => row[column]);
  });
  return [HISTORY_CSV_COLUMNS, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/**
 * One CSV field (RFC 4180 §2: quoted when it holds a comma, a quote or a line break; quotes doubled). A text that a
 * spreadsheet would run as a formula (starting with =, +, -, @, tab or CR: OWASP "CSV Injection") is prefixed with
 * an apostrophe, since names and reasons here are anyone's text.
 */
export function csvField(value: string | null | undefined): string {
  if (value === null || value === undefined) return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
