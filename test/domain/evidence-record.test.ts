import { describe, expect, it } from 'vitest';
import { comparePairedPredictions, compareRecordedMetrics } from '../../lib/domain/evaluation';
import {
  EVIDENCE_RECORD_BUDGET,
  evidenceRecord,
  pairedDifferences,
  rounded,
  runMetricsRecord,
} from '../../lib/domain/evidence-record';
import type { TestReport } from '../../orchestrations/contract';

const smoke: TestReport = { ok: true, requests: 3, failures: [], p50LatencyMs: 12.3456789, maxLatencyMs: 40 };

describe('evidence record', () => {
  const labels = [3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25];
  const champion = labels.map((y, i) => y + (i % 2 ? 2 : -2));
  const challenger = labels.map((y, i) => y + (i % 3 ? 0.5 : -0.5));
  const evidence = comparePairedPredictions(
    { labels, challenger: { predictions: challenger }, champion: { predictions: champion }, dataVersion: 'demand:1' },
    {
      modelName: 'demand',
      task: 'regression',
      primaryMetric: 'rmse',
      minImprovement: 0,
      guardrails: [{ metric: 'mae', margin: 0.1 }],
      evaluation: { minSamples: 10, bootstrapSamples: 200, seed: 7 },
    },
  );

  it("carries both models' values, the interval, guardrails, smoke test and the chart's differences", () => {
    const differences = pairedDifferences('regression', labels, challenger, champion)!;
    const record = evidenceRecord({ ...evidence, differences }, smoke);
    expect(record).toMatchObject({
      decision: evidence.decision,
      n: 12,
      kind: 'paired',
      metric: 'rmse',
      dataVersion: 'demand:1',
      confidence: evidence.confidence,
      primary: {
        metric: 'rmse',
        champion: rounded(evidence.primary.champion),
        challenger: rounded(evidence.primary.challenger),
        interval: {
          lower: rounded(evidence.primary.interval!.lower),
          upper: rounded(evidence.primary.interval!.upper),
        },
      },
      guardrails: [{ metric: 'mae', margin: 0.1, passed: evidence.guardrails[0]!.passed }],
      smokeTest: { ok: true, requests: 3, p50LatencyMs: 12.3457 },
      differences,
    });
    expect(record.primary!.champion).toBe(2);
    expect(record.primary!.challenger).toBe(0.5);
  });

  it('bins each row by how much closer the challenger came, positive meaning better', () => {
    const d = pairedDifferences('regression', [10, 10, 10, 10], [10, 11, 12, 10], [12, 10, 12, 10], 4)!;
    // Rows: champion error 2,0,2,0; challenger 0,1,2,0 → differences +2, −1, 0, 0.
    expect(d).toEqual({
      measure: 'absolute-error-reduction',
      edges: [-2, -1, 0, 1, 2],
      counts: [0, 1, 2, 1],
      mean: 0.25,
      better: 1,
      worse: 1,
      same: 2,
    });
    expect(pairedDifferences('classification', ['a', 'b', 'a'], ['a', 'b', 'b'], ['b', 'b', 'a'])).toMatchObject({
      measure: 'correctness-change',
      counts: [1, 1, 1],
      better: 1,
      worse: 1,
      same: 1,
    });
    expect(pairedDifferences('regression', [1], [1], null)).toBeUndefined();
  });

  it('records recorded-metric evidence without an interval', () => {
    const recorded = compareRecordedMetrics(
      { mse: '4', evaluation_data_version: 'v1' },
      { mse: '3', evaluation_data_version: 'v1' },
      { modelName: 'm', task: 'regression', primaryMetric: 'mse', minImprovement: 0.5 },
    );
    const record = evidenceRecord(recorded);
    expect(record).toMatchObject({ kind: 'recorded', primary: { champion: 4, challenger: 3, interval: null } });
    expect(record.n).toBeUndefined();
    expect(record.smokeTest).toBeUndefined();
  });

  it('stays within its budget whatever the reason, failures and guardrails say', () => {
    const hostile = {
      ...evidence,
      reason: 'x'.repeat(50_000),
      guardrails: Array.from({ length: 40 }, () => ({ ...evidence.guardrails[0]!, metric: 'mae' as const })),
      differences: pairedDifferences('regression', labels, challenger, champion, 15),
    };
    const failing: TestReport = { ...smoke, ok: false, failures: Array.from({ length: 50 }, () => 'f'.repeat(9000)) };
    const record = evidenceRecord(hostile, failing);
    expect(JSON.stringify(record).length).toBeLessThanOrEqual(EVIDENCE_RECORD_BUDGET);
    expect(record.reason.length).toBeLessThanOrEqual(400);
    expect(record.smokeTest!.failures.length).toBe(3);
    expect(record.primary!.champion).toBe(2);
  });
});

describe('evidence record of a partial or older evaluation output', () => {
  it('keeps what is there and never throws, so a replayed history still runs', () => {
    const partial = { kind: 'paired', decision: 'win', reason: 'scripted', n: 400 } as never;
    expect(evidenceRecord(partial)).toEqual({ decision: 'win', reason: 'scripted', n: 400, kind: 'paired' });
  });
});

describe("a trained model's metrics kept while a person decides", () => {
  it('keeps the logged metrics.* values without their prefix, at most 20, names and values cut', () => {
    expect(runMetricsRecord({ 'metrics.rmse': '0.5', 'tags.x': 'y', 'metrics.mae': '0.4' })).toEqual({
      rmse: '0.5',
      mae: '0.4',
    });
    const many = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`metrics.m${i}${'x'.repeat(100)}`, '9'.repeat(100)]),
    );
    const kept = runMetricsRecord(many);
    expect(Object.keys(kept)).toHaveLength(20);
    for (const [key, value] of Object.entries(kept)) {
      expect(key.length).toBeLessThanOrEqual(64);
      expect(value.length).toBeLessThanOrEqual(64);
    }
  });
});
