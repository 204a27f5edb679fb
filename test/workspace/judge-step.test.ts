import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityHandlers } from '../../lib/activities';
import { AzureMonitorMetrics } from '../../lib/azure/metrics';
import { EndpointScoring } from '../../lib/azure/scoring';
import { parsePolicies, type RolloutAnalysis } from '../../lib/domain/policy';
import { startScoringFixture, type ScoringFixture } from '../../local/workspace/fixtures';
import type { JudgeRolloutStepInput } from '../../orchestrations/contract';
import { dataReader, mlWorkspace, workspaceActivities } from './helpers';

// The activity as the app runs it: Azure Monitor through @azure/monitor-query, scoring over https with the
// deployment header, the evaluation data through the blob reader — all against the local workspace.
let fx: ScoringFixture;
let activities: ActivityHandlers;
let models: string[];
let analysis: RolloutAnalysis;

function regressionAnalysis(overrides: Record<string, unknown>): RolloutAnalysis {
  const policies = parsePolicies({
    policies: [
      {
        modelName: 'fixture-model',
        endpointName: 'judge-ep',
        task: 'regression',
        evaluation: { mode: 'paired', dataAsset: { name: 'judge-eval', version: '1' }, labelColumn: 'y' },
        rollout: { instanceType: 'Standard_DS3_v2', testSpec: { sampleRows: [{ x1: 0 }] }, analysis: overrides },
      },
    ],
  });
  return policies['fixture-model']!.rollout.analysis!;
}

/** A fresh endpoint serving the fixture's two models, blue (champion) and green (challenger), at 50/50 by default. */
async function endpoint(
  name: string,
  split: { traffic: Record<string, number>; mirrorTraffic?: Record<string, number> } = {
    traffic: { blue: 50, green: 50 },
  },
): Promise<{ scoringUri: string; key: string }> {
  const location = fx.ws.location;
  await fx.client.putAndWait(`/onlineEndpoints/${name}`, {
    location,
    identity: { type: 'SystemAssigned' },
    properties: { authMode: 'Key' },
  });
  for (const [i, slot] of ['blue', 'green'].entries()) {
    await fx.client.putAndWait(`/onlineEndpoints/${name}/deployments/${slot}`, {
      location,
      sku: { name: 'Default', capacity: 1 },
      properties: { endpointComputeType: 'Managed', model: models[i], instanceType: 'Standard_DS3_v2' },
    });
  }
  await fx.client.putAndWait(`/onlineEndpoints/${name}`, {
    location,
    identity: { type: 'SystemAssigned' },
    properties: { authMode: 'Key', ...split },
  });
  const keys = await fx.client.arm('POST', `/onlineEndpoints/${name}/listKeys`);
  return { scoringUri: fx.ws.scoringUri(name), key: keys.body.primaryKey };
}

/** Live traffic through the endpoint's split; returns the window it covered. */
async function liveTraffic(target: { scoringUri: string; key: string }, requests: number) {
  const from = new Date().toISOString();
  for (let i = 0; i < requests; i++) await fx.client.score(target.scoringUri, target.key, fx.sampleBody);
  return { from, to: new Date().toISOString() };
}

function input(endpointName: string, window: { from: string; to: string }): JudgeRolloutStepInput {
  return {
    modelName: 'fixture-model',
    endpointName,
    championDeployment: 'blue',
    challengerDeployment: 'green',
    ...window,
    analysis,
  };
}

beforeAll(async () => {
  fx = await startScoringFixture({ endpoint: 'judge-base', traffic: { blue: 50, green: 50 } });
  const deployments = await fx.client.arm('GET', '/onlineEndpoints/judge-base/deployments');
  models = ['blue', 'green'].map(
    (slot) => deployments.body.value.find((d: { name: string }) => d.name === slot).properties.model,
  );
  await fx.ws.generateData({ name: 'judge-eval', version: '1', rows: 200, seed: 3 });
  const workspace = mlWorkspace(fx.ws);
  activities = workspaceActivities(workspace, {
    scoring: new EndpointScoring({ caCert: fx.ws.caCert }),
    data: dataReader(fx.ws),
    metrics: new AzureMonitorMetrics(fx.ws.credential(), {
      subscriptionId: fx.ws.subscriptionId,
      resourceGroup: fx.ws.resourceGroup,
      workspaceName: fx.ws.workspaceName,
      armEndpoint: fx.ws.armEndpoint,
      caCert: fx.ws.caCert,
    }),
  });
  analysis = regressionAnalysis({ replaySampleSize: 40, minSamples: 30 });
}, 120_000);

afterAll(async () => {
  await fx.close();
});

describe('judgeRolloutStep against the local workspace', () => {
  it('a healthy challenger passes, with the numbers of each metric', { timeout: 60_000 }, async () => {
    const target = await endpoint('judge-healthy');
    const window = await liveTraffic(target, 500);
    const judgement = await activities.judgeRolloutStep(input('judge-healthy', window));
    expect(judgement.verdict).toBe('Pass');
    expect(judgement.metrics.map((m) => [m.name, m.verdict])).toEqual([
      ['errorRate', 'Pass'],
      ['latency', 'Pass'],
      ['latencyP95', 'Pass'],
    ]);
    expect(judgement.metrics[0]).toMatchObject({ champion: 0, challenger: 0, difference: 0, allowed: 0.02 });
    expect(judgement.reason).toContain('error rate 0% vs 0% (0/250 vs 0/250)');
    expect(JSON.stringify(judgement).length).toBeLessThan(2000);
  });

  it('a challenger failing 10 % of its requests fails on the error rate', { timeout: 60_000 }, async () => {
    const target = await endpoint('judge-errors');
    const fault = fx.ws.faults.add({ kind: 'scoring', endpoint: 'judge-errors', deployment: 'green', errorRate: 0.1 });
    try {
      const window = await liveTraffic(target, 400);
      const judgement = await activities.judgeRolloutStep(input('judge-errors', window));
      expect(judgement.verdict).toBe('Fail');
      const errorRate = judgement.metrics.find((m) => m.name === 'errorRate')!;
      expect(errorRate).toMatchObject({ verdict: 'Fail', champion: 0, challenger: 0.1 });
      expect(errorRate.interval![0]).toBeGreaterThan(0.02);
      expect(judgement.reason).toMatch(/^error rate 10% vs 0% \(20\/200 vs 0\/200\)/);
    } finally {
      fx.ws.faults.remove(fault.id);
    }
  });

  it('a slower challenger fails the latency judgement', { timeout: 60_000 }, async () => {
    const target = await endpoint('judge-slow');
    const fault = fx.ws.faults.add({ kind: 'scoring', endpoint: 'judge-slow', deployment: 'green', latencyMs: 150 });
    try {
      const window = await liveTraffic(target, 100);
      const judgement = await activities.judgeRolloutStep(input('judge-slow', window));
      expect(judgement.verdict).toBe('Fail');
      const latency = judgement.metrics.find((m) => m.name === 'latency')!;
      expect(latency.verdict).toBe('Fail');
      expect(latency.interval![0]).toBeGreaterThan(100);
      // 50 requests each cannot show the error rate within 2 %: that metric stays open, the latency decides.
      expect(judgement.metrics.find((m) => m.name === 'errorRate')!.verdict).toBe('Inconclusive');
      expect(judgement.reason).toMatch(/^latency shift \d+(\.\d+)? ms .* beyond the allowed 100 ms/);
    } finally {
      fx.ws.faults.remove(fault.id);
    }
  });

  it('too little traffic is Inconclusive, never Pass', { timeout: 60_000 }, async () => {
    const target = await endpoint('judge-quiet');
    const window = await liveTraffic(target, 20);
    const judgement = await activities.judgeRolloutStep(input('judge-quiet', window));
    expect(judgement.verdict).toBe('Inconclusive');
    expect(judgement.metrics.find((m) => m.name === 'errorRate')!.verdict).toBe('Inconclusive');
    expect(judgement.reason).toContain('too few requests for the error rate (0/10 vs 0/10; at least 100 each)');
  });

  it(
    'prediction agreement: the two slots answer the same replayed rows, compared row by row',
    { timeout: 60_000 },
    async () => {
      const target = await endpoint('judge-agree');
      const window = await liveTraffic(target, 10);
      // Regression models here: the mean absolute difference of their predictions on the replayed rows is judged.
      const judgement = await activities.judgeRolloutStep({
        ...input('judge-agree', window),
        analysis: regressionAnalysis({
          replaySampleSize: 40,
          minSamples: 30,
          metrics: { predictionDifference: { maxMeanAbsolute: 1000 } },
        }),
      });
      const difference = judgement.metrics.find((m) => m.name === 'predictionDifference')!;
      expect(difference.verdict).toBe('Pass');
      // The fixture's two models learnt from differently drifted data: their answers differ, and are compared row by row.
      expect(difference.difference).toBeGreaterThan(0);
      const strict = await activities.judgeRolloutStep({
        ...input('judge-agree', window),
        analysis: regressionAnalysis({
          replaySampleSize: 40,
          minSamples: 30,
          metrics: { predictionDifference: { maxMeanAbsolute: difference.interval![0] / 2 } },
        }),
      });
      expect(strict.verdict).toBe('Fail');
    },
  );

  it(
    'a mirror phase is judged on replayed requests: the challenger answers no live traffic, and that is no reason to stop',
    { timeout: 60_000 },
    async () => {
      const target = await endpoint('judge-mirror', {
        traffic: { blue: 100, green: 0 },
        mirrorTraffic: { green: 50 },
      });
      const window = await liveTraffic(target, 20);
      // Judged as a live step, the challenger's missing live requests leave the error rate open for ever.
      const asLive = await activities.judgeRolloutStep(input('judge-mirror', window));
      expect(asLive.reason).toContain('no requests reached the challenger in the window');
      const mirrored = await activities.judgeRolloutStep({ ...input('judge-mirror', window), phase: 'mirror' });
      expect(mirrored.verdict).toBe('Pass');
      // Forty replayed rows cannot show a 2 % allowance kept: the error rate is left to the live steps.
      expect(mirrored.metrics.map((m) => [m.name, m.verdict])).toEqual([
        ['errorRate', 'Inconclusive'],
        ['latency', 'Pass'],
        ['latencyP95', 'Pass'],
      ]);
      expect(mirrored.reason).toContain('straddles the allowed 2% (left to the live steps); latency shift');
      expect(mirrored.reason).toMatch(
        /^mirror phase, judged on replayed requests \(no live traffic reaches the challenger\): error rate 0% vs 0% \(0\/40 vs 0\/40\)/,
      );

      // A challenger that fails half its requests fails the mirror phase on the replayed rows' 5xx answers.
      const fault = fx.ws.faults.add({
        kind: 'scoring',
        endpoint: 'judge-mirror',
        deployment: 'green',
        errorRate: 0.5,
      });
      try {
        const failing = await activities.judgeRolloutStep({ ...input('judge-mirror', window), phase: 'mirror' });
        expect(failing.verdict).toBe('Fail');
        expect(failing.metrics.find((m) => m.name === 'errorRate')).toMatchObject({
          verdict: 'Fail',
          champion: 0,
          challenger: 0.5,
        });
      } finally {
        fx.ws.faults.remove(fault.id);
      }
    },
  );

  it('refuses a window that ends before it starts', async () => {
    const now = new Date().toISOString();
    await expect(
      activities.judgeRolloutStep(input('judge-base', { from: now, to: new Date(Date.now() - 1000).toISOString() })),
    ).rejects.toThrow(/ends .* before it starts/);
  });
});
