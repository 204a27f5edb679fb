import { describe, expect, it } from 'vitest';
import {
  hodgesLehmannShift,
  JudgeInputError,
  judgeStep,
  newcombeInterval,
  normalQuantile,
  verdictOf,
  wilsonInterval,
  type JudgeSettings,
  type SlotObservations,
  type StepObservations,
} from '../../lib/domain/judge';
import { createRandom } from '../../lib/domain/random';

const SETTINGS: JudgeSettings = {
  confidence: 0.95,
  minRequests: 100,
  minSamples: 50,
  metrics: {
    errorRate: { maxIncrease: 0.02 },
    latency: { maxIncreaseMs: 50 },
    latencyP95: { maxIncreaseMs: 100 },
    disagreement: { max: 0.05 },
    predictionDifference: { maxMeanAbsolute: 0.5 },
  },
  bootstrapSamples: 2000,
  seed: 7,
};

/** Latencies around `centre` ms with a few slower requests, as a scoring endpoint answers. */
function latencies(seed: number, n: number, centre: number): number[] {
  const random = createRandom(seed);
  return Array.from({ length: n }, () => {
    const base = centre * (0.8 + 0.4 * random.nextFloat());
    return random.nextFloat() < 0.03 ? base * 3 : base;
  });
}

function slot(requests: number, serverErrors: number, latenciesMs: number[]): SlotObservations {
  return { requests, serverErrors, latenciesMs };
}

function healthy(n = 200): StepObservations {
  const labels = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 'yes' : 'no'));
  return {
    champion: slot(400, 1, latencies(1, n, 20)),
    challenger: slot(400, 1, latencies(2, n, 20)),
    predictions: { task: 'classification', champion: labels, challenger: [...labels] },
  };
}

const metric = (judgement: ReturnType<typeof judgeStep>, name: string) =>
  judgement.metrics.find((m) => m.name === name);

describe('intervals', () => {
  it('normalQuantile gives the familiar z values', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.995)).toBeCloseTo(2.575829, 5);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 5);
    expect(normalQuantile(0.5)).toBe(0);
    expect(() => normalQuantile(1)).toThrow(JudgeInputError);
  });

  it('the Wilson interval of zero events is not degenerate', () => {
    const [lower, upper] = wilsonInterval(0, 100, normalQuantile(0.975));
    expect(lower).toBe(0);
    expect(upper).toBeCloseTo(3.8415 / 103.8415, 4);
  });

  it("Newcombe's hybrid score interval matches the paper's worked examples (method 10)", () => {
    const z = normalQuantile(0.975);
    // Newcombe (1998), Table II: 56/70 − 48/80 → 0.0524 to 0.3339; 9/10 − 3/10 → 0.1705 to 0.8090.
    const first = newcombeInterval(48, 80, 56, 70, z);
    expect(first[0]).toBeCloseTo(0.0524, 3);
    expect(first[1]).toBeCloseTo(0.3339, 3);
    const second = newcombeInterval(3, 10, 9, 10, z);
    expect(second[0]).toBeCloseTo(0.1705, 3);
    expect(second[1]).toBeCloseTo(0.809, 3);
  });

  it('the Hodges–Lehmann shift is the median of pairwise differences and its interval covers the true shift', () => {
    expect(hodgesLehmannShift([1, 2, 3], [4, 5, 6], 1.96).shift).toBe(3);
    const x = latencies(11, 120, 30);
    const y = latencies(12, 150, 30).map((v) => v + 10);
    const { shift, interval } = hodgesLehmannShift(x, y, normalQuantile(0.975));
    expect(shift).toBeGreaterThan(7);
    expect(shift).toBeLessThan(13);
    expect(interval![0]).toBeLessThan(10);
    expect(interval![1]).toBeGreaterThan(10);
    // Too few samples for 95 %: no interval rather than a falsely narrow one.
    expect(hodgesLehmannShift([1, 2], [3, 4], normalQuantile(0.975)).interval).toBeNull();
  });

  it('verdictOf: beyond the allowance fails, within passes only with enough data', () => {
    expect(verdictOf([0.03, 0.2], 0.02, true)).toBe('Fail');
    expect(verdictOf([0.03, 0.2], 0.02, false)).toBe('Fail');
    expect(verdictOf([-0.01, 0.01], 0.02, true)).toBe('Pass');
    expect(verdictOf([-0.01, 0.01], 0.02, false)).toBe('Inconclusive');
    expect(verdictOf([0, 0.05], 0.02, true)).toBe('Inconclusive');
    expect(verdictOf(null, 0.02, true)).toBe('Inconclusive');
  });
});

describe('judgeStep', () => {
  it('a healthy challenger passes every metric, with the numbers', () => {
    const judgement = judgeStep(healthy(), SETTINGS);
    expect(judgement.verdict).toBe('Pass');
    expect(judgement.metrics.map((m) => [m.name, m.verdict])).toEqual([
      ['errorRate', 'Pass'],
      ['latency', 'Pass'],
      ['latencyP95', 'Pass'],
      ['disagreement', 'Pass'],
    ]);
    const errorRate = metric(judgement, 'errorRate')!;
    expect(errorRate).toMatchObject({ champion: 0.0025, challenger: 0.0025, difference: 0, allowed: 0.02 });
    expect(errorRate.interval![0]).toBeLessThan(0);
    expect(errorRate.interval![1]).toBeLessThanOrEqual(0.02);
    expect(judgement.reason).toContain('error rate 0.25% vs 0.25%');
  });

  it('a challenger failing 10 % of its requests fails on the error rate, whatever else holds', () => {
    const observations = healthy();
    observations.challenger = slot(400, 40, observations.challenger.latenciesMs as number[]);
    const judgement = judgeStep(observations, SETTINGS);
    expect(judgement.verdict).toBe('Fail');
    const errorRate = metric(judgement, 'errorRate')!;
    expect(errorRate.verdict).toBe('Fail');
    expect(errorRate.challenger).toBe(0.1);
    expect(errorRate.interval![0]).toBeGreaterThan(0.02);
    expect(metric(judgement, 'latency')!.verdict).toBe('Pass');
    expect(judgement.reason).toMatch(/^error rate 10% vs 0.25% \(40\/400 vs 1\/400\).*beyond the allowed 2%$/);
  });

  it('a mirror phase: the error rate of a few replayed requests can fail the step but does not hold it open', () => {
    const replayed = healthy(60);
    replayed.champion = slot(60, 0, replayed.champion.latenciesMs as number[]);
    replayed.challenger = slot(60, 0, replayed.challenger.latenciesMs as number[]);
    // 0/60 against 0/60 cannot show a 2 % allowance kept: a live step stays Inconclusive ...
    expect(
      judgeStep(replayed, { ...SETTINGS, metrics: { ...SETTINGS.metrics, disagreement: { max: 0.1 } } }).verdict,
    ).toBe('Inconclusive');
    // ... a mirror phase passes on latency and agreement, and says the error rate is left to the live steps.
    const wider = { ...SETTINGS.metrics, disagreement: { max: 0.1 } };
    const mirror = judgeStep(replayed, { ...SETTINGS, metrics: wider, minRequests: 50, errorRateFailsOnly: true });
    expect(mirror.verdict).toBe('Pass');
    expect(metric(mirror, 'errorRate')!.verdict).toBe('Inconclusive');
    expect(mirror.reason).toMatch(
      /^error rate 0% vs 0% \(0\/60 vs 0\/60\).* straddles the allowed 2% \(left to the live steps\); latency/,
    );
    // Half of them failing is beyond any noise: Fail.
    replayed.challenger = slot(60, 30, replayed.challenger.latenciesMs as number[]);
    expect(judgeStep(replayed, { ...SETTINGS, errorRateFailsOnly: true }).verdict).toBe('Fail');
    // With nothing but the error rate to go by, nothing passes.
    const alone = judgeStep(healthy(60), {
      ...SETTINGS,
      metrics: { errorRate: { maxIncrease: 0.02 } },
      minRequests: 1000,
      errorRateFailsOnly: true,
    });
    expect(alone.verdict).toBe('Inconclusive');
    expect(alone.reason).toContain('nothing else to judge this step by');
  });

  it('an error rate within the noise of the allowance is Inconclusive, not Pass', () => {
    const observations = healthy();
    observations.champion = slot(400, 2, observations.champion.latenciesMs as number[]);
    observations.challenger = slot(400, 10, observations.challenger.latenciesMs as number[]);
    const judgement = judgeStep(observations, SETTINGS);
    expect(metric(judgement, 'errorRate')!.verdict).toBe('Inconclusive');
    expect(judgement.verdict).toBe('Inconclusive');
    expect(judgement.reason).toContain('straddles the allowed 2%');
  });

  it('a slower challenger fails the latency judgement (shift and p95)', () => {
    const observations = healthy();
    observations.challenger = slot(
      400,
      1,
      latencies(2, 200, 20).map((v) => v + 150),
    );
    const judgement = judgeStep(observations, SETTINGS);
    expect(judgement.verdict).toBe('Fail');
    const latency = metric(judgement, 'latency')!;
    expect(latency.verdict).toBe('Fail');
    expect(latency.difference).toBeGreaterThan(140);
    expect(latency.interval![0]).toBeGreaterThan(50);
    expect(metric(judgement, 'latencyP95')!.verdict).toBe('Fail');
    expect(metric(judgement, 'errorRate')!.verdict).toBe('Pass');
    expect(judgement.reason).toContain('latency shift');
  });

  it('a slow tail fails the p95 judgement even when the typical request is as fast', () => {
    const observations = healthy(400);
    const random = createRandom(99);
    observations.challenger = slot(
      400,
      1,
      latencies(2, 400, 20).map((v) => (random.nextFloat() < 0.15 ? v + 400 : v)),
    );
    const judgement = judgeStep(observations, SETTINGS);
    expect(metric(judgement, 'latency')!.verdict).toBe('Pass');
    expect(metric(judgement, 'latencyP95')!.verdict).toBe('Fail');
    expect(judgement.verdict).toBe('Fail');
  });

  it('too little traffic is Inconclusive even when both slots look identical', () => {
    const labels = Array.from({ length: 10 }, () => 'no');
    const judgement = judgeStep(
      {
        champion: slot(20, 0, latencies(1, 10, 20)),
        challenger: slot(20, 0, latencies(1, 10, 20)),
        predictions: { task: 'classification', champion: labels, challenger: labels },
      },
      { ...SETTINGS, minRequests: 10, minSamples: 50 },
    );
    expect(judgement.verdict).toBe('Inconclusive');
    expect(judgement.metrics.every((m) => m.verdict !== 'Pass')).toBe(true);
    expect(judgement.reason).toContain('too few replayed samples for latency (10 vs 10; at least 50 each)');
  });

  it('below the minimum of requests the error rate never passes, but an overwhelming failure still fails', () => {
    const quiet = healthy();
    quiet.champion = slot(30, 0, quiet.champion.latenciesMs as number[]);
    quiet.challenger = slot(30, 0, quiet.challenger.latenciesMs as number[]);
    const calm = judgeStep(quiet, { ...SETTINGS, metrics: { errorRate: { maxIncrease: 0.5 } } });
    expect(calm.verdict).toBe('Inconclusive');
    expect(calm.reason).toBe('too few requests for the error rate (0/30 vs 0/30; at least 100 each)');

    quiet.challenger = slot(10, 10, []);
    const broken = judgeStep(quiet, { ...SETTINGS, metrics: { errorRate: { maxIncrease: 0.02 } } });
    expect(broken.verdict).toBe('Fail');
  });

  it('no requests at all to one slot is Inconclusive with no interval', () => {
    const observations = healthy();
    observations.challenger = slot(0, 0, observations.challenger.latenciesMs as number[]);
    const judgement = judgeStep(observations, SETTINGS);
    expect(metric(judgement, 'errorRate')).toMatchObject({ verdict: 'Inconclusive', interval: null });
    expect(judgement.verdict).toBe('Inconclusive');
    expect(judgement.reason).toContain('no requests reached the challenger in the window');
  });

  it('classification agreement: a challenger answering differently on 15 % of replayed rows fails', () => {
    const observations = healthy();
    const champion = observations.predictions!.champion as string[];
    const challenger = champion.map((label, i) => (i % 20 < 3 ? (label === 'yes' ? 'no' : 'yes') : label));
    observations.predictions = { task: 'classification', champion, challenger };
    const judgement = judgeStep(observations, SETTINGS);
    const disagreement = metric(judgement, 'disagreement')!;
    expect(disagreement).toMatchObject({ verdict: 'Fail', challenger: 0.15, difference: 0.15, allowed: 0.05 });
    expect(judgement.verdict).toBe('Fail');
    expect(judgement.reason).toContain('predictions differ on 30/200 replayed rows');
  });

  it('regression agreement: paired differences with a bootstrap interval against the allowed mean difference', () => {
    const random = createRandom(5);
    const champion = Array.from({ length: 200 }, () => 10 + 5 * random.nextFloat());
    const close = champion.map((v) => v + 0.2 * (random.nextFloat() - 0.5));
    const far = champion.map((v) => v + 2 + random.nextFloat());
    const base = healthy();
    const pass = judgeStep({ ...base, predictions: { task: 'regression', champion, challenger: close } }, SETTINGS);
    expect(metric(pass, 'predictionDifference')!.verdict).toBe('Pass');
    expect(metric(pass, 'predictionDifference')!.difference).toBeLessThan(0.1);
    expect(pass.verdict).toBe('Pass');
    const fail = judgeStep({ ...base, predictions: { task: 'regression', champion, challenger: far } }, SETTINGS);
    const difference = metric(fail, 'predictionDifference')!;
    expect(difference.verdict).toBe('Fail');
    expect(difference.interval![0]).toBeGreaterThan(2);
    expect(difference.interval![1]).toBeLessThan(3);
    expect(fail.verdict).toBe('Fail');
  });

  it('is deterministic and small enough for a durable history', () => {
    const first = judgeStep(healthy(), SETTINGS);
    expect(judgeStep(healthy(), SETTINGS)).toEqual(first);
    expect(JSON.stringify(first).length).toBeLessThan(2000);
  });

  it('judges only the metrics the settings name', () => {
    const judgement = judgeStep(healthy(), { ...SETTINGS, metrics: { latency: { maxIncreaseMs: 5 } } });
    expect(judgement.metrics.map((m) => m.name)).toEqual(['latency']);
    expect(judgeStep(healthy(), { ...SETTINGS, metrics: {} })).toMatchObject({ verdict: 'Inconclusive', metrics: [] });
  });

  it('refuses observations that cannot be real', () => {
    const observations = healthy();
    observations.challenger = slot(10, 11, []);
    expect(() => judgeStep(observations, SETTINGS)).toThrow(/challenger.serverErrors/);
    const unpaired = healthy();
    unpaired.predictions = { task: 'classification', champion: ['a'], challenger: ['a', 'b'] };
    expect(() => judgeStep(unpaired, SETTINGS)).toThrow(/paired row by row/);
    expect(() => judgeStep(healthy(), { ...SETTINGS, confidence: 1 })).toThrow(/confidence/);
  });
});
