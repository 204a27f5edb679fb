/**
 * The rollback window: after a release the previous champion stays deployed at 0 % for the policy's window, so
 * `champion rollback` is one traffic update; when the window ends its deployment is deleted, unless it serves again
 * (rolled back meanwhile). After that a rollback is refused, saying why.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoPolicy } from '../../local/start';
import type { RetirementResult } from '../../orchestrations/contract';
import { runCli } from '../support/cli';
import { EmbeddedApp } from '../support/embedded';
import { eventually, tempDir } from '../support/processes';
import { promotionsOf, type Promotion } from '../support/promotions';

const WINDOW_SECONDS = 10;

describe('the rollback window after a release', { timeout: 300_000 }, () => {
  let app: EmbeddedApp;

  const { promotion, until, endpoint } = promotionsOf(() => app.url);
  const promote = async (version: string, seed: number) => {
    const id = `promote:demand:${version}`;
    await app.lab.trainAndRegister({ name: 'demand', version, seed });
    await until(id, (p) => p.status?.phase === 'awaiting-approval', `${id} to wait for approval`);
    const approved = await runCli(app.url, 'approve', id, '--as', 'ana');
    expect(approved.code, approved.err).toBe(0);
    const done = await until(id, (p) => p.runtimeStatus === 'Completed', `${id} to finish`);
    expect(done.result?.outcome, done.result?.reason).toBe('promoted');
    return done.result!;
  };

  beforeAll(async () => {
    const dir = tempDir('window');
    const file = path.join(dir, 'policies.json');
    const policy = demoPolicy();
    policy.rollout = { ...policy.rollout, rollbackWindow: `PT${WINDOW_SECONDS}S` } as never;
    writeFileSync(file, JSON.stringify({ policies: [policy] }));
    app = await EmbeddedApp.start({ provisioningMs: 50, args: ['--policies', file] });
    const first = await promote('1', 1);
    // Nothing served before the first version: no window.
    expect(first.rollbackWindow).toBeUndefined();
  }, 120_000);
  afterAll(async () => app?.stop());

  it('rolls back in one update during the window, and keeps the slot that serves again when the window ends', async () => {
    const released = await promote('2', 2);
    const { slot, until } = released.rollbackWindow!;
    expect(released.timeline!.map((e) => e.note)).toContain(
      `rollback window: ${slot} stays warm at 0 % until ${until}, then is removed (retire:demand:2)`,
    );
    const res = await runCli(app.url, 'rollback', 'demand', '--reason', 'p99 doubled');
    expect(res.code, res.out + res.err).toBe(0);
    expect(res.out).toContain(`rolled-back: demand:1 serves 100 % again from ${slot}`);
    // When the window ends, the retirement finds its slot serving again: kept.
    const retired = await eventually(
      async () => {
        const p = (await promotion('promote:demand:2')) as Promotion & { retirement?: { result?: RetirementResult } };
        return p?.retirement?.result ?? undefined;
      },
      'the end of the rollback window',
      1200,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(until));
    expect(retired).toMatchObject({
      outcome: 'kept',
      reason: `${slot} (demand:1) serves 100 % again (rolled back): kept`,
    });
    expect((await endpoint()).deployments.map((d) => [d.name, d.model]).sort()).toContainEqual([slot, 'demand:1']);
    expect((await endpoint()).traffic[slot]).toBe(100);
  });

  it('removes the previous champion when the window ends; a rollback after it is refused, saying why', async () => {
    const released = await promote('3', 3);
    const { slot, until } = released.rollbackWindow!;
    expect((await endpoint()).deployments.find((d) => d.name === slot)?.model).toBe('demand:1');
    await eventually(
      async () => ((await endpoint()).deployments.some((d) => d.name === slot) ? undefined : true),
      `${slot} to be removed after ${until}`,
      1200,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(until));
    expect((await endpoint()).deployments.map((d) => d.model)).toEqual(['demand:3']);
    const res = await runCli(app.url, 'rollback', 'demand', '--reason', 'too late');
    expect(res.code).toBe(1);
    expect(res.out).toContain(
      `refused: ${slot} is not deployed: no earlier version is kept warm to roll back to (a release keeps the previous one only for the policy's rollback window)`,
    );
  });
});
