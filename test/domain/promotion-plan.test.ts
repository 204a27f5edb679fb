import { describe, expect, it } from 'vitest';
import type { Evidence } from '../../lib/domain/evaluation';
import { parsePolicies, type Policy } from '../../lib/domain/policy';
import { planPromotion, type PromotionPlanInput } from '../../lib/domain/promotion-plan';

const WS = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws';

function policy(overrides: Record<string, unknown> = {}): Policy {
  return parsePolicies({
    policies: [
      {
        modelName: 'demand',
        endpointName: 'demand-ep',
        task: 'regression',
        primaryMetric: 'mse',
        evaluation: { mode: 'paired', dataAsset: { name: 'demand-eval', version: '1' }, labelColumn: 'y' },
        rollout: { instanceType: 'Standard_DS3_v2', steps: [10, 100], testSpec: { sampleRows: [{ x: 1 }] } },
        ...overrides,
      },
    ],
  }).demand!;
}

const evidence = (decision: Evidence['decision']): Evidence =>
  ({ kind: 'paired', decision, reason: `it is ${decision}`, n: 100 }) as unknown as Evidence;

function input(overrides: Partial<PromotionPlanInput> = {}): PromotionPlanInput {
  return {
    policy: policy(),
    modelName: 'demand',
    modelVersion: '3',
    promotionId: 'promote:demand:3',
    versions: [
      { version: '1', tags: { stage: 'surpassed' } },
      { version: '2', tags: { stage: 'production' } },
      { version: '3', tags: {} },
    ],
    endpoint: {
      exists: true,
      provisioningState: 'Succeeded',
      traffic: { blue: 100, green: 0 },
      deployments: {
        blue: { model: 'demand:2', provisioningState: 'Succeeded' },
        green: { model: 'demand:1', provisioningState: 'Succeeded' },
      },
    },
    model: { id: `${WS}/models/demand/versions/3`, deployableWithoutCode: true },
    evaluation: { previewed: false, why: 'not deployed' },
    releaseTags: { 'champion.model': 'demand:3', 'champion.promotion': 'promote:demand:3' },
    workspacePath: WS,
    ...overrides,
  };
}

const writes = (plan: ReturnType<typeof planPromotion>) =>
  plan.armWrites.map((w) => `${w.method} ${w.path.replace(WS, '')} [${w.when}]`);

describe('planPromotion', () => {
  it('without a preview: deploys into the idle slot, says every later write depends on winning, and lists them in order', () => {
    const plan = planPromotion(input());
    expect(plan.verdict).toBe('would-stage');
    expect(plan.slot).toEqual({
      challenger: 'green',
      champion: 'blue',
      deploy: true,
      waitForDelete: false,
      replaces: 'demand:1 (Succeeded)',
    });
    expect(plan.approval).toMatchObject({ asked: 'yes', approvers: null, timeout: 'PT24H', onTimeout: 'reject' });
    expect(plan.traffic?.steps).toEqual([
      { blue: 90, green: 10 },
      { blue: 0, green: 100 },
    ]);
    expect(plan.stageTags).toEqual([
      { version: '3', set: { stage: 'staged', 'champion.promotion': 'promote:demand:3' } },
    ]);
    expect(plan.productionTags).toEqual([
      { version: '2', set: { stage: 'surpassed' } },
      { version: '3', set: { stage: 'production' } },
    ]);
    expect(writes(plan)).toEqual([
      'PUT /onlineEndpoints/demand-ep/deployments/green [always]',
      'DELETE /onlineEndpoints/demand-ep/deployments/green [if the smoke test fails or it does not win]',
      'PUT /models/demand/versions/3 [if it wins (or is inconclusive)]',
      'PUT /onlineEndpoints/demand-ep [if it wins (or is inconclusive), once approved]',
      'PUT /onlineEndpoints/demand-ep [if it wins (or is inconclusive), once approved]',
      'PUT /models/demand/versions/2 [if it wins (or is inconclusive), once approved, after the endpoint update has finished]',
      'PUT /models/demand/versions/3 [if it wins (or is inconclusive), once approved, after the endpoint update has finished]',
      'PATCH /onlineEndpoints/demand-ep [if it wins (or is inconclusive), once approved, after the endpoint update has finished]',
      'PUT /onlineEndpoints/demand-ep [if a traffic step fails]',
    ]);
    expect(plan.armWrites[0]!.body).toContain('tags champion.model=demand:3');
  });

  it('creates a missing endpoint first, and the first version takes all traffic at once', () => {
    const plan = planPromotion(
      input({ endpoint: { exists: false, traffic: {}, deployments: {} }, versions: [{ version: '3', tags: {} }] }),
    );
    expect(plan.endpoint).toEqual({ name: 'demand-ep', exists: false, preparation: 'create' });
    expect(plan.slot).toMatchObject({ challenger: 'blue', champion: null, deploy: true });
    expect(plan.traffic?.steps).toEqual([{ blue: 100 }]);
    expect(writes(plan).slice(0, 2)).toEqual([
      'PUT /onlineEndpoints/demand-ep [always (the endpoint does not exist)]',
      'PUT /onlineEndpoints/demand-ep/deployments/blue [always]',
    ]);
  });

  it('a newer winner supersedes it before anything is written', () => {
    const plan = planPromotion(input({ modelVersion: '1', versions: input().versions }));
    expect(plan.verdict).toBe('superseded');
    expect(plan.summary).toContain('demand:2 is newer and already production');
    expect(plan.armWrites).toEqual([]);
  });

  it('the version in production: nothing to promote, nothing planned (staging it would be refused)', () => {
    const plan = planPromotion(input({ modelVersion: '2', promotionId: 'promote:demand:2' }));
    expect(plan.verdict).toBe('in-production');
    expect(plan.summary).toBe('demand:2 is in production already (stage=production): there is nothing to promote');
    expect(plan.armWrites).toEqual([]);
    expect(plan.slot).toBeUndefined();
    expect(plan.stageTags).toEqual([]);
  });

  it('a previewed loss: deployed, then removed, nothing staged or moved', () => {
    const plan = planPromotion(
      input({ evaluation: { previewed: true, evidence: evidence('lose'), through: 'green' } }),
    );
    expect(plan.verdict).toBe('would-lose');
    expect(writes(plan)).toEqual([
      'PUT /onlineEndpoints/demand-ep/deployments/green [always]',
      'DELETE /onlineEndpoints/demand-ep/deployments/green [always: the evaluation preview says it does not win]',
    ]);
  });

  it('asks a person on an inconclusive preview even when the policy does not require approval', () => {
    const noApproval = policy({ approval: { required: false } });
    const inconclusive = planPromotion(
      input({
        policy: noApproval,
        evaluation: { previewed: true, evidence: evidence('inconclusive'), through: 'green' },
      }),
    );
    expect(inconclusive.approval.asked).toBe('yes');
    const win = planPromotion(
      input({ policy: noApproval, evaluation: { previewed: true, evidence: evidence('win'), through: 'green' } }),
    );
    expect(win.approval.asked).toBe('no');
    expect(win.armWrites.find((w) => w.method === 'PATCH')?.when).toBe(
      'always, after the endpoint update has finished',
    );
    expect(planPromotion(input({ policy: noApproval })).approval.asked).toBe('if-inconclusive');
  });

  it('names the approvers and the registrant, never a token', () => {
    const plan = planPromotion(
      input({
        policy: policy({ approval: { approvers: ['ana@contoso.com', 'ben@contoso.com'] } }),
        registrant: { name: 'carl@contoso.com', type: 'User' },
      }),
    );
    expect(plan.approval).toMatchObject({
      approvers: ['ana@contoso.com', 'ben@contoso.com'],
      registrant: { name: 'carl@contoso.com', type: 'User' },
    });
    expect(JSON.stringify(plan)).not.toMatch(/token/i);
  });

  it('would fail without an idle slot, or with a model Azure cannot deploy without code', () => {
    const split = planPromotion(input({ endpoint: { ...input().endpoint, traffic: { blue: 50, green: 50 } } }));
    expect(split.verdict).toBe('would-fail');
    expect(split.summary).toMatch(/no idle slot/);
    expect(split.armWrites).toEqual([]);
    const custom = planPromotion(input({ model: { id: 'x', deployableWithoutCode: false } }));
    expect(custom.verdict).toBe('would-fail');
    expect(custom.summary).toContain('rollout.codeConfiguration');
  });

  it('reuses the idle slot when it already holds the version, ready, and waits for a delete in progress', () => {
    const holds = planPromotion(
      input({
        endpoint: {
          ...input().endpoint,
          deployments: {
            ...input().endpoint.deployments,
            green: { model: 'demand:3', provisioningState: 'Succeeded' },
          },
        },
      }),
    );
    expect(holds.slot).toMatchObject({ deploy: false });
    expect(holds.armWrites.some((w) => w.path.endsWith('/deployments/green') && w.method === 'PUT')).toBe(false);
    const deleting = planPromotion(
      input({
        endpoint: {
          ...input().endpoint,
          deployments: { ...input().endpoint.deployments, green: { model: 'demand:1', provisioningState: 'Deleting' } },
        },
      }),
    );
    expect(deleting.slot).toMatchObject({ deploy: true, waitForDelete: true });
    expect(writes(deleting)[0]).toBe(`PUT /onlineEndpoints/demand-ep/deployments/green [always]`);
  });
});
