/**
 * A person rolls a model back after a release (`champion rollback MODEL`): the previous production version, kept
 * warm at 0 % in the other slot, serves 100 % again after one traffic update, the tags follow, and who asked and why
 * are recorded. A rollback only goes back: asked again, it refuses and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../local/lab';
import type { ModelHistory, ProductionInterval } from '../../lib/domain/history';
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

  it('keeps the production history: each release and the rollback, who approved, and what served at any time', async () => {
    const get = (query = '') => fetch(`${app.url}/api/models/demand/history${query}`);
    const history = (await (await get()).json()) as ModelHistory;
    expect(history.intervals.map((i) => [i.version, i.cause.kind, i.approval?.approver ?? null])).toEqual([
      ['1', 'promotion', 'ana'],
      ['2', 'promotion', 'ana'],
      ['1', 'rollback', 'ana'],
    ]);
    const [first, second, back] = history.intervals as [ProductionInterval, ProductionInterval, ProductionInterval];
    expect(first.until).toBe(second.from);
    expect(second.until).toBe(back.from);
    expect(back).toMatchObject({
      until: null,
      cause: { requestedBy: 'oncall@contoso.com', reason: 'p99 doubled' },
      promotionId: 'promote:demand:1',
      registeredBy: { type: 'User' },
      release: { endpointName: 'demand-ep' },
    });
    // The evidence is the one the promotion that released it recorded.
    const released = (await promotion('promote:demand:2')) as Promotion & { result: { evidence: unknown } };
    expect(second.evidence).toEqual(released.result.evidence);
    expect(second.evidence).toBeTruthy();
    expect(history.productionNow).toBe('1');
    expect(history.notes).toEqual([]);

    // "In production at T", for a T inside each interval and one before any release.
    const at = async (time: string) =>
      ((await (await get(`?at=${encodeURIComponent(time)}`)).json()) as { production: ProductionInterval | null })
        .production?.version ?? null;
    const midway = (from: string, until: string) => new Date((Date.parse(from) + Date.parse(until)) / 2).toISOString();
    expect(await at(midway(first.from!, first.until!))).toBe('1');
    expect(await at(midway(second.from!, second.until!))).toBe('2');
    expect(await at(new Date(Date.parse(back.from!) + 1).toISOString())).toBe('1');
    expect(await at(new Date(Date.parse(first.from!) - 1).toISOString())).toBeNull();
    const cli = await runCli(app.url, 'history', 'demand', '--at', midway(second.from!, second.until!));
    expect(cli.code, cli.err).toBe(0);
    expect(cli.out).toContain('demand:2 was in production');
    expect(cli.out).toContain('promote:demand:2');

    const listed = await runCli(app.url, 'history', 'demand');
    expect(listed.code, listed.err).toBe(0);
    const rows = listed.out.split('\n').filter((line) => /^\s+\d\s/.test(line));
    expect(rows.map((row) => row.trim().split(/\s+/)[0])).toEqual(['1', '2', '1']);
    expect(rows[0]).toContain('promote:demand:1');
    expect(rows[2]).toMatch(/rollback:demand:\S+ by oncall@contoso\.com: p99 doubled\s+ana \(unauthenticated\)/);
    const badCli = await runCli(app.url, 'history', 'demand', '--at', 'noon');
    expect(badCli.code).toBe(1);
    expect(badCli.err).toMatch(/at: an ISO 8601 date-time/);

    const csv = await get('?format=csv');
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await csv.text()).split('\r\n');
    expect(lines[0]).toMatch(/^model,version,from,until,cause,/);
    expect(lines.slice(1, -1).map((l) => l.split(',').slice(0, 2).join(':'))).toEqual([
      'demand:1',
      'demand:2',
      'demand:1',
    ]);
    const csvCli = await runCli(app.url, 'history', 'demand', '--csv');
    expect(csvCli.out.split('\r\n')).toHaveLength(5);

    const badAt = await get('?at=yesterday');
    expect(badAt.status).toBe(400);
    expect(((await badAt.json()) as { error: string }).error).toMatch(/^at: /);
    expect((await get('?format=xml')).status).toBe(400);
    expect((await fetch(`${app.url}/api/models/unknown-model/history`)).status).toBe(404);
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
