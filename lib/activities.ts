/**
 * Activities: the only code in a promotion that touches the outside world, built over ports so tests hand in
 * fakes and the app hands in the Azure adapters. Expected failures (a quota error, a failed smoke test) come back
 * as values; thrown errors are for the unexpected and are retried by the flow.
 */
import type {
  ActivityInput,
  ActivityName,
  ActivityOutput,
  ProvisioningCheck,
  Started,
  TestReport,
} from '../orchestrations/contract';
import { approvalUrls, createApprovalTokens } from './approval';
import { comparePairedPredictions, compareRecordedMetrics, type Label } from './domain/evaluation';
import {
  promoteToProduction,
  rejectStaged,
  stageChallenger,
  stageOf,
  STAGE_TAG,
  unstage,
  versionsInStage,
  type TagWrite,
} from './domain/stages';
import type { DataReader, MlWorkspace, Notifier, Scoring, Table, Telemetry } from './ports';

export interface ActivityDeps {
  workspace: MlWorkspace;
  scoring: Scoring;
  data: DataReader;
  notifier: Notifier;
  telemetry: Telemetry;
  approvalSecret: string;
  /** Base URL of this app, for approval links. */
  publicUrl: string;
  gitSha?: string;
  gitRepository?: string;
  /** Raises an event on another orchestration instance. */
  signal(instanceId: string, eventName: string, data: unknown): Promise<boolean>;
}

export type ActivityHandlers = { [K in ActivityName]: (input: ActivityInput<K>) => Promise<ActivityOutput<K>> };

/** Tag recording which promotion staged a version, so a newer winner can tell it it was superseded. */
export const PROMOTION_TAG = 'champion.promotion';
const SCORING_BATCH_ROWS = 500;

/** "name:version" of the model a deployment serves, from an ARM id or an `azureml:NAME:VERSION` reference. */
export function modelRef(modelId: string | undefined): string | undefined {
  if (!modelId) return undefined;
  const arm = /\/models\/([^/]+)\/versions\/([^/]+)$/i.exec(modelId);
  if (arm) return `${arm[1]}:${arm[2]}`;
  const short = /^azureml:([^:@]+):(.+)$/.exec(modelId);
  return short ? `${short[1]}:${short[2]}` : undefined;
}

function armFailure(err: unknown): { code: string; message: string; retryAfterSeconds?: number } | undefined {
  const e = err as {
    statusCode?: number;
    code?: string;
    message?: string;
    response?: { headers?: { get(n: string): string | undefined } };
  };
  if (e.statusCode === undefined || e.statusCode >= 500 || e.statusCode === 429) return undefined;
  return { code: e.code ?? `Http${e.statusCode}`, message: e.message ?? 'ARM request failed' };
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

function numericRow(row: unknown): number[] | undefined {
  return Array.isArray(row) && row.every((v) => typeof v === 'number') ? (row as number[]) : undefined;
}

export function createActivities(deps: ActivityDeps): ActivityHandlers {
  const { workspace } = deps;

  async function endpointAccess(endpointName: string): Promise<{ scoringUri: string; key: string }> {
    const endpoint = await workspace.getEndpoint(endpointName);
    if (!endpoint?.scoringUri) throw new Error(`Endpoint ${endpointName} has no scoring URI yet.`);
    return { scoringUri: endpoint.scoringUri, key: await workspace.getEndpointKey(endpointName) };
  }

  async function predict(
    access: { scoringUri: string; key: string },
    deployment: string,
    table: { columns: string[]; rows: number[][] },
  ): Promise<number[]> {
    const predictions: number[] = [];
    for (let i = 0; i < table.rows.length; i += SCORING_BATCH_ROWS) {
      const batch = table.rows.slice(i, i + SCORING_BATCH_ROWS);
      const result = await deps.scoring.score({ ...access, columns: table.columns, rows: batch, deployment });
      if (result.predictions.length !== batch.length) {
        throw new Error(`${deployment} returned ${result.predictions.length} predictions for ${batch.length} rows.`);
      }
      predictions.push(...result.predictions);
    }
    return predictions;
  }

  function splitLabels(
    table: Table,
    labelColumn: string,
  ): { features: { columns: string[]; rows: number[][] }; labels: Label[] } {
    const labelIndex = table.columns.indexOf(labelColumn);
    if (labelIndex < 0)
      throw new Error(`Evaluation data has no label column "${labelColumn}" (columns: ${table.columns.join(', ')}).`);
    const columns = table.columns.filter((_, i) => i !== labelIndex);
    const rows: number[][] = [];
    const labels: Label[] = [];
    for (const row of table.rows) {
      labels.push(row[labelIndex] as Label);
      rows.push(row.filter((_, i) => i !== labelIndex).map((v) => Number(v)));
    }
    return { features: { columns, rows }, labels };
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
      try {
        const accepted = await workspace.beginCreateDeployment(input.endpointName, input.slot, {
          modelId: model.id,
          instanceType: input.instanceType,
          instanceCount: input.instanceCount,
          tags: { 'champion.model': `${input.modelName}:${input.modelVersion}`, [PROMOTION_TAG]: input.promotionId },
        });
        return { ok: true, ...accepted };
      } catch (err) {
        const failure = armFailure(err);
        if (!failure) throw err;
        return { ok: false, ...failure };
      }
    },

    async checkProvisioning({ endpointName, slot, operationUrl }): Promise<ProvisioningCheck> {
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
      if (state === 'Succeeded') return { state: 'Succeeded' };
      if (state === undefined)
        return { state: 'Failed', code: 'NotFound', message: `${slot ?? endpointName} does not exist` };
      if (state === 'Failed' || state === 'Canceled')
        return { state: 'Failed', code: state, message: `provisioning ${state}` };
      return { state: 'InProgress', retryAfterSeconds: 5 };
    },

    async deleteDeployment({ endpointName, slot }) {
      const existing = await workspace.getDeployment(endpointName, slot);
      if (!existing) return { deleted: false };
      await workspace.beginDeleteDeployment(endpointName, slot);
      return { deleted: true };
    },

    async testDeployment({ endpointName, slot, testSpec }): Promise<TestReport> {
      const access = await endpointAccess(endpointName);
      const failures: string[] = [];
      const latencies: number[] = [];
      const columnsFor = (row: number[]) => row.map((_, i) => `x${i + 1}`);
      const cases: { rows: number[][]; expected?: number; tolerance: number }[] = [];
      for (const row of testSpec.sampleRows ?? []) {
        const values = numericRow(row);
        if (values) cases.push({ rows: [values], tolerance: 0 });
        else failures.push(`sample row ${JSON.stringify(row)} is not an array of numbers`);
      }
      for (const golden of testSpec.goldenCases ?? []) {
        const values = numericRow(golden.input);
        if (values && typeof golden.expected === 'number')
          cases.push({ rows: [values], expected: golden.expected, tolerance: golden.tolerance });
        else failures.push(`golden case ${JSON.stringify(golden.input)} needs numeric input and expected value`);
      }
      for (const c of cases) {
        try {
          const result = await deps.scoring.score({
            ...access,
            columns: columnsFor(c.rows[0] as number[]),
            rows: c.rows,
            deployment: slot,
          });
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
      const table = await deps.data.readDataAsset(asset.name, asset.version);
      const { features, labels } = splitLabels(table, policy.evaluation.labelColumn);
      const access = await endpointAccess(endpointName);
      const [challenger, champion] = await Promise.all([
        predict(access, challengerSlot, features),
        championSlot ? predict(access, championSlot, features) : Promise.resolve(null),
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
      return evidence;
    },

    async changeStage({ modelName, modelVersion, transition, promotionId }) {
      const versions = await workspace.listModelVersions(modelName);
      const before = versions.map((v) => ({ version: v.version, tags: v.tags }));
      let writes: TagWrite[];
      let displaced: ActivityOutput<'changeStage'>['displaced'];
      switch (transition) {
        case 'stage': {
          const previous = versionsInStage(before, 'staged').find((v) => v !== modelVersion);
          if (previous) {
            const prior = versions.find((v) => v.version === previous);
            displaced = { version: previous, promotionId: prior?.tags[PROMOTION_TAG] };
          }
          writes = stageChallenger(before, modelVersion);
          // Record which promotion staged it; harmless when already there.
          const own = versions.find((v) => v.version === modelVersion);
          if (own && own.tags[PROMOTION_TAG] !== promotionId) {
            const existing = writes.find((w) => w.version === modelVersion);
            if (existing) existing.set = { ...existing.set, [PROMOTION_TAG]: promotionId };
            else writes.push({ version: modelVersion, set: { [PROMOTION_TAG]: promotionId } });
          }
          break;
        }
        case 'promote':
          writes = promoteToProduction(before, modelVersion);
          break;
        case 'reject': {
          const current = before.find((v) => v.version === modelVersion);
          writes = current && stageOf(current) === 'staged' ? rejectStaged(before, modelVersion) : [];
          break;
        }
        case 'unstage':
          writes = unstage(before, modelVersion);
          break;
      }
      const written = await applyWrites(modelName, writes);
      deps.telemetry.event('StageChanged', {
        model: modelName,
        version: modelVersion,
        transition,
        written: written.join(','),
      });
      return { written, displaced };
    },

    async requestApproval(input) {
      const expiresAt = new Date(input.expiresAt);
      const tokens = createApprovalTokens(deps.approvalSecret, {
        promotionId: input.promotionId,
        modelName: input.modelName,
        modelVersion: input.modelVersion,
        expiresAt,
        nonce: input.nonce,
      });
      const urls = approvalUrls(deps.publicUrl, input.promotionId, tokens);
      await deps.notifier.approvalRequested({
        promotionId: input.promotionId,
        modelName: input.modelName,
        modelVersion: input.modelVersion,
        evidenceSummary: input.evidenceSummary,
        approveUrl: urls.approveUrl,
        rejectUrl: urls.rejectUrl,
        expiresAt: input.expiresAt,
      });
      return { ...urls, expiresAt: input.expiresAt };
    },

    async setTraffic({ endpointName, traffic }) {
      await workspace.setTraffic(endpointName, traffic);
      return { ok: true as const };
    },

    async recordRelease({ endpointName, slot, promotionId, modelName, modelVersion }) {
      const tags: Record<string, string> = {
        'champion.model': `${modelName}:${modelVersion}`,
        [PROMOTION_TAG]: promotionId,
        ...(deps.gitSha ? { 'git.commit': deps.gitSha } : {}),
        ...(deps.gitRepository ? { 'git.repository': deps.gitRepository } : {}),
      };
      await workspace.updateDeploymentTags(endpointName, slot, tags);
      await workspace.updateEndpointTags(endpointName, { ...tags, 'champion.slot': slot });
      return { gitSha: deps.gitSha, repository: deps.gitRepository };
    },

    async signalInstance({ instanceId, eventName, data }) {
      return { delivered: await deps.signal(instanceId, eventName, data) };
    },
  };
}

export { STAGE_TAG };
