/**
 * The judge of one rollout step: the challenger compared with the champion over the same window, each metric with
 * an interval and an allowed degradation, as Kayenta's judge does for canaries (and unlike fixed thresholds).
 *
 * Where the numbers come from (the activity gathers them, this module only decides):
 * - Error rate: request counts per deployment from the endpoint's Azure Monitor metrics over the whole window
 *   (`RequestsPerMinute` by `deployment` and `statusCodeClass`). Counts add up across minutes, so a total over the
 *   window is exact whatever its length; errors are the 5xx answers (a 4xx is the caller's request, not the model).
 * - Latency and prediction agreement: per-request samples from Champion's own replay of a sample of requests to both
 *   deployments through the `azureml-model-deployment` header. Azure Monitor keeps latency only as per-minute
 *   averages of percentiles (`RequestLatency_P95` …): a bake of seconds or minutes yields one to a few points, an
 *   average of percentiles is not a percentile, and no interval can be put on them. Replayed requests give real
 *   samples, the same rows to both slots at the same moment, and the predictions to compare.
 *
 * Each metric is a difference oriented so that positive means the challenger is worse, with an allowed degradation
 * `allowed` (absolute, in the metric's units) and an interval at the policy's confidence:
 * - lower bound > allowed → Fail (the challenger is worse than allowed, beyond the noise);
 * - upper bound ≤ allowed → Pass (non-inferiority shown), but only with at least the policy's minimum of data;
 * - otherwise → Inconclusive. Too little data is never Pass; it may still Fail when even its wide interval lies
 *   beyond the allowance (ten errors out of ten requests need no more evidence).
 * The step is Fail when any metric fails, else Inconclusive when any is, else Pass.
 *
 * Everything is a pure function of its inputs (bootstraps use a seeded generator), and the result is small plain
 * JSON: it lands in the promotion's durable history and status.
 */
import { formatNumber, percentileInterval, type Label } from './evaluation';
import { createRandom } from './random';

export type Verdict = 'Pass' | 'Fail' | 'Inconclusive';

export type JudgedMetricName = 'errorRate' | 'latency' | 'latencyP95' | 'disagreement' | 'predictionDifference';

export interface MetricVerdict {
  name: JudgedMetricName;
  /** The champion's value (error rate, median or p95 latency in ms, 0 disagreement, mean prediction). */
  champion: number;
  challenger: number;
  /** Positive = the challenger is worse. */
  difference: number;
  /** Interval of the difference at the policy's confidence; null when the data define none. */
  interval: [number, number] | null;
  allowed: number;
  verdict: Verdict;
}

export interface StepJudgement {
  verdict: Verdict;
  reason: string;
  metrics: MetricVerdict[];
}

export interface SlotObservations {
  /** Requests the deployment answered in the window (Azure Monitor). */
  requests: number;
  /** Of those, answered with a 5xx. */
  serverErrors: number;
  /** Latency (ms) of each replayed request the deployment answered. */
  latenciesMs: readonly number[];
}

/** Answers of both deployments to the same replayed rows, row by row. */
export type ReplayedPredictions =
  | { task: 'classification'; champion: readonly Label[]; challenger: readonly Label[] }
  | { task: 'regression'; champion: readonly number[]; challenger: readonly number[] };

export interface StepObservations {
  champion: SlotObservations;
  challenger: SlotObservations;
  predictions?: ReplayedPredictions;
}

/** The analysis settings a step is judged by (the policy's `rollout.analysis`, defaults applied). */
export interface JudgeSettings {
  /** Two-sided confidence of every interval, e.g. 0.95. */
  confidence: number;
  /** Requests each deployment must have answered in the window before the error rate may Pass. */
  minRequests: number;
  /** Replayed samples (latencies, prediction pairs) each metric needs before it may Pass. */
  minSamples: number;
  metrics: {
    /** Allowed increase of the 5xx rate, absolute (0.01 = one percentage point). */
    errorRate?: { maxIncrease: number };
    /** Allowed shift of latency (ms), Hodges–Lehmann estimate with the Mann–Whitney interval. */
    latency?: { maxIncreaseMs: number };
    /** Allowed increase of the 95th percentile latency (ms), bootstrap interval. */
    latencyP95?: { maxIncreaseMs: number };
    /** Classification: allowed share of replayed rows on which the two deployments answer differently. */
    disagreement?: { max: number };
    /** Regression: allowed mean absolute difference between the two deployments' predictions, in target units. */
    predictionDifference?: { maxMeanAbsolute: number };
  };
  bootstrapSamples: number;
  seed: number;
  /**
   * The error rate may fail the step but not hold it open: a mirror phase, whose error rate comes from a few replayed
   * requests (too few to show non-inferiority at a small allowance) while the live steps that follow judge it on live
   * traffic. The step still needs another metric that passes.
   */
  errorRateFailsOnly?: boolean;
}

export class JudgeInputError extends Error {}

// ---------------------------------------------------------------------------------------------------------------
// Normal quantile (Acklam's rational approximation, relative error < 1.2e-9), for z at the policy's confidence.

const A = [
  -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
];
const B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
const C = [
  -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
];
const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];

export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new JudgeInputError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const low = 0.02425;
  const poly = (coefficients: number[], x: number) => coefficients.reduce((sum, c) => sum * x + c, 0);
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(C, q) / (poly(D, q) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (poly(A, r) * q) / (poly(B, r) * r + 1);
}

const twoSidedZ = (confidence: number) => normalQuantile(1 - (1 - confidence) / 2);

// ---------------------------------------------------------------------------------------------------------------
// Intervals

/** Wilson score interval of a proportion (good coverage at 0 or few events, unlike the Wald interval). */
export function wilsonInterval(events: number, trials: number, z: number): [number, number] {
  if (trials <= 0) return [0, 1];
  const p = events / trials;
  const z2 = z * z;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z / (1 + z2 / trials)) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * Interval of p₂ − p₁ for two independent proportions: Newcombe's hybrid score interval (method 10 of Newcombe 1998,
 * "Interval estimation for the difference between independent proportions"), built from each proportion's Wilson
 * interval. It stays inside [−1, 1] and keeps its coverage with zero events, where the Wald interval collapses.
 */
export function newcombeInterval(
  events1: number,
  trials1: number,
  events2: number,
  trials2: number,
  z: number,
): [number, number] {
  const p1 = events1 / trials1;
  const p2 = events2 / trials2;
  const [l1, u1] = wilsonInterval(events1, trials1, z);
  const [l2, u2] = wilsonInterval(events2, trials2, z);
  const difference = p2 - p1;
  return [
    difference - Math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2),
    difference + Math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2),
  ];
}

/**
 * Hodges–Lehmann estimate of the shift y − x (the median of all m·n pairwise differences) and its distribution-free
 * interval from the Mann–Whitney statistic (Lehmann, "Nonparametrics", §2.6; what R's wilcox.test gives with
 * conf.int and correct = FALSE): the k-th smallest and k-th largest pairwise differences, with k from the normal
 * approximation of U's distribution, k = ⌊mn/2 − z·√(mn(m+n+1)/12)⌋ + 1. Ties are not corrected for (latencies are
 * measured in fractions of a millisecond). Null interval when the samples are too small for this confidence.
 */
export function hodgesLehmannShift(
  x: readonly number[],
  y: readonly number[],
  z: number,
): { shift: number; interval: [number, number] | null } {
  const m = x.length;
  const n = y.length;
  if (m === 0 || n === 0) return { shift: Number.NaN, interval: null };
  const differences = new Float64Array(m * n);
  let at = 0;
  for (const yj of y) for (const xi of x) differences[at++] = yj - xi;
  differences.sort();
  const total = m * n;
  const middle = (total - 1) / 2;
  const shift = ((differences[Math.floor(middle)] as number) + (differences[Math.ceil(middle)] as number)) / 2;
  const k = Math.floor(total / 2 - z * Math.sqrt((total * (m + n + 1)) / 12)) + 1;
  if (k < 1) return { shift, interval: null };
  return { shift, interval: [differences[k - 1] as number, differences[total - k] as number] };
}

function quantile(sorted: Float64Array, probability: number): number {
  const position = (sorted.length - 1) * probability;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  const lower = sorted[below] as number;
  return lower + (position - below) * ((sorted[above] as number) - lower);
}

/** Percentile bootstrap of q-quantile(y) − q-quantile(x), each sample resampled on its own. */
function quantileDifferenceInterval(
  x: readonly number[],
  y: readonly number[],
  q: number,
  confidence: number,
  resamples: number,
  seed: number,
): [number, number] | null {
  const random = createRandom(seed);
  const replicate = (values: readonly number[], indices: Uint32Array, buffer: Float64Array) => {
    random.fillInts(indices, values.length);
    for (let i = 0; i < indices.length; i++) buffer[i] = values[indices[i] as number] as number;
    buffer.sort();
    return quantile(buffer, q);
  };
  const xi = new Uint32Array(x.length);
  const yi = new Uint32Array(y.length);
  const xb = new Float64Array(x.length);
  const yb = new Float64Array(y.length);
  const replicates = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) replicates[b] = replicate(y, yi, yb) - replicate(x, xi, xb);
  const { interval } = percentileInterval(replicates, confidence);
  return interval ? [interval.lower, interval.upper] : null;
}

/** Percentile bootstrap of the mean of paired values, rows resampled. */
function meanInterval(
  values: Float64Array,
  confidence: number,
  resamples: number,
  seed: number,
): [number, number] | null {
  const random = createRandom(seed);
  const indices = new Uint32Array(values.length);
  const replicates = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    random.fillInts(indices, values.length);
    let sum = 0;
    for (let i = 0; i < indices.length; i++) sum += values[indices[i] as number] as number;
    replicates[b] = sum / values.length;
  }
  const { interval } = percentileInterval(replicates, confidence);
  return interval ? [interval.lower, interval.upper] : null;
}

// ---------------------------------------------------------------------------------------------------------------
// Verdicts

/** Interval against the allowance; too little data can Fail but never Pass. */
export function verdictOf(interval: [number, number] | null, allowed: number, enoughData: boolean): Verdict {
  if (interval === null) return 'Inconclusive';
  if (interval[0] > allowed) return 'Fail';
  if (interval[1] <= allowed && enoughData) return 'Pass';
  return 'Inconclusive';
}

const sortedCopy = (values: readonly number[]) => Float64Array.from(values).sort();
const median = (values: readonly number[]) => (values.length === 0 ? Number.NaN : quantile(sortedCopy(values), 0.5));
const round = (value: number) => (Number.isFinite(value) ? Number(value.toPrecision(6)) : value);
const roundInterval = (interval: [number, number] | null): [number, number] | null =>
  interval ? [round(interval[0]), round(interval[1])] : null;
const percent = (value: number) => `${formatNumber(value * 100)}%`;
const ms = (value: number) => `${formatNumber(value)} ms`;

interface Judged {
  metric: MetricVerdict;
  /** Why, in a few words, for the step's one-line reason. */
  because: string;
}

function judged(
  name: JudgedMetricName,
  champion: number,
  challenger: number,
  difference: number,
  interval: [number, number] | null,
  allowed: number,
  enoughData: boolean,
  describe: (verdict: Verdict) => string,
): Judged {
  const verdict = verdictOf(interval, allowed, enoughData);
  return {
    metric: {
      name,
      champion: round(champion),
      challenger: round(challenger),
      difference: round(difference),
      interval: roundInterval(interval),
      allowed,
      verdict,
    },
    because: describe(verdict),
  };
}

const intervalText = (interval: [number, number] | null, unit: (v: number) => string) =>
  interval ? `[${unit(interval[0])}, ${unit(interval[1])}]` : 'undefined';

function judgeErrorRate(observations: StepObservations, settings: JudgeSettings, maxIncrease: number): Judged {
  const { champion, challenger } = observations;
  const z = twoSidedZ(settings.confidence);
  const counts = `${challenger.serverErrors}/${challenger.requests} vs ${champion.serverErrors}/${champion.requests}`;
  if (champion.requests === 0 || challenger.requests === 0) {
    const idle = champion.requests === 0 ? 'champion' : 'challenger';
    return judged(
      'errorRate',
      Number.NaN,
      Number.NaN,
      Number.NaN,
      null,
      maxIncrease,
      false,
      () => `no requests reached the ${idle} in the window`,
    );
  }
  const championRate = champion.serverErrors / champion.requests;
  const challengerRate = challenger.serverErrors / challenger.requests;
  const interval = newcombeInterval(
    champion.serverErrors,
    champion.requests,
    challenger.serverErrors,
    challenger.requests,
    z,
  );
  const enough = Math.min(champion.requests, challenger.requests) >= settings.minRequests;
  return judged(
    'errorRate',
    championRate,
    challengerRate,
    challengerRate - championRate,
    interval,
    maxIncrease,
    enough,
    (verdict) => {
      const summary = `error rate ${percent(challengerRate)} vs ${percent(championRate)} (${counts}), increase ${intervalText(interval, percent)}`;
      if (verdict === 'Fail') return `${summary} beyond the allowed ${percent(maxIncrease)}`;
      if (!enough) return `too few requests for the error rate (${counts}; at least ${settings.minRequests} each)`;
      return verdict === 'Pass'
        ? `${summary} within ${percent(maxIncrease)}`
        : `${summary} straddles the allowed ${percent(maxIncrease)}`;
    },
  );
}

function tooFewSamples(what: string, champion: number, challenger: number, minimum: number): string {
  return `too few replayed samples for ${what} (${challenger} vs ${champion}; at least ${minimum} each)`;
}

function judgeLatencyShift(observations: StepObservations, settings: JudgeSettings, maxIncreaseMs: number): Judged {
  const x = observations.champion.latenciesMs;
  const y = observations.challenger.latenciesMs;
  const { shift, interval } = hodgesLehmannShift(x, y, twoSidedZ(settings.confidence));
  const enough = Math.min(x.length, y.length) >= settings.minSamples;
  return judged('latency', median(x), median(y), shift, interval, maxIncreaseMs, enough, (verdict) => {
    const summary = `latency shift ${ms(shift)} ${intervalText(interval, ms)} (median ${ms(median(y))} vs ${ms(median(x))})`;
    if (verdict === 'Fail') return `${summary} beyond the allowed ${ms(maxIncreaseMs)}`;
    if (!enough) return tooFewSamples('latency', x.length, y.length, settings.minSamples);
    return verdict === 'Pass'
      ? `${summary} within ${ms(maxIncreaseMs)}`
      : `${summary} straddles the allowed ${ms(maxIncreaseMs)}`;
  });
}

function judgeLatencyP95(observations: StepObservations, settings: JudgeSettings, maxIncreaseMs: number): Judged {
  const x = observations.champion.latenciesMs;
  const y = observations.challenger.latenciesMs;
  const p95 = (values: readonly number[]) => (values.length === 0 ? Number.NaN : quantile(sortedCopy(values), 0.95));
  const interval =
    x.length > 0 && y.length > 0
      ? quantileDifferenceInterval(x, y, 0.95, settings.confidence, settings.bootstrapSamples, settings.seed)
      : null;
  const enough = Math.min(x.length, y.length) >= settings.minSamples;
  const difference = p95(y) - p95(x);
  return judged('latencyP95', p95(x), p95(y), difference, interval, maxIncreaseMs, enough, (verdict) => {
    const summary = `p95 latency ${ms(p95(y))} vs ${ms(p95(x))}, increase ${intervalText(interval, ms)}`;
    if (verdict === 'Fail') return `${summary} beyond the allowed ${ms(maxIncreaseMs)}`;
    if (!enough) return tooFewSamples('p95 latency', x.length, y.length, settings.minSamples);
    return verdict === 'Pass'
      ? `${summary} within ${ms(maxIncreaseMs)}`
      : `${summary} straddles the allowed ${ms(maxIncreaseMs)}`;
  });
}

function pairedRows(predictions: ReplayedPredictions): number {
  if (predictions.champion.length !== predictions.challenger.length) {
    throw new JudgeInputError(
      `replayed predictions must be paired row by row: ${predictions.champion.length} champion answers, ${predictions.challenger.length} challenger answers`,
    );
  }
  return predictions.champion.length;
}

function judgeDisagreement(predictions: ReplayedPredictions, settings: JudgeSettings, max: number): Judged {
  const n = pairedRows(predictions);
  let differing = 0;
  for (let i = 0; i < n; i++) {
    if (String(predictions.champion[i]) !== String(predictions.challenger[i])) differing++;
  }
  const rate = n > 0 ? differing / n : Number.NaN;
  const interval = n > 0 ? wilsonInterval(differing, n, twoSidedZ(settings.confidence)) : null;
  const enough = n >= settings.minSamples;
  return judged('disagreement', 0, rate, rate, interval, max, enough, (verdict) => {
    const summary = `predictions differ on ${differing}/${n} replayed rows ${intervalText(interval, percent)}`;
    if (verdict === 'Fail') return `${summary}, beyond the allowed ${percent(max)}`;
    if (!enough) return `too few replayed rows for agreement (${n}; at least ${settings.minSamples})`;
    return verdict === 'Pass'
      ? `${summary}, within ${percent(max)}`
      : `${summary}, straddles the allowed ${percent(max)}`;
  });
}

function judgePredictionDifference(
  predictions: ReplayedPredictions & { task: 'regression' },
  settings: JudgeSettings,
  maxMeanAbsolute: number,
): Judged {
  const n = pairedRows(predictions);
  const absolute = new Float64Array(n);
  let championSum = 0;
  let challengerSum = 0;
  for (let i = 0; i < n; i++) {
    const a = predictions.champion[i] as number;
    const b = predictions.challenger[i] as number;
    if (!Number.isFinite(a) || !Number.isFinite(b)) {
      throw new JudgeInputError(`replayed regression predictions must be finite numbers (row ${i})`);
    }
    absolute[i] = Math.abs(b - a);
    championSum += a;
    challengerSum += b;
  }
  const meanAbsolute = n > 0 ? absolute.reduce((sum, v) => sum + v, 0) / n : Number.NaN;
  const interval = n > 0 ? meanInterval(absolute, settings.confidence, settings.bootstrapSamples, settings.seed) : null;
  const enough = n >= settings.minSamples;
  return judged(
    'predictionDifference',
    championSum / n,
    challengerSum / n,
    meanAbsolute,
    interval,
    maxMeanAbsolute,
    enough,
    (verdict) => {
      const summary = `predictions differ by ${formatNumber(meanAbsolute)} on average over ${n} replayed rows ${intervalText(interval, formatNumber)}`;
      if (verdict === 'Fail') return `${summary}, beyond the allowed ${formatNumber(maxMeanAbsolute)}`;
      if (!enough) return `too few replayed rows for agreement (${n}; at least ${settings.minSamples})`;
      return verdict === 'Pass'
        ? `${summary}, within ${formatNumber(maxMeanAbsolute)}`
        : `${summary}, straddles the allowed ${formatNumber(maxMeanAbsolute)}`;
    },
  );
}

function checkSettings(settings: JudgeSettings): void {
  if (!(settings.confidence > 0 && settings.confidence < 1)) {
    throw new JudgeInputError(`confidence must be in (0, 1), got ${settings.confidence}`);
  }
  for (const [name, value] of [
    ['minRequests', settings.minRequests],
    ['minSamples', settings.minSamples],
    ['bootstrapSamples', settings.bootstrapSamples],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new JudgeInputError(`${name} must be a positive integer, got ${value}`);
  }
}

function checkSlot(name: string, slot: SlotObservations): void {
  if (!Number.isInteger(slot.requests) || slot.requests < 0) {
    throw new JudgeInputError(`${name}.requests must be a non-negative integer, got ${slot.requests}`);
  }
  if (!Number.isInteger(slot.serverErrors) || slot.serverErrors < 0 || slot.serverErrors > slot.requests) {
    throw new JudgeInputError(
      `${name}.serverErrors must be an integer between 0 and requests, got ${slot.serverErrors}`,
    );
  }
  if (slot.latenciesMs.some((v) => !Number.isFinite(v) || v < 0)) {
    throw new JudgeInputError(`${name}.latenciesMs must hold non-negative numbers`);
  }
}

/**
 * Judges one step. Metrics the settings leave out are not judged; prediction agreement is judged only when replayed
 * predictions are given (and `disagreement` for classification, `predictionDifference` for regression).
 */
export function judgeStep(observations: StepObservations, settings: JudgeSettings): StepJudgement {
  checkSettings(settings);
  checkSlot('champion', observations.champion);
  checkSlot('challenger', observations.challenger);
  const wanted = settings.metrics;
  const results: Judged[] = [];
  if (wanted.errorRate) results.push(judgeErrorRate(observations, settings, wanted.errorRate.maxIncrease));
  if (wanted.latency) results.push(judgeLatencyShift(observations, settings, wanted.latency.maxIncreaseMs));
  if (wanted.latencyP95) results.push(judgeLatencyP95(observations, settings, wanted.latencyP95.maxIncreaseMs));
  const predictions = observations.predictions;
  if (predictions?.task === 'classification' && wanted.disagreement) {
    results.push(judgeDisagreement(predictions, settings, wanted.disagreement.max));
  }
  if (predictions?.task === 'regression' && wanted.predictionDifference) {
    results.push(judgePredictionDifference(predictions, settings, wanted.predictionDifference.maxMeanAbsolute));
  }
  if (results.length === 0) {
    return { verdict: 'Inconclusive', reason: 'no metric to judge this step by', metrics: [] };
  }
  const failed = results.filter((r) => r.metric.verdict === 'Fail');
  const deferred = (r: Judged) =>
    settings.errorRateFailsOnly === true && r.metric.name === 'errorRate' && r.metric.verdict === 'Inconclusive';
  const open = results.filter((r) => r.metric.verdict === 'Inconclusive' && !deferred(r));
  const metrics = results.map((r) => r.metric);
  if (failed.length > 0) return { verdict: 'Fail', reason: failed.map((r) => r.because).join('; '), metrics };
  if (open.length > 0) return { verdict: 'Inconclusive', reason: open.map((r) => r.because).join('; '), metrics };
  if (!results.some((r) => r.metric.verdict === 'Pass')) {
    return {
      verdict: 'Inconclusive',
      reason: `${results.map((r) => r.because).join('; ')}; nothing else to judge this step by`,
      metrics,
    };
  }
  const reasons = results.map((r) => (deferred(r) ? `${r.because} (left to the live steps)` : r.because));
  return { verdict: 'Pass', reason: reasons.join('; '), metrics };
}
