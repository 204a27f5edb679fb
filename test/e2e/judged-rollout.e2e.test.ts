/**
 * Judged progressive rollouts on the local workspace, with faults injected into the challenger's scoring: each baked
 * step is judged on the endpoint's own signals (Azure Monitor's request counts through @azure/monitor-query, and
 * requests replayed to both slots). Four models, each with its own endpoint so their metrics never mix, run at once:
 * a healthy challenger walks its mirror phase and steps to 100 %, one whose error rate rises at 10 % is rolled back
 * before 50 %, a slower one fails the latency judgement, and one with too little traffic is Inconclusive and pauses.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoPolicy } from '../../local/start';
import { runCli } from '../support/cli';
import { EmbeddedApp } from '../support/embedded';
import { tempDir } from '../support/processes';
import { finished, promotionsOf, type Promotion } from '../support/promotions';

const BAKE_SECONDS = 15;
const HEALTHY_BAKE_SECONDS = 25;
const MIRROR_SECONDS = 10;
/** Steps of the faulty challengers: rolled back at 10 %, they must never reach 50 %. */
const STEPS = [10, 50, 100];

/** Each scenario's model: its own endpoint, and the analysis its policy asks for. */
const SCENARIOS = {
  // A few dozen live requests per step, on a machine that may be busy: allowances wide enough for that much traffic
  // (ten requests without an error show an increase below 30 %) and for a loaded host's latency noise.
  healthy: {
    rollout: {
      steps: [25, 100],
      bake: `PT${HEALTHY_BAKE_SECONDS}S`,
      mirror: { percent: 50, duration: `PT${MIRROR_SECONDS}S` },
    },
    analysis: {
      minRequests: 10,
      minSamples: 20,
      replaySampleSize: 30,
      metrics: {
        errorRate: { maxIncrease: 0.3 },
        latency: { maxIncreaseMs: 1000 },
        latencyP95: { maxIncreaseMs: 3000 },
        predictionDifference: { maxMeanAbsolute: 1000 },
      },
    },
  },
  erring: { rollout: { steps: STEPS }, analysis: { minRequests: 20, minSamples: 20, replaySampleSize: 30 } },
  slow: { rollout: { steps: STEPS }, analysis: { minRequests: 20, minSamples: 20, replaySampleSize: 30 } },
  // Far more requests asked for than the endpoint gets.
  quiet: { rollout: { steps: STEPS }, analysis: { minRequests: 5000, minSamples: 20, replaySampleSize: 30 } },
} as const;
type Scenario = keyof typeof SCENARIOS;

describe('judged rollouts with faults injected into the challenger', { timeout: 600_000 }, () => {
  let app: EmbeddedApp;

  const { until, endpoint } = promotionsOf(() => app.url, 2400);
  /** Finished, or paused for a person: a rollout expected to finish that pauses fails at once, with its verdicts. */
  const settled = (p: Promotion) => finished(p) || p.status?.rollout?.state === 'paused';
  const expectFinished = (p: Promotion) => {
    expect(finished(p), `paused: ${JSON.stringify(p.status?.rollout?.verdicts)}`).toBe(true);
    return p;
  };
  /** Registers a version and waits until it asks for approval; `beforeApproval` runs then (e.g. adds a fault). */
  const register = async (model: Scenario, version: string, seed: number, beforeApproval?: () => Promise<void>) => {
    const id = `promote:${model}:${version}`;
    await app.lab.trainAndRegister({ name: model, version, seed });
    await until(id, (p) => p.status?.phase === 'awaiting-approval', `${id} to wait for approval`);
    await beforeApproval?.();
    const approved = await runCli(app.url, 'approve', id, '--as', 'ana');
    expect(approved.code, approved.err).toBe(0);
    return id;
  };

  beforeAll(async () => {
    const dir = tempDir('judged');
    const file = path.join(dir, 'policies.json');
    const policies = Object.entries(SCENARIOS).map(([model, scenario]) => {
      const { retraining: _none, ...policy } = demoPolicy();
      return {
        ...policy,
        modelName: model,
        endpointName: `${model}-ep`,
        rollout: {
          ...policy.rollout,
          strategy: 'canary',
          bake: `PT${BAKE_SECONDS}S`,
          ...scenario.rollout,
          analysis: { onInconclusive: 'pause', ...scenario.analysis },
        },
      };
    });
    writeFileSync(file, JSON.stringify({ policies }));
    app = await EmbeddedApp.start({ provisioningMs: 50, args: ['--policies', file] });
    // Each model's first version: nothing to compare with, it takes 100 % at once.
    await Promise.all(
      (Object.keys(SCENARIOS) as Scenario[]).map(async (model) => {
        const done = await until(await register(model, '1', 1), finished, `${model}:1 to be promoted`);
        expect(done.result?.outcome, done.result?.reason).toBe('promoted');
      }),
    );
  }, 600_000);
  afterAll(async () => app?.stop());

  it('judges each step: healthy to 100 %, rising errors rolled back before 50 %, slower fails latency, too little traffic pauses', async () => {
    const fault = (model: Scenario, spec: Record<string, unknown>) => async () => {
      await app.lab.admin('POST', 'faults', { kind: 'scoring', endpoint: `${model}-ep`, model: `${model}:2`, ...spec });
    };

    const healthy = (async () => {
      const clients = await app.lab.clients('healthy-ep');
      const id = await register('healthy', '2', 2);
      const done = expectFinished(await until(id, settled, 'the healthy challenger to finish'));
      const answered = await clients.stop();
      return { done, answered };
    })();

    const erring = (async () => {
      const clients = await app.lab.clients('erring-ep');
      // Half the challenger's answers are 5xx once it serves (after its evaluation, which it passed).
      const id = await register('erring', '2', 2, fault('erring', { errorRate: 0.5 }));
      const done = expectFinished(await until(id, settled, 'the erring challenger to finish'));
      await clients.stop();
      return done;
    })();

    const slow = (async () => {
      const clients = await app.lab.clients('slow-ep');
      const id = await register('slow', '2', 2, fault('slow', { latencyMs: 300 }));
      const done = expectFinished(await until(id, settled, 'the slow challenger to finish'));
      await clients.stop();
      return done;
    })();

    const quiet = (async () => {
      const id = await register('quiet', '2', 2);
      const paused = await until(id, (p) => p.status?.rollout?.state === 'paused', 'the quiet challenger to pause');
      const traffic = (await endpoint('quiet-ep')).traffic;
      const aborted = await runCli(app.url, 'abort', id, '--as', 'oncall@contoso.com', '--reason', 'no traffic today');
      expect(aborted.code, aborted.err).toBe(0);
      const done = await until(id, finished, 'the quiet challenger to finish');
      return { paused, traffic, done };
    })();

    // Healthy: the mirror phase passes on replayed requests (no live traffic reaches the challenger then), each live
    // step passes on live counts and replayed requests, and the challenger serves 100 %.
    const h = await healthy;
    expect(h.done.result?.outcome, h.done.result?.reason).toBe('promoted');
    const verdicts = h.done.result!.rollout!.verdicts;
    expect(verdicts.map((v) => [v.step, v.verdict])).toEqual([
      [1, 'Pass'],
      [2, 'Pass'],
    ]);
    expect(verdicts[0]!.reason).toMatch(
      /^mirror phase, judged on replayed requests \(no live traffic reaches the challenger\): .*predictions differ by/,
    );
    expect(verdicts[1]!.reason).toMatch(/^error rate 0% vs 0% .* within 30%/);
    const { challenger } = h.done.result!.rollout!;
    expect((await endpoint('healthy-ep')).traffic[challenger]).toBe(100);
    expect(await app.lab.modelStages('healthy')).toMatchObject({ '1': 'surpassed', '2': 'production' });
    // The clients never saw a failure.
    expect(Object.values(h.answered).every((c) => c.serverErrors === 0)).toBe(true);

    // Rising errors at 10 %: the first step fails its judgement and the champion takes everything back.
    const e = (await erring).result!;
    expect(e).toMatchObject({ outcome: 'failed', failure: { code: 'RolloutRolledBack' } });
    expect(e.rollout!.verdicts.map((v) => [v.step, v.verdict])).toEqual([[1, 'Fail']]);
    expect(e.reason).toMatch(/^step 1 failed its judgement: error rate \d+(\.\d+)?% vs 0% .* beyond the allowed 2%/);
    expect(e.timeline!.some((entry) => entry.note.startsWith('step 2/3'))).toBe(false);
    expect(Object.values((await endpoint('erring-ep')).traffic).sort()).toEqual([0, 100]);
    expect((await endpoint('erring-ep')).traffic[e.rollout!.champion!]).toBe(100);
    expect(await app.lab.modelStages('erring')).toMatchObject({ '1': 'production', '2': 'unstaged' });

    // Slower: the latency judgement fails on the replayed requests.
    const s = (await slow).result!;
    expect(s).toMatchObject({ outcome: 'failed', failure: { code: 'RolloutRolledBack' } });
    expect(s.rollout!.verdicts.map((v) => [v.step, v.verdict])).toEqual([[1, 'Fail']]);
    expect(s.reason).toMatch(/latency shift \d+(\.\d+)? ms .* beyond the allowed 100 ms/);
    expect((await endpoint('slow-ep')).traffic[s.rollout!.champion!]).toBe(100);

    // Too little traffic: Inconclusive, paused at 10 % for a person, who aborts.
    const q = await quiet;
    expect(q.paused.status!.rollout).toMatchObject({ step: 1, percent: 10, state: 'paused' });
    expect(q.paused.status!.rollout!.verdicts).toEqual([
      { step: 1, verdict: 'Inconclusive', reason: expect.stringContaining('too few requests for the error rate') },
    ]);
    expect(Object.values(q.traffic).sort((a, b) => a - b)).toEqual([10, 90]);
    expect(q.done.result).toMatchObject({ outcome: 'failed', failure: { code: 'RolloutAborted' } });
    expect((await endpoint('quiet-ep')).traffic[q.done.result!.rollout!.champion!]).toBe(100);
  });
});
