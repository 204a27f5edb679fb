/**
 * Concurrent registrations on the embedded default: ten versions of one model registered at once (through the
 * official SDK, so the workspace delivers ten ModelRegistered events together) end in the outcome the README
 * defines — the newest winner staged and waiting for a person, older winners superseded, losers lost — whatever
 * order the promotions ran in, with no promotion failed and nobody asked about a version already superseded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab, TrainedModel } from '../../local/lab';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

interface Promotion {
  id: string;
  runtimeStatus: string;
  status?: { phase: string; modelVersion: string; timeline: { at: string; phase: string }[] };
  result?: { outcome: string; modelVersion: string };
}

describe('ten registrations of one model at once', { timeout: 300_000 }, () => {
  let app: EmbeddedApp;
  let lab: Lab;
  let api: string;

  const list = async () => (await (await fetch(`${api}/api/promotions?model=demand`)).json()) as Promotion[];
  const waiting = (p: Promotion) => p.runtimeStatus === 'Running' && p.status?.phase === 'awaiting-approval';

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 50 });
    api = app.url;
    lab = app.lab;
  }, 60_000);
  afterAll(async () => app?.stop());

  it('stage the newest winner, supersede older winners even when they finish later, and fail none', async () => {
    // A champion first, so that later versions can lose.
    await lab.trainAndRegister({ name: 'demand', version: '1', seed: 1 });
    await eventually(async () => (await list()).find(waiting), 'v1 to wait for approval', 1200);
    const approved = await fetch(`${api}/api/promotions/promote%3Ademand%3A1/decisions`, {
      method: 'POST',
      body: JSON.stringify({ decision: 'approve', approver: 'ana' }),
    });
    expect(approved.status).toBe(202);
    await eventually(async () => ((await list())[0]?.result?.outcome === 'promoted' ? true : undefined), 'v1', 1200);

    // Versions 2..11, some of them trained on corrupted targets so that they lose; then registered all at once.
    const trained: TrainedModel[] = [];
    for (let version = 2; version <= 11; version++) {
      trained.push(
        await lab.train({ name: 'demand', version: String(version), seed: version, quality: version % 3 ? 1 : 0.2 }),
      );
    }
    await Promise.all(trained.map((model) => lab.register(model)));

    const settled = await eventually(
      async () => {
        const all = await list();
        const done = all.filter((p) => waiting(p) || !['Running', 'Pending'].includes(p.runtimeStatus));
        return all.length === 11 && done.length === 11 ? all : undefined;
      },
      'every promotion to finish or wait for approval',
      3000,
    );
    const byVersion = new Map(
      settled.map((p) => [Number(p.status?.modelVersion ?? p.result?.modelVersion), p] as const),
    );
    const outcome = (v: number) => (waiting(byVersion.get(v)!) ? 'waiting' : byVersion.get(v)?.result?.outcome);
    const outcomes = Object.fromEntries([...byVersion.keys()].sort((a, b) => a - b).map((v) => [v, outcome(v)]));

    // No promotion failed, and exactly one waits for a person: the staged version.
    expect(
      Object.values(outcomes).filter((o) => o === 'failed' || o === undefined),
      JSON.stringify(outcomes),
    ).toEqual([]);
    const waitingVersions = [...byVersion.keys()].filter((v) => outcome(v) === 'waiting');
    expect(waitingVersions, JSON.stringify(outcomes)).toHaveLength(1);
    const staged = waitingVersions[0]!;
    const stages = await lab.modelStages('demand');
    expect(Object.entries(stages).filter(([, s]) => s === 'staged')).toEqual([[String(staged), 'staged']]);
    expect(stages['1']).toBe('production');

    // It is the newest winner: every newer version lost its evaluation; every older one lost or was superseded.
    for (let v = 2; v <= 11; v++) {
      if (v > staged) expect(outcome(v), `v${v} of ${JSON.stringify(outcomes)}`).toBe('lost-evaluation');
      if (v < staged) expect(['lost-evaluation', 'superseded'], `v${v}`).toContain(outcome(v));
    }

    // A person was asked only about the newest winner known at the time: in the order they were asked, versions
    // only grow (an older version asked after a newer one was staged would break it).
    const asked = settled
      .flatMap((p) => {
        const at = p.status?.timeline.find((t) => t.phase === 'awaiting-approval')?.at;
        return at ? [{ at, version: Number(p.status?.modelVersion) }] : [];
      })
      .filter((a) => a.version !== 1)
      .sort((a, b) => a.at.localeCompare(b.at));
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.map((a) => a.version)).toEqual([...asked.map((a) => a.version)].sort((a, b) => a - b));
    expect(asked.at(-1)?.version).toBe(staged);
  });
});
