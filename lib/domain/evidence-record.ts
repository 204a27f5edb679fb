/**
 * The evidence an approver sees: both models' metric values, the interval, the guardrails, the smoke test and the
 * paired differences behind a small chart, as kept in a promotion's custom status. Durable fails an orchestration
 * whose custom status passes 16 KB of UTF-16 JSON, so the record is bounded here (numbers rounded, lists and texts
 * cut, the chart dropped last of all) whatever the policy or the failures say. Pure: the promotion builds it.
 */
import type { TestReport } from '../../orchestrations/contract';
import type { Evidence, Label, MetricName, Task } from './evaluation';

/** Per-row change between the two models, challenger against champion, counted in bins for a chart. */
export interface PairedDifferences {
  /**
   * `absolute-error-reduction`: |champion error| − |challenger error| per row (regression);
   * `correctness-change`: challenger right − champion right per row, −1, 0 or 1 (classification).
   * Positive always means the challenger did better on that row.
   */
  measure: 'absolute-error-reduction' | 'correctness-change';
  /** bins + 1 ascending edges; a row falls in [edge i, edge i+1), the last bin closed. */
  edges: number[];
  counts: number[];
  mean: number;
  /** Rows where the challenger did better, worse, the same. */
  better: number;
  worse: number;
  same: number;
}

export interface MetricValues {
  metric: string;
  champion: number | null;
  challenger: number | null;
  /** Oriented so positive = challenger better. */
  improvement: number | null;
  interval: { lower: number; upper: number } | null;
}

export interface GuardrailValues extends MetricValues {
  margin: number;
  passed: boolean | null;
}

export interface SmokeTestRecord {
  ok: boolean;
  requests: number;
  failures: string[];
  p50LatencyMs: number;
  maxLatencyMs: number;
}

/** What a promotion's status says about its evaluation. Promotions evaluated before the values were kept carry the first three fields only. */
export interface EvidenceRecord {
  decision: string;
  reason: string;
  n?: number;
  kind?: Evidence['kind'];
  task?: Task;
  metric?: string;
  direction?: string;
  dataVersion?: string | null;
  minImprovement?: number;
  /** Of the interval (paired evaluations only). */
  confidence?: number;
  primary?: MetricValues;
  guardrails?: GuardrailValues[];
  /** McNemar's exact test on the discordant rows (classification). */
  mcnemar?: { b: number; c: number; pValue: number };
  smokeTest?: SmokeTestRecord;
  differences?: PairedDifferences;
}

/** The most characters the record takes in the status, leaving room for the timeline, the decision and the rest. */
export const EVIDENCE_RECORD_BUDGET = 3000;
const REASON_LIMIT = 400;
const MAX_GUARDRAILS = 8;
const MAX_FAILURES = 3;
const FAILURE_LIMIT = 160;
export const DIFFERENCE_BINS = 15;

const cut = (text: string, limit: number) => (text.length > limit ? `${text.slice(0, limit - 1)}…` : text);

/** Six significant digits: enough to read, and the record stays small. */
export function rounded(value: number): number;
export function rounded(value: number | null): number | null;
export function rounded(value: number | null): number | null {
  if (value === null || value === undefined) return null;
  if (!Number.isFinite(value)) return value;
  return Number(value.toPrecision(6));
}

const interval = (i: { lower: number; upper: number } | null | undefined) =>
  i ? { lower: rounded(i.lower), upper: rounded(i.upper) } : null;

export function evidenceRecord(evidence: Evidence, smokeTest?: TestReport): EvidenceRecord {
  const values = (m: {
    metric: MetricName;
    champion: number | null;
    challenger: number | null;
    improvement: number | null;
    interval?: { lower: number; upper: number } | null;
  }): MetricValues => ({
    metric: m.metric,
    champion: rounded(m.champion),
    challenger: rounded(m.challenger),
    improvement: rounded(m.improvement),
    interval: interval(m.interval),
  });
  const record: EvidenceRecord = {
    decision: evidence.decision,
    reason: cut(String(evidence.reason ?? ''), REASON_LIMIT),
    ...(evidence.kind === 'paired' ? { n: evidence.n } : {}),
    kind: evidence.kind,
    task: evidence.task,
    metric: evidence.metric,
    direction: evidence.direction,
    dataVersion: evidence.dataVersion,
    minImprovement: evidence.minImprovement,
    ...(evidence.kind === 'paired' ? { confidence: evidence.confidence } : {}),
    // An activity's recorded output may predate fields or be partial (replayed histories): never throw on it.
    ...(evidence.primary ? { primary: values(evidence.primary) } : {}),
    ...(Array.isArray(evidence.guardrails)
      ? {
          guardrails: evidence.guardrails
            .slice(0, MAX_GUARDRAILS)
            .map((g) => ({ ...values(g), margin: g.margin, passed: g.passed })),
        }
      : {}),
    ...(evidence.kind === 'paired' && evidence.mcnemar
      ? { mcnemar: { ...evidence.mcnemar, pValue: rounded(evidence.mcnemar.pValue) } }
      : {}),
    ...(smokeTest
      ? {
          smokeTest: {
            ok: smokeTest.ok,
            requests: smokeTest.requests,
            failures: smokeTest.failures.slice(0, MAX_FAILURES).map((f) => cut(f, FAILURE_LIMIT)),
            p50LatencyMs: rounded(smokeTest.p50LatencyMs),
            maxLatencyMs: rounded(smokeTest.maxLatencyMs),
          },
        }
      : {}),
    ...(evidence.kind === 'paired' && evidence.differences ? { differences: evidence.differences } : {}),
  };
  // Past the budget (long metric names, many guardrails), the chart goes first: the values are what is decided on.
  if (JSON.stringify(record).length > EVIDENCE_RECORD_BUDGET) delete record.differences;
  while (JSON.stringify(record).length > EVIDENCE_RECORD_BUDGET && record.guardrails?.length) record.guardrails.pop();
  return record;
}

const MAX_RUN_METRICS = 20;
const RUN_METRIC_TEXT = 64;

/**
 * A trained model's metrics as its retraining run's status keeps them while a person decides whether to register it
 * (the run's page shows them): the `metrics.*` values the job logged, at most 20, names and values cut, so the status
 * stays far from Durable's 16 KB.
 */
export function runMetricsRecord(metrics: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(metrics)
      .filter(([key]) => key.startsWith('metrics.'))
      .slice(0, MAX_RUN_METRICS)
      .map(([key, value]) => [cut(key.slice('metrics.'.length), RUN_METRIC_TEXT), cut(String(value), RUN_METRIC_TEXT)]),
  );
}

/** Per-row loss the chart compares: absolute error (regression) or being wrong (classification). */
function rowScores(task: Task, labels: readonly Label[], predictions: readonly Label[]): number[] {
  if (task === 'regression') return labels.map((label, i) => -Math.abs(Number(predictions[i]) - Number(label)));
  return labels.map((label, i) => (String(predictions[i]) === String(label) ? 1 : 0));
}

/**
 * The paired differences of one evaluation, binned for a chart: for each row, how much better the challenger did
 * than the champion. Undefined without a champion or rows.
 */
export function pairedDifferences(
  task: Task,
  labels: readonly Label[],
  challenger: readonly Label[],
  champion: readonly Label[] | null | undefined,
  bins = DIFFERENCE_BINS,
): PairedDifferences | undefined {
  if (!champion || labels.length === 0) return undefined;
  const mine = rowScores(task, labels, challenger);
  const theirs = rowScores(task, labels, champion);
  const diffs = mine.map((score, i) => score - (theirs[i] as number)).filter(Number.isFinite);
  if (diffs.length === 0) return undefined;
  const better = diffs.filter((d) => d > 0).length;
  const worse = diffs.filter((d) => d < 0).length;
  const mean = diffs.reduce((sum, d) => sum + d, 0) / diffs.length;
  if (task === 'classification') {
    return {
      measure: 'correctness-change',
      edges: [-1.5, -0.5, 0.5, 1.5],
      counts: [worse, diffs.length - better - worse, better],
      mean: rounded(mean),
      better,
      worse,
      same: diffs.length - better - worse,
    };
  }
  // Symmetric around 0, so the bar at 0 is "no change" and the two sides read as better and worse.
  const reach = Math.max(...diffs.map(Math.abs)) || 1;
  const width = (2 * reach) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const d of diffs) counts[Math.min(bins - 1, Math.floor((d + reach) / width))]! += 1;
  return {
    measure: 'absolute-error-reduction',
    edges: Array.from({ length: bins + 1 }, (_, i) => rounded(-reach + i * width)),
    counts,
    mean: rounded(mean),
    better,
    worse,
    same: diffs.length - better - worse,
  };
}
