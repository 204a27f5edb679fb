/**
 * Wire formats shared with durable-functions 3.x (history events, actions, trigger, status JSON).
 * Numbers and field names follow the Durable Task Framework, because the SDK replays exactly these shapes.
 */

export const HistoryEventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  HistoryState: 18,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;
export type HistoryEventTypeNumber = (typeof HistoryEventType)[keyof typeof HistoryEventType];

export const HistoryEventTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(HistoryEventType).map(([k, v]) => [v, k]),
);

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  ScheduledSignalEntity: 10,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

/** One history event as the SDK reads it. `Timestamp` is a Date in memory and an ISO string on disk. */
export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: Date | string;
  Name?: string;
  Input?: string;
  Result?: string;
  Reason?: string;
  Details?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
  OrchestrationStatus?: string;
  Version?: string;
  [extra: string]: unknown;
}

/** The `orchestrationTrigger` input value handed to the SDK's orchestrator handler. */
export interface OrchestrationTrigger {
  history: HistoryEvent[];
  instanceId: string;
  isReplaying: boolean;
  input: unknown;
  parentInstanceId?: string;
  upperSchemaVersion: number;
  upperSchemaVersionNew: number;
  maximumShortTimerDuration: string;
  longRunningTimerIntervalDuration: string;
  defaultHttpAsyncRequestSleepTimeMillseconds: number;
}

/** What the SDK's handler returns (OrchestratorState), or what a `$OutOfProcData$` error carries. */
export interface OrchestratorStateLike {
  isDone: boolean;
  actions: unknown[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion?: number;
}

export type RuntimeStatus =
  'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Terminated' | 'Suspended';
export const RUNTIME_STATUSES: readonly RuntimeStatus[] = [
  'Pending',
  'Running',
  'Completed',
  'ContinuedAsNew',
  'Failed',
  'Terminated',
  'Suspended',
];
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['Completed', 'Failed', 'Terminated']);
export function isTerminal(status: string): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** Same field names as the Durable Functions HTTP API status payload. */
export interface DurableOrchestrationStatus {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Record<string, unknown>[];
}

/** RetryOptions as the SDK serialises them on CallActivityWithRetry / CallSubOrchestratorWithRetry actions. */
export interface RetryOptionsLike {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** Exported history of one execution, as stored under test golden files or sent to a debugger. */
export interface HistoryExport {
  name: string;
  instanceId: string;
  input: unknown;
  history: HistoryEvent[];
}
