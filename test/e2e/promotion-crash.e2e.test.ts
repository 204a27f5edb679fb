/**
 * kill -9 at several points of a promotion, then a restart on the same data directory: the promotion ends as an
 * uninterrupted one would — one deployment, the right tags, the champion serving — and deliveries repeated by
 * Event Grid start nothing twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decideByLink } from '../../local/inbox';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

interface Promotion {
  runtimeStatus: string;
  status?: { phase: string };
  result?: { outcome: string; release?: { slot: string } };
}

class Deployment extends EmbeddedApp {
  async promotion(id: string): Promise<Promotion | undefined> {
    const res = await fetch(`${this.app.url}/api/promotions/${encodeURIComponent(id)}`);
    return res.status === 200 ? ((await res.json()) as Promotion) : undefined;
  }

  until(id: string, done: (p: Promotion) => boolean, what: string): Promise<Promotion> {
    return eventually(
      async () => {
        const p = await this.promotion(id);
        return p && done(p) ? p : undefined;
      },
      what,
      800,
    );
  }
}

let deployment: Deployment | undefined;
afterEach(async () => {
  await deployment?.stop();
  deployment = undefined;
});

const finished = (p: Promotion) => p.runtimeStatus !== 'Running' && p.runtimeStatus !== 'Pending';

describe('a promotion interrupted by kill -9', { timeout: 120_000 }, () => {
  it.each([
    ['while the challenger provisions', 'deploying'],
    ['while it waits for approval', 'awaiting-approval'],
    ['right after the approval', 'approved'],
  ])('%s ends as an uninterrupted one would', async (_name, crashAt) => {
    deployment = await Deployment.start({ provisioningMs: 400 });
    const d = deployment;
    await d.lab.trainAndRegister({ name: 'demand', version: '1', seed: 1, as: 'dana' });
    const id = 'promote:demand:1';

    if (crashAt === 'deploying') {
      await d.until(id, (p) => p.status?.phase === 'deploying', 'deploying');
      await d.crashAndRestart();
    }
    await d.until(id, (p) => p.status?.phase === 'awaiting-approval', 'awaiting approval');
    if (crashAt === 'awaiting-approval') await d.crashAndRestart();
    const link = d.inbox.message(id)!.approveUrl.replace(/^http:\/\/[^/]+/, d.app.url);
    const approved = await decideByLink(link, { approver: 'ana' });
    expect(approved.status).toBe(202);
    if (crashAt === 'approved') await d.crashAndRestart();

    const done = await d.until(id, finished, 'the promotion to finish');
    expect(done.result?.outcome).toBe('promoted');
    const { resourceGroup: rg, workspaceName: ws } = d.lab.info;
    const deployments = [];
    for await (const dep of d.lab.client.onlineDeployments.list(rg, ws, 'demand-ep')) deployments.push(dep.name);
    expect(deployments).toEqual([done.result!.release!.slot]);
    const endpoint = await d.lab.client.onlineEndpoints.get(rg, ws, 'demand-ep');
    expect(endpoint.properties.traffic).toEqual({ [done.result!.release!.slot]: 100 });
    expect(await d.lab.modelStages('demand')).toEqual({ '1': 'production' });
  });

  it('starts one promotion for duplicate and concurrent deliveries of the same registration', async () => {
    deployment = await Deployment.start({ provisioningMs: 400 });
    const d = deployment;
    await d.lab.trainAndRegister({ name: 'demand', version: '1', seed: 1 });
    await d.until('promote:demand:1', (p) => p.status?.phase === 'awaiting-approval', 'awaiting approval');
    const event = {
      id: 'redelivered-1',
      // The workspace it was registered in, as Event Grid names it: the app's own.
      topic: `/subscriptions/${d.lab.info.subscriptionId}/resourceGroups/${d.lab.info.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${d.lab.info.workspaceName}`,
      subject: 'models/demand:1',
      eventType: 'Microsoft.MachineLearningServices.ModelRegistered',
      eventTime: new Date().toISOString(),
      data: { ModelName: 'demand', ModelVersion: 1, ModelTags: {}, ModelProperties: {} },
      dataVersion: '2',
      metadataVersion: '1',
    };
    const deliveries = await Promise.all(
      [1, 2, 3, 4].map(() =>
        fetch(`${d.app.url}/runtime/webhooks/eventgrid?functionName=onModelRegistered`, {
          method: 'POST',
          headers: { 'aeg-event-type': 'Notification' },
          body: JSON.stringify([event]),
        }),
      ),
    );
    expect(deliveries.map((r) => r.status)).toEqual([202, 202, 202, 202]);
    const list = (await (await fetch(`${d.app.url}/api/promotions`)).json()) as { id: string }[];
    expect(list.map((p) => p.id)).toEqual(['promote:demand:1']);
    expect((await d.promotion('promote:demand:1'))?.status?.phase).toBe('awaiting-approval');
  });
});
