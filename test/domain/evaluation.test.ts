import { describe, expect, it } from 'vitest';
import {
  EvaluationInputError,
  compareRecordedMetrics,
  comparePairedPredictions,
  mcnemarExactPValue,
  percentileInterval,
  type ComparisonPolicy,
  type Label,
  type PairedData,
} from '../../lib/domain/evaluation';
import { createRandom } from '../../lib/domain/random';

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function normal(random: ReturnType<typeof createRandom>): number {
  // Box–Muller; 1 − u keeps the logarithm finite.
  const u = 1 - random.nextFloat();
  const v = random.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Exact two-sided binomial p-value with BigInt arithmetic, as an independent reference for small counts. */
function exactMcNemar(b: number, c: number): number {
  const trials = b + c;
  if (trials === 0) return 1;
  const k = Math.min(b, c);
  let coefficient = 1n;
  let tail = 0n;
  for (let i = 0; i <= k; i++) {
    if (i > 0) coefficient = (coefficient * BigInt(trials - i + 1)) / BigInt(i);
    tail += coefficient;
  }
  return Math.min(1, (2 * Number(tail)) / 2 ** trials);
}

const relativeError = (actual: number, expected: number) => Math.abs(actual - expected) / Math.abs(expected);

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 via erf), accurate to ~1e-7. */
function normalCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const erf =
    1 -
    t *
      (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) *
      Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

const regressionPolicy = (overrides: Partial<ComparisonPolicy> = {}): ComparisonPolicy => ({
  modelName: 'house-prices',
  task: 'regression',
  primaryMetric: 'mse',
  minImprovement: 0,
  ...overrides,
});

const classificationPolicy = (overrides: Partial<ComparisonPolicy> = {}): ComparisonPolicy => ({
  modelName: 'churn',
  task: 'classification',
  primaryMetric: 'accuracy',
  minImprovement: 0,
  ...overrides,
});

/** Regression rows where each model's absolute error on row i is given by a function of i. */
function regressionData(n: number, championError: (i: number) => number, challengerError: (i: number) => number) {
  const labels = Array.from({ length: n }, (_, i) => (i % 17) * 1.5);
  return {
    labels,
    champion: { predictions: labels.map((y, i) => y + championError(i)) },
    challenger: { predictions: labels.map((y, i) => y - challengerError(i)) },
  } satisfies PairedData;
}

/**
 * Classification rows from counts of (champion correct, challenger correct) pairs. Labels alternate 0/1 so both
 * classes are present; a wrong prediction is the other class.
 */
function classificationData(counts: { both: number; b: number; c: number; neither: number }): PairedData {
  const labels: number[] = [];
  const champion: number[] = [];
  const challenger: number[] = [];
  const add = (count: number, championRight: boolean, challengerRight: boolean) => {
    for (let i = 0; i < count; i++) {
      const label = labels.length % 2;
      labels.push(label);
      champion.push(championRight ? label : 1 - label);
      challenger.push(challengerRight ? label : 1 - label);
    }
  };
  add(counts.both, true, true);
  add(counts.b, true, false);
  add(counts.c, false, true);
  add(counts.neither, false, false);
  return { labels, champion: { predictions: champion }, challenger: { predictions: challenger } };
}

// ---------------------------------------------------------------------------------------------------------------

describe('mcnemarExactPValue', () => {
  it.each([
    { b: 0, c: 0, p: 1 },
    { b: 3, c: 3, p: 1 },
    { b: 0, c: 5, p: 0.0625 },
    { b: 1, c: 9, p: 22 / 1024 },
    { b: 10, c: 2, p: exactMcNemar(10, 2) },
    { b: 40, c: 60, p: exactMcNemar(40, 60) },
    { b: 123, c: 170, p: exactMcNemar(123, 170) },
    { b: 500, c: 430, p: exactMcNemar(500, 430) },
  ])('b=$b c=$c → p=$p (matches exact BigInt binomial)', ({ b, c, p }) => {
    expect(relativeError(mcnemarExactPValue(b, c), p)).toBeLessThan(1e-9);
    expect(relativeError(mcnemarExactPValue(c, b), p)).toBeLessThan(1e-9);
  });

  it.each([
    { b: 499_000, c: 501_000 },
    { b: 249_000, c: 251_000 },
    { b: 4_900, c: 5_100 },
  ])('agrees with the continuity-corrected normal approximation for large b=$b c=$c', ({ b, c }) => {
    const trials = b + c;
    const z = (Math.min(b, c) + 0.5 - trials / 2) / Math.sqrt(trials / 4);
    const approximation = 2 * normalCdf(z);
    expect(Math.abs(mcnemarExactPValue(b, c) - approximation) / approximation).toBeLessThan(0.01);
  });

  it('stays finite (underflowing to 0) for extreme counts up to a million', () => {
    expect(mcnemarExactPValue(0, 1_000_000)).toBe(0);
    expect(mcnemarExactPValue(400_000, 600_000)).toBe(0);
    const p = mcnemarExactPValue(499_900, 500_100);
    expect(p).toBeGreaterThan(0.6);
    expect(p).toBeLessThanOrEqual(1);
  });

  it.each([
    [-1, 2],
    [1.5, 2],
  ])('rejects invalid counts b=%d c=%d', (b, c) => {
    expect(() => mcnemarExactPValue(b, c)).toThrow(EvaluationInputError);
  });
});

describe('percentileInterval', () => {
  it('takes interpolated quantiles of the finite replicates', () => {
    const replicates = Float64Array.from({ length: 101 }, (_, i) => 100 - i);
    expect(percentileInterval(replicates, 0.5)).toEqual({ interval: { lower: 25, upper: 75 }, used: 101 });
    const withUndefined = Float64Array.from([Number.NaN, 1, 2, 3, Number.NaN]);
    expect(percentileInterval(withUndefined, 0.5)).toEqual({ interval: { lower: 1.5, upper: 2.5 }, used: 3 });
    expect(percentileInterval(Float64Array.from([Number.NaN]), 0.95)).toEqual({ interval: null, used: 0 });
  });
});

describe('comparePairedPredictions — regression', () => {
  it('computes per-metric point values, improvement and relative improvement', () => {
    // Champion errors 2 on every row (MSE 4, MAE 2); challenger errors alternate 1 and 0 (MSE 0.5, MAE 0.5).
    const data = regressionData(
      200,
      () => 2,
      (i) => i % 2,
    );
    const evidence = comparePairedPredictions(
      data,
      regressionPolicy({
        guardrails: [
          { metric: 'mae', margin: 0 },
          { metric: 'rmse', margin: 0 },
        ],
      }),
    );
    expect(evidence.primary).toMatchObject({
      metric: 'mse',
      direction: 'lower-is-better',
      champion: 4,
      challenger: 0.5,
      improvement: 3.5,
      relativeImprovement: 3.5 / 4,
    });
    const [mae, rmse] = evidence.guardrails;
    expect(mae).toMatchObject({ metric: 'mae', champion: 2, challenger: 0.5, improvement: 1.5, passed: true });
    expect(rmse?.champion).toBeCloseTo(2, 12);
    expect(rmse?.challenger).toBeCloseTo(Math.sqrt(0.5), 12);
    expect(rmse?.improvement).toBeCloseTo(2 - Math.sqrt(0.5), 12);
    expect(evidence.primary.interval?.lower).toBeLessThanOrEqual(3.5);
    expect(evidence.primary.interval?.upper).toBeGreaterThanOrEqual(3.5);
  });

  // Per-row squared-error deltas are constant in most rows below, so the interval collapses onto the point.
  it.each([
    {
      name: 'clear gain above δ wins',
      championError: () => 1,
      challengerError: () => 0.5,
      minImprovement: 0.5,
      decision: 'win',
      rule: 'interval-clears-min-improvement',
    },
    {
      name: 'gain that is certain but smaller than δ is inconclusive',
      championError: () => 1,
      challengerError: () => 0.5,
      minImprovement: 1,
      decision: 'inconclusive',
      rule: 'interval-inconclusive',
    },
    {
      name: 'a worse challenger loses (interval below 0)',
      championError: () => 0.5,
      challengerError: () => 1,
      minImprovement: 0,
      decision: 'lose',
      rule: 'interval-below-zero',
    },
    {
      name: 'a copy of the champion does not win at δ = 0',
      championError: () => 1,
      challengerError: () => 1,
      minImprovement: 0,
      decision: 'inconclusive',
      rule: 'interval-inconclusive',
    },
    {
      name: 'a copy of the champion loses when δ > 0 (upper < δ, no gain)',
      championError: () => 1,
      challengerError: () => 1,
      minImprovement: 0.1,
      decision: 'lose',
      rule: 'interval-below-min-improvement',
    },
  ])('$name', ({ championError, challengerError, minImprovement, decision, rule }) => {
    const evidence = comparePairedPredictions(
      regressionData(500, championError, challengerError),
      regressionPolicy({ minImprovement }),
    );
    expect(evidence.decision).toBe(decision);
    expect(evidence.rule).toBe(rule);
    expect(evidence.reason.length).toBeGreaterThan(20);
  });

  it('is inconclusive when noise hides a small gain, and wins when the same gain is measured on more rows', () => {
    const make = (n: number) => {
      const random = createRandom(5);
      const championNoise = Array.from({ length: n }, () => normal(random));
      const challengerNoise = Array.from({ length: n }, () => 0.97 * normal(random));
      return regressionData(
        n,
        (i) => championNoise[i] as number,
        (i) => challengerNoise[i] as number,
      );
    };
    const small = comparePairedPredictions(make(200), regressionPolicy());
    expect(small.decision).toBe('inconclusive');
    expect(small.primary.interval?.lower).toBeLessThan(0);
    expect(small.primary.interval?.upper).toBeGreaterThan(0);
    const large = comparePairedPredictions(make(50_000), regressionPolicy({ evaluation: { bootstrapSamples: 300 } }));
    expect(large.decision).toBe('win');
  });

  it('gives a bootstrap interval close to the normal-theory interval of a mean', () => {
    const n = 1000;
    const random = createRandom(11);
    const deltas = Array.from({ length: n }, () => 0.3 + normal(random));
    // Champion squared error = delta + 10, challenger squared error = 10, so per-row d = delta exactly.
    const labels = new Array<number>(n).fill(0);
    const evidence = comparePairedPredictions(
      {
        labels,
        champion: { predictions: deltas.map((delta) => Math.sqrt(delta + 10)) },
        challenger: { predictions: labels.map(() => Math.sqrt(10)) },
      },
      regressionPolicy(),
    );
    const mean = deltas.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(deltas.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
    const halfWidth = (1.96 * sd) / Math.sqrt(n);
    const interval = evidence.primary.interval;
    expect(evidence.primary.improvement).toBeCloseTo(mean, 10);
    expect(interval?.lower).toBeCloseTo(mean - halfWidth, 1);
    expect(interval?.upper).toBeCloseTo(mean + halfWidth, 1);
    expect(Math.abs((interval!.upper - interval!.lower) / (2 * halfWidth) - 1)).toBeLessThan(0.1);
  });

  it.each([
    { margin: 0.05, decision: 'lose', rule: 'guardrail-breached', passed: false },
    { margin: 0.5, decision: 'win', rule: 'interval-clears-min-improvement', passed: true },
  ])(
    'a guardrail breach loses whatever the primary metric says (mae margin $margin → $decision)',
    ({ margin, decision, rule, passed }) => {
      // Champion errors are 0 or 2 (MSE 2, MAE 1); challenger errors are 1.2 (MSE 1.44 — better, MAE 1.2 — worse).
      const evidence = comparePairedPredictions(
        regressionData(
          2000,
          (i) => (i % 2) * 2,
          () => 1.2,
        ),
        regressionPolicy({ minImprovement: 0.1, guardrails: [{ metric: 'mae', margin }] }),
      );
      expect(evidence.primary.interval!.lower).toBeGreaterThan(0.1);
      expect(evidence.guardrails[0]?.improvement).toBeCloseTo(-0.2, 10);
      expect(evidence.guardrails[0]?.passed).toBe(passed);
      expect(evidence.decision).toBe(decision);
      expect(evidence.rule).toBe(rule);
      if (!passed) expect(evidence.reason).toContain('mae');
    },
  );

  it('is inconclusive below the minimum sample size, even with a clear gain', () => {
    const evidence = comparePairedPredictions(
      regressionData(
        50,
        () => 3,
        () => 0,
      ),
      regressionPolicy({ evaluation: { minSamples: 100 } }),
    );
    expect(evidence).toMatchObject({ n: 50, minSamples: 100, decision: 'inconclusive', rule: 'below-min-samples' });
    expect(evidence.reason).toContain('50');
  });

  it.each([
    { whenNoChampion: undefined, decision: 'win' },
    { whenNoChampion: 'inconclusive' as const, decision: 'inconclusive' },
  ])('with no champion decides $decision (whenNoChampion $whenNoChampion)', ({ whenNoChampion, decision }) => {
    const data = regressionData(
      10,
      () => 0,
      () => 1,
    );
    const evidence = comparePairedPredictions(
      { labels: data.labels, challenger: data.challenger, champion: null },
      regressionPolicy({ evaluation: { whenNoChampion } }),
    );
    expect(evidence).toMatchObject({ decision, rule: 'no-champion' });
    expect(evidence.reason).toContain('no champion');
    expect(evidence.primary).toMatchObject({ champion: null, challenger: 1, improvement: null, interval: null });
  });

  it('is deterministic for a seed, sensitive to the seed, and JSON-serialisable', () => {
    const random = createRandom(3);
    const noise = Array.from({ length: 300 }, () => normal(random));
    const data = {
      ...regressionData(
        300,
        (i) => noise[i] as number,
        (i) => 0.8 * (noise[(i + 1) % 300] as number),
      ),
      dataVersion: 'houses-eval:4',
    };
    const policy = regressionPolicy({ evaluation: { seed: 1234, bootstrapSamples: 500, confidence: 0.9 } });
    const first = comparePairedPredictions(data, policy);
    expect(comparePairedPredictions(data, policy)).toEqual(first);
    expect(JSON.parse(JSON.stringify(first))).toEqual(first);
    expect(first).toMatchObject({
      dataVersion: 'houses-eval:4',
      seed: 1234,
      bootstrapSamples: 500,
      confidence: 0.9,
      n: 300,
    });
    const otherSeed = comparePairedPredictions(
      data,
      regressionPolicy({ evaluation: { seed: 99, bootstrapSamples: 500 } }),
    );
    expect(otherSeed.primary.interval).not.toEqual(first.primary.interval);
  });

  it.each([
    {
      name: 'prediction count differs from labels',
      data: { labels: [1, 2, 3], challenger: { predictions: [1, 2] }, champion: { predictions: [1, 2, 3] } },
      message: /challenger predictions have 2 rows but the labels have 3/,
    },
    {
      name: 'non-numeric regression prediction',
      data: { labels: [1, 2], challenger: { predictions: [1, 'x'] }, champion: { predictions: [1, 2] } },
      message: /challenger prediction at row 1 is not a finite number/,
    },
    {
      name: 'non-numeric regression label',
      data: { labels: [1, Number.NaN], challenger: { predictions: [1, 2] }, champion: { predictions: [1, 2] } },
      message: /label at row 1/,
    },
  ] satisfies { name: string; data: PairedData; message: RegExp }[])(
    'refuses bad input: $name',
    ({ data, message }) => {
      expect(() => comparePairedPredictions(data, regressionPolicy())).toThrow(message);
    },
  );

  it.each([
    { name: 'classification metric on regression', policy: regressionPolicy({ primaryMetric: 'accuracy' }) },
    { name: 'negative δ', policy: regressionPolicy({ minImprovement: -1 }) },
    { name: 'negative margin', policy: regressionPolicy({ guardrails: [{ metric: 'mae', margin: -0.1 }] }) },
    { name: 'confidence 1', policy: regressionPolicy({ evaluation: { confidence: 1 } }) },
    { name: 'zero bootstrap samples', policy: regressionPolicy({ evaluation: { bootstrapSamples: 0 } }) },
  ])('refuses bad settings: $name', ({ policy }) => {
    expect(() =>
      comparePairedPredictions(
        regressionData(
          5,
          () => 1,
          () => 1,
        ),
        policy,
      ),
    ).toThrow(EvaluationInputError);
  });
});

describe('comparePairedPredictions — classification', () => {
  it.each([
    {
      name: 'clearly more accurate challenger wins',
      counts: { both: 780, b: 20, c: 120, neither: 80 },
      minImprovement: 0.05,
      decision: 'win',
      rule: 'interval-clears-min-improvement',
    },
    {
      name: 'more accurate but below δ = 0.2 is inconclusive (a gain is still plausible)',
      counts: { both: 780, b: 20, c: 120, neither: 80 },
      minImprovement: 0.2,
      decision: 'inconclusive',
      rule: 'interval-inconclusive',
    },
    {
      name: 'less accurate challenger loses',
      counts: { both: 780, b: 120, c: 20, neither: 80 },
      minImprovement: 0,
      decision: 'lose',
      rule: 'interval-below-zero',
    },
    {
      // The trap of comparing predictions with predictions: many disagreements, but symmetric in correctness.
      name: 'models that disagree often but are equally accurate: no gain, and δ = 0.05 is ruled out, so it loses',
      counts: { both: 600, b: 150, c: 150, neither: 100 },
      minImprovement: 0.05,
      decision: 'lose',
      rule: 'interval-below-min-improvement',
    },
    {
      // The percentile bootstrap cannot see below 0 when no row favours the champion; McNemar can.
      name: 'five discordant rows all for the challenger are not significant',
      counts: { both: 900, b: 0, c: 5, neither: 95 },
      minImprovement: 0,
      decision: 'inconclusive',
      rule: 'mcnemar-not-significant',
    },
  ])('$name', ({ counts, minImprovement, decision, rule }) => {
    const evidence = comparePairedPredictions(classificationData(counts), classificationPolicy({ minImprovement }));
    const n = counts.both + counts.b + counts.c + counts.neither;
    expect(evidence.mcnemar).toMatchObject({ b: counts.b, c: counts.c });
    expect(relativeError(evidence.mcnemar!.pValue, exactMcNemar(counts.b, counts.c))).toBeLessThan(1e-9);
    expect(evidence.primary.improvement).toBeCloseTo((counts.c - counts.b) / n, 12);
    expect(evidence.primary.champion).toBeCloseTo((counts.both + counts.b) / n, 12);
    expect(evidence.primary.challenger).toBeCloseTo((counts.both + counts.c) / n, 12);
    expect(evidence.decision).toBe(decision);
    expect(evidence.rule).toBe(rule);
  });

  it('compares labels by their text, so 1 and "1" match', () => {
    const labels: Label[] = ['cat', 'dog', '1', 'dog'];
    const evidence = comparePairedPredictions(
      {
        labels,
        champion: { predictions: ['cat', 'cat', 1, 'dog'] },
        challenger: { predictions: ['cat', 'dog', 1, 'dog'] },
      },
      classificationPolicy({ evaluation: { minSamples: 1 } }),
    );
    expect(evidence.primary).toMatchObject({ champion: 0.75, challenger: 1 });
    expect(evidence.mcnemar).toMatchObject({ b: 0, c: 1 });
  });

  it('computes F1 of the positive class and AUC with ties, matching direct formulas', () => {
    const labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 1];
    const championPredictions = [1, 1, 0, 0, 0, 1, 0, 0, 0, 1];
    const challengerPredictions = [1, 1, 1, 0, 0, 0, 0, 1, 0, 1];
    const championScores = [0.9, 0.8, 0.4, 0.3, 0.3, 0.7, 0.2, 0.1, 0.3, 0.6];
    const challengerScores = [0.9, 0.9, 0.7, 0.4, 0.2, 0.3, 0.1, 0.6, 0.4, 0.8];
    const f1 = (predicted: number[]) => {
      const tp = predicted.filter((p, i) => p === 1 && labels[i] === 1).length;
      const fp = predicted.filter((p, i) => p === 1 && labels[i] === 0).length;
      const fn = predicted.filter((p, i) => p === 0 && labels[i] === 1).length;
      return (2 * tp) / (2 * tp + fp + fn);
    };
    const auc = (scores: number[]) => {
      let total = 0;
      let pairs = 0;
      labels.forEach((positive, i) =>
        labels.forEach((negative, j) => {
          if (positive !== 1 || negative !== 0) return;
          pairs++;
          const [a, b] = [scores[i] as number, scores[j] as number];
          total += a > b ? 1 : a === b ? 0.5 : 0;
        }),
      );
      return total / pairs;
    };
    const evidence = comparePairedPredictions(
      {
        labels,
        champion: { predictions: championPredictions, scores: championScores },
        challenger: { predictions: challengerPredictions, scores: challengerScores },
      },
      classificationPolicy({
        primaryMetric: 'f1',
        guardrails: [{ metric: 'auc', margin: 1 }],
        evaluation: { minSamples: 1, bootstrapSamples: 200 },
      }),
    );
    expect(evidence.primary.champion).toBeCloseTo(f1(championPredictions), 12);
    expect(evidence.primary.challenger).toBeCloseTo(f1(challengerPredictions), 12);
    expect(evidence.guardrails[0]?.champion).toBeCloseTo(auc(championScores), 12);
    expect(evidence.guardrails[0]?.challenger).toBeCloseTo(auc(challengerScores), 12);
    expect(evidence.guardrails[0]?.improvement).toBeCloseTo(auc(challengerScores) - auc(championScores), 12);
    // Some tiny resamples hold one class only; those replicates are left out, not counted as zero.
    expect(evidence.guardrails[0]?.resamplesUsed).toBeLessThanOrEqual(200);
    expect(evidence.guardrails[0]?.resamplesUsed).toBeGreaterThan(190);
  });

  it.each([
    {
      name: 'string labels need a positive label for F1',
      positiveLabel: undefined,
      error: /f1 needs evaluation.positiveLabel/,
    },
    { name: 'with positiveLabel F1 works', positiveLabel: 'spam', error: null },
  ])('$name', ({ positiveLabel, error }) => {
    const data: PairedData = {
      labels: ['spam', 'ham', 'spam', 'ham'],
      champion: { predictions: ['spam', 'spam', 'ham', 'ham'] },
      challenger: { predictions: ['spam', 'ham', 'spam', 'ham'] },
    };
    const run = () =>
      comparePairedPredictions(
        data,
        classificationPolicy({ primaryMetric: 'f1', evaluation: { positiveLabel, minSamples: 1 } }),
      );
    if (error) expect(run).toThrow(error);
    else expect(run().primary).toMatchObject({ champion: 0.5, challenger: 1, improvement: 0.5 });
  });

  it('requires scores for AUC', () => {
    const data = classificationData({ both: 5, b: 1, c: 1, neither: 1 });
    expect(() => comparePairedPredictions(data, classificationPolicy({ primaryMetric: 'auc' }))).toThrow(
      /challenger scores are missing/,
    );
  });

  it('does not win when a guardrail cannot be evaluated (AUC with one class)', () => {
    const n = 400;
    const labels = new Array<number>(n).fill(1);
    const evidence = comparePairedPredictions(
      {
        labels,
        champion: { predictions: labels.map((_, i) => (i < 300 ? 1 : 0)), scores: labels.map(() => 0.5) },
        challenger: { predictions: labels.map(() => 1), scores: labels.map(() => 0.9) },
      },
      classificationPolicy({ guardrails: [{ metric: 'auc', margin: 0.01 }] }),
    );
    expect(evidence.primary.interval!.lower).toBeGreaterThan(0);
    expect(evidence.guardrails[0]).toMatchObject({ champion: null, challenger: null, passed: null });
    expect(evidence).toMatchObject({ decision: 'inconclusive', rule: 'guardrail-undefined' });
  });

  it('is inconclusive when the primary metric is undefined on the rows', () => {
    const labels = new Array<number>(200).fill(0);
    const evidence = comparePairedPredictions(
      { labels, champion: { predictions: labels }, challenger: { predictions: labels } },
      classificationPolicy({ primaryMetric: 'f1' }),
    );
    expect(evidence).toMatchObject({ decision: 'inconclusive', rule: 'primary-undefined' });
  });
});

describe('compareRecordedMetrics', () => {
  const version = { evaluation_data_version: 'houses-eval:4' };
  const policy = regressionPolicy({ minImprovement: 0.1, guardrails: [{ metric: 'mae', margin: 0.05 }] });

  it.each([
    {
      name: 'a gain of at least δ wins',
      champion: { ...version, mse: '2.0', mae: '1.0' },
      challenger: { ...version, mse: '1.5', mae: '1.0' },
      decision: 'win',
      rule: 'point-clears-min-improvement',
    },
    {
      name: 'a gain below δ is inconclusive',
      champion: { ...version, mse: '2.0', mae: '1.0' },
      challenger: { ...version, mse: '1.95', mae: '1.0' },
      decision: 'inconclusive',
      rule: 'point-below-min-improvement',
    },
    {
      name: 'no gain loses',
      champion: { ...version, mse: '2.0', mae: '1.0' },
      challenger: { ...version, mse: '2.5', mae: '1.0' },
      decision: 'lose',
      rule: 'point-shows-no-gain',
    },
    {
      name: 'a guardrail worse than its margin loses',
      champion: { ...version, mse: '2.0', mae: '1.0' },
      challenger: { ...version, mse: '1.0', mae: '1.1' },
      decision: 'lose',
      rule: 'guardrail-breached',
    },
    {
      name: 'different evaluation data is refused',
      champion: { evaluation_data_version: 'houses-eval:3', mse: '2.0', mae: '1.0' },
      challenger: { ...version, mse: '1.0', mae: '1.0' },
      decision: 'refused',
      rule: 'refused-different-data-version',
    },
    {
      name: 'a missing data version is refused',
      champion: { mse: '2.0', mae: '1.0' },
      challenger: { ...version, mse: '1.0', mae: '1.0' },
      decision: 'refused',
      rule: 'refused-missing-data-version',
    },
    {
      name: 'a missing metric is refused',
      champion: { ...version, mse: '2.0', mae: '1.0' },
      challenger: { ...version, mse: '1.0' },
      decision: 'refused',
      rule: 'refused-missing-metric',
    },
    {
      name: 'a non-numeric metric is refused',
      champion: { ...version, mse: 'n/a', mae: '1.0' },
      challenger: { ...version, mse: '1.0', mae: '1.0' },
      decision: 'refused',
      rule: 'refused-missing-metric',
    },
    {
      name: 'no champion wins by default',
      champion: null,
      challenger: { ...version, mse: '1.0', mae: '1.0' },
      decision: 'win',
      rule: 'no-champion',
    },
  ])('$name', ({ champion, challenger, decision, rule }) => {
    const evidence = compareRecordedMetrics(champion, challenger, policy);
    expect(evidence).toMatchObject({ kind: 'recorded', decision, rule });
    expect(JSON.parse(JSON.stringify(evidence))).toEqual(evidence);
    if (decision === 'refused') expect(evidence.reason).toMatch(/^refused: /);
  });

  it('orients higher-is-better metrics and reports the shared data version', () => {
    const evidence = compareRecordedMetrics(
      { ...version, accuracy: '0.80' },
      { ...version, accuracy: '0.86' },
      classificationPolicy({ minImprovement: 0.05 }),
    );
    expect(evidence.primary.improvement).toBeCloseTo(0.06, 12);
    expect(evidence.primary.relativeImprovement).toBeCloseTo(0.06 / 0.8, 12);
    expect(evidence).toMatchObject({ decision: 'win', dataVersion: 'houses-eval:4' });
  });
});
