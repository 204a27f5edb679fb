/**
 * Recovery on the embedded default, through public surfaces only: a failed promotion is tried again through the API,
 * the CLI and a later registration (each attempt its own instance, with its own history), and a start by hand of a
 * version the registry does not have creates nothing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli';
import { parsePolicies, policyFor } from '../../lib/domain/policy';
import type { Lab } from '../../local/lab';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

interface Promotion {
  id: string;
  attempt: number;
  retryOf?: string;
  runtimeStatus: string;
  status?: { phase: string; approval?: { approveUrl: string } };
  result?: { outcome: string; reason: string; failure?: { code: string } };
  attempts?: { id: string; attempt: number; runtimeStatus: string; outcome: string | null }[];
}

describe('recovery from failure on the embedded default', { timeout: 180_000 }, () => {
  let app: EmbeddedApp;
  let lab: Lab;
  let api: string;

  const promotion = async (id: string): Promise<Promotion | undefined> => {
    const res = await fetch(`${api}/api/promotions/${encodeURIComponent(id)}`);
    return res.status === 200 ? ((await res.json()) as Promotion) : undefined;
  };
  const settled = (id: string) =>
    eventually(
      async () => {
        const p = await promotion(id);
        const waiting = p?.runtimeStatus === 'Running' && p.status?.phase === 'awaiting-approval';
        return p && (waiting || !['Running', 'Pending'].includes(p.runtimeStatus)) ? p : undefined;
      },
      `${id} to finish or wait for approval`,
      900,
    );
  const finished = (id: string) =>
    eventually(
      async () => {
        const p = await promotion(id);
        return p && !['Running', 'Pending'].includes(p.runtimeStatus) ? p : undefined;
      },
      `${id} to finish`,
      900,
    );
  const post = (route: string, body?: unknown) =>
    fetch(`${api}${route}`, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const retry = (id: string) => post(`/api/promotions/${encodeURIComponent(id)}/retry`);
  const approve = (id: string) =>
    post(`/api/promotions/${encodeURIComponent(id)}/decisions`, { decision: 'approve', approver: 'ana' });
  const cli = (...argv: string[]) => runCli(api, ...argv);
  /** The model's scoring fails (its smoke test with it) until the returned fix is applied. */
  const breakScoring = async (model: string) => {
    const fault = (await lab.admin('POST', 'faults', { kind: 'scoring', model, status: 500 })) as { id: string };
    return () => lab.admin('DELETE', `faults/${fault.id}`);
  };

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 100 });
    api = app.url;
    lab = app.lab;
  }, 60_000);
  afterAll(async () => app?.stop());

  it('answers 404 to a start by hand of a version the registry does not have, and creates nothing', async () => {
    for (const modelVersion of ['1', '0']) {
      const res = await post('/api/promotions', { modelName: 'demand', modelVersion });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: string }).error).toBe(
        `modelVersion: demand has no version "${modelVersion}" in the registry; nothing was started.`,
      );
    }
    // A JSON number is not turned into a string that names some other version.
    const huge = await fetch(`${api}/api/promotions`, {
      method: 'POST',
      body: '{"modelName": "demand", "modelVersion": 1e20}',
    });
    expect(huge.status).toBe(400);
    expect(((await huge.json()) as { error: string }).error).toMatch(/^modelVersion: /);
    expect(await (await fetch(`${api}/api/promotions`)).json()).toEqual([]);
    expect(await promotion('promote:demand:1')).toBeUndefined();
    const cliStart = await cli('promote', 'demand', '1');
    expect(cliStart.code).toBe(1);
    expect(cliStart.err).toContain('demand has no version "1" in the registry');
    expect(await (await fetch(`${api}/api/promotions`)).json()).toEqual([]);
  });

  it('tries a failed promotion again through the API, and never restarts a running or promoted one', async () => {
    const fix = await breakScoring('demand:1');
    await lab.trainAndRegister({ name: 'demand', version: '1', seed: 1 });
    const failed = await settled('promote:demand:1');
    expect(failed.result).toMatchObject({ outcome: 'failed', failure: { code: 'SmokeTestFailed' } });
    // Starting it again by hand is refused, and says how to retry.
    const again = await post('/api/promotions', { modelName: 'demand', modelVersion: '1' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toContain('champion retry promote:demand:1');
    await fix();

    const retried = await retry('promote:demand:1');
    expect(retried.status).toBe(202);
    expect(await retried.json()).toMatchObject({ id: 'promote:demand:1:a2', attempt: 2, retryOf: 'promote:demand:1' });
    const running = await retry('promote:demand:1');
    expect(running.status).toBe(409);
    expect(((await running.json()) as { error: string }).error).toMatch(/promote:demand:1:a2 is still running/);

    const waiting = await settled('promote:demand:1:a2');
    expect(waiting.status?.phase).toBe('awaiting-approval');
    expect((await approve('promote:demand:1:a2')).status).toBe(202);
    const promoted = await finished('promote:demand:1:a2');
    expect(promoted.result?.outcome).toBe('promoted');
    expect(await lab.modelStages('demand')).toEqual({ '1': 'production' });

    const succeeded = await retry('promote:demand:1');
    expect(succeeded.status).toBe(409);
    expect(((await succeeded.json()) as { error: string }).error).toContain('never restarted');
    // Each attempt keeps its own history.
    const first = await promotion('promote:demand:1');
    expect(first).toMatchObject({ attempt: 1, result: { outcome: 'failed' } });
    expect(first?.attempts).toEqual([
      { id: 'promote:demand:1', attempt: 1, runtimeStatus: 'Completed', outcome: 'failed' },
      { id: 'promote:demand:1:a2', attempt: 2, runtimeStatus: 'Completed', outcome: 'promoted' },
    ]);
    const list = (await (await fetch(`${api}/api/promotions?model=demand`)).json()) as Promotion[];
    expect(list.map((p) => [p.id, p.attempt])).toEqual([
      ['promote:demand:1:a2', 2],
      ['promote:demand:1', 1],
    ]);
  });

  it('tries a failed promotion again through the CLI, and shows the attempts', async () => {
    const fix = await breakScoring('demand:2');
    await lab.trainAndRegister({ name: 'demand', version: '2', seed: 3 });
    expect((await settled('promote:demand:2')).result?.outcome).toBe('failed');
    await fix();

    const run = await cli('retry', 'promote:demand:2');
    expect(run.code).toBe(0);
    expect(run.out).toContain('Started promote:demand:2:a2 (attempt 2, after promote:demand:2)');
    const second = await settled('promote:demand:2:a2');
    expect(second.result?.outcome).not.toBe('failed');

    const show = await cli('show', 'promote:demand:2:a2');
    expect(show.out).toMatch(/Attempt\s+2 \(tries promote:demand:2 again\)/);
    expect(show.out).toMatch(/1\s+promote:demand:2\s+failed/);
    const refused = await cli('retry', 'promote:demand:2');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/promote:demand:2:a2 (is still running|ended)/);
    if (second.status?.phase === 'awaiting-approval' && second.runtimeStatus === 'Running') {
      expect((await approve('promote:demand:2:a2')).status).toBe(202);
      expect((await finished('promote:demand:2:a2')).result?.outcome).toBe('promoted');
    }
  });

  it('starts a new attempt when the version is registered after its only promotion failed for want of it', async () => {
    // What an earlier release let through: a promotion started before its version existed. It fails.
    const policy = policyFor(
      parsePolicies(JSON.parse(readFileSync(path.join(app.dataDir, 'policies.json'), 'utf8'))),
      'demand',
    );
    const early = await post(`/runtime/webhooks/durabletask/orchestrators/promoteModel/promote%3Ademand%3A3`, {
      modelName: 'demand',
      modelVersion: '3',
      policy,
      source: 'manual',
    });
    expect(early.status).toBe(202);
    const failed = await settled('promote:demand:3');
    expect(failed.result?.outcome ?? failed.runtimeStatus).toMatch(/^(failed|Failed)$/);

    await lab.trainAndRegister({ name: 'demand', version: '3', seed: 4 });
    const second = await settled('promote:demand:3:a2');
    expect(second).toMatchObject({ attempt: 2, retryOf: 'promote:demand:3' });
    expect(second.result?.outcome).not.toBe('failed');
    expect((await promotion('promote:demand:3'))?.attempts?.map((a) => a.id)).toEqual([
      'promote:demand:3',
      'promote:demand:3:a2',
    ]);
  });
});
