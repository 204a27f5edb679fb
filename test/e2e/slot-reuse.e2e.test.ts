/**
 * Blue/green slots reused while a delete is still running. A deployment delete is long-running on Azure (202 +
 * `Location`, then polled until done) and ARM refuses a PUT to a deployment that is still being deleted (409), so a
 * promotion that removes its slot must wait for the delete before the slot (or the model's lock) is handed on.
 * Deletes here take five seconds, long enough for the next promotion to reach the slot first if nobody waited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../local/lab';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

interface Promotion {
  runtimeStatus: string;
  status?: { phase: string; approval?: { approveUrl: string } };
  result?: { outcome: string; reason: string; release?: { slot: string } };
}

describe('a slot freed by a delete and reused at once', { timeout: 180_000 }, () => {
  let app: EmbeddedApp;
  let lab: Lab;

  const promotion = async (id: string): Promise<Promotion | undefined> => {
    const res = await fetch(`${app.url}/api/promotions/${encodeURIComponent(id)}`);
    return res.status === 200 ? ((await res.json()) as Promotion) : undefined;
  };
  const until = (id: string, what: string, done: (p: Promotion) => boolean) =>
    eventually(
      async () => {
        const p = await promotion(id);
        return p && (done(p) || (p.runtimeStatus !== 'Running' && p.runtimeStatus !== 'Pending')) ? p : undefined;
      },
      `${id} ${what}`,
      1200,
    );
  const finished = (id: string) => until(id, 'to finish', () => false);
  const approve = async (id: string) => {
    const waiting = await until(id, 'to wait for approval', (p) => p.status?.phase === 'awaiting-approval');
    expect(waiting.status?.phase, waiting.result?.reason).toBe('awaiting-approval');
    // The links reach approvers only through the notifier: decide through the API, as the CLI does.
    const res = await fetch(`${app.url}/api/promotions/${encodeURIComponent(id)}/decisions`, {
      method: 'POST',
      body: JSON.stringify({ decision: 'approve', approver: 'ana' }),
    });
    expect(res.status).toBe(202);
  };
  const serving = async () => {
    const endpoint = await lab.client.onlineEndpoints.get(lab.info.resourceGroup, lab.info.workspaceName, 'demand-ep');
    return Object.entries(endpoint.properties.traffic ?? {}).filter(([, v]) => v > 0);
  };

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 1000, args: ['--delete-ms', '5000'] });
    lab = app.lab;
    await lab.trainAndRegister({ name: 'demand', version: '1', seed: 1 });
    await approve('promote:demand:1');
    expect((await finished('promote:demand:1')).result?.outcome).toBe('promoted');
  }, 120_000);
  afterAll(async () => app?.stop());

  it('promotes a winner registered right after a loser, whichever of the two takes the idle slot first', async () => {
    // Both trained first, then registered back to back: their promotions queue for the model's lock together.
    const loser = await lab.train({ name: 'demand', version: '2', seed: 2, quality: 0.2 });
    const winner = await lab.train({ name: 'demand', version: '3', seed: 3 });
    await lab.register(loser);
    await lab.register(winner);

    // Loser first: the winner deploys into the slot the loser removed. Winner first: the loser deploys over the
    // staged winner and removes that slot, while the winner's release waits for the lock to deploy it again.
    await approve('promote:demand:3');
    expect((await finished('promote:demand:2')).result?.outcome).toBe('lost-evaluation');
    const done = await finished('promote:demand:3');
    expect(done.result?.outcome, done.result?.reason).toBe('promoted');
    expect(await serving()).toEqual([[done.result!.release!.slot, 100]]);
    expect(await lab.modelStages('demand')).toMatchObject({ '1': 'surpassed', '2': undefined, '3': 'production' });
  });

  it('releases an approved winner whose slot a newer loser reused and removed meanwhile', async () => {
    await lab.trainAndRegister({ name: 'demand', version: '4', seed: 4 });
    await until('promote:demand:4', 'to wait for approval', (p) => p.status?.phase === 'awaiting-approval');
    // The loser takes the lock and deploys over the staged winner's slot; the approval comes meanwhile, so the
    // winner's release runs the moment the loser, having lost, has removed that slot and handed the lock on.
    await lab.trainAndRegister({ name: 'demand', version: '5', seed: 5, quality: 0.2 });
    await until('promote:demand:5', 'to deploy', (p) => !['preparing', undefined].includes(p.status?.phase));
    await approve('promote:demand:4');
    expect((await finished('promote:demand:5')).result?.outcome).toBe('lost-evaluation');
    const done = await finished('promote:demand:4');
    expect(done.result?.outcome, done.result?.reason).toBe('promoted');
    expect(await serving()).toEqual([[done.result!.release!.slot, 100]]);
  });
});
