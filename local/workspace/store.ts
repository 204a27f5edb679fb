import { all, first, one, openDatabase, transaction, type Database } from '../sqlite';
import type { Principal, PrincipalType } from './principals';

export type ResourceKind =
  | 'modelContainer'
  | 'modelVersion'
  | 'environmentContainer'
  | 'environmentVersion'
  | 'dataContainer'
  | 'dataVersion'
  | 'codeContainer'
  | 'codeVersion'
  | 'onlineEndpoint'
  | 'onlineDeployment'
  | 'job';

/* eslint-disable @typescript-eslint/no-explicit-any -- resource bodies are free-form ARM JSON */
export interface ResourceRow {
  key: string;
  kind: ResourceKind;
  parent: string | null;
  name: string;
  body: any;
  internal: any;
  createdAt: number;
  updatedAt: number;
  seq: number;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Who created a resource and who last wrote it through ARM (not the workspace's own background updates). */
export interface Authorship {
  createdBy: Principal;
  modifiedBy: Principal;
  modifiedAt: number;
}

export type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';

export interface OperationRow {
  id: string;
  kind: string;
  resourceKey: string;
  status: OperationStatus;
  startedAt: number;
  dueAt: number;
  endedAt: number | null;
  payload: Record<string, unknown>;
  error: { code: string; message: string } | null;
}

export interface ArmRequestRow {
  seq: number;
  at: string;
  method: string;
  path: string;
  apiVersion: string | null;
  status: number;
  clientRequestId: string | null;
}

export interface DeliveryRow {
  id: number;
  eventId: string;
  eventType: string;
  subscriber: string;
  status: 'pending' | 'delivered' | 'dead';
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  deliveredAt: number | null;
  event: Record<string, unknown>;
}

interface RawResource {
  key: string;
  kind: ResourceKind;
  parent: string | null;
  name: string;
  body: string;
  internal: string;
  created_at: number;
  updated_at: number;
  seq: number;
}

interface RawOperation {
  id: string;
  kind: string;
  resource_key: string;
  status: OperationStatus;
  started_at: number;
  due_at: number;
  ended_at: number | null;
  payload: string;
  error: string | null;
}

interface RawDelivery {
  id: number;
  event_id: string;
  event_type: string;
  subscriber: string;
  status: DeliveryRow['status'];
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  delivered_at: number | null;
  event: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
  key TEXT PRIMARY KEY, kind TEXT NOT NULL, parent TEXT, name TEXT NOT NULL,
  body TEXT NOT NULL, internal TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_parent ON resources (kind, parent);
CREATE TABLE IF NOT EXISTS operations (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, resource_key TEXT NOT NULL, status TEXT NOT NULL,
  started_at INTEGER NOT NULL, due_at INTEGER NOT NULL, ended_at INTEGER, payload TEXT NOT NULL, error TEXT
);
CREATE TABLE IF NOT EXISTS arm_requests (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
  api_version TEXT, status INTEGER NOT NULL, client_request_id TEXT
);
CREATE TABLE IF NOT EXISTS subscribers (url TEXT PRIMARY KEY, event_types TEXT);
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY, event_type TEXT NOT NULL, subject TEXT NOT NULL, event TEXT NOT NULL, published_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, subscriber TEXT NOT NULL, status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, last_error TEXT, delivered_at INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS scoring_stats (endpoint TEXT NOT NULL, deployment TEXT NOT NULL, stats TEXT NOT NULL,
  PRIMARY KEY (endpoint, deployment));
CREATE TABLE IF NOT EXISTS metric_minutes (endpoint TEXT NOT NULL, deployment TEXT NOT NULL, minute INTEGER NOT NULL,
  record TEXT NOT NULL, PRIMARY KEY (endpoint, deployment, minute));
CREATE TABLE IF NOT EXISTS endpoint_tokens (token TEXT PRIMARY KEY, endpoint TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS authorship (key TEXT PRIMARY KEY, created_by TEXT NOT NULL, created_by_type TEXT NOT NULL,
  modified_by TEXT NOT NULL, modified_by_type TEXT NOT NULL, modified_at INTEGER NOT NULL);
`;

/** All durable state of the local workspace: one SQLite file in the data directory. */
export class Store {
  readonly db: Database;
  private seq: number;
  private readonly stmts;

  constructor(file: string) {
    this.db = openDatabase(file, ['journal_mode = WAL', 'synchronous = NORMAL']);
    this.db.exec(SCHEMA);
    this.seq = first<number>(this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM resources')) ?? 0;
    this.stmts = {
      getRes: this.db.prepare('SELECT * FROM resources WHERE key = ?'),
      listRes: this.db.prepare('SELECT * FROM resources WHERE kind = ? AND parent IS ? ORDER BY seq'),
      listKind: this.db.prepare('SELECT * FROM resources WHERE kind = ? ORDER BY seq'),
      putRes: this.db.prepare(
        `INSERT INTO resources (key, kind, parent, name, body, internal, created_at, updated_at, seq)
         VALUES (@key, @kind, @parent, @name, @body, @internal, @created_at, @updated_at, @seq)
         ON CONFLICT(key) DO UPDATE SET body = excluded.body, internal = excluded.internal,
           name = excluded.name, updated_at = excluded.updated_at`,
      ),
      delRes: this.db.prepare('DELETE FROM resources WHERE key = ? OR substr(key, 1, ?) = ?'),
      delAuthorship: this.db.prepare('DELETE FROM authorship WHERE key = ? OR substr(key, 1, ?) = ?'),
      getAuthorship: this.db.prepare('SELECT * FROM authorship WHERE key = ?'),
      putAuthorship: this.db.prepare(
        `INSERT INTO authorship (key, created_by, created_by_type, modified_by, modified_by_type, modified_at)
         VALUES (@key, @by, @type, @by, @type, @at)
         ON CONFLICT(key) DO UPDATE SET modified_by = excluded.modified_by,
           modified_by_type = excluded.modified_by_type, modified_at = excluded.modified_at`,
      ),
      getOp: this.db.prepare('SELECT * FROM operations WHERE id = ?'),
      openOps: this.db.prepare("SELECT * FROM operations WHERE status = 'InProgress' ORDER BY started_at"),
      openOpFor: this.db.prepare("SELECT * FROM operations WHERE resource_key = ? AND status = 'InProgress' LIMIT 1"),
      putOp: this.db.prepare(
        `INSERT OR REPLACE INTO operations (id, kind, resource_key, status, started_at, due_at, ended_at, payload, error)
         VALUES (@id, @kind, @resource_key, @status, @started_at, @due_at, @ended_at, @payload, @error)`,
      ),
      logReq: this.db.prepare(
        'INSERT INTO arm_requests (at, method, path, api_version, status, client_request_id) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?'),
      putMeta: this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    };
  }

  close(): void {
    this.db.close();
  }

  meta(key: string): string | undefined {
    return first<string>(this.stmts.getMeta, key);
  }

  setMeta(key: string, value: string): void {
    this.stmts.putMeta.run(key, value);
  }

  get(key: string): ResourceRow | undefined {
    const raw = one<RawResource>(this.stmts.getRes, key.toLowerCase());
    return raw && toResource(raw);
  }

  list(kind: ResourceKind, parent: string | null): ResourceRow[] {
    return all<RawResource>(this.stmts.listRes, kind, parent?.toLowerCase() ?? null).map(toResource);
  }

  listKind(kind: ResourceKind): ResourceRow[] {
    return all<RawResource>(this.stmts.listKind, kind).map(toResource);
  }

  /**
   * Inserts or replaces a resource; `createdAt` and `seq` are kept on update. `by` is the caller of an ARM write: the
   * first one is recorded as the creator, the latest as the last modifier.
   */
  put(
    row: {
      key: string;
      kind: ResourceKind;
      parent: string | null;
      name: string;
      body: unknown;
      internal?: unknown;
    },
    by?: Principal,
  ): ResourceRow {
    const now = Date.now();
    const existing = this.get(row.key);
    const seq = existing?.seq ?? ++this.seq;
    if (by) this.stmts.putAuthorship.run({ key: row.key.toLowerCase(), by: by.name, type: by.type, at: now });
    this.stmts.putRes.run({
      key: row.key.toLowerCase(),
      kind: row.kind,
      parent: row.parent?.toLowerCase() ?? null,
      name: row.name,
      body: JSON.stringify(row.body),
      internal: JSON.stringify(row.internal ?? existing?.internal ?? {}),
      created_at: existing?.createdAt ?? now,
      updated_at: now,
      seq,
    });
    return this.get(row.key)!;
  }

  /** Deletes a resource and everything below it. */
  delete(key: string): void {
    const k = key.toLowerCase();
    this.stmts.delRes.run(k, k.length + 1, `${k}/`);
    this.stmts.delAuthorship.run(k, k.length + 1, `${k}/`);
  }

  /** Who created and last wrote the resource; undefined for one no caller has written (or written before this). */
  authorship(key: string): Authorship | undefined {
    const r = one<{
      created_by: string;
      created_by_type: PrincipalType;
      modified_by: string;
      modified_by_type: PrincipalType;
      modified_at: number;
    }>(this.stmts.getAuthorship, key.toLowerCase());
    if (!r) return undefined;
    return {
      createdBy: { name: r.created_by, type: r.created_by_type },
      modifiedBy: { name: r.modified_by, type: r.modified_by_type },
      modifiedAt: r.modified_at,
    };
  }

  transaction<T>(fn: () => T): T {
    return transaction(this.db, fn);
  }

  getOperation(id: string): OperationRow | undefined {
    const raw = one<RawOperation>(this.stmts.getOp, id);
    return raw && toOperation(raw);
  }

  openOperations(): OperationRow[] {
    return all<RawOperation>(this.stmts.openOps).map(toOperation);
  }

  openOperationFor(resourceKey: string): OperationRow | undefined {
    const raw = one<RawOperation>(this.stmts.openOpFor, resourceKey.toLowerCase());
    return raw && toOperation(raw);
  }

  putOperation(op: OperationRow): void {
    this.stmts.putOp.run({
      id: op.id,
      kind: op.kind,
      resource_key: op.resourceKey.toLowerCase(),
      status: op.status,
      started_at: op.startedAt,
      due_at: op.dueAt,
      ended_at: op.endedAt,
      payload: JSON.stringify(op.payload),
      error: op.error ? JSON.stringify(op.error) : null,
    });
  }

  logRequest(r: Omit<ArmRequestRow, 'seq'>): void {
    this.stmts.logReq.run(r.at, r.method, r.path, r.apiVersion, r.status, r.clientRequestId);
  }

  requests(filter: { since?: number; method?: string; limit?: number } = {}): ArmRequestRow[] {
    return all<ArmRequestRow>(
      this.db.prepare(
        `SELECT seq, at, method, path, api_version AS apiVersion, status, client_request_id AS clientRequestId
         FROM arm_requests WHERE seq > ? AND (? IS NULL OR method = ?) ORDER BY seq LIMIT ?`,
      ),
      filter.since ?? 0,
      filter.method ?? null,
      filter.method ?? null,
      filter.limit ?? 100_000,
    );
  }

  clearRequests(): void {
    this.db.prepare('DELETE FROM arm_requests').run();
  }

  // ---- events -------------------------------------------------------------------------------------------------

  subscribers(): { url: string; eventTypes?: string[] }[] {
    const rows = all<{ url: string; event_types: string | null }>(
      this.db.prepare('SELECT url, event_types FROM subscribers ORDER BY url'),
    );
    return rows.map((r) => ({ url: r.url, ...(r.event_types ? { eventTypes: JSON.parse(r.event_types) } : {}) }));
  }

  putSubscriber(url: string, eventTypes: string[] | undefined): void {
    this.db
      .prepare('INSERT OR REPLACE INTO subscribers (url, event_types) VALUES (?, ?)')
      .run(url, eventTypes ? JSON.stringify(eventTypes) : null);
  }

  deleteSubscriber(url: string): boolean {
    return this.db.prepare('DELETE FROM subscribers WHERE url = ?').run(url).changes > 0;
  }

  insertEvent(
    event: { id: string; eventType: string; subject: string },
    json: string,
    subscribers: string[],
    now: number,
  ): void {
    this.transaction(() => {
      this.db
        .prepare('INSERT INTO events (id, event_type, subject, event, published_at) VALUES (?, ?, ?, ?, ?)')
        .run(event.id, event.eventType, event.subject, json, now);
      const ins = this.db.prepare(
        "INSERT INTO deliveries (event_id, subscriber, status, next_attempt_at) VALUES (?, ?, 'pending', ?)",
      );
      for (const s of subscribers) ins.run(event.id, s, now);
    });
  }

  events(filter: { type?: string; since?: number } = {}): { event: Record<string, unknown>; publishedAt: number }[] {
    const rows = all<{ event: string; published_at: number }>(
      this.db.prepare(
        `SELECT event, published_at FROM events WHERE (? IS NULL OR event_type = ?) AND published_at >= ?
         ORDER BY rowid`,
      ),
      filter.type ?? null,
      filter.type ?? null,
      filter.since ?? 0,
    );
    return rows.map((r) => ({ event: JSON.parse(r.event), publishedAt: r.published_at }));
  }

  deliveries(filter: { status?: string } = {}): DeliveryRow[] {
    const rows = all<RawDelivery>(
      this.db.prepare(
        `SELECT d.*, e.event, e.event_type FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE (? IS NULL OR d.status = ?) ORDER BY d.id`,
      ),
      filter.status ?? null,
      filter.status ?? null,
    );
    return rows.map(toDelivery);
  }

  dueDeliveries(now: number, limit: number): DeliveryRow[] {
    const rows = all<RawDelivery>(
      this.db.prepare(
        `SELECT d.*, e.event, e.event_type FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?`,
      ),
      now,
      limit,
    );
    return rows.map(toDelivery);
  }

  nextDeliveryAt(): number | undefined {
    return (
      first<number | null>(this.db.prepare("SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'")) ??
      undefined
    );
  }

  updateDelivery(
    id: number,
    u: {
      status: DeliveryRow['status'];
      attempts: number;
      nextAttemptAt: number;
      lastError: string | null;
      deliveredAt: number | null;
    },
  ): void {
    this.db
      .prepare(
        `UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, delivered_at = ?
         WHERE id = ?`,
      )
      .run(u.status, u.attempts, u.nextAttemptAt, u.lastError, u.deliveredAt, id);
  }

  // ---- scoring stats and endpoint tokens ----------------------------------------------------------------------

  loadStats(): { endpoint: string; deployment: string; stats: Record<string, unknown> }[] {
    const rows = all<{ endpoint: string; deployment: string; stats: string }>(
      this.db.prepare('SELECT * FROM scoring_stats'),
    );
    return rows.map((r) => ({ endpoint: r.endpoint, deployment: r.deployment, stats: JSON.parse(r.stats) }));
  }

  saveStats(rows: { endpoint: string; deployment: string; stats: unknown }[]): void {
    const ins = this.db.prepare('INSERT OR REPLACE INTO scoring_stats (endpoint, deployment, stats) VALUES (?, ?, ?)');
    this.transaction(() => {
      for (const r of rows) ins.run(r.endpoint, r.deployment, JSON.stringify(r.stats));
    });
  }

  /** Per-minute platform metrics of the online endpoints (local/workspace/metrics.ts). */
  loadMetricMinutes(): { endpoint: string; deployment: string; minute: number; record: unknown }[] {
    const rows = all<{ endpoint: string; deployment: string; minute: number; record: string }>(
      this.db.prepare('SELECT * FROM metric_minutes'),
    );
    return rows.map((r) => ({ ...r, record: JSON.parse(r.record) }));
  }

  /** Writes the given minutes and drops those older than `olderThan` (ms), past Azure Monitor's retention. */
  saveMetricMinutes(
    rows: { endpoint: string; deployment: string; minute: number; record: unknown }[],
    olderThan: number,
  ): void {
    const ins = this.db.prepare(
      'INSERT OR REPLACE INTO metric_minutes (endpoint, deployment, minute, record) VALUES (?, ?, ?, ?)',
    );
    this.transaction(() => {
      for (const r of rows) ins.run(r.endpoint, r.deployment, r.minute, JSON.stringify(r.record));
      this.db.prepare('DELETE FROM metric_minutes WHERE minute < ?').run(olderThan);
    });
  }

  clearStats(endpoint?: string): void {
    if (endpoint) this.db.prepare('DELETE FROM scoring_stats WHERE endpoint = ?').run(endpoint);
    else this.db.prepare('DELETE FROM scoring_stats').run();
  }

  putToken(token: string, endpoint: string, expiresAt: number): void {
    this.db.prepare('DELETE FROM endpoint_tokens WHERE expires_at < ?').run(Date.now());
    this.db
      .prepare('INSERT INTO endpoint_tokens (token, endpoint, expires_at) VALUES (?, ?, ?)')
      .run(token, endpoint, expiresAt);
  }

  tokens(): { token: string; endpoint: string; expiresAt: number }[] {
    return all<{ token: string; endpoint: string; expiresAt: number }>(
      this.db.prepare('SELECT token, endpoint, expires_at AS expiresAt FROM endpoint_tokens WHERE expires_at >= ?'),
      Date.now(),
    );
  }
}

function toResource(r: RawResource): ResourceRow {
  return {
    key: r.key,
    kind: r.kind,
    parent: r.parent,
    name: r.name,
    body: JSON.parse(r.body),
    internal: JSON.parse(r.internal),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    seq: r.seq,
  };
}

function toOperation(r: RawOperation): OperationRow {
  return {
    id: r.id,
    kind: r.kind,
    resourceKey: r.resource_key,
    status: r.status,
    startedAt: r.started_at,
    dueAt: r.due_at,
    endedAt: r.ended_at,
    payload: JSON.parse(r.payload),
    error: r.error ? JSON.parse(r.error) : null,
  };
}

function toDelivery(r: RawDelivery): DeliveryRow {
  return {
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type,
    subscriber: r.subscriber,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    deliveredAt: r.delivered_at,
    event: JSON.parse(r.event),
  };
}
