/**
 * The whole promotion lifecycle on the embedded default, driven only through public surfaces: models are trained
 * and registered through the official SDK (the workspace then delivers ModelRegistered over Event Grid), the app
 * is read and approved over its HTTP API, and the workspace's state is checked through the SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli';
import { decideByLink } from '../../local/inbox';
import type { Lab } from '../../local/lab';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

interface Promotion {
  runtimeStatus: string;
  status?: { phase: string };
  result?: {
    outcome: string;
    reason: string;
    evidence?: { decision: string; n?: number };
    release?: { gitSha?: string; slot: string };
  };
}

describe('promotion on the embedded default', { timeout: 120_000 }, () => {
  let app: EmbeddedApp;
  let lab: Lab;
  let api: string;

  const promotion = async (id: string): Promise<Promotion | undefined> => {
    const res = await fetch(`${api}/api/promotions/${encodeURIComponent(id)}`);
    return res.status === 200 ? ((await res.json()) as Promotion) : undefined;
  };
  const inPhase = (id: string, phase: string) =>
    eventually(
      async () => {
        const p = await promotion(id);
        return p?.status?.phase === phase ? p : undefined;
      },
      `${id} to reach ${phase}`,
      600,
    );
  const finished = (id: string) =>
    eventually(
      async () => {
        const p = await promotion(id);
        return p && p.runtimeStatus !== 'Running' && p.runtimeStatus !== 'Pending' ? p : undefined;
      },
      `${id} to finish`,
      600,
    );
  const decide = (id: string, body: Record<string, unknown>) =>
    fetch(`${api}/api/promotions/${encodeURIComponent(id)}/decisions`, { method: 'POST', body: JSON.stringify(body) });

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 100 });
    api = app.url;
    lab = app.lab;
  }, 60_000);
  afterAll(async () => app?.stop());

  it('deploys the first model (no champion) once a person approves, and tags it production', async () => {
    await lab.trainAndRegister({ name: 'demand', version: '1', seed: 1, as: 'dana' });
    const waiting = await inPhase('promote:demand:1', 'awaiting-approval');
    expect(await lab.modelStages('demand')).toEqual({ '1': 'staged' });

    // The registrant may not approve; a forged link is refused; neither changes anything.
    expect((await decide('promote:demand:1', { decision: 'approve', approver: 'dana' })).status).toBe(403);
    // The open link route takes signed tokens only.
    const unsigned = await fetch(`${api}/api/promotions/promote%3Ademand%3A1/decision`, {
      method: 'POST',
      body: JSON.stringify({ decision: 'approve', approver: 'ana' }),
    });
    expect(unsigned.status).toBe(401);
    // The links reach the approvers through the notifier (locally, the outbox), never the promotion's status.
    expect(JSON.stringify(waiting)).not.toContain('token');
    const links = app.inbox.message('promote:demand:1')!;
    const forged = links.approveUrl.replace(
      /token=([^.]+)\.(.)/,
      (_m, p: string, c: string) => `token=${p}.${c === 'A' ? 'B' : 'A'}`,
    );
    expect((await decideByLink(forged, { approver: 'ana' })).status).toBe(403);

    const approved = await decideByLink(links.approveUrl, { approver: 'ana' });
    expect(approved.status).toBe(202);
    const done = await finished('promote:demand:1');
    expect(done.result).toMatchObject({ outcome: 'promoted', evidence: { decision: 'win' } });
    expect(done.result?.release?.gitSha).toMatch(/^[0-9a-f]{40}$/);
    expect(await lab.modelStages('demand')).toEqual({ '1': 'production' });
    // The link worked once.
    expect((await decideByLink(links.approveUrl, { approver: 'ana' })).status).toBe(409);

    const endpoint = await lab.client.onlineEndpoints.get(lab.info.resourceGroup, lab.info.workspaceName, 'demand-ep');
    const slot = done.result!.release!.slot;
    championSlot = slot;
    expect(endpoint.properties.traffic).toMatchObject({ [slot]: 100 });
    const deployment = await lab.client.onlineDeployments.get(
      lab.info.resourceGroup,
      lab.info.workspaceName,
      'demand-ep',
      slot,
    );
    expect(deployment.tags).toMatchObject({ 'champion.model': 'demand:1', 'git.commit': done.result!.release!.gitSha });
  });

  let championSlot = '';

  it('does not stage a worse challenger and keeps the champion serving', async () => {
    await lab.trainAndRegister({ name: 'demand', version: '2', seed: 2, quality: 0.2 });
    const done = await finished('promote:demand:2');
    expect(done.result?.outcome).toBe('lost-evaluation');
    expect(await lab.modelStages('demand')).toEqual({ '1': 'production', '2': undefined });
    const endpoint = await lab.client.onlineEndpoints.get(lab.info.resourceGroup, lab.info.workspaceName, 'demand-ep');
    expect(Object.entries(endpoint.properties.traffic ?? {}).filter(([, v]) => v > 0)).toEqual([[championSlot, 100]]);
  });

  it('starts one promotion however often the registration is delivered, and refuses bad requests', async () => {
    const first = await fetch(`${api}/api/promotions`, {
      method: 'POST',
      body: JSON.stringify({ modelName: 'demand', modelVersion: 1 }),
    });
    expect(first.status).toBe(409);
    expect((await fetch(`${api}/api/promotions`, { method: 'POST', body: '{"modelName":' })).status).toBe(400);
    expect(
      (await fetch(`${api}/api/promotions`, { method: 'POST', body: JSON.stringify({ modelName: 'demand' }) })).status,
    ).toBe(400);
    expect(
      (
        await fetch(`${api}/api/promotions`, {
          method: 'POST',
          body: JSON.stringify({ modelName: 'nobody', modelVersion: 1 }),
        })
      ).status,
    ).toBe(404);
    const list = (await (await fetch(`${api}/api/promotions?model=demand`)).json()) as { id: string }[];
    expect(list).toHaveLength(2);
    // A page at a time: the token of a page leads to the next, and the pages hold the same promotions.
    const firstPage = await fetch(`${api}/api/promotions?model=demand&top=1`);
    const token = firstPage.headers.get('x-ms-continuation-token');
    expect(token).toBeTruthy();
    const secondPage = await fetch(`${api}/api/promotions?model=demand&top=1`, {
      headers: { 'x-ms-continuation-token': token! },
    });
    const paged = [
      ...((await firstPage.json()) as { id: string }[]),
      ...((await secondPage.json()) as { id: string }[]),
    ];
    expect(paged.map((p) => p.id).sort()).toEqual(list.map((p) => p.id).sort());
    expect((await fetch(`${api}/api/promotions?top=0`)).status).toBe(400);
  });

  it('keeps the champion serving and tagged when the traffic update fails to provision', async () => {
    await lab.trainAndRegister({ name: 'demand', version: '3', seed: 3 });
    await inPhase('promote:demand:3', 'awaiting-approval');
    await lab.admin('POST', 'faults', { kind: 'provisioning', target: 'endpoint', code: 'ResourceNotReady', count: 1 });
    const approved = await decideByLink(app.inbox.message('promote:demand:3')!.approveUrl, { approver: 'ana' });
    expect(approved.status).toBe(202);
    const done = await finished('promote:demand:3');
    expect(done.result).toMatchObject({ outcome: 'failed' });
    expect(done.result?.reason).toContain("the champion's traffic is restored");
    const stages = await lab.modelStages('demand');
    expect(stages['1']).toBe('production');
    expect(stages['3']).toBe('unstaged');
    const endpoint = await lab.client.onlineEndpoints.get(lab.info.resourceGroup, lab.info.workspaceName, 'demand-ep');
    expect(endpoint.properties.provisioningState).toBe('Succeeded');
    expect(Object.entries(endpoint.properties.traffic ?? {}).filter(([, v]) => v > 0)).toEqual([[championSlot, 100]]);
  });

  it('shows the same state through the CLI', async () => {
    const run = (...argv: string[]) => runCli(api, ...argv);
    const models = await run('models', 'demand', '--json');
    expect(models.code).toBe(0);
    const body = JSON.parse(models.out) as { versions: { version: string; stage: string | null }[] };
    expect(body.versions.map((v) => [v.version, v.stage])).toEqual([
      ['1', 'production'],
      ['2', null],
      ['3', 'unstaged'],
    ]);
    const endpoint = await run('endpoint', 'demand-ep');
    expect(endpoint.out).toContain('demand:1');
    expect(endpoint.out).toContain('100');
    const show = await run('show', 'promote:demand:1');
    expect(show.out).toContain('promoted');
    const refused = await run('approve', 'promote:demand:1', '--as', 'ana');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('not waiting for a decision');
  });

  it('takes one of two decisions sent at once, and tells the other sender it lost', async () => {
    await lab.trainAndRegister({ name: 'demand', version: '4', seed: 4 });
    await inPhase('promote:demand:4', 'awaiting-approval');
    const links = app.inbox.message('promote:demand:4')!;
    const send = (url: string, approver: string) =>
      decideByLink(url, { approver }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { error?: string },
      }));
    const [approve, reject] = await Promise.all([send(links.approveUrl, 'ana'), send(links.rejectUrl, 'bo')]);
    expect([approve.status, reject.status].sort()).toEqual([202, 409]);
    const loser = approve.status === 409 ? approve : reject;
    expect(loser.body.error).toMatch(/already (approved|rejected) by (ana|bo)/);
    const done = await finished('promote:demand:4');
    expect(done.result?.outcome).toBe(approve.status === 202 ? 'promoted' : 'rejected');
  });
});
