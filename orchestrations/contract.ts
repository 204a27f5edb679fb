/**
 * The one typed contract between flows and activities: every activity's name, input and output. Orchestrations
 * call activities only through `activity(ctx, name, input)`, so a renamed activity or a changed shape fails to
 * compile. Inputs and outputs are plain JSON: they are recorded in the orchestration history.
 */
import type { StageTransition } from '../lib/domain/stages';
import type { Evidence } from '../lib/domain/evaluation';
import type { EvidenceRecord } from '../lib/domain/evidence-record';
import type { CodeConfiguration, EvaluationSettings, Policy, RolloutAnalysis, TestSpec } from '../lib/domain/policy';
import type { Registrant } from '../lib/domain/people';
import type { Slot } from '../lib/domain/rollout-plan';
import type { StepJudgement } from '../lib/domain/judge';
import type { FreezeInForce, FreezeLift, FreezeWindow } from '../lib/domain/freeze';

export interface EndpointView {
  exists: boolean;
  provisioningState?: string;
  traffic: Record<string, number>;
  /** Deployment name → the model version it serves ("name:version"), when known. */
  deployments: Record<string, { model?: string; provisioningState: string }>;
}

/** A started ARM operation: poll it with `checkProvisioning` after `retryAfterSeconds`. */
export type Started =
  | { ok: true; retryAfterSeconds: number; operationUrl?: string }
  | { ok: false; code: string; message: string; retryAfterSeconds?: number };

/** A deployment delete ARM accepted (202 + `Location`), to poll after `retryAfterSeconds`; or nothing to delete. */
export type Removal = { deleted: false } | { deleted: true; retryAfterSeconds?: number; operationUrl?: string };

/** What a traffic change assumes of the endpoint; it is refused with ENDPOINT_CHANGED when that no longer holds. */
export interface TrafficExpectation {
  /** The deployment that must hold `model`, provisioned. */
  deployment: Slot;
  /** "name:version". */
  model: string;
  /** The split the endpoint must still have. */
  traffic: Record<string, number>;
}

export const ENDPOINT_CHANGED = 'EndpointChanged';

export type ProvisioningCheck =
  | { state: 'InProgress'; retryAfterSeconds: number }
  | { state: 'Succeeded' }
  | { state: 'Failed'; code: string; message: string };

export interface TestReport {
  ok: boolean;
  requests: number;
  failures: string[];
  p50LatencyMs: number;
  maxLatencyMs: number;
}

export type { StageTransition };

export interface StageChange {
  /** Versions whose tags were written (empty when the tags already said so). */
  written: string[];
  /** The version that lost its `staged` tag to this one, with the promotion that staged it. */
  displaced?: { version: string; promotionId?: string };
  /** Staging was refused: a newer winner is staged or serving (nothing was written). */
  superseded?: NewerWinner;
}

/** A version newer than the one being promoted that won and still stands (see lib/domain/stages.ts newerWinner). */
export interface NewerWinner {
  version: string;
  stage: 'staged' | 'production';
}

/** An approval request sent: the links went to the approvers through the notifier, and only there. */
export interface ApprovalRequested {
  expiresAt: string;
}

export interface ReleaseRecord {
  gitSha?: string;
  repository?: string;
}

/** One rollout step to judge: the challenger's slot against the champion's over the step's window. */
export interface JudgeRolloutStepInput {
  modelName: string;
  endpointName: string;
  championDeployment: string;
  challengerDeployment: string;
  /** The window (ISO 8601), usually the step's bake: from when its split took effect to the judgement. */
  from: string;
  to: string;
  analysis: RolloutAnalysis;
  /**
   * A mirror phase: the challenger answers no live request (its copies' answers are dropped), so the step is judged
   * on replayed requests alone — their 5xx, latencies and answers. Absent: a live step.
   */
  phase?: 'mirror' | 'live';
}

/** Verdict, a one-line reason and each metric's numbers (lib/domain/judge.ts). */
export type JudgeRolloutStepOutput = StepJudgement;

export interface Activities {
  readEndpoint: { input: { endpointName: string }; output: EndpointView };
  beginCreateEndpoint: { input: { endpointName: string; modelName: string }; output: Started };
  beginDeploy: {
    input: {
      endpointName: string;
      slot: Slot;
      modelName: string;
      modelVersion: string;
      instanceType: string;
      instanceCount: number;
      /** Absent in histories recorded before request settings were sent: Azure's defaults then. */
      requestSettings?: Policy['rollout']['requestSettings'];
      promotionId: string;
      /** A custom model's scoring script and environment, from the policy. */
      codeConfiguration?: CodeConfiguration;
      environmentId?: string;
    };
    output: Started;
  };
  /** `slot` absent = the endpoint itself; `deleting`: a delete is followed, so a resource that is gone is done. */
  checkProvisioning: {
    input: { endpointName: string; slot?: Slot; operationUrl?: string; deleting?: boolean };
    output: ProvisioningCheck;
  };
  /** Starts deleting the slot's deployment; follow the delete with `checkProvisioning` (`deleting: true`). */
  deleteDeployment: { input: { endpointName: string; slot: Slot }; output: Removal };
  testDeployment: {
    input: {
      endpointName: string;
      slot: Slot;
      testSpec: TestSpec;
      /** Names the columns of sample rows given as arrays (the evaluation data's, but the label). */
      evaluation?: Pick<EvaluationSettings, 'dataAsset' | 'labelColumn'>;
    };
    output: TestReport;
  };
  evaluateChallenger: {
    input: { policy: Policy; endpointName: string; championSlot: string | null; challengerSlot: Slot };
    output: Evidence;
  };
  changeStage: {
    input: { modelName: string; modelVersion: string; transition: StageTransition; promotionId: string };
    output: StageChange;
  };
  requestApproval: {
    input: {
      promotionId: string;
      modelName: string;
      modelVersion: string;
      evidenceSummary: string;
      expiresAt: string;
      nonce: string;
      /** The policy's approvers: each gets links only they can use. Absent: one pair for anyone allowed. */
      approvers?: string[];
      /**
       * Set when the approval is for registering a retraining's model (`promotionId` is then the run's id and
       * `modelVersion` describes the job output): there is no registered version whose registrant to look up.
       */
      beforeRegistration?: true;
    };
    output: ApprovalRequested;
  };
  /** Whether a rollout control event carries the seal of the app's control routes (lib/approval.ts sealControl). */
  verifyControl: {
    input: { promotionId: string; control: RolloutControl; seal?: string };
    output: { sealed: boolean };
  };
  /** Sends the approvers their links again, as a reminder before the request expires (same input as the request). */
  remindApprovers: { input: Activities['requestApproval']['input']; output: ApprovalRequested };
  /** Whether a decision event carries the seal of the app's decision routes (lib/approval.ts sealDecision). */
  verifyDecision: {
    input: { promotionId: string; decision: ApprovalDecision; seal?: string };
    output: { sealed: boolean };
  };
  /** A newer version of the model that is staged or serving, if any: the promoted one is superseded by it. */
  findNewerWinner: { input: { modelName: string; modelVersion: string }; output: { newer?: NewerWinner } };
  /** The version's `stage` tag (null when it has none), and when it was registered (orders versions). */
  readStage: {
    input: { modelName: string; modelVersion: string };
    output: { stage: string | null; createdAt?: string };
  };
  /** Starts an endpoint update to `traffic`; with `expect`, only while the endpoint is as expected. */
  setTraffic: {
    input: {
      endpointName: string;
      traffic: Record<string, number>;
      /** Mirror traffic to set with it (`{}` clears it); absent: left as it is. */
      mirror?: Record<string, number>;
      expect?: TrafficExpectation;
    };
    output: Started;
  };
  recordRelease: {
    input: { endpointName: string; slot: Slot; promotionId: string; modelName: string; modelVersion: string };
    output: ReleaseRecord;
  };
  /**
   * Publishes the lifecycle steps it carries, and does nothing else: only for a flow that ends with steps no other
   * activity carried (every activity publishes what it carries: orchestrations/durable.ts announce).
   */
  publishLifecycle: { input: Record<string, never>; output: Record<string, never> };
  /**
   * The release freeze in force for the model at `at`: the policy's windows, and the freeze a person asked for (the
   * release-freeze entity's state), with when to look again.
   */
  checkReleaseFreeze: {
    input: { modelName: string; windows: FreezeWindow[]; at: string };
    output: FreezeInForce;
  };
  /** Starts the orchestration that removes a release's warm slot when its rollback window ends (idempotent). */
  startSlotRetirement: { input: { instanceId: string; retirement: RetirementInput }; output: { started: boolean } };
  /** Raises an event on another orchestration instance (e.g. tells a waiting promotion it was superseded). */
  signalInstance: { input: { instanceId: string; eventName: string; data: unknown }; output: { delivered: boolean } };
  /**
   * Judges one rollout step from the endpoint's own signals over [from, to] (ISO 8601): the challenger's slot against
   * the champion's (lib/rollout-analysis.ts). Small output: it is kept in history and the promotion's record.
   */
  judgeRolloutStep: { input: JudgeRolloutStepInput; output: JudgeRolloutStepOutput };

  // ---- continuous training (retrainModel) ----
  /** Reads the job specification in the repo (e.g. jobs/train-demand.json) and returns what the flow needs. */
  readTrainingSpec: { input: { jobSpec: string }; output: TrainingSpecRead };
  /** Makes sure the environment of the job spec exists at version = hash of its definition file; creates it if not. */
  ensureEnvironment: { input: { jobSpec: string }; output: EnvironmentEnsured };
  /** Sanity checks on the training data asset (schema, missing, ranges, drift vs the reference) before any compute. */
  checkTrainingData: {
    input: { jobSpec: string; dataAsset: { name: string; version?: string } };
    output: TrainingDataCheck;
  };
  /** Submits the command job under a deterministic name; if a job of that name exists, it is not submitted again. */
  submitTrainingJob: {
    input: {
      jobName: string;
      jobSpec: string;
      environmentId: string;
      dataAsset: { name: string; version: string };
      tags: Record<string, string>;
    };
    output: TrainingJobSubmission;
  };
  checkTrainingJob: { input: { jobName: string }; output: TrainingJobCheck };
  cancelTrainingJob: { input: { jobName: string }; output: { canceled: boolean; status: string } };
  /** Registers the job's model output as the next version (idempotent: one version per job). */
  registerTrainedModel: { input: RegisterTrainedModelInput; output: { version: string; created: boolean } };

  // ---- environments (promoteAcrossEnvironments) ----
  /**
   * Registers a version promoted in one environment in the next environment's workspace (`workspace`, the target):
   * its files copied from the source's datastore to the target's default datastore, then registered under the same
   * name and version with lineage tags back to the source (lib/domain/environments.ts LINEAGE_TAGS). Idempotent.
   */
  copyModelVersion: { input: CopyModelVersionInput; output: CopyModelVersionOutput };
  /** Whether the version served the previous environment without an incident over the bake (a bake gate). */
  checkBake: { input: CheckBakeInput; output: CheckBakeOutput };
}

export interface CopyModelVersionInput {
  /** The target workspace (ARM id). */
  workspace: string;
  /** The source workspace (ARM id). */
  fromWorkspace: string;
  modelName: string;
  modelVersion: string;
  /** The source environment, and the promotion that released the version there. */
  sourceEnvironment: string;
  sourcePromotionId: string;
  /** The evidence it was promoted on there (its digest is tagged). */
  evidence?: Evidence;
  /** The target environment's registry (ARM id): the version goes through it (policy `environments[i].registry`). */
  registry?: string;
}

export type CopyModelVersionOutput =
  | { ok: true; created: boolean; modelUri: string; tags: Record<string, string> }
  | { ok: false; code: string; message: string };

export interface CheckBakeInput {
  /** The previous environment's workspace and endpoint, where the version baked. */
  workspace: string;
  endpointName: string;
  /** "name:version". */
  model: string;
  from: string;
  to: string;
  maxErrorRate: number;
}

export interface CheckBakeOutput {
  ok: boolean;
  incidents: string[];
  requests: number;
  serverErrors: number;
}

export type ActivityName = keyof Activities;
export type ActivityInput<K extends ActivityName> = Activities[K]['input'];
export type ActivityOutput<K extends ActivityName> = Activities[K]['output'];

/** What a promotion is started with. The trigger resolves the policy, so the flow never reads settings. */
export interface PromotionInput {
  modelName: string;
  modelVersion: string;
  policy: Policy;
  /**
   * The person who registered the version (they may not approve it): the registry's `systemData.createdBy` when
   * `createdByType` is a person's. Attempts started before that was read carry what a tag said.
   */
  registeredBy?: string;
  /** Who registered the version, person or not, as the registry recorded it; shown to approvers. */
  registrant?: Registrant;
  source: 'event' | 'manual' | 'retry';
  /** 1 for the first promotion of the version, then 2, 3… for each retry (absent in attempts started before retries). */
  attempt?: number;
  /** The attempt this one tries again. */
  retryOf?: string;
  /**
   * The workspace (ARM id) of the environment this promotion runs in, when a policy's environments started it: every
   * activity it calls addresses that workspace (orchestrations/durable.ts). Absent: the app's own workspace.
   */
  workspace?: string;
  /** The environment's name, when a policy's environments started it. */
  environment?: string;
  /**
   * A retry across environments: the environments earlier attempts promoted the version in and where it still serves
   * (lib/promotions.ts carriedEnvironments). The attempt does nothing there.
   */
  carried?: CarriedEnvironment[];
}

/** An environment an earlier attempt promoted the version in: its promotion, and the evidence it was promoted on. */
export interface CarriedEnvironment {
  environment: string;
  promotionId: string;
  evidence?: Evidence;
}

export type PromotionOutcome =
  'promoted' | 'lost-evaluation' | 'rejected' | 'approval-timed-out' | 'superseded' | 'failed';

/** How a decision's approver was established (`policy`: nobody decided in time, the policy did). */
export type IdentitySource = 'app-service-authentication' | 'approval-link' | 'local-user' | 'request' | 'policy';

export interface ApprovalDecision {
  /** Names this submission, so whoever sent it can tell whether it was the one the promotion took. */
  id?: string;
  decision: 'approve' | 'reject';
  approver: string;
  /** True only when the platform (App Service authentication) established who the approver is. */
  authenticated?: boolean;
  identity?: IdentitySource;
  comment?: string;
  via: 'link' | 'api' | 'cli';
  at: string;
  /** Digest of the evidence the approver was shown (the promotion's page); absent for API and CLI decisions. */
  evidenceDigest?: string;
}

export interface PromotionResult {
  outcome: PromotionOutcome;
  modelName: string;
  modelVersion: string;
  reason: string;
  evidence?: Evidence;
  decision?: ApprovalDecision;
  release?: ReleaseRecord & { endpointName: string; slot: string };
  failure?: { code: string; message: string };
  /** The previous champion's slot kept warm after the release, until when, and what removes it (flow version 8 on). */
  rollbackWindow?: { slot: Slot; until: string; retirementId: string };
  /** How the progressive rollout ended: its steps, verdicts and the latest controls taken (flow version 6 on). */
  rollout?: RolloutState;
  /**
   * Every timeline entry, including those the custom status left out to stay within Durable's limit (absent from
   * promotions that finished before it was recorded).
   */
  timeline?: TimelineEntry[];
  /** A promotion across environments: how far it went in each (policy `environments`). */
  environments?: EnvironmentProgress[];
}

/** One environment of a promotion across environments. */
export interface EnvironmentProgress {
  name: string;
  workspace: string;
  endpointName: string;
  state: 'pending' | 'gate' | 'copying' | 'promoting' | 'promoted' | 'stopped';
  /** The environment's own promotion (a sub-orchestration, `{parent}@{name}`). */
  promotionId?: string;
  outcome?: PromotionOutcome;
  reason?: string;
  /** The gate passed (or not) before it: who approved, or the bake's numbers. */
  gate?: string;
  /** The lineage tags of the version registered in its workspace (after the first). */
  lineage?: Record<string, string>;
  /** Promoted there by an earlier attempt (`promotionId`), and serving still: this attempt did nothing there. */
  carried?: true;
}

export interface TimelineEntry {
  at: string;
  phase: string;
  note: string;
}

/** The promotion's custom status: where it is and what happened so far, for status queries and the CLI. */
export interface PromotionStatus {
  phase:
    | 'preparing'
    | 'deploying'
    | 'testing'
    | 'evaluating'
    | 'evaluated'
    | 'awaiting-approval'
    | 'frozen'
    | 'rolling-out'
    | 'rolling-back'
    | 'done';
  modelName: string;
  modelVersion: string;
  /** The latest entries, notes cut short; the result holds them all. */
  timeline: TimelineEntry[];
  /** How many earlier entries `timeline` leaves out. */
  earlierEntries?: number;
  /** Both models' values and the rest an approver sees (older promotions: decision, reason and n only). */
  evidence?: EvidenceRecord;
  /** When the approval request expires; its links went to the approvers only. */
  approval?: ApprovalRequested;
  /** The decision the promotion took (the first to arrive); later ones are refused. */
  decision?: ApprovalDecision;
  /** Decision events it could not take (malformed, or from someone the policy does not admit). */
  ignoredEvents?: number;
  /** Where a progressive rollout is (flow version 6 on). */
  rollout?: RolloutState;
  /** The release freeze the promotion waits out, while it waits (flow version 10 on). */
  freeze?: Extract<FreezeInForce, { frozen: true }>;
  /** A promotion across environments: each one's progress. */
  environments?: EnvironmentProgress[];
  /**
   * The gate being waited for before an environment: for an approval, who may decide (the decision routes check
   * them, as they check a promotion's policy approvers).
   */
  gate?: { environment: string; kind: 'approval' | 'bake'; until: string; approvers?: string[] };
}

/** A person's (or an outside alert's) say in a running rollout, as the control routes send it. */
export interface RolloutControl {
  /** Names this submission. */
  id?: string;
  /**
   * pause: the bake clock stops; resume: it runs again for what was left; promote-now: the challenger takes 100 % at
   * once, skipping the remaining steps and analysis; abort: all traffic back to the champion in one update.
   */
  action: 'pause' | 'resume' | 'promote-now' | 'abort';
  by: string;
  /** True only when the platform (App Service authentication) established who asked. */
  authenticated: boolean;
  identity: IdentitySource;
  reason: string;
  /** `alert`: an outside alert asked to stop the bake. */
  via: 'api' | 'cli' | 'alert';
  at: string;
}

/** A control the rollout took, and when. */
export interface RolloutControlTaken extends RolloutControl {
  takenAt: string;
  /** Which phase it was taken in (1-based). */
  step: number;
}

/** A step's verdict, from the judgement hook (orchestrations/rollout.ts judgeStep). */
export interface StepVerdict {
  step: number;
  verdict: 'Pass' | 'Fail' | 'Inconclusive';
  reason: string;
}

/** The custom status of a progressive rollout: which step, at what percentage, and when its bake ends. */
export interface RolloutState {
  strategy: string;
  state: 'shifting' | 'baking' | 'paused' | 'judging' | 'completed' | 'aborted' | 'rolled-back';
  /** 1-based phase, of how many (a mirror phase counts as one). */
  step: number;
  of: number;
  kind: 'mirror' | 'live';
  /** The challenger's share of live traffic, and of mirrored traffic. */
  percent: number;
  mirrorPercent?: number;
  champion: string | null;
  challenger: string;
  startedAt: string;
  bakeEndsAt?: string;
  /** While paused: how much of the bake is left. */
  remainingBakeMs?: number;
  /** Past this time (the policy's maxDuration) the rollout is aborted. */
  deadline?: string;
  /** The latest controls taken (who, why), newest last. */
  controls: RolloutControlTaken[];
  verdicts: StepVerdict[];
}

export const EVENTS = {
  decision: 'decision',
  superseded: 'superseded',
  /** Pause, resume, promote now, abort (lib/rollout-controls.ts). */
  control: 'rollout-control',
  /** A person lifted the model's release freeze: a promotion waiting at its release looks again at once. */
  freezeLifted: 'freeze-lifted',
} as const;

/** What a promotion is told when a person lifts the freeze it waits out. */
export type FreezeLifted = Pick<FreezeLift, 'by' | 'reason' | 'at'>;

// ---------------------------------------------------------------------------------------------------------------
// Continuous training

/** What the flow reads from the job spec in the repo (everything else stays in the activities). */
export type TrainingSpecRead =
  | {
      ok: true;
      /** Durable-timer backoff while the job runs: start, growth factor and ceiling, in seconds. */
      polling: { initialSeconds: number; factor: number; maxSeconds: number };
      /** Overall deadline of the job from its submission; the job is cancelled when it passes. */
      deadlineSeconds: number;
    }
  | { ok: false; code: string; message: string };

export type EnvironmentEnsured =
  | { ok: true; name: string; version: string; id: string; created: boolean }
  | { ok: false; code: string; message: string };

export type TrainingDataCheck =
  | { ok: true; dataVersion: string; report: string }
  | { ok: false; dataVersion?: string; report: string; failed: string[] };

export type TrainingJobSubmission =
  { ok: true; jobName: string; submitted: boolean; status: string } | { ok: false; code: string; message: string };

export type TrainingJobCheck =
  | { state: 'Running'; status: string; retryAfterSeconds?: number }
  | {
      state: 'Completed';
      status: string;
      metrics: Record<string, string>;
      modelUri: string;
      logExcerpt: string[];
      properties: Record<string, string>;
    }
  | { state: 'Failed'; status: string; code: string; message: string; logExcerpt: string[] };

export interface RetrainingTriggerInfo {
  source: 'drift-v1' | 'drift-v2' | 'timer' | 'manual';
  /** Why the guard started this run (its decision detail), plus what the trigger said. */
  reason: string;
  /** The trigger orchestration that started the run. */
  triggerId: string;
}

export interface RegisterTrainedModelInput {
  modelName: string;
  jobName: string;
  modelUri: string;
  metrics: Record<string, string>;
  /** `name:version` of the data the recorded metrics were computed on (held-out split of the training data). */
  evaluationDataVersion: string;
  runId: string;
  trigger: RetrainingTriggerInfo;
  environmentId: string;
}

/** What retrainModel is started with; the trigger resolves the policy, so the flow never reads settings. */
export interface RetrainingInput {
  modelName: string;
  retraining: {
    jobSpec: string;
    trainingDataAsset: { name: string; version?: string };
    /** A person approves the trained model before it is registered (absent: registered at once). */
    approval?: Policy['approval'];
  };
  trigger: RetrainingTriggerInfo;
}

export type RetrainingOutcome =
  | 'registered'
  | 'data-check-failed'
  | 'job-failed'
  | 'timed-out'
  | 'failed'
  /** A person rejected the trained model before registration: the job's output stays unregistered. */
  | 'rejected'
  /** Nobody decided in time and the policy rejects on timeout: unregistered too. */
  | 'approval-timed-out';

export interface RetrainingResult {
  outcome: RetrainingOutcome;
  modelName: string;
  runId: string;
  reason: string;
  trigger: RetrainingTriggerInfo;
  environment?: { name: string; version: string; created: boolean };
  dataCheck?: { ok: boolean; dataVersion?: string; report: string };
  job?: { name: string; status: string; submitted: boolean; metrics?: Record<string, string>; logExcerpt?: string[] };
  modelVersion?: string;
  /** The promotion the registration starts (through its ModelRegistered event). */
  promotionId?: string;
  /** The decision taken before registration, when the policy asks for one. */
  decision?: ApprovalDecision;
  /** The trained model left unregistered (rejected or timed out): the job output it is in. */
  unregisteredModelUri?: string;
}

export interface RetrainingStatus {
  phase: 'environment' | 'data-checks' | 'training' | 'awaiting-approval' | 'registering' | 'done';
  modelName: string;
  jobName?: string;
  /** While it waits for a person before registering: until when (the links go only to the approvers). */
  approval?: { expiresAt: string };
  /** The trained model's metrics that person decides on (bounded; the run's page shows them). */
  metrics?: Record<string, string>;
  /** The decision taken, published as soon as it is (its sender looks for it, as for a promotion). */
  decision?: ApprovalDecision;
  ignoredEvents?: number;
  timeline: { at: string; phase: string; note: string }[];
}

/** The previous champion's slot, kept warm for a rollback until `until`, then removed (orchestrations/retire-slot.ts). */
export interface RetirementInput {
  modelName: string;
  policy: Policy;
  slot: Slot;
  /** The promotion whose release left the slot warm. */
  promotionId: string;
  until: string;
  /** The workspace (ARM id) of the promotion's environment, when it had one: every activity addresses it. */
  workspace?: string;
}

/** One retirement per released version: a repeated start finds it. */
export function retirementId(modelName: string, modelVersion: string): string {
  return `retire:${modelName}:${modelVersion}`;
}

export interface RetirementResult {
  outcome: 'removed' | 'kept' | 'gone';
  modelName: string;
  slot: Slot;
  /** What the slot held when the window opened ("name:version"). */
  held?: string;
  reason: string;
  timeline: TimelineEntry[];
}

/** A person asked to put the previous production version back (orchestrations/rollback-model.ts). */
export interface RollbackInput {
  modelName: string;
  /** For an environment after the first: that environment's policy (its endpoint and rollout). */
  policy: Policy;
  requestedBy: { name: string; authenticated: boolean; identity: IdentitySource };
  reason: string;
  at: string;
  /** The environment rolled back, when the policy names environments; the first one's is the app's own workspace. */
  environment?: string;
  /** An environment's workspace (ARM id) after the first: every activity of the rollback addresses it. */
  workspace?: string;
}

export interface RollbackResult {
  outcome: 'rolled-back' | 'refused' | 'failed';
  modelName: string;
  /** The environment rolled back, when the policy names environments. */
  environment?: string;
  reason: string;
  requestedBy: RollbackInput['requestedBy'];
  /** Why the person asked. */
  requestReason: string;
  /** What served before, and what serves after a rollback. */
  from?: { slot: Slot; model: string };
  to?: { slot: Slot; model: string };
  timeline: TimelineEntry[];
}

export interface RollbackStatus {
  phase: 'waiting-for-lock' | 'rolling-back' | 'done';
  modelName: string;
  timeline: TimelineEntry[];
}
