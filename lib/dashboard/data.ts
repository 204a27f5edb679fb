/**
 * What the dashboard shows, read in one pass: for each model a policy covers, its versions (registry) and its
 * endpoint's deployments and traffic; promotions, rollbacks and retraining runs that run now or started in the last
 * days (task hub, by id prefix and the Durable HTTP API's own filters, so old instances are never read).
 */
import type { InvocationContext } from '@azure/functions';
import type { PolicySet } from '../domain/policy';
import { promotionInstanceIdPrefix } from '../domain/events';
import { STAGE_TAG } from '../domain/stages';
import { compareVersions } from '../domain/versions';
import type { Deployment, Endpoint, MlWorkspace, ModelVersion } from '../ports';
import { readAllInstances, type InstanceStatus } from '../promotion-list';
import { ROLLBACK_ID_PREFIX } from '../rollbacks';
import type { TimelineEntry } from '../../orchestrations/contract';
import { ROLLBACK_MODEL_ORCHESTRATION } from '../../orchestrations/rollback-model';
import { RETRAIN_MODEL_ORCHESTRATION, RETRAINING_RUN_ID_PREFIX } from '../../orchestrations/retrain-model';

export interface ModelPanel {
  name: string;
  endpointName: string;
  /** Newest first. */
  versions: ModelVersion[];
  endpoint?: Endpoint;
  deployments: Deployment[];
  /** The registry or the endpoint could not be read: said instead of failing the page. */
  error?: string;
  /** A policy with environments: each one's endpoint and what its workspace tags production, in order. */
  environments?: EnvironmentPanel[];
}

export interface EnvironmentPanel {
  name: string;
  workspace: string;
  endpointName: string;
  /** The version its workspace tags `production` (null: none). */
  production: string | null;
  endpoint?: Endpoint;
  deployments: Deployment[];
  error?: string;
}

type DashboardWorkspace = Pick<MlWorkspace, 'listModelVersions' | 'getEndpoint' | 'listDeployments'>;

export type ActivityKind = 'promotion' | 'rollback' | 'retraining';

export interface ActivityView {
  kind: ActivityKind;
  id: string;
  modelName: string;
  /** The model version it is about (a promotion's; a retraining's once registered). */
  version?: string;
  runtimeStatus: string;
  createdTime: string;
  lastUpdatedTime: string;
  /** Where it is, while it runs. */
  phase?: string;
  /** How it ended. */
  outcome?: string;
  reason?: string;
  timeline: TimelineEntry[];
}

export interface DashboardData {
  generatedAt: string;
  models: ModelPanel[];
  /** Newest first. */
  activities: ActivityView[];
}

/** Instances older than this are left to the API and the history unless they still run. */
export const RECENT_DAYS = 7;
const RUNNING = ['Pending', 'Running', 'ContinuedAsNew'];
const PAGE_SIZE = 200;

export const isRunning = (view: Pick<ActivityView, 'runtimeStatus'>) => RUNNING.includes(view.runtimeStatus);

export async function readDashboard(
  context: InvocationContext,
  policies: PolicySet,
  workspace: DashboardWorkspace,
  now: Date,
  /** An environment's workspace by ARM id (policies with environments). */
  workspaceFor?: (id: string) => DashboardWorkspace,
): Promise<DashboardData> {
  const since = new Date(now.getTime() - RECENT_DAYS * 24 * 3600 * 1000).toISOString();
  const entries = Object.values(policies);
  const models = await Promise.all(
    entries.map(async (policy) => {
      const panel = await readModel(workspace, policy.modelName, policy.endpointName);
      if (!policy.environments || !workspaceFor) return panel;
      const environments = await Promise.all(
        policy.environments.map((e, index) =>
          index === 0
            ? environmentPanel(e.name, e.workspace, panel)
            : readModel(workspaceFor(e.workspace), policy.modelName, e.endpointName ?? policy.endpointName).then(
                (read) => environmentPanel(e.name, e.workspace, read),
              ),
        ),
      );
      return { ...panel, environments };
    }),
  );
  const names = new Set(entries.map((p) => p.modelName));
  const lists = await Promise.all([
    ...entries.map((p) => readRecent(context, promotionInstanceIdPrefix(p.modelName), since)),
    readRecent(context, ROLLBACK_ID_PREFIX, since),
    readRecent(context, RETRAINING_RUN_ID_PREFIX, since),
  ]);
  const seen = new Set<string>();
  const activities = lists
    .flat()
    .filter((s) => !seen.has(s.instanceId) && seen.add(s.instanceId))
    .map(activityView)
    .filter((view): view is ActivityView => view !== undefined && names.has(view.modelName))
    .sort((a, b) => b.createdTime.localeCompare(a.createdTime));
  return { generatedAt: now.toISOString(), models, activities };
}

async function readModel(workspace: DashboardWorkspace, name: string, endpointName: string): Promise<ModelPanel> {
  try {
    const [versions, endpoint] = await Promise.all([
      workspace.listModelVersions(name),
      workspace.getEndpoint(endpointName),
    ]);
    const deployments = endpoint ? await workspace.listDeployments(endpointName) : [];
    versions.sort((a, b) => compareVersions(b, a));
    return { name, endpointName, versions, ...(endpoint ? { endpoint } : {}), deployments };
  } catch (err) {
    return { name, endpointName, versions: [], deployments: [], error: (err as Error).message };
  }
}

function environmentPanel(name: string, workspace: string, read: ModelPanel): EnvironmentPanel {
  return {
    name,
    workspace,
    endpointName: read.endpointName,
    production: read.versions.find((v) => v.tags[STAGE_TAG] === 'production')?.version ?? null,
    ...(read.endpoint ? { endpoint: read.endpoint } : {}),
    deployments: read.deployments,
    ...(read.error ? { error: read.error } : {}),
  };
}

/** Running instances of any age and those created since `since`. */
async function readRecent(context: InvocationContext, prefix: string, since: string): Promise<InstanceStatus[]> {
  const [running, recent] = await Promise.all([
    readAllInstances(context, { instanceIdPrefix: prefix, pageSize: PAGE_SIZE, runtimeStatus: RUNNING }),
    readAllInstances(context, { instanceIdPrefix: prefix, pageSize: PAGE_SIZE, createdTimeFrom: since }),
  ]);
  return [...running, ...recent];
}

interface Recorded {
  phase?: string;
  outcome?: string;
  reason?: string;
  modelName?: string;
  modelVersion?: string;
  timeline?: TimelineEntry[];
}

function activityView(status: InstanceStatus): ActivityView | undefined {
  const kind: ActivityKind | undefined =
    status.name === 'promoteModel'
      ? 'promotion'
      : status.name === ROLLBACK_MODEL_ORCHESTRATION
        ? 'rollback'
        : status.name === RETRAIN_MODEL_ORCHESTRATION
          ? 'retraining'
          : undefined;
  if (!kind) return undefined;
  const input = (status.input ?? {}) as { modelName?: string; modelVersion?: string };
  const custom = (status.customStatus ?? {}) as Recorded;
  const output = (status.output ?? {}) as Recorded;
  const modelName = input.modelName ?? custom.modelName;
  if (!modelName) return undefined;
  const version = input.modelVersion ?? output.modelVersion;
  // The result keeps every entry; the status only the latest.
  const timeline = output.timeline ?? custom.timeline ?? [];
  return {
    kind,
    id: status.instanceId,
    modelName,
    ...(version ? { version } : {}),
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    ...(custom.phase ? { phase: custom.phase } : {}),
    ...(output.outcome ? { outcome: output.outcome } : {}),
    ...(output.reason ? { reason: output.reason } : {}),
    timeline: Array.isArray(timeline) ? timeline : [],
  };
}
