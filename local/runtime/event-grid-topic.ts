/**
 * A local Event Grid custom topic (CloudEvents 1.0 input schema), served by the local Functions host so the app's
 * EventGridPublisherClient publishes to it unchanged, and the stream it received, kept in SQLite and read back with
 * `GET /_local/events?after=N`.
 *
 * The publish request, as the SDK sends it and the data-plane spec describes it (azure-rest-api-specs
 * specification/eventgrid/data-plane/Microsoft.EventGrid/stable/2018-01-01/EventGrid.json, PublishCloudEventEvents;
 * @azure/eventgrid 5.12 eventGridClient.js, eventGridAuthenticationPolicy.js, generateSharedAccessSignature.js):
 *  - POST to the topic endpoint with `api-version` (the SDK sends 2018-01-01);
 *  - `Content-Type: application/cloudevents-batch+json; charset=utf-8`, the body a JSON array of CloudEvents, each
 *    with `id`, `source`, `type` and `specversion` "1.0" (CloudEvents 1.0 spec, required attributes);
 *  - the access key in `aeg-sas-key`, or a shared access signature in `aeg-sas-token` (`r=…&e=…&s=…`, s the
 *    base64 HMAC-SHA256 of `r=…&e=…` under the base64-decoded key); Entra ID bearer tokens are not taken here, since
 *    the SDK sends them over https only and this host listens on http;
 *  - at most 1 MB per request ("Azure Event Grid quotas and limits": event batch size 1 MB);
 *  - answered 200 with an empty body; 401 without valid credentials, 400 for a malformed batch, 413 over the size.
 * The exact error wording is local. Event Grid does not drop events by id: a re-sent event is kept again, and
 * consumers deduplicate by id, as on Azure.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { all, first, openDatabase, transaction, type Database } from '../sqlite';

export const EVENT_GRID_TOPIC_PATH = '/_local/eventgrid/api/events';
export const EVENT_STREAM_PATH = '/_local/events';
export const MAX_BATCH_BYTES = 1024 * 1024;
const CLOUD_EVENTS_BATCH = 'application/cloudevents-batch+json';

export interface StoredEvent {
  /** Order of arrival, from 1. */
  seq: number;
  receivedAt: string;
  event: Record<string, unknown> & { id: string; source: string; type: string };
}

export interface TopicReply {
  status: number;
  body?: unknown;
}

export class LocalEventGridTopic {
  readonly #db: Database;
  readonly #key: string;

  constructor(file: string, key: string) {
    this.#key = key;
    this.#db = openDatabase(file, ['journal_mode = WAL', 'synchronous = NORMAL', 'busy_timeout = 5000']);
    this.#db.exec(`CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL,
      type TEXT NOT NULL,
      subject TEXT,
      received_at TEXT NOT NULL,
      body TEXT NOT NULL
    )`);
  }

  /** Handles a publish request to the topic endpoint. */
  publish(request: {
    method: string;
    query: URLSearchParams;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
  }): TopicReply {
    if (request.method !== 'POST') return { status: 405, body: { error: { code: 'MethodNotAllowed' } } };
    if (!this.#authorised(request.headers)) {
      return { status: 401, body: { error: { code: 'Unauthorized', message: 'The request is not authorized.' } } };
    }
    if (!request.query.get('api-version')) return badRequest('The api-version query parameter is required.');
    if (request.body.length > MAX_BATCH_BYTES) {
      return { status: 413, body: { error: { code: 'RequestEntityTooLarge', message: 'The batch exceeds 1 MB.' } } };
    }
    const contentType = String(header(request.headers, 'content-type') ?? '').toLowerCase();
    if (!contentType.startsWith(CLOUD_EVENTS_BATCH)) {
      return badRequest(`This topic takes CloudEvents: Content-Type must be ${CLOUD_EVENTS_BATCH}.`);
    }
    let batch: unknown;
    try {
      batch = JSON.parse(request.body.toString('utf8'));
    } catch {
      return badRequest('The body is not valid JSON.');
    }
    if (!Array.isArray(batch)) return badRequest('The body must be an array of CloudEvents.');
    for (const [index, event] of batch.entries()) {
      const problem = cloudEventProblem(event);
      if (problem) return badRequest(`events[${index}]: ${problem}`);
    }
    const receivedAt = new Date().toISOString();
    const insert = this.#db.prepare('INSERT INTO events (id, type, subject, received_at, body) VALUES (?, ?, ?, ?, ?)');
    // All or nothing, as a batch is on Event Grid.
    transaction(this.#db, () => {
      for (const event of batch as StoredEvent['event'][]) {
        const subject = typeof event.subject === 'string' ? event.subject : null;
        insert.run(event.id, event.type, subject, receivedAt, JSON.stringify(event));
      }
    });
    return { status: 200 };
  }

  /** Events after `after` (a seq), oldest first, at most `limit`. */
  read(after = 0, limit = 1000): { events: StoredEvent[]; last: number } {
    const rows = all<{ seq: number; received_at: string; body: string }>(
      this.#db.prepare('SELECT seq, received_at, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?'),
      after,
      limit,
    );
    const events = rows.map((row) => ({
      seq: row.seq,
      receivedAt: row.received_at,
      event: JSON.parse(row.body) as StoredEvent['event'],
    }));
    const last = events.at(-1)?.seq ?? first<number>(this.#db.prepare('SELECT MAX(seq) FROM events')) ?? 0;
    return { events, last: Math.max(last, 0) };
  }

  /** Handles `GET /_local/events?after=N&limit=M`. */
  serve(query: URLSearchParams): TopicReply {
    const after = query.get('after') ?? '0';
    const limit = query.get('limit') ?? '1000';
    if (!/^\d+$/.test(after)) return badRequest('after: must be a whole number (the last seq read).');
    if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 10_000) {
      return badRequest('limit: must be a whole number from 1 to 10000.');
    }
    return { status: 200, body: this.read(Number(after), Number(limit)) };
  }

  close(): void {
    this.#db.close();
  }

  #authorised(headers: Record<string, string | string[] | undefined>): boolean {
    const key = header(headers, 'aeg-sas-key');
    if (key !== undefined) return same(key, this.#key);
    const token = header(headers, 'aeg-sas-token');
    if (token === undefined) return false;
    const at = token.lastIndexOf('&s=');
    if (at < 0) return false;
    const unsigned = token.slice(0, at);
    const signature = decodeURIComponent(token.slice(at + 3));
    const expires = new URLSearchParams(unsigned).get('e');
    if (!expires || !(Date.parse(expires) > Date.now())) return false;
    const expected = createHmac('sha256', Buffer.from(this.#key, 'base64')).update(unsigned).digest('base64');
    return same(signature, expected);
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function badRequest(message: string): TopicReply {
  return { status: 400, body: { error: { code: 'BadRequest', message } } };
}

/** What a CloudEvents 1.0 event must have (spec: required context attributes). */
function cloudEventProblem(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return 'must be an object';
  const e = event as Record<string, unknown>;
  for (const name of ['id', 'source', 'type'] as const) {
    if (typeof e[name] !== 'string' || e[name] === '') return `${name}: required (a non-empty string)`;
  }
  if (e.specversion !== '1.0') return 'specversion: must be "1.0"';
  return undefined;
}
