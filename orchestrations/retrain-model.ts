/**
 * Continuous training: every trigger (a drift signal, a schedule, a person) becomes one small `retrainTrigger`
 * orchestration that asks the model's `retrainGuard` entity whether to start. The entity serialises concurrent
 * triggers and applies `decideRetraining` (single-flight, cooldown, k-of-n, duplicate and recovery signals), so a
 * storm of signals starts one run and every skip is recorded with its reason. On `start` the trigger runs
 * `retrainModel` as the sub-orchestration `retrain:{model}:{n}` and finally tells the guard it finished.
 *
 *   retrainModel: environment at version = hash of its definition (created only when missing) → data checks on
 *     the training data before spending compute (a failure stops with a readable report, nothing submitted) →
 *     the command job, named deterministically from the instance id and submitted at most once, awaited with
 *     durable timers (backoff honouring Retry-After, an overall deadline that cancels the job) → the trained
 *     version registered with its metrics and lineage; its ModelRegistered event starts `promote:{model}:{v}`.
 *
 * The client API cannot read entity responses, hence the orchestration hop in front of the entity.
 */
import * as df from 'durable-functions';
import { promotionInstanceId } from '../lib/domain/events';
import {
  appendSignal,
  decideRetraining,
  type RetrainingDecision,
  type RetrainingGuardPolicy,
  type RetrainingTrigger,
  type SignalEntry,
} from '../lib/domain/retraining-guard';
import { checkDecisionEvent } from '../lib/domain/decisions';
import { runMetricsRecord } from '../lib/domain/evidence-record';
import { EVENTS } from './contract';
import type {
  ApprovalDecision,
  RetrainingInput,
  RetrainingResult,
  RetrainingStatus,
  RetrainingTriggerInfo,
  TrainingJobCheck,
} from './contract';
import {
  activity,
  activityWithRetry,
  announce,
  lifecycleSubject,
  now,
  publishPending,
  sleep,
  type Context,
  type Step,
} from './durable';

export const RETRAIN_GUARD_ENTITY = 'retrainGuard';
export const RETRAIN_TRIGGER_ORCHESTRATION = 'retrainTrigger';
export const RETRAIN_MODEL_ORCHESTRATION = 'retrainModel';

// ---------------------------------------------------------------------------------------------------------------
// The guard entity (one per model)

/** A signal log entry as the guard keeps it: the pure entry plus why, which trigger, and which run it concerns. */
export interface GuardLogEntry extends SignalEntry {
  why: RetrainingDecision['reason'];
  detail: string;
  triggerId: string;
  /** The run this trigger started, or the active run it was recorded against. */
  runId?: string;
}

export interface GuardState {
  log: GuardLogEntry[];
  activeRun?: { id: string; startedAt: string };
  lastFinishedAt?: string;
  /** Runs started so far; the next run is `retrain:{model}:{runs + 1}`. */
  runs: number;
  lastRun?: { id: string; outcome: string; reason: string; finishedAt: string };
}

export interface GuardRequest {
  modelName: string;
  trigger: RetrainingTrigger;
  /** The orchestration's clock: the entity never reads one. */
  now: string;
  policy: RetrainingGuardPolicy;
  triggerId: string;
}

export interface GuardAnswer {
  decision: RetrainingDecision;
  /** Set on start (the new run) and on single-flight (the active run the signal was recorded against). */
  runId?: string;
  recorded: boolean;
}

export interface GuardFinish {
  runId: string;
  at: string;
  outcome: string;
  reason: string;
}

/** Every run's instance id starts with it, so runs are listed by prefix. */
export const RETRAINING_RUN_ID_PREFIX = 'retrain:';

export function retrainingRunId(modelName: string, n: number): string {
  // Same shape as promotion ids; model names are [A-Za-z0-9_.-], so this is plain `retrain:{model}:{n}`.
  return `${RETRAINING_RUN_ID_PREFIX}${modelName}:${n}`;
}

const emptyState = (): GuardState => ({ log: [], runs: 0 });

/** The guard's operations. Deterministic: time comes in the request, the decision from `decideRetraining`. */
export function retrainGuard(context: df.EntityContext<GuardState>): void {
  const state = context.df.getState(emptyState) ?? emptyState();
  switch (context.df.operationName) {
    case 'decide': {
      const request = context.df.getInput<GuardRequest>() as GuardRequest;
      const { decision, record } = decideRetraining({
        trigger: request.trigger,
        log: state.log,
        state: { activeRun: state.activeRun, lastFinishedAt: state.lastFinishedAt },
        now: new Date(request.now),
        policy: request.policy,
      });
      let runId: string | undefined;
      if (decision.action === 'start') {
        state.runs += 1;
        runId = retrainingRunId(request.modelName, state.runs);
        state.activeRun = { id: runId, startedAt: request.now };
      } else if (decision.reason === 'single-flight') {
        runId = state.activeRun?.id;
      }
      if (record) {
        const entry: GuardLogEntry = {
          ...record,
          why: decision.reason,
          detail: decision.detail,
          triggerId: request.triggerId,
          ...(runId !== undefined && { runId }),
        };
        state.log = appendSignal(state.log, entry) as GuardLogEntry[];
      }
      context.df.setState(state);
      context.df.return({ decision, runId, recorded: record !== null } satisfies GuardAnswer);
      return;
    }
    case 'finish': {
      const finish = context.df.getInput<GuardFinish>() as GuardFinish;
      // Only the active run can finish it; a stale or repeated finish changes nothing.
      if (state.activeRun?.id === finish.runId) {
        state.activeRun = undefined;
        state.lastFinishedAt = finish.at;
        state.lastRun = { id: finish.runId, outcome: finish.outcome, reason: finish.reason, finishedAt: finish.at };
      }
      context.df.setState(state);
      context.df.return(state);
      return;
    }
    case 'get':
      context.df.return(state);
      return;
    default:
      throw new Error(`retrainGuard has no operation "${context.df.operationName}".`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The trigger orchestration

export interface RetrainTriggerInput {
  modelName: string;
  trigger: RetrainingTrigger;
  guard: RetrainingGuardPolicy;
  retraining: RetrainingInput['retraining'];
  /** What the trigger saw (event id, schedule, requester), for the run's lineage. */
  note: string;
}

export interface RetrainTriggerStatus {
  modelName: string;
  source: RetrainingTriggerInfo['source'];
  decision: RetrainingDecision;
  runId?: string;
}

export interface RetrainTriggerResult extends RetrainTriggerStatus {
  /** The run's result when this trigger started one. */
  run?: RetrainingResult;
}

export function signalSource(trigger: RetrainingTrigger): RetrainingTriggerInfo['source'] {
  if (trigger.kind === 'drift') return trigger.generation === 'v1' ? 'drift-v1' : 'drift-v2';
  return trigger.kind;
}

export function* retrainTrigger(ctx: Context): Step<RetrainTriggerResult> {
  const input = ctx.df.getInput() as RetrainTriggerInput;
  const triggerId = ctx.df.instanceId;
  const guard = new df.EntityId(RETRAIN_GUARD_ENTITY, input.modelName);
  const request: GuardRequest = {
    modelName: input.modelName,
    trigger: input.trigger,
    now: now(ctx).toISOString(),
    policy: input.guard,
    triggerId,
  };
  const answer = (yield ctx.df.callEntity(guard, 'decide', request)) as GuardAnswer;
  const status: RetrainTriggerStatus = {
    modelName: input.modelName,
    source: signalSource(input.trigger),
    decision: answer.decision,
    ...(answer.runId !== undefined && { runId: answer.runId }),
  };
  ctx.df.setCustomStatus(status);
  if (answer.decision.action !== 'start' || answer.runId === undefined) {
    lifecycleSubject(ctx, { modelName: input.modelName });
    announce(ctx, 'retraining-skipped', {
      source: status.source,
      reason: answer.decision.reason,
      detail: answer.decision.detail,
      runId: answer.runId,
    });
    yield* publishPending(ctx);
    return status;
  }

  const runId = answer.runId;
  const runInput: RetrainingInput = {
    modelName: input.modelName,
    retraining: input.retraining,
    trigger: { source: status.source, reason: `${answer.decision.detail}; ${input.note}`, triggerId },
  };
  let run: RetrainingResult;
  try {
    run = (yield ctx.df.callSubOrchestrator(RETRAIN_MODEL_ORCHESTRATION, runInput, runId)) as RetrainingResult;
  } catch (err) {
    run = {
      outcome: 'failed',
      modelName: input.modelName,
      runId,
      reason: `the run failed: ${(err as Error).message}`,
      trigger: runInput.trigger,
    };
  }
  const finish: GuardFinish = { runId, at: now(ctx).toISOString(), outcome: run.outcome, reason: run.reason };
  yield ctx.df.callEntity(guard, 'finish', finish);
  return { ...status, run };
}

// ---------------------------------------------------------------------------------------------------------------
// The retraining run

/** Checking a job is a read: transient faults are retried, the rest is a value. */
const READ_RETRY = (() => {
  const retry = new df.RetryOptions(2000, 4);
  retry.backoffCoefficient = 2;
  return retry;
})();

/**
 * The job name: deterministic from the instance id (and its first recorded guid, so a purged and restarted id
 * never adopts an older job), valid as an Azure ML job name.
 */
export function trainingJobName(runId: string, guid: string): string {
  return `${runId.replace(/[^A-Za-z0-9_-]+/g, '-')}-${guid.replace(/-/g, '').slice(0, 8)}`;
}

/** The tags a run's job carries: which model, run and kind of trigger it was for. */
export function trainingJobTags(
  modelName: string,
  runId: string,
  source: RetrainingTriggerInfo['source'],
): Record<string, string> {
  return { 'champion.model': modelName, 'champion.retraining': runId, 'champion.trigger': source };
}

/** Decision events a run notes before only counting them, so its status stays small. */
const MAX_IGNORED_NOTES = 5;

/**
 * The gate before registration: approval links go to the policy's approvers (bound to each, as a promotion's), and
 * the run takes the first decision that is well formed, admitted by the policy and sealed by the app's decision
 * routes (`POST /api/promotions/{runId}/decision(s)`); others are noted and ignored. The policy decides at expiry.
 */
function* approveRegistration(
  ctx: Context,
  input: RetrainingInput,
  jobName: string,
  metrics: Record<string, string>,
  status: RetrainingStatus,
  mark: (phase: RetrainingStatus['phase'], note: string) => void,
): Step<{ decision: ApprovalDecision; timedOut: boolean; expiresAt: string }> {
  const approval = input.retraining.approval!;
  const runId = ctx.df.instanceId;
  const expiresAt = new Date(now(ctx).getTime() + approval.timeoutMs).toISOString();
  const shown = Object.entries(metrics)
    .filter(([key]) => key.startsWith('metrics.'))
    .map(([key, value]) => `${key.slice('metrics.'.length)}=${value}`)
    .join(', ');
  yield* activity(ctx, 'requestApproval', {
    promotionId: runId,
    modelName: input.modelName,
    modelVersion: `(not registered: the output of ${jobName})`,
    evidenceSummary: `trained by ${jobName}${shown ? `: ${shown}` : ''}; approve to register it (which starts its promotion)`,
    expiresAt,
    nonce: ctx.df.newGuid(`${runId}:approval`),
    ...(approval.approvers ? { approvers: [...approval.approvers] } : {}),
    beforeRegistration: true,
  });
  status.approval = { expiresAt };
  status.metrics = runMetricsRecord(metrics);
  mark('awaiting-approval', `waiting until ${expiresAt} for a person to approve registering ${jobName}'s model`);

  const timeout = ctx.df.createTimer(new Date(expiresAt));
  let taken: ApprovalDecision | undefined;
  for (;;) {
    const event = ctx.df.waitForExternalEvent(EVENTS.decision);
    const winner = yield ctx.df.Task.any([event, timeout]);
    if (winner !== event) break;
    const check = checkDecisionEvent(event.result, { approvers: approval.approvers });
    const sealed =
      check.ok &&
      (yield* activity(ctx, 'verifyDecision', {
        promotionId: runId,
        decision: check.decision,
        ...(check.seal !== undefined ? { seal: check.seal } : {}),
      })).sealed;
    if (check.ok && sealed) {
      taken = check.decision;
      timeout.cancel();
      break;
    }
    status.ignoredEvents = (status.ignoredEvents ?? 0) + 1;
    const problem = check.ok ? "seal: not sent through Champion's decision routes" : check.problem;
    if (status.ignoredEvents <= MAX_IGNORED_NOTES) mark('awaiting-approval', `ignored a decision event: ${problem}`);
    else ctx.df.setCustomStatus(status);
  }
  const decision: ApprovalDecision = taken ?? {
    decision: approval.onTimeout === 'approve' ? 'approve' : 'reject',
    approver: 'policy:onTimeout',
    identity: 'policy',
    via: 'api',
    at: now(ctx).toISOString(),
  };
  status.decision = decision;
  ctx.df.setCustomStatus(status);
  return { decision, timedOut: taken === undefined, expiresAt };
}

/** A retraining notes a handful of steps: each within this many characters keeps its status well under 16 KB. */
const STATUS_NOTE_LIMIT = 500;

export function* retrainModel(ctx: Context): Step<RetrainingResult> {
  let result: RetrainingResult;
  try {
    result = yield* retrain(ctx);
  } catch (err) {
    // An activity that kept failing: the run fails (its trigger records it), and says so first.
    announce(ctx, 'retraining-failed', { outcome: 'failed', reason: (err as Error).message });
    yield* publishPending(ctx);
    throw err;
  }
  const details = {
    outcome: result.outcome,
    reason: result.reason,
    job: result.job?.name,
    registeredVersion: result.modelVersion,
    promotionId: result.promotionId,
  };
  announce(ctx, result.outcome === 'registered' ? 'retraining-finished' : 'retraining-failed', details);
  yield* publishPending(ctx);
  return result;
}

function* retrain(ctx: Context): Step<RetrainingResult> {
  const input = ctx.df.getInput() as RetrainingInput;
  const { modelName, retraining, trigger } = input;
  const runId = ctx.df.instanceId;
  const status: RetrainingStatus = { phase: 'environment', modelName, timeline: [] };
  const mark = (phase: RetrainingStatus['phase'], note: string) => {
    status.phase = phase;
    // Durable keeps custom status small (16 KB): notes quoting Azure's messages are cut; the result keeps them whole.
    const shown = note.length > STATUS_NOTE_LIMIT ? `${note.slice(0, STATUS_NOTE_LIMIT - 1)}…` : note;
    status.timeline.push({ at: now(ctx).toISOString(), phase, note: shown });
    ctx.df.setCustomStatus(status);
  };
  const result: Omit<RetrainingResult, 'outcome' | 'reason'> = { modelName, runId, trigger };
  const done = (outcome: RetrainingResult['outcome'], reason: string): RetrainingResult => {
    mark('done', `${outcome}: ${reason}`);
    return { outcome, reason, ...result };
  };
  const { jobSpec } = retraining;
  lifecycleSubject(ctx, { modelName });
  announce(ctx, 'retraining-started', { source: trigger.source, reason: trigger.reason, triggerId: trigger.triggerId });

  // 1. The job spec and its environment, at a version that is the hash of the definition in the repo.
  mark('environment', `${trigger.source}: ${trigger.reason}`);
  const spec = yield* activity(ctx, 'readTrainingSpec', { jobSpec });
  if (!spec.ok) return done('failed', `job spec ${jobSpec}: ${spec.message}`);
  const environment = yield* activity(ctx, 'ensureEnvironment', { jobSpec });
  if (!environment.ok) return done('failed', `environment of ${jobSpec}: ${environment.message}`);
  result.environment = { name: environment.name, version: environment.version, created: environment.created };
  mark(
    'environment',
    `${environment.created ? 'created' : 'reusing'} environment ${environment.name}:${environment.version}`,
  );

  // 2. Data checks before any compute is spent.
  const asset = retraining.trainingDataAsset;
  mark('data-checks', `checking ${asset.name}:${asset.version ?? 'latest'}`);
  const check = yield* activity(ctx, 'checkTrainingData', { jobSpec, dataAsset: asset });
  result.dataCheck = { ok: check.ok, dataVersion: check.dataVersion, report: check.report };
  if (!check.ok || check.dataVersion === undefined) {
    const failed = check.ok ? 'no data version' : check.failed.join('; ');
    return done('data-check-failed', `data checks failed on ${asset.name}:${check.dataVersion ?? '?'}: ${failed}`);
  }
  const dataAsset = { name: asset.name, version: check.dataVersion };

  // 3. The command job: one name per run, submitted at most once, awaited with durable timers.
  const jobName = trainingJobName(runId, ctx.df.newGuid(`${runId}:job`));
  status.jobName = jobName;
  mark('training', `submitting ${jobName} on ${dataAsset.name}:${dataAsset.version}`);
  const submission = yield* activity(ctx, 'submitTrainingJob', {
    jobName,
    jobSpec,
    environmentId: environment.id,
    dataAsset,
    tags: trainingJobTags(modelName, runId, trigger.source),
  });
  if (!submission.ok) return done('failed', `submitting ${jobName} failed: ${submission.code}: ${submission.message}`);
  result.job = { name: jobName, status: submission.status, submitted: submission.submitted };
  mark('training', `${submission.submitted ? 'submitted' : 'found already submitted'} ${jobName}`);

  const deadline = now(ctx).getTime() + spec.deadlineSeconds * 1000;
  let wait = spec.polling.initialSeconds;
  let job: TrainingJobCheck;
  for (;;) {
    const left = Math.max(0, (deadline - now(ctx).getTime()) / 1000);
    yield* sleep(ctx, Math.min(wait, left));
    job = yield* activityWithRetry(ctx, READ_RETRY, 'checkTrainingJob', { jobName });
    result.job.status = job.status;
    if (job.state !== 'Running') break;
    if (now(ctx).getTime() >= deadline) {
      const cancel = yield* activity(ctx, 'cancelTrainingJob', { jobName });
      result.job.status = cancel.status;
      return done(
        'timed-out',
        `${jobName} was still ${job.status} at the deadline (${spec.deadlineSeconds}s); cancelled`,
      );
    }
    wait = Math.max(Math.min(wait * spec.polling.factor, spec.polling.maxSeconds), job.retryAfterSeconds ?? 0);
  }
  result.job.logExcerpt = job.logExcerpt;
  if (job.state === 'Failed') return done('job-failed', `${jobName} ended ${job.status}: ${job.code}: ${job.message}`);
  result.job.metrics = job.metrics;

  // 4. When the policy asks, a person approves the trained model before it is registered: rejected or timed out,
  // the job's output stays unregistered (and recorded here). Runs started without this in their input yield
  // exactly what they did before, so their histories replay unchanged.
  if (retraining.approval?.required) {
    const gate = yield* approveRegistration(ctx, input, jobName, job.metrics, status, mark);
    result.decision = gate.decision;
    if (gate.decision.decision === 'reject') {
      result.unregisteredModelUri = job.modelUri;
      return gate.timedOut
        ? done(
            'approval-timed-out',
            `no decision by ${gate.expiresAt}; the policy rejects on timeout: ${jobName}'s model was not registered`,
          )
        : done(
            'rejected',
            `rejected by ${gate.decision.approver}${gate.decision.comment ? `: ${gate.decision.comment}` : ''}; ${jobName}'s model was not registered`,
          );
    }
  }

  // 5. Register the trained version; its ModelRegistered event starts the promotion.
  mark('registering', `registering ${jobName}'s model as a new version of ${modelName}`);
  const registered = yield* activity(ctx, 'registerTrainedModel', {
    modelName,
    jobName,
    modelUri: job.modelUri,
    metrics: job.metrics,
    evaluationDataVersion: `${dataAsset.name}:${dataAsset.version}`,
    runId,
    trigger,
    environmentId: environment.id,
  });
  result.modelVersion = registered.version;
  result.promotionId = promotionInstanceId(modelName, registered.version);
  return done(
    'registered',
    `${modelName}:${registered.version} registered from ${jobName}; promotion ${result.promotionId} follows`,
  );
}
