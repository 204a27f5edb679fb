/**
 * Wire formats of durable entities as the Durable Functions extension exchanges them with an orchestration
 * (EventSent / EventRaised payloads) and with a JS entity function (the entityTrigger batch request and the
 * EntityState it returns). Field names follow the extension's RequestMessage / ResponseMessage / ReleaseMessage.
 */
import type { HistoryEvent } from './types';

/** An entity as the SDK names it in lock sets and signals. `name` is compared case-insensitively. */
export interface EntityRef {
  name: string;
  key: string;
}

/** The extension's RequestMessage: an operation (call or signal) or a lock request. */
export interface RequestMessage {
  /** Operation name (absent on lock requests). */
  op?: string;
  /** True for a signal: no response is sent. */
  signal?: boolean;
  /** Operation input, JSON-encoded. */
  input?: string;
  /** Request id; the response is an EventRaised whose Name is this id. For a lock: the critical section id. */
  id: string;
  /** Sender: an orchestration instance id, or the entity id of an entity that signals. */
  parent: string;
  parentExecution?: string;
  /** Lock requests: every entity of the critical section (sorted), and which one this message is for. */
  lockset?: EntityRef[];
  pos?: number;
}

/** The extension's ReleaseMessage, sent to each locked entity when the critical section ends. */
export interface ReleaseMessage {
  parent: string;
  id: string;
}

/** The extension's ResponseMessage, carried JSON-encoded as the Input of the EventRaised answering a request. */
export interface ResponseMessage {
  /** The operation's result, JSON-encoded (absent when the operation returned nothing). */
  result?: string;
  /** Set when the operation failed; `result` is then the JSON-encoded error message. */
  exceptionType?: string;
}

/** Result text of a lock grant (the SDK ignores it; the extension sends the same text for traces). */
export const LOCK_GRANTED = 'Lock Acquisition Completed';
export const ENTITY_FAILURE_TYPE = 'EntityOperationFailedException';

/** One operation of an entityTrigger batch, as durable-functions' Entity handler reads it. */
export interface EntityOperation {
  id: string;
  name: string;
  input?: string;
  signal: boolean;
}

/** The entityTrigger value: durable-functions requires own properties `self`, `exists` and `batch`. */
export interface EntityBatchRequest {
  self: EntityRef;
  exists: boolean;
  /** The entity's state, JSON-encoded; absent when the entity has none. */
  state?: string;
  batch: EntityOperation[];
}

/** What durable-functions' Entity handler returns (EntityState), possibly after a JSON round trip. */
export interface EntityBatchResult {
  entityExists: boolean;
  entityState?: string;
  results: { isError: boolean; result?: string }[];
  signals: { target: EntityRef; name: string; input?: string }[];
}

/** `@name@key` with the name lower-cased, as EntityId.getSchedulerIdFromEntityId builds it. */
export function schedulerId(e: EntityRef): string {
  return `@${e.name.toLowerCase()}@${e.key}`;
}

export function parseSchedulerId(id: string): EntityRef | undefined {
  if (!id.startsWith('@')) return undefined;
  const pos = id.indexOf('@', 1);
  if (pos < 0) return undefined;
  return { name: id.substring(1, pos), key: id.substring(pos + 1) };
}

/** What an EventSent that an orchestration recorded for an entity asked for; undefined for other EventSent. */
export function readEventSent(e: HistoryEvent):
  | {
      kind: 'entitycall' | 'signal' | 'lock' | 'release';
      name: string;
      entityId: string;
      lockSet?: EntityRef[];
    }
  | undefined {
  const entityId = e.InstanceId;
  if (typeof entityId !== 'string' || !entityId.startsWith('@')) return undefined;
  if (e.Name === 'release') return { kind: 'release', name: '', entityId };
  let msg: RequestMessage;
  try {
    msg = JSON.parse(e.Input ?? '') as RequestMessage;
  } catch {
    return undefined;
  }
  if (Array.isArray(msg.lockset)) return { kind: 'lock', name: '', entityId, lockSet: msg.lockset };
  return { kind: msg.signal === true ? 'signal' : 'entitycall', name: String(msg.op ?? ''), entityId };
}

/** Reads an entity function's return value; undefined if it is not an EntityState. */
export function readBatchResult(value: unknown): EntityBatchResult | undefined {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o.results)) return undefined;
  const results = (o.results as unknown[]).map((r) => {
    const x = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
    const out: { isError: boolean; result?: string } = { isError: x.isError === true };
    if (typeof x.result === 'string') out.result = x.result;
    return out;
  });
  const signals: EntityBatchResult['signals'] = [];
  for (const s of Array.isArray(o.signals) ? (o.signals as unknown[]) : []) {
    const x = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
    const t = (typeof x.target === 'object' && x.target !== null ? x.target : {}) as Record<string, unknown>;
    if (typeof t.name !== 'string' || typeof t.key !== 'string' || typeof x.name !== 'string') continue;
    const sig: EntityBatchResult['signals'][number] = { target: { name: t.name, key: t.key }, name: x.name };
    if (typeof x.input === 'string' && x.input !== '') sig.input = x.input;
    signals.push(sig);
  }
  const out: EntityBatchResult = { entityExists: o.entityExists === true, results, signals };
  if (typeof o.entityState === 'string') out.entityState = o.entityState;
  return out;
}

/**
 * The message of a failed operation. The SDK records `JSON.stringify(error)`, which is `{}` for an Error, so the
 * operation's own text is used when there is one and a generic message otherwise.
 */
export function operationErrorMessage(result: string | undefined, op: string, entityId: string): string {
  const generic = `Operation '${op}' of entity '${entityId}' failed.`;
  if (result === undefined) return generic;
  let v: unknown;
  try {
    v = JSON.parse(result);
  } catch {
    return `${generic} ${result}`;
  }
  if (typeof v === 'string' && v !== '') return `${generic} ${v}`;
  if (typeof v === 'object' && v !== null) {
    const m = (v as { message?: unknown }).message;
    if (typeof m === 'string' && m !== '') return `${generic} ${m}`;
  }
  return generic;
}
