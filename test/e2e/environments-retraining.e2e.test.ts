/**
 * A retrained model crosses environments: on the embedded default, forecast v1 serves QA and production; a retraining
 * in QA trains v2 with the repository's job spec (its model output declared at a datastore path), registers it, and
 * its promotion wins in QA, bakes, and registers the same model in production with its lineage back to QA, where it
 * is released.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINEAGE_TAGS } from '../../lib/domain/environments';
import { ENVIRONMENTS_MODEL, localWorkspaceId, PROD_WORKSPACE, QA_WORKSPACE } from '../../local/start';
import type { PromotionResult, RetrainingResult } from '../../orchestrations/contract';
import { EmbeddedApp } from '../support/embedded';
import { startEnvironmentsApp } from '../support/environments';
import { eventually } from '../support/processes';

interface Instance<R> {
  runtimeStatus: string;
  result?: R;
}

describe('a retrained model from QA to production', { timeout: 300_000 }, () => {
  let app: EmbeddedApp;
  const model = ENVIRONMENTS_MODEL;

  const finished = <R>(route: string, id: string) =>
    eventually(
      async () => {
        const res = await fetch(`${app.url}/api/${route}/${encodeURIComponent(id)}`);
        if (res.status !== 200) return undefined;
        const instance = (await res.json()) as Instance<R>;
        return instance.runtimeStatus === 'Running' || instance.runtimeStatus === 'Pending' ? undefined : instance;
      },
      `${id} to finish`,
      2400,
    );

  beforeAll(async () => {
    // The QA → production policy, with retraining by the repository's job spec, no approvals, and a short bake.
    app = await startEnvironmentsApp('environments-retraining', (prod) => ({ ...prod, gate: { bake: 'PT1S' } }), {
      retraining: {
        cooldown: 'PT1S',
        trainingDataAsset: { name: 'forecast-train' },
        jobSpec: 'jobs/train-demand.json',
      },
    });
  }, 60_000);
  afterAll(async () => app?.stop());

  it('retrains in QA, wins there, and is registered in production with its lineage and released there', async () => {
    // v1, trained on corrupted targets, serves both environments.
    await app.lab.trainAndRegister({ name: model, version: '1', seed: 11, quality: 0.5, outputToDatastore: true });
    const first = await finished<PromotionResult>('promotions', `promote:${model}:1`);
    expect(first.result?.outcome, JSON.stringify(first.result)).toBe('promoted');

    // A retraining on clean data, through the app.
    await app.lab.admin('POST', 'data/generate', { name: 'forecast-train', version: '1', rows: 600, seed: 12 });
    const asked = await fetch(`${app.url}/api/retrainings`, {
      method: 'POST',
      body: JSON.stringify({ modelName: model, reason: 'fresh labels' }),
    });
    expect(asked.status).toBe(202);
    const { runId } = (await asked.json()) as { runId: string };
    const run = await finished<RetrainingResult>('retrainings', runId);
    expect(run.result?.outcome, JSON.stringify(run.result)).toBe('registered');
    expect(run.result?.modelVersion).toBe('2');
    const job = run.result!.job!.name;

    const promotion = await finished<PromotionResult>('promotions', `promote:${model}:2`);
    expect(promotion.result?.outcome, JSON.stringify(promotion.result)).toBe('promoted');
    expect(promotion.result?.environments?.map((e) => [e.name, e.outcome])).toEqual([
      ['qa', 'promoted'],
      ['prod', 'promoted'],
    ]);

    // Production's copy: the retrained model's files, its training record, and its lineage back to QA.
    const prod = app.lab.inWorkspace(PROD_WORKSPACE);
    const copy = await prod.getModelVersion(model, '2');
    expect(copy?.tags).toMatchObject({
      [LINEAGE_TAGS.workspace]: localWorkspaceId(QA_WORKSPACE),
      [LINEAGE_TAGS.version]: `${model}:2`,
      [LINEAGE_TAGS.environment]: 'qa',
      [LINEAGE_TAGS.promotion]: `promote:${model}:2@qa`,
      stage: 'production',
    });
    expect(copy?.modelUri).toMatch(
      /^azureml:\/\/datastores\/workspaceblobstore\/paths\/champion\/environments\/qa\/forecast\/2/,
    );
    expect(copy?.properties).toMatchObject({ 'training.job': job, 'champion.retraining': runId });
    // QA's version was registered from the job's output, which the job wrote to a datastore path of its own.
    const original = await app.lab.workspace.getModelVersion(model, '2');
    expect(original?.modelUri).toBe(`azureml://jobs/${job}/outputs/model`);
    expect((await app.lab.workspace.getJob(job))?.outputs.model).toBe(
      `azureml://datastores/workspaceblobstore/paths/azureml/${job}/model/`,
    );
    // It serves production.
    const endpoint = await prod.getEndpoint('forecast-prod');
    const served = Object.entries(endpoint?.traffic ?? {}).find(([, pct]) => pct === 100)?.[0];
    expect((await prod.getDeployment('forecast-prod', served!))?.modelId).toMatch(
      new RegExp(`/workspaces/${PROD_WORKSPACE}/models/${model}/versions/2$`),
    );
  });
});
