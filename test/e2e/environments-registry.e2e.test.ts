/**
 * QA → registry → production on the embedded default: production's environment names the host's Azure ML registry,
 * so a version promoted in QA is created in the registry with its lineage (files put through its pending upload),
 * then registered in production naming the registry's version, and released there.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureMlRegistry } from '../../lib/azure/ml-registry';
import { LINEAGE_TAGS } from '../../lib/domain/environments';
import {
  ENVIRONMENTS_MODEL,
  LOCAL_REGISTRY,
  localRegistryId,
  localWorkspaceId,
  PROD_WORKSPACE,
  QA_WORKSPACE,
} from '../../local/start';
import type { PromotionResult } from '../../orchestrations/contract';
import { EmbeddedApp } from '../support/embedded';
import { startEnvironmentsApp } from '../support/environments';
import { eventually } from '../support/processes';

describe('QA → registry → production', { timeout: 240_000 }, () => {
  let app: EmbeddedApp;
  const model = ENVIRONMENTS_MODEL;

  beforeAll(async () => {
    app = await startEnvironmentsApp('environments-registry', (prod) => ({
      ...prod,
      gate: { bake: 'PT1S' },
      registry: localRegistryId(LOCAL_REGISTRY),
    }));
  }, 60_000);
  afterAll(async () => app?.stop());

  it('creates the version in the registry with its lineage, registers it in production naming it, and releases it there', async () => {
    await app.lab.trainAndRegister({ name: model, version: '1', seed: 21, outputToDatastore: true });
    const id = `promote:${model}:1`;
    const done = await eventually(
      async () => {
        const res = await fetch(`${app.url}/api/promotions/${encodeURIComponent(id)}`);
        const p = (await res.json()) as { runtimeStatus: string; result?: PromotionResult };
        return p.runtimeStatus === 'Completed' || p.runtimeStatus === 'Failed' ? p : undefined;
      },
      'the promotion to end',
      2400,
    );
    expect(done.result?.outcome, JSON.stringify(done.result)).toBe('promoted');

    // In the registry: the same model (type, metrics), with its lineage back to QA, its files put there.
    const info = app.lab.info;
    const registry = new AzureMlRegistry(app.lab.client, localRegistryId(LOCAL_REGISTRY), {
      armEndpoint: info.armEndpoint,
      caCert: readFileSync(info.caCertPath, 'utf8'),
    });
    const shared = await registry.getModelVersion(model, '1');
    const original = await app.lab.workspace.getModelVersion(model, '1');
    expect(shared?.tags).toMatchObject({
      [LINEAGE_TAGS.workspace]: localWorkspaceId(QA_WORKSPACE),
      [LINEAGE_TAGS.version]: `${model}:1`,
      [LINEAGE_TAGS.environment]: 'qa',
      [LINEAGE_TAGS.promotion]: `${id}@qa`,
    });
    expect(shared?.tags[LINEAGE_TAGS.evidence]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(shared?.modelType).toBe('mlflow_model');
    expect(shared?.properties).toEqual(original?.properties);
    expect(shared?.modelUri).toMatch(/\/models\/forecast\/1\/[0-9a-f]{32}$/);

    // In production: registered naming the registry's version, and released.
    const prod = app.lab.inWorkspace(PROD_WORKSPACE);
    const copy = await prod.getModelVersion(model, '1');
    expect(copy?.tags).toMatchObject({
      [LINEAGE_TAGS.registry]: `azureml://registries/${LOCAL_REGISTRY}/models/${model}/versions/1`,
      [LINEAGE_TAGS.workspace]: localWorkspaceId(QA_WORKSPACE),
      [LINEAGE_TAGS.promotion]: `${id}@qa`,
      stage: 'production',
    });
    expect(done.result?.environments?.[1]?.lineage?.[LINEAGE_TAGS.registry]).toBe(shared?.assetUri);
    const endpoint = await prod.getEndpoint('forecast-prod');
    const served = Object.entries(endpoint?.traffic ?? {}).find(([, pct]) => pct === 100)?.[0];
    expect((await prod.getDeployment('forecast-prod', served!))?.modelId).toMatch(
      new RegExp(`/workspaces/${PROD_WORKSPACE}/models/${model}/versions/1$`),
    );
    // The registry's writes: one pending upload, one version created.
    const writes = (await app.lab.admin('GET', 'requests?method=WRITE&path=*registries*')) as {
      value: { method: string; path: string }[];
    };
    expect(writes.value.map((w) => `${w.method} ${w.path.replace(/^.*\/registries\//, '')}`)).toEqual([
      `POST ${LOCAL_REGISTRY}/models/${model}/versions/1/startPendingUpload`,
      `PUT ${LOCAL_REGISTRY}/models/${model}/versions/1`,
    ]);
  });
});
