import { InvocationContext } from '@azure/functions';
import { readEventSent, schedulerId, type EntityRef } from './entities-protocol';
import {
  ActionType,
  HistoryEventType,
  type HistoryEvent,
  type HistoryExport,
  type OrchestrationTrigger,
  type OrchestratorStateLike,
  type RetryOptionsLike,
} from './types';

/**
 * The OOProc replay schemas an extension advertises (durable-functions' ReplaySchema): V2 nests WhenAny/WhenAll as
 * compound actions, V3 adds long timers, V4 critical sections (`lock`, extension 3.13+).
 */
export const REPLAY_SCHEMAS = { V1: 0, V2: 1, V3: 2, V4: 3 } as const;
export type ReplaySchemaName = keyof typeof REPLAY_SCHEMAS;
/** ReplaySchema.V4, the newest schema durable-functions 3.5 understands, and what this engine advertises. */
export const UPPER_SCHEMA_VERSION = REPLAY_SCHEMAS.V4;

/** `V3` → 2; anything else is refused with `setting` (the flag or key it came from) named. */
export function replaySchema(name: string, setting: string): number {
  const key = name.toUpperCase();
  if (key in REPLAY_SCHEMAS) return REPLAY_SCHEMAS[key as ReplaySchemaName];
  throw new Error(`${setting}: "${name}" is not one of ${Object.keys(REPLAY_SCHEMAS).join(', ')}.`);
}
/**
 * Azure Storage's timer limits, which the extension sends the SDK (AzureStorageDurabilityProvider: MaximumDelayTime
 * 6 days, LongRunningTimerIntervalLength 3 days): a longer timer is a chain of shorter ones, on Azure and here.
 */
export const MAXIMUM_SHORT_TIMER_DURATION = '6.00:00:00';
export const LONG_RUNNING_TIMER_INTERVAL = '3.00:00:00';
const DAY_MS = 24 * 60 * 60 * 1000;
export const MAXIMUM_SHORT_TIMER_MS = 6 * DAY_MS;
export const LONG_RUNNING_TIMER_INTERVAL_MS = 3 * DAY_MS;

/**
 * The next link of a long timer ending at `finalFireAt`, as the extension's DurableOrchestrationContext.CreateTimer
 * loops: the interval while the rest is at least that long, else the rest.
 */
export function nextLongTimerFireAt(now: number, finalFireAt: number): number {
  return finalFireAt - now < LONG_RUNNING_TIMER_INTERVAL_MS ? finalFireAt : now + LONG_RUNNING_TIMER_INTERVAL_MS;
}
export const DEFAULT_HTTP_ASYNC_SLEEP_MS = 30_000;

const OUT_OF_PROC_LABEL = '$OutOfProcData$:';

/** The orchestrator function handler as the SDK builds it: `(trigger, invocationContext) => OrchestratorState`. */
export type OrchestratorHandler = (trigger: OrchestrationTrigger, context: InvocationContext) => Promise<unknown>;

export interface TriggerOptions {
  instanceId: string;
  input: unknown;
  parentInstanceId?: string;
  /** The schema the engine advertises (default V4): run at an older one to see what an older extension does. */
  schemaVersion?: number;
}

/**
 * Builds the orchestrationTrigger value. `oldEvents` were committed by earlier episodes and are marked played;
 * `newEvents` start with this episode's OrchestratorStarted.
 */
export function buildTrigger(
  oldEvents: HistoryEvent[],
  newEvents: HistoryEvent[],
  opts: TriggerOptions,
): OrchestrationTrigger {
  for (const e of newEvents) e.IsPlayed = false;
  const trigger: OrchestrationTrigger = {
    history: oldEvents.length === 0 ? newEvents.slice() : oldEvents.concat(newEvents),
    instanceId: opts.instanceId,
    isReplaying: oldEvents.length > 0,
    input: opts.input,
    upperSchemaVersion: opts.schemaVersion ?? UPPER_SCHEMA_VERSION,
    upperSchemaVersionNew: opts.schemaVersion ?? UPPER_SCHEMA_VERSION,
    maximumShortTimerDuration: MAXIMUM_SHORT_TIMER_DURATION,
    longRunningTimerIntervalDuration: LONG_RUNNING_TIMER_INTERVAL,
    defaultHttpAsyncRequestSleepTimeMillseconds: DEFAULT_HTTP_ASYNC_SLEEP_MS,
  };
  if (opts.parentInstanceId) trigger.parentInstanceId = opts.parentInstanceId;
  return trigger;
}

// ---------------------------------------------------------------------------------------------------------------
// Interpreting the handler's result

export interface OrchestratorOutcome {
  /** The OrchestratorState (also recovered from a `$OutOfProcData$` error). Undefined if the failure carried none. */
  state?: OrchestratorStateLike;
  failed: boolean;
  errorMessage?: string;
}

function isStateLike(v: unknown): v is OrchestratorStateLike {
  return typeof v === 'object' && v !== null && Array.isArray((v as { actions?: unknown }).actions);
}

export function interpretResult(value: unknown): OrchestratorOutcome {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return { failed: true, errorMessage: 'The orchestrator returned a string that is not an OrchestratorState.' };
    }
  }
  if (!isStateLike(v)) {
    return {
      failed: true,
      errorMessage:
        'The orchestrator did not return an OrchestratorState. Register orchestrators with df.app.orchestration ' +
        'so the durable-functions SDK drives the generator.',
    };
  }
  if (v.error) return { state: v, failed: true, errorMessage: v.error };
  return { state: v, failed: false };
}

export function interpretError(err: unknown): OrchestratorOutcome {
  const message = err instanceof Error ? err.message : String(err);
  const idx = message.indexOf(OUT_OF_PROC_LABEL);
  if (idx >= 0) {
    try {
      const state = JSON.parse(message.slice(idx + OUT_OF_PROC_LABEL.length)) as unknown;
      if (isStateLike(state)) {
        return { state, failed: true, errorMessage: state.error ?? message.slice(0, idx).trim() };
      }
    } catch {
      // fall through: report the raw message
    }
    return { failed: true, errorMessage: message.slice(0, idx).trim() };
  }
  return { failed: true, errorMessage: message };
}

// ---------------------------------------------------------------------------------------------------------------
// Actions → schedule leaves

export type LeafKind = 'activity' | 'suborchestration' | 'timer' | EntityLeafKind;
/** Entity actions: each takes one sequence id and is recorded as one EventSent (a release: one per entity). */
export type EntityLeafKind = 'entitycall' | 'signal' | 'lock' | 'release';

/** One action that takes a sequence id, in the order the SDK assigns ids. */
export interface ScheduleLeaf {
  kind: LeafKind;
  /** Function name; the operation name for entity calls and signals; '' for timers, locks and releases. */
  name: string;
  input: unknown;
  retry?: RetryOptionsLike;
  instanceId?: string;
  /** Sub-orchestrations: the version the caller asked for (callSubOrchestrator's `version`). */
  version?: string;
  fireAt?: number;
  isCanceled?: boolean;
  /** Target entity (`@name@key`) of an entity call, signal or release; the first locked entity of a lock. */
  entityId?: string;
  /** Lock and release: the locked entities, sorted as the SDK sorts them, and the critical section's id. */
  lockSet?: EntityRef[];
  lockRequestId?: string;
}

export function isEntityLeaf(kind: LeafKind): kind is EntityLeafKind {
  return kind === 'entitycall' || kind === 'signal' || kind === 'lock' || kind === 'release';
}

export interface FlatActions {
  leaves: ScheduleLeaf[];
  continueAsNew?: { input: unknown };
  unsupported?: string;
}

interface RawAction {
  actionType?: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: RetryOptionsLike;
  instanceId?: string;
  version?: string;
  fireAt?: unknown;
  isCanceled?: boolean;
  compoundActions?: RawAction[];
  /** CallEntity / SignalEntity. */
  operation?: string;
  /** LockEntities. */
  lockRequestId?: string;
  lockSet?: { name?: unknown; key?: unknown }[];
}

/** The SDK JSON-encodes string inputs of activities and continueAsNew (`Utils.processInput`); undo that. */
export function decodeProcessedInput(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

function toMillis(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string' || typeof v === 'number') return new Date(v).getTime();
  return NaN;
}

/**
 * Flattens the cumulative actions into id-taking leaves. Works for schema V1 (one inner array per yield, compound
 * actions already flattened) and V2+ (one array, nested compound actions). A task yielded again inside a later
 * Task.all/any reappears as the same action object; the SDK does not give it a new id, so it is skipped here too.
 *
 * Entities: CallEntity, SignalEntity and LockEntities take one id each; ReleaseEntities takes one id per locked
 * entity (`recordFireAndForgetAction(release, lockSet.length)`) and carries nothing, so it refers to the most
 * recent LockEntities before it (the SDK forbids nested critical sections).
 */
export function flattenActions(actions: unknown): FlatActions {
  const out: FlatActions = { leaves: [] };
  const seen = new Set<object>();
  let lastLock: { lockSet: EntityRef[]; lockRequestId: string } | undefined;
  const visit = (a: RawAction): void => {
    if (a === null || typeof a !== 'object') return;
    if (seen.has(a)) return;
    seen.add(a);
    switch (a.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        const leaf: ScheduleLeaf = {
          kind: 'activity',
          name: String(a.functionName),
          input: decodeProcessedInput(a.input),
        };
        if (a.actionType === ActionType.CallActivityWithRetry && a.retryOptions) leaf.retry = a.retryOptions;
        out.leaves.push(leaf);
        break;
      }
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        const leaf: ScheduleLeaf = { kind: 'suborchestration', name: String(a.functionName), input: a.input };
        if (a.instanceId) leaf.instanceId = a.instanceId;
        if (a.version) leaf.version = a.version;
        if (a.actionType === ActionType.CallSubOrchestratorWithRetry && a.retryOptions) leaf.retry = a.retryOptions;
        out.leaves.push(leaf);
        break;
      }
      case ActionType.CreateTimer:
        out.leaves.push({
          kind: 'timer',
          name: '',
          input: undefined,
          fireAt: toMillis(a.fireAt),
          isCanceled: a.isCanceled === true,
        });
        break;
      case ActionType.WaitForExternalEvent:
        break; // no sequence id, no history record: the event itself is the completion
      case ActionType.ContinueAsNew:
        out.continueAsNew = { input: decodeProcessedInput(a.input) };
        break;
      case ActionType.WhenAll:
      case ActionType.WhenAny:
        for (const c of a.compoundActions ?? []) visit(c);
        break;
      case ActionType.CallHttp:
        out.unsupported ??=
          'context.df.callHttp is not supported by the local durable engine; call the HTTP API from an activity.';
        break;
      case ActionType.CallEntity:
      case ActionType.SignalEntity:
        if (typeof a.instanceId !== 'string' || typeof a.operation !== 'string') {
          out.unsupported ??= 'An entity action without a target entity or operation name.';
          break;
        }
        out.leaves.push({
          kind: a.actionType === ActionType.CallEntity ? 'entitycall' : 'signal',
          name: a.operation,
          input: a.input,
          entityId: a.instanceId,
        });
        break;
      case ActionType.LockEntities: {
        const lockSet = (a.lockSet ?? []).map((e) => ({ name: String(e.name).toLowerCase(), key: String(e.key) }));
        if (lockSet.length === 0 || typeof a.lockRequestId !== 'string') {
          out.unsupported ??= 'A lock action without entities or request id.';
          break;
        }
        lastLock = { lockSet, lockRequestId: a.lockRequestId };
        out.leaves.push({
          kind: 'lock',
          name: '',
          input: undefined,
          entityId: schedulerId(lockSet[0]!),
          lockSet,
          lockRequestId: a.lockRequestId,
        });
        break;
      }
      case ActionType.ReleaseEntities:
        if (!lastLock) {
          out.unsupported ??= 'A lock release without a preceding lock.';
          break;
        }
        for (const e of lastLock.lockSet) {
          out.leaves.push({
            kind: 'release',
            name: '',
            input: undefined,
            entityId: schedulerId(e),
            lockSet: lastLock.lockSet,
            lockRequestId: lastLock.lockRequestId,
          });
        }
        break;
      case ActionType.ScheduledSignalEntity:
        out.unsupported ??= 'Scheduled entity signals are not supported by the local durable engine.';
        break;
      default:
        out.unsupported ??= `Unknown orchestrator action type ${String(a.actionType)}.`;
    }
  };
  if (Array.isArray(actions)) {
    for (const group of actions) {
      if (Array.isArray(group)) for (const a of group) visit(a as RawAction);
      else visit(group as RawAction);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// History ↔ actions matching (the nondeterminism check)

export interface HistoryMatch {
  /** How many leaves (in order) were already recorded in the history; leaves after that are new. */
  matched: number;
  /** Sequence ids of the matched leaves, index-aligned with the leaves. */
  leafIds: number[];
  /** Sequence ids taken so far (leaves plus the retry timers and re-schedules the host added). */
  allocated: number;
  /** Long timers: the id of the link that runs now, by the id of the leaf's first link. */
  currentTimerIds: Map<number, number>;
  /** NonDeterministicOrchestrationException-style message when the replay contradicts the history. */
  error?: string;
}

interface RetryChain {
  kind: LeafKind;
  name: string;
  max: number;
  attempts: number;
  currentTaskId: number;
  timerId?: number;
}

/** A timer longer than the maximum short timer: links until `finalFireAt` (see nextLongTimerFireAt). */
interface LongTimer {
  firstId: number;
  finalFireAt: number;
}

/** What a recorded event scheduled, in the same terms as a leaf (only the fields matching compares). */
type Recorded = Pick<ScheduleLeaf, 'kind' | 'name' | 'entityId' | 'lockSet'>;

function recordedOf(e: HistoryEvent): Recorded | undefined {
  switch (e.EventType) {
    case HistoryEventType.TaskScheduled:
      return { kind: 'activity', name: e.Name ?? '' };
    case HistoryEventType.SubOrchestrationInstanceCreated:
      return { kind: 'suborchestration', name: e.Name ?? '' };
    case HistoryEventType.TimerCreated:
      return { kind: 'timer', name: '' };
    case HistoryEventType.EventSent:
      return readEventSent(e);
    default:
      return undefined;
  }
}

function describe(l: Recorded): string {
  switch (l.kind) {
    case 'activity':
      return `an activity task named '${l.name}'`;
    case 'suborchestration':
      return `a sub-orchestration named '${l.name}'`;
    case 'entitycall':
      return `an entity call of operation '${l.name}' on '${l.entityId ?? ''}'`;
    case 'signal':
      return `an entity signal of operation '${l.name}' on '${l.entityId ?? ''}'`;
    case 'lock':
      return `a lock on [${(l.lockSet ?? []).map((e) => schedulerId(e)).join(', ')}]`;
    case 'release':
      return `a lock release of '${l.entityId ?? ''}'`;
    default:
      return 'a durable timer';
  }
}

function sameTask(leaf: ScheduleLeaf, rec: Recorded): boolean {
  if (leaf.kind !== rec.kind) return false;
  switch (rec.kind) {
    case 'timer':
      return true;
    case 'entitycall':
    case 'signal':
      return leaf.name === rec.name && leaf.entityId === rec.entityId;
    case 'lock': {
      const a = (leaf.lockSet ?? []).map((e) => schedulerId(e));
      const b = (rec.lockSet ?? []).map((e) => schedulerId(e));
      return a.length === b.length && a.every((x, i) => x === b[i]);
    }
    case 'release':
      return leaf.entityId === rec.entityId;
    default:
      return leaf.name === rec.name;
  }
}

const CHANGE_HINT = 'Was a change made to the orchestrator code after this instance had already started running?';

/**
 * Walks the recorded history next to the leaves of a replay, the way the Durable Task Framework matches replayed
 * decisions against TaskScheduled/TimerCreated/SubOrchestrationInstanceCreated events by sequence id. Retry timers
 * and re-schedules that the host itself added for *WithRetry calls are recognised and skipped.
 */
export function matchHistory(history: readonly HistoryEvent[], leaves: readonly ScheduleLeaf[]): HistoryMatch {
  let p = 0;
  let allocated = 0;
  const leafIds: number[] = [];
  const chains = new Map<number, RetryChain>();
  const chainByTimer = new Map<number, RetryChain>();
  const expected: ({ chain: RetryChain; what: 'timer' | 'reschedule' } | { long: LongTimer; what: 'link' })[] = [];
  const longTimers = new Map<number, LongTimer>();
  const currentTimerIds = new Map<number, number>();
  let episodeTime = NaN;
  const fail = (message: string): HistoryMatch => ({
    matched: p,
    leafIds,
    allocated,
    currentTimerIds,
    error: `Non-Deterministic workflow detected: ${message} ${CHANGE_HINT}`,
  });

  for (const e of history) {
    const t = e.EventType;
    if (t === HistoryEventType.OrchestratorStarted) {
      episodeTime = new Date(e.Timestamp).getTime();
      continue;
    }
    if (t === HistoryEventType.TaskFailed || t === HistoryEventType.SubOrchestrationInstanceFailed) {
      const chain = chains.get(e.TaskScheduledId ?? -1);
      if (chain && chain.currentTaskId === e.TaskScheduledId) expected.push({ chain, what: 'timer' });
      continue;
    }
    if (t === HistoryEventType.TimerFired) {
      // A long timer's link fired before its end: the host (and the SDK) add the next link at once.
      const long = longTimers.get(e.TimerId ?? -1);
      if (long && long.finalFireAt > episodeTime) expected.push({ long, what: 'link' });
      const chain = chainByTimer.get(e.TimerId ?? -1);
      if (chain) {
        chainByTimer.delete(e.TimerId ?? -1);
        if (chain.attempts < chain.max) expected.push({ chain, what: 'reschedule' });
      }
      continue;
    }
    const rec = recordedOf(e);
    if (rec === undefined) continue;
    const kind = rec.kind;

    const id = e.EventId;
    if (id !== allocated) {
      return fail(
        `The history records ${describe(rec)} with sequence ID ${id}, but the next sequence ID is ${allocated}.`,
      );
    }
    allocated++;

    const front = expected[0];
    if (front) {
      if (front.what === 'link' && kind === 'timer') {
        expected.shift();
        longTimers.set(id, front.long);
        currentTimerIds.set(front.long.firstId, id);
        continue;
      }
      if (front.what === 'timer' && kind === 'timer') {
        expected.shift();
        front.chain.timerId = id;
        chainByTimer.set(id, front.chain);
        continue;
      }
      if (front.what === 'reschedule' && kind === front.chain.kind && (e.Name ?? '') === front.chain.name) {
        expected.shift();
        front.chain.attempts++;
        front.chain.currentTaskId = id;
        chains.set(id, front.chain);
        continue;
      }
    }

    const leaf = leaves[p];
    if (!leaf) {
      return fail(
        `A previous execution of this orchestration scheduled ${describe(rec)} with sequence ID ${id}, ` +
          `but the current replay execution hasn't (yet?) scheduled this task.`,
      );
    }
    if (!sameTask(leaf, rec)) {
      return fail(
        `A previous execution of this orchestration scheduled ${describe(rec)} with sequence ID ${id}, ` +
          `but the current replay execution instead scheduled ${describe(leaf)} with this sequence ID.`,
      );
    }
    if (kind === 'timer' && leaf.fireAt !== undefined && new Date(e.FireAt ?? NaN).getTime() < leaf.fireAt) {
      longTimers.set(id, { firstId: id, finalFireAt: leaf.fireAt });
    }
    if (leaf.retry && (kind === 'activity' || kind === 'suborchestration')) {
      const chain: RetryChain = {
        kind,
        name: leaf.name,
        max: leaf.retry.maxNumberOfAttempts,
        attempts: 1,
        currentTaskId: id,
      };
      chains.set(id, chain);
    }
    leafIds.push(id);
    p++;
  }
  return { matched: p, leafIds, allocated, currentTimerIds };
}

// ---------------------------------------------------------------------------------------------------------------
// Offline replay (golden histories, debugging)

export interface ReplayResult extends OrchestratorOutcome {
  flat: FlatActions;
  isDone: boolean;
  output: unknown;
  customStatus: unknown;
}

function cloneForReplay(history: readonly HistoryEvent[]): HistoryEvent[] {
  let lastStarted = -1;
  history.forEach((e, i) => {
    if (e.EventType === HistoryEventType.OrchestratorStarted) lastStarted = i;
  });
  return history.map((e, i) => ({ ...e, IsPlayed: i < lastStarted }));
}

/**
 * Replays a recorded history (as stored, or a HistoryExport read from JSON) through an orchestrator handler and
 * returns what the code does with it: the flattened actions, completion and output.
 */
export async function replayHistory(
  handler: OrchestratorHandler,
  recorded: HistoryExport | readonly HistoryEvent[],
  opts: { input?: unknown; instanceId?: string; functionName?: string } = {},
): Promise<ReplayResult> {
  const exp = Array.isArray(recorded) ? undefined : (recorded as HistoryExport);
  const history = cloneForReplay(exp ? exp.history : (recorded as readonly HistoryEvent[]));
  const instanceId = opts.instanceId ?? exp?.instanceId ?? 'replay';
  const trigger: OrchestrationTrigger = {
    ...buildTrigger([], [], { instanceId, input: 'input' in opts ? opts.input : exp?.input }),
    history,
    isReplaying: history.length > 0,
  };
  const context = new InvocationContext({
    functionName: opts.functionName ?? exp?.name ?? 'replay',
    invocationId: `replay-${instanceId}`,
  });
  let outcome: OrchestratorOutcome;
  try {
    outcome = interpretResult(await handler(trigger, context));
  } catch (err) {
    outcome = interpretError(err);
  }
  const flat = outcome.state ? flattenActions(outcome.state.actions) : { leaves: [] };
  return {
    ...outcome,
    flat,
    isDone: outcome.state?.isDone === true,
    output: outcome.state?.output,
    customStatus: outcome.state?.customStatus,
  };
}

export interface DeterminismReport {
  ok: boolean;
  message?: string;
  /** Leaves already recorded in the history. */
  matched: number;
  /** Leaves the replay produced beyond the history (work the next episode would schedule). */
  pending: number;
}

/** Compares a replay's actions with the recorded history; `ok: false` carries the nondeterminism message. */
export function checkDeterminism(
  history: HistoryExport | readonly HistoryEvent[],
  replay: ReplayResult | FlatActions,
): DeterminismReport {
  const events = Array.isArray(history) ? (history as readonly HistoryEvent[]) : (history as HistoryExport).history;
  const leaves = 'flat' in replay ? replay.flat.leaves : replay.leaves;
  const m = matchHistory(events, leaves);
  if (m.error) return { ok: false, message: m.error, matched: m.matched, pending: leaves.length - m.matched };
  return { ok: true, matched: m.matched, pending: leaves.length - m.matched };
}

/** Replays `recorded` through `handler` and checks it against the history in one call. */
export async function verifyHistory(
  handler: OrchestratorHandler,
  recorded: HistoryExport,
): Promise<DeterminismReport & { replay: ReplayResult }> {
  const replay = await replayHistory(handler, recorded);
  return { ...checkDeterminism(recorded, replay), replay };
}
