/**
 * Continuous-training triggers: drift signals (Event Grid), a schedule per model (timer), and people (HTTP). Each
 * one starts a `retrainTrigger` orchestration that asks the model's `retrainGuard` entity whether to retrain, so
 * concurrent deliveries are serialised and every skip is recorded with its reason.
 *
 * Which model a drift signal is about, in this order (only policies with a `retraining` section count):
 *   1. the model the event names (`ModelName` of a v1 event; a `champion.model`/`model_name` run tag or a
 *      `models/<name>` subject of a v2 monitor run);
 *   2. v2: the policy whose `endpointName` is the monitor run's `azureml_modelmonitor_endpoint` tag;
 *   3. the monitor's name (v1 `DataDriftName`, v2 tag `azureml_modelmonitor_name`) equal to a policy's model or
 *      endpoint name, or starting with `<model>-` / `<endpoint>-` (e.g. `demand-drift`).
 * Anything else — another model, an unrelated run, an invalid event — is acknowledged and logged, never thrown.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import * as df from 'durable-functions';
import { getApp, loadPolicies } from '../lib/app';
import { durableInstanceId, EventValidationError, parseEvent, type DriftCommand } from '../lib/domain/events';
import { policyFor, type Policy, type PolicySet } from '../lib/domain/policy';
import type { RetrainingTrigger } from '../lib/domain/retraining-guard';
import { instanceStatus } from '../lib/promotions';
import type { RetrainingResult, RetrainingStatus } from '../orchestrations/contract';
import {
  RETRAIN_MODEL_ORCHESTRATION,
  RETRAIN_TRIGGER_ORCHESTRATION,
  signalSource,
  type RetrainTriggerInput,
  type RetrainTriggerResult,
  type RetrainTriggerStatus,
} from '../orchestrations/retrain-model';

export const MONITOR_ENDPOINT_TAGS = ['azureml_modelmonitor_endpoint', 'azureml.modelmonitor.endpoint'] as const;
export const MONITOR_NAME_TAGS = ['azureml_modelmonitor_name', 'azureml.modelmonitor.name'] as const;

export type RetrainingPolicy = Policy & { retraining: NonNullable<Policy['retraining']> };

const hasRetraining = (policy: Policy | undefined): policy is RetrainingPolicy => policy?.retraining !== undefined;

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
    retraining: { jobSpec: retraining.jobSpec, trainingDataAsset: retraining.trainingDataAsset },
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
    instanceId: durableInstanceId('retrain-signal', match.policy.modelName, source, command.observationId),
    input: triggerInput(match.policy, trigger, `${note}; matched by ${match.matchedBy}`),
  };
}

async function startTrigger(
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

const manualId = (modelName: string, kind: 'timer' | 'manual') =>
  durableInstanceId('retrain-signal', modelName, kind, randomUUID());

// ---------------------------------------------------------------------------------------------------------------
// Drift signals

df.app.client.eventGrid('onDriftDetected', {
  handler: async (event, client, context) => {
    const plan = planDriftEvent(event, getApp().policies);
    const id = String((event as { id?: unknown }).id);
    if (plan.kind === 'ignore') {
      context.log(`Ignoring event ${id} (${event.eventType}): ${plan.reason}.`);
      return;
    }
    const outcome = await startTrigger(client, plan.instanceId, plan.input);
    if (outcome.started) context.log(`Drift signal ${id} → ${plan.instanceId}.`);
    else context.log(`Drift signal ${id} was already handled by ${plan.instanceId} (${outcome.runtimeStatus}).`);
  },
});

// ---------------------------------------------------------------------------------------------------------------
// Schedules: one timer per model whose policy has `retraining.schedule`. Policies are read at registration; a bad
// policy file registers no timers here and fails the first invocation of the other functions with its path.

function scheduledPolicies(): RetrainingPolicy[] {
  const setting = process.env.CHAMPION_POLICIES;
  if (!setting) return [];
  try {
    return Object.values(loadPolicies(setting)).filter(
      (p): p is RetrainingPolicy => hasRetraining(p) && p.retraining.schedule !== undefined,
    );
  } catch (err) {
    console.warn(`No retraining schedules registered: ${(err as Error).message}`);
    return [];
  }
}

export function timerFunctionName(modelName: string): string {
  return `retrainOnSchedule_${modelName.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

for (const policy of scheduledPolicies()) {
  const schedule = policy.retraining.schedule as string;
  df.app.client.timer(timerFunctionName(policy.modelName), {
    schedule,
    handler: async (_timer, client, context: InvocationContext) => {
      const current = policyFor(getApp().policies, policy.modelName);
      if (!hasRetraining(current)) {
        context.log(`No retraining policy for ${policy.modelName} any more; schedule ${schedule} ignored.`);
        return;
      }
      const id = manualId(policy.modelName, 'timer');
      await startTrigger(client, id, triggerInput(current, { kind: 'timer', schedule }, `schedule ${schedule}`));
      context.log(`Scheduled retraining signal for ${policy.modelName} → ${id}.`);
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

const json = (status: number, body: unknown): HttpResponseInit => ({ status, jsonBody: body });
const problem = (status: number, message: string): HttpResponseInit => json(status, { error: message });
const text = (value: unknown) => (typeof value === 'string' && value.trim() ? value.trim() : undefined);

async function readBody(request: HttpRequest): Promise<Record<string, unknown> | undefined> {
  const raw = await request.text();
  if (!raw.trim()) return {};
  try {
    const body = JSON.parse(raw) as unknown;
    return typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function runSummary(status: df.DurableOrchestrationStatus) {
  const input = status.input as { modelName?: string; trigger?: unknown } | undefined;
  const custom = status.customStatus as RetrainingStatus | undefined;
  return {
    kind: 'run' as const,
    id: status.instanceId,
    modelName: input?.modelName,
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    trigger: input?.trigger,
    status: custom,
    result: status.output as RetrainingResult | undefined,
  };
}

function triggerSummary(status: df.DurableOrchestrationStatus) {
  const input = status.input as RetrainTriggerInput | undefined;
  const custom = status.customStatus as RetrainTriggerStatus | undefined;
  const output = status.output as RetrainTriggerResult | undefined;
  return {
    kind: 'trigger' as const,
    id: status.instanceId,
    modelName: input?.modelName,
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    source: custom?.source ?? (input ? signalSource(input.trigger) : undefined),
    note: input?.note,
    decision: custom?.decision,
    runId: custom?.runId,
    runOutcome: output?.run?.outcome,
  };
}

df.app.client.http('startRetrainingHttp', {
  authLevel: 'function',
  route: 'retrainings',
  methods: ['POST'],
  handler: async (request, client) => {
    const body = await readBody(request);
    if (!body) return problem(400, 'The body must be a JSON object.');
    const modelName = text(body.modelName);
    const reason = text(body.reason);
    if (!modelName) return problem(400, 'modelName: required.');
    if (!reason) return problem(400, 'reason: required (why retrain now?).');
    const policy = policyFor(getApp().policies, modelName);
    if (!hasRetraining(policy)) return problem(404, `No retraining policy covers model "${modelName}".`);
    const requestedBy = request.headers.get('x-ms-client-principal-name') ?? text(body.requestedBy);
    const trigger: RetrainingTrigger = { kind: 'manual', reason, ...(requestedBy && { requestedBy }) };
    const id = manualId(modelName, 'manual');
    await startTrigger(
      client,
      id,
      triggerInput(policy, trigger, `requested${requestedBy ? ` by ${requestedBy}` : ''}`),
    );
    const statusUrl = `${new URL(request.url).origin}/api/retrainings/${encodeURIComponent(id)}`;
    // The guard answers within moments; report its decision when it is there (bounded wait).
    for (let i = 0; i < 50; i++) {
      const custom = (await instanceStatus(client, id))?.customStatus as RetrainTriggerStatus | undefined;
      if (custom?.decision) {
        if (custom.decision.action === 'skip') {
          return json(409, { id, decision: custom.decision, runId: custom.runId, error: custom.decision.detail });
        }
        return json(202, { id, decision: custom.decision, runId: custom.runId, statusUrl });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return json(202, { id, statusUrl });
  },
});

df.app.client.http('listRetrainings', {
  authLevel: 'function',
  route: 'retrainings',
  methods: ['GET'],
  handler: async (request, client) => {
    const model = request.query.get('model');
    const all = await client.getStatusAll();
    const byModel = (s: df.DurableOrchestrationStatus) =>
      !model || (s.input as { modelName?: string } | undefined)?.modelName === model;
    const newestFirst = (a: df.DurableOrchestrationStatus, b: df.DurableOrchestrationStatus) =>
      String(b.createdTime).localeCompare(String(a.createdTime));
    return json(200, {
      runs: all
        .filter((s) => s.name === RETRAIN_MODEL_ORCHESTRATION && byModel(s))
        .sort(newestFirst)
        .map(runSummary),
      triggers: all
        .filter((s) => s.name === RETRAIN_TRIGGER_ORCHESTRATION && byModel(s))
        .sort(newestFirst)
        .map(triggerSummary),
    });
  },
});

df.app.client.http('getRetraining', {
  authLevel: 'function',
  route: 'retrainings/{id}',
  methods: ['GET'],
  handler: async (request, client) => {
    const status = await instanceStatus(client, request.params.id ?? '');
    if (status?.name === RETRAIN_MODEL_ORCHESTRATION) return json(200, runSummary(status));
    if (status?.name === RETRAIN_TRIGGER_ORCHESTRATION) return json(200, triggerSummary(status));
    return problem(404, `No retraining "${request.params.id}".`);
  },
});
