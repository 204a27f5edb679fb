/**
 * Continuous-training triggers: drift signals (Event Grid), a schedule per model (timer), and people (HTTP). Each
 * one starts a `retrainTrigger` orchestration that asks the model's `retrainGuard` entity whether to retrain, so
 * concurrent deliveries are serialised and every skip is recorded with its reason.
 *
 * Which model a signal is about is decided in lib/retraining.ts.
 * Anything else — another model, an unrelated run, an invalid event — is acknowledged and logged, never thrown.
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getApp, loadPolicies } from '../lib/app';
import { policyFor } from '../lib/domain/policy';
import type { RetrainingTrigger } from '../lib/domain/retraining-guard';
import { json, problem, readJsonObject, text } from '../lib/http';
import { readAllInstances, type InstanceStatus } from '../lib/promotion-list';
import { instanceStatus } from '../lib/promotions';
import {
  hasRetraining,
  manualId,
  planDriftEvent,
  RETRAINING_SIGNAL_ID_PREFIX,
  startTrigger,
  triggerInput,
  type RetrainingPolicy,
} from '../lib/retraining';
import type { RetrainingResult, RetrainingStatus } from '../orchestrations/contract';
import { appDryRunDeps, dryRunRetraining } from '../lib/dry-run';
import {
  RETRAIN_GUARD_ENTITY,
  RETRAIN_MODEL_ORCHESTRATION,
  RETRAIN_TRIGGER_ORCHESTRATION,
  RETRAINING_RUN_ID_PREFIX,
  signalSource,
  type GuardState,
  type RetrainTriggerInput,
  type RetrainTriggerResult,
  type RetrainTriggerStatus,
} from '../orchestrations/retrain-model';

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
// policy file registers no timers here and stops the app when it starts (functions/startup.ts) with its path.

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

function runSummary(status: df.DurableOrchestrationStatus | InstanceStatus) {
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

function triggerSummary(status: df.DurableOrchestrationStatus | InstanceStatus) {
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
  route: 'api/retrainings',
  methods: ['POST'],
  handler: async (request, client) => {
    const read = await readJsonObject(request);
    if (!read.ok) return read.response;
    const { body } = read;
    const modelName = text(body.modelName);
    if (body.dryRun !== undefined && typeof body.dryRun !== 'boolean')
      return problem(400, 'dryRun: must be true or false.');
    const dryRun = body.dryRun === true;
    const reason = text(body.reason) ?? (dryRun ? 'dry run' : undefined);
    if (!modelName) return problem(400, 'modelName: required.');
    if (!reason) return problem(400, 'reason: required (why retrain now?).');
    const policy = policyFor(getApp().policies, modelName);
    if (!hasRetraining(policy)) return problem(404, `No retraining policy covers model "${modelName}".`);
    const requestedBy = request.headers.get('x-ms-client-principal-name') ?? text(body.requestedBy);
    const trigger: RetrainingTrigger = { kind: 'manual', reason, ...(requestedBy && { requestedBy }) };
    if (dryRun) {
      // What a run would do now (lib/dry-run.ts): the guard's answer from its recorded state, the data checks,
      // the hashes and the job body; nothing started, uploaded or submitted. 200 with the plan.
      const guard = await client.readEntityState<GuardState>(new df.EntityId(RETRAIN_GUARD_ENTITY, modelName));
      const plan = await dryRunRetraining(
        appDryRunDeps(getApp()),
        policy,
        guard.entityExists ? guard.entityState : undefined,
        trigger,
        new Date(),
      );
      return json(200, plan);
    }
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

/** Instances read per request to the Durable HTTP API when listing. */
const LIST_PAGE_SIZE = 1000;

df.app.client.http('listRetrainings', {
  authLevel: 'function',
  route: 'api/retrainings',
  methods: ['GET'],
  handler: async (request, _client, context) => {
    const model = request.query.get('model');
    // Only retraining instances are read (by their id prefixes), a page at a time, as promotions are listed.
    const read = (instanceIdPrefix: string, name: string) =>
      readAllInstances(
        context,
        { instanceIdPrefix, pageSize: LIST_PAGE_SIZE },
        (s) => s.name === name && (!model || (s.input as { modelName?: string } | undefined)?.modelName === model),
      ).then((list) => list.sort((a, b) => String(b.createdTime).localeCompare(String(a.createdTime))));
    const [runs, triggers] = await Promise.all([
      read(RETRAINING_RUN_ID_PREFIX, RETRAIN_MODEL_ORCHESTRATION),
      read(RETRAINING_SIGNAL_ID_PREFIX, RETRAIN_TRIGGER_ORCHESTRATION),
    ]);
    return json(200, { runs: runs.map(runSummary), triggers: triggers.map(triggerSummary) });
  },
});

df.app.client.http('getRetraining', {
  authLevel: 'function',
  route: 'api/retrainings/{id}',
  methods: ['GET'],
  handler: async (request, client) => {
    const status = await instanceStatus(client, request.params.id ?? '');
    if (status?.name === RETRAIN_MODEL_ORCHESTRATION) return json(200, runSummary(status));
    if (status?.name === RETRAIN_TRIGGER_ORCHESTRATION) return json(200, triggerSummary(status));
    return problem(404, `No retraining "${request.params.id}".`);
  },
});
