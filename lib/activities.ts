/**
 * Activities: the only code in a promotion that touches the outside world, built over ports so tests hand in
 * fakes and the app hands in the Azure adapters. Expected failures (a quota error, a failed smoke test) come back
 * as values; thrown errors are for the unexpected and are retried by the flow.
 */
import { RETIRE_SLOT_ORCHESTRATION } from '../orchestrations/retire-slot';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  ENDPOINT_CHANGED,
  type ActivityInput,
  type ActivityName,
  type ActivityOutput,
  type ProvisioningCheck,
  type Removal,
  type Started,
  type TestReport,
  type TrainingJobCheck,
} from '../orchestrations/contract';
import { approvalUrls, createApprovalTokens, isControlSealed, isSealed } from './approval';
import { judgeRolloutStep } from './rollout-analysis';
import {
  CODE_HASH_VERSION,
  codeAssetName,
  codeSnapshotHash,
  codeUploadFolder,
  type CodeFile,
} from './domain/code-snapshot';
import { formatReport, runDataChecks, type DataCheckSpec } from './domain/data-checks';
import {
  comparePairedPredictions,
  compareRecordedMetrics,
  EVALUATION_DATA_VERSION_PROPERTY,
  type Label,
} from './domain/evaluation';
import { freezeInForce, type FreezeState } from './domain/freeze';
import { isLifecycleEvent, type LifecycleEvent } from './domain/lifecycle';
import { pairedDifferences } from './domain/evidence-record';
import { registrantOf } from './domain/people';
import { workspaceIdProblem } from './domain/workspace-id';
import { copiedFrom, evidenceDigestInput, LINEAGE_TAGS, reusedEvidence } from './domain/environments';
import { durationToMilliseconds } from './domain/policy';
import { sameTraffic } from './domain/rollout-plan';
import {
  newerWinner,
  PROMOTION_TAG,
  STAGE_TAG,
  transitionWrites,
  type ModelVersionTags,
  type TagWrite,
} from './domain/stages';
import type {
  Cell,
  CodeStore,
  CodeVersion,
  DataReader,
  Deployment,
  EndpointMetrics,
  Job,
  LifecyclePublisher,
  MlWorkspace,
  ModelFiles,
  ModelRegistry,
  ModelVersion,
  NewModelVersion,
  Notifier,
  Scoring,
  Table,
  Telemetry,
} from './ports';

export interface ActivityDeps {
  workspace: MlWorkspace;
  scoring: Scoring;
  data: DataReader;
  /** Where training code is uploaded (the workspace's default datastore). */
  code: CodeStore;
  notifier: Notifier;
  /** The endpoints' platform metrics (Azure Monitor), which rollout steps are judged by. */
  metrics: EndpointMetrics;
  telemetry: Telemetry;
  approvalSecret: string;
  /** Base URL of this app, for approval links. */
  publicUrl: string;
  gitSha?: string;
  gitRepository?: string;
  /** Raises an event on another orchestration instance. */
  signal(instanceId: string, eventName: string, data: unknown): Promise<boolean>;
  /** Starts an orchestration instance; false when one with that id already runs or ran. */
  start(orchestration: string, instanceId: string, input: unknown): Promise<boolean>;
  /** The model's release-freeze entity state (orchestrations/release-freeze.ts); undefined when never signalled. */
  readFreeze(modelName: string): Promise<FreezeState | undefined>;
  /** Shared across invocations by the composition root, so a promotion lists keys once. */
  keys?: EndpointKeyCache;
  /** Where the lifecycle steps a flow announces are published (none: they are dropped). */
  lifecycle?: LifecyclePublisher;
  /** The model files of this workspace's datastores (copying a model to another environment's workspace). */
  modelFiles?: ModelFiles;
  /**
   * The same ports for another workspace, by its ARM id (a policy environment's): an activity whose input names a
   * `workspace` runs against it. Absent: only the app's own workspace is reachable.
   */
  forWorkspace?: (workspaceId: string) => WorkspaceDeps;
  /** An Azure ML registry, by its ARM id (a policy environment's `registry`). Absent: no registry is reachable. */
  forRegistry?: (registryId: string) => ModelRegistry;
}

/** What differs from one workspace to the next. */
export type WorkspaceDeps = Pick<ActivityDeps, 'workspace' | 'data' | 'code' | 'metrics' | 'keys' | 'modelFiles'>;

export type ActivityHandlers = { [K in ActivityName]: (input: ActivityInput<K>) => Promise<ActivityOutput<K>> };

export { PROMOTION_TAG };
const SCORING_BATCH_ROWS = 500;
/** Batches one model scores at most at once: a few in flight hide the round trips. */
const SCORING_BATCHES_IN_FLIGHT = 4;

export const SCORING_SCRIPT_REQUIRED = 'ScoringScriptRequired';

/**
 * Whether Azure deploys the model without a scoring script and an environment: MLflow models only ("Guidelines for
 * deploying MLflow models"). `mlflow_model` is how the Azure ML CLI and SDK v2 register them; `MLFlowModel` the older
 * REST spelling.
 */
export function isMlflowModel(model: Pick<ModelVersion, 'modelType'>): boolean {
  return ['mlflow_model', 'mlflowmodel'].includes((model.modelType ?? '').toLowerCase());
}

/**
 * Batches Champion keeps in flight to one deployment. Azure ML takes 2 × maxConcurrentRequestsPerInstance ×
 * instances requests at once and answers 429 beyond (online-endpoint troubleshooting guide, "429 Too many pending
 * requests"); Champion takes half of that, what the deployment processes in parallel, so the live traffic a
 * champion serves keeps the rest. maxConcurrentRequestsPerInstance defaults to 1 on Azure.
 */
export function scoringConcurrency(
  deployment: Pick<Deployment, 'maxConcurrentRequestsPerInstance' | 'instanceCount'> | undefined,
): number {
  const perInstance = deployment?.maxConcurrentRequestsPerInstance ?? 1;
  const instances = deployment?.instanceCount ?? 1;
  return Math.max(1, Math.min(SCORING_BATCHES_IN_FLIGHT, perInstance * instances));
}

/**
 * Where a registered version's files are, as a datastore URI: its `modelUri` when it is one, or the datastore path of
 * the job output it was registered from (the job's output `uri`). An output kept by the job only
 * (`azureml://jobs/{job}/outputs/{name}`) cannot be read with the storage SDK: then say so.
 */
export async function modelFilesLocation(
  workspace: Pick<MlWorkspace, 'getJob'>,
  model: Pick<ModelVersion, 'name' | 'version' | 'modelUri'>,
): Promise<{ ok: true; uri: string } | { ok: false; message: string }> {
  const uri = model.modelUri ?? '';
  if (/^azureml:\/\/(?:.*\/)?datastores\/[^/]+\/paths\//i.test(uri)) return { ok: true, uri };
  const output = /^azureml:\/\/jobs\/([^/]+)\/outputs\/([^/]+)\/?$/i.exec(uri);
  if (output) {
    const job = await workspace.getJob(output[1]!);
    const at = job?.outputs[output[2]!];
    if (at && /^azureml:\/\/(?:.*\/)?datastores\/[^/]+\/paths\//i.test(at)) return { ok: true, uri: at };
    return {
      ok: false,
      message: `${model.name}:${model.version} was registered from output ${output[2]} of job ${output[1]}, which names no datastore path (${at ?? 'none'}): its files cannot be copied. Give the job's output a datastore uri, or register the model from a datastore path.`,
    };
  }
  return { ok: false, message: `${model.name}:${model.version} has modelUri "${uri}", which is not a datastore path` };
}

/** "name:version" of the model a deployment serves, from an ARM id or an `azureml:NAME:VERSION` reference. */
export function modelRef(modelId: string | undefined): string | undefined {
  if (!modelId) return undefined;
  const arm = /\/models\/([^/]+)\/versions\/([^/]+)$/i.exec(modelId);
  if (arm) return `${arm[1]}:${arm[2]}`;
  const short = /^azureml:([^:@]+):(.+)$/.exec(modelId);
  return short ? `${short[1]}:${short[2]}` : undefined;
}

/** The tags a promotion stamps on the deployment it makes and, at release, on the endpoint. */
export function releaseTags(
  deps: Pick<ActivityDeps, 'gitSha' | 'gitRepository'>,
  modelName: string,
  modelVersion: string,
  promotionId: string,
): Record<string, string> {
  return {
    'champion.model': `${modelName}:${modelVersion}`,
    [PROMOTION_TAG]: promotionId,
    ...(deps.gitSha ? { 'git.commit': deps.gitSha } : {}),
    ...(deps.gitRepository ? { 'git.repository': deps.gitRepository } : {}),
  };
}

/** What the stage rules read of a model's versions. */
const versionTags = (versions: ModelVersion[]): ModelVersionTags[] =>
  versions.map((v) => ({ version: v.version, tags: v.tags, ...(v.createdAt ? { createdAt: v.createdAt } : {}) }));

function armFailure(err: unknown): { code: string; message: string; retryAfterSeconds?: number } | undefined {
  const e = err as {
    statusCode?: number;
    code?: string;
    message?: string;
    response?: { headers?: { get(n: string): string | undefined } };
  };
  if (e.statusCode === undefined || e.statusCode >= 500 || e.statusCode === 429) return undefined;
  const retryAfterSeconds = Number(e.response?.headers?.get('retry-after'));
  return {
    code: e.code ?? `Http${e.statusCode}`,
    message: e.message ?? 'ARM request failed',
    ...(retryAfterSeconds > 0 ? { retryAfterSeconds } : {}),
  };
}

/** `fn` over `items` with at most `limit` calls in flight; results in the items' order. */
export async function mapConcurrently<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function isConflict(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 409;
}

/** Started, with no operation to follow: checkProvisioning reads the resource's own provisioning state. */
const POLL_RESOURCE: Started = { ok: true, retryAfterSeconds: 0 };

const FAILED_STATES = new Set(['Failed', 'Canceled']);
/** States of a resource whose creation a 409 re-run may follow (it may have finished meanwhile). */
const FOLLOWABLE_STATES = new Set(['Creating', 'Updating', 'Succeeded']);

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

const isCell = (value: unknown): value is Cell =>
  value === null || ['number', 'string', 'boolean'].includes(typeof value);

/**
 * A smoke-test row as a request, or why it cannot be one. An object names its columns; an array takes them in order
 * from the evaluation data's columns (but the label) — never invented names, which the model would refuse.
 */
export function requestRow(
  row: unknown,
  evaluationData: { name: string; columns?: string[] } | undefined,
): { columns: string[]; rows: Cell[][] } | string {
  const shown = JSON.stringify(row);
  if (Array.isArray(row)) {
    if (!evaluationData?.columns) {
      return `${shown} has no column names: write it as an object {"column": value}, or give evaluation.dataAsset, whose columns (but the label) name them`;
    }
    const { columns, name } = evaluationData;
    if (row.length !== columns.length) {
      return `${shown} has ${row.length} value(s); the evaluation data ${name} has ${columns.length} input column(s) (${columns.join(', ')})`;
    }
    if (!row.every(isCell)) return `${shown}: values must be numbers, strings, booleans or null`;
    return { columns, rows: [row] };
  }
  if (row === null || typeof row !== 'object') return `${shown} must be an object {"column": value} or an array`;
  const entries = Object.entries(row);
  if (entries.length === 0 || !entries.every(([, v]) => isCell(v))) {
    return `${shown} must name at least one column, with numbers, strings, booleans or null as values`;
  }
  return { columns: entries.map(([k]) => k), rows: [entries.map(([, v]) => v as Cell)] };
}

/**
 * Endpoint keys, kept for a few minutes: listKeys is a POST, which ARM counts (and throttles) as a write, and a
 * promotion needs the key for its smoke test and its evaluation. Keys never enter orchestration history.
 */
export class EndpointKeyCache {
  readonly #keys = new Map<string, { key: string; until: number }>();
  constructor(
    private readonly workspace: Pick<MlWorkspace, 'getEndpointKey'>,
    private readonly ttlMs = 5 * 60 * 1000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(endpointName: string): Promise<string> {
    const cached = this.#keys.get(endpointName);
    if (cached && cached.until > this.now()) return cached.key;
    const key = await this.workspace.getEndpointKey(endpointName);
    this.#keys.set(endpointName, { key, until: this.now() + this.ttlMs });
    return key;
  }
}

/**
 * Every activity takes the lifecycle steps its flow announced since the previous activity (`lifecycle` in its input,
 * orchestrations/durable.ts) and publishes them while it does its own work, so a step is published by an activity the
 * flow runs anyway, at no cost to the flow's path. A failed activity's retry carries the same steps, which the publisher
 * does not send again (it remembers the ids its sinks took). Publishing never fails the activity (LifecyclePublisher
 * never throws).
 */
export function createActivities(deps: ActivityDeps): ActivityHandlers {
  const portsOf = (id: string): WorkspaceDeps => {
    if (!deps.forWorkspace) throw new Error(`workspace: ${id} cannot be reached: this app serves one workspace.`);
    return deps.forWorkspace(id);
  };
  const own = createActivityHandlers(deps, portsOf);
  const elsewhere = new Map<string, ActivityHandlers>();
  /** The handlers of the workspace an input names (an environment's), or the app's own. */
  const handlersFor = (workspace: string | undefined): ActivityHandlers => {
    if (workspace === undefined) return own;
    const key = workspace.toLowerCase();
    let handlers = elsewhere.get(key);
    if (!handlers) {
      if (!deps.forWorkspace)
        throw new Error(`workspace: ${workspace} cannot be reached: this app serves one workspace.`);
      handlers = createActivityHandlers(
        { ...deps, keys: undefined, modelFiles: undefined, ...portsOf(workspace) },
        portsOf,
      );
      elsewhere.set(key, handlers);
    }
    return handlers;
  };
  const publisher = deps.lifecycle;
  const carrying = {} as Record<ActivityName, (input: unknown) => Promise<unknown>>;
  for (const name of Object.keys(own) as ActivityName[]) {
    carrying[name] = async (input) => {
      const { events, rest } = carriedLifecycle(input);
      const { workspace, own: ownInput } = addressedWorkspace(rest);
      const handler = handlersFor(workspace)[name] as (input: unknown) => Promise<unknown>;
      // The steps already happened: sent while the activity works, they add no wait to the flow's path.
      const [output] = await Promise.all([handler(ownInput), publisher?.publish(events)]);
      return output;
    };
  }
  return carrying as ActivityHandlers;
}

/**
 * Splits the workspace an activity's input addresses (`workspace`, an ARM id: orchestrations/durable.ts adds it for a
 * flow started for an environment) from the rest. `copyModelVersion` takes it as its own field (its target).
 */
export function addressedWorkspace(input: unknown): { workspace?: string; own: unknown } {
  if (typeof input !== 'object' || input === null || !('workspace' in input)) return { own: input };
  const { workspace } = input as { workspace?: unknown };
  if (workspace === undefined) return { own: input };
  if (typeof workspace !== 'string') throw new Error('workspace: must be a workspace ARM id');
  const problem = workspaceIdProblem(workspace);
  if (problem) throw new Error(`workspace: ${problem}`);
  return { workspace, own: input };
}

/** Splits an activity's input into the lifecycle events it carries (well-formed ones only) and its own input. */
export function carriedLifecycle(input: unknown): { events: LifecycleEvent[]; rest: unknown } {
  if (typeof input !== 'object' || input === null || !('lifecycle' in input)) return { events: [], rest: input };
  const { lifecycle, ...rest } = input as { lifecycle?: unknown };
  const events = Array.isArray(lifecycle) ? lifecycle.filter(isLifecycleEvent) : [];
  return { events, rest };
}

function createActivityHandlers(
  deps: ActivityDeps,
  /** The ports of any workspace by ARM id (the app's own included): where a copy reads from. */
  portsOf: (workspaceId: string) => WorkspaceDeps,
): ActivityHandlers {
  const { workspace } = deps;
  const keys = deps.keys ?? new EndpointKeyCache(workspace);

  async function endpointAccess(endpointName: string): Promise<{ scoringUri: string; key: string }> {
    const endpoint = await workspace.getEndpoint(endpointName);
    if (!endpoint?.scoringUri) throw new Error(`Endpoint ${endpointName} has no scoring URI yet.`);
    return { scoringUri: endpoint.scoringUri, key: await keys.get(endpointName) };
  }

  async function predict(
    access: { scoringUri: string; key: string },
    endpointName: string,
    deployment: string,
    table: { columns: string[]; rows: Cell[][] },
  ): Promise<number[]> {
    const batches: Cell[][][] = [];
    for (let i = 0; i < table.rows.length; i += SCORING_BATCH_ROWS) {
      batches.push(table.rows.slice(i, i + SCORING_BATCH_ROWS));
    }
    const limit = scoringConcurrency(await workspace.getDeployment(endpointName, deployment));
    const scored = await mapConcurrently(batches, limit, async (batch) => {
      const result = await deps.scoring.score({ ...access, columns: table.columns, rows: batch, deployment });
      if (result.predictions.length !== batch.length) {
        throw new Error(`${deployment} returned ${result.predictions.length} predictions for ${batch.length} rows.`);
      }
      return result.predictions;
    });
    return scored.flat();
  }

  function splitLabels(
    table: Table,
    labelColumn: string,
  ): { features: { columns: string[]; rows: Cell[][] }; labels: Label[] } {
    const labelIndex = table.columns.indexOf(labelColumn);
    if (labelIndex < 0)
      throw new Error(`Evaluation data has no label column "${labelColumn}" (columns: ${table.columns.join(', ')}).`);
    const columns = table.columns.filter((_, i) => i !== labelIndex);
    const rows: Cell[][] = [];
    const labels: Label[] = [];
    for (const row of table.rows) {
      labels.push(row[labelIndex] as Label);
      // Cells go as read (numbers, strings): the model's signature decides their types, not this code.
      rows.push(row.filter((_, i) => i !== labelIndex));
    }
    return { features: { columns, rows }, labels };
  }

  async function sendApproval(
    input: ActivityInput<'requestApproval'>,
    reminder: boolean,
  ): Promise<ActivityOutput<'requestApproval'>> {
    // Approvers see who registered the version, as the registry recorded it.
    const { registrant } = input.beforeRegistration
      ? {}
      : registrantOf(await workspace.getModelVersion(input.modelName, input.modelVersion));
    const claims = {
      promotionId: input.promotionId,
      modelName: input.modelName,
      modelVersion: input.modelVersion,
      expiresAt: new Date(input.expiresAt),
      nonce: input.nonce,
    };
    // With a list of approvers, each gets links bound to them: a forwarded link is refused to anyone else.
    const approvers: (string | undefined)[] = input.approvers ?? [undefined];
    const links = approvers.map((approver) => {
      const tokens = createApprovalTokens(deps.approvalSecret, { ...claims, approver });
      return {
        ...(approver !== undefined ? { approver } : {}),
        ...approvalUrls(deps.publicUrl, input.promotionId, tokens),
      };
    });
    await deps.notifier.approvalRequested({
      promotionId: input.promotionId,
      modelName: input.modelName,
      modelVersion: input.modelVersion,
      ...(registrant ? { registrant } : {}),
      evidenceSummary: input.evidenceSummary,
      links,
      expiresAt: input.expiresAt,
      ...(reminder ? { reminder: true } : {}),
    });
    return { expiresAt: input.expiresAt };
  }

  async function applyWrites(modelName: string, writes: TagWrite[]): Promise<string[]> {
    for (const write of writes) {
      await workspace.updateModelTags(modelName, write.version, write.set ?? {}, write.remove ?? []);
    }
    return writes.map((w) => w.version);
  }

  return {
    async readEndpoint({ endpointName }) {
      const endpoint = await workspace.getEndpoint(endpointName);
      if (!endpoint) return { exists: false, traffic: {}, deployments: {} };
      const deployments: ActivityOutput<'readEndpoint'>['deployments'] = {};
      for (const d of await workspace.listDeployments(endpointName)) {
        deployments[d.name] = { model: modelRef(d.modelId), provisioningState: d.provisioningState };
      }
      return { exists: true, provisioningState: endpoint.provisioningState, traffic: endpoint.traffic, deployments };
    },

    async beginCreateEndpoint({ endpointName, modelName }): Promise<Started> {
      try {
        const accepted = await workspace.beginCreateEndpoint(endpointName, { 'champion.model': modelName });
        return { ok: true, ...accepted };
      } catch (err) {
        if (isConflict(err)) {
          const current = await workspace.getEndpoint(endpointName);
          if (FOLLOWABLE_STATES.has(current?.provisioningState ?? '')) return POLL_RESOURCE;
        }
        const failure = armFailure(err);
        if (!failure) throw err;
        return { ok: false, ...failure };
      }
    },

    async beginDeploy(input): Promise<Started> {
      const model = await workspace.getModelVersion(input.modelName, input.modelVersion);
      if (!model)
        return {
          ok: false,
          code: 'ModelNotFound',
          message: `${input.modelName}:${input.modelVersion} is not registered.`,
        };
      if (!isMlflowModel(model) && !(input.codeConfiguration && input.environmentId)) {
        return {
          ok: false,
          code: SCORING_SCRIPT_REQUIRED,
          message:
            `${input.modelName}:${input.modelVersion} is a ${model.modelType ?? 'custom'} model: Azure deploys only MLflow ` +
            'models without a scoring script and an environment. Register it as an mlflow_model, or give ' +
            'rollout.codeConfiguration and rollout.environment in its policy.',
        };
      }
      try {
        const accepted = await workspace.beginCreateDeployment(input.endpointName, input.slot, {
          modelId: model.id,
          instanceType: input.instanceType,
          instanceCount: input.instanceCount,
          codeConfiguration: input.codeConfiguration,
          environmentId: input.environmentId,
          requestSettings: input.requestSettings,
          // The deployment carries the commit of the app that deployed it from the start: no later write needed.
          tags: { ...releaseTags(deps, input.modelName, input.modelVersion, input.promotionId) },
        });
        return { ok: true, ...accepted };
      } catch (err) {
        // A re-run (after a crash) of a deploy ARM still works on is answered 409: follow that one instead.
        if (isConflict(err)) {
          const current = await workspace.getDeployment(input.endpointName, input.slot);
          const same = modelRef(current?.modelId) === `${input.modelName}:${input.modelVersion}`;
          if (same && FOLLOWABLE_STATES.has(current?.provisioningState ?? '')) return POLL_RESOURCE;
        }
        const failure = armFailure(err);
        if (!failure) throw err;
        return { ok: false, ...failure };
      }
    },

    async checkProvisioning({ endpointName, slot, operationUrl, deleting }): Promise<ProvisioningCheck> {
      if (operationUrl) {
        const op = await workspace.getOperationStatus(operationUrl);
        if (op.status === 'Succeeded') return { state: 'Succeeded' };
        if (op.status === 'Failed' || op.status === 'Canceled') {
          return {
            state: 'Failed',
            code: op.error?.code ?? op.status,
            message: op.error?.message ?? `operation ${op.status}`,
          };
        }
        return { state: 'InProgress', retryAfterSeconds: op.retryAfterSeconds };
      }
      const state = slot
        ? (await workspace.getDeployment(endpointName, slot))?.provisioningState
        : (await workspace.getEndpoint(endpointName))?.provisioningState;
      if (state === 'Succeeded' || (deleting && state === undefined)) return { state: 'Succeeded' };
      if (state === undefined)
        return { state: 'Failed', code: 'NotFound', message: `${slot ?? endpointName} does not exist` };
      if (state === 'Failed' || state === 'Canceled')
        return { state: 'Failed', code: state, message: `provisioning ${state}` };
      return { state: 'InProgress', retryAfterSeconds: 5 };
    },

    async deleteDeployment({ endpointName, slot }): Promise<Removal> {
      const existing = await workspace.getDeployment(endpointName, slot);
      if (!existing) return { deleted: false };
      try {
        return { deleted: true, ...(await workspace.beginDeleteDeployment(endpointName, slot)) };
      } catch (err) {
        // A delete ARM already works on (a re-run after a crash) may be refused: follow the deployment until it is gone.
        if (isConflict(err)) {
          const current = await workspace.getDeployment(endpointName, slot);
          if (!current || current.provisioningState === 'Deleting') return { deleted: true, retryAfterSeconds: 0 };
        }
        throw err;
      }
    },

    async testDeployment({ endpointName, slot, testSpec, evaluation }): Promise<TestReport> {
      const inputs = [...(testSpec.sampleRows ?? []), ...(testSpec.goldenCases ?? []).map((g) => g.input)];
      const asset = evaluation?.dataAsset;
      const [access, evaluationColumns] = await Promise.all([
        endpointAccess(endpointName),
        // Rows given as arrays take their column names from the evaluation data (all its columns but the label).
        inputs.some(Array.isArray) && asset
          ? deps.data
              .readDataAsset(asset.name, asset.version)
              .then((t) => t.columns.filter((c) => c !== evaluation.labelColumn))
          : undefined,
      ]);
      const columnSource = asset ? { name: `${asset.name}:${asset.version}`, columns: evaluationColumns } : undefined;
      const failures: string[] = [];
      const latencies: number[] = [];
      const cases: { columns: string[]; rows: Cell[][]; expected?: number; tolerance: number }[] = [];
      for (const row of testSpec.sampleRows ?? []) {
        const request = requestRow(row, columnSource);
        if (typeof request === 'string') failures.push(`sample row ${request}`);
        else cases.push({ ...request, tolerance: 0 });
      }
      for (const golden of testSpec.goldenCases ?? []) {
        const request = requestRow(golden.input, columnSource);
        if (typeof request === 'string') failures.push(`golden case ${request}`);
        else if (typeof golden.expected !== 'number')
          failures.push(`golden case ${JSON.stringify(golden.input)} needs a numeric expected value`);
        else cases.push({ ...request, expected: golden.expected, tolerance: golden.tolerance });
      }
      for (const c of cases) {
        try {
          const result = await deps.scoring.score({ ...access, columns: c.columns, rows: c.rows, deployment: slot });
          latencies.push(result.latencyMs);
          if (result.servedBy && result.servedBy !== slot) failures.push(`answered by ${result.servedBy}, not ${slot}`);
          if (result.predictions.length !== c.rows.length)
            failures.push(`expected ${c.rows.length} prediction(s), got ${result.predictions.length}`);
          if (result.latencyMs > testSpec.latencyBudgetMs) {
            failures.push(`latency ${result.latencyMs.toFixed(0)} ms over the ${testSpec.latencyBudgetMs} ms budget`);
          }
          const got = result.predictions[0];
          if (c.expected !== undefined && (got === undefined || Math.abs(got - c.expected) > c.tolerance)) {
            failures.push(`input ${JSON.stringify(c.rows[0])}: expected ${c.expected} ± ${c.tolerance}, got ${got}`);
          }
        } catch (err) {
          failures.push(`input ${JSON.stringify(c.rows[0])}: ${(err as Error).message}`);
        }
      }
      return {
        ok: failures.length === 0,
        requests: cases.length,
        failures,
        p50LatencyMs: median(latencies),
        maxLatencyMs: latencies.length ? Math.max(...latencies) : 0,
      };
    },

    async evaluateChallenger({ policy, endpointName, championSlot, challengerSlot }) {
      // An environment that reuses the previous one's evidence (policy environments[].evaluation.mode "reuse").
      const reused = reusedEvidence(policy);
      if (reused) {
        const reason = `reused from ${reused.environment} (${reused.promotionId}): ${reused.evidence.reason}`;
        return { ...reused.evidence, reason };
      }
      if (policy.evaluation.mode === 'recorded') {
        const view = await workspace.listDeployments(endpointName);
        const modelOf = async (slot: string | null) => {
          const ref = modelRef(view.find((d) => d.name === slot)?.modelId);
          if (!ref) return undefined;
          const [name, version] = ref.split(':') as [string, string];
          return workspace.getModelVersion(name, version);
        };
        const champion = await modelOf(championSlot);
        const challenger = await modelOf(challengerSlot);
        if (!challenger) throw new Error(`Cannot find the model served by ${challengerSlot}.`);
        return compareRecordedMetrics(champion?.properties ?? null, challenger.properties, policy);
      }
      const asset = policy.evaluation.dataAsset;
      if (!asset) throw new Error('Paired evaluation needs evaluation.dataAsset.');
      const [table, access] = await Promise.all([
        deps.data.readDataAsset(asset.name, asset.version),
        endpointAccess(endpointName),
      ]);
      const { features, labels } = splitLabels(table, policy.evaluation.labelColumn);
      const [challenger, champion] = await Promise.all([
        predict(access, endpointName, challengerSlot, features),
        championSlot ? predict(access, endpointName, championSlot, features) : Promise.resolve(null),
      ]);
      const evidence = comparePairedPredictions(
        {
          labels,
          challenger: { predictions: challenger },
          champion: champion ? { predictions: champion } : null,
          dataVersion: `${asset.name}:${asset.version}`,
        },
        policy,
      );
      deps.telemetry.event('ChallengerEvaluated', {
        model: policy.modelName,
        decision: evidence.decision,
        n: evidence.n,
      });
      const differences = pairedDifferences(policy.task, labels, challenger, champion);
      return differences ? { ...evidence, differences } : evidence;
    },

    async changeStage({ modelName, modelVersion, transition, promotionId }) {
      const planned = transitionWrites(
        versionTags(await workspace.listModelVersions(modelName)),
        modelVersion,
        transition,
        promotionId,
      );
      if (planned.superseded) return { written: [], superseded: planned.superseded };
      const { writes, displaced } = planned;
      const written = await applyWrites(modelName, writes);
      deps.telemetry.event('StageChanged', {
        model: modelName,
        version: modelVersion,
        transition,
        written: written.join(','),
      });
      return { written, displaced };
    },

    requestApproval: (input) => sendApproval(input, false),

    // The same links again (same claims and nonce: the same tokens), marked as a reminder.
    remindApprovers: (input) => sendApproval(input, true),

    async verifyControl({ promotionId, control, seal }) {
      return { sealed: isControlSealed(deps.approvalSecret, promotionId, control, seal) };
    },

    async verifyDecision({ promotionId, decision, seal }) {
      return { sealed: isSealed(deps.approvalSecret, promotionId, decision, seal) };
    },

    async findNewerWinner({ modelName, modelVersion }) {
      const newer = newerWinner(versionTags(await workspace.listModelVersions(modelName)), modelVersion);
      return newer ? { newer } : {};
    },

    async readStage({ modelName, modelVersion }) {
      const version = await workspace.getModelVersion(modelName, modelVersion);
      return {
        stage: version?.tags[STAGE_TAG] ?? null,
        ...(version?.createdAt ? { createdAt: version.createdAt } : {}),
      };
    },

    async setTraffic({ endpointName, traffic, mirror, expect }): Promise<Started> {
      try {
        const [read, held] = await Promise.all([
          workspace.readTraffic(endpointName),
          expect ? workspace.getDeployment(endpointName, expect.deployment) : undefined,
        ]);
        if (expect) {
          const model = modelRef(held?.modelId);
          if (model !== expect.model || held?.provisioningState !== 'Succeeded') {
            const holds = held ? `${model ?? 'an unknown model'} (${held.provisioningState})` : 'nothing';
            return {
              ok: false,
              code: ENDPOINT_CHANGED,
              message: `${expect.deployment} holds ${holds}, not ${expect.model}`,
            };
          }
        }
        if (sameTraffic(read.traffic, traffic) && (mirror === undefined || sameTraffic(read.mirrorTraffic, mirror))) {
          // Already so: a re-run after a crash, or nothing to change. Follow that update, unless it failed (a
          // failed update keeps the split it asked for): then send it again.
          if (!FAILED_STATES.has(read.provisioningState)) return POLL_RESOURCE;
        } else if (expect && !sameTraffic(read.traffic, expect.traffic)) {
          return {
            ok: false,
            code: ENDPOINT_CHANGED,
            message: `traffic is ${JSON.stringify(read.traffic)}, not ${JSON.stringify(expect.traffic)}`,
          };
        }
        return { ok: true, ...(await workspace.replaceTraffic(read, traffic, mirror)) };
      } catch (err) {
        const failure = armFailure(err);
        if (!failure) throw err;
        return { ok: false, ...failure };
      }
    },

    async recordRelease({ endpointName, slot, promotionId, modelName, modelVersion }) {
      const tags = releaseTags(deps, modelName, modelVersion, promotionId);
      await workspace.updateEndpointTags(endpointName, { ...tags, 'champion.slot': slot });
      return { gitSha: deps.gitSha, repository: deps.gitRepository };
    },

    async judgeRolloutStep(input) {
      const judgement = await judgeRolloutStep({ ...deps, endpointAccess }, input);
      deps.telemetry.event('RolloutStepJudged', {
        model: input.modelName,
        endpoint: input.endpointName,
        challenger: input.challengerDeployment,
        verdict: judgement.verdict,
      });
      return judgement;
    },

    async checkReleaseFreeze({ modelName, windows, at }) {
      const state = await deps.readFreeze(modelName);
      return freezeInForce(windows, state?.frozen, new Date(at));
    },

    async startSlotRetirement({ instanceId, retirement }) {
      return { started: await deps.start(RETIRE_SLOT_ORCHESTRATION, instanceId, retirement) };
    },

    async signalInstance({ instanceId, eventName, data }) {
      return { delivered: await deps.signal(instanceId, eventName, data) };
    },

    // Its work is publishing what it carries, done by the wrapper above (createActivities).
    async publishLifecycle() {
      return {};
    },

    async copyModelVersion(input) {
      const { modelName, modelVersion } = input;
      const ref = `${modelName}:${modelVersion}`;
      const lineage: Record<string, string> = {
        [LINEAGE_TAGS.workspace]: input.fromWorkspace,
        [LINEAGE_TAGS.version]: ref,
        [LINEAGE_TAGS.environment]: input.sourceEnvironment,
        [LINEAGE_TAGS.promotion]: input.sourcePromotionId,
        ...(input.evidence
          ? {
              [LINEAGE_TAGS.evidence]: `sha256:${createHash('sha256').update(evidenceDigestInput(input.evidence)).digest('hex')}`,
            }
          : {}),
      };
      /** Copied from the same source version (this promotion, or an earlier attempt of it). */
      const copiedFromSource = (tags: Record<string, string>) => copiedFrom(tags, input.fromWorkspace, ref);
      const existing = await workspace.getModelVersion(modelName, modelVersion);
      if (existing) {
        // The same model, kept with the lineage it was copied with. Anything else under that name and version is not
        // ours to replace.
        const kept = Object.fromEntries(
          Object.values(LINEAGE_TAGS)
            .filter((k) => k !== LINEAGE_TAGS.registry || existing.tags[k] !== undefined)
            .map((k) => [k, existing.tags[k] ?? '']),
        );
        if (copiedFromSource(existing.tags))
          return { ok: true, created: false, modelUri: existing.modelUri ?? '', tags: kept };
        return {
          ok: false,
          code: 'VersionExists',
          message: `${ref} already exists in ${input.workspace} and was not copied from ${input.fromWorkspace}: nothing was copied`,
        };
      }
      const source = portsOf(input.fromWorkspace);
      const original = await source.workspace.getModelVersion(modelName, modelVersion);
      if (!original) {
        return { ok: false, code: 'SourceNotFound', message: `${ref} is not in ${input.fromWorkspace}` };
      }
      const location = await modelFilesLocation(source.workspace, original);
      if (!location.ok) return { ok: false, code: 'ModelFilesUnreachable', message: location.message };
      if (!source.modelFiles || !deps.modelFiles)
        throw new Error('Model files cannot be reached: no datastore access.');
      const files = await source.modelFiles.read(location.uri);
      if (files.length === 0) {
        return { ok: false, code: 'ModelFilesUnreachable', message: `${ref}: no files at ${location.uri}` };
      }
      const modelType = (original.modelType ?? 'custom_model') as NewModelVersion['modelType'];
      const description = original.description ? { description: original.description } : {};
      if (input.registry) {
        // Through the environment's registry: the version is created there first, with the same lineage, from files
        // put where its pending upload says; the workspace's registration then names it.
        if (!deps.forRegistry) throw new Error(`registry: ${input.registry} cannot be reached: no registry access.`);
        const registry = deps.forRegistry(input.registry);
        let inRegistry = await registry.getModelVersion(modelName, modelVersion);
        if (inRegistry && !copiedFromSource(inRegistry.tags)) {
          return {
            ok: false,
            code: 'VersionExists',
            message: `${ref} already exists in ${input.registry} and was not copied from ${input.fromWorkspace}: nothing was copied`,
          };
        }
        if (!inRegistry) {
          // One pending upload per source version: a retried copy puts the same files in the same place.
          const pendingUploadId = createHash('sha256')
            .update(`${input.fromWorkspace.toLowerCase()}|${ref}`)
            .digest('hex')
            .slice(0, 32);
          const upload = await registry.startPendingUpload(modelName, modelVersion, pendingUploadId);
          await registry.uploadFiles(upload, files);
          inRegistry = await registry.createModelVersion({
            name: modelName,
            version: modelVersion,
            modelUri: upload.blobUri,
            modelType,
            properties: original.properties,
            tags: lineage,
            ...description,
          });
          deps.telemetry.event('Champion.Environment.Registry', { model: ref, registry: input.registry });
        }
        lineage[LINEAGE_TAGS.registry] = inRegistry.assetUri;
      }
      // Below a folder of its own in the target's default datastore, as the Azure ML CLI uploads a model's files.
      const folder = `champion/environments/${input.sourceEnvironment}/${modelName}/${modelVersion}`;
      const modelUri = await deps.modelFiles.write(folder, files);
      await workspace.registerModelVersion({
        name: modelName,
        version: modelVersion,
        modelUri,
        modelType,
        properties: original.properties,
        tags: lineage,
        ...description,
      });
      deps.telemetry.event('Champion.Environment.Copied', {
        model: ref,
        from: input.fromWorkspace,
        to: input.workspace,
      });
      return { ok: true, created: true, modelUri, tags: lineage };
    },

    async checkBake({ endpointName, model, from, to, maxErrorRate }) {
      const incidents: string[] = [];
      const endpoint = await workspace.getEndpoint(endpointName);
      const deployments = endpoint ? await workspace.listDeployments(endpointName) : [];
      const serving = deployments.filter(
        (d) => modelRef(d.modelId) === model && (endpoint?.traffic[d.name] ?? 0) === 100,
      );
      if (serving.length === 0) incidents.push(`${model} no longer serves all of ${endpointName}`);
      const counts = endpoint ? await deps.metrics.requestCounts(endpointName, new Date(from), new Date(to)) : {};
      let requests = 0;
      let serverErrors = 0;
      for (const c of Object.values(counts)) {
        requests += c.requests;
        serverErrors += c.serverErrors;
      }
      if (requests > 0 && serverErrors / requests > maxErrorRate) {
        const share = ((100 * serverErrors) / requests).toFixed(1);
        incidents.push(
          `${serverErrors} of ${requests} requests answered 5xx (${share} %, above ${100 * maxErrorRate} %)`,
        );
      }
      return { ok: incidents.length === 0, incidents, requests, serverErrors };
    },

    ...createTrainingActivities(deps),
  };
}

export { STAGE_TAG };

// ---------------------------------------------------------------------------------------------------------------
// Continuous training: the job specification and environment definitions kept in the repo, and the activities of
// retrainModel over them.

const durationSetting = z
  .union([z.string(), z.number()])
  .refine(
    (value) => {
      try {
        return durationToMilliseconds(value) > 0;
      } catch {
        return false;
      }
    },
    { message: 'must be an ISO-8601 duration (e.g. PT2H) or a number of seconds > 0' },
  )
  .transform((value) => durationToMilliseconds(value) / 1000);

const driftThresholds = {
  psiMax: z.number().positive().optional(),
  ksMax: z.number().positive().max(1).optional(),
  ksAlpha: z.number().gt(0).lt(1).optional(),
};

const columnCheck = z.strictObject({
  name: z.string().min(1),
  type: z.enum(['number', 'integer', 'string', 'boolean']),
  maxMissingFraction: z.number().min(0).max(1).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  maxOutOfRangeFraction: z.number().min(0).max(1).optional(),
  drift: z.strictObject(driftThresholds).nullable().optional(),
});

const dataAssetRef = z.strictObject({
  name: z.string().min(1),
  version: z.union([z.string(), z.number()]).transform(String),
});

/** A training job specification in the repo (`jobs/*.json`): what `retrainModel` submits and how it waits. */
export const trainingJobSpecSchema = z.strictObject({
  $comment: z.string().optional(),
  displayName: z.string().min(1).optional(),
  description: z.string().optional(),
  experimentName: z.string().min(1).default('champion-retraining'),
  /** `${{inputs.NAME}}` placeholders are expanded by Azure ML; the training data goes in as `trainingDataInput`. */
  command: z.string().min(1),
  /** Path of the environment definition in the repo, e.g. `environments/train.json`. */
  environment: z.string().min(1),
  /**
   * Folder in the repo holding what `command` runs (e.g. `jobs/code` with train.py). It is uploaded as the job's code
   * asset, the job's working directory on Azure; without it the job runs with no code at all.
   */
  code: z.string().min(1).optional(),
  /** Compute target: a cluster name (`cpu-cluster`, `azureml:cpu-cluster`), sent as its ARM id, or the ARM id. */
  compute: z.string().min(1).optional(),
  /** The input the training data goes in as, typed as the data asset is (uri_file, uri_folder, mltable). */
  trainingDataInput: z.string().min(1).default('training_data'),
  /** How the job sees the data: mounted read-only or downloaded first (InputDeliveryMode). */
  trainingDataMode: z.enum(['ReadOnlyMount', 'Download']).default('ReadOnlyMount'),
  /** The job output the model is written to; registration takes the model from it. */
  modelOutput: z
    .strictObject({
      name: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid output name')
        .default('model'),
      type: z.enum(['mlflow_model', 'custom_model', 'uri_folder']).default('mlflow_model'),
      /**
       * The datastore the output is written to (in `azureml/{job}/{output}/`), named in the job so the model's files
       * stay at a datastore path the storage SDK reads: what a copy to another environment's workspace needs.
       * Default `workspaceblobstore`, a workspace's default datastore.
       */
      datastore: z
        .string()
        .regex(/^[A-Za-z0-9_]{1,255}$/, 'must be a datastore name (letters, digits, "_")')
        .default('workspaceblobstore'),
    })
    .prefault({}),
  /** More literal inputs (`task`, `target`, hyper-parameters). */
  inputs: z.record(z.string(), z.string()).default({}),
  environmentVariables: z.record(z.string(), z.string()).optional(),
  polling: z
    .strictObject({
      initialSeconds: z.number().min(0).default(10),
      factor: z.number().min(1).default(2),
      maxSeconds: z.number().positive().default(300),
    })
    .prefault({}),
  deadline: durationSetting.prefault('PT4H'),
  dataChecks: z.strictObject({
    columns: z.array(columnCheck).min(1),
    allowExtraColumns: z.boolean().optional(),
    minRows: z.number().int().min(0).optional(),
    maxTypeErrorFraction: z.number().min(0).max(1).optional(),
    drift: z
      .strictObject({
        ...driftThresholds,
        bins: z.number().int().min(2).optional(),
        epsilon: z.number().positive().optional(),
      })
      .optional(),
    /** The data the drift checks compare against (e.g. the evaluation data the champion was judged on). */
    reference: dataAssetRef.optional(),
  }),
});
export type TrainingJobSpec = z.output<typeof trainingJobSpecSchema>;

/** An Azure ML environment definition in the repo (`environments/*.json`); its version is the hash of the file. */
export const environmentDefinitionSchema = z
  .strictObject({
    $comment: z.string().optional(),
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/, 'must be a valid Azure ML asset name'),
    description: z.string().optional(),
    image: z.string().min(1).optional(),
    build: z.strictObject({ contextUri: z.string().min(1), dockerfilePath: z.string().optional() }).optional(),
    condaFile: z.string().optional(),
    osType: z.enum(['Linux', 'Windows']).optional(),
    tags: z.record(z.string(), z.string()).optional(),
  })
  .refine((d) => Boolean(d.image || d.build), { message: 'needs an image or a build context', path: ['image'] });
export type EnvironmentDefinition = z.output<typeof environmentDefinitionSchema>;

/** Where `jobs/` and `environments/` live: the app's root, found from this file in `lib/` or `dist/lib/`. */
export function repoRoot(start = __dirname): string {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'jobs'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(__dirname, '..');
    dir = parent;
  }
}

/** Version of an environment = the first 16 hex digits of the SHA-256 of its definition file's bytes. */
export function environmentVersionOf(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex').slice(0, 16);
}

export class SpecError extends Error {
  override readonly name = 'SpecError';
}

function readRepoJson<T>(file: string, schema: z.ZodType<T>, root: string): { value: T; raw: Buffer; path: string } {
  const full = path.isAbsolute(file) ? file : path.join(root, file);
  let raw: Buffer;
  try {
    raw = readFileSync(full);
  } catch (err) {
    throw new SpecError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new SpecError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SpecError(`${file}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  return { value: parsed.data, raw, path: full };
}

export function readTrainingJobSpec(jobSpec: string, root = repoRoot()): TrainingJobSpec {
  return readRepoJson(jobSpec, trainingJobSpecSchema, root).value;
}

export function readEnvironmentDefinition(
  file: string,
  root = repoRoot(),
): { definition: EnvironmentDefinition; version: string } {
  const { value, raw } = readRepoJson(file, environmentDefinitionSchema, root);
  return { definition: value, version: environmentVersionOf(raw) };
}

/** A code folder's files, paths with `/`, skipping dot files and Python caches; a missing or empty folder is a SpecError. */
export function readCodeFolder(folder: string, root = repoRoot()): CodeFile[] {
  const files: CodeFile[] = [];
  const walk = (dir: string, prefix: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      throw new SpecError(`${folder}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === '__pycache__') continue;
      const rel = `${prefix}${entry.name}`;
      if (entry.isDirectory()) walk(path.join(dir, entry.name), `${rel}/`);
      else if (entry.isFile()) files.push({ path: rel, content: readFileSync(path.join(dir, entry.name)) });
    }
  };
  walk(path.isAbsolute(folder) ? folder : path.join(root, folder), '');
  if (files.length === 0) throw new SpecError(`${folder}: holds no files`);
  return files;
}

/**
 * The code version of a repo folder, versioned by the hash of its files and created when missing: uploaded to the
 * default datastore below `LocalUpload/{hash}/` and then registered. Registration comes last, so an attempt that
 * stopped in between uploads the same blobs again and registers; an existing version is used as it is.
 */
export async function ensureCodeAsset(
  deps: { workspace: MlWorkspace; code: CodeStore },
  folder: string,
  root = repoRoot(),
): Promise<CodeVersion & { created: boolean }> {
  const files = readCodeFolder(folder, root);
  const name = codeAssetName(folder);
  const version = codeSnapshotHash(files);
  const existing = await deps.workspace.getCodeVersion(name, version);
  if (existing) return { ...existing, created: false };
  const codeUri = await deps.code.uploadCode(codeUploadFolder(version, folder), files);
  const created = await deps.workspace.createCodeVersion({
    name,
    version,
    codeUri,
    description: `Training code from ${folder}; its version is the hash of its files.`,
    // As the SDK records them on the code versions it registers (entities/_assets/_artifacts/code.py).
    properties: { hash_sha256: version, hash_version: CODE_HASH_VERSION },
  });
  return { ...created, created: true };
}

const TERMINAL_FAILURE = new Set(['Failed', 'Canceled', 'NotResponding']);
/** Job property naming the output the model is written to. */
const MODEL_OUTPUT_PROPERTY = 'champion.model_output';

/** The lines of a job worth showing: status, the reason of a failure, what was trained on what. */
export function jobLogExcerpt(job: Job, limit = 20): string[] {
  const lines = [`status: ${job.status}`];
  for (const [key, value] of Object.entries(job.properties).sort(([a], [b]) => a.localeCompare(b))) {
    if (/^(error|training|metrics)\./.test(key))
      lines.push(`${key}: ${value.length > 300 ? `${value.slice(0, 300)}…` : value}`);
  }
  return lines.slice(0, limit);
}

/** Metrics of a job's run (as `metrics.*`), also under their bare names, with mse derived from rmse. */
export function modelMetricProperties(metrics: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metrics)) {
    out[key] = value;
    const bare = key.replace(/^metrics\./, '');
    out[bare] = value;
  }
  const rmse = Number(out['rmse']);
  if (out['mse'] === undefined && out['rmse'] !== undefined && Number.isFinite(rmse)) out['mse'] = String(rmse * rmse);
  return out;
}

function latestVersion(versions: { version: string; createdAt?: string }[]): string | undefined {
  const numeric = versions.filter((v) => /^\d+$/.test(v.version));
  if (numeric.length === versions.length && numeric.length > 0) {
    return String(Math.max(...numeric.map((v) => Number(v.version))));
  }
  return [...versions].sort((a, b) => String(a.createdAt ?? '').localeCompare(String(b.createdAt ?? ''))).at(-1)
    ?.version;
}

const clip = (text: string, max = 256) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The ARM id a job's `computeId` takes, from a compute name in the job spec (or the id itself). */
export async function resolveComputeId(
  workspace: Pick<MlWorkspace, 'getCompute'>,
  compute: string,
): Promise<{ ok: true; id: string } | { ok: false; code: string; message: string }> {
  if (compute.startsWith('/subscriptions/')) return { ok: true, id: compute };
  const name = compute.replace(/^azureml:/, '');
  const found = await workspace.getCompute(name);
  if (!found)
    return { ok: false, code: 'ComputeNotFound', message: `compute '${name}' does not exist in the workspace` };
  return { ok: true, id: found.id };
}

/**
 * Where a training job writes its model: a datastore path, declared as the output's `uri` (AssetJobOutput.uri in the
 * REST spec; `path: azureml://datastores/{datastore}/paths/{path}` in "Access data in a job"), in a folder of the job's
 * own (`azureml/{job}/{output}/`). Declared, it stays readable with the storage SDK after the job (copyModelVersion
 * reads it through the job's outputs); left to the service, the job's resource names the output only as
 * `azureml://jobs/{job}/outputs/{output}`, which the storage SDK cannot read.
 */
export function modelOutputUri(datastore: string, jobName: string, output: string): string {
  return `azureml://datastores/${datastore}/paths/azureml/${jobName}/${output}/`;
}

/** The command job exactly as submitTrainingJob sends it (the `properties` of `PUT …/jobs/{name}`). */
export function trainingJobBody(args: {
  spec: TrainingJobSpec;
  jobName: string;
  jobSpec: string;
  environmentId: string;
  codeId?: string;
  computeId?: string;
  /** The training data version as the registry lists it: its ARM id and type (uri_file, uri_folder, mltable). */
  data: { id: string; dataType: string };
  dataAsset: { name: string; version: string };
  tags: Record<string, string>;
  gitSha?: string;
}): Record<string, unknown> {
  const { spec: s } = args;
  const inputs: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(s.inputs)) inputs[name] = { jobInputType: 'literal', value };
  inputs[s.trainingDataInput] = { jobInputType: args.data.dataType, uri: args.data.id, mode: s.trainingDataMode };
  return {
    jobType: 'Command',
    displayName: s.displayName ?? args.jobName,
    description: s.description,
    experimentName: s.experimentName,
    command: s.command,
    ...(args.codeId ? { codeId: args.codeId } : {}),
    environmentId: args.environmentId,
    ...(args.computeId ? { computeId: args.computeId } : {}),
    ...(s.environmentVariables ? { environmentVariables: s.environmentVariables } : {}),
    inputs,
    outputs: {
      [s.modelOutput.name]: {
        jobOutputType: s.modelOutput.type,
        mode: 'ReadWriteMount',
        uri: modelOutputUri(s.modelOutput.datastore, args.jobName, s.modelOutput.name),
      },
    },
    tags: { ...args.tags, ...(args.gitSha ? { 'git.commit': args.gitSha } : {}) },
    properties: {
      'champion.job_spec': args.jobSpec,
      [MODEL_OUTPUT_PROPERTY]: s.modelOutput.name,
      'training.data_asset': `${args.dataAsset.name}:${args.dataAsset.version}`,
    },
  };
}

type TrainingActivityName =
  | 'readTrainingSpec'
  | 'ensureEnvironment'
  | 'checkTrainingData'
  | 'submitTrainingJob'
  | 'checkTrainingJob'
  | 'cancelTrainingJob'
  | 'registerTrainedModel';

export function createTrainingActivities(
  deps: ActivityDeps & { repoDir?: string },
): Pick<ActivityHandlers, TrainingActivityName> {
  const { workspace } = deps;
  const root = () => deps.repoDir ?? repoRoot();
  const spec = (jobSpec: string) => readTrainingJobSpec(jobSpec, root());

  const computeId = (compute: string) => resolveComputeId(workspace, compute);

  return {
    async readTrainingSpec({ jobSpec }) {
      try {
        const s = spec(jobSpec);
        return { ok: true, polling: s.polling, deadlineSeconds: s.deadline };
      } catch (err) {
        if (err instanceof SpecError) return { ok: false, code: 'InvalidJobSpec', message: err.message };
        throw err;
      }
    },

    async ensureEnvironment({ jobSpec }) {
      let definition: EnvironmentDefinition;
      let version: string;
      try {
        ({ definition, version } = readEnvironmentDefinition(spec(jobSpec).environment, root()));
      } catch (err) {
        if (err instanceof SpecError) return { ok: false, code: 'InvalidEnvironment', message: err.message };
        throw err;
      }
      const existing = await workspace.getEnvironmentVersion(definition.name, version);
      if (existing) return { ok: true, name: definition.name, version, id: existing.id, created: false };
      try {
        const created = await workspace.createEnvironmentVersion({
          name: definition.name,
          version,
          image: definition.image,
          build: definition.build,
          condaFile: definition.condaFile,
          osType: definition.osType,
          description: definition.description,
          tags: {
            ...definition.tags,
            'champion.definition': 'repo',
            ...(deps.gitSha ? { 'git.commit': deps.gitSha } : {}),
          },
        });
        deps.telemetry.event('EnvironmentCreated', { name: definition.name, version });
        return { ok: true, name: definition.name, version, id: created.id, created: true };
      } catch (err) {
        const failure = armFailure(err);
        if (!failure) throw err;
        return { ok: false, code: failure.code, message: failure.message };
      }
    },

    async checkTrainingData({ jobSpec, dataAsset }) {
      const s = spec(jobSpec);
      let dataVersion = dataAsset.version;
      if (dataVersion === undefined) {
        dataVersion = latestVersion(await workspace.listDataVersions(dataAsset.name));
        if (dataVersion === undefined) {
          const message = `data asset ${dataAsset.name} has no versions`;
          return { ok: false, report: `Data checks FAILED: ${message}`, failed: [message] };
        }
      }
      const read = async (name: string, version: string) => {
        try {
          return { table: await deps.data.readDataAsset(name, version) };
        } catch (err) {
          return { error: `cannot read ${name}:${version}: ${(err as Error).message}` };
        }
      };
      const data = await read(dataAsset.name, dataVersion);
      if (!data.table)
        return { ok: false, dataVersion, report: `Data checks FAILED: ${data.error}`, failed: [data.error] };
      const { reference: ref, ...checkSpec } = s.dataChecks;
      let reference: Table | undefined;
      if (ref) {
        const read2 = await read(ref.name, ref.version);
        if (!read2.table) {
          return { ok: false, dataVersion, report: `Data checks FAILED: ${read2.error}`, failed: [read2.error] };
        }
        reference = read2.table;
      }
      const report = runDataChecks(data.table, checkSpec as DataCheckSpec, reference);
      const text = `${dataAsset.name}:${dataVersion}${ref ? ` (reference ${ref.name}:${ref.version})` : ''}\n${formatReport(report)}`;
      if (report.ok) return { ok: true, dataVersion, report: text };
      return {
        ok: false,
        dataVersion,
        report: text,
        failed: report.checks
          .filter((c) => !c.ok)
          .map((c) => `${c.name}${c.column === undefined ? '' : ` [${c.column}]`}: ${c.message}`),
      };
    },

    async submitTrainingJob({ jobName, jobSpec, environmentId, dataAsset, tags }) {
      // Idempotent: a job of this name means an earlier attempt (or a run before a crash) submitted it.
      const existing = await workspace.getJob(jobName);
      if (existing) return { ok: true, jobName, submitted: false, status: existing.status };
      const s = spec(jobSpec);
      const asset = `${dataAsset.name}:${dataAsset.version}`;
      const data = (await workspace.listDataVersions(dataAsset.name)).find((v) => v.version === dataAsset.version);
      if (!data) return { ok: false, code: 'DataNotFound', message: `data asset ${asset} does not exist` };
      const compute = s.compute === undefined ? undefined : await computeId(s.compute);
      if (compute && !compute.ok) return compute;
      let code: (CodeVersion & { created: boolean }) | undefined;
      try {
        code = s.code === undefined ? undefined : await ensureCodeAsset(deps, s.code, root());
      } catch (err) {
        if (err instanceof SpecError) return { ok: false, code: 'InvalidCode', message: err.message };
        const failure = armFailure(err);
        if (!failure) throw err;
        return { ok: false, code: failure.code, message: failure.message };
      }
      if (code?.created) deps.telemetry.event('CodeUploaded', { name: code.name, version: code.version });
      try {
        const job = await workspace.submitJob(
          jobName,
          trainingJobBody({
            spec: s,
            jobName,
            jobSpec,
            environmentId,
            ...(code ? { codeId: code.id } : {}),
            ...(compute ? { computeId: compute.id } : {}),
            data,
            dataAsset,
            tags,
            ...(deps.gitSha ? { gitSha: deps.gitSha } : {}),
          }),
        );
        deps.telemetry.event('TrainingJobSubmitted', { job: jobName, data: `${dataAsset.name}:${dataAsset.version}` });
        return { ok: true, jobName, submitted: true, status: job.status };
      } catch (err) {
        const failure = armFailure(err);
        if (!failure) throw err;
        return { ok: false, code: failure.code, message: failure.message };
      }
    },

    async checkTrainingJob({ jobName }): Promise<TrainingJobCheck> {
      let job: Job | undefined;
      try {
        job = await workspace.getJob(jobName);
      } catch (err) {
        const e = err as { statusCode?: number; response?: { headers?: { get(n: string): string | undefined } } };
        if (e.statusCode === 429) {
          const retryAfter = Number(e.response?.headers?.get('retry-after'));
          return {
            state: 'Running',
            status: 'Throttled',
            retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : 60,
          };
        }
        throw err;
      }
      if (!job) {
        return {
          state: 'Failed',
          status: 'NotFound',
          code: 'JobNotFound',
          message: `job ${jobName} does not exist`,
          logExcerpt: [],
        };
      }
      if (job.status === 'Completed') {
        // Azure ML keeps run metrics in the workspace's MLflow tracking store, not on the job resource.
        const logged = await workspace.getRunMetrics(jobName);
        if (!logged) {
          return {
            state: 'Failed',
            status: 'RunNotFound',
            code: 'RunNotFound',
            message: `the MLflow tracking store has no run ${jobName}`,
            logExcerpt: jobLogExcerpt(job),
          };
        }
        const metrics: Record<string, string> = {};
        for (const [key, value] of Object.entries(logged)) metrics[`metrics.${key}`] = String(value);
        const output = job.properties[MODEL_OUTPUT_PROPERTY] ?? 'model';
        if (!(output in job.outputs)) {
          return {
            state: 'Failed',
            status: 'NoModelOutput',
            code: 'NoModelOutput',
            message: `job ${jobName} completed without the declared model output '${output}'`,
            logExcerpt: jobLogExcerpt(job),
          };
        }
        return {
          state: 'Completed',
          status: job.status,
          metrics,
          // The whole output is the model, so its job-output URI needs no path.
          modelUri: `azureml://jobs/${jobName}/outputs/${output}`,
          logExcerpt: jobLogExcerpt(job),
          properties: job.properties,
        };
      }
      if (TERMINAL_FAILURE.has(job.status)) {
        return {
          state: 'Failed',
          status: job.status,
          code: job.properties['error.code'] ?? job.status,
          message: job.properties['error.message'] ?? `the job ended ${job.status}`,
          logExcerpt: jobLogExcerpt(job),
        };
      }
      return { state: 'Running', status: job.status };
    },

    async cancelTrainingJob({ jobName }) {
      const job = await workspace.getJob(jobName);
      if (!job || job.status === 'Completed' || TERMINAL_FAILURE.has(job.status)) {
        return { canceled: false, status: job?.status ?? 'NotFound' };
      }
      await workspace.cancelJob(jobName);
      return { canceled: true, status: 'CancelRequested' };
    },

    async registerTrainedModel(input) {
      const versions = await workspace.listModelVersions(input.modelName);
      // One version per job: a retried or replayed registration finds the first one.
      const mine = versions.find((v) => v.properties['training.job'] === input.jobName);
      if (mine) return { version: mine.version, created: false };
      const next = Math.max(0, ...versions.map((v) => Number(v.version)).filter(Number.isFinite)) + 1;
      const tags: Record<string, string> = {
        'champion.retraining': input.runId,
        'training.job': input.jobName,
        'retrain.trigger': input.trigger.source,
        'retrain.reason': clip(input.trigger.reason),
        ...(deps.gitSha ? { 'git.commit': deps.gitSha } : {}),
        ...(deps.gitRepository ? { 'git.repository': deps.gitRepository } : {}),
      };
      const registered = await workspace.registerModelVersion({
        name: input.modelName,
        version: String(next),
        modelUri: input.modelUri,
        // The training job writes an MLflow model (MLmodel with its signature): no-code deployable.
        modelType: 'mlflow_model',
        tags,
        properties: {
          ...modelMetricProperties(input.metrics),
          [EVALUATION_DATA_VERSION_PROPERTY]: input.evaluationDataVersion,
          'training.job': input.jobName,
          'training.environment': input.environmentId,
          'champion.retraining': input.runId,
        },
        description: `Retrained by Champion (${input.runId}, ${input.trigger.source}): ${clip(input.trigger.reason, 500)}`,
      });
      deps.telemetry.event('RetrainedModelRegistered', {
        model: input.modelName,
        version: registered.version,
        job: input.jobName,
      });
      return { version: registered.version, created: true };
    },
  };
}
