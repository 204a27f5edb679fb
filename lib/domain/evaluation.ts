/**
 * The champion/challenger decision.
 *
 * Two modes:
 * - paired (`comparePairedPredictions`): both models predicted the same evaluation rows; per-row losses are compared
 *   and a seeded row bootstrap gives a percentile interval for the improvement. Classification also gets McNemar's
 *   exact test on the correct/incorrect table (b = champion right & challenger wrong, c = the reverse).
 * - recorded (`compareRecordedMetrics`): metrics logged in model version properties are compared as point values,
 *   and only when both were computed on the same evaluation data version; otherwise the comparison is refused.
 *
 * Conventions used throughout:
 * - "improvement" is oriented so that positive always means the challenger is better (champion − challenger for
 *   losses such as MSE, challenger − champion for accuracy, F1 and AUC).
 * - The minimum improvement δ is ABSOLUTE, in the units of the primary metric (δ = 0.5 for MSE means "MSE lower by at
 *   least 0.5"; δ = 0.01 for accuracy means "at least one percentage point more accurate"). The relative improvement
 *   (improvement / champion value) is reported but never decides.
 * - Guardrail margins are absolute too: a guardrail holds when the interval's lower bound of its improvement is
 *   ≥ −margin, i.e. the challenger is plausibly not worse than the champion by more than the margin.
 *
 * Everything is a pure function of its inputs (the bootstrap uses a seeded generator), so a replayed activity
 * reaches the same decision, and the returned evidence is plain JSON.
 */
import { createRandom } from './random';

import type { PairedDifferences } from './evidence-record';

export type Task = 'regression' | 'classification';

export const REGRESSION_METRICS = ['mse', 'mae', 'rmse'] as const;
export const CLASSIFICATION_METRICS = ['accuracy', 'f1', 'auc'] as const;
export type RegressionMetric = (typeof REGRESSION_METRICS)[number];
export type ClassificationMetric = (typeof CLASSIFICATION_METRICS)[number];
export type MetricName = RegressionMetric | ClassificationMetric;
export type MetricDirection = 'lower-is-better' | 'higher-is-better';

export const DEFAULT_BOOTSTRAP_SAMPLES = 2000;
export const DEFAULT_BOOTSTRAP_SEED = 20240917;
export const DEFAULT_CONFIDENCE = 0.95;
export const DEFAULT_MIN_SAMPLES = 100;
/** Model version property naming the evaluation data (asset version) its recorded metrics were computed on. */
export const EVALUATION_DATA_VERSION_PROPERTY = 'evaluation_data_version';

export function metricsForTask(task: Task): readonly MetricName[] {
  return task === 'regression' ? REGRESSION_METRICS : CLASSIFICATION_METRICS;
}

export function isMetricForTask(task: Task, metric: string): metric is MetricName {
  return (metricsForTask(task) as readonly string[]).includes(metric);
}

export function metricDirection(metric: MetricName): MetricDirection {
  return metric === 'mse' || metric === 'mae' || metric === 'rmse' ? 'lower-is-better' : 'higher-is-better';
}

/** A class label or regression target. Classification labels are compared by their text, so 1, '1' are equal. */
export type Label = string | number | boolean;

export interface GuardrailSpec {
  metric: MetricName;
  /** How much worse (absolute, metric units) the challenger may be on this metric. */
  margin: number;
}

/** What the comparison needs from a model's policy; a parsed `Policy` satisfies it. */
export interface ComparisonPolicy {
  modelName?: string;
  task: Task;
  primaryMetric: MetricName;
  /** δ: absolute, in primary-metric units, ≥ 0. */
  minImprovement: number;
  guardrails?: readonly GuardrailSpec[];
  evaluation?: {
    minSamples?: number;
    bootstrapSamples?: number;
    seed?: number;
    confidence?: number;
    /** The positive class for F1 and AUC; inferred when labels are 0/1 or true/false. */
    positiveLabel?: Label;
    /** Decision when there is no champion yet (first model). Default `win`. */
    whenNoChampion?: 'win' | 'inconclusive';
  };
}

export interface ModelPredictions {
  /** One prediction per row: a number for regression, a class label for classification. */
  predictions: readonly Label[];
  /** Score (e.g. probability) of the positive class per row; required when AUC is the primary metric or a guardrail. */
  scores?: readonly number[];
}

export interface PairedData {
  labels: readonly Label[];
  challenger: ModelPredictions;
  /** Absent or null when there is no champion yet. */
  champion?: ModelPredictions | null;
  /** Recorded in the evidence, e.g. `iris-eval:3`. */
  dataVersion?: string;
}

export type Decision = 'win' | 'lose' | 'inconclusive';

export type PairedDecisionRule =
  | 'no-champion'
  | 'below-min-samples'
  | 'primary-undefined'
  | 'guardrail-breached'
  | 'guardrail-undefined'
  | 'mcnemar-not-significant'
  | 'interval-clears-min-improvement'
  | 'interval-below-min-improvement'
  | 'interval-below-zero'
  | 'interval-inconclusive';

export interface Interval {
  lower: number;
  upper: number;
}

export interface MetricComparison {
  metric: MetricName;
  direction: MetricDirection;
  /** Metric value of each model on the evaluation rows; null when undefined there (e.g. AUC with one class). */
  champion: number | null;
  challenger: number | null;
  /** Oriented so positive = challenger better; null without a champion or when undefined. */
  improvement: number | null;
  /** improvement / |champion value|. */
  relativeImprovement: number | null;
  /** Percentile bootstrap interval of the improvement at the evidence's confidence level. */
  interval: Interval | null;
  /** Bootstrap replicates in which the metric was defined (all of them except for AUC/F1 on tiny samples). */
  resamplesUsed: number;
}

export interface GuardrailResult extends MetricComparison {
  margin: number;
  /** null when it could not be evaluated. */
  passed: boolean | null;
}

export interface McNemarResult {
  /** Rows the champion got right and the challenger wrong. */
  b: number;
  /** Rows the challenger got right and the champion wrong. */
  c: number;
  /** Two-sided exact binomial test of c against b + c trials at p = 0.5. */
  pValue: number;
}

export interface PairedEvidence {
  kind: 'paired';
  modelName: string | null;
  dataVersion: string | null;
  task: Task;
  metric: MetricName;
  direction: MetricDirection;
  n: number;
  minSamples: number;
  primary: MetricComparison;
  minImprovement: number;
  confidence: number;
  bootstrapSamples: number;
  seed: number;
  mcnemar: McNemarResult | null;
  guardrails: GuardrailResult[];
  decision: Decision;
  rule: PairedDecisionRule;
  reason: string;
  /** Per-row differences binned for a chart (added by the evaluation activity; absent in older histories). */
  differences?: PairedDifferences;
}

/** Thrown for inputs that cannot be compared at all (mismatched lengths, non-numeric targets, bad settings). */
export class EvaluationInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvaluationInputError';
  }
}

interface Settings {
  modelName: string | null;
  task: Task;
  metric: MetricName;
  minImprovement: number;
  guardrails: readonly GuardrailSpec[];
  minSamples: number;
  bootstrapSamples: number;
  seed: number;
  confidence: number;
  positiveLabel: Label | undefined;
  whenNoChampion: 'win' | 'inconclusive';
}

function resolveSettings(policy: ComparisonPolicy): Settings {
  const evaluation = policy.evaluation ?? {};
  const settings: Settings = {
    modelName: policy.modelName ?? null,
    task: policy.task,
    metric: policy.primaryMetric,
    minImprovement: policy.minImprovement,
    guardrails: policy.guardrails ?? [],
    minSamples: evaluation.minSamples ?? DEFAULT_MIN_SAMPLES,
    bootstrapSamples: evaluation.bootstrapSamples ?? DEFAULT_BOOTSTRAP_SAMPLES,
    seed: evaluation.seed ?? DEFAULT_BOOTSTRAP_SEED,
    confidence: evaluation.confidence ?? DEFAULT_CONFIDENCE,
    positiveLabel: evaluation.positiveLabel,
    whenNoChampion: evaluation.whenNoChampion ?? 'win',
  };
  if (!isMetricForTask(settings.task, settings.metric)) {
    throw new EvaluationInputError(`metric '${settings.metric}' does not apply to a ${settings.task} task`);
  }
  for (const guardrail of settings.guardrails) {
    if (!isMetricForTask(settings.task, guardrail.metric)) {
      throw new EvaluationInputError(
        `guardrail metric '${guardrail.metric}' does not apply to a ${settings.task} task`,
      );
    }
    if (!(guardrail.margin >= 0) || !Number.isFinite(guardrail.margin)) {
      throw new EvaluationInputError(`guardrail '${guardrail.metric}' margin must be a finite number ≥ 0`);
    }
  }
  if (!Number.isFinite(settings.minImprovement) || settings.minImprovement < 0) {
    throw new EvaluationInputError('minImprovement must be a finite number ≥ 0');
  }
  if (!(settings.confidence > 0 && settings.confidence < 1)) {
    throw new EvaluationInputError('confidence must be between 0 and 1 (exclusive)');
  }
  if (!Number.isInteger(settings.bootstrapSamples) || settings.bootstrapSamples < 1) {
    throw new EvaluationInputError('bootstrapSamples must be a positive integer');
  }
  if (!Number.isInteger(settings.minSamples) || settings.minSamples < 1) {
    throw new EvaluationInputError('minSamples must be a positive integer');
  }
  if (!Number.isFinite(settings.seed)) throw new EvaluationInputError('seed must be a finite number');
  return settings;
}

// ---------------------------------------------------------------------------------------------------------------
// Per-row preparation

const labelText = (label: Label): string => String(label);

interface ModelRows {
  squaredError: Float64Array | null;
  absoluteError: Float64Array | null;
  correct: Uint8Array | null;
  predictedPositive: Uint8Array | null;
  scoreOrder: ScoreOrder | null;
}

/** Rows sorted by score, with tie groups, so AUC under any row weighting is one linear pass. */
interface ScoreOrder {
  order: Uint32Array;
  /** Start index (into `order`) of each tie group, plus a final sentinel equal to n. */
  groupStarts: Uint32Array;
}

function buildScoreOrder(scores: readonly number[]): ScoreOrder {
  const n = scores.length;
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => (scores[a] as number) - (scores[b] as number));
  const starts: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i === 0 || scores[order[i] as number] !== scores[order[i - 1] as number]) starts.push(i);
  }
  starts.push(n);
  return { order, groupStarts: Uint32Array.from(starts) };
}

/** AUC (Mann–Whitney, ties count one half) under row weights; NaN when either class has no weight. */
function weightedAuc(scoreOrder: ScoreOrder, actualPositive: Uint8Array, weights: Float64Array): number {
  const { order, groupStarts } = scoreOrder;
  let negativesBelow = 0;
  let positives = 0;
  let concordant = 0;
  for (let g = 0; g + 1 < groupStarts.length; g++) {
    let groupPositives = 0;
    let groupNegatives = 0;
    const end = groupStarts[g + 1] as number;
    for (let i = groupStarts[g] as number; i < end; i++) {
      const row = order[i] as number;
      const weight = weights[row] as number;
      if (actualPositive[row] === 1) groupPositives += weight;
      else groupNegatives += weight;
    }
    concordant += groupPositives * (negativesBelow + groupNegatives / 2);
    negativesBelow += groupNegatives;
    positives += groupPositives;
  }
  return positives > 0 && negativesBelow > 0 ? concordant / (positives * negativesBelow) : Number.NaN;
}

function f1Score(truePositives: number, falsePositives: number, falseNegatives: number): number {
  const denominator = 2 * truePositives + falsePositives + falseNegatives;
  return denominator > 0 ? (2 * truePositives) / denominator : Number.NaN;
}

function resolvePositiveLabel(labels: readonly Label[], configured: Label | undefined, metric: MetricName): string {
  if (configured !== undefined) return labelText(configured);
  const classes = new Set(labels.map(labelText));
  const within = (allowed: string[]) => [...classes].every((value) => allowed.includes(value));
  if (within(['0', '1'])) return '1';
  if (within(['false', 'true'])) return 'true';
  const shown = [...classes].slice(0, 5).join(', ');
  throw new EvaluationInputError(
    `${metric} needs evaluation.positiveLabel: the labels are not 0/1 or true/false (classes: ${shown})`,
  );
}

function requireLength(what: string, values: readonly unknown[] | undefined, n: number): void {
  if (values === undefined) throw new EvaluationInputError(`${what} are missing`);
  if (values.length !== n) {
    throw new EvaluationInputError(`${what} have ${values.length} rows but the labels have ${n}`);
  }
}

function finiteNumber(value: Label | undefined, what: string, row: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new EvaluationInputError(`${what} at row ${row} is not a finite number: ${String(value)}`);
  }
  return value;
}

interface LabelRows {
  targets: Float64Array | null;
  text: string[] | null;
  actualPositive: Uint8Array | null;
}

function prepareLabels(task: Task, labels: readonly Label[], needsPositives: boolean, positive: string): LabelRows {
  if (task === 'regression') {
    return {
      targets: Float64Array.from(labels, (label, row) => finiteNumber(label, 'label', row)),
      text: null,
      actualPositive: null,
    };
  }
  const text = labels.map(labelText);
  const actualPositive = needsPositives ? Uint8Array.from(text, (value) => (value === positive ? 1 : 0)) : null;
  return { targets: null, text, actualPositive };
}

function prepareModel(
  who: 'champion' | 'challenger',
  model: ModelPredictions,
  labels: LabelRows,
  metrics: ReadonlySet<MetricName>,
  positive: string,
): ModelRows {
  const n = labels.targets?.length ?? labels.text?.length ?? 0;
  requireLength(`${who} predictions`, model.predictions, n);
  const rows: ModelRows = {
    squaredError: null,
    absoluteError: null,
    correct: null,
    predictedPositive: null,
    scoreOrder: null,
  };
  if (labels.targets) {
    const targets = labels.targets;
    const predicted = Float64Array.from(model.predictions, (value, row) =>
      finiteNumber(value, `${who} prediction`, row),
    );
    rows.squaredError = predicted.map((value, row) => (value - (targets[row] as number)) ** 2);
    rows.absoluteError = predicted.map((value, row) => Math.abs(value - (targets[row] as number)));
    return rows;
  }
  const text = labels.text as string[];
  const predictedText = model.predictions.map(labelText);
  rows.correct = Uint8Array.from(predictedText, (value, row) => (value === text[row] ? 1 : 0));
  if (metrics.has('f1'))
    rows.predictedPositive = Uint8Array.from(predictedText, (value) => (value === positive ? 1 : 0));
  if (metrics.has('auc')) {
    requireLength(`${who} scores`, model.scores, n);
    const scores = model.scores as readonly number[];
    scores.forEach((score, row) => finiteNumber(score, `${who} score`, row));
    rows.scoreOrder = buildScoreOrder(scores);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics as functions of column sums (or row weights, for AUC), so one bootstrap pass serves every metric.

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i] as number;
  return total;
}

function pointValue(metric: MetricName, rows: ModelRows, labels: LabelRows, unitWeights: Float64Array): number {
  const n = unitWeights.length;
  switch (metric) {
    case 'mse':
      return sum(rows.squaredError as Float64Array) / n;
    case 'rmse':
      return Math.sqrt(sum(rows.squaredError as Float64Array) / n);
    case 'mae':
      return sum(rows.absoluteError as Float64Array) / n;
    case 'accuracy':
      return sum(rows.correct as Uint8Array) / n;
    case 'f1': {
      const [tp, fp, fn] = confusionCounts(rows.predictedPositive as Uint8Array, labels.actualPositive as Uint8Array);
      return f1Score(tp, fp, fn);
    }
    case 'auc':
      return weightedAuc(rows.scoreOrder as ScoreOrder, labels.actualPositive as Uint8Array, unitWeights);
  }
}

function confusionCounts(predictedPositive: Uint8Array, actualPositive: Uint8Array): [number, number, number] {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < predictedPositive.length; i++) {
    const predicted = predictedPositive[i] === 1;
    const actual = actualPositive[i] === 1;
    if (predicted && actual) tp++;
    else if (predicted) fp++;
    else if (actual) fn++;
  }
  return [tp, fp, fn];
}

/** Oriented difference: positive = challenger better. */
function orient(metric: MetricName, champion: number, challenger: number): number {
  return metricDirection(metric) === 'lower-is-better' ? champion - challenger : challenger - champion;
}

/**
 * How one metric's improvement is computed inside the bootstrap: it owns `columns` per-row values in the row-major
 * matrix (starting at `offset`) and turns their resampled sums (and, for AUC, the row weights) into an improvement.
 */
interface BootstrapStatistic {
  columns: ((row: number) => number)[];
  improvement(sums: Float64Array, offset: number, n: number, weights: Float64Array | null): number;
  needsWeights: boolean;
}

function bootstrapStatistic(
  metric: MetricName,
  champion: ModelRows,
  challenger: ModelRows,
  labels: LabelRows,
): BootstrapStatistic {
  const linear = (a: ArrayLike<number>, b: ArrayLike<number>): BootstrapStatistic => ({
    // Mean-type metrics: the improvement is the mean of one precomputed per-row delta.
    columns: [(row) => (a[row] as number) - (b[row] as number)],
    improvement: (sums, offset, n) => (sums[offset] as number) / n,
    needsWeights: false,
  });
  switch (metric) {
    case 'mse':
      return linear(champion.squaredError as Float64Array, challenger.squaredError as Float64Array);
    case 'mae':
      return linear(champion.absoluteError as Float64Array, challenger.absoluteError as Float64Array);
    case 'accuracy':
      return linear(challenger.correct as Uint8Array, champion.correct as Uint8Array);
    case 'rmse': {
      const a = champion.squaredError as Float64Array;
      const b = challenger.squaredError as Float64Array;
      const statistic: BootstrapStatistic = {
        columns: [(row) => a[row] as number, (row) => b[row] as number],
        improvement: (sums, offset, n) =>
          Math.sqrt((sums[offset] as number) / n) - Math.sqrt((sums[offset + 1] as number) / n),
        needsWeights: false,
      };
      return statistic;
    }
    case 'f1': {
      const actual = labels.actualPositive as Uint8Array;
      const counts = (predicted: Uint8Array) => [
        (row: number) => (predicted[row] === 1 && actual[row] === 1 ? 1 : 0),
        (row: number) => (predicted[row] === 1 && actual[row] === 0 ? 1 : 0),
        (row: number) => (predicted[row] === 0 && actual[row] === 1 ? 1 : 0),
      ];
      const statistic: BootstrapStatistic = {
        columns: [
          ...counts(champion.predictedPositive as Uint8Array),
          ...counts(challenger.predictedPositive as Uint8Array),
        ],
        improvement: (s, o) =>
          f1Score(s[o + 3] as number, s[o + 4] as number, s[o + 5] as number) -
          f1Score(s[o] as number, s[o + 1] as number, s[o + 2] as number),
        needsWeights: false,
      };
      return statistic;
    }
    case 'auc': {
      const actual = labels.actualPositive as Uint8Array;
      const statistic: BootstrapStatistic = {
        columns: [],
        improvement: (_sums, _offset, _n, weights) =>
          weightedAuc(challenger.scoreOrder as ScoreOrder, actual, weights as Float64Array) -
          weightedAuc(champion.scoreOrder as ScoreOrder, actual, weights as Float64Array),
        needsWeights: true,
      };
      return statistic;
    }
  }
}

/**
 * Row bootstrap: B resamples of n rows with replacement, drawn from one seeded generator and shared by every
 * statistic (so primary and guardrail intervals come from the same resamples). Per-row values are precomputed into
 * Float64Array columns; a resample fills a reused index buffer and sums each column through it, allocating nothing.
 * Returns, per statistic, the B replicate improvements (NaN where the metric is undefined in a resample).
 */
function bootstrapReplicates(
  statistics: readonly BootstrapStatistic[],
  n: number,
  resamples: number,
  seed: number,
): Float64Array[] {
  const offsets: number[] = [];
  const columns: Float64Array[] = [];
  for (const statistic of statistics) {
    offsets.push(columns.length);
    for (const value of statistic.columns) columns.push(Float64Array.from({ length: n }, (_, row) => value(row)));
  }
  const weights = statistics.some((statistic) => statistic.needsWeights) ? new Float64Array(n) : null;
  const indices = new Uint32Array(n);
  const sums = new Float64Array(columns.length);
  const replicates = statistics.map(() => new Float64Array(resamples));
  const random = createRandom(seed);

  for (let b = 0; b < resamples; b++) {
    random.fillInts(indices, n);
    for (let k = 0; k < columns.length; k++) sums[k] = sumAt(columns[k] as Float64Array, indices);
    if (weights) {
      weights.fill(0);
      for (let j = 0; j < n; j++) {
        const row = indices[j] as number;
        weights[row] = (weights[row] as number) + 1;
      }
    }
    for (let s = 0; s < statistics.length; s++) {
      (replicates[s] as Float64Array)[b] = (statistics[s] as BootstrapStatistic).improvement(
        sums,
        offsets[s] as number,
        n,
        weights,
      );
    }
  }
  return replicates;
}

function sumAt(column: Float64Array, indices: Uint32Array): number {
  let total = 0;
  for (let j = 0; j < indices.length; j++) total += column[indices[j] as number] as number;
  return total;
}

/** Quantile with linear interpolation between order statistics (R type 7) of sorted values. */
function quantileOfSorted(sorted: Float64Array, probability: number): number {
  const position = (sorted.length - 1) * probability;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  const lower = sorted[below] as number;
  return lower + (position - below) * ((sorted[above] as number) - lower);
}

/** Two-sided percentile interval of the defined (finite) replicates. */
export function percentileInterval(
  replicates: Float64Array,
  confidence: number,
): { interval: Interval | null; used: number } {
  const finite = replicates.filter((value) => Number.isFinite(value)).sort();
  if (finite.length === 0) return { interval: null, used: 0 };
  const tail = (1 - confidence) / 2;
  return {
    interval: { lower: quantileOfSorted(finite, tail), upper: quantileOfSorted(finite, 1 - tail) },
    used: finite.length,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// McNemar's exact test

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x ≥ 0.5 (Lanczos, g = 7; ~15 significant digits). */
function logGamma(x: number): number {
  const shifted = x - 1;
  let series = LANCZOS[0] as number;
  for (let i = 1; i < LANCZOS.length; i++) series += (LANCZOS[i] as number) / (shifted + i);
  const t = shifted + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (shifted + 0.5) * Math.log(t) - t + Math.log(series);
}

function logChoose(trials: number, successes: number): number {
  return logGamma(trials + 1) - logGamma(successes + 1) - logGamma(trials - successes + 1);
}

/**
 * Two-sided exact McNemar p-value: binomial test of c successes in b + c trials at p = 0.5, i.e.
 * min(1, 2·P(X ≤ min(b, c))). Computed in log space, summing the tail downwards from its largest term until the
 * terms stop mattering, so b + c up to millions is cheap and does not underflow early.
 */
export function mcnemarExactPValue(b: number, c: number): number {
  if (!Number.isInteger(b) || !Number.isInteger(c) || b < 0 || c < 0) {
    throw new EvaluationInputError(`McNemar counts must be non-negative integers, got b=${b}, c=${c}`);
  }
  const trials = b + c;
  if (trials === 0) return 1;
  const k = Math.min(b, c);
  const logLargestTerm = logChoose(trials, k) - trials * Math.LN2;
  // P(X = i − 1) / P(X = i) = i / (trials − i + 1) < 1 for i ≤ trials / 2, so terms shrink as i falls.
  let term = 1;
  let total = 1;
  for (let i = k; i > 0; i--) {
    term *= i / (trials - i + 1);
    total += term;
    if (term < total * 1e-17) break;
  }
  return Math.min(1, 2 * Math.exp(logLargestTerm + Math.log(total)));
}

// ---------------------------------------------------------------------------------------------------------------
// Paired comparison

const uniqueMetrics = (settings: Settings): MetricName[] => [
  ...new Set([settings.metric, ...settings.guardrails.map((guardrail) => guardrail.metric)]),
];

const orNull = (value: number): number | null => (Number.isFinite(value) ? value : null);

/** Compact number for reasons: four significant digits, no trailing zeros. */
export function formatNumber(value: number): string {
  if (value === 0 || !Number.isFinite(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

const formatInterval = (interval: Interval) => `[${formatNumber(interval.lower)}, ${formatNumber(interval.upper)}]`;

const percent = (confidence: number) => `${formatNumber(confidence * 100)}%`;

/**
 * Decides whether the challenger beats the champion on the same rows. Rules, in order:
 * 1. no champion → `win` (or the policy's `whenNoChampion`);
 * 2. n below the policy minimum → `inconclusive` (too little evidence for anything, guardrails included);
 * 3. a guardrail's interval lower bound < −margin → `lose`, whatever the primary metric says;
 * 4. primary metric undefined on these rows → `inconclusive`;
 * 5. primary interval lower bound ≥ δ and > 0 → `win` (so δ = 0 means "significantly better", and a copy of the
 *    champion never wins), except that for accuracy McNemar's exact test must also reject equality at
 *    α = 1 − confidence: the percentile bootstrap is too narrow when few rows are discordant;
 *    a guardrail that could not be evaluated downgrades a win to `inconclusive`;
 * 6. upper bound < 0, or upper bound < δ with a point estimate ≤ 0 → `lose`;
 * 7. otherwise `inconclusive` — shown to a person, as the promotion policy says.
 */
export function comparePairedPredictions(data: PairedData, policy: ComparisonPolicy): PairedEvidence {
  const settings = resolveSettings(policy);
  const n = data.labels.length;
  const metrics = uniqueMetrics(settings);
  const metricSet = new Set(metrics);
  const needsPositives = metricSet.has('f1') || metricSet.has('auc');
  const positive =
    settings.task === 'classification' && needsPositives && n > 0
      ? resolvePositiveLabel(data.labels, settings.positiveLabel, metricSet.has('f1') ? 'f1' : 'auc')
      : '';
  const labels = prepareLabels(settings.task, data.labels, needsPositives, positive);
  const challenger = prepareModel('challenger', data.challenger, labels, metricSet, positive);
  const champion = data.champion ? prepareModel('champion', data.champion, labels, metricSet, positive) : null;
  const unitWeights = new Float64Array(n).fill(1);

  const comparisons = new Map<MetricName, MetricComparison>();
  for (const metric of metrics) {
    const challengerValue = n > 0 ? orNull(pointValue(metric, challenger, labels, unitWeights)) : null;
    const championValue = champion && n > 0 ? orNull(pointValue(metric, champion, labels, unitWeights)) : null;
    const improvement =
      championValue !== null && challengerValue !== null ? orient(metric, championValue, challengerValue) : null;
    comparisons.set(metric, {
      metric,
      direction: metricDirection(metric),
      champion: championValue,
      challenger: challengerValue,
      improvement,
      relativeImprovement: improvement !== null && championValue ? improvement / Math.abs(championValue) : null,
      interval: null,
      resamplesUsed: 0,
    });
  }

  if (champion && n > 0) {
    const statistics = metrics.map((metric) => bootstrapStatistic(metric, champion, challenger, labels));
    const replicates = bootstrapReplicates(statistics, n, settings.bootstrapSamples, settings.seed);
    metrics.forEach((metric, index) => {
      const comparison = comparisons.get(metric) as MetricComparison;
      if (comparison.improvement === null) return;
      const { interval, used } = percentileInterval(replicates[index] as Float64Array, settings.confidence);
      comparison.interval = interval;
      comparison.resamplesUsed = used;
    });
  }

  let mcnemar: McNemarResult | null = null;
  if (champion && settings.task === 'classification') {
    const championCorrect = champion.correct as Uint8Array;
    const challengerCorrect = challenger.correct as Uint8Array;
    let b = 0;
    let c = 0;
    for (let row = 0; row < n; row++) {
      if (championCorrect[row] === 1 && challengerCorrect[row] === 0) b++;
      else if (championCorrect[row] === 0 && challengerCorrect[row] === 1) c++;
    }
    mcnemar = { b, c, pValue: mcnemarExactPValue(b, c) };
  }

  const primary = comparisons.get(settings.metric) as MetricComparison;
  const guardrails: GuardrailResult[] = settings.guardrails.map((guardrail) => {
    const comparison = comparisons.get(guardrail.metric) as MetricComparison;
    const passed = comparison.interval === null ? null : comparison.interval.lower >= -guardrail.margin;
    return { ...comparison, margin: guardrail.margin, passed };
  });

  const verdict = decidePaired(settings, n, champion !== null, primary, guardrails, mcnemar);
  return {
    kind: 'paired',
    modelName: settings.modelName,
    dataVersion: data.dataVersion ?? null,
    task: settings.task,
    metric: settings.metric,
    direction: metricDirection(settings.metric),
    n,
    minSamples: settings.minSamples,
    primary,
    minImprovement: settings.minImprovement,
    confidence: settings.confidence,
    bootstrapSamples: settings.bootstrapSamples,
    seed: settings.seed,
    mcnemar,
    guardrails,
    ...verdict,
  };
}

interface Verdict<Rule extends string, Outcome extends string = Decision> {
  decision: Outcome;
  rule: Rule;
  reason: string;
}

function decidePaired(
  settings: Settings,
  n: number,
  hasChampion: boolean,
  primary: MetricComparison,
  guardrails: readonly GuardrailResult[],
  mcnemar: McNemarResult | null,
): Verdict<PairedDecisionRule> {
  const { metric, minImprovement: delta, confidence } = settings;
  const level = percent(confidence);
  if (!hasChampion) {
    return {
      decision: settings.whenNoChampion,
      rule: 'no-champion',
      reason: `no champion: the first model ${settings.whenNoChampion === 'win' ? 'wins by default' : 'needs a person to decide'}`,
    };
  }
  if (n < settings.minSamples) {
    return {
      decision: 'inconclusive',
      rule: 'below-min-samples',
      reason: `inconclusive: n = ${n} rows is below the policy minimum of ${settings.minSamples}`,
    };
  }
  const breached = guardrails.filter((guardrail) => guardrail.passed === false);
  if (breached.length > 0) {
    const details = breached
      .map(
        (guardrail) =>
          `${guardrail.metric} (the ${level} interval of its improvement reaches ${formatNumber((guardrail.interval as Interval).lower)}, beyond the margin −${formatNumber(guardrail.margin)})`,
      )
      .join('; ');
    return {
      decision: 'lose',
      rule: 'guardrail-breached',
      reason: `challenger loses: guardrail breached: ${details}`,
    };
  }
  const interval = primary.interval;
  const point = primary.improvement;
  if (interval === null || point === null) {
    return {
      decision: 'inconclusive',
      rule: 'primary-undefined',
      reason: `inconclusive: ${metric} is undefined on these rows (e.g. AUC or F1 needs both classes present)`,
    };
  }
  const shown = `the ${level} interval of the ${metric} improvement ${formatInterval(interval)}`;
  if (interval.lower >= delta && interval.lower > 0) {
    if (metric === 'accuracy' && mcnemar && mcnemar.pValue >= 1 - confidence) {
      return {
        decision: 'inconclusive',
        rule: 'mcnemar-not-significant',
        reason: `inconclusive: ${shown} clears the minimum improvement ${formatNumber(delta)}, but McNemar's exact test is not significant (b = ${mcnemar.b}, c = ${mcnemar.c}, p = ${formatNumber(mcnemar.pValue)} ≥ ${formatNumber(1 - confidence)})`,
      };
    }
    const unchecked = guardrails.filter((guardrail) => guardrail.passed === null);
    if (unchecked.length > 0) {
      return {
        decision: 'inconclusive',
        rule: 'guardrail-undefined',
        reason: `inconclusive: ${shown} clears the minimum improvement ${formatNumber(delta)}, but guardrail ${unchecked.map((guardrail) => guardrail.metric).join(', ')} could not be evaluated`,
      };
    }
    return {
      decision: 'win',
      rule: 'interval-clears-min-improvement',
      reason: `challenger wins: ${shown} lies at or above the minimum improvement ${formatNumber(delta)}`,
    };
  }
  if (interval.upper < 0) {
    return { decision: 'lose', rule: 'interval-below-zero', reason: `challenger loses: ${shown} lies below 0` };
  }
  if (interval.upper < delta && point <= 0) {
    return {
      decision: 'lose',
      rule: 'interval-below-min-improvement',
      reason: `challenger loses: ${shown} is below the minimum improvement ${formatNumber(delta)} and the point estimate ${formatNumber(point)} shows no gain`,
    };
  }
  return {
    decision: 'inconclusive',
    rule: 'interval-inconclusive',
    reason: `inconclusive: ${shown} (point ${formatNumber(point)}) neither clears the minimum improvement ${formatNumber(delta)} nor rules out a gain; a person should decide`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Recorded metrics

/** Model version properties (Azure ML stores them as strings). */
export type ModelProperties = Readonly<Record<string, string | undefined>>;

export type RecordedDecision = Decision | 'refused';

export type RecordedDecisionRule =
  | 'no-champion'
  | 'refused-missing-data-version'
  | 'refused-different-data-version'
  | 'refused-missing-metric'
  | 'guardrail-breached'
  | 'point-clears-min-improvement'
  | 'point-shows-no-gain'
  | 'point-below-min-improvement';

export interface RecordedMetric {
  metric: MetricName;
  direction: MetricDirection;
  champion: number | null;
  challenger: number | null;
  improvement: number | null;
  relativeImprovement: number | null;
}

export interface RecordedGuardrailResult extends RecordedMetric {
  margin: number;
  passed: boolean | null;
}

export interface RecordedEvidence {
  kind: 'recorded';
  modelName: string | null;
  task: Task;
  metric: MetricName;
  direction: MetricDirection;
  /** The shared evaluation data version; null when refused for a missing or different version. */
  dataVersion: string | null;
  championDataVersion: string | null;
  challengerDataVersion: string | null;
  primary: RecordedMetric;
  minImprovement: number;
  guardrails: RecordedGuardrailResult[];
  decision: RecordedDecision;
  rule: RecordedDecisionRule;
  reason: string;
}

export type Evidence = PairedEvidence | RecordedEvidence;

function readMetric(properties: ModelProperties | null, metric: MetricName): number | null {
  const raw = properties?.[metric];
  if (raw === undefined || raw.trim() === '') return null;
  const value = Number(raw);
  return Number.isFinite(value) ? value : null;
}

const readVersion = (properties: ModelProperties | null): string | null => {
  const raw = properties?.[EVALUATION_DATA_VERSION_PROPERTY]?.trim();
  return raw ? raw : null;
};

/**
 * The cheaper mode: compares metrics recorded in model version properties (property key = metric name, e.g.
 * `mse`; data version under `evaluation_data_version`). There is no interval, so the paired rules are applied to
 * the point value: win when improvement ≥ δ and > 0, lose when it shows no gain, inconclusive for a gain below δ;
 * a guardrail fails when the challenger is worse by more than its margin.
 *
 * Refusal is a decision (`refused`, with the rule saying why), not an exception, so the orchestrator can record and
 * report it like any other outcome. It refuses when either side lacks the data version, the versions differ
 * (metrics from different data are not comparable), or a needed metric is missing or not a number.
 */
export function compareRecordedMetrics(
  championProperties: ModelProperties | null | undefined,
  challengerProperties: ModelProperties,
  policy: ComparisonPolicy,
): RecordedEvidence {
  const settings = resolveSettings(policy);
  const champion = championProperties ?? null;
  const metrics = uniqueMetrics(settings);
  const compared = new Map<MetricName, RecordedMetric>();
  for (const metric of metrics) {
    const championValue = readMetric(champion, metric);
    const challengerValue = readMetric(challengerProperties, metric);
    const improvement =
      championValue !== null && challengerValue !== null ? orient(metric, championValue, challengerValue) : null;
    compared.set(metric, {
      metric,
      direction: metricDirection(metric),
      champion: championValue,
      challenger: challengerValue,
      improvement,
      relativeImprovement: improvement !== null && championValue ? improvement / Math.abs(championValue) : null,
    });
  }
  const primary = compared.get(settings.metric) as RecordedMetric;
  const guardrails: RecordedGuardrailResult[] = settings.guardrails.map((guardrail) => {
    const result = compared.get(guardrail.metric) as RecordedMetric;
    const passed = result.improvement === null ? null : result.improvement >= -guardrail.margin;
    return { ...result, margin: guardrail.margin, passed };
  });
  const championDataVersion = readVersion(champion);
  const challengerDataVersion = readVersion(challengerProperties);
  const sameVersion =
    championDataVersion !== null && championDataVersion === challengerDataVersion ? championDataVersion : null;

  const evidence = (verdict: Verdict<RecordedDecisionRule, RecordedDecision>, dataVersion: string | null) => ({
    kind: 'recorded' as const,
    modelName: settings.modelName,
    task: settings.task,
    metric: settings.metric,
    direction: metricDirection(settings.metric),
    dataVersion,
    championDataVersion,
    challengerDataVersion,
    primary,
    minImprovement: settings.minImprovement,
    guardrails,
    ...verdict,
  });

  if (champion === null) {
    return evidence(
      {
        decision: settings.whenNoChampion,
        rule: 'no-champion',
        reason: `no champion: the first model ${settings.whenNoChampion === 'win' ? 'wins by default' : 'needs a person to decide'}`,
      },
      challengerDataVersion,
    );
  }
  if (championDataVersion === null || challengerDataVersion === null) {
    const missing = [
      championDataVersion === null ? 'champion' : null,
      challengerDataVersion === null ? 'challenger' : null,
    ]
      .filter((who) => who !== null)
      .join(' and ');
    return evidence(
      {
        decision: 'refused',
        rule: 'refused-missing-data-version',
        reason: `refused: the ${missing} did not record '${EVALUATION_DATA_VERSION_PROPERTY}', so the metrics may come from different data`,
      },
      null,
    );
  }
  if (sameVersion === null) {
    return evidence(
      {
        decision: 'refused',
        rule: 'refused-different-data-version',
        reason: `refused: the champion was evaluated on '${championDataVersion}' and the challenger on '${challengerDataVersion}'; metrics from different data are not comparable`,
      },
      null,
    );
  }
  const missingMetrics = [...compared.values()].flatMap((result) => [
    ...(result.champion === null ? [`champion ${result.metric}`] : []),
    ...(result.challenger === null ? [`challenger ${result.metric}`] : []),
  ]);
  if (missingMetrics.length > 0) {
    return evidence(
      {
        decision: 'refused',
        rule: 'refused-missing-metric',
        reason: `refused: missing or non-numeric recorded metric: ${missingMetrics.join(', ')}`,
      },
      sameVersion,
    );
  }
  const breached = guardrails.filter((guardrail) => guardrail.passed === false);
  if (breached.length > 0) {
    const details = breached
      .map(
        (guardrail) =>
          `${guardrail.metric} (improvement ${formatNumber(guardrail.improvement as number)}, beyond the margin −${formatNumber(guardrail.margin)})`,
      )
      .join('; ');
    return evidence(
      { decision: 'lose', rule: 'guardrail-breached', reason: `challenger loses: guardrail breached: ${details}` },
      sameVersion,
    );
  }
  const point = primary.improvement as number;
  const delta = settings.minImprovement;
  const shown = `the recorded ${settings.metric} improvement ${formatNumber(point)} (no interval: recorded metrics only)`;
  const verdict: Verdict<RecordedDecisionRule, RecordedDecision> =
    point >= delta && point > 0
      ? {
          decision: 'win',
          rule: 'point-clears-min-improvement',
          reason: `challenger wins: ${shown} is at or above the minimum improvement ${formatNumber(delta)}`,
        }
      : point <= 0
        ? { decision: 'lose', rule: 'point-shows-no-gain', reason: `challenger loses: ${shown} shows no gain` }
        : {
            decision: 'inconclusive',
            rule: 'point-below-min-improvement',
            reason: `inconclusive: ${shown} is a gain below the minimum improvement ${formatNumber(delta)}; a person should decide`,
          };
  return evidence(verdict, sameVersion);
}
