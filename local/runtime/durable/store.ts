import { all, firsts, first, one, openDatabase, transaction, type Database } from '../../sqlite';

/**
 * SQLite persistence for the embedded Durable Task engine.
 *
 * Tables
 *  - instances   one row per orchestration instance (current execution only), status JSON columns.
 *  - history     the current execution's history: one row per episode holding that episode's events as a JSON
 *                array (seq = index of its first event), so an episode costs one insert, not one per event.
 *  - messages    the per-instance inbox: ExecutionStarted, TaskCompleted/Failed results that were persisted,
 *                TimerFired (visible_at = due time), EventRaised, sub-orchestration results, control messages.
 *  - activities  activity work items: present from scheduling until the episode that consumes the result
 *                commits, so a crash re-runs whatever was in flight (at-least-once).
 *  - entities    durable entity state and lock owner per entity id (`@name@key`); a row exists while the entity
 *                has state or is locked.
 *  - entity_queue the per-entity inbox (operations, signals, lock requests, releases) in arrival order.
 *
 * Durability: WAL + synchronous=FULL by default, so every acknowledged commit (startNew, raiseEvent, an episode)
 * survives an OS crash or power loss, not just a process kill. NORMAL would only survive process kills; commits
 * are batched (group commit, see `commit`) so the extra fsync is paid once per batch, not once per episode.
 */

export interface InstanceRow {
  instance_id: string;
  name: string;
  execution_id: string;
  runtime_status: string;
  input: string | null;
  output: string | null;
  custom_status: string | null;
  created_time: number;
  last_updated_time: number;
  parent_instance_id: string | null;
  parent_execution_id: string | null;
  parent_task_id: number | null;
  parent_retry: string | null;
  history_count: number;
}

export interface MessageRow {
  id: number;
  instance_id: string;
  execution_id: string | null;
  visible_at: number;
  timer_id: number | null;
  payload: string;
}

export interface ActivityRow {
  id: number;
  instance_id: string;
  execution_id: string;
  task_id: number;
  name: string;
  input: string | null;
  attempt: number;
  retry: string | null;
}

export interface EntityRow {
  entity_id: string;
  state: string | null;
  entity_exists: number;
  lock_owner: string | null;
  lock_execution: string | null;
  lock_request: string | null;
  last_modified: number;
}

export type EntityMessageKind = 'op' | 'lock' | 'release';

export interface EntityMessageRow {
  id: number;
  entity_id: string;
  kind: EntityMessageKind;
  parent: string;
  payload: string;
}

export interface InstanceQuery {
  runtimeStatus?: string[];
  createdTimeFrom?: number;
  createdTimeTo?: number;
  instanceIdPrefix?: string;
  /** Keyset pagination: rows strictly after (created_time, instance_id). */
  after?: { createdTime: number; instanceId: string };
  limit?: number;
}

export interface StoreOptions {
  synchronous?: 'FULL' | 'NORMAL';
}

const SCHEMA_VERSION = '3';
/** Older schema versions this store upgrades in place (their tables are a subset of the current ones). */
const UPGRADABLE_VERSIONS = new Set(['2']);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS instances (
  instance_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  runtime_status TEXT NOT NULL,
  input TEXT,
  output TEXT,
  custom_status TEXT,
  created_time INTEGER NOT NULL,
  last_updated_time INTEGER NOT NULL,
  parent_instance_id TEXT,
  parent_execution_id TEXT,
  parent_task_id INTEGER,
  parent_retry TEXT,
  history_count INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS instances_by_created ON instances (created_time, instance_id);
CREATE INDEX IF NOT EXISTS instances_by_status ON instances (runtime_status, created_time);
CREATE TABLE IF NOT EXISTS history (
  instance_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  execution_id TEXT NOT NULL,
  events TEXT NOT NULL,
  PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  execution_id TEXT,
  visible_at INTEGER NOT NULL,
  timer_id INTEGER,
  payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_instance ON messages (instance_id, id);
CREATE INDEX IF NOT EXISTS messages_by_visible ON messages (visible_at);
CREATE TABLE IF NOT EXISTS activities (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  input TEXT,
  attempt INTEGER NOT NULL,
  retry TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS activities_by_instance ON activities (instance_id);
CREATE TABLE IF NOT EXISTS entities (
  entity_id TEXT PRIMARY KEY,
  state TEXT,
  entity_exists INTEGER NOT NULL DEFAULT 0,
  lock_owner TEXT,
  lock_execution TEXT,
  lock_request TEXT,
  last_modified INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entities_by_lock_owner ON entities (lock_owner) WHERE lock_owner IS NOT NULL;
CREATE TABLE IF NOT EXISTS entity_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  entity_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  parent TEXT NOT NULL,
  payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entity_queue_by_entity ON entity_queue (entity_id, id);
CREATE INDEX IF NOT EXISTS entity_queue_by_parent ON entity_queue (parent, kind);
`;

interface PendingCommit {
  fn: () => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class DurableStore {
  readonly db: Database;
  readonly file: string;
  private closed = false;
  private frozen = false;
  private pending: PendingCommit[] = [];
  private flushScheduled = false;
  /** Transactions committed and commits they carried (commits / transactions = group-commit batching). */
  readonly counters = { transactions: 0, commits: 0 };

  private readonly s: ReturnType<DurableStore['prepare']>;

  constructor(file: string, opts: StoreOptions = {}) {
    this.file = file;
    this.db = openDatabase(file, [
      'journal_mode = WAL',
      `synchronous = ${opts.synchronous ?? 'FULL'}`,
      'busy_timeout = 5000',
      'foreign_keys = OFF',
    ]);
    this.db.exec(SCHEMA);
    const version = first<string>(this.db.prepare('SELECT value FROM meta WHERE key = ?'), 'schema_version');
    if (version === undefined) {
      this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', SCHEMA_VERSION);
    } else if (UPGRADABLE_VERSIONS.has(version)) {
      this.db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(SCHEMA_VERSION, 'schema_version');
    } else if (version !== SCHEMA_VERSION) {
      throw new Error(`Durable store ${file} has schema version ${version}; this engine expects ${SCHEMA_VERSION}.`);
    }
    this.s = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      getInstance: db.prepare('SELECT * FROM instances WHERE instance_id = ?'),
      upsertInstance: db.prepare(
        `INSERT INTO instances (instance_id, name, execution_id, runtime_status, input, output, custom_status,
           created_time, last_updated_time, parent_instance_id, parent_execution_id, parent_task_id, parent_retry,
           history_count)
         VALUES (@instance_id, @name, @execution_id, @runtime_status, @input, @output, @custom_status, @created_time,
           @last_updated_time, @parent_instance_id, @parent_execution_id, @parent_task_id, @parent_retry, @history_count)
         ON CONFLICT (instance_id) DO UPDATE SET name = excluded.name, execution_id = excluded.execution_id,
           runtime_status = excluded.runtime_status, input = excluded.input, output = excluded.output,
           custom_status = excluded.custom_status, created_time = excluded.created_time,
           last_updated_time = excluded.last_updated_time, parent_instance_id = excluded.parent_instance_id,
           parent_execution_id = excluded.parent_execution_id, parent_task_id = excluded.parent_task_id,
           parent_retry = excluded.parent_retry, history_count = excluded.history_count`,
      ),
      updateProgress: db.prepare(
        `UPDATE instances SET runtime_status = ?, custom_status = ?, output = ?, last_updated_time = ?,
           history_count = ? WHERE instance_id = ?`,
      ),
      deleteInstance: db.prepare('DELETE FROM instances WHERE instance_id = ?'),
      readHistory: db.prepare('SELECT events FROM history WHERE instance_id = ? ORDER BY seq'),
      insertHistory: db.prepare('INSERT INTO history (instance_id, seq, execution_id, events) VALUES (?, ?, ?, ?)'),
      deleteHistory: db.prepare('DELETE FROM history WHERE instance_id = ?'),
      readMessages: db.prepare('SELECT * FROM messages WHERE instance_id = ? AND visible_at <= ? ORDER BY id'),
      insertMessage: db.prepare(
        'INSERT INTO messages (instance_id, execution_id, visible_at, timer_id, payload) VALUES (?, ?, ?, ?, ?)',
      ),
      deleteMessage: db.prepare('DELETE FROM messages WHERE id = ?'),
      deleteMessagesFor: db.prepare('DELETE FROM messages WHERE instance_id = ?'),
      deleteMessagesForExecution: db.prepare('DELETE FROM messages WHERE instance_id = ? AND execution_id = ?'),
      deleteTimer: db.prepare('DELETE FROM messages WHERE instance_id = ? AND execution_id = ? AND timer_id = ?'),
      readyInstances: db.prepare('SELECT DISTINCT instance_id FROM messages WHERE visible_at <= ?'),
      nextDue: db.prepare('SELECT MIN(visible_at) FROM messages WHERE visible_at > ?'),
      insertActivity: db.prepare(
        `INSERT INTO activities (instance_id, execution_id, task_id, name, input, attempt, retry, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      deleteActivity: db.prepare('DELETE FROM activities WHERE id = ?'),
      deleteActivitiesFor: db.prepare('DELETE FROM activities WHERE instance_id = ?'),
      allActivities: db.prepare('SELECT * FROM activities ORDER BY id'),
      activityExists: db.prepare('SELECT 1 FROM activities WHERE id = ?'),
      hasMessages: db.prepare('SELECT 1 FROM messages WHERE instance_id = ? LIMIT 1'),
      getEntity: db.prepare('SELECT * FROM entities WHERE entity_id = ?'),
      putEntityState: db.prepare(
        `INSERT INTO entities (entity_id, state, entity_exists, last_modified) VALUES (?, ?, ?, ?)
         ON CONFLICT (entity_id) DO UPDATE SET state = excluded.state, entity_exists = excluded.entity_exists,
           last_modified = excluded.last_modified`,
      ),
      putEntityLock: db.prepare(
        `INSERT INTO entities (entity_id, lock_owner, lock_execution, lock_request, last_modified) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (entity_id) DO UPDATE SET lock_owner = excluded.lock_owner,
           lock_execution = excluded.lock_execution, lock_request = excluded.lock_request,
           last_modified = excluded.last_modified`,
      ),
      deleteIdleEntity: db.prepare(
        'DELETE FROM entities WHERE entity_id = ? AND entity_exists = 0 AND state IS NULL AND lock_owner IS NULL',
      ),
      entitiesLockedBy: db.prepare('SELECT entity_id FROM entities WHERE lock_owner = ? ORDER BY entity_id'),
      readEntityQueue: db.prepare('SELECT * FROM entity_queue WHERE entity_id = ? ORDER BY id'),
      insertEntityMessage: db.prepare(
        'INSERT INTO entity_queue (entity_id, kind, parent, payload) VALUES (?, ?, ?, ?)',
      ),
      deleteEntityMessage: db.prepare('DELETE FROM entity_queue WHERE id = ?'),
      entityMessageExists: db.prepare('SELECT 1 FROM entity_queue WHERE id = ?'),
      queuedLockRequestsFrom: db.prepare(
        "SELECT DISTINCT entity_id FROM entity_queue WHERE parent = ? AND kind = 'lock'",
      ),
      deleteLockRequestsFrom: db.prepare("DELETE FROM entity_queue WHERE parent = ? AND kind = 'lock'"),
      entitiesWithMessages: db.prepare('SELECT DISTINCT entity_id FROM entity_queue'),
      allEntities: db.prepare('SELECT * FROM entities ORDER BY entity_id'),
    };
  }

  get isClosed(): boolean {
    return this.closed || this.frozen;
  }

  /**
   * Test support for simulated crashes: from now on nothing is written through this connection (pending and
   * future commits fail, an in-progress batch rolls back), as if the process had died. The connection stays open.
   */
  freeze(): void {
    this.frozen = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  // ---- reads ----

  getInstance(instanceId: string): InstanceRow | undefined {
    return one<InstanceRow>(this.s.getInstance, instanceId);
  }

  /** The current execution's history events, parsed (timestamps stay ISO strings). */
  readHistory(instanceId: string): Record<string, unknown>[] {
    const chunks = firsts<string>(this.s.readHistory, instanceId);
    if (chunks.length === 1) return JSON.parse(chunks[0]!) as Record<string, unknown>[];
    const out: Record<string, unknown>[] = [];
    for (const c of chunks) for (const e of JSON.parse(c) as Record<string, unknown>[]) out.push(e);
    return out;
  }

  readMessages(instanceId: string, now: number): MessageRow[] {
    return all<MessageRow>(this.s.readMessages, instanceId, now);
  }

  readyInstanceIds(now: number): string[] {
    return firsts<string>(this.s.readyInstances, now);
  }

  nextTimerDue(now: number): number | undefined {
    return first<number | null>(this.s.nextDue, now) ?? undefined;
  }

  allActivities(): ActivityRow[] {
    return all<ActivityRow>(this.s.allActivities);
  }

  activityExists(id: number): boolean {
    return this.s.activityExists.get(id) !== undefined;
  }

  hasMessages(instanceId: string): boolean {
    return this.s.hasMessages.get(instanceId) !== undefined;
  }

  getEntity(entityId: string): EntityRow | undefined {
    return one<EntityRow>(this.s.getEntity, entityId);
  }

  allEntities(): EntityRow[] {
    return all<EntityRow>(this.s.allEntities);
  }

  /** The entity's inbox in arrival order. */
  readEntityQueue(entityId: string): EntityMessageRow[] {
    return all<EntityMessageRow>(this.s.readEntityQueue, entityId);
  }

  entityMessageExists(id: number): boolean {
    return this.s.entityMessageExists.get(id) !== undefined;
  }

  entitiesWithMessages(): string[] {
    return firsts<string>(this.s.entitiesWithMessages);
  }

  entitiesLockedBy(owner: string): string[] {
    return firsts<string>(this.s.entitiesLockedBy, owner);
  }

  queryInstances(q: InstanceQuery): InstanceRow[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.runtimeStatus && q.runtimeStatus.length > 0) {
      where.push(`runtime_status IN (${q.runtimeStatus.map(() => '?').join(', ')})`);
      params.push(...q.runtimeStatus);
    }
    if (q.createdTimeFrom !== undefined) {
      where.push('created_time >= ?');
      params.push(q.createdTimeFrom);
    }
    if (q.createdTimeTo !== undefined) {
      where.push('created_time <= ?');
      params.push(q.createdTimeTo);
    }
    if (q.instanceIdPrefix) {
      // Range scan instead of LIKE so '%' and '_' in ids are literal.
      where.push('instance_id >= ? AND instance_id < ?');
      params.push(q.instanceIdPrefix, q.instanceIdPrefix + '\uffff');
    }
    if (q.after) {
      where.push('(created_time > ? OR (created_time = ? AND instance_id > ?))');
      params.push(q.after.createdTime, q.after.createdTime, q.after.instanceId);
    }
    let sql = 'SELECT * FROM instances';
    if (where.length > 0) sql += ' WHERE ' + where.join(' AND ');
    sql += ' ORDER BY created_time, instance_id';
    if (q.limit !== undefined) {
      sql += ' LIMIT ?';
      params.push(q.limit);
    }
    return all<InstanceRow>(this.db.prepare(sql), ...params);
  }

  // ---- writes: call only inside `commit` / `transaction` ----

  upsertInstance(row: InstanceRow): void {
    // Exactly the columns: node:sqlite refuses a named parameter the statement does not have.
    this.s.upsertInstance.run({
      instance_id: row.instance_id,
      name: row.name,
      execution_id: row.execution_id,
      runtime_status: row.runtime_status,
      input: row.input,
      output: row.output,
      custom_status: row.custom_status,
      created_time: row.created_time,
      last_updated_time: row.last_updated_time,
      parent_instance_id: row.parent_instance_id,
      parent_execution_id: row.parent_execution_id,
      parent_task_id: row.parent_task_id,
      parent_retry: row.parent_retry,
      history_count: row.history_count,
    });
  }

  updateProgress(
    instanceId: string,
    status: string,
    customStatus: string | null,
    output: string | null,
    lastUpdated: number,
    historyCount: number,
  ): void {
    this.s.updateProgress.run(status, customStatus, output, lastUpdated, historyCount, instanceId);
  }

  /** Appends one episode's events (`eventsJson` is a JSON array) starting at history index `firstSeq`. */
  appendHistory(instanceId: string, executionId: string, firstSeq: number, eventsJson: string): void {
    this.s.insertHistory.run(instanceId, firstSeq, executionId, eventsJson);
  }

  deleteHistory(instanceId: string): void {
    this.s.deleteHistory.run(instanceId);
  }

  insertMessage(
    instanceId: string,
    executionId: string | null,
    visibleAt: number,
    payload: string,
    timerId: number | null = null,
  ): number {
    return Number(this.s.insertMessage.run(instanceId, executionId, visibleAt, timerId, payload).lastInsertRowid);
  }

  deleteMessage(id: number): void {
    this.s.deleteMessage.run(id);
  }

  deleteMessagesFor(instanceId: string): void {
    this.s.deleteMessagesFor.run(instanceId);
  }

  deleteMessagesForExecution(instanceId: string, executionId: string): void {
    this.s.deleteMessagesForExecution.run(instanceId, executionId);
  }

  deleteTimer(instanceId: string, executionId: string, timerId: number): void {
    this.s.deleteTimer.run(instanceId, executionId, timerId);
  }

  insertActivity(a: Omit<ActivityRow, 'id'>, createdAt: number): number {
    return Number(
      this.s.insertActivity.run(
        a.instance_id,
        a.execution_id,
        a.task_id,
        a.name,
        a.input,
        a.attempt,
        a.retry,
        createdAt,
      ).lastInsertRowid,
    );
  }

  deleteActivity(id: number): void {
    this.s.deleteActivity.run(id);
  }

  deleteActivitiesFor(instanceId: string): void {
    this.s.deleteActivitiesFor.run(instanceId);
  }

  /** Writes the entity's state; a row left with no state and no lock is deleted. */
  putEntityState(entityId: string, state: string | null, exists: boolean, now: number): void {
    this.s.putEntityState.run(entityId, state, exists ? 1 : 0, now);
    this.s.deleteIdleEntity.run(entityId);
  }

  /** Sets (owner given) or clears (owner null) the entity's lock. */
  putEntityLock(
    entityId: string,
    lock: { owner: string; execution: string | null; request: string } | null,
    now: number,
  ): void {
    this.s.putEntityLock.run(entityId, lock?.owner ?? null, lock?.execution ?? null, lock?.request ?? null, now);
    if (!lock) this.s.deleteIdleEntity.run(entityId);
  }

  insertEntityMessage(entityId: string, kind: EntityMessageKind, parent: string, payload: string): number {
    return Number(this.s.insertEntityMessage.run(entityId, kind, parent, payload).lastInsertRowid);
  }

  deleteEntityMessage(id: number): void {
    this.s.deleteEntityMessage.run(id);
  }

  /** Deletes the lock requests `owner` still has queued; returns the entities whose queues changed. */
  deleteLockRequestsFrom(owner: string): string[] {
    const ids = firsts<string>(this.s.queuedLockRequestsFrom, owner);
    if (ids.length > 0) this.s.deleteLockRequestsFrom.run(owner);
    return ids;
  }

  deleteInstanceCompletely(instanceId: string): void {
    this.s.deleteInstance.run(instanceId);
    this.s.deleteHistory.run(instanceId);
    this.s.deleteMessagesFor.run(instanceId);
    this.s.deleteActivitiesFor.run(instanceId);
  }

  /** Runs `fn` in its own IMMEDIATE transaction right now (used for rare administrative operations). */
  transaction<T>(fn: () => T): T {
    return transaction(this.db, fn, 'IMMEDIATE');
  }

  /**
   * Group commit: `fn` runs atomically (inside a savepoint) in a transaction shared with every other commit
   * submitted during the same event-loop turn, so one fsync covers them all. A throwing `fn` rolls back only its
   * own writes and rejects its own promise.
   */
  commit(fn: () => void): Promise<void> {
    if (this.closed || this.frozen) return Promise.reject(new Error('The durable store is closed.'));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ fn, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    if (this.closed || this.frozen) {
      for (const p of batch) p.reject(new Error('The durable store is closed.'));
      return;
    }
    const outcomes: (unknown | typeof OK)[] = new Array<unknown>(batch.length);
    try {
      transaction(
        this.db,
        () => {
          for (let i = 0; i < batch.length; i++) {
            try {
              // A nested transaction is a SAVEPOINT: a failure undoes only this commit's writes.
              transaction(this.db, batch[i]!.fn);
              outcomes[i] = OK;
            } catch (err) {
              outcomes[i] = err;
            }
          }
          if (this.frozen) throw new Error('The durable store was frozen during the commit.');
        },
        'IMMEDIATE',
      );
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    this.counters.transactions++;
    this.counters.commits += batch.length;
    for (let i = 0; i < batch.length; i++) {
      const o = outcomes[i];
      if (o === OK) batch[i]!.resolve();
      else batch[i]!.reject(o);
    }
  }
}

const OK = Symbol('ok');
