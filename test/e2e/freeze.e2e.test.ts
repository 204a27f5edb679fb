/**
 * Release freezes and one rollout per endpoint, on the local workspace through the public surface (Event Grid from the
 * workspace, the HTTP API, the CLI): a promotion that reaches its release while a person froze the model waits,
 * saying why, and releases once the freeze is lifted; a second promotion of the same model waits on the model's lock
 * while the first one bakes, and only then deploys; a manual rollback asked during a rollout waits on the same lock.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoPolicy } from '../../local/start';
import { runCli } from '../support/cli';
import { EmbeddedApp } from '../support/embedded';
import { eventually, tempDir } from '../support/processes';
import { finished, promotionsOf } from '../support/promotions';

const BAKE_SECONDS = 15;

interface Announced {
  type: string;
  subject: string;
  data: { instanceId: string; details: Record<string, unknown> };
}

describe('release freezes and one rollout per endpoint', { timeout: 300_000 }, () => {
  let app: EmbeddedApp;

  const { promotion, until, endpoint } = promotionsOf(() => app.url);
  const post = async (route: string, body: unknown) => {
    const res = await fetch(`${app.url}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const register = async (version: string, seed: number) => {
    await app.lab.trainAndRegister({ name: 'demand', version, seed });
    return `promote:demand:${version}`;
  };
  const approve = async (id: string) => {
    await until(id, (p) => p.status?.phase === 'awaiting-approval', `${id} to wait for approval`);
    const approved = await runCli(app.url, 'approve', id, '--as', 'ana');
    expect(approved.code, approved.err).toBe(0);
  };

  beforeAll(async () => {
    const dir = tempDir('freeze');
    const file = path.join(dir, 'policies.json');
    const policy = demoPolicy();
    policy.rollout = { ...policy.rollout, strategy: 'canary', steps: [50, 100], bake: `PT${BAKE_SECONDS}S` } as never;
    writeFileSync(file, JSON.stringify({ policies: [policy] }));
    app = await EmbeddedApp.start({ provisioningMs: 50, args: ['--policies', file] });
    const first = await register('1', 1);
    await approve(first);
    const done = await until(first, finished, 'the first version to be promoted');
    expect(done.result?.outcome).toBe('promoted');
  }, 120_000);
  afterAll(async () => app?.stop());

  it('refuses a freeze or a lift it cannot take, with the field named, changing nothing', async () => {
    expect(await post('/api/models/demand/freeze', {})).toMatchObject({
      status: 400,
      body: { error: "reason: say why the model's releases are frozen." },
    });
    expect(await post('/api/models/demand/freeze', { reason: 'x', until: '2020-01-01T00:00:00Z' })).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^until: must be later than now/) },
    });
    expect(await post('/api/models/demand/freeze', { reason: 'x', until: 'tomorrow' })).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^until: must be an ISO 8601 time with a zone/) },
    });
    expect((await post('/api/models/nomodel/freeze', { reason: 'x' })).status).toBe(404);
    const lift = await runCli(app.url, 'unfreeze', 'demand', '--reason', 'nothing to lift');
    expect(lift.code).toBe(1);
    expect(lift.err + lift.out).toContain('No freeze asked for by a person holds for model "demand"');
    const shown = await runCli(app.url, 'freeze', 'demand');
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toContain('demand: releases are not frozen');
  });

  it('a frozen model waits at its release, says why, and releases once the freeze is lifted', async () => {
    const frozen = await runCli(app.url, 'freeze', 'demand', '--reason', 'Black Friday', '--as', 'ana');
    expect(frozen.code, frozen.err).toBe(0);
    expect(frozen.out).toContain('demand: releases frozen until lifted (by ana): Black Friday');
    const before = await endpoint();

    const id = await register('2', 2);
    await approve(id);
    const waiting = await until(id, (p) => p.status?.phase === 'frozen', 'the release to wait out the freeze');
    expect(waiting.status!.freeze).toMatchObject({ source: 'request', by: 'ana', reason: 'Black Friday' });
    expect(waiting.status!.timeline.at(-1)!.note).toBe(
      'releases of this model are frozen by ana until it is lifted: Black Friday; the release waits',
    );
    // Nothing moved while it waits: the champion serves everything.
    expect((await endpoint()).traffic).toEqual(before.traffic);
    expect(await app.lab.modelStages('demand')).toMatchObject({ '1': 'production', '2': 'staged' });
    // A dry run says so too: a release reaching the freeze now would wait.
    const plan = await runCli(app.url, 'promote', 'demand', '2', '--dry-run');
    expect(plan.code, plan.err).toBe(0);
    expect(plan.out).toContain(
      'Freeze: releases of this model are frozen by ana until it is lifted: Black Friday; a release reaching it now would wait.',
    );

    const lifted = await runCli(app.url, 'unfreeze', 'demand', '--reason', 'sale over', '--as', 'bob');
    expect(lifted.code, lifted.err).toBe(0);
    expect(lifted.out).toContain(`woke 1 waiting promotion(s): ${id}`);
    const done = await until(id, finished, 'the release after the lift');
    expect(done.result?.outcome, done.result?.reason).toBe('promoted');
    const notes = done.result!.timeline!.map((e) => e.note);
    expect(notes).toContain('the freeze was lifted by bob: sale over; looking again');
    expect(notes).toContain('the release freeze is over: releasing');
    expect(await app.lab.modelStages('demand')).toMatchObject({ '1': 'surpassed', '2': 'production' });
    // Both announced on the lifecycle topic, the lift naming the freeze it lifted.
    const announced = await eventually(
      async () => {
        const stream = (await (await fetch(`${app.url}/_local/events`)).json()) as { events: { event: Announced }[] };
        const about = stream.events.map((e) => e.event).filter((e) => e.type.startsWith('Champion.Release.'));
        return about.length === 2 ? about : undefined;
      },
      'the freeze and its lift on the topic',
      200,
    );
    expect(announced.map((e) => [e.type, e.subject, e.data.details])).toEqual([
      ['Champion.Release.Frozen', 'models/demand', { by: 'ana', authenticated: false, reason: 'Black Friday' }],
      ['Champion.Release.Unfrozen', 'models/demand', { by: 'bob', authenticated: false, reason: 'sale over', woke: 1 }],
    ]);
    expect(announced[0]!.data.instanceId).toMatch(/^freeze:demand:\d{8}T\d{6}Z$/);
    expect(announced[1]!.data.instanceId).toBe(announced[0]!.data.instanceId);
    const view = (await (await fetch(`${app.url}/api/models/demand/freeze`)).json()) as Record<string, unknown>;
    expect(view).toMatchObject({
      frozen: null,
      inForce: { frozen: false },
      lifted: { by: 'bob', reason: 'sale over' },
    });
  });

  it('runs one rollout per endpoint: a second promotion of the model waits on its lock while the first bakes', async () => {
    const first = await register('3', 3);
    await approve(first);
    await until(first, (p) => p.status?.rollout?.state === 'baking', 'the first rollout to bake');
    // Held in its bake by a person, so the second surely arrives while it runs.
    const paused = await runCli(app.url, 'pause', first, '--as', 'oncall', '--reason', 'watching the canary');
    expect(paused.code, paused.err).toBe(0);
    const second = await register('4', 4);
    await until(second, (p) => p.status?.phase === 'preparing', 'the second promotion to start');
    // It holds at the model's lock, before deploying anything, while the first one's rollout is in progress.
    expect((await promotion(first))!.status!.rollout!.state).toBe('paused');
    expect((await promotion(second))!.status!.timeline.map((e) => e.phase)).toEqual(['preparing']);
    const models = (await endpoint()).deployments.map((d) => d.model);
    expect(models).toHaveLength(2);
    expect(models).toContain('demand:3');
    expect(models).not.toContain('demand:4');
    const resumed = await runCli(app.url, 'resume', first, '--as', 'oncall', '--reason', 'looks fine');
    expect(resumed.code, resumed.err).toBe(0);

    const firstDone = await until(first, finished, 'the first rollout to finish');
    expect(firstDone.result?.outcome, firstDone.result?.reason).toBe('promoted');
    await approve(second);
    const secondDone = await until(second, finished, 'the second promotion to finish');
    expect(secondDone.result?.outcome, secondDone.result?.reason).toBe('promoted');
    // The second deployed only once the first had released the model's lock.
    const released = Date.parse(firstDone.result!.timeline!.at(-1)!.at);
    const deployed = secondDone.result!.timeline!.find((e) => e.phase === 'deploying')!;
    expect(Date.parse(deployed.at)).toBeGreaterThanOrEqual(released);
  });

  it('a manual rollback asked during a rollout waits for it on the lock, then puts the previous version back in one update', async () => {
    const rolling = await register('5', 5);
    await approve(rolling);
    const baking = await until(rolling, (p) => p.status?.rollout?.state === 'baking', 'the rollout to bake');
    const { champion, challenger } = baking.status!.rollout!;
    const paused = await runCli(app.url, 'pause', rolling, '--as', 'oncall', '--reason', 'holding the canary');
    expect(paused.code, paused.err).toBe(0);
    const asked = await post('/api/models/demand/rollback', { reason: 'p99 doubled', by: 'oncall@contoso.com' });
    expect(asked.status).toBe(202);
    const rollback = async () =>
      (await (await fetch(`${app.url}/api/rollbacks/${encodeURIComponent(String(asked.body.id))}`)).json()) as {
        runtimeStatus: string;
        status?: { phase: string };
        result?: { outcome: string; reason: string; from?: { model: string }; to?: { model: string; slot: string } };
      };
    // The rollout holds the model's lock: the rollback waits, and traffic stays as the rollout's step left it.
    await eventually(
      async () => ((await rollback()).status?.phase === 'waiting-for-lock' ? true : undefined),
      'the rollback to wait for the lock',
    );
    expect((await endpoint()).traffic).toEqual({ [champion!]: 50, [challenger]: 50 });

    const now = await runCli(app.url, 'promote-now', rolling, '--as', 'lead', '--reason', 'finish it');
    expect(now.code, now.err).toBe(0);
    expect((await until(rolling, finished, 'the rollout to finish')).result?.outcome).toBe('promoted');
    // Once it ends, the rollback takes the lock: the version that served before the rollout serves again.
    const done = await eventually(async () => (await rollback()).result ?? undefined, 'the rollback to finish', 1200);
    expect(done).toMatchObject({
      outcome: 'rolled-back',
      from: { model: 'demand:5' },
      to: { model: 'demand:4', slot: champion },
    });
    expect((await endpoint()).traffic).toEqual({ [champion!]: 100, [challenger]: 0 });
    expect(await app.lab.modelStages('demand')).toMatchObject({ '4': 'production', '5': 'surpassed' });
  });
});
