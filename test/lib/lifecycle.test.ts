/**
 * Lifecycle publishing: the Service Bus message shape (ServiceBusMessage fields a subscription filters on and the
 * topic deduplicates by), the in-memory topic's duplicate detection, the Event Grid sink through the real
 * EventGridPublisherClient against the local topic (key and SAS token), bounded retries that never fail the caller,
 * and activities publishing what they carry while they work, each event once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AzureKeyCredential,
  AzureSASCredential,
  EventGridPublisherClient,
  generateSharedAccessSignature,
} from '@azure/eventgrid';
import type { ServiceBusMessage } from '@azure/service-bus';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { carriedLifecycle, createActivities, type ActivityDeps } from '../../lib/activities';
import {
  createCloudEventSender,
  EventGridSink,
  FanOutPublisher,
  lifecycleMessage,
  MAX_MESSAGE_ID,
  MemoryTopic,
  messageIdOf,
  ServiceBusSink,
  type LifecycleSink,
} from '../../lib/adapters/lifecycle';
import { readSettings } from '../../lib/config';
import { lifecycleEvent, LIFECYCLE_STEPS, type LifecycleEvent } from '../../lib/domain/lifecycle';
import { EVENT_GRID_TOPIC_PATH, LocalEventGridTopic } from '../../local/runtime/event-grid-topic';

const SOURCE = 'https://func-champion.azurewebsites.net';
const at = new Date('2030-01-01T10:00:00.000Z');
const subject = { instanceId: 'promote:demand:3', modelName: 'demand', modelVersion: '3' };

function decided(occurrence = 1): LifecycleEvent {
  return lifecycleEvent(subject, 'approval-decided', occurrence, at, {
    decision: 'approve',
    approver: 'ana',
    comment: undefined,
  });
}

describe('lifecycle events', () => {
  it('have deterministic ids: the instance and the step, then its occurrence', () => {
    expect(decided().id).toBe('promote:demand:3:approval-decided');
    expect(decided(2).id).toBe('promote:demand:3:approval-decided:2');
    expect(decided()).toEqual(decided());
    expect(decided()).toMatchObject({
      type: 'Champion.Approval.Decided',
      subject: 'models/demand/versions/3',
      time: '2030-01-01T10:00:00.000Z',
      data: { ...subject, step: 'approval-decided', details: { decision: 'approve', approver: 'ana' } },
    });
    // Undefined details are left out, so the event is the same JSON after a round trip through a history.
    expect(Object.keys(decided().data.details)).toEqual(['decision', 'approver']);
    expect(new Set(Object.values(LIFECYCLE_STEPS)).size).toBe(Object.keys(LIFECYCLE_STEPS).length);
  });
});

describe('Service Bus lifecycle messages', () => {
  it('carry the CloudEvent as body, the type as subject, filterable properties and the event id as messageId', () => {
    const message: ServiceBusMessage = lifecycleMessage(decided(), SOURCE);
    expect(message).toEqual({
      messageId: 'promote:demand:3:approval-decided',
      correlationId: 'promote:demand:3',
      subject: 'Champion.Approval.Decided',
      contentType: 'application/cloudevents+json; charset=utf-8',
      body: {
        id: 'promote:demand:3:approval-decided',
        source: SOURCE,
        type: 'Champion.Approval.Decided',
        subject: 'models/demand/versions/3',
        time: '2030-01-01T10:00:00.000Z',
        datacontenttype: 'application/json',
        data: decided().data,
      },
      applicationProperties: {
        decision: 'approve',
        approver: 'ana',
        type: 'Champion.Approval.Decided',
        step: 'approval-decided',
        instanceId: 'promote:demand:3',
        modelName: 'demand',
        modelVersion: '3',
      },
    });
  });

  it('keeps message ids within 128 characters, still distinct and stable', () => {
    const long = `promote:${'m'.repeat(200)}:1:evaluated`;
    const id = messageIdOf(long);
    expect(id.length).toBe(MAX_MESSAGE_ID);
    expect(messageIdOf(long)).toBe(id);
    expect(messageIdOf(long.replace(':1:', ':2:'))).not.toBe(id);
  });

  it('a detail cannot overwrite the properties every message carries', () => {
    const event = lifecycleEvent(subject, 'evaluated', 1, at, { step: 9, modelName: 'other', decision: 'win' });
    expect(lifecycleMessage(event, SOURCE).applicationProperties).toMatchObject({
      step: 'evaluated',
      modelName: 'demand',
      decision: 'win',
    });
  });

  it('the in-memory topic drops a message id it has seen within the duplicate detection window', async () => {
    let now = 0;
    const topic = new MemoryTopic({ duplicateWindowMs: 1000, now: () => now });
    const sink = new ServiceBusSink(topic, SOURCE);
    await sink.send([decided(), decided(2)]);
    await sink.send([decided()]); // a re-executed activity
    expect(topic.messages().map((m) => m.messageId)).toEqual([decided().id, decided(2).id]);
    now = 1000;
    await sink.send([decided()]);
    expect(topic.messages()).toHaveLength(3);
  });
});

describe('Event Grid lifecycle events through EventGridPublisherClient', () => {
  let server: http.Server | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    if (dir) rmSync(dir, { recursive: true, force: true });
    server = dir = undefined;
  });

  async function localTopic(key: string): Promise<{ topic: LocalEventGridTopic; endpoint: string }> {
    dir = mkdtempSync(path.join(tmpdir(), 'topic-'));
    const topic = new LocalEventGridTopic(path.join(dir, 'events.db'), key);
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const reply = topic.publish({
          method: req.method ?? 'GET',
          query: url.searchParams,
          headers: req.headers,
          body: Buffer.concat(chunks),
        });
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    return { topic, endpoint: `http://127.0.0.1:${port}${EVENT_GRID_TOPIC_PATH}` };
  }

  const key = Buffer.alloc(32, 7).toString('base64');

  it('publishes a batch as CloudEvents 1.0 with the access key, in order', async () => {
    const { topic, endpoint } = await localTopic(key);
    const sender = createCloudEventSender({
      endpoint,
      credential: new AzureKeyCredential(key),
      allowInsecureConnection: true,
    });
    const started = lifecycleEvent(subject, 'promotion-started', 1, at, { source: 'event' });
    await new EventGridSink(sender, SOURCE).send([started, decided()]);
    const { events } = topic.read();
    expect(events.map((e) => e.event)).toEqual([
      expect.objectContaining({ id: started.id, type: 'Champion.Promotion.Started', specversion: '1.0' }),
      expect.objectContaining({
        id: decided().id,
        source: SOURCE,
        subject: 'models/demand/versions/3',
        time: '2030-01-01T10:00:00.000Z',
        data: decided().data,
      }),
    ]);
    topic.close();
  });

  it('takes a shared access signature made from the key, and refuses a wrong key', async () => {
    const { topic, endpoint } = await localTopic(key);
    const sas = await generateSharedAccessSignature(
      endpoint,
      new AzureKeyCredential(key),
      new Date(Date.now() + 60_000),
    );
    // What a SAS-holding publisher sends: the SDK's own client with an AzureSASCredential.
    const signed = new EventGridPublisherClient(endpoint, 'CloudEvent', new AzureSASCredential(sas), {
      allowInsecureConnection: true,
    });
    await new EventGridSink(signed, SOURCE).send([decided()]);
    const wrong = createCloudEventSender({
      endpoint,
      credential: new AzureKeyCredential(Buffer.alloc(32, 8).toString('base64')),
      allowInsecureConnection: true,
    });
    await expect(new EventGridSink(wrong, SOURCE).send([decided(2)])).rejects.toMatchObject({ statusCode: 401 });
    expect(topic.read().events.map((e) => e.event.id)).toEqual([decided().id]);
    topic.close();
  });
});

describe('FanOutPublisher', () => {
  const failing = (failures: number) => {
    const calls: LifecycleEvent[][] = [];
    const sink: LifecycleSink = {
      name: 'flaky',
      send: async (events) => {
        calls.push([...events]);
        if (calls.length <= failures) throw new Error(`503 #${calls.length}`);
      },
    };
    return { sink, calls };
  };

  it('tries a failing sink again with backoff, and gives up after the bounded tries without throwing', async () => {
    const pauses: number[] = [];
    const lines: string[] = [];
    const flaky = failing(1);
    const down = failing(Infinity);
    const publisher = new FanOutPublisher([flaky.sink, down.sink], {
      log: (l) => lines.push(l),
      attempts: 3,
      backoffMs: 10,
      sleep: async (ms) => {
        pauses.push(ms);
      },
    });
    await expect(publisher.publish([decided()])).resolves.toBeUndefined();
    expect(flaky.calls).toHaveLength(2);
    expect(down.calls).toHaveLength(3);
    expect(pauses.sort((a, b) => a - b)).toEqual([10, 10, 20]);
    expect(lines).toEqual([expect.stringContaining(`did not take ${decided().id} after 3 tries: 503 #3`)]);
  });

  it('sends each event once: a retried activity carrying the same steps sends only what was not taken', async () => {
    const sink = failing(0);
    const publisher = new FanOutPublisher([sink.sink], { log: () => {} });
    const later = { ...decided(), id: `${decided().id}:later` };
    await publisher.publish([decided()]);
    await publisher.publish([decided(), later]);
    await publisher.publish([decided(), later]);
    expect(sink.calls).toEqual([[decided()], [later]]);
  });

  it('sends again what a sink did not take after its tries', async () => {
    const down = failing(3);
    const publisher = new FanOutPublisher([down.sink], { log: () => {}, attempts: 3, sleep: async () => {} });
    await publisher.publish([decided()]);
    await publisher.publish([decided()]);
    expect(down.calls).toEqual([[decided()], [decided()], [decided()], [decided()]]);
  });

  it('sends nothing for no events', async () => {
    const sink = failing(0);
    await new FanOutPublisher([sink.sink], { log: () => {} }).publish([]);
    expect(sink.calls).toEqual([]);
  });
});

describe('activities publish the steps they carry', () => {
  function activities(published: LifecycleEvent[][], listModelVersions: (name: string) => Promise<unknown[]>) {
    return createActivities({
      workspace: { listModelVersions },
      telemetry: { event: () => {}, exception: () => {} },
      approvalSecret: 'x'.repeat(32),
      publicUrl: SOURCE,
      signal: async () => true,
      lifecycle: { publish: async (events: readonly LifecycleEvent[]) => void published.push([...events]) },
    } as unknown as ActivityDeps);
  }

  it('while the work runs, stripped from the input the activity sees', async () => {
    const published: LifecycleEvent[][] = [];
    const asked: string[] = [];
    // The work ends only once the steps are out: were they published after it, this would time out.
    const listModelVersions = async (name: string) => {
      asked.push(name);
      await vi.waitFor(() => expect(published).toHaveLength(1), { timeout: 2_000 });
      return [];
    };
    const input = { modelName: 'demand', modelVersion: '3', lifecycle: [decided()] };
    await expect(activities(published, listModelVersions).findNewerWinner(input)).resolves.toEqual({});
    expect(published).toEqual([[decided()]]);
    expect(asked).toEqual(['demand']);
  });

  it('also when the work fails, and its retry sends nothing twice through the fan-out', async () => {
    const sent: LifecycleEvent[][] = [];
    const publisher = new FanOutPublisher([{ name: 'topic', send: async (e) => void sent.push([...e]) }], {
      log: () => {},
    });
    let calls = 0;
    const handlers = createActivities({
      workspace: {
        listModelVersions: async () => {
          if (++calls === 1) throw new Error('ARM 500');
          return [];
        },
      },
      telemetry: { event: () => {}, exception: () => {} },
      approvalSecret: 'x'.repeat(32),
      publicUrl: SOURCE,
      signal: async () => true,
      lifecycle: publisher,
    } as unknown as ActivityDeps);
    const input = { modelName: 'demand', modelVersion: '3', lifecycle: [decided()] };
    await expect(handlers.findNewerWinner(input)).rejects.toThrow('ARM 500');
    await expect(handlers.findNewerWinner(input)).resolves.toEqual({});
    expect(sent).toEqual([[decided()]]);
  });

  it('nothing malformed', () => {
    expect(carriedLifecycle({ a: 1, lifecycle: [decided(), { id: 'x', step: 'nope' }] })).toEqual({
      events: [decided()],
      rest: { a: 1 },
    });
  });
});

describe('settings', () => {
  const base = {
    AZURE_SUBSCRIPTION_ID: 's',
    AZURE_RESOURCE_GROUP: 'g',
    AZUREML_WORKSPACE_NAME: 'w',
    CHAMPION_POLICIES: '{}',
    CHAMPION_APPROVAL_SECRET: 'x'.repeat(32),
  };
  it('refuse a plain-http topic without its key, and a lifecycle topic without a namespace, naming the setting', () => {
    expect(() => readSettings({ ...base, CHAMPION_EVENTGRID_ENDPOINT: 'http://127.0.0.1:7071/x' })).toThrow(
      /CHAMPION_EVENTGRID_ENDPOINT: must be https/,
    );
    expect(() => readSettings({ ...base, CHAMPION_EVENTGRID_ENDPOINT: 'ftp://x' })).toThrow(
      /CHAMPION_EVENTGRID_ENDPOINT/,
    );
    expect(() => readSettings({ ...base, SERVICEBUS_LIFECYCLE_TOPIC: 'lifecycle' })).toThrow(/SERVICEBUS_NAMESPACE/);
    expect(
      readSettings({ ...base, CHAMPION_EVENTGRID_ENDPOINT: 'https://t.westeurope-1.eventgrid.azure.net/api/events' }),
    ).toMatchObject({ CHAMPION_EVENTGRID_ENDPOINT: 'https://t.westeurope-1.eventgrid.azure.net/api/events' });
  });
});
