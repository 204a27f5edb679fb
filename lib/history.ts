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
import { armNameProblem } from './domain/names';
import { json, problem } from './http';
import { promotionInstanceIdPrefix } from './domain/events';
import { readAllInstances, type InstanceStatus } from './promotion-list';
import { ROLLBACK_ID_PREFIX } from './rollbacks';
import type { MlWorkspace } from './ports';
import type { PromotionResult, RollbackResult } from '../orchestrations/contract';
import { ROLLBACK_MODEL_ORCHESTRATION } from '../orchestrations/rollback-model';

const PAGE_SIZE = 1000;

/** The history, or undefined when the registry has no version of the model. */
export async function readModelHistory(
  context: InvocationContext,
  workspace: Pick<MlWorkspace, 'listModelVersions'>,
  modelName: string,
): Promise<ModelHistory | undefined> {
  const ofModel = (name: string) => (status: InstanceStatus) =>
    status.name === name && (status.input as { modelName?: string } | undefined)?.modelName === modelName;
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

export const AT_PROBLEM = 'at: an ISO 8601 date-time with a time zone, e.g. 2026-03-01T12:00:00Z, or a date.';

/** What a history request asks for, checked: the model, the format and the instant (`at`), or the 400 to answer. */
export type HistoryQuery =
  | { ok: true; modelName: string; format: 'json' | 'csv' | 'html'; at?: { text: string; date?: Date } }
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
  const atText = query.get('at');
  if (atText === null) return { ok: true, modelName, format: format as 'json' | 'csv' | 'html' };
  const date = parseInstant(atText.trim());
  if (!date) return { ok: false, status: 400, field: 'at', message: AT_PROBLEM, at: atText };
  return { ok: true, modelName, format: format as 'json' | 'csv' | 'html', at: { text: atText.trim(), date } };
}

/** The JSON or CSV answer to a checked query (404 when the registry has no such model). */
export function historyExport(history: ModelHistory, format: 'json' | 'csv', at: Date | undefined): HttpResponseInit {
  const production: ProductionInterval | undefined = at ? productionAt(history, at) : undefined;
  if (format === 'csv') {
    const rows = at ? { ...history, intervals: production ? [production] : [] } : history;
    return {
      status: 200,
      headers: {
        'content-type': 'text/csv; charset=utf-8; header=present',
        'content-disposition': `attachment; filename="${history.modelName}-history${at ? '-at' : ''}.csv"`,
      },
      body: historyCsv(rows),
    };
  }
  if (at) return json(200, { modelName: history.modelName, at: at.toISOString(), production: production ?? null });
  return json(200, history);
}

export const noModel = (modelName: string) => problem(404, `No model "${modelName}".`);
