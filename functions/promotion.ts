/**
 * Registrations of the promotion flow: the orchestration, the per-model lock entity, and every activity of the
 * contract over the adapters the composition root builds.
 */
import * as df from 'durable-functions';
import { createActivities, type ActivityHandlers } from '../lib/activities';
import { getApp } from '../lib/app';
import type { ActivityName } from '../orchestrations/contract';
import { MODEL_LOCK_ENTITY } from '../orchestrations/promote-model';
import { promotion, PROMOTION_ORCHESTRATION } from '../orchestrations/promote-environments';
import { ROLLBACK_MODEL_ORCHESTRATION, rollbackModel } from '../orchestrations/rollback-model';
import { RETIRE_SLOT_ORCHESTRATION, retireSlot } from '../orchestrations/retire-slot';
import { RELEASE_FREEZE_ENTITY, releaseFreeze } from '../orchestrations/release-freeze';
import { ENVIRONMENT_GATE_ENTITY, environmentGate } from '../orchestrations/environment-gate';
import type { FreezeState } from '../lib/domain/freeze';
import {
  RETRAIN_GUARD_ENTITY,
  RETRAIN_MODEL_ORCHESTRATION,
  RETRAIN_TRIGGER_ORCHESTRATION,
  retrainGuard,
  retrainModel,
  retrainTrigger,
} from '../orchestrations/retrain-model';

// One version's promotion; across the policy's environments when it names some (each one's a sub-orchestration).
df.app.orchestration(PROMOTION_ORCHESTRATION, promotion);
// A person's rollback to the previous production version, under the same lock as promotions.
df.app.orchestration(ROLLBACK_MODEL_ORCHESTRATION, rollbackModel);
// The previous champion's warm slot, removed when the policy's rollback window ends.
df.app.orchestration(RETIRE_SLOT_ORCHESTRATION, retireSlot);

// Continuous training: the per-trigger guard hop, the run, and the per-model guard entity.
df.app.orchestration(RETRAIN_TRIGGER_ORCHESTRATION, retrainTrigger);
df.app.orchestration(RETRAIN_MODEL_ORCHESTRATION, retrainModel);
df.app.entity(RETRAIN_GUARD_ENTITY, retrainGuard);

// The release freeze a person asked for, per model (lib/domain/freeze.ts).
df.app.entity(RELEASE_FREEZE_ENTITY, releaseFreeze);

// Who waits at each gate between environments, per model and gate (lib/domain/gates.ts).
df.app.entity(ENVIRONMENT_GATE_ENTITY, environmentGate);

// Only locked, never called: its state is the lock itself, which the Durable runtime keeps.
df.app.entity(MODEL_LOCK_ENTITY, (context) => {
  context.df.return(undefined);
});

const clientInput = df.input.durableClient();

function activities(context: Parameters<typeof df.getClient>[0]): ActivityHandlers {
  const client = df.getClient(context);
  return createActivities({
    ...getApp().deps,
    signal: async (instanceId, eventName, data) => {
      try {
        await client.raiseEvent(instanceId, eventName, data);
        return true;
      } catch {
        // The instance finished or never existed: nothing waits for the signal.
        return false;
      }
    },
    readFreeze: async (modelName) => {
      const read = await client.readEntityState<FreezeState>(new df.EntityId(RELEASE_FREEZE_ENTITY, modelName));
      return read.entityExists ? read.entityState : undefined;
    },
    start: async (orchestration, instanceId, input) => {
      // A re-run of the activity (after a crash) finds the instance it started.
      if (await client.getStatus(instanceId).catch(() => undefined)) return false;
      await client.startNew(orchestration, { instanceId, input });
      return true;
    },
  });
}

// Every activity of the contract, checked by the compiler: a missing or unknown name fails to build.
const registered: Record<ActivityName, true> = {
  readEndpoint: true,
  beginCreateEndpoint: true,
  beginDeploy: true,
  checkProvisioning: true,
  deleteDeployment: true,
  testDeployment: true,
  evaluateChallenger: true,
  changeStage: true,
  requestApproval: true,
  remindApprovers: true,
  findNewerWinner: true,
  verifyDecision: true,
  verifyControl: true,
  startSlotRetirement: true,
  checkReleaseFreeze: true,
  readStage: true,
  setTraffic: true,
  recordRelease: true,
  signalInstance: true,
  judgeRolloutStep: true,
  publishLifecycle: true,
  readTrainingSpec: true,
  ensureEnvironment: true,
  checkTrainingData: true,
  submitTrainingJob: true,
  checkTrainingJob: true,
  cancelTrainingJob: true,
  registerTrainedModel: true,
  copyModelVersion: true,
  checkBake: true,
};

for (const name of Object.keys(registered) as ActivityName[]) {
  df.app.activity(name, {
    extraInputs: [clientInput],
    handler: (input: unknown, context) => (activities(context)[name] as (i: unknown) => Promise<unknown>)(input),
  });
}
