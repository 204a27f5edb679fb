/**
 * LifecyclePublisher implementations. Each step goes, in the order the flow announced them, to every sink: an Event
 * Grid topic as a CloudEvent 1.0 (the official EventGridPublisherClient), a Service Bus topic as a message (subject
 * and application properties to filter on, messageId for duplicate detection), and telemetry. A sink that fails is
 * tried again a bounded number of times, then given up on with a log line: a promotion never fails for it.
 */
import { createHash } from 'node:crypto';
import type { KeyCredential, TokenCredential } from '@azure/core-auth';
import { EventGridPublisherClient, type CloudEvent, type SendCloudEventInput } from '@azure/eventgrid';
import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import type { LifecycleData, LifecycleEvent } from '../domain/lifecycle';
import type { LifecyclePublisher } from '../ports';

/** One destination of lifecycle events. */
export interface LifecycleSink {
  readonly name: string;
  send(events: readonly LifecycleEvent[]): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Event Grid

/** What the sink needs of EventGridPublisherClient<'CloudEvent'>. */
export interface CloudEventSender {
  send(events: SendCloudEventInput<LifecycleData>[]): Promise<void>;
}

export interface EventGridTarget {
  /** The topic endpoint, e.g. `https://egt-champion.westeurope-1.eventgrid.azure.net/api/events`. */
  endpoint: string;
  /** The app's identity on Azure (the topic's local auth is off); an access key only for the local topic. */
  credential: TokenCredential | KeyCredential;
  /** Only for the local topic, which listens on http. */
  allowInsecureConnection?: boolean;
}

export function createCloudEventSender(target: EventGridTarget): CloudEventSender {
  const client = new EventGridPublisherClient(target.endpoint, 'CloudEvent', target.credential, {
    ...(target.allowInsecureConnection ? { allowInsecureConnection: true } : {}),
    // The publisher retries itself; the SDK's own retries would multiply them.
    retryOptions: { maxRetries: 0 },
  });
  return { send: (events) => client.send(events) };
}

/** A lifecycle event as a CloudEvent 1.0 (`source` names the app, `id` is unique within it). */
export function toCloudEvent(event: LifecycleEvent, source: string): CloudEvent<LifecycleData> {
  return {
    id: event.id,
    source,
    type: event.type,
    subject: event.subject,
    time: new Date(event.time),
    datacontenttype: 'application/json',
    data: event.data,
  };
}

export class EventGridSink implements LifecycleSink {
  readonly name = 'Event Grid';
  constructor(
    private readonly sender: CloudEventSender,
    private readonly source: string,
  ) {}

  send(events: readonly LifecycleEvent[]): Promise<void> {
    // One request: Event Grid accepts a batch of up to 1 MB, all or nothing.
    return this.sender.send(events.map((event) => toCloudEvent(event, this.source)));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Service Bus

/** What the sink needs of a ServiceBusSender; the seam unit tests use, since no broker runs locally. */
export interface MessageSender {
  sendMessages(messages: ServiceBusMessage[]): Promise<void>;
  close?(): Promise<void>;
}

export function createTopicSender(fullyQualifiedNamespace: string, topicName: string, credential: TokenCredential) {
  // Neither the client nor the sender connects until the first send.
  const client = new ServiceBusClient(fullyQualifiedNamespace, credential);
  const sender = client.createSender(topicName);
  return {
    sendMessages: (messages: ServiceBusMessage[]) => sender.sendMessages(messages),
    close: async () => {
      await sender.close();
      await client.close();
    },
  } satisfies MessageSender;
}

/** Service Bus caps MessageId at 128 characters: longer ids keep their start and a hash of the whole. */
export const MAX_MESSAGE_ID = 128;

export function messageIdOf(eventId: string): string {
  if (eventId.length <= MAX_MESSAGE_ID) return eventId;
  const hash = createHash('sha256').update(eventId).digest('hex').slice(0, 40);
  return `${eventId.slice(0, MAX_MESSAGE_ID - hash.length - 1)}~${hash}`;
}

/** Properties every message carries, which a subscription's SQL filter can name. */
const RESERVED_PROPERTIES = new Set(['type', 'step', 'instanceId', 'modelName', 'modelVersion']);

/**
 * A lifecycle event as a Service Bus message: the CloudEvent as its JSON body, `subject` the event type, the
 * step, model, version, instance and each detail as application properties (SQL filters such as
 * `step = 'production-changed' AND modelName = 'demand'`), and the event id as `messageId`, so the topic's duplicate
 * detection drops the resend of a re-executed activity.
 */
export function lifecycleMessage(event: LifecycleEvent, source: string): ServiceBusMessage {
  const properties: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(event.data.details)) {
    if (!RESERVED_PROPERTIES.has(key)) properties[key] = value;
  }
  return {
    messageId: messageIdOf(event.id),
    correlationId: event.data.instanceId,
    subject: event.type,
    contentType: 'application/cloudevents+json; charset=utf-8',
    body: { ...toCloudEvent(event, source), time: event.time },
    applicationProperties: {
      ...properties,
      type: event.type,
      step: event.step,
      instanceId: event.data.instanceId,
      modelName: event.data.modelName,
      ...(event.data.modelVersion !== undefined ? { modelVersion: event.data.modelVersion } : {}),
    },
  };
}

export class ServiceBusSink implements LifecycleSink {
  readonly name = 'Service Bus';
  constructor(
    private readonly sender: MessageSender,
    private readonly source: string,
  ) {}

  send(events: readonly LifecycleEvent[]): Promise<void> {
    return this.sender.sendMessages(events.map((event) => lifecycleMessage(event, this.source)));
  }
}

/**
 * The local stand-in for a Service Bus topic (no broker runs locally): messages are kept in memory, and a messageId
 * seen within the duplicate detection window is dropped, as a topic with `requiresDuplicateDetection` does.
 */
export class MemoryTopic implements MessageSender {
  private readonly kept: ServiceBusMessage[] = [];
  private readonly seen = new Map<string, number>();

  constructor(private readonly options: { capacity?: number; duplicateWindowMs?: number; now?: () => number } = {}) {}

  async sendMessages(messages: ServiceBusMessage[]): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    const window = this.options.duplicateWindowMs ?? 60 * 60 * 1000;
    for (const message of messages) {
      const id = message.messageId === undefined ? undefined : String(message.messageId);
      const at = id === undefined ? undefined : this.seen.get(id);
      if (id !== undefined && at !== undefined && now - at < window) continue;
      if (id !== undefined) this.seen.set(id, now);
      this.kept.push(structuredClone(message));
    }
    const capacity = this.options.capacity ?? 10_000;
    if (this.kept.length > capacity) this.kept.splice(0, this.kept.length - capacity);
  }

  /** Oldest first; copies. */
  messages(): ServiceBusMessage[] {
    return this.kept.map((message) => structuredClone(message));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Fan-out with bounded retries

export interface PublisherOptions {
  log: (line: string) => void;
  /** Tries per sink and batch (default 3). */
  attempts?: number;
  /** Pause before the second try, doubled before each later one (default 200 ms). */
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** How many delivered event ids each sink remembers, so a retried activity does not publish its steps twice. */
const REMEMBERED_IDS = 4096;

export class FanOutPublisher implements LifecyclePublisher {
  /** Per sink, the ids it has taken (oldest first), bounded. */
  private readonly delivered = new Map<LifecycleSink, Set<string>>();

  constructor(
    private readonly sinks: readonly LifecycleSink[],
    private readonly options: PublisherOptions,
  ) {}

  async publish(events: readonly LifecycleEvent[]): Promise<void> {
    if (events.length === 0 || this.sinks.length === 0) return;
    await Promise.all(this.sinks.map((sink) => this.deliver(sink, events)));
  }

  private async deliver(sink: LifecycleSink, all: readonly LifecycleEvent[]): Promise<void> {
    const taken = this.delivered.get(sink) ?? new Set<string>();
    this.delivered.set(sink, taken);
    const events = all.filter((e) => !taken.has(e.id));
    if (events.length === 0) return;
    const attempts = Math.max(1, this.options.attempts ?? 3);
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let pause = this.options.backoffMs ?? 200;
    for (let attempt = 1; ; attempt++) {
      try {
        await sink.send(events);
        for (const e of events) taken.add(e.id);
        for (const id of taken) {
          if (taken.size <= REMEMBERED_IDS) break;
          taken.delete(id);
        }
        return;
      } catch (err) {
        if (attempt >= attempts) {
          // Given up: the step happened all the same, and the flow goes on.
          const ids = events.map((e) => e.id).join(', ');
          this.options.log(
            `lifecycle: ${sink.name} did not take ${ids} after ${attempts} tries: ${(err as Error).message}`,
          );
          return;
        }
        await sleep(pause);
        pause *= 2;
      }
    }
  }
}

/** Publishes nothing (no sink configured). */
export const NO_LIFECYCLE: LifecyclePublisher = { publish: async () => {} };
