/**
 * Lifecycle events on the embedded default: the app publishes each step of a promotion through the official
 * EventGridPublisherClient to the local host's Event Grid topic, and the test reads the stream back from the topic
 * (GET /_local/events), as the dashboard does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideByLink } from '../../local/inbox';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

interface Stored {
  seq: number;
  event: {
    id: string;
    type: string;
    source: string;
    subject: string;
    specversion: string;
    time: string;
    data: {
      instanceId: string;
      modelName: string;
      modelVersion?: string;
      step: string;
      details: Record<string, unknown>;
    };
  };
}

describe('lifecycle events on the local Event Grid topic', { timeout: 120_000 }, () => {
  let app: EmbeddedApp;

  const stream = async (after = 0): Promise<{ events: Stored[]; last: number }> => {
    const res = await fetch(`${app.url}/_local/events?after=${after}`);
    expect(res.status).toBe(200);
    return (await res.json()) as { events: Stored[]; last: number };
  };
  const of = async (instanceId: string) =>
    (await stream()).events.filter((e) => e.event.data.instanceId === instanceId).map((e) => e.event);
  const promotion = async (id: string) =>
    (await (await fetch(`${app.url}/api/promotions/${encodeURIComponent(id)}`)).json()) as {
      runtimeStatus: string;
      status?: { phase: string };
      result?: { outcome: string };
    };

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 100 });
  }, 60_000);
  afterAll(async () => app?.stop());

  it('publishes every step of a promotion once, in order, as CloudEvents with deterministic ids', async () => {
    const id = 'promote:demand:1';
    await app.lab.trainAndRegister({ name: 'demand', version: '1', seed: 1, as: 'dana' });
    await eventually(
      async () => ((await promotion(id)).status?.phase === 'awaiting-approval' ? true : undefined),
      'approval',
      600,
    );
    // The approval request is published by the activity that sent it, while the promotion waits.
    const waiting = await eventually(
      async () => {
        const events = await of(id);
        return events.some((e) => e.data.step === 'approval-requested') ? events : undefined;
      },
      'the approval request on the topic',
      200,
    );
    expect(waiting.map((e) => e.data.step)).toEqual(['promotion-started', 'evaluated', 'approval-requested']);

    const links = app.inbox.message(id)!;
    expect((await decideByLink(links.approveUrl, { approver: 'ana' })).status).toBe(202);
    await eventually(
      async () => ((await promotion(id)).result?.outcome === 'promoted' ? true : undefined),
      'done',
      600,
    );

    const events = await eventually(
      async () => {
        const list = await of(id);
        return list.some((e) => e.data.step === 'production-changed') ? list : undefined;
      },
      'production-changed on the topic',
      200,
    );
    const steps = [
      'promotion-started',
      'evaluated',
      'approval-requested',
      'approval-decided',
      'rollout-step',
      'production-changed',
    ];
    expect(events.map((e) => e.data.step)).toEqual(steps);
    // Exactly once each: the ids are the promotion's and the step's, and none came twice.
    expect(events.map((e) => e.id)).toEqual(steps.map((step) => `${id}:${step}`));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    for (const event of events) {
      expect(event).toMatchObject({
        specversion: '1.0',
        source: app.url,
        subject: 'models/demand/versions/1',
        data: { instanceId: id, modelName: 'demand', modelVersion: '1' },
      });
      expect(event.type).toMatch(/^Champion\./);
    }
    const byStep = Object.fromEntries(events.map((e) => [e.data.step, e]));
    expect(byStep['evaluated']!.data.details).toMatchObject({ decision: 'win' });
    expect(byStep['approval-decided']!.data.details).toMatchObject({ decision: 'approve', approver: 'ana' });
    expect(byStep['rollout-step']!.data.details).toMatchObject({ step: 1, steps: 1 });
    expect(byStep['production-changed']!.data.details).toMatchObject({ endpointName: 'demand-ep' });
    // In the order the steps happened, by the promotion's clock.
    const times = events.map((e) => Date.parse(e.time));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('refuses a publish without the topic key, and a malformed batch, keeping nothing', async () => {
    const before = (await stream()).last;
    const topic = `${app.url}/_local/eventgrid/api/events?api-version=2018-01-01`;
    const event = { id: 'x', source: 'test', type: 'T', specversion: '1.0' };
    const headers = { 'content-type': 'application/cloudevents-batch+json; charset=utf-8' };
    const unsigned = await fetch(topic, { method: 'POST', headers, body: JSON.stringify([event]) });
    expect(unsigned.status).toBe(401);
    const wrongKey = await fetch(topic, {
      method: 'POST',
      headers: { ...headers, 'aeg-sas-key': 'not-the-key' },
      body: JSON.stringify([event]),
    });
    expect(wrongKey.status).toBe(401);
    expect((await stream(before)).events).toEqual([]);
    expect((await fetch(`${app.url}/_local/events?after=x`)).status).toBe(400);
  });
});
