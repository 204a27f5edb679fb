import { randomUUID } from 'node:crypto';
import type { DeliveryRow, Store } from './store';

export const AML_EVENT_PREFIX = 'Microsoft.MachineLearningServices.';

export const AML_EVENT_TYPES = [
  'ModelRegistered',
  'ModelDeployed',
  'RunCompleted',
  'RunStatusChanged',
  'DatasetDriftDetected',
].map((t) => AML_EVENT_PREFIX + t);

/** An event in the Event Grid schema. */
export interface EventGridEvent {
  id: string;
  topic: string;
  subject: string;
  eventType: string;
  eventTime: string;
  data: Record<string, unknown>;
  dataVersion: string;
  metadataVersion: string;
}

export interface Subscriber {
  url: string;
  /** Full (`Microsoft.MachineLearningServices.ModelRegistered`) or short (`ModelRegistered`) names; all if absent. */
  eventTypes?: string[];
}

export interface EventRetryOptions {
  /** First retry delay; doubles per attempt. Default 1000 ms. */
  baseMs?: number;
  /** Cap on the delay between attempts. Default 60 000 ms. */
  maxMs?: number;
  /** Attempts before a delivery is dead-lettered. Default 30. */
  maxAttempts?: number;
  /** Per-attempt HTTP timeout. Default 10 000 ms. */
  timeoutMs?: number;
}

export function normalizeEventType(t: string): string {
  return t.startsWith(AML_EVENT_PREFIX) ? t : AML_EVENT_PREFIX + t;
}

/**
 * Event Grid as a local outbox: each event is stored with one delivery row per matching subscriber, then POSTed
 * (one event per request, `aeg-event-type: Notification`) until a 2xx. Failures back off exponentially; 400 and
 * 413 go straight to dead-letter, as Event Grid does. Pending rows survive restarts, so delivery is at least once.
 */
export class EventBus {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private readonly inFlight = new Set<number>();
  private stopped = false;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly store: Store,
    private readonly topic: string,
    retry: EventRetryOptions,
    private readonly log: (line: string) => void,
  ) {
    this.baseMs = retry.baseMs ?? 1000;
    this.maxMs = retry.maxMs ?? 60_000;
    this.maxAttempts = retry.maxAttempts ?? 30;
    this.timeoutMs = retry.timeoutMs ?? 10_000;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /** Waits for in-flight deliveries (used on close so no request outlives the workspace). */
  async drain(timeoutMs = 2000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  subscribers(): Subscriber[] {
    return this.store.subscribers();
  }

  addSubscriber(s: Subscriber): void {
    this.store.putSubscriber(s.url, s.eventTypes?.map(normalizeEventType));
  }

  removeSubscriber(url: string): boolean {
    return this.store.deleteSubscriber(url);
  }

  publish(eventType: string, subject: string, data: Record<string, unknown>): EventGridEvent {
    const event: EventGridEvent = {
      id: randomUUID(),
      topic: this.topic,
      subject,
      eventType: normalizeEventType(eventType),
      eventTime: new Date().toISOString(),
      data,
      dataVersion: '2',
      metadataVersion: '1',
    };
    const targets = this.store
      .subscribers()
      .filter((s) => !s.eventTypes || s.eventTypes.map(normalizeEventType).includes(event.eventType))
      .map((s) => s.url);
    this.store.insertEvent(event, JSON.stringify(event), targets, Date.now());
    this.log(`event ${event.eventType} ${subject} -> ${targets.length} subscriber(s)`);
    if (targets.length > 0) this.schedule(0);
    return event;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    const at = Date.now() + delayMs;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
    }, delayMs);
    this.timer.unref();
  }

  private pump(): void {
    if (this.stopped) return;
    const now = Date.now();
    const due = this.store.dueDeliveries(now, 32).filter((d) => !this.inFlight.has(d.id));
    for (const d of due) void this.deliver(d);
    this.scheduleNext();
  }

  private scheduleNext(): void {
    const next = this.store.nextDeliveryAt();
    if (next !== undefined) this.schedule(Math.max(0, next - Date.now()));
  }

  private async deliver(d: DeliveryRow): Promise<void> {
    this.inFlight.add(d.id);
    const attempts = d.attempts + 1;
    let status = 0;
    let error: string | null = null;
    try {
      const res = await fetch(d.subscriber, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'aeg-event-type': 'Notification',
          'aeg-subscription-name': 'LOCAL-WORKSPACE',
          'aeg-delivery-count': String(d.attempts),
          'aeg-data-version': '2',
          'aeg-metadata-version': '1',
        },
        body: JSON.stringify([d.event]),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) error = `HTTP ${res.status}`;
    } catch (err) {
      error = (err as Error).message;
    } finally {
      this.inFlight.delete(d.id);
    }
    if (this.stopped) return;
    const now = Date.now();
    try {
      if (!error) {
        this.store.updateDelivery(d.id, {
          status: 'delivered',
          attempts,
          nextAttemptAt: now,
          lastError: null,
          deliveredAt: now,
        });
      } else {
        const dead = status === 400 || status === 413 || attempts >= this.maxAttempts;
        const delay = Math.min(this.maxMs, this.baseMs * 2 ** (attempts - 1));
        this.store.updateDelivery(d.id, {
          status: dead ? 'dead' : 'pending',
          attempts,
          nextAttemptAt: now + delay,
          lastError: error,
          deliveredAt: null,
        });
        this.log(
          `event ${d.eventType} to ${d.subscriber} failed (${error}); ${dead ? 'dead-lettered' : `retry in ${delay} ms`}`,
        );
      }
    } catch {
      // The store closed while the request was in flight: the row stays pending and is retried after restart.
      return;
    }
    this.scheduleNext();
  }
}
