/**
 * A person rolls a model back after a release (`champion rollback MODEL`): the previous production version, kept
 * warm at 0 % in the other slot, serves 100 % again after one traffic update, the tags follow, and who asked and why
 * are recorded. A rollback only goes back: asked again, it refuses and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../local/lab';
import { runCli } from '../support/cli';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

interface Promotion {
  runtimeStatus: string;
  status?: { phase: string };
  result?: { outcome: string; reason: string; release?: { slot: string } };
}

describe('a manual rollback after a release', { timeout: 240_000 }, () => {
  let app: EmbeddedApp;
  let lab: Lab;

  const promotion = async (id: string): Promise<Promotion> =>
    (await (await fetch(`${app.url}/api/promotions/${encodeURIComponent(id)}`)).json()) as Promotion;
  const promote = async (version: string, seed: number) => {
    const id = `promote:demand:${version}`;
    await lab.trainAndRegister({ name: 'demand', version, seed });
    await eventually(
      async () =>
        (await promotion(id).catch(() => undefined))?.status?.phase === 'awaiting-approval' ? true : undefined,
      `${id} to wait for approval`,
      1200,
    );
    const res = await runCli(app.url, 'approve', id, '--as', 'ana');
    expect(res.code, res.err).toBe(0);
    const done = await eventually(
      async () => {
        const p = await promotion(id);
        return p.runtimeStatus === 'Completed' ? p : undefined;
      },
      `${id} to finish`,
      1200,
    );
    expect(done.result?.outcome, done.result?.reason).toBe('promoted');
    return done.result!.release!.slot;
  };
  const endpoint = async () =>
    (await (await fetch(`${app.url}/api/endpoints/demand-ep`)).json()) as {
      traffic: Record<string, number>;
      deployments: { name: string; model: string | null }[];
    };

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 50 });
    lab = app.lab;
  }, 60_000);
  afterAll(async () => app?.stop());

  it('refuses bad requests with a clear 4xx and starts nothing', async () => {
    const post = (model: string, body: unknown) =>
      fetch(`${app.url}/api/models/${model}/rollback`, { method: 'POST', body: JSON.stringify(body) });
    const noReason = await post('demand', {});
    expect(noReason.status).toBe(400);
    expect(((await noReason.json()) as { error: string }).error).toMatch(/^reason: /);
    expect((await post('unknown-model', { reason: 'x' })).status).toBe(404);
    expect((await post('a%2F..%2Fb', { reason: 'x' })).status).toBe(400);
    expect((await post('demand', { reason: 'x'.repeat(501) })).status).toBe(400);
    const usage = await runCli(app.url, 'rollback', 'demand');
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('--reason');
  });

  it('refuses while no earlier production version is kept warm', async () => {
    await promote('1', 1);
    const res = await runCli(app.url, 'rollback', 'demand', '--reason', 'nothing to go back to');
    expect(res.code).toBe(1);
    expect(res.out).toMatch(/refused: \w+ is not deployed: no earlier version is kept warm/);
  });

  it('puts the previous production version back at 100 %, tags following, recording who and why', async () => {
    const oldSlot = (await endpoint()).deployments.find((d) => d.model === 'demand:1')!.name;
    const newSlot = await promote('2', 2);
    expect(newSlot).not.toBe(oldSlot);
    expect((await endpoint()).traffic).toMatchObject({ [newSlot]: 100, [oldSlot]: 0 });

    const res = await runCli(app.url, 'rollback', 'demand', '--as', 'oncall@contoso.com', '--reason', 'p99 doubled');
    expect(res.code, res.out + res.err).toBe(0);
    expect(res.out).toContain(`rolled-back: demand:1 serves 100 % again from ${oldSlot}`);
    expect((await endpoint()).traffic).toMatchObject({ [oldSlot]: 100, [newSlot]: 0 });
    expect(await lab.modelStages('demand')).toMatchObject({ '1': 'production', '2': 'surpassed' });

    const id = res.out.match(/Started (\S+);/)![1]!;
    const view = (await (await fetch(`${app.url}/api/rollbacks/${encodeURIComponent(id)}`)).json()) as {
      result: Record<string, unknown>;
    };
    expect(view.result).toMatchObject({
      outcome: 'rolled-back',
      requestedBy: { name: 'oncall@contoso.com', authenticated: false },
      requestReason: 'p99 doubled',
      from: { slot: newSlot, model: 'demand:2' },
      to: { slot: oldSlot, model: 'demand:1' },
    });
  });

  it('only goes back: asked again, it refuses and leaves traffic and tags as they are', async () => {
    const before = await endpoint();
    const res = await runCli(app.url, 'rollback', 'demand', '--reason', 'again');
    expect(res.code).toBe(1);
    expect(res.out).toContain('refused: demand:2 is newer than demand:1: a rollback only goes back');
    expect((await endpoint()).traffic).toEqual(before.traffic);
    expect(await lab.modelStages('demand')).toMatchObject({ '1': 'production', '2': 'surpassed' });
  });
});
