/**
 * Who waits at a gate between environments (policy `environments[i].gate`): one promotion per model and gate. A
 * newer version's promotion that reaches the gate supersedes an older one waiting there, so a person is never asked
 * to let a version into production that the environment before it no longer serves, and nothing older is copied on.
 * Pure: the environmentGate entity (orchestrations/environment-gate.ts) keeps the state, the flow acts on the answer.
 */
import { compareVersions } from './versions';

/** A promotion waiting at a gate. */
export interface GateWaiter {
  promotionId: string;
  modelVersion: string;
}

export interface GateState {
  waiting?: GateWaiter;
}

/** What a promotion that reaches a gate learns: it waits (having displaced an older one), or it is superseded. */
export type GateArrival = { waits: true; displaced?: GateWaiter } | { waits: false; supersededBy: GateWaiter };

/**
 * A promotion reaches the gate. Its version newer than the waiting one's (or the same version, a later attempt):
 * it waits in its place, and the one it displaced is to be told. Older: it is superseded by the one waiting.
 * The same promotion again (a replayed or repeated arrival): it waits, displacing nobody.
 */
export function arriveAtGate(state: GateState, arriving: GateWaiter): { state: GateState; arrival: GateArrival } {
  const waiting = state.waiting;
  if (!waiting || waiting.promotionId === arriving.promotionId) {
    return { state: { waiting: arriving }, arrival: { waits: true } };
  }
  if (compareVersions({ version: waiting.modelVersion }, { version: arriving.modelVersion }) > 0) {
    return { state, arrival: { waits: false, supersededBy: waiting } };
  }
  return { state: { waiting: arriving }, arrival: { waits: true, displaced: waiting } };
}

/** A promotion leaves the gate (opened, closed or superseded): only its own place is freed. */
export function leaveGate(state: GateState, promotionId: string): GateState {
  return state.waiting?.promotionId === promotionId ? {} : state;
}

/** The gate entity's key: the model and the environment the gate leads into. */
export function gateKey(modelName: string, environment: string): string {
  return `${modelName}@${environment}`;
}
