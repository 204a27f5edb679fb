import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventGridEvent, LocalWorkspace } from '../../local/workspace/index';
import { removeTempDirs, rest, sdk, start, tempDir, trainAndRegister, waitFor } from './helpers';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  events: EventGridEvent[];
}

/** A webhook receiver; `respond` decides the status per request (default 200). */
class Subscriber {
  readonly received: Received[] = [];
  respond: (r: Received) => number = () => 200;
  private server!: Server;
  base = '';

  async listen(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r = { path: req.url ?? '', headers: req.headers, events: JSON.parse(Buffer.concat(chunks).toString()) };
        this.received.push(r);
        res.writeHead(this.respond(r));
        res.end();
      });
    });
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  on(path: string, type?: string): EventGridEvent[] {
    return this.received
      .filter((r) => r.path === path)
      .flatMap((r) => r.events)
      .filter((e) => !type || e.eventType === `Microsoft.MachineLearningServices.${type}`);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((ok) => this.server.close(() => ok()));
  }
}

let sub: Subscriber;
let ws: LocalWorkspace;
const MODEL_HOOK = '/runtime/webhooks/eventgrid?functionName=onModelRegistered';

beforeAll(async () => {
  sub = await new Subscriber().listen();
  ws = await start({
    eventSubscribers: [
      { url: `${sub.base}${MODEL_HOOK}`, eventTypes: ['ModelRegistered'] },
      { url: `${sub.base}/all` },
    ],
  });
});

afterAll(async () => {
  await ws.close();
  await sub.close();
  removeTempDirs();
});

describe('Event Grid delivery', () => {
  it('emits ModelRegistered in the Event Grid schema with PascalCase data, filtered per subscriber', async () => {
    const client = sdk(ws);
    await client.modelVersions.createOrUpdate(ws.resourceGroup, ws.workspaceName, 'evt-model', '3', {
      properties: {
        modelUri: 'azureml://datastores/workspaceblobstore/paths/m',
        tags: { stage: 'candidate' },
        properties: { rmse: '0.4' },
      },
    });
    const [event] = await waitFor(() => {
      const e = sub.on(MODEL_HOOK);
      return e.length ? e : undefined;
    }, 'ModelRegistered delivery');
    expect(Object.keys(event!).sort()).toEqual(
      ['data', 'dataVersion', 'eventTime', 'eventType', 'id', 'metadataVersion', 'subject', 'topic'].sort(),
    );
    expect(event).toMatchObject({
      eventType: 'Microsoft.MachineLearningServices.ModelRegistered',
      subject: 'models/evt-model:3',
      topic: ws.workspace.workspaceId,
      data: {
        ModelName: 'evt-model',
        ModelVersion: 3,
        ModelTags: { stage: 'candidate' },
        ModelProperties: { rmse: '0.4' },
      },
    });
    const req = sub.received.find((r) => r.path === MODEL_HOOK)!;
    expect(req.headers['aeg-event-type']).toBe('Notification');
    expect(req.headers['content-type']).toBe('application/json');

    // Updating a version (tags) is not a new registration.
    await client.modelVersions.createOrUpdate(ws.resourceGroup, ws.workspaceName, 'evt-model', '3', {
      properties: { modelUri: 'azureml://datastores/workspaceblobstore/paths/m', tags: { stage: 'champion' } },
    });
    await waitFor(() => sub.on('/all', 'ModelRegistered').length === 1, 'unfiltered copy');
    expect(ws.events({ type: 'Microsoft.MachineLearningServices.ModelRegistered' })).toHaveLength(1);
  });

  it('emits RunStatusChanged and RunCompleted when a job finishes, not to the ModelRegistered-only subscriber', async () => {
    const client = sdk(ws);
    await trainAndRegister(ws, client, { job: 'evt-job', model: 'evt-trained', version: '1' });
    const completed = await waitFor(() => sub.on('/all', 'RunCompleted')[0], 'RunCompleted');
    expect(completed.subject).toMatch(/^experiments\/[0-9a-f-]+\/runs\/evt-job$/);
    expect(completed.data).toMatchObject({ RunId: 'evt-job', ExperimentName: 'Default', RunType: 'azureml.scriptrun' });
    expect(completed.data.RunProperties).toMatchObject({ 'training.task': 'regression' });
    const statuses = sub.on('/all', 'RunStatusChanged').map((e) => e.data.RunStatus);
    expect(statuses).toEqual(expect.arrayContaining(['Running', 'Completed']));
    expect(sub.on(MODEL_HOOK).map((e) => e.eventType)).not.toContain('Microsoft.MachineLearningServices.RunCompleted');
  });

  it('signals a model-monitor breach and recovery through RunStatusChanged run tags (admin route)', async () => {
    const raw = rest(ws);
    const breach = await raw.request('POST', ws.adminUrl('monitor/breach'), {
      body: {
        monitorName: 'house-monitor',
        endpoint: 'ep',
        deployment: 'blue',
        metric: 'jensen_shannon_distance',
        value: 0.4,
        threshold: 0.1,
      },
    });
    expect(breach.status).toBe(202);
    const recovery = await raw.request('POST', ws.adminUrl('monitor/recover'), {
      body: { monitorName: 'house-monitor' },
    });
    expect(recovery.status).toBe(202);
    const bad = await raw.request('POST', ws.adminUrl('monitor/breach'), { body: { value: 'high' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/'value'/);
    raw.close();
    const monitorEvents = await waitFor(() => {
      const e = sub.on('/all', 'RunStatusChanged').filter((x) => x.data.RunType === 'azureml.modelmonitor');
      return e.length === 2 ? e : undefined;
    }, 'monitor events');
    const tags = monitorEvents.map((e) => e.data.RunTags as Record<string, string>);
    expect(tags[0]!.azureml_modelmonitor_threshold_breached).toMatch(/violating metric thresholds/);
    expect(tags[1]!.azureml_modelmonitor_threshold_breached).toBeUndefined();
    expect(monitorEvents[0]!.data.RunStatus).toBe('Failed');
    expect(monitorEvents[1]!.data.RunStatus).toBe('Completed');
  });

  it('emits the older DatasetDriftDetected', async () => {
    ws.emitDatasetDrift({ driftName: 'sales-drift', driftCoefficient: 0.9 });
    const e = await waitFor(() => sub.on('/all', 'DatasetDriftDetected')[0], 'drift event');
    expect(e.data).toMatchObject({ DataDriftName: 'sales-drift', DriftCoefficient: 0.9 });
    expect(Object.keys(e.data)).toEqual(
      expect.arrayContaining(['DataDriftId', 'RunId', 'BaseDatasetId', 'TargetDatasetId', 'StartTime', 'EndTime']),
    );
  });

  it('retries a failing subscriber with backoff until it accepts (at least once)', async () => {
    let calls = 0;
    sub.respond = (r) => (r.path === '/flaky' && ++calls <= 2 ? 500 : 200);
    ws.addEventSubscriber({ url: `${sub.base}/flaky`, eventTypes: ['DatasetDriftDetected'] });
    const event = ws.emitDatasetDrift({ driftName: 'flaky' });
    await waitFor(
      () => ws.deliveries({ status: 'delivered' }).find((d) => d.subscriber.endsWith('/flaky')),
      'delivery',
    );
    const attempts = sub.received.filter((r) => r.path === '/flaky');
    expect(attempts).toHaveLength(3);
    expect(attempts.every((a) => a.events[0]!.id === event.id)).toBe(true);
    expect(attempts.map((a) => a.headers['aeg-delivery-count'])).toEqual(['0', '1', '2']);
    const d = ws.deliveries().find((x) => x.subscriber.endsWith('/flaky'))!;
    expect(d.attempts).toBe(3);
  });

  it('dead-letters on 400 without retrying', async () => {
    sub.respond = (r) => (r.path === '/reject' ? 400 : 200);
    ws.addEventSubscriber({ url: `${sub.base}/reject`, eventTypes: ['DatasetDriftDetected'] });
    ws.emitDatasetDrift({ driftName: 'rejected' });
    const dead = await waitFor(
      () => ws.deliveries({ status: 'dead' }).find((d) => d.subscriber.endsWith('/reject')),
      'dead letter',
    );
    expect(dead.attempts).toBe(1);
    ws.removeEventSubscriber(`${sub.base}/reject`);
    sub.respond = () => 200;
  });
});

describe('event delivery across restarts', () => {
  it('keeps undelivered events in SQLite and delivers them after a restart', async () => {
    const down = await new Subscriber().listen();
    down.respond = () => 503;
    const dataDir = tempDir();
    const first = await start({ dataDir, eventSubscribers: [{ url: `${down.base}/hook` }] });
    const event = first.emitDatasetDrift({ driftName: 'persisted' });
    await waitFor(() => down.received.length >= 1, 'first failed attempt');
    await first.close();
    down.respond = () => 200;
    const second = await start({ dataDir });
    try {
      await waitFor(() => second.deliveries({ status: 'delivered' }).length === 1, 'delivery after restart');
      const ok = down.received.filter((r) => r.events[0]?.id === event.id);
      expect(ok.length).toBeGreaterThanOrEqual(2);
      expect(second.eventSubscribers().map((s) => s.url)).toEqual([`${down.base}/hook`]);
    } finally {
      await second.close();
      await down.close();
    }
  });
});
