/**
 * retireSlot: after a release, the previous champion stays deployed at 0 % for the policy's rollback window, so
 * `champion rollback` is one traffic update; when the window ends its deployment is deleted (followed to the end, as
 * a lost challenger's is) so it stops costing money. Under the model's lock, and only if the slot still holds what it
 * held when the window opened and takes no traffic: a rollback during the window (it serves again) or a newer
 * challenger (it holds another version) keeps it.
 */
import type { RetirementInput, RetirementResult } from './contract';
import { activity, now, type Context, type Step } from './durable';
import { withModelLock } from './promote-model';
import { removeSlot } from './rollout';

export const RETIRE_SLOT_ORCHESTRATION = 'retireSlot';

export function* retireSlot(ctx: Context): Step<RetirementResult> {
  const input = ctx.df.getInput() as RetirementInput;
  const { modelName, policy, slot } = input;
  const timeline: RetirementResult['timeline'] = [];
  const mark = (phase: string, note: string) => {
    timeline.push({ at: now(ctx).toISOString(), phase, note });
    ctx.df.setCustomStatus({ phase, modelName, slot, until: input.until, timeline });
  };

  const opened = yield* activity(ctx, 'readEndpoint', { endpointName: policy.endpointName });
  const held = opened.deployments[slot]?.model;
  const done = (outcome: RetirementResult['outcome'], reason: string): RetirementResult => {
    mark('done', `${outcome}: ${reason}`);
    return { outcome, modelName, slot, ...(held ? { held } : {}), reason, timeline };
  };
  if (!held) return done('gone', `${slot} holds nothing to keep warm`);
  mark('warm', `${slot} keeps ${held} warm at 0 % until ${input.until} (rollback window of ${input.promotionId})`);
  yield ctx.df.createTimer(new Date(input.until));

  return yield* withModelLock(ctx, modelName, function* () {
    const view = yield* activity(ctx, 'readEndpoint', { endpointName: policy.endpointName });
    const current = view.deployments[slot];
    if (!current) return done('gone', `${slot} was already removed`);
    if (current.model !== held)
      return done('kept', `${slot} holds ${current.model ?? 'another model'} now: left as it is`);
    const traffic = view.traffic[slot] ?? 0;
    if (traffic > 0) return done('kept', `${slot} (${held}) serves ${traffic} % again (rolled back): kept`);
    mark('removing', `the rollback window is over: removing ${slot} (${held})`);
    yield* removeSlot(ctx, policy, slot);
    return done('removed', `${slot} (${held}) removed at the end of the rollback window (${input.until})`);
  });
}
