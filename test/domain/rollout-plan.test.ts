import { describe, expect, it } from 'vitest';
import {
  planManualRollback,
  planRolloutPhases,
  CAPACITY_RETRY_SECONDS,
  PROVISIONING_DEADLINE_EXCEEDED,
  RolloutPlanError,
  classifyDeploymentFailure,
  otherSlot,
  planBlueGreenRollout,
  sameTraffic,
  type FailureDetails,
  type RolloutPlan,
  type RolloutPlanInput,
} from '../../lib/domain/rollout-plan';

describe('planBlueGreenRollout', () => {
  it.each<{ name: string; input: RolloutPlanInput; plan: RolloutPlan }>([
    {
      name: 'empty endpoint: first model goes to blue at 100 %',
      input: { traffic: {}, deployments: [], steps: [10, 50, 100] },
      plan: {
        champion: null,
        challenger: 'blue',
        challengerSlotExists: false,
        steps: [{ blue: 100 }],
        rollback: { blue: 0 },
      },
    },
    {
      name: 'champion on blue: challenger goes to green in steps',
      input: { traffic: { blue: 100 }, deployments: ['blue'], steps: [10, 50, 100] },
      plan: {
        champion: 'blue',
        challenger: 'green',
        challengerSlotExists: false,
        steps: [
          { blue: 90, green: 10 },
          { blue: 50, green: 50 },
          { blue: 0, green: 100 },
        ],
        rollback: { blue: 100, green: 0 },
      },
    },
    {
      name: 'champion on green, old blue still at 0 %: blue is reused',
      input: { traffic: { green: 100, blue: 0 }, deployments: ['blue', 'green'], steps: [100] },
      plan: {
        champion: 'green',
        challenger: 'blue',
        challengerSlotExists: true,
        steps: [{ green: 0, blue: 100 }],
        rollback: { green: 100, blue: 0 },
      },
    },
    {
      name: 'champion in a non-slot deployment',
      input: { traffic: { default: 100 }, deployments: ['default'], steps: [25, 100] },
      plan: {
        champion: 'default',
        challenger: 'blue',
        challengerSlotExists: false,
        steps: [
          { default: 75, blue: 25 },
          { default: 0, blue: 100 },
        ],
        rollback: { default: 100, blue: 0 },
      },
    },
  ])('$name', ({ input, plan }) => {
    expect(planBlueGreenRollout(input)).toEqual(plan);
  });

  it.each<{ name: string; input: RolloutPlanInput; error: RegExp }>([
    {
      name: 'both slots carry traffic',
      input: { traffic: { blue: 50, green: 50 }, deployments: ['blue', 'green'], steps: [100] },
      error: /both blue \(50 %\) and green \(50 %\) carry traffic/,
    },
    {
      name: 'traffic split between a slot and another deployment',
      input: { traffic: { default: 80, blue: 20 }, deployments: ['default', 'blue'], steps: [100] },
      error: /traffic is split \(default 80 %, blue 20 %\)/,
    },
    {
      name: 'traffic that does not add up to 100',
      input: { traffic: { blue: 90 }, deployments: ['blue'], steps: [100] },
      error: /must add up to 100/,
    },
    {
      name: 'fractional traffic',
      input: { traffic: { blue: 99.5, default: 0.5 }, deployments: ['blue'], steps: [100] },
      error: /whole percentage/,
    },
    {
      name: 'steps not ending at 100',
      input: { traffic: { blue: 100 }, deployments: ['blue'], steps: [10, 50] },
      error: /last rollout step must be 100/,
    },
    {
      name: 'steps not increasing',
      input: { traffic: { blue: 100 }, deployments: ['blue'], steps: [50, 50, 100] },
      error: /increase strictly/,
    },
    {
      name: 'no steps',
      input: { traffic: { blue: 100 }, deployments: ['blue'], steps: [] },
      error: /at least one/,
    },
  ])('refuses $name', ({ input, error }) => {
    expect(() => planBlueGreenRollout(input)).toThrow(RolloutPlanError);
    expect(() => planBlueGreenRollout(input)).toThrow(error);
  });

  it('every step sends all traffic somewhere', () => {
    const plan = planBlueGreenRollout({ traffic: { green: 100 }, deployments: ['green'], steps: [1, 5, 20, 60, 100] });
    for (const step of plan.steps) expect(Object.values(step).reduce((a, b) => a + b, 0)).toBe(100);
    expect(otherSlot(plan.challenger)).toBe('green');
  });
});

describe('sameTraffic', () => {
  it.each([
    [{ blue: 100 }, { blue: 100, green: 0 }, true],
    [{}, { green: 0 }, true],
    [{ blue: 100, green: 0 }, { blue: 0, green: 100 }, false],
    [{ blue: 90, green: 10 }, { blue: 90 }, false],
    [{}, { blue: 100 }, false],
  ])('%j vs %j → %s', (a, b, same) => {
    expect(sameTraffic(a, b)).toBe(same);
    expect(sameTraffic(b, a)).toBe(same);
  });
});

describe('classifyDeploymentFailure', () => {
  it.each<{
    code: string | undefined;
    message: string | undefined;
    details?: FailureDetails;
    expected: Partial<ReturnType<typeof classifyDeploymentFailure>>;
  }>([
    {
      code: 'OutOfQuota',
      message: 'Not enough quota available for Standard_DS3_v2 in SKU Dv2 Family Cores.',
      expected: { category: 'quota', retryable: false, action: 'keep-champion-report' },
    },
    {
      code: 'OutOfQuota',
      message:
        'Unable to create an online deployment due to lack of Azure Machine Learning capacity in the region for the instance type.',
      expected: {
        category: 'capacity',
        retryable: true,
        action: 'retry-later',
        retryAfterSeconds: CAPACITY_RETRY_SECONDS,
      },
    },
    {
      code: 'DeploymentFailed',
      message: 'Inner error: {"code":"OutOfQuota","message":"quota exceeded"}',
      expected: { category: 'quota', action: 'keep-champion-report' },
    },
    {
      code: 'ResourceNotReady',
      message: 'User container has crashed or terminated. Liveness probe failed.',
      expected: { category: 'container-not-ready', retryable: false, action: 'delete-and-keep-champion' },
    },
    {
      code: 'ImageBuildFailure',
      message: 'Image build failed: conda env creation failed',
      expected: { category: 'image-build', retryable: false, action: 'keep-champion-report' },
    },
    {
      code: 'BadArgument',
      message: 'Invalid template function spec',
      expected: { category: 'bad-argument', retryable: false, action: 'keep-champion-report' },
    },
    {
      code: 'BadArgument',
      message: 'Startup task failed due to authorization error. Assign the Storage Blob Data Reader role.',
      expected: { category: 'authorization', retryable: false, action: 'keep-champion-report' },
    },
    {
      code: 'AuthorizationFailed',
      message: 'The client does not have authorization to perform action',
      expected: { category: 'authorization', retryable: false, action: 'keep-champion-report' },
    },
    {
      code: 'OperationCanceled',
      message: 'The operation was canceled because another operation superseded it.',
      expected: { category: 'canceled', retryable: true, action: 'retry-after', retryAfterSeconds: 60 },
    },
    {
      code: 'TooManyRequests',
      message: 'Too many requests',
      details: { retryAfterSeconds: 17, httpStatus: 429 },
      expected: { category: 'throttled', retryable: true, action: 'retry-after', retryAfterSeconds: 17 },
    },
    {
      code: '429',
      message: undefined,
      expected: { category: 'throttled', retryable: true, action: 'retry-after', retryAfterSeconds: 60 },
    },
    {
      code: PROVISIONING_DEADLINE_EXCEEDED,
      message: 'still Creating after PT1H',
      expected: { category: 'provisioning-deadline', retryable: false, action: 'delete-and-keep-champion' },
    },
    {
      code: 'SomethingNew',
      message: 'unexpected',
      expected: { category: 'unknown', retryable: false, action: 'keep-champion-report' },
    },
    {
      code: undefined,
      message: undefined,
      expected: { category: 'unknown', retryable: false, action: 'keep-champion-report' },
    },
  ])('$code: $message → $expected.action', ({ code, message, details, expected }) => {
    const result = classifyDeploymentFailure(code, message, details);
    expect(result).toMatchObject(expected);
    expect(result.reason.length).toBeGreaterThan(10);
    if (!result.retryable) expect(result.retryAfterSeconds).toBeUndefined();
  });
});

describe('planManualRollback', () => {
  const ok = { provisioningState: 'Succeeded' };
  it('sends everything back to the warm slot in one step, checked against the split as it is', () => {
    const planned = planManualRollback('demand', {
      traffic: { blue: 0, green: 100 },
      deployments: { blue: { ...ok, model: 'demand:1' }, green: { ...ok, model: 'demand:2' } },
    });
    expect(planned).toEqual({
      ok: true,
      rollback: {
        serving: { slot: 'green', model: 'demand:2' },
        warm: { slot: 'blue', model: 'demand:1' },
        plan: expect.objectContaining({
          challenger: 'blue',
          steps: [{ green: 0, blue: 100 }],
          rollback: { green: 100, blue: 0 },
        }),
      },
    });
  });

  it.each([
    ['nothing serves', { traffic: {}, deployments: {} }, /nothing to roll back/],
    [
      'the other slot is not deployed',
      { traffic: { blue: 100 }, deployments: { blue: { ...ok, model: 'demand:1' } } },
      /green is not deployed/,
    ],
    [
      'the other slot holds another model',
      {
        traffic: { blue: 100 },
        deployments: { blue: { ...ok, model: 'demand:1' }, green: { ...ok, model: 'churn:4' } },
      },
      /holds churn:4, not a version of demand/,
    ],
    [
      'the warm slot is not ready',
      {
        traffic: { blue: 100 },
        deployments: { blue: { ...ok, model: 'demand:1' }, green: { provisioningState: 'Failed', model: 'demand:0' } },
      },
      /is Failed, not ready/,
    ],
    [
      'traffic is split mid-rollout',
      { traffic: { blue: 50, green: 50 }, deployments: { blue: ok, green: ok } },
      /carry traffic/,
    ],
  ])('refuses when %s', (_name, endpoint, problem) => {
    const planned = planManualRollback('demand', endpoint);
    expect(planned.ok).toBe(false);
    expect(!planned.ok && planned.problem).toMatch(problem);
  });
});

describe('planRolloutPhases', () => {
  const plan = planBlueGreenRollout({ traffic: { blue: 100 }, deployments: ['blue'], steps: [10, 50, 100] });

  it('bakes every live step below 100 %, and mirrors before any live traffic', () => {
    const phases = planRolloutPhases(plan, { bakeMs: 60_000, mirror: { percent: 20, durationMs: 30_000 } });
    expect(phases).toEqual([
      {
        kind: 'mirror',
        index: 1,
        of: 4,
        percent: 0,
        traffic: { blue: 100, green: 0 },
        mirror: { green: 20 },
        bakeMs: 30_000,
      },
      { kind: 'live', index: 2, of: 4, percent: 10, traffic: { blue: 90, green: 10 }, mirror: {}, bakeMs: 60_000 },
      { kind: 'live', index: 3, of: 4, percent: 50, traffic: { blue: 50, green: 50 }, mirror: {}, bakeMs: 60_000 },
      { kind: 'live', index: 4, of: 4, percent: 100, traffic: { blue: 0, green: 100 }, mirror: {}, bakeMs: 0 },
    ]);
  });

  it('has nothing to mirror or share without a champion: one phase at 100 %', () => {
    const first = planBlueGreenRollout({ traffic: {}, deployments: [], steps: [10, 50, 100] });
    expect(planRolloutPhases(first, { bakeMs: 60_000, mirror: { percent: 20, durationMs: 30_000 } })).toEqual([
      { kind: 'live', index: 1, of: 1, percent: 100, traffic: { blue: 100 }, mirror: {}, bakeMs: 0 },
    ]);
  });
});
