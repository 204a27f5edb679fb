/**
 * Event Grid deliveries from an Azure Machine Learning workspace, parsed at the edge and normalised into the
 * commands Champion acts on. Pure: no clock, no I/O.
 *
 * Both envelopes are accepted (Event Grid schema and CloudEvents 1.0), and event data in both spellings: the
 * PascalCase that Azure ML sends (`ModelName`, `ModelVersion: 20`) and the camelCase that the @azure/eventgrid
 * typings declare (`modelName`, `modelVersion: '20'`). Keys are matched case-insensitively for that reason.
 */
import { z } from 'zod';
import { ARM_NAME_RULES } from './names';
import { sameWorkspace } from './workspace-id';

export const AML_EVENT_PREFIX = 'Microsoft.MachineLearningServices.';

export const AmlEventType = {
  ModelRegistered: `${AML_EVENT_PREFIX}ModelRegistered`,
  ModelDeployed: `${AML_EVENT_PREFIX}ModelDeployed`,
  RunCompleted: `${AML_EVENT_PREFIX}RunCompleted`,
  RunStatusChanged: `${AML_EVENT_PREFIX}RunStatusChanged`,
  DatasetDriftDetected: `${AML_EVENT_PREFIX}DatasetDriftDetected`,
} as const;
export type AmlEventType = (typeof AmlEventType)[keyof typeof AmlEventType];

/**
 * Run tag that Azure ML model monitoring (v2) writes when a signal breaches its thresholds. Its value is the
 * human-readable failure message ("The signal '<name>' has failed due to one or more features violating metric
 * thresholds. ..."), not a boolean; the monitor run then ends as Failed. Microsoft's documented Event Grid filter
 * is `data.RunTags.azureml_modelmonitor_threshold_breached` "string contains" that sentence.
 */
export const MONITOR_BREACH_TAG = 'azureml_modelmonitor_threshold_breached';
/** Newer monitor components also tag the root run with one key per breached signal: `<prefix><signalName>`. */
export const MONITOR_SIGNAL_BREACH_TAG_PREFIX = 'azureml.modelmonitor.threshold.breached.';
/** Tag keys that identify a monitoring run even when it carries no breach (used to recognise a recovery). */
export const MONITOR_TAG_PREFIXES = ['azureml_modelmonitor', 'azureml.modelmonitor'] as const;
/**
 * Tags Champion reads to learn which registered model a drift signal is about. Azure ML does not put the model
 * name into drift events, so set one of these on the monitor's job (or map monitors to models in policy).
 */
export const MODEL_NAME_TAG_KEYS = ['champion.model', 'champion_model', 'model_name', 'modelName'] as const;

const KNOWN_RUN_STATUSES = [
  'NotStarted',
  'Queued',
  'Preparing',
  'Provisioning',
  'Starting',
  'Running',
  'Finalizing',
  'CancelRequested',
  'Completed',
  'Failed',
  'Canceled',
  'NotResponding',
  'Paused',
  'Unknown',
] as const;
export type KnownRunStatus = (typeof KNOWN_RUN_STATUSES)[number];
export const TERMINAL_RUN_STATUSES: readonly KnownRunStatus[] = ['Completed', 'Failed', 'Canceled'];

export type StringMap = Readonly<Record<string, string>>;

interface CommandBase {
  eventId: string;
  subject: string;
  /** RFC 3339 timestamp exactly as the event carried it. */
  eventTime: string;
  /** Event Grid `topic` or CloudEvents `source`: the workspace resource id. */
  source?: string;
}

export interface ModelRegisteredCommand extends CommandBase {
  kind: 'model-registered';
  modelName: string;
  modelVersion: string;
  tags: StringMap;
  properties: StringMap;
}

export interface DriftV1Command extends CommandBase {
  kind: 'drift';
  generation: 'v1';
  /** Dataset monitors only ever report drift, never its absence. */
  signal: 'breach';
  /** One monitor run is one observation; duplicates of it must not count twice. */
  observationId: string;
  monitorName: string;
  monitorId: string;
  runId?: string;
  resultId?: string;
  driftCoefficient: number;
  baseDatasetId: string;
  targetDatasetId: string;
  window: { start: string; end: string };
  modelName?: string;
}

export interface DriftV2Command extends CommandBase {
  kind: 'drift';
  generation: 'v2';
  signal: 'breach' | 'recovery';
  observationId: string;
  runId: string;
  runStatus: string;
  experimentName: string;
  /** Breached signal names, from the tag message or the per-signal tag keys; empty for a recovery. */
  signalNames: readonly string[];
  /** The breach message Azure ML wrote, for evidence. */
  message?: string;
  modelName?: string;
  tags: StringMap;
}

export type DriftCommand = DriftV1Command | DriftV2Command;

export interface RunStatusCommand extends CommandBase {
  kind: 'run-status';
  eventType: 'RunCompleted' | 'RunStatusChanged';
  runId: string;
  status: string;
  experimentName: string;
  experimentId?: string;
  runType?: string;
  tags: StringMap;
  properties: StringMap;
}

export interface IgnoredCommand {
  kind: 'ignored';
  eventId: string;
  eventType: string;
  reason: string;
}

export type EventCommand = ModelRegisteredCommand | DriftCommand | RunStatusCommand | IgnoredCommand;

export interface ParseEventOptions {
  /**
   * Experiments whose runs are model-monitoring runs. A healthy monitor run carries no breach tag, so without a
   * marker tag this list is the only way to recognise its completion as a recovery.
   */
  monitorExperimentNames?: readonly string[];
}

/** An event that cannot be trusted. `path` names the offending field, e.g. `data.ModelVersion`. */
export class EventValidationError extends Error {
  override readonly name = 'EventValidationError';
  constructor(
    readonly path: string,
    readonly issue: string,
    readonly eventId?: string,
  ) {
    super(path ? `${path}: ${issue}` : issue);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Schemas

const missingOr = (expected: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? 'required' : `expected ${expected}`;

const nonEmptyString = z
  .string({ error: missingOr('a string') })
  .refine((s) => s.trim().length > 0, { error: 'must not be empty' });

const timestamp = z.iso.datetime({ offset: true, error: missingOr('an RFC 3339 timestamp with a time zone') });

const positiveVersion = z.unknown().transform((value, ctx) => {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value > 0) return String(value);
    ctx.issues.push({ code: 'custom', input: value, message: 'expected a positive integer' });
    return z.NEVER;
  }
  if (typeof value === 'string') {
    const v = value.trim();
    // Azure ML versions are integers or short asset-version strings; anything with path or control characters is
    // not a version and would end up in instance ids and URLs.
    if (/^\d+$/.test(v) && !/^[1-9]\d*$/.test(v)) {
      ctx.issues.push({ code: 'custom', input: value, message: 'expected a positive integer' });
      return z.NEVER;
    }
    if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) return v;
    ctx.issues.push({ code: 'custom', input: value, message: 'expected a positive integer or a version string' });
    return z.NEVER;
  }
  ctx.issues.push({
    code: 'custom',
    input: value,
    message: value === undefined ? 'required' : 'expected a positive integer',
  });
  return z.NEVER;
});

/** Tags and properties: string values in Azure ML, but tolerate scalars and null. */
const stringMap = z
  .record(z.string(), z.unknown(), { error: 'expected an object of string values' })
  .nullish()
  .transform((rec): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(rec ?? {})) out[k] = scalarToString(v);
    return out;
  });

const rawMap = z
  .record(z.string(), z.unknown(), { error: 'expected an object of string values' })
  .nullish()
  .transform((rec) => rec ?? {});

const optionalString = z
  .string({ error: 'expected a string' })
  .nullish()
  .transform((s) => (s === null || s === undefined || s.trim() === '' ? undefined : s));

const eventGridEnvelope = z.object({
  id: nonEmptyString,
  topic: z.string({ error: 'expected a string' }).optional(),
  subject: z.string({ error: missingOr('a string') }),
  eventType: nonEmptyString,
  eventTime: timestamp,
  data: z.unknown(),
  dataVersion: z.string({ error: 'expected a string' }).optional(),
  metadataVersion: z.string({ error: 'expected a string' }).optional(),
});

const cloudEventEnvelope = z.object({
  specversion: z.literal('1.0', { error: 'expected "1.0"' }),
  id: nonEmptyString,
  source: nonEmptyString,
  type: nonEmptyString,
  subject: z.string({ error: 'expected a string' }).optional(),
  time: timestamp.optional(),
  datacontenttype: z.string({ error: 'expected a string' }).optional(),
  data: z.unknown(),
  data_base64: z.string({ error: 'expected a string' }).optional(),
});

/** Data schemas use the PascalCase names from the Azure ML event reference; input keys are matched to them. */
const modelRegisteredData = z.object({
  ModelName: z
    .string({ error: missingOr('a string') })
    .regex(ARM_NAME_RULES.asset.pattern, { error: ARM_NAME_RULES.asset.rule }),
  ModelVersion: positiveVersion,
  ModelTags: stringMap,
  ModelProperties: stringMap,
});

const datasetDriftData = z
  .object({
    DataDriftId: nonEmptyString,
    DataDriftName: nonEmptyString,
    RunId: optionalString,
    DataSetDriftResultId: optionalString,
    BaseDatasetId: nonEmptyString,
    TargetDatasetId: nonEmptyString,
    DriftCoefficient: z
      .number({ error: missingOr('a number') })
      .refine((n) => Number.isFinite(n) && n >= 0, { error: 'expected a finite number >= 0' }),
    StartTime: timestamp,
    EndTime: timestamp,
    ModelName: optionalString,
  })
  .superRefine((d, ctx) => {
    if (Date.parse(d.EndTime) < Date.parse(d.StartTime)) {
      ctx.addIssue({ code: 'custom', path: ['EndTime'], message: 'must not be before StartTime' });
    }
  });

const runData = z.object({
  ExperimentId: optionalString,
  ExperimentName: optionalString,
  RunId: nonEmptyString,
  RunType: optionalString,
  RunTags: rawMap,
  RunProperties: stringMap,
  RunStatus: optionalString,
});

const DATA_FIELDS = {
  modelRegistered: Object.keys(modelRegisteredData.shape),
  datasetDrift: Object.keys(datasetDriftData.shape),
  run: Object.keys(runData.shape),
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Parsing

/**
 * Azure ML's events are a few levels deep (envelope → data → tags); anything far deeper is not one, and would
 * overflow the stack of the recursive code it meets next (validation, JSON.stringify).
 */
export const MAX_EVENT_DEPTH = 32;

/** Walks without recursion, so the check itself cannot overflow. */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

interface Envelope {
  id: string;
  type: string;
  subject?: string;
  time?: string;
  source?: string;
  data: unknown;
  /** Field names as the envelope spells them, for error paths. */
  names: { subject: string; time: string };
}

/**
 * Parse one event (either envelope) into a command. Throws {@link EventValidationError} when the event is
 * malformed; events Champion does not act on become `{kind: 'ignored'}`.
 */
export function parseEvent(event: unknown, options: ParseEventOptions = {}): EventCommand {
  if (nestedDeeperThan(event, MAX_EVENT_DEPTH)) {
    const eventId = isPlainObject(event) && typeof event['id'] === 'string' ? event['id'] : undefined;
    throw new EventValidationError('', `nested deeper than ${MAX_EVENT_DEPTH} levels`, eventId);
  }
  const envelope = parseEnvelope(event);
  const type = envelope.type;
  const known = Object.values(AmlEventType).find((t) => t.toLowerCase() === type.toLowerCase());
  switch (known) {
    case AmlEventType.ModelRegistered:
      return toModelRegistered(envelope);
    case AmlEventType.DatasetDriftDetected:
      return toDatasetDrift(envelope);
    case AmlEventType.RunStatusChanged:
    case AmlEventType.RunCompleted:
      return toRunEvent(envelope, known, options);
    case AmlEventType.ModelDeployed:
      return ignored(envelope, 'ModelDeployed is informational; rollouts track their own deployments');
    default:
      if (type === 'Microsoft.EventGrid.SubscriptionValidationEvent') {
        return ignored(envelope, 'subscription validation is answered by the Functions host');
      }
      return ignored(envelope, `unsupported event type ${type}`);
  }
}

export type DeliveryResult =
  | { index: number; ok: true; command: EventCommand }
  | { index: number; ok: false; eventId?: string; error: EventValidationError };

/**
 * Parse a whole delivery: an array of events (Event Grid schema, or a CloudEvents batch) or a single event
 * object. Each event gets its own result so one bad event does not hide the others. Throws only when the body
 * is neither an object nor an array.
 */
export function parseEventGridDelivery(body: unknown, options: ParseEventOptions = {}): DeliveryResult[] {
  const events = Array.isArray(body) ? body : isPlainObject(body) ? [body] : undefined;
  if (events === undefined) {
    throw new EventValidationError('', 'expected an event object or an array of events');
  }
  return events.map((event, index): DeliveryResult => {
    try {
      return { index, ok: true, command: parseEvent(event, options) };
    } catch (err) {
      if (!(err instanceof EventValidationError)) throw err;
      const eventId = isPlainObject(event) && typeof event['id'] === 'string' ? event['id'] : undefined;
      return eventId === undefined ? { index, ok: false, error: err } : { index, ok: false, eventId, error: err };
    }
  });
}

function parseEnvelope(event: unknown): Envelope {
  if (!isPlainObject(event)) throw new EventValidationError('', 'expected an event object');
  const eventId = typeof event['id'] === 'string' ? event['id'] : undefined;
  if ('specversion' in event) {
    const ce = check(cloudEventEnvelope, event, '', eventId);
    if (ce.data === undefined && ce.data_base64 !== undefined) {
      throw new EventValidationError('data_base64', 'binary event data is not supported', ce.id);
    }
    return {
      id: ce.id,
      type: ce.type,
      ...(ce.subject !== undefined && { subject: ce.subject }),
      ...(ce.time !== undefined && { time: ce.time }),
      source: ce.source,
      data: ce.data,
      names: { subject: 'subject', time: 'time' },
    };
  }
  if ('eventType' in event) {
    const eg = check(eventGridEnvelope, event, '', eventId);
    return {
      id: eg.id,
      type: eg.eventType,
      subject: eg.subject,
      time: eg.eventTime,
      ...(eg.topic !== undefined && { source: eg.topic }),
      data: eg.data,
      names: { subject: 'subject', time: 'eventTime' },
    };
  }
  throw new EventValidationError('', 'expected an Event Grid event (eventType) or a CloudEvent (specversion)', eventId);
}

function base(env: Envelope): CommandBase {
  if (env.subject === undefined) throw new EventValidationError(env.names.subject, 'required', env.id);
  if (env.time === undefined) throw new EventValidationError(env.names.time, 'required', env.id);
  return {
    eventId: env.id,
    subject: env.subject,
    eventTime: env.time,
    ...(env.source !== undefined && { source: env.source }),
  };
}

function toModelRegistered(env: Envelope): ModelRegisteredCommand {
  const common = base(env);
  const d = parseData(modelRegisteredData, DATA_FIELDS.modelRegistered, env);
  return {
    kind: 'model-registered',
    ...common,
    modelName: d.ModelName,
    modelVersion: d.ModelVersion,
    tags: d.ModelTags,
    properties: d.ModelProperties,
  };
}

function toDatasetDrift(env: Envelope): DriftV1Command {
  const common = base(env);
  const d = parseData(datasetDriftData, DATA_FIELDS.datasetDrift, env);
  const modelName = d.ModelName ?? modelFromSubject(common.subject);
  return {
    kind: 'drift',
    generation: 'v1',
    signal: 'breach',
    ...common,
    observationId: d.RunId ?? d.DataSetDriftResultId ?? common.eventId,
    monitorName: d.DataDriftName,
    monitorId: d.DataDriftId,
    ...(d.RunId !== undefined && { runId: d.RunId }),
    ...(d.DataSetDriftResultId !== undefined && { resultId: d.DataSetDriftResultId }),
    driftCoefficient: d.DriftCoefficient,
    baseDatasetId: d.BaseDatasetId,
    targetDatasetId: d.TargetDatasetId,
    window: { start: d.StartTime, end: d.EndTime },
    ...(modelName !== undefined && { modelName }),
  };
}

function toRunEvent(
  env: Envelope,
  type: typeof AmlEventType.RunStatusChanged | typeof AmlEventType.RunCompleted,
  options: ParseEventOptions,
): DriftV2Command | RunStatusCommand {
  const common = base(env);
  const d = parseData(runData, DATA_FIELDS.run, env);
  const isStatusChange = type === AmlEventType.RunStatusChanged;
  if (isStatusChange && d.RunStatus === undefined) {
    throw new EventValidationError(dataPath(env, 'RunStatus'), 'required', env.id);
  }
  const status = isStatusChange ? normaliseRunStatus(d.RunStatus ?? '') : 'Completed';
  const experimentName = d.ExperimentName ?? '';
  const tags = mapValues(d.RunTags, scalarToString);

  if (isStatusChange) {
    const monitor = readMonitorTags(d.RunTags);
    const modelName = modelFromTags(tags) ?? modelFromSubject(common.subject);
    const isMonitorRun = monitor.marked || (options.monitorExperimentNames ?? []).includes(experimentName);
    const drift = {
      kind: 'drift' as const,
      generation: 'v2' as const,
      ...common,
      observationId: d.RunId,
      runId: d.RunId,
      runStatus: status,
      experimentName,
      ...(modelName !== undefined && { modelName }),
      tags,
    };
    // A breach counts whatever the status: the tag is written before the run fails, so it may ride on any of the
    // later status changes, and they all describe the same observation (observationId = runId).
    if (monitor.breached) {
      return {
        ...drift,
        signal: 'breach',
        signalNames: monitor.signalNames,
        ...(monitor.message !== undefined && { message: monitor.message }),
      };
    }
    // Only a monitor run that finished cleanly says "no drift"; a monitor that crashed says nothing about drift.
    if (isMonitorRun && status === 'Completed') {
      return { ...drift, signal: 'recovery', signalNames: [] };
    }
  }

  return {
    kind: 'run-status',
    ...common,
    eventType: isStatusChange ? 'RunStatusChanged' : 'RunCompleted',
    runId: d.RunId,
    status,
    experimentName,
    ...(d.ExperimentId !== undefined && { experimentId: d.ExperimentId }),
    ...(d.RunType !== undefined && { runType: d.RunType }),
    tags,
    properties: d.RunProperties,
  };
}

function ignored(env: Envelope, reason: string): IgnoredCommand {
  return { kind: 'ignored', eventId: env.id, eventType: env.type, reason };
}

// ---------------------------------------------------------------------------------------------------------------
// Model-monitoring tags

interface MonitorTags {
  breached: boolean;
  /** The run is recognisably a monitoring run (a monitor tag is present, even with a cleared value). */
  marked: boolean;
  signalNames: string[];
  message?: string;
}

/** Values that mean "not breached": a cleared tag, not a message. */
function isClearedValue(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return true;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    return v === '' || v === 'false' || v === '0' || v === 'none' || v === 'null';
  }
  return false;
}

function readMonitorTags(rawTags: Record<string, unknown>): MonitorTags {
  const result: MonitorTags = { breached: false, marked: false, signalNames: [] };
  const names = new Set<string>();
  for (const [key, value] of Object.entries(rawTags)) {
    const lower = key.toLowerCase();
    if (MONITOR_TAG_PREFIXES.some((p) => lower.startsWith(p))) result.marked = true;
    const isBreachKey = lower === MONITOR_BREACH_TAG;
    const isSignalKey =
      lower.startsWith(MONITOR_SIGNAL_BREACH_TAG_PREFIX) && key.length > MONITOR_SIGNAL_BREACH_TAG_PREFIX.length;
    if (!(isBreachKey || isSignalKey) || isClearedValue(value)) continue;
    result.breached = true;
    if (isSignalKey) names.add(key.slice(MONITOR_SIGNAL_BREACH_TAG_PREFIX.length));
    if (typeof value === 'string') {
      result.message ??= value;
      for (const m of value.matchAll(/signal '([^']+)' has failed/gi)) if (m[1] !== undefined) names.add(m[1]);
    }
  }
  result.signalNames = [...names].sort();
  return result;
}

function modelFromTags(tags: StringMap): string | undefined {
  for (const key of MODEL_NAME_TAG_KEYS) {
    const v = tags[key]?.trim();
    if (v) return v;
  }
  return undefined;
}

/** `models/<name>:<version>` or `.../models/<name>/...` in a subject names the model. */
function modelFromSubject(subject: string): string | undefined {
  const m = /(?:^|\/)models\/([^/:]+)/.exec(subject);
  return m?.[1];
}

export function normaliseRunStatus(status: string): string {
  const trimmed = status.trim();
  return KNOWN_RUN_STATUSES.find((s) => s.toLowerCase() === trimmed.toLowerCase()) ?? trimmed;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/**
 * Match the data object's keys case-insensitively to the schema's PascalCase field names, validate, and report
 * errors under the key the sender actually used (or the sender's spelling convention when the key is missing).
 */
function parseData<T>(schema: z.ZodType<T>, fields: readonly string[], env: Envelope): T {
  const dataName = 'data';
  if (!isPlainObject(env.data)) {
    throw new EventValidationError(dataName, env.data === undefined ? 'required' : 'expected an object', env.id);
  }
  const byLower = new Map(fields.map((f) => [f.toLowerCase(), f]));
  const normalised: Record<string, unknown> = {};
  const spelled = new Map<string, string>();
  for (const [key, value] of Object.entries(env.data)) {
    const field = byLower.get(key.toLowerCase());
    if (field === undefined || spelled.has(field)) continue;
    normalised[field] = value;
    spelled.set(field, key);
  }
  const camel = prefersCamelCase(env.data);
  const result = schema.safeParse(normalised);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = typeof issue?.path[0] === 'string' ? issue.path[0] : undefined;
  const shown = field === undefined ? undefined : (spelled.get(field) ?? (camel ? lowerFirst(field) : field));
  const rest = issue?.path.slice(1).map(String) ?? [];
  const path = [dataName, ...(shown === undefined ? [] : [shown]), ...rest].join('.');
  throw new EventValidationError(path, issue?.message ?? 'invalid', env.id);
}

function dataPath(env: Envelope, field: string): string {
  const camel = isPlainObject(env.data) && prefersCamelCase(env.data);
  return `data.${camel ? lowerFirst(field) : field}`;
}

/** Report a missing field the way the sender spells the others: SDK-style camelCase or Azure ML's PascalCase. */
function prefersCamelCase(data: Record<string, unknown>): boolean {
  const keys = Object.keys(data);
  return keys.length > 0 && keys.every((k) => !/^[A-Z]/.test(k));
}

function check<T>(schema: z.ZodType<T>, value: unknown, prefix: string, eventId: string | undefined): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [prefix, ...(issue?.path ?? []).map(String)].filter((s) => s !== '').join('.');
  throw new EventValidationError(path, issue?.message ?? 'invalid', eventId);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scalarToString(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

function mapValues<V, W>(rec: Record<string, V>, fn: (v: V) => W): Record<string, W> {
  const out: Record<string, W> = {};
  for (const [k, v] of Object.entries(rec)) out[k] = fn(v);
  return out;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

// ---------------------------------------------------------------------------------------------------------------
// Durable instance ids

export const DURABLE_INSTANCE_ID_MAX_LENGTH = 100;
const SAFE_PART = /^[A-Za-z0-9._-]+$/;

/**
 * Deterministic Durable Functions instance id for promoting one model version: every duplicate delivery of the
 * same ModelRegistered event maps to the same orchestration instance.
 */
export function promotionInstanceId(modelName: string, modelVersion: string | number): string {
  return durableInstanceId('promote', modelName, String(modelVersion));
}

/**
 * What every promotion instance id of a model starts with (of any model, without one). Ids of unsafe or long names
 * are hashed, and two such names can share a prefix: callers still check the instance's model.
 */
export function promotionInstanceIdPrefix(modelName?: string): string {
  if (modelName === undefined) return 'promote:';
  const prefix = `promote:${modelName.replace(/[^A-Za-z0-9._-]/g, '_')}:`;
  // A hashed id keeps its readable part only up to the room the hash leaves (see durableInstanceId).
  return prefix.slice(0, DURABLE_INSTANCE_ID_MAX_LENGTH - 17);
}

/** One retraining instance id per model, so at most one retraining orchestration runs for it at a time. */
export function retrainingInstanceId(modelName: string): string {
  return durableInstanceId('retrain', modelName);
}

/**
 * Join parts with ':' (which Azure ML names cannot contain). If any part has characters outside
 * `[A-Za-z0-9._-]`, or the id would exceed 100 characters, unsafe characters become '_' and a 64-bit hash of the
 * exact parts is appended after '~'. Only hashed ids contain '~', so a hashed id never equals a plain one.
 */
export function durableInstanceId(...parts: string[]): string {
  if (parts.length === 0 || parts.some((p) => p.length === 0)) {
    throw new RangeError('durableInstanceId needs non-empty parts');
  }
  const plain = parts.join(':');
  if (parts.every((p) => SAFE_PART.test(p)) && plain.length <= DURABLE_INSTANCE_ID_MAX_LENGTH) return plain;
  const hash = fnv1a64(JSON.stringify(parts));
  const readable = parts.map((p) => p.replace(/[^A-Za-z0-9._-]/g, '_')).join(':');
  return `${readable.slice(0, DURABLE_INSTANCE_ID_MAX_LENGTH - hash.length - 1)}~${hash}`;
}

/** FNV-1a, 64-bit, over UTF-8 bytes; 16 hex characters. */
export function fnv1a64(text: string): string {
  const prime = 0x100000001b3n;
  const mask = 0xffffffffffffffffn;
  let hash = 0xcbf29ce484222325n;
  for (const byte of utf8(text)) {
    hash ^= BigInt(byte);
    hash = (hash * prime) & mask;
  }
  return hash.toString(16).padStart(16, '0');
}

function utf8(text: string): number[] {
  const bytes: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) bytes.push(cp);
    else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return bytes;
}

/**
 * Why a registration is not the app's to act on, or undefined when it is. Promotions start from registrations in the
 * app's own workspace only (the first environment of a policy with environments): a later environment's workspace
 * emits ModelRegistered for the copy Champion registers there, and a subscription that reaches the app from it must
 * not start a second promotion. The workspace is the event's `topic` (CloudEvents `source`): Event Grid sets it to the
 * workspace's ARM id ("Azure Machine Learning as an Event Grid source", event schema); an event without one cannot be
 * traced to a workspace.
 */
export function foreignRegistration(command: ModelRegisteredCommand, appWorkspace: string): string | undefined {
  if (command.source === undefined) return 'it names no topic (the workspace it was registered in)';
  if (sameWorkspace(command.source, appWorkspace)) return undefined;
  return `registered in ${command.source}, not in the app's own workspace ${appWorkspace}`;
}
