/**
 * Reads a model's production history: its promotions and rollbacks from the task hub (a page at a time, by their
 * instance id prefixes) and its versions from the registry, then builds the intervals (lib/domain/history.ts).
 */
import type { InvocationContext } from '@azure/functions';
import { buildHistory, type ModelHistory, type PromotionRecord, type RollbackRecord } from './domain/history';
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
