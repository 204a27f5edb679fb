/**
 * releaseFreeze: one entity per model, holding the release freeze a person asked for (lib/domain/freeze.ts) and the
 * last lift. Signalled by the freeze routes; read by the checkReleaseFreeze activity and the routes. The policy's own
 * windows are not kept here: they come with the policy.
 */
import type * as df from 'durable-functions';
import type { FreezeLift, FreezeState, RequestedFreeze } from '../lib/domain/freeze';

export const RELEASE_FREEZE_ENTITY = 'releaseFreeze';

export function releaseFreeze(context: df.EntityContext<FreezeState>): void {
  const state = context.df.getState(() => ({})) ?? {};
  switch (context.df.operationName) {
    case 'freeze': {
      // A later freeze replaces the earlier one: its reason and end are what holds now.
      state.frozen = context.df.getInput<RequestedFreeze>() as RequestedFreeze;
      break;
    }
    case 'lift': {
      const lift = context.df.getInput<FreezeLift>() as FreezeLift;
      if (state.frozen) state.lifted = { ...lift, freeze: state.frozen };
      delete state.frozen;
      break;
    }
    default:
      // An unknown operation changes nothing (raw signals can reach any entity through the Durable HTTP API).
      break;
  }
  context.df.setState(state);
}
