/**
 * The gate before registration on the embedded default: a retraining whose policy asks for approval trains, waits
 * for a person, and — rejected through the same decision route as a promotion — registers nothing, recording the
 * job's output and the decision in its result.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoPolicy } from '../../local/start';
import type { RetrainingResult, RetrainingStatus } from '../../orchestrations/contract';
import { runCli } from '../support/cli';
import { EmbeddedApp } from '../support/embedded';
import { eventually, tempDir } from '../support/processes';

interface Run {
  runtimeStatus: string;
  status?: RetrainingStatus;
  result?: RetrainingResult;
}

describe('approval before registration', { timeout: 240_000 }, () => {
  let app: EmbeddedApp;

  beforeAll(async () => {
    const dir = tempDir('gate-policies');
    const file = path.join(dir, 'policies.json');
    const policy = demoPolicy();
    writeFileSync(
      file,
      JSON.stringify({
        policies: [
          { ...policy, retraining: { ...policy.retraining, approval: { approvers: ['ana'], timeout: 'PT1H' } } },
        ],
      }),
    );
    app = await EmbeddedApp.start({ provisioningMs: 50, args: ['--policies', file] });
  }, 60_000);
  afterAll(async () => app?.stop());

  it('a rejected pre-registration approval registers nothing', async () => {
    await app.lab.admin('POST', 'data/generate', { name: 'demand-train', version: '1', rows: 500, seed: 23 });
    const asked = await fetch(`${app.url}/api/retrainings`, {
      method: 'POST',
      body: JSON.stringify({ modelName: 'demand', reason: 'new labels' }),
    });
    expect(asked.status).toBe(202);
    const { runId } = (await asked.json()) as { runId: string };
    const read = async () =>
      (await (await fetch(`${app.url}/api/retrainings/${encodeURIComponent(runId)}`)).json()) as Run;
    const waiting = await eventually(
      async () => ((await read()).status?.phase === 'awaiting-approval' ? read() : undefined),
      `${runId} to wait for approval`,
      1800,
    );
    expect(waiting.status?.approval?.expiresAt).toBeDefined();
    // Links went to ana only, through the notifier, bound to her.
    const message = app.inbox.message(runId, 'ana');
    expect(message?.evidenceSummary).toMatch(/^trained by retrain-demand-1-\w+: .*rmse=/);
    expect(app.inbox.message(runId)).toBeUndefined();

    const refused = await runCli(app.url, 'approve', runId, '--as', 'mallory');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('not an approver for demand');
    // The link opens the run's page at the promotions' address; its form decides, bound to the run's job.
    const link = new URL(message!.rejectUrl);
    expect(link.pathname).toBe(`/promotions/${encodeURIComponent(runId)}`);
    const page = await (await fetch(link)).text();
    expect(page).toContain('Retraining of demand: register its model?');
    expect(page).toContain(waiting.status!.jobName!);
    expect(waiting.status?.metrics?.rmse).toMatch(/^\d/);
    expect(page).toContain(`<code>rmse</code>=${waiting.status!.metrics!.rmse}`);
    const digest = /name="evidenceDigest" value="([^"]+)"/.exec(page)![1]!;
    const form = (evidenceDigest: string) =>
      fetch(link.href.split('#')[0]!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token: new URLSearchParams(link.hash.slice(1)).get('token')!,
          comment: 'rmse regressed',
          evidenceDigest,
        }).toString(),
      });
    const stale = await form('another');
    expect(stale.status).toBe(409);
    expect(await stale.text()).toContain('The evidence changed');
    expect((await read()).status?.decision).toBeUndefined();
    const rejected = await form(digest);
    expect(rejected.status, await rejected.clone().text()).toBe(200);
    expect(await rejected.text()).toContain('Decision taken');

    const done = await eventually(
      async () => {
        const run = await read();
        return run.runtimeStatus === 'Completed' ? run : undefined;
      },
      `${runId} to end`,
      600,
    );
    expect(done.result).toMatchObject({
      outcome: 'rejected',
      decision: { decision: 'reject', approver: 'ana', comment: 'rmse regressed' },
      job: { status: 'Completed' },
    });
    expect(done.result?.unregisteredModelUri).toMatch(/^azureml:\/\/jobs\/.+\/outputs\/model$/);
    expect(done.result?.modelVersion).toBeUndefined();
    expect((await fetch(`${app.url}/api/models/demand`)).status).toBe(404);
  });
});
