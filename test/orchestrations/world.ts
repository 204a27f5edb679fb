/**
 * An in-memory endpoint and model registry behind the activity contract, for flows replayed through the real
 * durable-functions SDK on the embedded engine (test/durable/helpers.ts). One world per workspace: a flow addressed
 * to an environment's workspace works on that workspace's world.
 */
import { isControlSealed, isSealed } from '../../lib/approval';
import { carriedLifecycle } from '../../lib/activities';
import { LINEAGE_TAGS } from '../../lib/domain/environments';
import type { LifecycleEvent } from '../../lib/domain/lifecycle';
import { freezeInForce, type RequestedFreeze } from '../../lib/domain/freeze';
import { sameTraffic } from '../../lib/domain/rollout-plan';
import { newerWinner } from '../../lib/domain/stages';
import { ENDPOINT_CHANGED, type Activities, type ActivityName } from '../../orchestrations/contract';
import { ENVIRONMENT_GATE_ENTITY, environmentGate } from '../../orchestrations/environment-gate';
import { promotion } from '../../orchestrations/promote-environments';
import { MODEL_LOCK_ENTITY, promoteModel } from '../../orchestrations/promote-model';
import { RETIRE_SLOT_ORCHESTRATION, retireSlot } from '../../orchestrations/retire-slot';
import type { Registry } from '../durable/helpers';

/** The secret decisions and controls are sealed with in these tests (the app's approval secret). */
export const SECRET = 'an approval secret of at least 32 bytes';

/** The activities promoteModel calls. */
type PromotionActivity = Extract<
  ActivityName,
  | 'readEndpoint'
  | 'beginCreateEndpoint'
  | 'beginDeploy'
  | 'checkProvisioning'
  | 'deleteDeployment'
  | 'testDeployment'
  | 'evaluateChallenger'
  | 'changeStage'
  | 'requestApproval'
  | 'remindApprovers'
  | 'publishLifecycle'
  | 'findNewerWinner'
  | 'verifyDecision'
  | 'verifyControl'
  | 'startSlotRetirement'
  | 'judgeRolloutStep'
  | 'checkReleaseFreeze'
  | 'readStage'
  | 'setTraffic'
  | 'recordRelease'
  | 'signalInstance'
>;
/** ... and the ones the environments flow adds. */
type WorldActivity = PromotionActivity | 'copyModelVersion' | 'checkBake';

/** An in-memory endpoint and model registry behind the activity contract. */
export class World {
  approvalRequests: Activities['requestApproval']['input'][] = [];
  reminders: Activities['remindApprovers']['input'][] = [];
  /** Lifecycle events the activities carried, in the order they ran (a retried activity's twice). */
  published: LifecycleEvent[] = [];
  traffic: Record<string, number> = {};
  deployments: Record<string, string> = {};
  stages: Record<string, string> = {};
  endpointExists = false;
  evaluation: 'win' | 'lose' | 'inconclusive' = 'win';
  deployFailure: string | undefined;
  testFails = false;
  evaluationFails = false;
  trafficFails = 0;
  /** Endpoint updates that send traffic to version 2 fail provisioning. */
  trafficUpdateFails = false;
  /** Provisioning checks answered InProgress with "poll again now" before one succeeds. */
  stillProvisioning = 0;
  /** Rollbacks answered 409 (an update still in progress) before one is accepted. */
  rollbackConflicts = 0;
  /** The update to version 2 never reports done to Champion, yet has landed when the endpoint is read later. */
  updateLandsLate = false;
  /** Traffic changes whose update ARM accepted but whose answer was lost (the activity throws, then re-runs). */
  lostAnswers = 0;
  /** The endpoint's provisioning state, as traffic updates leave it. */
  endpointState = 'Succeeded';
  /** Deployments being deleted; ARM refuses a PUT to them (409) until their delete finishes. */
  deleting = new Set<string>();
  /** Polls of a delete answered InProgress before it finishes. */
  deletePolls = 0;
  calls: string[] = [];
  /** The freeze a person asked for, as the release-freeze entity would hold it; the looks the promotion took. */
  requestedFreeze: RequestedFreeze | undefined;
  freezeChecks: Activities['checkReleaseFreeze']['input'][] = [];
  /** Retirements of a warm slot the promotion asked for. */
  retirements: Activities['startSlotRetirement']['input'][] = [];
  /** Every traffic change asked for, in order. */
  trafficChanges: Activities['setTraffic']['input'][] = [];
  /** Staging throws on every try. */
  stagingBroken = false;
  /** Verdicts the judge gives, step by step (Pass once they run out); the steps it was asked to judge. */
  verdicts: Activities['judgeRolloutStep']['output'][] = [];
  judged: Activities['judgeRolloutStep']['input'][] = [];
  /** Other workspaces by ARM id (an environment's), each its own world; activities addressed to one work there. */
  workspaces: Record<string, World> = {};
  /** Versions registered here from another workspace (by version: the source workspace), and the copies asked for. */
  copied: Record<string, string> = {};
  copies: Activities['copyModelVersion']['input'][] = [];
  /** Incidents a bake gate finds in this workspace's endpoint (none: it passes); the bakes checked. */
  bakeIncidents: string[] = [];
  bakes: Activities['checkBake']['input'][] = [];

  versionTags() {
    return Object.entries(this.stages).map(([version, stage]) => ({ version, tags: { stage } }));
  }

  /** The activities' work on this world (the one of the workspace an input names, see `register`). */
  private handlers(): { [K in WorldActivity]: (input: Activities[K]['input']) => Activities[K]['output'] } {
    return {
      readEndpoint: () => ({
        exists: this.endpointExists,
        provisioningState: this.updateLandsLate ? 'Succeeded' : this.endpointState,
        traffic: { ...this.traffic },
        deployments: Object.fromEntries(
          Object.entries(this.deployments).map(([k, v]) => [
            k,
            { model: v, provisioningState: this.deleting.has(k) ? 'Deleting' : 'Succeeded' },
          ]),
        ),
      }),
      beginCreateEndpoint: () => {
        this.endpointExists = true;
        return { ok: true, retryAfterSeconds: 0 };
      },
      beginDeploy: (i) => {
        if (this.deployFailure) return { ok: false, code: this.deployFailure, message: 'not enough quota' };
        if (this.deleting.has(i.slot)) return { ok: false, code: 'Conflict', message: `${i.slot} is being deleted` };
        this.deployments[i.slot] = `${i.modelName}:${i.modelVersion}`;
        return { ok: true, retryAfterSeconds: 0 };
      },
      checkProvisioning: (i) => {
        if (i.deleting) {
          if (this.deletePolls-- > 0) return { state: 'InProgress', retryAfterSeconds: 0 };
          this.deleting.delete(i.slot!);
          delete this.deployments[i.slot!];
          return { state: 'Succeeded' };
        }
        if (i.operationUrl === 'traffic-to-2' && this.updateLandsLate)
          return { state: 'InProgress', retryAfterSeconds: 0 };
        if (i.operationUrl === 'traffic-to-2' && this.trafficUpdateFails) {
          this.endpointState = 'Failed';
          return { state: 'Failed', code: 'ResourceNotReady', message: 'the endpoint update failed' };
        }
        if (i.operationUrl?.startsWith('traffic') || (!i.slot && !i.operationUrl)) this.endpointState = 'Succeeded';
        if (this.stillProvisioning > 0) {
          this.stillProvisioning--;
          return { state: 'InProgress', retryAfterSeconds: 0 };
        }
        return { state: 'Succeeded' };
      },
      deleteDeployment: (i) => {
        if (!(i.slot in this.deployments)) return { deleted: false };
        this.deleting.add(i.slot);
        return { deleted: true, retryAfterSeconds: 0, operationUrl: `delete-${i.slot}` };
      },
      testDeployment: () => ({
        ok: !this.testFails,
        requests: 1,
        failures: this.testFails ? ['500'] : [],
        p50LatencyMs: 1,
        maxLatencyMs: 1,
      }),
      evaluateChallenger: () => {
        if (this.evaluationFails) throw new Error('the scoring requests keep failing');
        return { kind: 'paired', decision: this.evaluation, reason: `scripted ${this.evaluation}`, n: 400 } as never;
      },
      changeStage: (i) => {
        if (this.stagingBroken && i.transition === 'stage') throw new Error('ARM keeps answering 500');
        const previous = Object.entries(this.stages).find(([v, s]) => s === 'staged' && v !== i.modelVersion)?.[0];
        if (i.transition === 'stage') {
          const superseded = newerWinner(this.versionTags(), i.modelVersion);
          if (superseded) return { written: [], superseded };
          if (previous) this.stages[previous] = 'unstaged';
          this.stages[i.modelVersion] = 'staged';
          return {
            written: [i.modelVersion],
            displaced: previous ? { version: previous, promotionId: `promote:demand:${previous}` } : undefined,
          };
        }
        if (i.transition === 'promote') {
          for (const [v, s] of Object.entries(this.stages)) if (s === 'production') this.stages[v] = 'surpassed';
          this.stages[i.modelVersion] = 'production';
        }
        const leaving = i.transition === 'reject' || i.transition === 'unstage';
        if (leaving && this.stages[i.modelVersion] === 'staged') this.stages[i.modelVersion] = 'unstaged';
        return { written: [i.modelVersion] };
      },
      requestApproval: (i) => {
        this.approvalRequests.push(i);
        return { expiresAt: i.expiresAt };
      },
      remindApprovers: (i) => {
        this.reminders.push(i);
        return { expiresAt: i.expiresAt };
      },
      publishLifecycle: () => ({}),
      verifyDecision: (i) => ({ sealed: isSealed(SECRET, i.promotionId, i.decision, i.seal) }),
      verifyControl: (i) => ({ sealed: isControlSealed(SECRET, i.promotionId, i.control, i.seal) }),
      startSlotRetirement: (i) => {
        this.retirements.push(i);
        return { started: true };
      },
      checkReleaseFreeze: (i) => {
        this.freezeChecks.push(i);
        return freezeInForce(i.windows, this.requestedFreeze, new Date(i.at));
      },
      judgeRolloutStep: (i) => {
        this.judged.push(i);
        return this.verdicts.shift() ?? { verdict: 'Pass', reason: 'healthy', metrics: [] };
      },
      findNewerWinner: (i) => {
        const newer = newerWinner(this.versionTags(), i.modelVersion);
        return newer ? { newer } : {};
      },
      readStage: (i) => ({ stage: this.stages[i.modelVersion] ?? null }),
      setTraffic: (i) => {
        this.trafficChanges.push(i);
        if (
          this.trafficFails > 0 &&
          i.traffic[Object.keys(i.traffic).find((k) => this.deployments[k]?.endsWith(':2')) ?? ''] === 100
        ) {
          this.trafficFails--;
          throw new Error('ARM refused the traffic update');
        }
        if (!i.expect && (this.rollbackConflicts > 0 || this.updateLandsLate)) {
          this.rollbackConflicts--;
          return { ok: false, code: 'Conflict', message: 'an update is in progress', retryAfterSeconds: 0 };
        }
        // The same rules as the activity: the slot first, then "already so" (unless that update failed), then the split.
        const e = i.expect;
        if (e && this.deployments[e.deployment] !== e.model) {
          return { ok: false, code: ENDPOINT_CHANGED, message: `${e.deployment} holds another model` };
        }
        if (sameTraffic(this.traffic, i.traffic)) {
          if (this.endpointState !== 'Failed') return { ok: true, retryAfterSeconds: 0 };
        } else if (e && !sameTraffic(this.traffic, e.traffic)) {
          return { ok: false, code: ENDPOINT_CHANGED, message: 'the split changed' };
        }
        this.traffic = { ...i.traffic };
        this.endpointState = 'Updating';
        const toChallenger = Object.entries(i.traffic).some(([d, w]) => w > 0 && this.deployments[d]?.endsWith(':2'));
        if (this.lostAnswers > 0) {
          this.lostAnswers--;
          if (toChallenger && this.trafficUpdateFails) this.endpointState = 'Failed';
          throw new Error('the connection dropped after ARM accepted the update');
        }
        return { ok: true, retryAfterSeconds: 0, operationUrl: toChallenger ? 'traffic-to-2' : 'traffic' };
      },
      recordRelease: () => ({ gitSha: 'abc1234', repository: 'local' }),
      signalInstance: () => ({ delivered: true }),
      copyModelVersion: (i) => {
        this.copies.push(i);
        const created = !(i.modelVersion in this.copied);
        this.copied[i.modelVersion] = i.fromWorkspace;
        const tags = {
          [LINEAGE_TAGS.workspace]: i.fromWorkspace,
          [LINEAGE_TAGS.version]: `${i.modelName}:${i.modelVersion}`,
          [LINEAGE_TAGS.environment]: i.sourceEnvironment,
          [LINEAGE_TAGS.promotion]: i.sourcePromotionId,
        };
        return { ok: true, created, modelUri: `azureml://models/${i.modelName}/versions/${i.modelVersion}`, tags };
      },
      checkBake: (i) => {
        this.bakes.push(i);
        return this.bakeIncidents.length > 0
          ? { ok: false, incidents: [...this.bakeIncidents], requests: 100, serverErrors: 10 }
          : { ok: true, incidents: [], requests: 100, serverErrors: 0 };
      },
    };
  }

  /**
   * Registers the activities, the model lock and the flows. An activity whose input names a workspace that is one of
   * `workspaces` works on that workspace's world (as lib/activities.ts addresses it); any other on this one.
   * `promoteModel` is the flow it always was, or `promotion` (across environments when the policy names some).
   */
  register(registry: Registry, flow: 'promoteModel' | 'promotion' = 'promoteModel'): Registry {
    const target = (input: unknown): World => {
      const workspace = (input as { workspace?: unknown } | null)?.workspace;
      return (typeof workspace === 'string' && this.workspaces[workspace]) || this;
    };
    for (const name of Object.keys(this.handlers()) as WorldActivity[]) {
      registry.activity(name, (input) => {
        const world = target(input);
        world.calls.push(name);
        const output = (world.handlers()[name] as (i: unknown) => unknown)(input);
        // Published once the activity's work is done, as lib/activities.ts does.
        world.published.push(...carriedLifecycle(input).events);
        return output;
      });
    }
    registry.entity(MODEL_LOCK_ENTITY, (context) => context.df.return(undefined));
    registry.entity(ENVIRONMENT_GATE_ENTITY, environmentGate);
    registry.orchestration(RETIRE_SLOT_ORCHESTRATION, retireSlot);
    return registry.orchestration('promoteModel', flow === 'promotion' ? promotion : promoteModel);
  }
}
