/**
 * Continuous-training intake shared by the triggers: which model a drift signal is about, and starting the
 * `retrainTrigger` orchestration for a signal exactly once, whatever Event Grid redelivers.
 *
 * Which model a drift signal is about, in this order (only policies with a `retraining` section count):
 *   1. the model the event names (`ModelName` of a v1 event; a `champion.model`/`model_name` run tag or a
 *      `models/<name>` subject of a v2 monitor run);
 *   2. v2: the policy whose `endpointName` is the monitor run's `azureml_modelmonitor_endpoint` tag;
 *   3. the monitor's name (v1 `DataDriftName`, v2 tag `azureml_modelmonitor_name`) equal to a policy's model or
 *      endpoint name, or starting with `<model>-` / `<endpoint>-` (e.g. `demand-drift`).
 */
import { randomUUID } from 'node:crypto';
import type * as df from 'durable-functions';
import { RETRAIN_TRIGGER_ORCHESTRATION, signalSource, type RetrainTriggerInput } from '../orchestrations/retrain-model';
import { durableInstanceId, EventValidationError, parseEvent, type DriftCommand } from './domain/events';
import { policyFor, type Policy, type PolicySet } from './domain/policy';
import type { RetrainingTrigger } from './domain/retraining-guard';
import { instanceStatus } from './promotions';

const SIGNAL_ID_KIND = 'retrain-signal';
/** Every signal's instance id starts with it (durableInstanceId keeps the first part whole), so signals are listed by prefix. */
export const RETRAINING_SIGNAL_ID_PREFIX = `${SIGNAL_ID_KIND}:`;

export const MONITOR_ENDPOINT_TAGS = ['azureml_modelmonitor_endpoint', 'azureml.modelmonitor.endpoint'] as const;
export const MONITOR_NAME_TAGS = ['azureml_modelmonitor_name', 'azureml.modelmonitor.name'] as const;

export type RetrainingPolicy = Policy & { retraining: NonNullable<Policy['retraining']> };

export const hasRetraining = (policy: Policy | undefined): policy is RetrainingPolicy =>
  policy?.retraining !== undefined;

/** The policy a drift signal is about (see the file comment), or why there is none. */
export function policyForDrift(
  command: DriftCommand,
  policies: PolicySet,
): { ok: true; policy: RetrainingPolicy; matchedBy: string } | { ok: false; reason: string } {
  const candidates = Object.values(policies).filter(hasRetraining);
  if (command.modelName !== undefined) {
    const named = policyFor(policies, command.modelName);
    if (hasRetraining(named)) return { ok: true, policy: named, matchedBy: 'model name in the event' };
    return { ok: false, reason: `no retraining policy covers model "${command.modelName}" named by the event` };
  }
  const tag = (keys: readonly string[]) =>
    command.generation === 'v2' ? keys.map((k) => command.tags[k]?.trim()).find((v) => v) : undefined;
  const endpoint = tag(MONITOR_ENDPOINT_TAGS);
  if (endpoint !== undefined) {
    const byEndpoint = candidates.filter((p) => p.endpointName.toLowerCase() === endpoint.toLowerCase());
    if (byEndpoint.length === 1)
      return { ok: true, policy: byEndpoint[0]!, matchedBy: `monitored endpoint ${endpoint}` };
  }
  const monitor = command.generation === 'v1' ? command.monitorName : tag(MONITOR_NAME_TAGS);
  if (monitor !== undefined) {
    const m = monitor.toLowerCase();
    const names = (p: Policy) => [p.modelName.toLowerCase(), p.endpointName.toLowerCase()];
    const byMonitor = candidates.filter((p) => names(p).some((n) => m === n || m.startsWith(`${n}-`)));
    if (byMonitor.length === 1) return { ok: true, policy: byMonitor[0]!, matchedBy: `monitor ${monitor}` };
    if (byMonitor.length > 1) return { ok: false, reason: `monitor "${monitor}" matches several policies` };
  }
  return {
    ok: false,
    reason: `no retraining policy matches (endpoint ${endpoint ?? 'none'}, monitor ${monitor ?? 'none'})`,
  };
}

export function driftTrigger(command: DriftCommand): RetrainingTrigger {
  return {
    kind: 'drift',
    generation: command.generation,
    signal: command.signal,
    observationId: command.observationId,
  };
}

export function triggerInput(policy: RetrainingPolicy, trigger: RetrainingTrigger, note: string): RetrainTriggerInput {
  const { retraining } = policy;
  return {
    modelName: policy.modelName,
    trigger,
    guard: { cooldownMs: retraining.cooldownMs, ...(retraining.kOfN && { kOfN: retraining.kOfN }) },
    retraining: {
      jobSpec: retraining.jobSpec,
      trainingDataAsset: retraining.trainingDataAsset,
      ...(retraining.approval ? { approval: retraining.approval } : {}),
    },
    note,
  };
}

/** What a drift event becomes: the trigger orchestration to start (id and input), or why nothing starts. */
export function planDriftEvent(
  event: unknown,
  policies: PolicySet,
): { kind: 'start'; instanceId: string; input: RetrainTriggerInput } | { kind: 'ignore'; reason: string } {
  let command;
  try {
    command = parseEvent(event);
  } catch (err) {
    if (err instanceof EventValidationError) return { kind: 'ignore', reason: `invalid event: ${err.message}` };
    throw err;
  }
  if (command.kind !== 'drift') {
    const what = command.kind === 'ignored' ? command.reason : `a ${command.kind} event, not a drift signal`;
    return { kind: 'ignore', reason: what };
  }
  const match = policyForDrift(command, policies);
  if (!match.ok) return { kind: 'ignore', reason: match.reason };
  const trigger = driftTrigger(command);
  const source = signalSource(trigger);
  const note =
    command.generation === 'v1'
      ? `dataset monitor ${command.monitorName} reported drift ${command.driftCoefficient} (event ${command.eventId})`
      : `monitor run ${command.runId} ${command.signal === 'breach' ? `breached${command.signalNames.length ? ` ${command.signalNames.join(', ')}` : ''}` : 'recovered'} (event ${command.eventId})`;
  return {
    kind: 'start',
    // One trigger per observation: Event Grid's redeliveries of it find the first one.
    instanceId: durableInstanceId(SIGNAL_ID_KIND, match.policy.modelName, source, command.observationId),
    input: triggerInput(match.policy, trigger, `${note}; matched by ${match.matchedBy}`),
  };
}

export async function startTrigger(
  client: df.DurableClient,
  instanceId: string,
  input: RetrainTriggerInput,
): Promise<{ started: boolean; runtimeStatus?: string }> {
  const existing = await instanceStatus(client, instanceId);
  if (existing) return { started: false, runtimeStatus: String(existing.runtimeStatus) };
  try {
    await client.startNew(RETRAIN_TRIGGER_ORCHESTRATION, { instanceId, input });
  } catch (err) {
    const raced = await instanceStatus(client, instanceId);
    if (raced) return { started: false, runtimeStatus: String(raced.runtimeStatus) };
    throw err;
  }
  return { started: true };
}

/** A fresh trigger id for a scheduled or manual request: each is its own signal. */
export const manualId = (modelName: string, kind: 'timer' | 'manual') =>
  durableInstanceId(SIGNAL_ID_KIND, modelName, kind, randomUUID());
