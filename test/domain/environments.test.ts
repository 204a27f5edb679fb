import { describe, expect, it } from 'vitest';
import {
  environmentPolicy,
  environmentPromotionId,
  evidenceDigestInput,
  reusedEvidence,
} from '../../lib/domain/environments';
import type { Evidence } from '../../lib/domain/evaluation';
import { parsePolicies, PolicyError, type PolicyInput } from '../../lib/domain/policy';

const QA =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-qa';
const PROD = QA.replace('mlw-qa', 'mlw-prod');

const policy = (environments: unknown[]): PolicyInput =>
  ({
    modelName: 'house-prices',
    endpointName: 'house-prices-qa',
    task: 'regression',
    evaluation: { dataAsset: { name: 'houses-eval', version: 4 }, labelColumn: 'y' },
    approval: { required: true, approvers: ['ana'] },
    rollout: { instanceType: 'Standard_DS3_v2', testSpec: { sampleRows: [{ rooms: 3 }] } },
    environments,
  }) as PolicyInput;

const twoEnvironments = () => [
  { name: 'qa', workspace: QA },
  {
    name: 'prod',
    workspace: PROD,
    endpointName: 'house-prices-prod',
    gate: { approval: { approvers: ['bo'], timeout: 'PT4H' } },
    evaluation: { mode: 'reuse' },
    approval: { required: false },
  },
];

function problem(environments: unknown[]): string {
  try {
    parsePolicies({ policies: [policy(environments)] });
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as Error).message;
  }
  throw new Error('the policy was accepted');
}

describe('policy environments', () => {
  it('parses an ordered QA → production list with a gate, defaults applied', () => {
    const parsed = parsePolicies({ policies: [policy(twoEnvironments())] })['house-prices']!;
    expect(parsed.environments?.map((e) => e.name)).toEqual(['qa', 'prod']);
    expect(parsed.environments?.[0]?.evaluation).toEqual({ mode: 'rerun' });
    expect(parsed.environments?.[1]?.gate).toMatchObject({
      kind: 'approval',
      approval: { approvers: ['bo'], timeoutMs: 4 * 3_600_000, onTimeout: 'reject' },
    });
    const bake = parsePolicies({
      policies: [
        policy([
          { name: 'qa', workspace: QA },
          { ...twoEnvironments()[1], gate: { bake: 'PT12H' } },
        ]),
      ],
    })['house-prices']!;
    expect(bake.environments?.[1]?.gate).toEqual({
      kind: 'bake',
      bake: 'PT12H',
      bakeMs: 12 * 3_600_000,
      maxErrorRate: 0.01,
    });
  });

  it("refuses a first environment other than the app's own workspace, naming its path", () => {
    expect(parsePolicies({ policies: [policy(twoEnvironments())] }, { appWorkspace: QA.toUpperCase() })).toBeDefined();
    expect(() => parsePolicies({ policies: [policy(twoEnvironments())] }, { appWorkspace: PROD })).toThrow(
      `policies[0].environments[0].workspace: must be the app's own workspace ${PROD}: versions registered there start promotions`,
    );
  });

  it('takes a registry for a later environment, by its ARM id', () => {
    const registry =
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/registries/shared-models';
    const [qa, prod] = twoEnvironments();
    const parsed = parsePolicies({ policies: [policy([qa, { ...prod, registry }])] })['house-prices']!;
    expect(parsed.environments?.[1]?.registry).toBe(registry);
    expect(parsed.environments?.[0]?.registry).toBeUndefined();
  });

  it.each([
    [
      (registry: string) => [{ name: 'qa', workspace: QA, registry }, twoEnvironments()[1]],
      /^policies\[0\]\.environments\[0\]\.registry: the first environment is where the model is registered/,
    ],
    [
      () => [twoEnvironments()[0], { ...twoEnvironments()[1], registry: QA }],
      /^policies\[0\]\.environments\[1\]\.registry: must be an Azure ML registry ARM id: \/subscriptions\/\{subscription\}/,
    ],
    [
      (registry: string) => [
        twoEnvironments()[0],
        { ...twoEnvironments()[1], registry: registry.replace('shared-models', 'x') },
      ],
      /^policies\[0\]\.environments\[1\]\.registry: registry 'x' must be 3–33 letters/,
    ],
  ])('refuses a bad registry, naming its path (%#)', (environments, message) => {
    const registry =
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/registries/shared-models';
    expect(problem(environments(registry))).toMatch(message);
  });

  it('keeps a policy without environments exactly as before', () => {
    const { environments: _none, ...single } = policy([]);
    expect(parsePolicies({ policies: [single] })['house-prices']!.environments).toBeUndefined();
  });

  it.each([
    [[{ name: 'qa', workspace: QA }], /^policies\[0\]\.environments: must name at least two environments/],
    [
      [
        { name: 'qa', workspace: QA },
        { ...twoEnvironments()[1], gate: undefined },
      ],
      /^policies\[0\]\.environments\[1\]\.gate: is required after the first environment/,
    ],
    [
      [
        { name: 'qa', workspace: QA },
        { ...twoEnvironments()[1], gate: { bake: 'PT1H', approval: {} } },
      ],
      /^policies\[0\]\.environments\[1\]\.gate: must give exactly one of approval or bake/,
    ],
    [
      [
        { name: 'qa', workspace: QA },
        { ...twoEnvironments()[1], gate: { approval: {}, maxErrorRate: 0.1 } },
      ],
      /^policies\[0\]\.environments\[1\]\.gate\.maxErrorRate: applies to a bake gate only/,
    ],
    [
      [
        { name: 'qa', workspace: QA },
        { ...twoEnvironments()[1], workspace: '/subscriptions/x/workspaces/y' },
      ],
      /^policies\[0\]\.environments\[1\]\.workspace: must be a workspace ARM id/,
    ],
    [
      [
        { name: 'qa', workspace: QA },
        { ...twoEnvironments()[1], workspace: QA },
      ],
      /^policies\[0\]\.environments\[1\]\.workspace: is also environments\[0\]\.workspace/,
    ],
    [
      [
        { name: 'qa', workspace: QA },
        { ...twoEnvironments()[1], name: 'qa' },
      ],
      /^policies\[0\]\.environments\[1\]\.name: 'qa' is also environments\[0\]\.name/,
    ],
    [
      [
        { name: 'qa', workspace: QA },
        { ...twoEnvironments()[1], endpointName: undefined },
      ],
      /^policies\[0\]\.environments\[1\]\.endpointName: is required after the first environment/,
    ],
    [
      [{ name: 'qa', workspace: QA, gate: { bake: 'PT1H' } }, twoEnvironments()[1]],
      /^policies\[0\]\.environments\[0\]\.gate: the first environment has no gate/,
    ],
    [
      [{ name: 'qa', workspace: QA, evaluation: { mode: 'reuse' } }, twoEnvironments()[1]],
      /^policies\[0\]\.environments\[0\]\.evaluation\.mode: the first environment has no evidence before it/,
    ],
    [
      [{ name: 'qa', workspace: QA, endpointName: 'other-ep' }, twoEnvironments()[1]],
      /^policies\[0\]\.environments\[0\]\.endpointName: must be the policy's endpointName/,
    ],
    [[{ name: 'qa' }, twoEnvironments()[1]], /^policies\[0\]\.environments\[0\]\.workspace: is required/],
    [
      [
        { name: 'qa', workspace: QA },
        { ...twoEnvironments()[1], registry: 'shared' },
      ],
      /^policies\[0\]\.environments\[1\]\.registry: must be an Azure ML registry ARM id/,
    ],
    [
      [
        { name: 'qa', workspace: QA },
        { ...twoEnvironments()[1], evaluation: { mode: 'reuse', dataAsset: { name: 'd', version: 1 } } },
      ],
      /^policies\[0\]\.environments\[1\]\.evaluation\.dataAsset: applies when mode is "rerun"/,
    ],
    [
      [{ name: 'QA', workspace: QA }, twoEnvironments()[1]],
      /^policies\[0\]\.environments\[0\]\.name: must be 1–32 lower-case letters/,
    ],
    [
      [
        { name: 'qa', workspace: QA },
        { ...twoEnvironments()[1], gate: { approval: { timeout: 'PT4H', remindBefore: 'PT5H' } } },
      ],
      /^policies\[0\]\.environments\[1\]\.gate\.approval\.remindBefore: /,
    ],
  ])('names the bad field: %#', (environments, message) => {
    expect(problem(environments as unknown[])).toMatch(message);
  });

  it("refuses an environment's endpoint another policy already uses", () => {
    const other = { ...policy([]), modelName: 'churn', endpointName: 'house-prices-prod' };
    delete (other as { environments?: unknown }).environments;
    expect(() => parsePolicies({ policies: [other, policy(twoEnvironments())] })).toThrow(
      /^policies\[1\]\.environments\[1\]\.endpointName: endpoint 'house-prices-prod' is already used by policies\[0\]/,
    );
  });

  it("gives each environment's promotion the environment's endpoint, approval and evaluation, and no environments", () => {
    const parsed = parsePolicies({ policies: [policy(twoEnvironments())] })['house-prices']!;
    const [qa, prod] = parsed.environments!;
    const first = environmentPolicy(parsed, qa!);
    expect(first.endpointName).toBe('house-prices-qa');
    expect(first.approval).toEqual(parsed.approval);
    expect(first.environments).toBeUndefined();
    expect(reusedEvidence(first)).toBeUndefined();

    const evidence = { kind: 'paired', decision: 'win', reason: 'better' } as unknown as Evidence;
    const second = environmentPolicy(parsed, prod!, { environment: 'qa', promotionId: 'promote:h:1@qa', evidence });
    expect(second.endpointName).toBe('house-prices-prod');
    expect(second.approval.required).toBe(false);
    expect(reusedEvidence(second)).toEqual({ environment: 'qa', promotionId: 'promote:h:1@qa', evidence });
    // Rerun: the environment's own data, no evidence carried.
    const rerun = environmentPolicy(
      parsed,
      { ...prod!, evaluation: { mode: 'rerun', dataAsset: { name: 'prod-eval', version: '2' } } },
      {
        environment: 'qa',
        promotionId: 'x',
        evidence,
      },
    );
    expect(rerun.evaluation.dataAsset).toEqual({ name: 'prod-eval', version: '2' });
    expect(reusedEvidence(rerun)).toBeUndefined();
    expect(environmentPromotionId('promote:h:1', 'prod')).toBe('promote:h:1@prod');
  });

  it('digests the same evidence the same way whatever the order of its keys', () => {
    expect(evidenceDigestInput({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: 3 } })).toBe(
      evidenceDigestInput({ a: { c: 3, d: [2, { e: 0, f: 1 }] }, b: 1 }),
    );
  });
});
