/**
 * Reads a model's production history: its promotions and rollbacks from the task hub (a page at a time, by their
 * instance id prefixes) and its versions from the registry, then builds the intervals (lib/domain/history.ts).
 */
import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  buildHistory,
  historyCsv,
  parseInstant,
  productionAt,
  type ModelHistory,
  type ProductionInterval,
  type PromotionRecord,
  type RollbackRecord,
} from './domain/history';
import { environmentNamed } from './domain/environments';
import { armNameProblem } from './domain/names';
import { policyFor, type Policy, type PolicySet } from './domain/policy';
import { json, problem } from './http';
import { promotionInstanceIdPrefix } from './domain/events';
import { readAllInstances, type InstanceStatus } from './promotion-list';
import { ROLLBACK_ID_PREFIX } from './rollbacks';
import type { MlWorkspace } from './ports';
import type { App } from './app';
import type { PromotionResult, RollbackResult } from '../orchestrations/contract';
import { ROLLBACK_MODEL_ORCHESTRATION } from '../orchestrations/rollback-model';

const PAGE_SIZE = 1000;

/**
 * Whose releases and rollbacks make an environment's history (policy `environments`): the instances started for it
 * (each environment's own promotion, a rollback naming it). A promotion across environments releases nothing itself;
 * instances from before the policy named environments were the first environment's.
 */
export interface HistoryScope {
  environment: string;
  first: boolean;
}

interface ScopedInput {
  modelName?: string;
  environment?: string;
  policy?: { environments?: unknown };
}

function inScope(scope: HistoryScope | undefined, input: ScopedInput | undefined): boolean {
  if (!scope) return true;
  if (input?.environment !== undefined) return input.environment === scope.environment;
  return scope.first && !input?.policy?.environments;
}

/** The history, or undefined when the registry has no version of the model. */
export async function readModelHistory(
  context: InvocationContext,
  workspace: Pick<MlWorkspace, 'listModelVersions'>,
  modelName: string,
  scope?: HistoryScope,
): Promise<ModelHistory | undefined> {
  const ofModel = (name: string) => (status: InstanceStatus) => {
    const input = status.input as ScopedInput | undefined;
    return status.name === name && input?.modelName === modelName && inScope(scope, input);
  };
  const [versions, promotions, rollbacks] = await Promise.all([
    workspace.listModelVersions(modelName),
    readAllInstances(
      context,
      { instanceIdPrefix: promotionInstanceIdPrefix(modelName), pageSize: PAGE_SIZE },
      ofModel('promoteModel'),
    ),
    readAllInstances(
      context,
      { instanceIdPrefix: `${ROLLBACK_ID_PREFIX}${modelName}:`, pageSize: PAGE_SIZE },
      ofModel(ROLLBACK_MODEL_ORCHESTRATION),
    ),
  ]);
  if (versions.length === 0) return undefined;
  const record = <R>(status: InstanceStatus) => ({
    id: status.instanceId,
    lastUpdatedTime: status.lastUpdatedTime,
    result: (status.output ?? null) as R | null,
  });
  return buildHistory(
    modelName,
    {
      promotions: promotions.map((s) => record<PromotionResult>(s) satisfies PromotionRecord),
      rollbacks: rollbacks.map((s) => record<RollbackResult>(s) satisfies RollbackRecord),
    },
    versions,
  );
}

/** One environment's history: its releases and rollbacks, its workspace's registry. */
export interface EnvironmentHistory extends ModelHistory {
  environment: string;
  workspace: string;
  endpointName: string;
}

/** A model's history answered for one environment (the one asked for, else the first) with every environment's. */
export type ScopedHistory = ModelHistory &
  Partial<Omit<EnvironmentHistory, keyof ModelHistory>> & {
    environments?: EnvironmentHistory[];
  };

/**
 * The history of a model whose policy names environments: each environment's, read from its own workspace's registry
 * (an environment with no version of the model yet has an empty one).
 */
export async function readEnvironmentHistories(
  context: InvocationContext,
  policy: Policy,
  workspaceFor: (id: string) => Pick<MlWorkspace, 'listModelVersions'>,
): Promise<EnvironmentHistory[]> {
  const environments = policy.environments ?? [];
  return Promise.all(
    environments.map(async (environment, index) => {
      const history = (await readModelHistory(context, workspaceFor(environment.workspace), policy.modelName, {
        environment: environment.name,
        first: index === 0,
      })) ?? { modelName: policy.modelName, intervals: [], productionNow: null, notes: [] };
      return {
        ...history,
        environment: environment.name,
        workspace: environment.workspace,
        endpointName: environment.endpointName ?? policy.endpointName,
      };
    }),
  );
}

/**
 * What a history request reads: without environments in the model's policy, its history as always; with them, the
 * environment asked for (`environment`, default the first) with every environment's beside it. A bad environment
 * name: the 400 naming the field.
 */
export async function readScopedHistory(
  context: InvocationContext,
  app: {
    policies: PolicySet;
    workspace: Pick<MlWorkspace, 'listModelVersions'>;
    /** An environment's workspace by ARM id (the app's own for the first). */
    workspaceFor: (id: string) => Pick<MlWorkspace, 'listModelVersions'>;
  },
  modelName: string,
  environment: string | undefined,
): Promise<{ ok: true; history: ScopedHistory | undefined } | { ok: false; status: 400; message: string }> {
  const policy = policyFor(app.policies, modelName);
  if (environment !== undefined || policy?.environments) {
    if (!policy) return { ok: false, status: 400, message: `environment: no promotion policy covers "${modelName}".` };
    const named = environmentNamed(policy, environment ?? policy.environments?.[0]?.name);
    if (!named.ok) return { ok: false, status: 400, message: named.message };
    const environments = await readEnvironmentHistories(context, policy, app.workspaceFor);
    // No version anywhere: no such model, as without environments.
    if (environments.every((e) => e.intervals.length === 0 && e.productionNow === null)) {
      const own = await app.workspace.listModelVersions(modelName);
      if (own.length === 0) return { ok: true, history: undefined };
    }
    return { ok: true, history: { ...environments[named.index]!, environments } };
  }
  return { ok: true, history: await readModelHistory(context, app.workspace, modelName) };
}

/** Where the app's histories are read: its policies, its workspace and each environment's. */
export function historySources(app: Pick<App, 'policies' | 'deps'>): Parameters<typeof readScopedHistory>[1] {
  const { policies, deps } = app;
  return {
    policies,
    workspace: deps.workspace,
    workspaceFor: (id) => {
      if (!deps.forWorkspace) throw new Error(`workspace: ${id} cannot be reached: this app serves one workspace.`);
      return deps.forWorkspace(id).workspace;
    },
  };
}

export const AT_PROBLEM = 'at: an ISO 8601 date-time with a time zone, e.g. 2026-03-01T12:00:00Z, or a date.';

/** What a history request asks for, checked: the model, the format and the instant (`at`), or the 400 to answer. */
export type HistoryQuery =
  | {
      ok: true;
      modelName: string;
      format: 'json' | 'csv' | 'html';
      at?: { text: string; date?: Date };
      /** `?environment=NAME`: checked against the model's policy once it is read (readScopedHistory). */
      environment?: string;
    }
  | { ok: false; status: 400; message: string; field: 'name' | 'format' | 'at'; at?: string };

export function historyQuery(
  modelName: string,
  query: URLSearchParams,
  formats: readonly ('json' | 'csv' | 'html')[],
): HistoryQuery {
  const invalid = armNameProblem('asset', modelName);
  if (invalid) return { ok: false, status: 400, field: 'name', message: `name: ${invalid}.` };
  const format = query.get('format') ?? formats[0]!;
  if (!(formats as readonly string[]).includes(format))
    return { ok: false, status: 400, field: 'format', message: `format: ${formats.join(' or ')}.` };
  const environment = query.get('environment');
  const asked = {
    ok: true as const,
    modelName,
    format: format as 'json' | 'csv' | 'html',
    ...(environment !== null ? { environment } : {}),
  };
  const atText = query.get('at');
  if (atText === null) return asked;
  const date = parseInstant(atText.trim());
  if (!date) return { ok: false, status: 400, field: 'at', message: AT_PROBLEM, at: atText };
  return { ...asked, at: { text: atText.trim(), date } };
}

/** The JSON or CSV answer to a checked query (404 when the registry has no such model). */
export function historyExport(history: ScopedHistory, format: 'json' | 'csv', at: Date | undefined): HttpResponseInit {
  const production: ProductionInterval | undefined = at ? productionAt(history, at) : undefined;
  if (format === 'csv') {
    const rows = at ? { ...history, intervals: production ? [production] : [] } : history;
    return {
      status: 200,
      headers: {
        'content-type': 'text/csv; charset=utf-8; header=present',
        'content-disposition': `attachment; filename="${history.modelName}${history.environment ? `-${history.environment}` : ''}-history${at ? '-at' : ''}.csv"`,
      },
      body: historyCsv(rows),
    };
  }
  if (at) {
    const environment = history.environment !== undefined ? { environment: history.environment } : {};
    return json(200, {
      modelName: history.modelName,
      ...environment,
      at: at.toISOString(),
      production: production ?? null,
    });
  }
  return json(200, history);
}

export const noModel = (modelName: string) => problem(404, `No model "${modelName}".`);
