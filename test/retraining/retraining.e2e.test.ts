/**
 * Continuous training on the embedded default, driven through public surfaces only: the local workspace emits
 * model-monitor (v2) and dataset-drift (v1) events that reach the app's Event Grid webhook; the app is read over
 * its HTTP API and the workspace through the official SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App, type Run } from './support';

describe('retraining on the embedded default', { timeout: 180_000 }, () => {
  let app: App;
  let run: Run;

  beforeAll(async () => {
    app = await App.start();
    await app.lab.admin('POST', 'data/generate', { name: 'demand-train', version: '1', rows: 1000, seed: 21 });
  });
  afterAll(async () => {
    await app?.app.stop();
  });

  it('starts exactly one retraining for a storm of 20 drift signals of both generations', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2
          ? app.lab.admin('POST', 'monitor/breach', { endpoint: 'demand-ep', signal: 'feature-drift' })
          : app.lab.admin('POST', 'monitor/dataset-drift', { driftName: 'demand-drift' }),
      ),
    );
    const triggers = await app.decided(20);
    expect(triggers).toHaveLength(20);
    expect(new Set(triggers.map((t) => t.source))).toEqual(new Set(['drift-v1', 'drift-v2']));
    const started = triggers.filter((t) => t.decision?.action === 'start');
    expect(started).toHaveLength(1);
    expect(started[0]!.runId).toBe('retrain:demand:1');
    const skipped = triggers.filter((t) => t.decision?.action === 'skip');
    expect(skipped.every((t) => t.decision?.reason === 'single-flight' && t.runId === 'retrain:demand:1')).toBe(true);
    expect((await app.retrainings()).runs.map((r) => r.id)).toEqual(['retrain:demand:1']);
  });

  it('records a recovery without retraining', async () => {
    await app.lab.admin('POST', 'monitor/recover', { endpoint: 'demand-ep' });
    const triggers = await app.decided(21);
    expect(triggers.filter((t) => t.decision?.reason === 'recovery-signal')).toHaveLength(1);
    expect((await app.retrainings()).runs).toHaveLength(1);
  });

  it('acknowledges an invalid or unrelated delivery', async () => {
    const webhook = `${app.url}/runtime/webhooks/eventgrid?functionName=onDriftDetected`;
    const post = (body: unknown) =>
      fetch(webhook, { method: 'POST', headers: { 'aeg-event-type': 'Notification' }, body: JSON.stringify(body) });
    const invalid = await post([
      {
        id: 'bad-1',
        subject: 's',
        eventType: 'Microsoft.MachineLearningServices.RunStatusChanged',
        eventTime: 'yesterday',
        data: {},
      },
    ]);
    expect(invalid.status).toBeLessThan(300);
    const unrelated = await post([
      {
        id: 'other-1',
        subject: 'experiments/x/runs/r',
        eventType: 'Microsoft.MachineLearningServices.DatasetDriftDetected',
        eventTime: new Date().toISOString(),
        data: {
          DataDriftId: 'x',
          DataDriftName: 'fraud-monitor',
          BaseDatasetId: 'a',
          TargetDatasetId: 'b',
          DriftCoefficient: 0.9,
          StartTime: '2026-01-01T00:00:00Z',
          EndTime: '2026-01-02T00:00:00Z',
        },
      },
    ]);
    expect(unrelated.status).toBeLessThan(300);
    expect((await app.retrainings()).triggers).toHaveLength(21);
  });

  it('registers the retrained version with lineage, and its registration starts a promotion', async () => {
    run = await app.finished('retrain:demand:1');
    expect(run.result).toMatchObject({
      outcome: 'registered',
      modelVersion: '1',
      promotionId: 'promote:demand:1',
      environment: { created: true },
      job: { submitted: true, status: 'Completed' },
    });
    expect(Object.keys(run.result!.job!.metrics!)).toEqual(
      expect.arrayContaining(['metrics.rmse', 'metrics.mae', 'metrics.r2']),
    );
    const { resourceGroup: rg, workspaceName: ws } = app.lab.info;
    const model = await app.lab.client.modelVersions.get(rg, ws, 'demand', '1');
    expect(model.properties.tags).toMatchObject({
      'champion.retraining': 'retrain:demand:1',
      'training.job': run.result!.job!.name,
      'retrain.trigger': expect.stringMatching(/^drift-v[12]$/),
      'git.repository': 'local',
    });
    expect(model.properties.properties).toMatchObject({ evaluation_data_version: 'demand-train:1' });
    const promotion = await app.until(async () => {
      const res = await fetch(`${app.url}/api/promotions/promote%3Ademand%3A1`);
      return res.status === 200 ? ((await res.json()) as { status?: { phase: string } }) : undefined;
    }, 'the promotion of the retrained version');
    expect(promotion.status?.phase).toBeDefined();

    // Every step reached the local Event Grid topic once: the run's start and end, and each skipped signal.
    type Stored = { event: { id: string; type: string; data: { instanceId: string; step: string; details: object } } };
    const events = await app.until(async () => {
      const read = (await (await fetch(`${app.url}/_local/events`)).json()) as { events: Stored[] };
      const list = read.events.map((e) => e.event).filter((e) => e.data.step.startsWith('retraining-'));
      return list.some((e) => e.data.step === 'retraining-finished') ? list : undefined;
    }, 'the retraining steps on the topic');
    const run1 = events.filter((e) => e.data.instanceId === 'retrain:demand:1');
    expect(run1.map((e) => e.id)).toEqual([
      'retrain:demand:1:retraining-started',
      'retrain:demand:1:retraining-finished',
    ]);
    expect(run1[1]!.data.details).toMatchObject({ outcome: 'registered', registeredVersion: '1' });
    const skips = events.filter((e) => e.data.step === 'retraining-skipped');
    // 19 of the storm, and the recovery signal.
    expect(skips.length).toBe(20);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(skips.every((e) => e.id === `${e.data.instanceId}:retraining-skipped`)).toBe(true);
  });

  it('holds the cooldown after the run, reuses the environment for a manual run, and rejects bad requests', async () => {
    await app.lab.admin('POST', 'monitor/breach', { endpoint: 'demand-ep' });
    const triggers = await app.decided(22);
    expect(triggers.filter((t) => t.decision?.reason === 'cooldown')).toHaveLength(1);

    const bad = await fetch(`${app.url}/api/retrainings`, {
      method: 'POST',
      body: JSON.stringify({ modelName: 'demand' }),
    });
    expect(bad.status).toBe(400);
    const unknown = await fetch(`${app.url}/api/retrainings`, {
      method: 'POST',
      body: JSON.stringify({ modelName: 'fraud', reason: 'x' }),
    });
    expect(unknown.status).toBe(404);

    const manual = await fetch(`${app.url}/api/retrainings`, {
      method: 'POST',
      body: JSON.stringify({ modelName: 'demand', reason: 'new labels arrived', requestedBy: 'ana' }),
    });
    expect(manual.status).toBe(202);
    const body = (await manual.json()) as { runId?: string; decision?: { reason: string } };
    expect(body).toMatchObject({ runId: 'retrain:demand:2', decision: { reason: 'manual' } });
    const second = await app.finished('retrain:demand:2');
    expect(second.result).toMatchObject({ outcome: 'registered', modelVersion: '2', environment: { created: false } });
    expect(second.result!.environment!.version).toBe(run.result!.environment!.version);
  });

  it("runs the model's schedule through the guard: within the cooldown it is recorded and skipped", async () => {
    const invoked = await fetch(`${app.url}/admin/functions/retrainOnSchedule_demand`, {
      method: 'POST',
      body: JSON.stringify({ input: { isPastDue: false } }),
    });
    expect(invoked.status).toBeLessThan(300);
    const triggers = await app.decided(24);
    const timer = triggers.find((t) => t.source === 'timer');
    expect(timer?.decision).toMatchObject({ action: 'skip', reason: 'cooldown' });
    expect((await app.retrainings()).runs).toHaveLength(2);
  });
});
