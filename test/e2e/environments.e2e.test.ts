/**
 * QA → production across two workspaces on the embedded default (the host serves QA, the app's own, and production
 * under its own ARM id): a version promoted in QA waits at the gate; approved, it is registered in production with
 * its lineage back to QA and released there on QA's evidence; rejected, nothing reaches production.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideByLink } from '../../local/inbox';
import { ENVIRONMENTS_MODEL, localWorkspaceId, PROD_WORKSPACE, QA_WORKSPACE } from '../../local/start';
import { LINEAGE_TAGS } from '../../lib/domain/environments';
import type { PromotionResult, PromotionStatus } from '../../orchestrations/contract';
import { EmbeddedApp } from '../support/embedded';
import { startEnvironmentsApp } from '../support/environments';
import { eventually } from '../support/processes';

interface Promotion {
  runtimeStatus: string;
  status?: PromotionStatus;
  result?: PromotionResult;
}

describe('QA → production across two local workspaces', { timeout: 240_000 }, () => {
  let app: EmbeddedApp;
  const model = ENVIRONMENTS_MODEL;

  const read = async (id: string): Promise<Promotion | undefined> => {
    const res = await fetch(`${app.url}/api/promotions/${encodeURIComponent(id)}`);
    return res.status === 200 ? ((await res.json()) as Promotion) : undefined;
  };
  const until = (id: string, what: string, done: (p: Promotion) => boolean) =>
    eventually(
      async () => {
        const p = await read(id);
        return p && done(p) ? p : undefined;
      },
      `${id} ${what}`,
      1800,
    );
  const waiting = (id: string) => until(id, 'to wait for a decision', (p) => p.status?.phase === 'awaiting-approval');
  const finished = (id: string) =>
    until(id, 'to finish', (p) => p.runtimeStatus !== 'Running' && p.runtimeStatus !== 'Pending');
  const approve = async (id: string, approver = 'ana', decision: 'approve' | 'reject' = 'approve') => {
    const links = app.inbox.message(id)!;
    const res = await decideByLink(decision === 'approve' ? links.approveUrl : links.rejectUrl, {
      approver,
      comment: decision === 'approve' ? 'fine in QA' : 'not in production yet',
    });
    expect(res.status).toBe(202);
  };

  /** The app's Event Grid webhook for registrations. */
  const registrationHook = () => `${app.url}/runtime/webhooks/eventgrid?functionName=onModelRegistered`;

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 50 });
    // Production's registrations reach the app too, as a subscription on production's workspace would send them.
    await app.lab.admin('POST', `event-subscribers?workspace=${PROD_WORKSPACE}`, {
      url: registrationHook(),
      eventTypes: ['ModelRegistered'],
    });
  }, 60_000);
  afterAll(async () => app?.stop());

  it('promotes in QA, waits at the gate, then registers the same model in production with lineage and releases it there', async () => {
    const prod = app.lab.inWorkspace(PROD_WORKSPACE);
    await app.lab.trainAndRegister({
      name: model,
      version: '1',
      seed: 5,
      quality: 0.6,
      as: 'dana',
      outputToDatastore: true,
    });
    const parent = `promote:${model}:1`;
    const qa = `${parent}@qa`;

    // QA's own promotion asks its approvers, as any promotion does.
    await waiting(qa);
    await approve(qa);
    expect((await finished(qa)).result?.outcome).toBe('promoted');

    // Then the gate into production: nothing is in production before it opens.
    const atGate = await waiting(parent);
    expect(atGate.status?.gate).toMatchObject({ environment: 'prod', kind: 'approval' });
    expect(await prod.getModelVersion(model, '1')).toBeUndefined();
    expect(await prod.getEndpoint('forecast-prod')).toBeUndefined();
    expect(app.inbox.message(parent)?.evidenceSummary).toMatch(/^promote to prod: forecast:1 serves qa \(.*@qa\)/);
    await approve(parent, 'bo');

    const done = await finished(parent);
    expect(done.result?.outcome, JSON.stringify(done.result)).toBe('promoted');
    expect(done.result?.environments?.map((e) => [e.name, e.outcome])).toEqual([
      ['qa', 'promoted'],
      ['prod', 'promoted'],
    ]);
    const prodPromotion = await read(`${parent}@prod`);
    expect(prodPromotion?.result?.evidence?.reason).toMatch(/^reused from qa \(promote:forecast:1@qa\)/);

    // The production copy points back to QA.
    const copy = await prod.getModelVersion(model, '1');
    expect(copy?.tags).toMatchObject({
      [LINEAGE_TAGS.workspace]: localWorkspaceId(QA_WORKSPACE),
      [LINEAGE_TAGS.version]: `${model}:1`,
      [LINEAGE_TAGS.environment]: 'qa',
      [LINEAGE_TAGS.promotion]: qa,
      stage: 'production',
    });
    expect(copy?.tags[LINEAGE_TAGS.evidence]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(copy?.modelType).toBe('mlflow_model');
    // The metrics and training record the QA version carries come along.
    const original = await app.lab.workspace.getModelVersion(model, '1');
    expect(copy?.properties).toEqual(original?.properties);
    expect(copy?.properties['metrics.rmse']).toBeDefined();
    // It serves production; QA keeps serving its own.
    const prodEndpoint = await prod.getEndpoint('forecast-prod');
    const served = Object.entries(prodEndpoint?.traffic ?? {}).find(([, pct]) => pct === 100)?.[0];
    expect((await prod.getDeployment('forecast-prod', served!))?.modelId).toMatch(
      new RegExp(`/workspaces/${PROD_WORKSPACE}/models/${model}/versions/1$`),
    );
    expect((await app.lab.workspace.getModelVersion(model, '1'))?.tags.stage).toBe('production');
  });

  it("registrations in production's workspace reach the app and start nothing: Champion's copy, and a person's", async () => {
    const prod = app.lab.inWorkspace(PROD_WORKSPACE);
    const copy = await prod.getModelVersion(model, '1');
    expect(copy?.tags[LINEAGE_TAGS.version]).toBe(`${model}:1`);
    // Someone registers a version straight into production, from the copy's files.
    await app.lab.client.modelVersions.createOrUpdate(app.lab.info.resourceGroup, PROD_WORKSPACE, model, '9', {
      properties: { modelUri: copy!.modelUri!, modelType: 'mlflow_model' },
    });
    type Events = {
      value: { id: string; topic: string }[];
      deliveries: { eventId: string; subscriber: string; status: string }[];
    };
    const delivered = await eventually(
      async () => {
        const events = (await app.lab.admin(
          'GET',
          `events?type=ModelRegistered&workspace=${PROD_WORKSPACE}`,
        )) as Events;
        const toApp = events.deliveries.filter((d) => d.subscriber === registrationHook());
        return toApp.length === 2 && toApp.every((d) => d.status === 'delivered') ? events : undefined;
      },
      "production's two registrations delivered to the app",
      1800,
    );
    // Event Grid names production's workspace as their topic; the app acknowledged both.
    expect(delivered.value.map((e) => e.topic)).toEqual([
      localWorkspaceId(PROD_WORKSPACE),
      localWorkspaceId(PROD_WORKSPACE),
    ]);
    // No promotion of version 9, and no second attempt of version 1.
    expect(await read(`promote:${model}:9`)).toBeUndefined();
    expect(await read(`promote:${model}:1:a2`)).toBeUndefined();
    expect((await read(`promote:${model}:1`))?.result?.outcome).toBe('promoted');
  });

  it('a rejected gate stops before production: nothing is registered or deployed there', async () => {
    const prod = app.lab.inWorkspace(PROD_WORKSPACE);
    await app.lab.trainAndRegister({ name: model, version: '2', seed: 6, as: 'dana', outputToDatastore: true });
    const parent = `promote:${model}:2`;
    await waiting(`${parent}@qa`);
    await approve(`${parent}@qa`);
    await waiting(parent);
    const writesBefore = await prodWrites();
    await approve(parent, 'bo', 'reject');
    const done = await finished(parent);
    expect(done.result?.outcome).toBe('rejected');
    expect(done.result?.reason).toMatch(/^prod gate rejected by bo: not in production yet/);
    expect(done.result?.environments?.map((e) => [e.name, e.state])).toEqual([
      ['qa', 'promoted'],
      ['prod', 'stopped'],
    ]);
    expect(await prod.getModelVersion(model, '2')).toBeUndefined();
    expect(await read(`${parent}@prod`)).toBeUndefined();
    // Production still serves version 1, and saw no write.
    expect(await prodWrites()).toBe(writesBefore);
    const endpoint = await prod.getEndpoint('forecast-prod');
    const served = Object.entries(endpoint?.traffic ?? {}).find(([, pct]) => pct === 100)?.[0];
    expect((await prod.getDeployment('forecast-prod', served!))?.modelId).toMatch(/\/versions\/1$/);
  });

  it('an automatic gate: a bake without incidents in QA opens production, where the model is evaluated again on its own data', async () => {
    // A second app on a policy whose production gate is a short bake, and which evaluates again in production.
    const baked = await startEnvironmentsApp('environments-bake', (prod) => ({
      ...prod,
      gate: { bake: 'PT2S', maxErrorRate: 0.05 },
      evaluation: { mode: 'rerun' },
    }));
    try {
      await baked.lab.trainAndRegister({ name: model, version: '1', seed: 7, as: 'dana', outputToDatastore: true });
      const parent = `promote:${model}:1`;
      const atGate = await eventually(
        async () => {
          const res = await fetch(`${baked.url}/api/promotions/${encodeURIComponent(parent)}`);
          const p = (await res.json()) as Promotion;
          return p.status?.gate?.kind === 'bake' || p.result ? p : undefined;
        },
        'the bake',
        1800,
      );
      expect(atGate.status?.gate).toMatchObject({ environment: 'prod', kind: 'bake' });
      const done = await eventually(
        async () => {
          const p = (await (
            await fetch(`${baked.url}/api/promotions/${encodeURIComponent(parent)}`)
          ).json()) as Promotion;
          return p.runtimeStatus === 'Completed' || p.runtimeStatus === 'Failed' ? p : undefined;
        },
        'the promotion to end',
        1800,
      );
      expect(done.result?.outcome, JSON.stringify(done.result)).toBe('promoted');
      expect(done.result?.environments?.[1]?.gate).toMatch(/^baked PT2S in qa: \d+ requests, 0 answered 5xx$/);
      const inProd = (await (
        await fetch(`${baked.url}/api/promotions/${encodeURIComponent(`${parent}@prod`)}`)
      ).json()) as Promotion;
      // Evaluated again in production, not reused.
      expect(inProd.result?.evidence?.reason).not.toMatch(/reused/);
      expect((await baked.lab.inWorkspace(PROD_WORKSPACE).getModelVersion(model, '1'))?.tags.stage).toBe('production');
    } finally {
      await baked.stop();
    }
  });

  /** Writes production's ARM API received, from the host's request log of that workspace. */
  async function prodWrites(): Promise<number> {
    const log = (await app.lab.admin('GET', `requests?method=WRITE&workspace=${PROD_WORKSPACE}`)) as {
      value: unknown[];
    };
    return log.value.length;
  }
});
