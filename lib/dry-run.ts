/**
 * Dry runs: a promotion's or a retraining's decisions against live state, changing nothing. They read the workspace
 * through a port that refuses every write (so a forgotten write fails instead of happening), reuse the activities'
 * own reads (the endpoint view, the evaluation, the data checks) and the pure decisions the flows take, and return a
 * plan. No Durable instance, no tag, no notification, no upload.
 */
import type * as df from 'durable-functions';
import {
  retrainingRunId,
  signalSource,
  trainingJobName,
  trainingJobTags,
  type GuardState,
} from '../orchestrations/retrain-model';
import {
  createActivities,
  createTrainingActivities,
  isMlflowModel,
  modelFilesLocation,
  readCodeFolder,
  readEnvironmentDefinition,
  readTrainingJobSpec,
  releaseTags,
  repoRoot,
  resolveComputeId,
  SpecError,
  trainingJobBody,
  type ActivityDeps,
  type EndpointKeyCache,
  type WorkspaceDeps,
} from './activities';
import { attemptInstanceId, retryVerdict } from './domain/attempts';
import { codeAssetName, codeSnapshotHash, codeUploadFolder } from './domain/code-snapshot';
import { compareRecordedMetrics, type Evidence } from './domain/evaluation';
import { describeFreeze } from './domain/freeze';
import { readFreezes } from './freezes';
import { registrantOf } from './domain/people';
import { copiedFrom, environmentPolicy, environmentPromotionId, LINEAGE_TAGS } from './domain/environments';
import { policyFor, type EnvironmentSettings, type Policy, type PolicySet } from './domain/policy';
import { parseRegistryId, sameWorkspace } from './domain/workspace-id';
import { planPromotion, type ArmWrite, type EvaluationPreview, type PromotionPlan } from './domain/promotion-plan';
import type { Slot } from './domain/rollout-plan';
import { stageOf } from './domain/stages';
import { decideRetraining, type RetrainingDecision, type RetrainingTrigger } from './domain/retraining-guard';
import type { CodeStore, DataReader, MlWorkspace, ModelRegistry, ModelVersion, Notifier, Scoring } from './ports';
import type { CarriedEnvironment } from '../orchestrations/contract';
import { attemptsOf, attemptState, carriedEnvironments, exists, inProduction, unregistered } from './promotions';
import type { RetrainingPolicy } from './retraining';

/** The workspace port's methods that change something (ARM PUT, PATCH, DELETE, or a POST that acts). */
export const WORKSPACE_WRITES = [
  'updateModelTags',
  'registerModelVersion',
  'beginCreateEndpoint',
  'replaceTraffic',
  'updateEndpointTags',
  'beginCreateDeployment',
  'beginDeleteDeployment',
  'submitJob',
  'cancelJob',
  'createEnvironmentVersion',
  'createCodeVersion',
] as const satisfies readonly (keyof MlWorkspace)[];

export class DryRunWriteRefused extends Error {
  constructor(what: string) {
    super(`a dry run changes nothing, yet it tried ${what}`);
    this.name = 'DryRunWriteRefused';
  }
}

/** The workspace with every write refused: what a dry run reads through. */
export function readOnlyWorkspace(workspace: MlWorkspace): MlWorkspace {
  const refused = new Set<string>(WORKSPACE_WRITES);
  return new Proxy(workspace, {
    get(target, property, receiver) {
      if (typeof property === 'string' && refused.has(property)) {
        return () => Promise.reject(new DryRunWriteRefused(`workspace.${property}`));
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const refusingNotifier: Notifier = {
  approvalRequested: () => Promise.reject(new DryRunWriteRefused('to notify approvers')),
};
const refusingCode: CodeStore = {
  uploadCode: () => Promise.reject(new DryRunWriteRefused('to upload code')),
};

export interface DryRunDeps {
  workspace: MlWorkspace;
  scoring: Scoring;
  data: DataReader;
  /** The app's endpoint keys, so a key it holds is not listed again. */
  keys?: EndpointKeyCache;
  gitSha?: string;
  gitRepository?: string;
  /** ARM id of the workspace (`/subscriptions/…/workspaces/NAME`): the writes' paths start with it. */
  workspacePath: string;
  /** Where jobs/ and environments/ are read from (the app's root by default). */
  repoDir?: string;
  /** Another workspace's ports, by its ARM id (a policy environment's): read through the same write-refusing port. */
  forWorkspace?: (workspaceId: string) => WorkspaceDeps;
  /** An Azure ML registry, by its ARM id: only read. */
  forRegistry?: (registryId: string) => Pick<ModelRegistry, 'getModelVersion'>;
}

/** Activity dependencies that can only read: the dry runs call the activities' reads through them. */
function readingDeps(deps: DryRunDeps): ActivityDeps & { repoDir?: string } {
  return {
    workspace: readOnlyWorkspace(deps.workspace),
    scoring: deps.scoring,
    data: deps.data,
    code: refusingCode,
    notifier: refusingNotifier,
    // A preview rolls nothing out, so it has no rollout step to judge.
    metrics: { requestCounts: () => Promise.reject(new Error('a dry run judges no rollout step')) },
    // A preview's evaluation is not one that happened: it sends no telemetry.
    telemetry: { event: () => undefined, exception: () => undefined },
    approvalSecret: '',
    publicUrl: '',
    signal: () => Promise.reject(new DryRunWriteRefused('to signal a promotion')),
    start: () => Promise.reject(new DryRunWriteRefused('to start an orchestration')),
    // A preview stops before the release, where a freeze would be looked at.
    readFreeze: () => Promise.reject(new Error('a dry run does not reach the release')),
    ...(deps.keys ? { keys: deps.keys } : {}),
    ...(deps.gitSha ? { gitSha: deps.gitSha } : {}),
    ...(deps.gitRepository ? { gitRepository: deps.gitRepository } : {}),
    ...(deps.repoDir ? { repoDir: deps.repoDir } : {}),
  };
}

/** The dry runs' dependencies in the running app: its adapters, read through the write-refusing port. */
export function appDryRunDeps(app: {
  settings: Parameters<typeof workspaceArmPath>[0];
  deps: Omit<ActivityDeps, 'signal' | 'start' | 'readFreeze'>;
}): DryRunDeps {
  const { workspace, scoring, data, keys, gitSha, gitRepository, forWorkspace, forRegistry } = app.deps;
  return {
    workspace,
    scoring,
    data,
    ...(forWorkspace ? { forWorkspace } : {}),
    // Only its reads: a registry's writes are not in the dry run's reach at all.
    ...(forRegistry
      ? {
          forRegistry: (id: string) => {
            const registry = forRegistry(id);
            return { getModelVersion: (name: string, version: string) => registry.getModelVersion(name, version) };
          },
        }
      : {}),
    ...(keys ? { keys } : {}),
    ...(gitSha ? { gitSha } : {}),
    ...(gitRepository ? { gitRepository } : {}),
    workspacePath: workspaceArmPath(app.settings),
  };
}

export function workspaceArmPath(settings: {
  AZURE_SUBSCRIPTION_ID: string;
  AZURE_RESOURCE_GROUP: string;
  AZUREML_WORKSPACE_NAME: string;
}): string {
  return (
    `/subscriptions/${settings.AZURE_SUBSCRIPTION_ID}/resourceGroups/${settings.AZURE_RESOURCE_GROUP}` +
    `/providers/Microsoft.MachineLearningServices/workspaces/${settings.AZUREML_WORKSPACE_NAME}`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Promotion

export interface PromotionDryRun {
  dryRun: true;
  /** Whether a start now would start it, and the instance id it would take; else why not (as the start answers). */
  start: { id: string; wouldStart: boolean; refusal?: string };
  /** The promotion's plan; across environments, the first environment's this attempt would promote in. */
  plan: PromotionPlan;
  /** A policy with environments: each one's part, in order (QA → production). */
  environments?: EnvironmentPlan[];
  /** A freeze in force now (the policy's window or a person's): a release reaching it would wait, as the flow waits. */
  freeze?: { holds: string; until?: string };
}

/** One environment's part of a promotion across environments. */
export interface EnvironmentPlan {
  name: string;
  workspace: string;
  endpointName: string;
  /** Promoted there by an earlier attempt and in production still: a retry goes on after it, changing nothing there. */
  carried?: { promotionId: string };
  /** What opens the way in (every environment but the first), while the version serves the previous one. */
  gate?:
    | { kind: 'approval'; approvers: string[] | null; timeout: string | number; onTimeout: 'approve' | 'reject' }
    | { kind: 'bake'; bake: string | number; maxErrorRate: number; in: string };
  /** How the version gets into its workspace (every environment but the first), once the gate opens. */
  copy?: CopyPlan;
  /** Its own promotion, from its workspace's live state as the copy would leave it. */
  plan?: PromotionPlan;
  /** Why the promotion would not get here. */
  notReached?: string;
}

export interface CopyPlan {
  from: string;
  /** The registry it goes through (its ARM id), and whether the version is there already. */
  registry?: { id: string; has: boolean };
  /** Registered in the workspace already, copied from the same source: used as it is. */
  registered: boolean;
  /** Why the copy would stop (a version of that name and number that came from elsewhere). */
  problem?: string;
  /** Uploads to blob storage (not ARM) before the writes. */
  uploads: string[];
  armWrites: ArmWrite[];
}

export type PromotionDryRunOutcome = { kind: 'plan'; result: PromotionDryRun } | { kind: 'not-found'; message: string };

/**
 * What a start by hand of this version would do. Refused as the start is: a model no policy covers, a version the
 * registry does not have (404).
 */
export async function dryRunPromotion(
  client: df.DurableClient,
  policies: PolicySet,
  deps: DryRunDeps,
  request: { modelName: string; modelVersion: string },
  now = new Date(),
): Promise<PromotionDryRunOutcome> {
  const { modelName, modelVersion } = request;
  const policy = policyFor(policies, modelName);
  if (!policy) return { kind: 'not-found', message: `No promotion policy covers model "${modelName}".` };
  const reading = readingDeps(deps);
  const version = await reading.workspace.getModelVersion(modelName, modelVersion);
  if (!version) return unregistered(modelName, modelVersion);

  // Planned for the promotion that would act: a new one; else the next attempt when the last one may be retried;
  // else the one that exists (a start is refused, and the plan is what it does from where things stand).
  const latest = (await attemptsOf(client, modelName, modelVersion)).at(-1);
  const next = attemptInstanceId(modelName, modelVersion, (latest?.attempt ?? 0) + 1);
  const latestState = latest ? attemptState(latest.status) : undefined;
  const retried = latestState !== undefined && retryVerdict(latestState).retry;
  const promotionId = latestState && !retried ? latestState.id : next;
  const start = latestState
    ? { id: latestState.id, wouldStart: false, refusal: exists(latestState).message }
    : stageOf(version) === 'production'
      ? { id: next, wouldStart: false, refusal: inProduction(modelName, modelVersion).message }
      : { id: next, wouldStart: true };

  const frozen = await freezeNow(client, policies, modelName, now);
  const freeze = frozen ? { freeze: frozen } : {};
  if (!policy.environments) {
    const { plan } = await planIn(reading, deps, policy, { modelName, modelVersion, promotionId, version });
    return { kind: 'plan', result: { dryRun: true, start, plan, ...freeze } };
  }
  // Environments the latest attempt (or those before it) promoted it in and where it serves still are carried: a
  // retry goes on after them, and an attempt that runs or ended has nothing left to do there.
  const carried = latest
    ? await carriedEnvironments(client, policy, latest.status, (id) => portsOf(deps, id).workspace)
    : [];
  const target = { modelName, modelVersion, promotionId, version };
  const environments = await planEnvironments(deps, policy, target, carried);
  // Promoted everywhere: the first environment's plan says there is nothing to promote.
  const plan =
    environments.find((e) => e.plan)?.plan ??
    (await planIn(reading, deps, environmentPolicy(policy, policy.environments[0]!), target)).plan;
  return { kind: 'plan', result: { dryRun: true, start, plan, environments, ...freeze } };
}

/** The freeze on the model's releases now, read as the flow reads it before a release. */
async function freezeNow(
  client: df.DurableClient,
  policies: PolicySet,
  modelName: string,
  now: Date,
): Promise<PromotionDryRun['freeze']> {
  const read = await readFreezes(client, policies, modelName, now);
  if (!read.ok || !read.value.inForce.frozen) return undefined;
  const inForce = read.value.inForce;
  return { holds: describeFreeze(inForce), ...(inForce.until ? { until: inForce.until } : {}) };
}

interface Planned {
  modelName: string;
  modelVersion: string;
  promotionId: string;
  /** The version as registered in the workspace planned in (or as the copy would register it). */
  version: ModelVersion;
  /** The version as first registered, whose registrant may not approve it anywhere. */
  registeredAs?: ModelVersion;
}

/** A promotion's plan in one workspace: its live state read through `reading`, evaluated as far as it can be. */
async function planIn(
  reading: ActivityDeps,
  deps: DryRunDeps,
  policy: Policy,
  target: Planned,
  options: { workspacePath?: string; evaluation?: EvaluationPreview } = {},
): Promise<{ plan: PromotionPlan; evaluation: EvaluationPreview }> {
  const { modelName, modelVersion, promotionId, version } = target;
  const { workspace } = reading;
  const activities = createActivities(reading);
  const [listed, endpoint] = await Promise.all([
    workspace.listModelVersions(modelName),
    activities.readEndpoint({ endpointName: policy.endpointName }),
  ]);
  // The copy a later environment would make is among its versions once made.
  const versions = listed.some((v) => v.version === modelVersion) ? listed : [...listed, version];
  const champion = Object.entries(endpoint.traffic).find(([, percent]) => percent === 100)?.[0] ?? null;
  const evaluation =
    options.evaluation ??
    (await previewEvaluation(policy, `${modelName}:${modelVersion}`, endpoint, champion, {
      workspace,
      evaluate: (challengerSlot) =>
        // Any deployment holding the challenger scores it: the activity only names it in the routing header.
        activities.evaluateChallenger({
          policy,
          endpointName: policy.endpointName,
          championSlot: champion,
          challengerSlot: challengerSlot as Slot,
        }),
      challengerProperties: version.properties,
    }));
  const plan = planPromotion({
    policy,
    modelName,
    modelVersion,
    promotionId,
    versions: versions.map((v) => ({
      version: v.version,
      tags: v.tags,
      ...(v.createdAt ? { createdAt: v.createdAt } : {}),
    })),
    endpoint,
    model: { id: version.id, deployableWithoutCode: isMlflowModel(version) },
    // Who registered it first: a copy is registered by the app, and the flow hands each environment the original's.
    ...registrantOf(target.registeredAs ?? version),
    evaluation,
    releaseTags: releaseTags(deps, modelName, modelVersion, promotionId),
    workspacePath: options.workspacePath ?? deps.workspacePath,
  });
  return { plan, evaluation };
}

/** The ports of a workspace a policy environment names: the app's own, or another's through `forWorkspace`. */
function portsOf(deps: DryRunDeps, workspaceId: string): DryRunDeps {
  if (sameWorkspace(workspaceId, deps.workspacePath)) return deps;
  if (!deps.forWorkspace)
    throw new Error(`workspace: ${workspaceId} cannot be reached: this app serves one workspace.`);
  const { workspace, data, keys } = deps.forWorkspace(workspaceId);
  return { ...deps, workspace, data, ...(keys ? { keys } : { keys: undefined }), workspacePath: workspaceId };
}

/**
 * A promotion across the policy's environments, as orchestrations/promote-environments.ts runs it: environments an
 * earlier attempt promoted it in are carried; then, in each, the gate, the copy and its own promotion, planned from
 * that workspace's live state. It stops at the first environment whose plan does not release the version.
 */
async function planEnvironments(
  deps: DryRunDeps,
  policy: Policy,
  target: Planned,
  carried: readonly CarriedEnvironment[],
): Promise<EnvironmentPlan[]> {
  const { modelName, modelVersion } = target;
  const ref = `${modelName}:${modelVersion}`;
  const plans: EnvironmentPlan[] = [];
  let previous: { name: string; workspace: string; promotionId: string } | undefined;
  let evidence: { from: string; preview: EvaluationPreview } | undefined;
  let stopped: string | undefined;
  for (const environment of policy.environments ?? []) {
    const here: EnvironmentPlan = {
      name: environment.name,
      workspace: environment.workspace,
      endpointName: environment.endpointName ?? policy.endpointName,
    };
    plans.push(here);
    const carriedHere = carried.find((c) => c.environment === environment.name);
    if (carriedHere) {
      here.carried = { promotionId: carriedHere.promotionId };
      previous = { name: environment.name, workspace: environment.workspace, promotionId: carriedHere.promotionId };
      if (carriedHere.evidence) {
        const through = `the evidence ${carriedHere.promotionId} was promoted on`;
        evidence = { from: environment.name, preview: { previewed: true, evidence: carriedHere.evidence, through } };
      }
      continue;
    }
    if (stopped) {
      here.notReached = stopped;
      continue;
    }
    try {
      const ports = portsOf(deps, environment.workspace);
      const reading = readingDeps(ports);
      const promotionId = environmentPromotionId(target.promotionId, environment.name);
      let version = target.version;
      if (previous) {
        const gate = environment.gate!;
        here.gate =
          gate.kind === 'approval'
            ? {
                kind: 'approval',
                approvers: gate.approval.approvers ? [...gate.approval.approvers] : null,
                timeout: gate.approval.timeout,
                onTimeout: gate.approval.onTimeout,
              }
            : { kind: 'bake', bake: gate.bake, maxErrorRate: gate.maxErrorRate, in: previous.name };
        const copy = await planCopy(deps, reading.workspace, { ...target, from: previous, environment });
        here.copy = copy.plan;
        if (!copy.version) {
          stopped = here.notReached = `${environment.name}: ${copy.plan.problem}`;
          continue;
        }
        version = copy.version;
      }
      const reuse = environment.evaluation.mode === 'reuse' && previous !== undefined;
      const reused: EvaluationPreview | undefined = !reuse
        ? undefined
        : evidence?.preview.previewed
          ? { ...evidence.preview, through: `${evidence.from}'s evidence, reused (${evidence.preview.through})` }
          : {
              previewed: false,
              why: `${environment.name} reuses ${previous!.name}'s evidence, which cannot be previewed${evidence && !evidence.preview.previewed ? `: ${evidence.preview.why}` : ''}`,
            };
      const { plan, evaluation } = await planIn(
        reading,
        ports,
        environmentPolicy(policy, environment),
        { ...target, promotionId, version, registeredAs: target.version },
        { workspacePath: ports.workspacePath, ...(reused ? { evaluation: reused } : {}) },
      );
      here.plan = plan;
      if (!reuse) evidence = { from: environment.name, preview: evaluation };
      if (plan.verdict !== 'would-stage') {
        stopped = `${environment.name}'s promotion would not release ${ref} (${plan.verdict}: ${plan.summary})`;
      }
      previous = { name: environment.name, workspace: environment.workspace, promotionId };
    } catch (err) {
      // A workspace or registry the app cannot read (a role missing, say) is what a dry run is for finding.
      if (err instanceof DryRunWriteRefused) throw err;
      stopped = here.notReached = `${environment.name}: could not read it: ${(err as Error).message.slice(0, 300)}`;
    }
  }
  return plans;
}

/**
 * The copy into `environment`'s workspace, as copyModelVersion makes it: through its registry when it names one,
 * then registered with lineage. Reads only; the version it would register is returned for the environment's plan.
 */
async function planCopy(
  deps: DryRunDeps,
  target: MlWorkspace,
  c: Planned & { from: { name: string; workspace: string; promotionId: string }; environment: EnvironmentSettings },
): Promise<{ plan: CopyPlan; version?: ModelVersion }> {
  const { modelName, modelVersion, environment, from } = c;
  const ref = `${modelName}:${modelVersion}`;
  const plan: CopyPlan = { from: from.name, registered: false, uploads: [], armWrites: [] };
  const stop = (problem: string) => ({ plan: Object.assign(plan, { problem }) });
  const fromSource = (tags: Record<string, string>) => copiedFrom(tags, from.workspace, ref);
  const existing = await target.getModelVersion(modelName, modelVersion);
  if (existing) {
    if (!fromSource(existing.tags)) {
      return stop(
        `${ref} already exists in ${environment.workspace} and was not copied from ${from.workspace}: nothing would be copied`,
      );
    }
    plan.registered = true;
    return { plan, version: existing };
  }
  // The source is the previous environment's registration: planned, not made yet, when that one is a copy too.
  const source = readOnlyWorkspace(portsOf(deps, from.workspace).workspace);
  const original = (await source.getModelVersion(modelName, modelVersion)) ?? c.version;
  const location = original.modelUri?.startsWith('azureml://jobs/')
    ? await modelFilesLocation(source, original)
    : { ok: true as const, uri: original.modelUri ?? `the files of ${ref} in ${from.name}` };
  if (!location.ok) return stop(location.message);
  const registered: Record<string, string> = {
    [LINEAGE_TAGS.workspace]: from.workspace,
    [LINEAGE_TAGS.version]: ref,
    [LINEAGE_TAGS.environment]: from.name,
    [LINEAGE_TAGS.promotion]: from.promotionId,
  };
  const lineage = [
    ...Object.entries(registered).map(([k, v]) => `${k}=${v}`),
    `${LINEAGE_TAGS.evidence}=sha256 of the evidence it was promoted on`,
  ];
  const described = `${original.modelType ?? 'custom_model'}, the same properties, tags ${lineage.join(', ')}`;
  if (environment.registry) {
    if (!deps.forRegistry) throw new Error(`registry: ${environment.registry} cannot be reached: no registry access.`);
    const { registryName } = parseRegistryId(environment.registry);
    const inRegistry = await deps.forRegistry(environment.registry).getModelVersion(modelName, modelVersion);
    if (inRegistry && !fromSource(inRegistry.tags)) {
      return stop(
        `${ref} already exists in ${environment.registry} and was not copied from ${from.workspace}: nothing would be copied`,
      );
    }
    plan.registry = { id: environment.registry, has: inRegistry !== undefined };
    const versionPath = `${environment.registry}/models/${modelName}/versions/${modelVersion}`;
    if (!inRegistry) {
      plan.armWrites.push({
        method: 'POST',
        path: `${versionPath}/startPendingUpload`,
        body: 'asks the registry where to put the files (a blob location and its SAS)',
        when: 'once the gate opens',
      });
      plan.uploads.push(`${location.uri} → the registry's pending upload`);
      plan.armWrites.push({
        method: 'PUT',
        path: versionPath,
        body: `the version from the pending upload: ${described}`,
        when: 'once the gate opens, after the upload',
      });
    }
    registered[LINEAGE_TAGS.registry] =
      `azureml://registries/${registryName}/models/${modelName}/versions/${modelVersion}`;
  }
  const folder = `champion/environments/${from.name}/${modelName}/${modelVersion}`;
  plan.uploads.push(`${location.uri} → ${folder} in ${environment.name}'s default datastore`);
  const path = `${environment.workspace}/models/${modelName}/versions/${modelVersion}`;
  plan.armWrites.push({
    method: 'PUT',
    path,
    body: `the version from ${folder}: ${described}${registered[LINEAGE_TAGS.registry] ? `, ${LINEAGE_TAGS.registry}=${registered[LINEAGE_TAGS.registry]}` : ''}`,
    when: `once the gate opens${environment.registry ? ', after the registry has it' : ', after the upload'}`,
  });
  const { modelUri: _uri, createdAt: _at, createdBy: _by, createdByType: _type, ...kept } = original;
  return { plan, version: { ...kept, id: path, tags: registered } };
}

/**
 * The evaluation as far as it can be run without deploying: recorded metrics always; a paired comparison only
 * through a deployment of the challenger that already exists on the endpoint.
 */
async function previewEvaluation(
  policy: Policy,
  model: string,
  endpoint: Awaited<ReturnType<ReturnType<typeof createActivities>['readEndpoint']>>,
  champion: string | null,
  how: {
    workspace: MlWorkspace;
    evaluate: (challengerSlot: string) => Promise<Evidence>;
    challengerProperties: Record<string, string>;
  },
): Promise<EvaluationPreview> {
  if (policy.evaluation.mode === 'recorded') {
    const servedBy = champion ? endpoint.deployments[champion]?.model : undefined;
    const [name, version] = servedBy ? (servedBy.split(':') as [string, string]) : [];
    const championModel = name && version ? await how.workspace.getModelVersion(name, version) : undefined;
    return {
      previewed: true,
      evidence: compareRecordedMetrics(championModel?.properties ?? null, how.challengerProperties, policy),
      through: `the metrics recorded on ${model}${servedBy ? ` and ${servedBy}` : ''}`,
    };
  }
  if (!endpoint.exists) {
    return {
      previewed: false,
      why: `${policy.endpointName} does not exist: the paired evaluation scores through deployments, and a dry run deploys nothing`,
    };
  }
  const deployedIn = Object.entries(endpoint.deployments).find(
    ([, d]) => d.model === model && d.provisioningState === 'Succeeded',
  )?.[0];
  if (!deployedIn) {
    return {
      previewed: false,
      why: `${model} is not deployed on ${policy.endpointName}: the paired evaluation scores the challenger through its deployment, and a dry run deploys nothing`,
    };
  }
  if (deployedIn === champion) {
    return {
      previewed: false,
      why: `${model} is the champion (it serves ${policy.endpointName} from ${deployedIn}): there is nothing to compare it with`,
    };
  }
  try {
    return {
      previewed: true,
      evidence: await how.evaluate(deployedIn),
      through: `${deployedIn} (holds ${model})${champion ? ` against ${champion} (${endpoint.deployments[champion]?.model ?? 'the champion'})` : ''}`,
    };
  } catch (err) {
    return { previewed: false, why: `scoring through ${deployedIn} failed: ${(err as Error).message}` };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Retraining

export interface RetrainingPlan {
  dryRun: true;
  modelName: string;
  /** What the model's guard would answer this request now, from its recorded state. */
  guard: { decision: RetrainingDecision; runId?: string; activeRun?: string };
  verdict: 'would-train' | 'guard-skips' | 'data-checks-fail' | 'would-fail';
  summary: string;
  jobSpec: { path: string; problem?: string; deadlineSeconds?: number };
  environment?: { name: string; version: string; exists: boolean; id: string };
  dataChecks?: { ok: boolean; dataVersion?: string; report: string; failed?: string[] };
  code?: { name: string; version: string; files: number; exists: boolean; uploadFolder: string };
  /** The job as it would be sent: its name takes a guid the run draws, shown as `xxxxxxxx`. */
  job?: { name: string; body: Record<string, unknown> };
  /** The gate before registration (retraining.approval): who would be asked once the model is trained. */
  approval?: { approvers: string[] | null; timeout: string | number; onTimeout: 'approve' | 'reject' };
  /** Uploads to the default datastore (blob storage, not ARM) before the job is submitted. */
  uploads: string[];
  armWrites: ArmWrite[];
}

const JOB_GUID_PLACEHOLDER = 'xxxxxxxx-xxxx';

export async function dryRunRetraining(
  deps: DryRunDeps,
  policy: RetrainingPolicy,
  guardState: GuardState | undefined,
  trigger: RetrainingTrigger,
  now: Date,
): Promise<RetrainingPlan> {
  const { modelName, retraining } = policy;
  const reading = readingDeps(deps);
  const { workspace } = reading;
  const root = deps.repoDir ?? repoRoot();
  const armWrites: ArmWrite[] = [];
  const uploads: string[] = [];
  const state = guardState ?? { log: [], runs: 0 };
  const { decision } = decideRetraining({
    trigger,
    log: state.log,
    state: { activeRun: state.activeRun, lastFinishedAt: state.lastFinishedAt },
    now,
    policy: { cooldownMs: retraining.cooldownMs, ...(retraining.kOfN && { kOfN: retraining.kOfN }) },
  });
  const runId = retrainingRunId(modelName, state.runs + 1);
  const guard = {
    decision,
    ...(decision.action === 'start' ? { runId } : {}),
    ...(state.activeRun ? { activeRun: state.activeRun.id } : {}),
  };
  const plan: RetrainingPlan = {
    dryRun: true,
    modelName,
    guard,
    verdict: 'would-train',
    summary: '',
    jobSpec: { path: retraining.jobSpec },
    ...(retraining.approval?.required
      ? {
          approval: {
            approvers: retraining.approval.approvers ? [...retraining.approval.approvers] : null,
            timeout: retraining.approval.timeout,
            onTimeout: retraining.approval.onTimeout,
          },
        }
      : {}),
    uploads,
    armWrites,
  };
  const stop = (verdict: RetrainingPlan['verdict'], summary: string) => Object.assign(plan, { verdict, summary });

  // The rest runs whatever the guard says: what a run would do is worth seeing before the cooldown ends too.
  let spec;
  try {
    spec = readTrainingJobSpec(retraining.jobSpec, root);
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    plan.jobSpec.problem = err.message;
    return stop('would-fail', `job spec ${retraining.jobSpec}: ${err.message}`);
  }
  plan.jobSpec.deadlineSeconds = spec.deadline;
  let environment;
  try {
    environment = readEnvironmentDefinition(spec.environment, root);
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    return stop('would-fail', `environment of ${retraining.jobSpec}: ${err.message}`);
  }
  const { definition, version: environmentVersion } = environment;
  const existingEnvironment = await workspace.getEnvironmentVersion(definition.name, environmentVersion);
  const environmentPath = `${deps.workspacePath}/environments/${definition.name}/versions/${environmentVersion}`;
  plan.environment = {
    name: definition.name,
    version: environmentVersion,
    exists: existingEnvironment !== undefined,
    id: existingEnvironment?.id ?? environmentPath,
  };
  if (!existingEnvironment) {
    armWrites.push({
      method: 'PUT',
      path: environmentPath,
      body: `environment ${definition.name} from ${spec.environment}${definition.image ? ` (image ${definition.image})` : ''}, its version the hash of the definition`,
      when: 'always (this version does not exist)',
    });
  }

  const asset = retraining.trainingDataAsset;
  const check = await createTrainingActivities(reading).checkTrainingData({
    jobSpec: retraining.jobSpec,
    dataAsset: asset,
  });
  plan.dataChecks = {
    ok: check.ok,
    ...(check.dataVersion !== undefined ? { dataVersion: check.dataVersion } : {}),
    report: check.report,
    ...(!check.ok ? { failed: check.failed } : {}),
  };
  const guardSays =
    decision.action === 'skip' ? `; the guard would skip it now (${decision.reason}: ${decision.detail})` : '';
  if (!check.ok || check.dataVersion === undefined) {
    const failed = check.ok ? 'no data version' : check.failed.join('; ');
    return stop(
      decision.action === 'skip' ? 'guard-skips' : 'data-checks-fail',
      `the data checks would stop the run before any job is submitted: ${failed}${guardSays}`,
    );
  }
  const dataAsset = { name: asset.name, version: check.dataVersion };
  const data = (await workspace.listDataVersions(asset.name)).find((v) => v.version === check.dataVersion);
  if (!data) return stop('would-fail', `data asset ${asset.name}:${check.dataVersion} does not exist${guardSays}`);
  const compute = spec.compute === undefined ? undefined : await resolveComputeId(workspace, spec.compute);
  if (compute && !compute.ok) return stop('would-fail', `${compute.code}: ${compute.message}${guardSays}`);

  let codeId: string | undefined;
  if (spec.code !== undefined) {
    let files;
    try {
      files = readCodeFolder(spec.code, root);
    } catch (err) {
      if (!(err instanceof SpecError)) throw err;
      return stop('would-fail', `code of ${retraining.jobSpec}: ${err.message}${guardSays}`);
    }
    const name = codeAssetName(spec.code);
    const version = codeSnapshotHash(files);
    const existing = await workspace.getCodeVersion(name, version);
    const uploadFolder = codeUploadFolder(version, spec.code);
    plan.code = { name, version, files: files.length, exists: existing !== undefined, uploadFolder };
    const codePath = `${deps.workspacePath}/codes/${name}/versions/${version}`;
    codeId = existing?.id ?? codePath;
    if (!existing) {
      uploads.push(...files.map((f) => `${uploadFolder}/${f.path}`));
      armWrites.push({
        method: 'PUT',
        path: codePath,
        body: `code version ${name}:${version} (the hash of ${files.length} file(s) in ${spec.code}), codeUri the uploaded folder`,
        when: 'always (this version does not exist), after the upload',
      });
    }
  }

  const jobName = trainingJobName(runId, JOB_GUID_PLACEHOLDER);
  const body = trainingJobBody({
    spec,
    jobName,
    jobSpec: retraining.jobSpec,
    environmentId: plan.environment.id,
    ...(codeId ? { codeId } : {}),
    ...(compute ? { computeId: compute.id } : {}),
    data,
    dataAsset,
    tags: trainingJobTags(modelName, runId, signalSource(trigger)),
    ...(deps.gitSha ? { gitSha: deps.gitSha } : {}),
  });
  plan.job = { name: jobName, body };
  armWrites.push({
    method: 'PUT',
    path: `${deps.workspacePath}/jobs/${jobName}`,
    body: 'the command job shown in job.body, as its properties (api-version 2023-04-01)',
    when: 'always',
  });
  armWrites.push({
    method: 'POST',
    path: `${deps.workspacePath}/jobs/${jobName}/cancel`,
    body: 'cancels the job',
    when: `if it is still running at the job spec's deadline (${spec.deadline} s)`,
  });
  armWrites.push({
    method: 'PUT',
    path: `${deps.workspacePath}/models/${modelName}/versions/{next}`,
    body: "an mlflow_model from the job's model output, with the metrics its run logged and its lineage (which starts a promotion)",
    when: `when the job completes with its model output${plan.approval ? ', once a person approves it (retraining.approval)' : ''}`,
  });
  if (decision.action === 'skip') {
    return stop(
      'guard-skips',
      `the guard would skip it now (${decision.reason}: ${decision.detail}); were it to start, ${describeRun(plan)}`,
    );
  }
  return stop('would-train', `${runId} would ${describeRun(plan)}`);
}

function describeRun(plan: RetrainingPlan): string {
  const env = plan.environment;
  return (
    `${env?.exists ? 'reuse' : 'create'} environment ${env?.name}:${env?.version}, ` +
    `pass the data checks on ${plan.dataChecks?.dataVersion ?? '?'}, ` +
    `${plan.code ? `${plan.code.exists ? 'reuse' : 'upload and register'} code ${plan.code.name}:${plan.code.version.slice(0, 12)}…, ` : ''}` +
    `submit ${plan.job?.name} and register its model`
  );
}
