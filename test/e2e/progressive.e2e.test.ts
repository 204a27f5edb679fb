/**
 * Progressive delivery on the local workspace, driven through the public surface (Event Grid from the workspace, the
 * HTTP API, the CLI): a canary walks its steps with a bake on a durable timer after each, kill -9 in the middle of a
 * bake resumes with the bake time that was left, and pause, resume, promote now and an alert's abort are recorded with
 * who and why. Real scoring traffic is sampled during the bakes: the champion never answers less than the plan says.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoPolicy } from '../../local/start';
import { runCli } from '../support/cli';
import { EmbeddedApp } from '../support/embedded';
import { eventually, tempDir } from '../support/processes';
import { finished, promotionsOf, type Promotion } from '../support/promotions';

const BAKE_SECONDS = 20;
const MIRROR_SECONDS = 8;

describe('a progressive rollout on the local workspace', { timeout: 300_000 }, () => {
  let app: EmbeddedApp;

  const { until, endpoint } = promotionsOf(() => app.url);
  const baking = (step: number) => (p: Promotion) =>
    p.status?.rollout?.state === 'baking' && p.status.rollout.step === step;
  /** Registers a version and approves it once it asks. */
  const register = async (version: string, seed: number) => {
    const id = `promote:demand:${version}`;
    await app.lab.trainAndRegister({ name: 'demand', version, seed });
    await until(id, (p) => p.status?.phase === 'awaiting-approval', `${id} to wait for approval`);
    const approved = await runCli(app.url, 'approve', id, '--as', 'ana');
    expect(approved.code, approved.err).toBe(0);
    return id;
  };
  /** Real scoring requests, counted by the deployment that answered (its response header). */
  const sample = async (requests: number) => {
    const answered: Record<string, number> = {};
    for (let i = 0; i < requests; i++) {
      const scored = await app.lab.score('demand-ep', [[i, 1, 2, 3]]);
      expect(scored.status).toBe(200);
      answered[scored.deployment!] = (answered[scored.deployment!] ?? 0) + 1;
    }
    return answered;
  };

  beforeAll(async () => {
    const dir = tempDir('progressive');
    const file = path.join(dir, 'policies.json');
    const policy = demoPolicy();
    policy.rollout = {
      ...policy.rollout,
      strategy: 'canary',
      steps: [25, 100],
      bake: `PT${BAKE_SECONDS}S`,
      mirror: { percent: 50, duration: `PT${MIRROR_SECONDS}S` },
    } as never;
    writeFileSync(file, JSON.stringify({ policies: [policy] }));
    app = await EmbeddedApp.start({ provisioningMs: 50, args: ['--policies', file] });
    const first = await register('1', 1);
    const done = await until(first, finished, 'the first version to be promoted');
    expect(done.result?.outcome).toBe('promoted');
  }, 120_000);
  afterAll(async () => app?.stop());

  it('walks a healthy canary to 100 %, and a kill -9 mid-bake continues from its step with the bake that was left', async () => {
    const id = await register('2', 2);
    const mirroring = await until(id, baking(1), 'the mirror phase');
    expect(mirroring.status!.rollout).toMatchObject({ kind: 'mirror', step: 1, of: 3, percent: 0, mirrorPercent: 50 });
    const mirrored = mirroring.status!.rollout!;
    // Clients get only the champion's answers; the challenger gets copies, whose answers are dropped.
    await app.lab.admin('POST', 'scoring/stats/reset', { endpoint: 'demand-ep' });
    const whileMirroring = await sample(20);
    expect(whileMirroring).toEqual({ [mirrored.champion!]: 20 });
    // Every other request is copied (50 %); a copy is counted once the challenger has answered it.
    const stats = await eventually(async () => {
      const read = (await app.lab.admin(
        'GET',
        `scoring/stats?endpoint=demand-ep&deployment=${mirrored.challenger}`,
      )) as { value: { requests: number; mirroredRequests: number }[] };
      return (read.value[0]?.mirroredRequests ?? 0) >= 9 ? read.value[0] : undefined;
    }, 'the mirrored copies');
    expect(stats.requests).toBe(0);
    expect(stats.mirroredRequests).toBeLessThanOrEqual(10);
    expect((await endpoint()).traffic).toEqual({ [mirrored.champion!]: 100, [mirrored.challenger]: 0 });

    const bakingAt25 = await until(id, baking(2), 'the canary to bake at 25 %');
    const rollout = bakingAt25.status!.rollout!;
    expect(rollout).toMatchObject({ strategy: 'canary', step: 2, of: 3, percent: 25, kind: 'live' });
    const { champion, challenger, bakeEndsAt } = rollout;
    // The plan says the champion answers 75 % of live requests at this step: sampled, never less.
    const before = await sample(40);
    expect(before[champion!]! / 40).toBeGreaterThanOrEqual(0.75);
    expect(before[challenger]).toBeGreaterThan(0);

    await app.crashAndRestart();
    const after = await until(id, (p) => p.status?.rollout?.step !== undefined, 'the promotion after the restart');
    if (after.status!.rollout!.state === 'baking') {
      // Still the same bake, ending when it was going to: it was not started again.
      expect(after.status!.rollout!.bakeEndsAt).toBe(bakeEndsAt);
      const during = await sample(20);
      expect(during[champion!]! / 20).toBeGreaterThanOrEqual(0.75);
    }

    const done = await until(id, finished, 'the canary to finish');
    expect(done.result?.outcome, done.result?.reason).toBe('promoted');
    const entries = done.result!.timeline!;
    const bakes = entries.filter((e) => e.note.startsWith('step 2/3: baking until '));
    expect(bakes.map((e) => e.note)).toEqual([`step 2/3: baking until ${bakeEndsAt}`]);
    const lastStep = entries.find((e) => e.note.startsWith('step 3/3: 100 % of live traffic'))!;
    expect(Date.parse(lastStep.at)).toBeGreaterThanOrEqual(Date.parse(bakeEndsAt!));
    expect(done.result!.rollout).toMatchObject({ state: 'completed', step: 3, percent: 100 });
    expect(done.result!.rollout!.verdicts.map((v) => [v.step, v.verdict])).toEqual([
      [1, 'Pass'],
      [2, 'Pass'],
    ]);
    expect((await endpoint()).traffic).toEqual({ [challenger]: 100, [champion!]: 0 });
    expect(Object.keys(await sample(10))).toEqual([challenger]);
    expect(await app.lab.modelStages('demand')).toMatchObject({ '1': 'surpassed', '2': 'production' });
  });

  it('pauses and resumes (CLI and HTTP), then an alert aborts back to the champion; who and why recorded', async () => {
    const id = await register('3', 3);
    const bakingAt25 = await until(id, baking(2), 'the canary to bake at 25 %');
    const { champion, challenger } = bakingAt25.status!.rollout!;

    const paused = await runCli(app.url, 'pause', id, '--as', 'oncall@contoso.com', '--reason', 'checking p99');
    expect(paused.code, paused.err).toBe(0);
    expect(paused.out).toContain('pause taken by promote:demand:3 (asked by oncall@contoso.com)');
    const pausedView = await until(id, (p) => p.status?.rollout?.state === 'paused', 'the pause');
    expect(pausedView.status!.rollout!.remainingBakeMs).toBeGreaterThan(0);
    const during = await sample(20);
    expect(during[champion!]! / 20).toBeGreaterThanOrEqual(0.75);

    const resumed = await fetch(`${app.url}/api/promotions/${encodeURIComponent(id)}/rollout/resume`, {
      method: 'POST',
      body: JSON.stringify({ by: 'lead@contoso.com', reason: 'p99 is back to normal' }),
    });
    expect(resumed.status).toBe(202);
    expect(await resumed.json()).toMatchObject({ taken: true, action: 'resume', by: 'lead@contoso.com' });

    const alert = await fetch(`${app.url}/api/promotions/${encodeURIComponent(id)}/alert`, {
      method: 'POST',
      body: JSON.stringify({ source: 'error-rate-rule', reason: 'HTTP 5xx over 2 % for 5 minutes' }),
    });
    expect(alert.status).toBe(202);
    const done = await until(id, finished, 'the aborted canary to end');
    expect(done.result).toMatchObject({
      outcome: 'failed',
      failure: { code: 'RolloutAborted' },
      reason:
        "aborted at step 2 by an alert from error-rate-rule: HTTP 5xx over 2 % for 5 minutes; the champion's traffic is restored",
    });
    expect(done.result!.rollout!.controls.map((c) => [c.action, c.by, c.via, c.reason])).toEqual([
      ['pause', 'oncall@contoso.com', 'cli', 'checking p99'],
      ['resume', 'lead@contoso.com', 'api', 'p99 is back to normal'],
      ['abort', 'error-rate-rule', 'alert', 'HTTP 5xx over 2 % for 5 minutes'],
    ]);
    expect((await endpoint()).traffic).toEqual({ [champion!]: 100, [challenger]: 0 });
    expect(Object.keys(await sample(10))).toEqual([champion]);
    expect(await app.lab.modelStages('demand')).toMatchObject({ '2': 'production', '3': 'unstaged' });

    // Over: a control is refused, changing nothing.
    const late = await runCli(app.url, 'abort', id, '--reason', 'too late');
    expect(late.code).toBe(1);
    expect(late.err + late.out).toContain('has no rollout in progress');
  });

  it('promotes now from the CLI during the mirror phase, skipping the remaining steps and bakes', async () => {
    const id = await register('4', 4);
    await until(id, baking(1), 'the mirror phase');
    const res = await runCli(app.url, 'promote-now', id, '--as', 'lead@contoso.com', '--reason', 'release window');
    expect(res.code, res.err).toBe(0);
    const done = await until(id, finished, 'the promotion to finish');
    expect(done.result?.outcome, done.result?.reason).toBe('promoted');
    const promotedNow = done.result!.rollout!.controls.at(-1)!;
    expect(promotedNow).toMatchObject({ action: 'promote-now', by: 'lead@contoso.com', reason: 'release window' });
    // Promoted well before its bake would have ended, and no step was judged.
    const bakeEnd = done.result!.timeline!.find((e) => e.note.startsWith('step 1/3: baking until '))!;
    const last = done.result!.timeline!.find((e) => e.note.startsWith('step 3/3: 100 %'))!;
    expect(Date.parse(last.at)).toBeLessThan(Date.parse(bakeEnd.note.replace('step 1/3: baking until ', '')));
    // Skipped: the live step at 25 %.
    expect(done.result!.timeline!.some((e) => e.note.startsWith('step 2/3'))).toBe(false);
    expect(done.result!.rollout!.verdicts).toEqual([]);
  });

  it('refuses bad control requests with a clear 4xx and changes nothing', async () => {
    const post = (route: string, body: unknown) =>
      fetch(`${app.url}/api/promotions/${encodeURIComponent('promote:demand:4')}/${route}`, {
        method: 'POST',
        body: JSON.stringify(body),
      });
    const unknown = await post('rollout/skip', { reason: 'x' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/^action: must be one of pause, resume/);
    const noReason = await post('rollout/pause', {});
    expect(((await noReason.json()) as { error: string }).error).toMatch(/^reason: /);
    expect((await post('rollout/pause', { reason: 'x'.repeat(501) })).status).toBe(400);
    expect((await post('alert', { reason: 'x' })).status).toBe(400);
    const missing = await fetch(`${app.url}/api/promotions/promote%3Ademand%3A99/rollout/pause`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'x' }),
    });
    expect(missing.status).toBe(404);
  });
});
