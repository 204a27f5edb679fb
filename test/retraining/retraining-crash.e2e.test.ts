/**
 * kill -9 while a retraining waits for its training job, then a restart on the same data directory: the run
 * awaits the job it submitted before the crash — one submission, one job, one registered version.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../support/processes';
import { App } from './support';

let app: App | undefined;
afterEach(async () => {
  await app?.app.stop();
  app = undefined;
});

describe('a retraining interrupted by kill -9', { timeout: 180_000 }, () => {
  it('awaits the same job after the restart and never submits it twice', async () => {
    const dataDir = tempDir('retrain-crash');
    const policies = path.join(dataDir, 'policies.json');
    writeFileSync(
      policies,
      JSON.stringify({
        policies: [
          {
            modelName: 'demand',
            endpointName: 'demand-ep',
            task: 'regression',
            evaluation: { mode: 'paired', dataAsset: { name: 'demand-eval', version: '1' }, labelColumn: 'y' },
            rollout: { instanceType: 'Standard_DS3_v2', testSpec: { sampleRows: [[0, 0, 0, 0]] } },
            retraining: {
              cooldown: 'PT1H',
              trainingDataAsset: { name: 'demand-train' },
              // Same job as jobs/train-demand.json, first checked 4 s after submission.
              jobSpec: 'test/retraining/fixtures/train-slow.json',
            },
          },
        ],
      }),
    );
    app = await App.start({ args: ['--policies', policies], dataDir });
    const a = app;
    await a.lab.admin('POST', 'data/generate', { name: 'demand-train', version: '1', rows: 800, seed: 3 });

    const res = await fetch(`${a.url}/api/retrainings`, {
      method: 'POST',
      body: JSON.stringify({ modelName: 'demand', reason: 'crash test' }),
    });
    expect(res.status).toBe(202);
    const submitted = await a.until(async () => {
      const r = await a.run('retrain:demand:1');
      const last = r?.status?.timeline.at(-1);
      return r?.status?.phase === 'training' && last?.note.startsWith('submitted ') ? r : undefined;
    }, 'the job to be submitted');
    const jobName = submitted.status!.jobName!;

    await a.app.kill9();
    await a.boot();

    const done = await a.finished('retrain:demand:1');
    expect(done.result).toMatchObject({
      outcome: 'registered',
      modelVersion: '1',
      job: { name: jobName, submitted: true, status: 'Completed' },
    });
    const puts = (await a.lab.admin('GET', 'requests?method=PUT')) as { value: { path: string }[] };
    expect(puts.value.filter((r) => /\/jobs\//.test(r.path)).map((r) => r.path.replace(/\?.*$/, ''))).toEqual([
      expect.stringMatching(new RegExp(`/jobs/${jobName}$`)),
    ]);
    const { resourceGroup: rg, workspaceName: ws } = a.lab.info;
    const versions = [];
    for await (const v of a.lab.client.modelVersions.list(rg, ws, 'demand')) versions.push(v.name);
    expect(versions).toEqual(['1']);
    expect((await a.retrainings()).runs.map((r) => r.id)).toEqual(['retrain:demand:1']);
  });
});
