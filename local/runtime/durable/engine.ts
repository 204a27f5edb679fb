/**
 * Embedded Durable Task engine for durable-functions 3.x orchestrators, persisted in SQLite (see store.ts).
 *
 * Episode = read the instance's visible inbox (DB messages + in-memory activity results) → replay the whole
 * history plus the new events through the SDK's orchestrator handler → match the cumulative actions against the
 * history (nondeterminism check, replay.ts) → in ONE atomic commit: append the episode's history events, enqueue
 * new work (activity work items, timers with due time, sub-orchestration starts, parent notifications), delete the
 * consumed messages/work items and update the status row. One episode at a time per instance; different instances
 * run in parallel and share SQLite transactions (group commit).
 *
 * Activity results are not persisted on their own: the work item stays in the store until the episode that
 * consumes the result commits, so a crash re-runs the activity (at-least-once) instead of costing a commit per
 * result. Timers are inbox messages whose visible_at is the due time; one setTimeout is armed for the earliest.
 * Entity calls, signals and critical sections go through the EntityScheduler (entities.ts).
 */
import { randomUUID } from 'node:crypto';
import { EntityScheduler, type EntityInvoker, type EntityMessage, type EntityStatus } from './entities';
import { schedulerId, type EntityRef, type ReleaseMessage, type RequestMessage } from './entities-protocol';
import {
  EngineStoppedError,
  InstanceExistsError,
  InstanceGoneError,
  InstanceNotFoundError,
  InvalidOperationError,
  SimulatedCrash,
  UnknownFunctionError,
} from './errors';
import {
  buildTrigger,
  flattenActions,
  interpretError,
  interpretResult,
  isEntityLeaf,
  matchHistory,
  MAXIMUM_SHORT_TIMER_MS,
  nextLongTimerFireAt,
  type FlatActions,
  type HistoryMatch,
  type OrchestratorOutcome,
  type ScheduleLeaf,
} from './replay';
import type { ActivityRow, DurableStore, InstanceRow, MessageRow } from './store';
import {
  HistoryEventType,
  HistoryEventTypeName,
  isTerminal,
  TERMINAL_STATUSES,
  type DurableOrchestrationStatus,
  type HistoryEvent,
  type HistoryExport,
  type OrchestrationTrigger,
  type RetryOptionsLike,
  type RuntimeStatus,
} from './types';
import { versionMismatch, type VersioningOptions } from './versioning';

export type { OrchestrationTrigger, DurableOrchestrationStatus, HistoryEvent, HistoryExport } from './types';

export type OrchestratorInvoker = (name: string, trigger: OrchestrationTrigger) => Promise<unknown>;
export type ActivityInvoker = (
  name: string,
  input: unknown,
  info: { instanceId: string; taskId: number; attempt: number },
) => Promise<unknown>;

/** Points where tests can inject a simulated crash (throw SimulatedCrash from `faultHook`). */
export type FaultPoint =
  | 'episode.beforeCommit' // orchestrator ran, nothing written yet
  | 'episode.inCommit' // inside the SQLite transaction, after this episode's writes (rolls everything back)
  | 'episode.afterCommit' // committed, new work not yet dispatched in memory
  | 'activity.started' // activity invoked, result not yet known
  | 'activity.completed' // result known, not yet handed to the orchestration
  | 'entity.beforeCommit' // entity operations ran, their step not yet written
  | 'entity.afterCommit'; // an entity step (operations, lock grant or release) committed

export interface EngineOptions {
  store: DurableStore;
  taskHub: string;
  invokeOrchestrator: OrchestratorInvoker;
  invokeActivity: ActivityInvoker;
  /** Runs one batch of entity operations (df.app.entity). Without it, operations fail; locks still work. */
  invokeEntity?: EntityInvoker;
  isOrchestrator?(name: string): boolean;
  isActivity?(name: string): boolean;
  /** Whether an entity function exists for an entity name (lower-cased, as in entity ids). */
  isEntity?(name: string): boolean;
  /** host.json maxConcurrentActivityFunctions; default 4. */
  maxConcurrentActivities?: number;
  /** Episodes (orchestrator replays) in flight across different instances; default 32. */
  maxConcurrentOrchestrations?: number;
  /** The OOProc replay schema advertised to the SDK (REPLAY_SCHEMAS); default V4. */
  schemaVersion?: number;
  /** host.json defaultVersion / versionMatchStrategy / versionFailureStrategy. */
  versioning?: VersioningOptions;
  /** Decoded history events kept in memory across instances (LRU by instance); default 200,000. */
  historyCacheEvents?: number;
  log?: (line: string) => void;
  now?: () => Date;
  /**
   * Test-only: called at each FaultPoint (`instanceId` is the entity id for entity points); throwing
   * SimulatedCrash freezes the engine as a kill -9 would.
   */
  faultHook?: (point: FaultPoint, detail: { instanceId: string }) => void;
}

export interface EngineStats {
  episodes: number;
  historyEventsAppended: number;
  historyEventsReplayed: number;
  activitiesRun: number;
  activitiesFailed: number;
  orchestrationsStarted: number;
  orchestrationsCompleted: number;
  orchestrationsFailed: number;
  historyCacheHits: number;
  historyCacheMisses: number;
  /** Entity function invocations, operations they ran, and critical sections granted. */
  entityBatches: number;
  entityOperations: number;
  locksGranted: number;
  /** SQLite transactions the store committed (each one fsync) and the commits grouped into them. */
  storeTransactions: number;
  storeCommits: number;
}

export interface ListFilter {
  runtimeStatus?: string[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  instanceIdPrefix?: string;
  top?: number;
  continuationToken?: string;
  showInput?: boolean;
}

export interface PurgeFilter {
  runtimeStatus?: string[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
}

export interface StatusOptions {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  showInput?: boolean;
}

/** Host-side state of a *WithRetry call, carried on its work items, timers and failure messages. */
interface RetryCtx {
  kind: 'activity' | 'suborchestration';
  name: string;
  input: unknown;
  instanceId?: string;
  /** Sub-orchestrations: the version the child starts with. */
  version?: string;
  options: RetryOptionsLike;
  /** Attempt number of the task this context travels with (1-based). */
  attempt: number;
  firstAttemptAt: number;
  /** retryTimeout elapsed: remaining attempts fail without running (the SDK still expects each of them). */
  timedOut?: boolean;
  /** The last real failure, repeated by attempts that are not run after the timeout. */
  lastReason?: string;
  lastDetails?: string;
}

type Control = 'terminate' | 'suspend' | 'resume';

interface MessagePayload {
  e?: HistoryEvent;
  r?: RetryCtx;
  /** A long timer's link: when the whole timer ends. */
  l?: number;
  c?: Control;
  reason?: string;
}

interface InboxItem {
  msgId?: number;
  workItemId?: number;
  executionId: string | null;
  event?: HistoryEvent;
  retry?: RetryCtx;
  longTimerEnd?: number;
  control?: Control;
  reason?: string;
}

interface CachedHistory {
  executionId: string;
  events: HistoryEvent[];
  /** Events accounted in the cache size when last (re)inserted. */
  counted: number;
}

interface ChildStart {
  instanceId: string;
  name: string;
  input: unknown;
  version: string | undefined;
  taskId: number;
  retry?: RetryCtx;
}

interface EpisodePlan {
  scheduled: HistoryEvent[];
  activities: { taskId: number; name: string; input: unknown; attempt: number; retry?: RetryCtx }[];
  timers: { timerId: number; fireAt: number; retry?: RetryCtx; longTimerEnd?: number }[];
  children: ChildStart[];
  /** Failures the host reports straight back to this instance (e.g. retries after retryTimeout). */
  selfMessages: { event: HistoryEvent; retry?: RetryCtx }[];
  canceledTimers: number[];
  /** Entity calls, signals, lock requests and releases, each recorded as an EventSent in `scheduled`. */
  entityMessages: EntityMessage[];
}

const EXECUTION_STARTED = HistoryEventType.ExecutionStarted;

function ev(type: number, ts: Date, fields: Partial<HistoryEvent> = {}, eventId = -1): HistoryEvent {
  return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: ts, ...fields };
}

function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function fromJson(text: string | null): unknown {
  if (text === null || text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function toLiveEvent(raw: Record<string, unknown>): HistoryEvent {
  const e = raw as HistoryEvent;
  e.Timestamp = new Date(e.Timestamp);
  e.IsPlayed = true;
  return e;
}

function errorText(err: unknown): { message: string; details: string } {
  if (err instanceof Error) return { message: err.message, details: err.stack ?? err.message };
  const s = typeof err === 'string' ? err : JSON.stringify(err);
  return { message: s, details: s };
}

function retryDelay(o: RetryOptionsLike, failedAttempt: number): number {
  // Same formula as DurableTask.Core's RetryInterceptor: first * coefficient^(attempt-1), capped.
  const coeff = o.backoffCoefficient ?? 1;
  let delay = o.firstRetryIntervalInMilliseconds * Math.pow(coeff, failedAttempt - 1);
  if (o.maxRetryIntervalInMilliseconds !== undefined && o.maxRetryIntervalInMilliseconds > 0) {
    delay = Math.min(delay, o.maxRetryIntervalInMilliseconds);
  }
  return Number.isFinite(delay) ? Math.max(0, delay) : 0;
}

function notRetried(ctx: RetryCtx): string {
  return (
    `Attempt ${ctx.attempt} was not run: the retry timeout of ${ctx.options.retryTimeoutInMilliseconds} ms elapsed.` +
    (ctx.lastDetails ? `\n${ctx.lastDetails}` : '')
  );
}

/**
 * The extension refuses a custom status over 16 KB of UTF-16 JSON and the orchestration fails (docs: "Custom
 * orchestration status"; MessagePayloadDataConverter.Serialize with MaxCustomStatusPayloadSizeInKB = 16, which
 * compares the whole KB count, so anything under 17 KB passes). A JS string's length counts UTF-16 code units.
 */
export const CUSTOM_STATUS_LIMIT_KB = 16;
function customStatusTooLarge(json: string): string | undefined {
  const kb = Math.floor((json.length * 2) / 1024);
  if (kb <= CUSTOM_STATUS_LIMIT_KB) return undefined;
  return (
    `The UTF-16 size of the JSON-serialized payload must not exceed ${CUSTOM_STATUS_LIMIT_KB} KB. ` +
    `The current payload size is ${kb} KB.`
  );
}

/** The version an execution was started with (ExecutionStarted.Version), as the SDK reads `context.df.version`. */
function executionVersion(events: readonly HistoryEvent[]): string | undefined {
  const started = events.find((e) => e.EventType === EXECUTION_STARTED);
  return started?.Version || undefined;
}

/** Azure's rules: 1-256 characters, no '/', '\\', '#', '?' and no control characters. */
function isValidInstanceId(id: string): boolean {
  if (id.length === 0 || id.length > 256) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x2f || c === 0x5c || c === 0x23 || c === 0x3f) return false;
  }
  return true;
}

export class DurableEngine {
  private readonly store: DurableStore;
  private readonly opts: EngineOptions;
  private readonly maxActivities: number;
  private readonly maxEpisodes: number;
  private readonly cacheLimit: number;
  private cachedEvents = 0;

  private started = false;
  private stopping = false;
  private crashed = false;

  private readonly ready = new Set<string>();
  private readonly active = new Set<string>();
  private readonly rerun = new Set<string>();
  private episodesRunning = 0;
  private pumpScheduled = false;

  /** Activity results not yet consumed by an episode (kept in memory: a crash simply re-runs the activity). */
  private readonly results = new Map<string, InboxItem[]>();
  private readonly activityQueue: ActivityRow[] = [];
  private runningActivities = 0;
  /** Work item ids still wanted, per instance; a result for an id no longer here is dropped. */
  private readonly liveActivities = new Map<number, string>();
  private readonly liveByInstance = new Map<string, Set<number>>();

  private timer: NodeJS.Timeout | undefined;
  private timerDue: number | undefined;

  private pendingOps = 0;
  private readonly inflight = new Set<Promise<unknown>>();
  private idleWaiters: (() => void)[] = [];
  private readonly completionWaiters = new Map<string, Set<() => void>>();
  private readonly cache = new Map<string, CachedHistory>();
  private readonly entities: EntityScheduler;

  private readonly counters: Omit<
    EngineStats,
    'entityBatches' | 'entityOperations' | 'locksGranted' | 'storeTransactions' | 'storeCommits'
  > = {
    episodes: 0,
    historyEventsAppended: 0,
    historyEventsReplayed: 0,
    activitiesRun: 0,
    activitiesFailed: 0,
    orchestrationsStarted: 0,
    orchestrationsCompleted: 0,
    orchestrationsFailed: 0,
    historyCacheHits: 0,
    historyCacheMisses: 0,
  };

  constructor(opts: EngineOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.maxActivities = Math.max(1, opts.maxConcurrentActivities ?? 4);
    this.maxEpisodes = Math.max(1, opts.maxConcurrentOrchestrations ?? 32);
    this.cacheLimit = Math.max(0, opts.historyCacheEvents ?? 200_000);
    this.entities = new EntityScheduler({
      store: this.store,
      invokeEntity: opts.invokeEntity,
      isEntity: opts.isEntity,
      maxConcurrent: this.maxEpisodes,
      now: () => this.nowMs(),
      log: (line) => this.log(line),
      fault: (point, entityId) => this.fault(point, entityId),
      halted: () => this.crashed || this.stopping || !this.started,
      track: (p) => this.track(p),
      deliver: (instanceId, executionId, event, now) => {
        if (!this.store.getInstance(instanceId)) return;
        this.store.insertMessage(instanceId, executionId, now, JSON.stringify({ e: event } satisfies MessagePayload));
      },
      instanceReady: (instanceId) => this.markReady(instanceId),
      changed: () => this.schedulePump(),
    });
  }

  get taskHub(): string {
    return this.opts.taskHub;
  }

  // =============================================================================================================
  // Lifecycle

  /** Resumes everything pending in the store: ready inboxes, activities that were running, armed timers. */
  start(): void {
    if (this.started || this.crashed) return;
    this.started = true;
    this.stopping = false;
    const now = this.nowMs();
    for (const row of this.store.allActivities()) this.enqueueActivity(row);
    for (const id of this.store.readyInstanceIds(now)) this.ready.add(id);
    const entities = this.entities.resumeAll();
    const due = this.store.nextTimerDue(now);
    if (due !== undefined) this.armTimer(due);
    this.log(
      `durable engine started (task hub ${this.opts.taskHub}): ${this.ready.size} ready instance(s), ` +
        `${this.activityQueue.length} activit(ies) to (re)run, ${entities} entit(ies) with queued messages`,
    );
    this.schedulePump();
  }

  /** Stops taking work and waits for in-flight episodes and activities; unconsumed results are persisted. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    this.clearTimer();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    if (!this.crashed && !this.store.isClosed) await this.persistResults();
    this.started = false;
    this.activityQueue.length = 0;
    this.ready.clear();
    this.rerun.clear();
    this.entities.clear();
    this.resolveIdle();
  }

  /** Resolves when nothing is queued or running (future timers and instances waiting for events don't count). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stats(): EngineStats {
    const { transactions, commits } = this.store.counters;
    return { ...this.counters, ...this.entities.counters, storeTransactions: transactions, storeCommits: commits };
  }

  /** Re-checks due timers now (for callers that drive `now` with a fake clock). */
  checkTimers(): void {
    this.onTimer();
  }

  // =============================================================================================================
  // Client operations

  /** `version` overrides host.json defaultVersion for this instance (DurableClient.startNew's `version`). */
  async startNew(name: string, opts: { instanceId?: string; input?: unknown; version?: string } = {}): Promise<string> {
    this.ensureAccepting();
    if (this.opts.isOrchestrator && !this.opts.isOrchestrator(name)) {
      throw new UnknownFunctionError(name, 'orchestrator');
    }
    const instanceId = opts.instanceId ?? randomUUID().replace(/-/g, '');
    if (!isValidInstanceId(instanceId)) {
      throw new InvalidOperationError(
        `Invalid instance ID '${instanceId}': 1-256 characters, no '/', '\\', '#', '?' or control characters.`,
        400,
      );
    }
    const now = this.nowMs();
    const executionId = randomUUID();
    const inputJson = toJson(opts.input);
    await this.op(() =>
      this.store.commit(() => {
        const existing = this.store.getInstance(instanceId);
        if (existing && !isTerminal(existing.runtime_status)) {
          throw new InstanceExistsError(instanceId, existing.runtime_status);
        }
        // overridableExistingInstanceStates NonRunningStates: Pending, Running, ContinuedAsNew and Suspended
        // instances are kept (the extension's OverridableStates.cs); a finished one is replaced, history and all.
        if (existing) this.store.deleteInstanceCompletely(instanceId);
        const version = opts.version ?? this.opts.versioning?.defaultVersion;
        this.insertNewInstance(instanceId, name, executionId, inputJson, now, undefined, version);
      }),
    );
    this.forget(instanceId);
    this.counters.orchestrationsStarted++;
    this.markReady(instanceId);
    return instanceId;
  }

  async raiseEvent(instanceId: string, eventName: string, data: unknown): Promise<void> {
    this.ensureAccepting();
    if (!eventName) throw new InvalidOperationError('eventName must be a non-empty string.', 400);
    const now = this.nowMs();
    const e = ev(HistoryEventType.EventRaised, new Date(now), { Name: eventName });
    if (data !== undefined) e.Input = JSON.stringify(data);
    await this.op(() =>
      this.store.commit(() => {
        this.requireLive(instanceId);
        this.store.insertMessage(instanceId, null, now, JSON.stringify({ e } satisfies MessagePayload));
      }),
    );
    this.markReady(instanceId);
  }

  terminate(instanceId: string, reason: string): Promise<void> {
    return this.sendControl(instanceId, 'terminate', reason);
  }

  suspend(instanceId: string, reason: string): Promise<void> {
    return this.sendControl(instanceId, 'suspend', reason);
  }

  resume(instanceId: string, reason: string): Promise<void> {
    return this.sendControl(instanceId, 'resume', reason);
  }

  /**
   * Rewinds a Failed instance: failed activity/sub-orchestration results are dropped from the history and those
   * tasks run again, then the orchestrator replays from there.
   */
  async rewind(instanceId: string, reason: string): Promise<void> {
    this.ensureAccepting();
    const now = this.nowMs();
    const rerun: ActivityRow[] = [];
    const children: string[] = [];
    await this.op(() =>
      this.store.commit(() => {
        const inst = this.store.getInstance(instanceId);
        if (!inst) throw new InstanceNotFoundError(instanceId);
        if (inst.runtime_status !== 'Failed') {
          throw new InvalidOperationError('The rewind operation is only supported on failed orchestration instances.');
        }
        const events = this.store.readHistory(instanceId).map(toLiveEvent);
        if (events.some((e) => e.EventType === HistoryEventType.EventSent)) {
          // Its locks were given back when it failed; a rewound critical section would run unprotected.
          throw new InvalidOperationError('Rewind is not supported for instances that used durable entities.', 501);
        }
        const failedIds = new Set<number>();
        let episodeHasFailure = false;
        for (const e of events) {
          if (e.EventType === HistoryEventType.OrchestratorStarted) episodeHasFailure = false;
          if (
            e.EventType === HistoryEventType.TaskFailed ||
            e.EventType === HistoryEventType.SubOrchestrationInstanceFailed
          ) {
            failedIds.add(e.TaskScheduledId ?? -1);
            episodeHasFailure = true;
          }
          if (e.EventType === HistoryEventType.TimerCreated && episodeHasFailure) {
            // Possibly a retry timer: dropping the failure would leave it unexplained in the history.
            throw new InvalidOperationError(
              'Rewind is not supported for instances whose failed tasks used retries.',
              501,
            );
          }
        }
        // Drop the failure results and the ExecutionCompleted(Failed) of the last episode; the failed tasks run again.
        const kept = events.filter(
          (e) =>
            e.EventType !== HistoryEventType.ExecutionCompleted &&
            !(
              (e.EventType === HistoryEventType.TaskFailed ||
                e.EventType === HistoryEventType.SubOrchestrationInstanceFailed) &&
              failedIds.has(e.TaskScheduledId ?? -1)
            ),
        );
        if (kept.at(-1)?.EventType === HistoryEventType.OrchestratorCompleted) kept.pop();
        const completed = new Set<number>();
        for (const e of kept) {
          if (e.TaskScheduledId !== undefined) completed.add(e.TaskScheduledId);
        }
        this.store.deleteHistory(instanceId);
        if (kept.length > 0) this.store.appendHistory(instanceId, inst.execution_id, 0, JSON.stringify(kept));
        for (const e of kept) {
          if (!failedIds.has(e.EventId) || completed.has(e.EventId)) continue;
          if (e.EventType === HistoryEventType.TaskScheduled) {
            const row: Omit<ActivityRow, 'id'> = {
              instance_id: instanceId,
              execution_id: inst.execution_id,
              task_id: e.EventId,
              name: e.Name ?? '',
              input: e.Input ?? null,
              attempt: 1,
              retry: null,
            };
            rerun.push({ ...row, id: this.store.insertActivity(row, now) });
          } else if (e.EventType === HistoryEventType.SubOrchestrationInstanceCreated && e.InstanceId) {
            const child = this.store.getInstance(e.InstanceId);
            if (child && child.runtime_status === 'Failed') {
              const version = executionVersion(this.store.readHistory(e.InstanceId) as HistoryEvent[]);
              this.store.deleteInstanceCompletely(e.InstanceId);
              this.insertNewInstance(
                e.InstanceId,
                child.name,
                randomUUID(),
                child.input,
                now,
                { instanceId, executionId: inst.execution_id, taskId: e.EventId, retry: null },
                version,
                child.created_time,
              );
              children.push(e.InstanceId);
            }
          }
        }
        this.store.updateProgress(instanceId, 'Running', inst.custom_status, null, now, kept.length);
        this.log(`rewinding ${instanceId}: ${reason}`);
      }),
    );
    this.forget(instanceId);
    for (const row of rerun) this.enqueueActivity(row);
    for (const c of children) {
      this.forget(c);
      this.markReady(c);
    }
    this.schedulePump();
  }

  /** Deletes a terminal instance and its history. False if it does not exist or is still running. */
  async purge(instanceId: string): Promise<boolean> {
    let deleted = false;
    await this.op(() =>
      this.store.commit(() => {
        const inst = this.store.getInstance(instanceId);
        if (!inst || !isTerminal(inst.runtime_status)) return;
        this.store.deleteInstanceCompletely(instanceId);
        deleted = true;
      }),
    );
    if (deleted) this.forget(instanceId);
    return deleted;
  }

  /** Purges terminal instances matching the filter; returns how many were deleted. */
  async purgeMany(filter: PurgeFilter): Promise<number> {
    const statuses = (
      filter.runtimeStatus && filter.runtimeStatus.length > 0 ? filter.runtimeStatus : [...TERMINAL_STATUSES]
    ).filter((s) => TERMINAL_STATUSES.has(s));
    if (statuses.length === 0) return 0;
    const ids: string[] = [];
    await this.op(() =>
      this.store.commit(() => {
        const rows = this.store.queryInstances({
          runtimeStatus: statuses,
          createdTimeFrom: filter.createdTimeFrom?.getTime(),
          createdTimeTo: filter.createdTimeTo?.getTime(),
        });
        for (const r of rows) {
          this.store.deleteInstanceCompletely(r.instance_id);
          ids.push(r.instance_id);
        }
      }),
    );
    for (const id of ids) this.forget(id);
    return ids.length;
  }

  async getStatus(instanceId: string, opts: StatusOptions = {}): Promise<DurableOrchestrationStatus | undefined> {
    const row = this.store.getInstance(instanceId);
    if (!row) return undefined;
    const status = this.toStatus(row, opts.showInput !== false);
    if (opts.showHistory) {
      const events = this.store.readHistory(instanceId) as HistoryEvent[];
      status.historyEvents = projectHistory(events, opts.showHistoryOutput === true);
    }
    return status;
  }

  async list(
    filter: ListFilter = {},
  ): Promise<{ instances: DurableOrchestrationStatus[]; continuationToken?: string }> {
    let after: { createdTime: number; instanceId: string } | undefined;
    if (filter.continuationToken) {
      try {
        const parsed = JSON.parse(Buffer.from(filter.continuationToken, 'base64url').toString('utf8')) as [
          number,
          string,
        ];
        after = { createdTime: Number(parsed[0]), instanceId: String(parsed[1]) };
      } catch {
        throw new InvalidOperationError('Invalid continuation token.', 400);
      }
    }
    const top = filter.top !== undefined && filter.top > 0 ? Math.floor(filter.top) : undefined;
    const rows = this.store.queryInstances({
      runtimeStatus: filter.runtimeStatus,
      createdTimeFrom: filter.createdTimeFrom?.getTime(),
      createdTimeTo: filter.createdTimeTo?.getTime(),
      instanceIdPrefix: filter.instanceIdPrefix,
      after,
      limit: top !== undefined ? top + 1 : undefined,
    });
    let continuationToken: string | undefined;
    if (top !== undefined && rows.length > top) {
      rows.length = top;
      const last = rows[rows.length - 1]!;
      continuationToken = Buffer.from(JSON.stringify([last.created_time, last.instance_id])).toString('base64url');
    }
    const instances = rows.map((r) => this.toStatus(r, filter.showInput !== false));
    return continuationToken ? { instances, continuationToken } : { instances };
  }

  /** Resolves with the status once the instance is Completed, Failed or Terminated. */
  async waitForCompletion(instanceId: string, timeoutMs?: number): Promise<DurableOrchestrationStatus> {
    const deadline = timeoutMs !== undefined ? Date.now() + timeoutMs : undefined;
    for (;;) {
      const status = await this.getStatus(instanceId);
      if (status && isTerminal(status.runtimeStatus)) return status;
      const remaining = deadline !== undefined ? deadline - Date.now() : undefined;
      if (remaining !== undefined && remaining <= 0) {
        throw new Error(
          `Instance '${instanceId}' did not complete within ${timeoutMs} ms (status ${status?.runtimeStatus ?? 'unknown'}).`,
        );
      }
      await new Promise<void>((resolve) => {
        let set = this.completionWaiters.get(instanceId);
        if (!set) this.completionWaiters.set(instanceId, (set = new Set()));
        const s = set;
        let t: NodeJS.Timeout | undefined;
        const done = (): void => {
          if (t) clearTimeout(t);
          s.delete(done);
          if (s.size === 0 && this.completionWaiters.get(instanceId) === s) this.completionWaiters.delete(instanceId);
          resolve();
        };
        s.add(done);
        if (remaining !== undefined) t = setTimeout(done, remaining);
      });
    }
  }

  /** The current execution's history as recorded (ISO timestamps), e.g. to save a golden file. */
  async exportHistory(instanceId: string): Promise<HistoryExport | undefined> {
    const row = this.store.getInstance(instanceId);
    if (!row) return undefined;
    const history = (this.store.readHistory(instanceId) as HistoryEvent[]).map((e) => ({ ...e, IsPlayed: false }));
    return { name: row.name, instanceId, input: fromJson(row.input), history };
  }

  /** An entity's state, lock holder and queued messages; undefined if it has none of them. */
  /**
   * A client's signal to an entity (DurableClient.signalEntity; HTTP API reference, "Signal entity"): queued in the
   * entity's inbox behind what is there, one-way — the caller learns only that it was accepted.
   */
  async signalEntity(entity: EntityRef, operationName: string, input: unknown): Promise<void> {
    this.ensureAccepting();
    const entityId = schedulerId(entity);
    // No parent: a client is no orchestration, so no lock it holds lets the signal jump the queue.
    const msg: RequestMessage = {
      op: operationName,
      signal: true,
      id: randomUUID(),
      parent: '',
      ...(input !== undefined ? { input: JSON.stringify(input) } : {}),
    };
    await this.op(() =>
      this.store.commit(() =>
        this.entities.enqueue({ entityId, kind: 'op', parent: '', payload: JSON.stringify(msg) }),
      ),
    );
    this.wakeEntities([entityId]);
  }

  getEntity(entity: EntityRef | string): EntityStatus | undefined {
    return this.entities.status(typeof entity === 'string' ? entity : schedulerId(entity));
  }

  // =============================================================================================================
  // Internals: scheduling

  private nowMs(): number {
    return this.opts.now ? this.opts.now().getTime() : Date.now();
  }

  private log(line: string): void {
    this.opts.log?.(`[durable] ${line}`);
  }

  private fault(point: FaultPoint, instanceId: string): void {
    if (!this.opts.faultHook) return;
    try {
      this.opts.faultHook(point, { instanceId });
    } catch (err) {
      if (err instanceof SimulatedCrash) this.halt();
      throw err;
    }
  }

  /** Freezes the engine without writing anything else, as if the process had been killed. */
  private halt(): void {
    this.crashed = true;
    this.store.freeze();
    this.stopping = true;
    this.clearTimer();
  }

  private ensureAccepting(): void {
    if (this.crashed || this.store.isClosed) throw new EngineStoppedError();
  }

  private async op<T>(fn: () => Promise<T>): Promise<T> {
    this.pendingOps++;
    try {
      return await fn();
    } finally {
      this.pendingOps--;
      this.checkIdle();
    }
  }

  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private markReady(instanceId: string): void {
    if (this.active.has(instanceId)) this.rerun.add(instanceId);
    else this.ready.add(instanceId);
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (!this.started || this.stopping || this.crashed) {
      this.checkIdle();
      return;
    }
    for (const id of this.ready) {
      if (this.episodesRunning >= this.maxEpisodes) break;
      this.ready.delete(id);
      this.active.add(id);
      this.episodesRunning++;
      const p = this.runEpisode(id)
        .catch((err: unknown) => {
          if (!(err instanceof SimulatedCrash)) this.log(`episode for ${id} failed: ${errorText(err).details}`);
        })
        .finally(() => {
          this.active.delete(id);
          this.episodesRunning--;
          if (this.rerun.delete(id)) this.ready.add(id);
          this.schedulePump();
        });
      this.track(p);
    }
    this.entities.pump();
    this.pumpActivities();
    this.checkIdle();
  }

  private isIdle(): boolean {
    if (!this.started || this.crashed) return this.inflight.size === 0 && this.pendingOps === 0;
    return (
      this.ready.size === 0 &&
      this.episodesRunning === 0 &&
      this.activityQueue.length === 0 &&
      this.runningActivities === 0 &&
      this.entities.isIdle() &&
      this.pendingOps === 0 &&
      !(this.timerDue !== undefined && this.timerDue <= this.nowMs())
    );
  }

  private checkIdle(): void {
    if (this.idleWaiters.length > 0 && this.isIdle()) this.resolveIdle();
  }

  private resolveIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private armTimer(due: number): void {
    if (this.crashed || this.stopping) return;
    if (this.timerDue !== undefined && this.timerDue <= due) return;
    this.clearTimer();
    this.timerDue = due;
    const delay = Math.min(Math.max(0, due - this.nowMs()), 2_147_483_647);
    this.timer = setTimeout(() => this.onTimer(), delay);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = undefined;
  }

  private onTimer(): void {
    this.clearTimer();
    if (!this.started || this.stopping || this.crashed || this.store.isClosed) return;
    const now = this.nowMs();
    for (const id of this.store.readyInstanceIds(now)) this.markReady(id);
    const next = this.store.nextTimerDue(now);
    if (next !== undefined) this.armTimer(next);
    this.checkIdle();
  }

  // =============================================================================================================
  // Internals: activities

  private enqueueActivity(row: ActivityRow): void {
    this.liveActivities.set(row.id, row.instance_id);
    let set = this.liveByInstance.get(row.instance_id);
    if (!set) this.liveByInstance.set(row.instance_id, (set = new Set()));
    set.add(row.id);
    this.activityQueue.push(row);
  }

  private forgetActivities(instanceId: string): void {
    const set = this.liveByInstance.get(instanceId);
    if (!set) return;
    for (const id of set) this.liveActivities.delete(id);
    this.liveByInstance.delete(instanceId);
  }

  private pumpActivities(): void {
    while (
      !this.stopping &&
      !this.crashed &&
      this.runningActivities < this.maxActivities &&
      this.activityQueue.length > 0
    ) {
      const row = this.activityQueue.shift()!;
      if (!this.liveActivities.has(row.id)) continue;
      this.runningActivities++;
      this.track(this.runActivity(row));
    }
  }

  private async runActivity(row: ActivityRow): Promise<void> {
    let event: HistoryEvent;
    let failed = false;
    const retry = row.retry ? (JSON.parse(row.retry) as RetryCtx) : undefined;
    try {
      try {
        this.fault('activity.started', row.instance_id);
        const input = row.input === null ? undefined : (JSON.parse(row.input) as unknown);
        if (this.opts.isActivity && !this.opts.isActivity(row.name)) {
          throw new UnknownFunctionError(row.name, 'activity');
        }
        this.counters.activitiesRun++;
        const output = await this.opts.invokeActivity(row.name, input, {
          instanceId: row.instance_id,
          taskId: row.task_id,
          attempt: row.attempt,
        });
        event = ev(HistoryEventType.TaskCompleted, new Date(this.nowMs()), {
          TaskScheduledId: row.task_id,
          Result: JSON.stringify(output === undefined ? null : output),
        });
      } catch (err) {
        if (err instanceof SimulatedCrash) throw err;
        failed = true;
        this.counters.activitiesFailed++;
        const { message, details } = errorText(err);
        event = ev(HistoryEventType.TaskFailed, new Date(this.nowMs()), {
          TaskScheduledId: row.task_id,
          Reason: `Activity function '${row.name}' failed: ${message}`,
          Details: details,
        });
      }
      if (this.crashed) return;
      this.fault('activity.completed', row.instance_id);
    } catch (err) {
      if (err instanceof SimulatedCrash) return;
      throw err;
    } finally {
      this.runningActivities--;
    }
    if (this.crashed) return;
    if (this.liveActivities.get(row.id) === row.instance_id) {
      const item: InboxItem = { workItemId: row.id, executionId: row.execution_id, event };
      if (failed && retry) item.retry = retry;
      let list = this.results.get(row.instance_id);
      if (!list) this.results.set(row.instance_id, (list = []));
      list.push(item);
      this.markReady(row.instance_id);
    }
    this.pumpActivities();
    this.checkIdle();
  }

  /** On stop, results not yet consumed become inbox messages (and their work items go) so nothing re-runs. */
  private async persistResults(): Promise<void> {
    const entries = [...this.results.entries()].filter(([, list]) => list.length > 0);
    if (entries.length === 0) return;
    const now = this.nowMs();
    await this.store.commit(() => {
      for (const [instanceId, list] of entries) {
        for (const item of list) {
          if (item.workItemId === undefined || !this.store.activityExists(item.workItemId)) continue;
          this.store.deleteActivity(item.workItemId);
          const payload: MessagePayload = { e: item.event };
          if (item.retry) payload.r = item.retry;
          this.store.insertMessage(instanceId, item.executionId, now, JSON.stringify(payload));
        }
      }
    });
    this.results.clear();
  }

  // =============================================================================================================
  // Internals: episodes

  private async sendControl(instanceId: string, control: Control, reason: string): Promise<void> {
    this.ensureAccepting();
    const now = this.nowMs();
    await this.op(() =>
      this.store.commit(() => {
        this.requireLive(instanceId);
        this.store.insertMessage(
          instanceId,
          null,
          now,
          JSON.stringify({ c: control, reason } satisfies MessagePayload),
        );
      }),
    );
    this.markReady(instanceId);
  }

  private requireLive(instanceId: string): InstanceRow {
    const inst = this.store.getInstance(instanceId);
    if (!inst) throw new InstanceNotFoundError(instanceId);
    if (isTerminal(inst.runtime_status)) throw new InstanceGoneError(instanceId, inst.runtime_status);
    return inst;
  }

  private insertNewInstance(
    instanceId: string,
    name: string,
    executionId: string,
    inputJson: string | null,
    now: number,
    parent: { instanceId: string; executionId: string; taskId: number; retry: string | null } | undefined,
    version: string | undefined,
    createdTime = now,
  ): void {
    this.store.upsertInstance({
      instance_id: instanceId,
      name,
      execution_id: executionId,
      runtime_status: 'Pending',
      input: inputJson,
      output: null,
      custom_status: null,
      created_time: createdTime,
      last_updated_time: now,
      parent_instance_id: parent?.instanceId ?? null,
      parent_execution_id: parent?.executionId ?? null,
      parent_task_id: parent?.taskId ?? null,
      parent_retry: parent?.retry ?? null,
      history_count: 0,
    });
    const started = ev(EXECUTION_STARTED, new Date(now), {
      Name: name,
      OrchestrationInstance: { InstanceId: instanceId, ExecutionId: executionId },
    });
    if (inputJson !== null) started.Input = inputJson;
    if (version) started.Version = version;
    if (parent) {
      started.ParentInstance = {
        OrchestrationInstance: { InstanceId: parent.instanceId, ExecutionId: parent.executionId },
        TaskScheduleId: parent.taskId,
      };
    }
    this.store.insertMessage(instanceId, executionId, now, JSON.stringify({ e: started } satisfies MessagePayload));
  }

  private loadHistory(inst: InstanceRow): CachedHistory {
    const hit = this.cache.get(inst.instance_id);
    if (hit && hit.executionId === inst.execution_id && hit.events.length === inst.history_count) {
      // Refresh LRU position.
      this.remember(inst.instance_id, hit);
      this.counters.historyCacheHits++;
      return hit;
    }
    this.counters.historyCacheMisses++;
    const events = inst.history_count === 0 ? [] : this.store.readHistory(inst.instance_id).map(toLiveEvent);
    const entry: CachedHistory = { executionId: inst.execution_id, events, counted: 0 };
    this.remember(inst.instance_id, entry);
    return entry;
  }

  private remember(instanceId: string, entry: CachedHistory): void {
    this.forget(instanceId);
    if (entry.events.length > this.cacheLimit) return;
    this.cache.set(instanceId, entry);
    entry.counted = entry.events.length;
    this.cachedEvents += entry.counted;
    for (const [oldest, e] of this.cache) {
      if (this.cachedEvents <= this.cacheLimit) break;
      this.cache.delete(oldest);
      this.cachedEvents -= e.counted;
    }
  }

  private forget(instanceId: string): void {
    const e = this.cache.get(instanceId);
    if (!e) return;
    this.cache.delete(instanceId);
    this.cachedEvents -= e.counted;
  }

  private decodeRow(row: MessageRow): InboxItem {
    const p = JSON.parse(row.payload) as MessagePayload;
    const item: InboxItem = { msgId: row.id, executionId: row.execution_id };
    if (p.e) {
      p.e.Timestamp = new Date(p.e.Timestamp);
      item.event = p.e;
    }
    if (p.r) item.retry = p.r;
    if (p.l !== undefined) item.longTimerEnd = p.l;
    if (p.c) {
      item.control = p.c;
      item.reason = p.reason ?? '';
    }
    return item;
  }

  private async runEpisode(instanceId: string): Promise<void> {
    if (this.crashed || this.store.isClosed) return;
    const now = this.nowMs();
    const inst = this.store.getInstance(instanceId);
    const memory = this.results.get(instanceId) ?? [];
    const rows = this.store.readMessages(instanceId, now);
    if (!inst) {
      // Purged: nothing can consume these any more.
      if (rows.length > 0) await this.store.commit(() => rows.forEach((r) => this.store.deleteMessage(r.id)));
      this.results.delete(instanceId);
      return;
    }
    const items = rows.map((r) => this.decodeRow(r)).concat(memory);
    if (items.length === 0) return;

    const consumed: InboxItem[] = [];
    const live: InboxItem[] = [];
    for (const item of items) {
      const stale =
        isTerminal(inst.runtime_status) || (item.executionId !== null && item.executionId !== inst.execution_id);
      if (stale) consumed.push(item);
      else live.push(item);
    }
    if (live.length === 0) {
      await this.commitConsumedOnly(instanceId, consumed);
      return;
    }

    const terminate = live.find((i) => i.control === 'terminate');
    if (terminate) {
      await this.terminateEpisode(inst, items, terminate.reason ?? '');
      return;
    }

    // Suspend/resume are applied first; while suspended everything else stays in the inbox.
    let suspended = inst.runtime_status === 'Suspended';
    const controlEvents: HistoryEvent[] = [];
    const normal: InboxItem[] = [];
    for (const item of live) {
      if (item.control === 'suspend' || item.control === 'resume') {
        consumed.push(item);
        const wantSuspended = item.control === 'suspend';
        if (wantSuspended !== suspended) {
          suspended = wantSuspended;
          controlEvents.push(
            ev(wantSuspended ? HistoryEventType.ExecutionSuspended : HistoryEventType.ExecutionResumed, new Date(now), {
              Reason: item.reason ?? '',
            }),
          );
        }
      } else if (item.event) {
        normal.push(item);
      } else {
        consumed.push(item);
      }
    }

    // ExecutionStarted must come first (events carried over a continueAsNew were queued before it).
    normal.sort(
      (a, b) => Number(b.event!.EventType === EXECUTION_STARTED) - Number(a.event!.EventType === EXECUTION_STARTED),
    );
    const history = this.loadHistory(inst);
    const hasStarted = history.events.length > 0 || normal.some((i) => i.event!.EventType === EXECUTION_STARTED);

    const batch: InboxItem[] = [];
    if (!suspended && hasStarted) {
      for (const item of normal) {
        // A retry trigger (failure of a *WithRetry task, or its retry timer) or a long timer's link goes alone in
        // its episode, so the retry timer / re-schedule / next link takes the next sequence id before anything the
        // orchestrator yields afterwards (the SDK adds a long timer's next link as it sees the last one fire).
        if (item.retry || item.longTimerEnd !== undefined) {
          if (batch.length === 0) batch.push(item);
          break;
        }
        batch.push(item);
      }
    }
    const leftovers = !suspended && hasStarted && batch.length < normal.length;

    if (batch.length === 0) {
      await this.commitControlOnly(inst, history, consumed, controlEvents, suspended, now);
      return;
    }
    const version = executionVersion(history.events.length > 0 ? history.events : normal.map((i) => i.event!));
    const mismatch = versionMismatch(this.opts.versioning ?? {}, version);
    if (mismatch && this.opts.versioning?.failureStrategy !== 'Fail') {
      // versionFailureStrategy Reject: the instance stays as it is, for a worker whose version accepts it.
      this.log(`${inst.name} (${instanceId}) not run here: ${mismatch}`);
      return;
    }
    await this.replayEpisode(inst, history, batch, consumed, controlEvents, now, mismatch);
    if (leftovers && !this.crashed) this.markReady(instanceId);
  }

  private async commitConsumedOnly(instanceId: string, consumed: InboxItem[]): Promise<void> {
    await this.store.commit(() => {
      for (const item of consumed) this.deleteConsumed(item);
    });
    this.dropResults(instanceId, consumed);
  }

  private deleteConsumed(item: InboxItem): void {
    if (item.msgId !== undefined) this.store.deleteMessage(item.msgId);
    if (item.workItemId !== undefined) this.store.deleteActivity(item.workItemId);
  }

  private dropResults(instanceId: string, consumed: InboxItem[]): void {
    const list = this.results.get(instanceId);
    if (!list) return;
    const gone = new Set(consumed);
    const rest = list.filter((i) => !gone.has(i));
    if (rest.length === 0) this.results.delete(instanceId);
    else this.results.set(instanceId, rest);
    for (const item of consumed) {
      if (item.workItemId === undefined) continue;
      this.liveActivities.delete(item.workItemId);
      this.liveByInstance.get(instanceId)?.delete(item.workItemId);
    }
  }

  private async commitControlOnly(
    inst: InstanceRow,
    history: CachedHistory,
    consumed: InboxItem[],
    controlEvents: HistoryEvent[],
    suspended: boolean,
    now: number,
  ): Promise<void> {
    if (consumed.length === 0 && controlEvents.length === 0) return;
    let status = inst.runtime_status;
    if (suspended) status = 'Suspended';
    else if (status === 'Suspended') status = history.events.length > 0 ? 'Running' : 'Pending';
    const count = inst.history_count + controlEvents.length;
    const json = JSON.stringify(controlEvents);
    await this.store.commit(() => {
      for (const item of consumed) this.deleteConsumed(item);
      if (controlEvents.length > 0)
        this.store.appendHistory(inst.instance_id, inst.execution_id, inst.history_count, json);
      this.store.updateProgress(inst.instance_id, status, inst.custom_status, inst.output, now, count);
    });
    for (const e of controlEvents) e.IsPlayed = true;
    history.events.push(...controlEvents);
    this.remember(inst.instance_id, history);
    this.counters.historyEventsAppended += controlEvents.length;
    this.dropResults(inst.instance_id, consumed);
    // Resumed: whatever was buffered while suspended can run now.
    if (!suspended && this.store.hasMessages(inst.instance_id)) this.markReady(inst.instance_id);
    if (!suspended && (this.results.get(inst.instance_id)?.length ?? 0) > 0) this.markReady(inst.instance_id);
  }

  private async terminateEpisode(inst: InstanceRow, items: InboxItem[], reason: string): Promise<void> {
    const now = this.nowMs();
    const e = ev(HistoryEventType.ExecutionTerminated, new Date(now), { Input: JSON.stringify(reason) });
    const json = JSON.stringify([e]);
    const parentMsg = this.parentNotification(inst, 'Terminated', undefined, `Instance was terminated: ${reason}`, now);
    let released: string[] = [];
    await this.store.commit(() => {
      released = this.entities.releaseHeldBy(inst.instance_id, now);
      this.store.deleteMessagesFor(inst.instance_id);
      this.store.deleteActivitiesFor(inst.instance_id);
      this.store.appendHistory(inst.instance_id, inst.execution_id, inst.history_count, json);
      this.store.updateProgress(
        inst.instance_id,
        'Terminated',
        inst.custom_status,
        JSON.stringify(reason),
        now,
        inst.history_count + 1,
      );
      if (parentMsg) this.store.insertMessage(parentMsg.instanceId, parentMsg.executionId, now, parentMsg.payload);
    });
    this.counters.historyEventsAppended++;
    this.forget(inst.instance_id);
    this.dropResults(inst.instance_id, items);
    this.results.delete(inst.instance_id);
    this.forgetActivities(inst.instance_id);
    this.log(`${inst.name} (${inst.instance_id}) terminated: ${reason}`);
    this.wakeEntities(released);
    if (parentMsg) this.markReady(parentMsg.instanceId);
    this.notifyCompletion(inst.instance_id);
  }

  private parentNotification(
    inst: InstanceRow,
    status: 'Completed' | 'Failed' | 'Terminated',
    resultJson: string | undefined,
    failure: string | undefined,
    now: number,
  ): { instanceId: string; executionId: string; payload: string } | undefined {
    if (!inst.parent_instance_id || !inst.parent_execution_id || inst.parent_task_id === null) return undefined;
    const ts = new Date(now);
    const payload: MessagePayload = {};
    if (status === 'Completed') {
      payload.e = ev(HistoryEventType.SubOrchestrationInstanceCompleted, ts, {
        TaskScheduledId: inst.parent_task_id,
        Result: resultJson ?? 'null',
      });
    } else {
      payload.e = ev(HistoryEventType.SubOrchestrationInstanceFailed, ts, {
        TaskScheduledId: inst.parent_task_id,
        Reason: failure ?? status,
        Details: failure ?? status,
      });
      if (inst.parent_retry) payload.r = JSON.parse(inst.parent_retry) as RetryCtx;
    }
    return {
      instanceId: inst.parent_instance_id,
      executionId: inst.parent_execution_id,
      payload: JSON.stringify(payload),
    };
  }

  private async invoke(inst: InstanceRow, trigger: OrchestrationTrigger): Promise<OrchestratorOutcome> {
    if (this.opts.isOrchestrator && !this.opts.isOrchestrator(inst.name)) {
      return { failed: true, errorMessage: new UnknownFunctionError(inst.name, 'orchestrator').message };
    }
    try {
      return interpretResult(await this.opts.invokeOrchestrator(inst.name, trigger));
    } catch (err) {
      return interpretError(err);
    }
  }

  private async replayEpisode(
    inst: InstanceRow,
    history: CachedHistory,
    batch: InboxItem[],
    consumed: InboxItem[],
    controlEvents: HistoryEvent[],
    now: number,
    /** versionFailureStrategy Fail: the orchestrator is not run and the instance fails with this reason. */
    refusal?: string,
  ): Promise<void> {
    const instanceId = inst.instance_id;
    const ts = new Date(now);
    const oldEvents = history.events;
    const newEvents: HistoryEvent[] = [ev(HistoryEventType.OrchestratorStarted, ts), ...controlEvents];
    for (const item of batch) newEvents.push(item.event!);

    const trigger = buildTrigger(oldEvents, newEvents, {
      instanceId,
      input: inst.input === null ? undefined : fromJson(inst.input),
      parentInstanceId: inst.parent_instance_id ?? undefined,
      schemaVersion: this.opts.schemaVersion,
    });
    this.counters.episodes++;
    this.counters.historyEventsReplayed += trigger.history.length;
    const outcome: OrchestratorOutcome = refusal
      ? { failed: true, errorMessage: refusal }
      : await this.invoke(inst, trigger);
    if (this.crashed) return;

    const flat: FlatActions = outcome.state ? flattenActions(outcome.state.actions) : { leaves: [] };
    const match: HistoryMatch = outcome.state
      ? matchHistory(oldEvents, flat.leaves)
      : { matched: 0, leafIds: [], allocated: 0, currentTimerIds: new Map() };
    const newStatusJson =
      outcome.state && outcome.state.customStatus !== undefined ? toJson(outcome.state.customStatus) : undefined;
    const statusTooLarge = newStatusJson ? customStatusTooLarge(newStatusJson) : undefined;
    let failure: string | undefined;
    // The extension sets the custom status before it replays the actions, so an oversized one fails first.
    if (statusTooLarge) failure = `Orchestrator function '${inst.name}' failed: ${statusTooLarge}`;
    else if (match.error) failure = match.error;
    else if (flat.unsupported) failure = flat.unsupported;
    else if (outcome.failed)
      failure = `Orchestrator function '${inst.name}' failed: ${outcome.errorMessage ?? 'unknown error'}`;

    const isDone = !failure && outcome.state?.isDone === true;
    const continueAsNew = isDone && flat.continueAsNew !== undefined ? flat.continueAsNew : undefined;
    const finishing = failure !== undefined || isDone;

    const plan: EpisodePlan = {
      scheduled: [],
      activities: [],
      timers: [],
      children: [],
      selfMessages: [],
      canceledTimers: [],
      entityMessages: [],
    };
    if (!failure) this.planEpisode(inst, batch, flat.leaves, match, plan, now);

    const customStatusJson = newStatusJson !== undefined && !statusTooLarge ? newStatusJson : inst.custom_status;
    let status: RuntimeStatus;
    let outputJson: string | null = null;
    const tail: HistoryEvent[] = [];
    if (failure) {
      status = 'Failed';
      outputJson = JSON.stringify(failure);
      tail.push(
        ev(HistoryEventType.ExecutionCompleted, ts, {
          OrchestrationStatus: 'Failed',
          Result: failure,
          FailureDetails: { ErrorType: 'OrchestrationFailure', ErrorMessage: failure },
        }),
      );
    } else if (continueAsNew) {
      status = 'Running';
    } else if (isDone) {
      status = 'Completed';
      const output = outcome.state?.output;
      outputJson = JSON.stringify(output === undefined ? null : output);
      tail.push(ev(HistoryEventType.ExecutionCompleted, ts, { OrchestrationStatus: 'Completed', Result: outputJson }));
    } else {
      status = 'Running';
    }
    tail.push(ev(HistoryEventType.OrchestratorCompleted, ts));

    const appended = newEvents.concat(plan.scheduled, tail);
    const appendedCount = continueAsNew ? 0 : appended.length;
    const historyCount = inst.history_count + appendedCount;
    const parentMsg =
      finishing && !continueAsNew
        ? this.parentNotification(inst, failure ? 'Failed' : 'Completed', outputJson ?? undefined, failure, now)
        : undefined;
    const newExecutionId = continueAsNew ? randomUUID() : undefined;
    const createdActivities: ActivityRow[] = [];
    const startedChildren: string[] = [];
    const wokenEntities: string[] = [];
    let earliestTimer: number | undefined;

    this.fault('episode.beforeCommit', instanceId);
    await this.store.commit(() => {
      for (const item of consumed) this.deleteConsumed(item);
      for (const item of batch) this.deleteConsumed(item);
      // Signals and releases of the last episode are still sent; a finishing execution gives its locks back.
      for (const m of plan.entityMessages) {
        this.entities.enqueue(m);
        wokenEntities.push(m.entityId);
      }
      if (finishing) wokenEntities.push(...this.entities.releaseHeldBy(instanceId, now));

      if (continueAsNew && newExecutionId) {
        // New generation: history reset; the old execution's messages and work go, events raised but not yet
        // delivered (execution_id NULL) stay in the inbox for the new execution.
        this.store.deleteHistory(instanceId);
        this.store.deleteMessagesForExecution(instanceId, inst.execution_id);
        this.store.deleteActivitiesFor(instanceId);
        const inputJson = toJson(continueAsNew.input);
        this.store.upsertInstance({
          ...inst,
          execution_id: newExecutionId,
          runtime_status: 'Running',
          input: inputJson,
          output: null,
          custom_status: customStatusJson,
          last_updated_time: now,
          history_count: 0,
        });
        const started = ev(EXECUTION_STARTED, ts, {
          Name: inst.name,
          OrchestrationInstance: { InstanceId: instanceId, ExecutionId: newExecutionId },
        });
        if (inputJson !== null) started.Input = inputJson;
        // A new generation keeps the version the instance was started with.
        const version = executionVersion(oldEvents.length > 0 ? oldEvents : newEvents);
        if (version) started.Version = version;
        this.store.insertMessage(
          instanceId,
          newExecutionId,
          now,
          JSON.stringify({ e: started } satisfies MessagePayload),
        );
      } else {
        this.store.appendHistory(instanceId, inst.execution_id, inst.history_count, JSON.stringify(appended));
        this.store.updateProgress(instanceId, status, customStatusJson, outputJson, now, historyCount);
        if (finishing) {
          this.store.deleteMessagesFor(instanceId);
          this.store.deleteActivitiesFor(instanceId);
          if (parentMsg) this.store.insertMessage(parentMsg.instanceId, parentMsg.executionId, now, parentMsg.payload);
        } else {
          this.writePlan(inst, plan, now, createdActivities, startedChildren);
          for (const t of plan.timers) {
            if (earliestTimer === undefined || t.fireAt < earliestTimer) earliestTimer = t.fireAt;
          }
        }
      }
      this.fault('episode.inCommit', instanceId);
    });
    if (this.crashed) return;
    this.counters.historyEventsAppended += appendedCount;
    this.fault('episode.afterCommit', instanceId);

    // In-memory follow-up, only after the commit succeeded.
    this.dropResults(instanceId, consumed.concat(batch));
    this.wakeEntities(wokenEntities);
    if (continueAsNew) {
      this.forgetActivities(instanceId);
      this.results.delete(instanceId);
      this.remember(instanceId, { executionId: newExecutionId!, events: [], counted: 0 });
      this.markReady(instanceId);
      this.log(`${inst.name} (${instanceId}) continued as new`);
      return;
    }
    for (const e of appended) e.IsPlayed = true;
    // The SDK is done with the trigger, so the cached array can grow in place.
    for (const e of appended) oldEvents.push(e);
    this.remember(instanceId, history);
    if (finishing) {
      this.forgetActivities(instanceId);
      this.results.delete(instanceId);
      if (failure) this.counters.orchestrationsFailed++;
      else this.counters.orchestrationsCompleted++;
      this.log(`${inst.name} (${instanceId}) ${status}${failure ? `: ${failure}` : ''}`);
      if (parentMsg) this.markReady(parentMsg.instanceId);
      this.notifyCompletion(instanceId);
      return;
    }
    for (const row of createdActivities) this.enqueueActivity(row);
    for (const child of startedChildren) this.markReady(child);
    if (plan.selfMessages.length > 0) this.markReady(instanceId);
    if (earliestTimer !== undefined) {
      if (earliestTimer <= this.nowMs()) this.markReady(instanceId);
      else this.armTimer(earliestTimer);
    }
    this.schedulePump();
  }

  /** Assigns sequence ids exactly as the SDK does and turns new leaves / retry steps into history + work. */
  private planEpisode(
    inst: InstanceRow,
    batch: InboxItem[],
    leaves: ScheduleLeaf[],
    match: HistoryMatch,
    plan: EpisodePlan,
    now: number,
  ): void {
    const ts = new Date(now);
    let seq = match.allocated;

    const trigger = batch.length === 1 ? batch[0] : undefined;
    if (trigger?.retry && trigger.event) {
      const ctx = trigger.retry;
      const t = trigger.event.EventType;
      if (t === HistoryEventType.TaskFailed || t === HistoryEventType.SubOrchestrationInstanceFailed) {
        // The SDK waits on a retry timer after every failed attempt, including the last one.
        const timerId = seq++;
        const timeout = ctx.options.retryTimeoutInMilliseconds;
        const timedOut =
          ctx.timedOut === true || (timeout !== undefined && timeout > 0 && now >= ctx.firstAttemptAt + timeout);
        const fireAt = now + (timedOut ? 0 : retryDelay(ctx.options, ctx.attempt));
        plan.scheduled.push(ev(HistoryEventType.TimerCreated, ts, { FireAt: new Date(fireAt).toISOString() }, timerId));
        const next: RetryCtx = { ...ctx, timedOut };
        if (!ctx.timedOut) {
          next.lastReason = trigger.event.Reason;
          next.lastDetails = trigger.event.Details;
        }
        plan.timers.push({ timerId, fireAt, retry: next });
      } else if (t === HistoryEventType.TimerFired && ctx.attempt < ctx.options.maxNumberOfAttempts) {
        const id = seq++;
        const next: RetryCtx = { ...ctx, attempt: ctx.attempt + 1 };
        this.planTask(inst, id, ctx.kind, ctx.name, ctx.input, ctx.instanceId, ctx.version, next, plan, ts);
      }
    }

    const end = trigger?.longTimerEnd;
    if (end !== undefined && trigger?.event?.EventType === HistoryEventType.TimerFired && end > now) {
      const timerId = seq++;
      const fireAt = nextLongTimerFireAt(now, end);
      plan.scheduled.push(ev(HistoryEventType.TimerCreated, ts, { FireAt: new Date(fireAt).toISOString() }, timerId));
      plan.timers.push({ timerId, fireAt, longTimerEnd: end });
    }

    for (let i = 0; i < match.matched; i++) {
      const leaf = leaves[i]!;
      const id = match.leafIds[i]!;
      if (leaf.kind === 'timer' && leaf.isCanceled) plan.canceledTimers.push(match.currentTimerIds.get(id) ?? id);
    }

    for (let i = match.matched; i < leaves.length; i++) {
      const leaf = leaves[i]!;
      const id = seq++;
      if (leaf.kind === 'timer') {
        const end = Number.isFinite(leaf.fireAt) ? leaf.fireAt! : now;
        // Longer than the maximum short timer: the first link of a chain (extension: CreateTimer's loop).
        const long = end - now > MAXIMUM_SHORT_TIMER_MS;
        const fireAt = long ? nextLongTimerFireAt(now, end) : end;
        plan.scheduled.push(ev(HistoryEventType.TimerCreated, ts, { FireAt: new Date(fireAt).toISOString() }, id));
        if (!leaf.isCanceled) plan.timers.push({ timerId: id, fireAt, ...(long ? { longTimerEnd: end } : {}) });
        continue;
      }
      if (isEntityLeaf(leaf.kind)) {
        this.planEntityMessage(inst, id, leaf, plan, ts);
        continue;
      }
      const kind = leaf.kind;
      // A sub-orchestration starts at the version its caller named, else at this worker's defaultVersion.
      const version = kind === 'suborchestration' ? (leaf.version ?? this.opts.versioning?.defaultVersion) : undefined;
      const retry: RetryCtx | undefined = leaf.retry
        ? {
            kind,
            name: leaf.name,
            input: leaf.input,
            options: leaf.retry,
            attempt: 1,
            firstAttemptAt: now,
            ...(leaf.instanceId ? { instanceId: leaf.instanceId } : {}),
            ...(version ? { version } : {}),
          }
        : undefined;
      this.planTask(inst, id, kind, leaf.name, leaf.input, leaf.instanceId, version, retry, plan, ts);
    }
  }

  /**
   * An entity call, signal, lock request or release: an EventSent with the request (its `id` is what the SDK
   * matches the EventRaised response by) and the same message in the target entity's inbox.
   */
  private planEntityMessage(inst: InstanceRow, id: number, leaf: ScheduleLeaf, plan: EpisodePlan, ts: Date): void {
    const parent = inst.instance_id;
    const entityId = leaf.entityId ?? '';
    let payload: string;
    let kind: EntityMessage['kind'];
    if (leaf.kind === 'release') {
      const msg: ReleaseMessage = { parent, id: leaf.lockRequestId ?? '' };
      payload = JSON.stringify(msg);
      kind = 'release';
    } else if (leaf.kind === 'lock') {
      const msg: RequestMessage = {
        id: leaf.lockRequestId ?? randomUUID(),
        parent,
        parentExecution: inst.execution_id,
        lockset: leaf.lockSet ?? [],
        pos: 0,
      };
      payload = JSON.stringify(msg);
      kind = 'lock';
    } else {
      const msg: RequestMessage = {
        op: leaf.name,
        signal: leaf.kind === 'signal',
        ...(leaf.input !== undefined ? { input: JSON.stringify(leaf.input) } : {}),
        id: randomUUID(),
        parent,
        parentExecution: inst.execution_id,
      };
      payload = JSON.stringify(msg);
      kind = 'op';
    }
    plan.scheduled.push(
      ev(
        HistoryEventType.EventSent,
        ts,
        { InstanceId: entityId, Name: kind === 'release' ? 'release' : 'op', Input: payload },
        id,
      ),
    );
    plan.entityMessages.push({ entityId, kind, parent, payload });
  }

  private wakeEntities(ids: readonly string[]): void {
    if (ids.length === 0) return;
    for (const id of ids) this.entities.markReady(id);
    this.schedulePump();
  }

  private planTask(
    inst: InstanceRow,
    id: number,
    kind: 'activity' | 'suborchestration',
    name: string,
    input: unknown,
    explicitInstanceId: string | undefined,
    version: string | undefined,
    retry: RetryCtx | undefined,
    plan: EpisodePlan,
    ts: Date,
  ): void {
    const inputJson = toJson(input);
    if (kind === 'activity') {
      const e = ev(HistoryEventType.TaskScheduled, ts, { Name: name }, id);
      if (inputJson !== null) e.Input = inputJson;
      plan.scheduled.push(e);
      if (retry?.timedOut) {
        plan.selfMessages.push({
          event: ev(HistoryEventType.TaskFailed, ts, {
            TaskScheduledId: id,
            Reason: retry.lastReason ?? `Activity function '${name}' failed.`,
            Details: notRetried(retry),
          }),
          retry,
        });
      } else {
        plan.activities.push({ taskId: id, name, input, attempt: retry?.attempt ?? 1, retry });
      }
      return;
    }
    // Default child id: unique per execution and per attempt, like DTFx's "{executionId}:{sequenceId}".
    const childId = explicitInstanceId ?? `${inst.execution_id}:${id}`;
    const e = ev(HistoryEventType.SubOrchestrationInstanceCreated, ts, { Name: name, InstanceId: childId }, id);
    if (inputJson !== null) e.Input = inputJson;
    plan.scheduled.push(e);
    if (retry?.timedOut) {
      plan.selfMessages.push({
        event: ev(HistoryEventType.SubOrchestrationInstanceFailed, ts, {
          TaskScheduledId: id,
          Reason: retry.lastReason ?? `Sub-orchestration '${name}' failed.`,
          Details: notRetried(retry),
        }),
        retry,
      });
    } else {
      plan.children.push({ instanceId: childId, name, input, version, taskId: id, retry });
    }
  }

  /** Runs inside the episode's transaction. */
  private writePlan(
    inst: InstanceRow,
    plan: EpisodePlan,
    now: number,
    createdActivities: ActivityRow[],
    startedChildren: string[],
  ): void {
    const instanceId = inst.instance_id;
    for (const a of plan.activities) {
      const row: Omit<ActivityRow, 'id'> = {
        instance_id: instanceId,
        execution_id: inst.execution_id,
        task_id: a.taskId,
        name: a.name,
        input: toJson(a.input),
        attempt: a.attempt,
        retry: a.retry ? JSON.stringify(a.retry) : null,
      };
      createdActivities.push({ ...row, id: this.store.insertActivity(row, now) });
    }
    for (const t of plan.timers) {
      const payload: MessagePayload = {
        e: ev(HistoryEventType.TimerFired, new Date(t.fireAt), {
          TimerId: t.timerId,
          FireAt: new Date(t.fireAt).toISOString(),
        }),
      };
      if (t.retry) payload.r = t.retry;
      if (t.longTimerEnd !== undefined) payload.l = t.longTimerEnd;
      this.store.insertMessage(instanceId, inst.execution_id, t.fireAt, JSON.stringify(payload), t.timerId);
    }
    for (const timerId of plan.canceledTimers) this.store.deleteTimer(instanceId, inst.execution_id, timerId);
    for (const m of plan.selfMessages) {
      const payload: MessagePayload = { e: m.event };
      if (m.retry) payload.r = m.retry;
      this.store.insertMessage(instanceId, inst.execution_id, now, JSON.stringify(payload));
    }
    for (const c of plan.children) {
      const failure = this.childStartFailure(c);
      if (failure) {
        const payload: MessagePayload = {
          e: ev(HistoryEventType.SubOrchestrationInstanceFailed, new Date(now), {
            TaskScheduledId: c.taskId,
            Reason: failure,
            Details: failure,
          }),
        };
        if (c.retry) payload.r = c.retry;
        this.store.insertMessage(instanceId, inst.execution_id, now, JSON.stringify(payload));
        plan.selfMessages.push({ event: payload.e! });
        continue;
      }
      if (this.store.getInstance(c.instanceId)) this.store.deleteInstanceCompletely(c.instanceId);
      this.forget(c.instanceId);
      this.insertNewInstance(
        c.instanceId,
        c.name,
        randomUUID(),
        toJson(c.input),
        now,
        {
          instanceId,
          executionId: inst.execution_id,
          taskId: c.taskId,
          retry: c.retry ? JSON.stringify(c.retry) : null,
        },
        c.version,
      );
      startedChildren.push(c.instanceId);
    }
  }

  private childStartFailure(c: ChildStart): string | undefined {
    if (this.opts.isOrchestrator && !this.opts.isOrchestrator(c.name)) {
      return new UnknownFunctionError(c.name, 'orchestrator').message;
    }
    const existing = this.store.getInstance(c.instanceId);
    if (existing && !isTerminal(existing.runtime_status)) {
      return new InstanceExistsError(c.instanceId, existing.runtime_status).message;
    }
    return undefined;
  }

  private notifyCompletion(instanceId: string): void {
    const set = this.completionWaiters.get(instanceId);
    if (!set) return;
    this.completionWaiters.delete(instanceId);
    for (const w of set) w();
  }

  private toStatus(row: InstanceRow, showInput: boolean): DurableOrchestrationStatus {
    return {
      name: row.name,
      instanceId: row.instance_id,
      runtimeStatus: row.runtime_status as RuntimeStatus,
      input: showInput ? fromJson(row.input) : null,
      customStatus: fromJson(row.custom_status),
      output: fromJson(row.output),
      createdTime: new Date(row.created_time).toISOString(),
      lastUpdatedTime: new Date(row.last_updated_time).toISOString(),
    };
  }
}

/**
 * History as the HTTP status API shows it: event type names, scheduling events folded into their completions
 * (FunctionName, ScheduledTime), OrchestratorStarted/Completed left out, payloads only with showHistoryOutput.
 */
export function projectHistory(events: HistoryEvent[], showOutput: boolean): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  const out: Record<string, unknown>[] = [];
  const iso = (t: unknown): string => new Date(t as string).toISOString();
  for (const e of events) {
    const type = HistoryEventTypeName[e.EventType] ?? String(e.EventType);
    switch (e.EventType) {
      case HistoryEventType.OrchestratorStarted:
      case HistoryEventType.OrchestratorCompleted:
        continue;
      case HistoryEventType.TaskScheduled:
      case HistoryEventType.SubOrchestrationInstanceCreated:
        scheduled.set(e.EventId, e);
        continue;
      default:
        break;
    }
    const o: Record<string, unknown> = { EventType: type };
    switch (e.EventType) {
      case HistoryEventType.ExecutionStarted:
        o.FunctionName = e.Name;
        if (showOutput && e.Input !== undefined) o.Input = fromJson(e.Input);
        break;
      case HistoryEventType.TaskCompleted:
      case HistoryEventType.TaskFailed:
      case HistoryEventType.SubOrchestrationInstanceCompleted:
      case HistoryEventType.SubOrchestrationInstanceFailed: {
        const s = scheduled.get(e.TaskScheduledId ?? -1);
        if (s) {
          o.FunctionName = s.Name;
          o.ScheduledTime = iso(s.Timestamp);
          if (s.InstanceId) o.InstanceId = s.InstanceId;
        }
        if (e.Reason !== undefined) o.Reason = e.Reason;
        if (e.Details !== undefined && showOutput) o.Details = e.Details;
        if (showOutput && e.Result !== undefined) o.Result = fromJson(e.Result);
        break;
      }
      case HistoryEventType.TimerCreated:
      case HistoryEventType.TimerFired:
        o.FireAt = e.FireAt;
        break;
      case HistoryEventType.EventRaised:
        o.Name = e.Name;
        if (showOutput && e.Input !== undefined) o.Input = fromJson(e.Input);
        break;
      case HistoryEventType.EventSent:
        o.Name = e.Name;
        o.InstanceId = e.InstanceId;
        if (showOutput && e.Input !== undefined) o.Input = fromJson(e.Input);
        break;
      case HistoryEventType.ExecutionCompleted:
        o.OrchestrationStatus = e.OrchestrationStatus;
        if (showOutput && e.Result !== undefined) {
          o.Result = e.OrchestrationStatus === 'Completed' ? fromJson(e.Result) : e.Result;
        }
        break;
      case HistoryEventType.ExecutionTerminated:
        if (e.Input !== undefined) o.Reason = fromJson(e.Input);
        break;
      case HistoryEventType.ExecutionSuspended:
      case HistoryEventType.ExecutionResumed:
        o.Reason = e.Reason;
        break;
      default:
        break;
    }
    o.Timestamp = iso(e.Timestamp);
    out.push(o);
  }
  return out;
}
