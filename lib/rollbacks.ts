/**
 * Manual rollbacks: a person asks for the previous production version back. Checked here (who asks, why, a policy
 * for the model), then run by the rollbackModel orchestration under the model's lock.
 */
import { randomBytes } from 'node:crypto';
import type * as df from 'durable-functions';
import { environmentNamed, environmentPolicy } from './domain/environments';
import { policyFor, type PolicySet } from './domain/policy';
import type { CallerResult } from './identity';
import { ROLLBACK_MODEL_ORCHESTRATION } from '../orchestrations/rollback-model';
import type { RollbackInput } from '../orchestrations/contract';

/** Kept in the record and the timeline: a sentence, not a document. */
export const MAX_ROLLBACK_REASON = 500;
export const ROLLBACK_ID_PREFIX = 'rollback:';

export type RollbackStart = { ok: true; id: string } | { ok: false; status: number; message: string };

export async function startRollback(
  client: df.DurableClient,
  policies: PolicySet,
  request: {
    modelName: string;
    reason: string | undefined;
    /** The environment to roll back (a name of the policy's environments); absent: the first, as without them. */
    environment?: unknown;
    identify: () => CallerResult;
  },
  now: Date,
): Promise<RollbackStart> {
  const reason = request.reason?.trim();
  if (!reason) return { ok: false, status: 400, message: 'reason: say why the model is rolled back.' };
  if (reason.length > MAX_ROLLBACK_REASON)
    return { ok: false, status: 400, message: `reason: at most ${MAX_ROLLBACK_REASON} characters.` };
  const policy = policyFor(policies, request.modelName);
  if (!policy) return { ok: false, status: 404, message: `No promotion policy covers model "${request.modelName}".` };
  let where: Pick<RollbackInput, 'policy' | 'environment' | 'workspace'> = { policy };
  if (request.environment !== undefined || policy.environments) {
    const named = environmentNamed(policy, request.environment ?? policy.environments?.[0]?.name);
    if (!named.ok) return { ok: false, status: 400, message: named.message };
    const { environment, index } = named;
    // The first environment is the app's own workspace and the policy's endpoint: rolled back as without environments.
    where =
      index === 0
        ? { policy, environment: environment.name }
        : {
            policy: environmentPolicy(policy, environment),
            environment: environment.name,
            workspace: environment.workspace,
          };
  }
  const identified = request.identify();
  if (!identified.ok) return { ok: false, status: identified.status, message: identified.message };
  const { caller } = identified;
  const input: RollbackInput = {
    modelName: request.modelName,
    ...where,
    requestedBy: { name: caller.name, authenticated: caller.authenticated, identity: caller.source },
    reason,
    at: now.toISOString(),
  };
  // Sortable by time, unique without a counter.
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  const id = `${ROLLBACK_ID_PREFIX}${request.modelName}:${stamp}-${randomBytes(3).toString('hex')}`;
  await client.startNew(ROLLBACK_MODEL_ORCHESTRATION, { instanceId: id, input });
  return { ok: true, id };
}
