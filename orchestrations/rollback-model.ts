/**
 * rollbackModel: a person puts the previous production version back, at any time after a release. Under the model's
 * lock (so no promotion moves traffic meanwhile): the warm slot must hold the version that served before (tagged
 * `surpassed`, older than the one serving); then one traffic update sends it 100 %, checked against the endpoint as
 * read, waited for, and only then the tags follow (it is `production` again, the other `surpassed`). No analysis runs:
 * the person decided. Who asked and why are in the input, the result and the timeline.
 */
import { compareVersions } from '../lib/domain/versions';
import { planManualRollback } from '../lib/domain/rollout-plan';
import type { RollbackInput, RollbackResult, RollbackStatus } from './contract';
import { activity, announce, lifecycleSubject, now, publishPending, type Context, type Step } from './durable';
import { withModelLock } from './promote-model';
import { shiftTraffic } from './rollout';

export const ROLLBACK_MODEL_ORCHESTRATION = 'rollbackModel';

const versionOf = (model: string) => model.slice(model.indexOf(':') + 1);

export function* rollbackModel(ctx: Context): Step<RollbackResult> {
  const result = yield* rollBack(ctx);
  yield* publishPending(ctx);
  return result;
}

function* rollBack(ctx: Context): Step<RollbackResult> {
  const input = ctx.df.getInput() as RollbackInput;
  const { modelName, policy, requestedBy } = input;
  const status: RollbackStatus = { phase: 'waiting-for-lock', modelName, timeline: [] };
  const mark = (phase: RollbackStatus['phase'], note: string) => {
    status.phase = phase;
    status.timeline.push({ at: now(ctx).toISOString(), phase, note });
    ctx.df.setCustomStatus(status);
  };
  const done = (outcome: RollbackResult['outcome'], reason: string, extra: Partial<RollbackResult> = {}) => {
    mark('done', `${outcome}: ${reason}`);
    const record = {
      ...(input.environment !== undefined ? { environment: input.environment } : {}),
      requestedBy,
      requestReason: input.reason,
      timeline: status.timeline,
    };
    return { outcome, modelName, reason, ...record, ...extra } satisfies RollbackResult;
  };

  lifecycleSubject(ctx, { modelName });
  mark('waiting-for-lock', `asked by ${requestedBy.name}: ${input.reason}`);
  return yield* withModelLock(ctx, modelName, function* () {
    const endpoint = yield* activity(ctx, 'readEndpoint', { endpointName: policy.endpointName });
    const planned = planManualRollback(modelName, endpoint);
    if (!planned.ok) return done('refused', planned.problem);
    const { serving, warm, plan } = planned.rollback;

    // The warm slot may hold a challenger (staged, or a loser's leftover) rather than the previous production version.
    const previous = yield* activity(ctx, 'readStage', { modelName, modelVersion: versionOf(warm.model) });
    const current = yield* activity(ctx, 'readStage', { modelName, modelVersion: versionOf(serving.model) });
    if (previous.stage !== 'surpassed')
      return done(
        'refused',
        `${warm.slot} holds ${warm.model}, ${previous.stage ?? 'untagged'}: not a previous production version`,
      );
    const [older, newer] = [
      { version: versionOf(warm.model), ...(previous.createdAt ? { createdAt: previous.createdAt } : {}) },
      { version: versionOf(serving.model), ...(current.createdAt ? { createdAt: current.createdAt } : {}) },
    ];
    if (compareVersions(older, newer) > 0)
      return done(
        'refused',
        `${warm.model} is newer than ${serving.model}: a rollback only goes back (promote it again to go forward)`,
      );

    mark('rolling-back', `traffic → ${JSON.stringify(plan.steps[0])}: ${warm.model} from ${warm.slot}`);
    const shifted = yield* shiftTraffic(
      ctx,
      { endpointName: policy.endpointName, plan, model: warm.model, deadlineMs: policy.rollout.provisioningDeadlineMs },
      (note) => mark('rolling-back', note),
    );
    if (!shifted.ok) return done(shifted.stale ? 'refused' : 'failed', shifted.failure.message);
    // A person's rollback: published by the tag change below, as the production version changes with it.
    const change = {
      endpointName: policy.endpointName,
      environment: input.environment,
      from: serving.model,
      to: warm.model,
      slot: warm.slot,
    };
    announce(ctx, 'rolled-back', { ...change, requestedBy: requestedBy.name, reason: input.reason });
    announce(ctx, 'production-changed', { ...change, rollback: true });
    // Tags follow traffic: only now is the restored version production again.
    yield* activity(ctx, 'changeStage', {
      modelName,
      modelVersion: older.version,
      transition: 'promote',
      promotionId: ctx.df.instanceId,
    });
    return done('rolled-back', `${warm.model} serves 100 % again from ${warm.slot}; ${serving.model} is surpassed`, {
      from: serving,
      to: warm,
    });
  });
}
