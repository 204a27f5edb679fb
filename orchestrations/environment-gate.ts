/**
 * environmentGate: one entity per model and gate between environments (key `{model}@{environment}`, the environment
 * the gate leads into), holding the promotion waiting there (lib/domain/gates.ts). Called by a promotion across
 * environments when it reaches the gate ('arrive': it waits, displacing an older one, or is superseded by a newer),
 * signalled when it leaves ('leave').
 */
import type * as df from 'durable-functions';
import { arriveAtGate, leaveGate, type GateState, type GateWaiter } from '../lib/domain/gates';

export const ENVIRONMENT_GATE_ENTITY = 'environmentGate';

export function environmentGate(context: df.EntityContext<GateState>): void {
  const state = context.df.getState(() => ({})) ?? {};
  switch (context.df.operationName) {
    case 'arrive': {
      const arriving = context.df.getInput<GateWaiter>();
      if (!isWaiter(arriving)) {
        context.df.return({ waits: true });
        return;
      }
      const { state: next, arrival } = arriveAtGate(state, arriving);
      context.df.setState(next);
      context.df.return(arrival);
      return;
    }
    case 'leave': {
      const promotionId = context.df.getInput<{ promotionId?: unknown }>()?.promotionId;
      if (typeof promotionId === 'string') context.df.setState(leaveGate(state, promotionId));
      return;
    }
    default:
      // An unknown operation changes nothing (raw signals can reach any entity through the Durable HTTP API).
      return;
  }
}

function isWaiter(value: unknown): value is GateWaiter {
  const v = value as Partial<GateWaiter> | null | undefined;
  return typeof v?.promotionId === 'string' && typeof v.modelVersion === 'string';
}
