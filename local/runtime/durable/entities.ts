/**
 * Durable entities and critical sections, the way the Durable Functions extension's entity scheduler runs them:
 *
 * - Every entity (`@name@key`) has a FIFO inbox (`entity_queue`) and a row (`entities`) with its state and lock.
 * - One step at a time per entity: either a batch of consecutive operations (one entity function invocation,
 *   then ONE commit that writes the new state, removes the operations, answers the callers and queues the
 *   signals the entity sent), or one lock/release message (no entity code: a lock needs no entity function).
 * - While an entity is locked, only its lock holder's operations and releases run; everything else waits in
 *   arrival order until the release.
 * - A lock request for [e1 < e2 < …] (sorted by the SDK) travels like the extension's: e1 grants when free and
 *   forwards the request to e2, …, and the last one answers the orchestration (EventRaised named after the
 *   critical section id). Everyone acquires in the same order, so two critical sections never deadlock.
 * - An orchestration that completes, fails, continues as new or is terminated gives its locks back in the same
 *   transaction (`releaseHeldBy`), and its queued lock requests are dropped.
 *
 * Operations are at-least-once like activities: a crash before the step's commit runs the batch again.
 */
import { randomUUID } from 'node:crypto';
import {
  ENTITY_FAILURE_TYPE,
  LOCK_GRANTED,
  operationErrorMessage,
  parseSchedulerId,
  readBatchResult,
  schedulerId,
  type EntityBatchRequest,
  type EntityBatchResult,
  type EntityOperation,
  type EntityRef,
  type ReleaseMessage,
  type RequestMessage,
  type ResponseMessage,
} from './entities-protocol';
import { SimulatedCrash, UnknownFunctionError } from './errors';
import type { DurableStore, EntityMessageKind, EntityMessageRow, EntityRow } from './store';
import { HistoryEventType, isTerminal, type HistoryEvent } from './types';

/** Invokes the entity function registered for `name` (lower-cased, as in entity ids) with one batch. */
export type EntityInvoker = (name: string, request: EntityBatchRequest) => Promise<unknown>;

/** The most operations one entity function invocation gets (the extension's maxEntityOperationBatchSize). */
const MAX_BATCH = 100;

export interface EntitySchedulerHost {
  store: DurableStore;
  invokeEntity?: EntityInvoker;
  isEntity?(name: string): boolean;
  maxConcurrent: number;
  now(): number;
  log(line: string): void;
  /** May throw SimulatedCrash (test fault injection); the host then freezes. */
  fault(point: 'entity.beforeCommit' | 'entity.afterCommit', entityId: string): void;
  /** Crashed or stopping: take no more steps. */
  halted(): boolean;
  track(p: Promise<unknown>): void;
  /** Inside a transaction: puts an event in an orchestration's inbox (ignored if the instance is gone). */
  deliver(instanceId: string, executionId: string | null, event: HistoryEvent, now: number): void;
  /** After a commit: an orchestration has new messages. */
  instanceReady(instanceId: string): void;
  /** Work was added or finished: pump again, re-check idleness. */
  changed(): void;
}

export interface EntityStatus {
  entityId: string;
  name: string;
  key: string;
  exists: boolean;
  state: unknown;
  /** Orchestration instance holding the entity's lock. */
  lockedBy?: string;
  /** Messages waiting in the entity's inbox, oldest first. */
  queue: { kind: EntityMessageKind; parent: string; operation?: string }[];
}

export interface EntityMessage {
  entityId: string;
  kind: EntityMessageKind;
  parent: string;
  payload: string;
}

export class EntityScheduler {
  private readonly ready = new Set<string>();
  private readonly active = new Set<string>();
  private readonly rerun = new Set<string>();
  readonly counters = { entityBatches: 0, entityOperations: 0, locksGranted: 0 };

  constructor(private readonly host: EntitySchedulerHost) {}

  markReady(entityId: string): void {
    if (this.active.has(entityId)) this.rerun.add(entityId);
    else this.ready.add(entityId);
  }

  /** Marks every entity with queued messages (engine start). */
  resumeAll(): number {
    const ids = this.host.store.entitiesWithMessages();
    for (const id of ids) this.markReady(id);
    return ids.length;
  }

  isIdle(): boolean {
    return this.ready.size === 0 && this.active.size === 0;
  }

  clear(): void {
    this.ready.clear();
    this.rerun.clear();
  }

  /** Starts a run for every ready entity that is not already running (call only while the engine runs). */
  pump(): void {
    for (const id of this.ready) {
      if (this.active.size >= this.host.maxConcurrent) break;
      this.ready.delete(id);
      this.active.add(id);
      const p = this.run(id)
        .catch((err: unknown) => {
          if (!(err instanceof SimulatedCrash)) {
            this.host.log(
              `entity ${id} step failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
            );
          }
        })
        .finally(() => {
          this.active.delete(id);
          if (this.rerun.delete(id)) this.ready.add(id);
          this.host.changed();
        });
      this.host.track(p);
    }
  }

  status(entityId: string): EntityStatus | undefined {
    const store = this.host.store;
    const row = store.getEntity(entityId);
    const queue = store.readEntityQueue(entityId);
    const ref = parseSchedulerId(entityId);
    if (!ref || (!row && queue.length === 0)) return undefined;
    const status: EntityStatus = {
      entityId,
      name: ref.name,
      key: ref.key,
      exists: row?.entity_exists === 1,
      state: row?.state != null ? (JSON.parse(row.state) as unknown) : undefined,
      queue: queue.map((m) => {
        const q: EntityStatus['queue'][number] = { kind: m.kind, parent: m.parent };
        if (m.kind === 'op') q.operation = (JSON.parse(m.payload) as RequestMessage).op;
        return q;
      }),
    };
    if (row?.lock_owner) status.lockedBy = row.lock_owner;
    return status;
  }

  // ---- inside the caller's transaction ----

  enqueue(m: EntityMessage): void {
    this.host.store.insertEntityMessage(m.entityId, m.kind, m.parent, m.payload);
  }

  /**
   * The orchestration `instanceId` is finishing (or starting a new execution): frees every entity it holds and
   * drops its queued lock requests. Returns the entities whose inbox can now make progress.
   */
  releaseHeldBy(instanceId: string, now: number): string[] {
    const store = this.host.store;
    const touched = new Set(store.deleteLockRequestsFrom(instanceId));
    for (const id of store.entitiesLockedBy(instanceId)) {
      store.putEntityLock(id, null, now);
      touched.add(id);
    }
    return [...touched];
  }

  // ---- the per-entity loop ----

  private ownerLive(instanceId: string, executionId: string | null | undefined): boolean {
    const inst = this.host.store.getInstance(instanceId);
    if (!inst || isTerminal(inst.runtime_status)) return false;
    return !executionId || inst.execution_id === executionId;
  }

  private async run(entityId: string): Promise<void> {
    const store = this.host.store;
    for (;;) {
      if (this.host.halted() || store.isClosed) return;
      const ent = store.getEntity(entityId);
      const owner = ent?.lock_owner ?? null;
      if (owner !== null && !this.ownerLive(owner, ent?.lock_execution)) {
        // The holder is gone without giving the lock back (it cannot release any more): free the entity.
        const progress = await this.step(entityId, () => {
          const now = store.getEntity(entityId);
          if (now?.lock_owner !== owner || this.ownerLive(owner, now.lock_execution)) return false;
          store.putEntityLock(entityId, null, this.host.now());
          this.host.log(`entity ${entityId}: lock of ${owner} dropped (instance no longer running)`);
          return true;
        });
        if (!progress) return;
        continue;
      }
      const rows = store.readEntityQueue(entityId);
      if (rows.length === 0) return;
      const pick = pickNext(rows, owner);
      if (pick.control) {
        const control = pick.control;
        const progress = await this.step(entityId, (entities, instances) =>
          this.applyControl(entityId, control, entities, instances),
        );
        if (!progress) return;
        continue;
      }
      if (pick.ops.length === 0) return; // everything waits for the lock holder
      await this.runOperations(entityId, ent, pick.ops);
    }
  }

  /** Commits one step; afterwards wakes the entities and instances it sent messages to. */
  private async step(
    entityId: string,
    fn: (entities: Set<string>, instances: Set<string>) => boolean,
  ): Promise<boolean> {
    const entities = new Set<string>();
    const instances = new Set<string>();
    let progress = false;
    await this.host.store.commit(() => {
      progress = fn(entities, instances);
    });
    if (this.host.halted()) return false;
    this.host.fault('entity.afterCommit', entityId);
    for (const e of entities) if (e !== entityId) this.markReady(e);
    for (const i of instances) this.host.instanceReady(i);
    if (entities.size > 0) this.host.changed();
    return progress;
  }

  private applyControl(
    entityId: string,
    row: EntityMessageRow,
    entities: Set<string>,
    instances: Set<string>,
  ): boolean {
    const store = this.host.store;
    // Dropped meanwhile (its sender finished): the queue changed, look again.
    if (!store.entityMessageExists(row.id)) return true;
    const now = this.host.now();
    const ent = store.getEntity(entityId);
    if (row.kind === 'release') {
      const msg = JSON.parse(row.payload) as ReleaseMessage;
      if (ent?.lock_owner === msg.parent) store.putEntityLock(entityId, null, now);
      store.deleteEntityMessage(row.id);
      return true;
    }
    const msg = JSON.parse(row.payload) as RequestMessage;
    if (!this.ownerLive(msg.parent, msg.parentExecution)) {
      store.deleteEntityMessage(row.id);
      return true;
    }
    if (ent?.lock_owner) return false;
    store.putEntityLock(entityId, { owner: msg.parent, execution: msg.parentExecution ?? null, request: msg.id }, now);
    store.deleteEntityMessage(row.id);
    const lockset = msg.lockset ?? [];
    const pos = msg.pos ?? 0;
    const next = lockset[pos + 1];
    if (next) {
      const nextId = schedulerId(next);
      const forward: RequestMessage = { ...msg, pos: pos + 1 };
      store.insertEntityMessage(nextId, 'lock', msg.parent, JSON.stringify(forward));
      entities.add(nextId);
    } else {
      const response: ResponseMessage = { result: LOCK_GRANTED };
      this.host.deliver(msg.parent, msg.parentExecution ?? null, raised(msg.id, response, now), now);
      instances.add(msg.parent);
      this.counters.locksGranted++;
    }
    return true;
  }

  private async runOperations(entityId: string, ent: EntityRow | undefined, rows: EntityMessageRow[]): Promise<void> {
    const ref: EntityRef = parseSchedulerId(entityId) ?? { name: entityId, key: '' };
    const msgs = rows.map((r) => JSON.parse(r.payload) as RequestMessage);
    const request: EntityBatchRequest = {
      self: ref,
      exists: ent?.entity_exists === 1,
      batch: msgs.map((m) => {
        const op: EntityOperation = { id: m.id, name: m.op ?? '', signal: m.signal === true };
        if (m.input !== undefined) op.input = m.input;
        return op;
      }),
    };
    if (ent?.state != null) request.state = ent.state;

    let result: EntityBatchResult | undefined;
    let batchError: string | undefined;
    const { invokeEntity, isEntity } = this.host;
    if (!invokeEntity || (isEntity && !isEntity(ref.name))) {
      batchError = new UnknownFunctionError(ref.name, 'entity').message;
    } else {
      try {
        result = readBatchResult(await invokeEntity(ref.name, request));
        if (!result) {
          batchError =
            `The entity function '${ref.name}' did not return an entity state. ` +
            'Register entities with df.app.entity so the durable-functions SDK runs the batch.';
        }
      } catch (err) {
        batchError = `Entity function '${ref.name}' failed: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    if (this.host.halted()) return;
    this.counters.entityBatches++;
    this.counters.entityOperations += rows.length;
    this.host.fault('entity.beforeCommit', entityId);

    const failures: string[] = [];
    await this.step(entityId, (entities, instances) => {
      const store = this.host.store;
      const now = this.host.now();
      for (const r of rows) store.deleteEntityMessage(r.id);
      if (result) {
        store.putEntityState(
          entityId,
          result.entityExists ? (result.entityState ?? null) : null,
          result.entityExists,
          now,
        );
        for (const s of result.signals) {
          const target = schedulerId(s.target);
          const signal: RequestMessage = { op: s.name, signal: true, id: randomUUID(), parent: entityId };
          if (s.input !== undefined) signal.input = s.input;
          store.insertEntityMessage(target, 'op', entityId, JSON.stringify(signal));
          entities.add(target);
        }
      }
      msgs.forEach((m, i) => {
        const r = result?.results[i];
        const failed = batchError !== undefined || r?.isError === true;
        const message = failed ? (batchError ?? operationErrorMessage(r?.result, m.op ?? '', entityId)) : undefined;
        if (message) failures.push(message);
        if (m.signal === true) return;
        const response: ResponseMessage = {};
        if (message !== undefined) {
          response.result = JSON.stringify(message);
          response.exceptionType = ENTITY_FAILURE_TYPE;
        } else if (r?.result !== undefined) {
          response.result = r.result;
        }
        this.host.deliver(m.parent, m.parentExecution ?? null, raised(m.id, response, now), now);
        instances.add(m.parent);
      });
      return true;
    });
    for (const f of failures) this.host.log(`entity ${entityId}: ${f}`);
  }
}

/** The next step for an entity: a lock/release message, or a batch of operations, honouring the lock. */
function pickNext(
  rows: EntityMessageRow[],
  owner: string | null,
): { control?: EntityMessageRow; ops: EntityMessageRow[] } {
  const ops: EntityMessageRow[] = [];
  for (const row of rows) {
    if (row.kind === 'release') return ops.length > 0 ? { ops } : { control: row, ops };
    if (row.kind === 'lock') {
      if (owner !== null) continue; // waits for the current holder
      return ops.length > 0 ? { ops } : { control: row, ops };
    }
    if (owner !== null && row.parent !== owner) continue;
    ops.push(row);
    if (ops.length >= MAX_BATCH) break;
  }
  return { ops };
}

function raised(name: string, response: ResponseMessage, now: number): HistoryEvent {
  return {
    EventType: HistoryEventType.EventRaised,
    EventId: -1,
    IsPlayed: false,
    Timestamp: new Date(now),
    Name: name,
    Input: JSON.stringify(response),
  };
}
