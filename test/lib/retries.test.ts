/**
 * Starting and retrying promotions against a scripted durable client and registry: which attempt starts, and what
 * is refused and why.
 */
import type * as df from 'durable-functions';
import { describe, expect, it } from 'vitest';
import type { Policy, PolicySet } from '../../lib/domain/policy';
import type { ModelVersion } from '../../lib/ports';
import { retryPromotion, startPromotion, type Registry } from '../../lib/promotions';
import type { PromotionInput, PromotionResult } from '../../orchestrations/contract';

const POLICIES = { demand: { modelName: 'demand', endpointName: 'demand-ep' } as Policy } as PolicySet;

interface Instance {
  instanceId: string;
  name: string;
  runtimeStatus: string;
  createdTime: Date;
  input: PromotionInput;
  output?: PromotionResult | null;
  customStatus?: unknown;
}

function fakeClient(now = () => new Date('2026-01-01T12:00:00Z')) {
  const instances = new Map<string, Instance>();
  const client = {
    getStatus: async (id: string) => {
      const found = instances.get(id);
      if (!found) throw new Error('404');
      return found;
    },
    startNew: async (name: string, { instanceId, input }: { instanceId: string; input: PromotionInput }) => {
      if (instances.has(instanceId)) throw new Error('exists');
      instances.set(instanceId, { instanceId, name, runtimeStatus: 'Running', createdTime: now(), input });
      return instanceId;
    },
  } as unknown as df.DurableClient;
  const finish = (id: string, runtimeStatus: string, outcome?: PromotionResult['outcome']) => {
    const found = instances.get(id)!;
    found.runtimeStatus = runtimeStatus;
    found.output = outcome ? ({ outcome, reason: 'why' } as PromotionResult) : null;
  };
  return { client, instances, finish };
}

/** Versions dana registered (as the registry records it from her token), each with a tag claiming bo did. */
const registry = (versions: string[], by: Partial<ModelVersion> = DANA): Registry => ({
  getModelVersion: async (_name, version) =>
    versions.includes(version)
      ? ({ version, tags: { registered_by: 'bo@contoso.com' }, ...by } as unknown as ModelVersion)
      : undefined,
});
const DANA = { createdBy: 'dana@contoso.com', createdByType: 'User' };

const byHand = { modelName: 'demand', modelVersion: '3', source: 'manual' as const };

describe('starting a promotion', () => {
  it('by hand: a version the registry does not have is not found, and nothing is created', async () => {
    const { client, instances } = fakeClient();
    for (const modelVersion of ['3', '0', '100000000000000000000']) {
      const outcome = await startPromotion(client, POLICIES, registry(['1']), { ...byHand, modelVersion });
      expect(outcome).toEqual({
        kind: 'not-found',
        message: `modelVersion: demand has no version "${modelVersion}" in the registry; nothing was started.`,
      });
    }
    expect(instances.size).toBe(0);
  });

  it('by hand: the first attempt once, then 409 naming it (with the retry when it failed)', async () => {
    const { client, finish } = fakeClient();
    expect(await startPromotion(client, POLICIES, registry(['3']), byHand)).toEqual({
      kind: 'started',
      id: 'promote:demand:3',
      attempt: 1,
    });
    expect(await startPromotion(client, POLICIES, registry(['3']), byHand)).toMatchObject({
      kind: 'exists',
      id: 'promote:demand:3',
      message: 'Promotion promote:demand:3 already exists (Running).',
    });
    finish('promote:demand:3', 'Completed', 'failed');
    const again = await startPromotion(client, POLICIES, registry(['3']), byHand);
    expect(again).toMatchObject({ kind: 'exists' });
    expect(again.kind === 'exists' && again.message).toContain('champion retry promote:demand:3');
  });

  it('by event: a later registration tries again an attempt that failed before the version existed', async () => {
    let clock = new Date('2026-01-01T10:00:00Z');
    const { client, instances, finish } = fakeClient(() => clock);
    // An earlier release let a start by hand through for a version not registered yet; it failed.
    await client.startNew('promoteModel', {
      instanceId: 'promote:demand:3',
      input: { modelName: 'demand', modelVersion: '3', source: 'manual' } as PromotionInput,
    });
    finish('promote:demand:3', 'Failed');
    clock = new Date('2026-01-01T10:06:00Z');
    const event = { ...byHand, source: 'event' as const, registeredAt: '2026-01-01T10:05:00Z' };
    expect(await startPromotion(client, POLICIES, registry([]), event)).toEqual({
      kind: 'started',
      id: 'promote:demand:3:a2',
      attempt: 2,
    });
    expect(instances.get('promote:demand:3:a2')?.input).toMatchObject({
      attempt: 2,
      retryOf: 'promote:demand:3',
      source: 'event',
      policy: POLICIES.demand,
    });
    // The same registration delivered again finds the new attempt, created after it: nothing more starts.
    finish('promote:demand:3:a2', 'Completed', 'failed');
    expect(await startPromotion(client, POLICIES, registry([]), event)).toMatchObject({
      kind: 'exists',
      id: 'promote:demand:3:a2',
    });
    expect(instances.size).toBe(2);
  });
});

describe('who registered the version: what the registry recorded, never a tag', () => {
  it.each(['manual', 'event'] as const)('%s: a person registered it, and may not approve it', async (source) => {
    const { client, instances } = fakeClient();
    await startPromotion(client, POLICIES, registry(['3']), { ...byHand, source });
    expect(instances.get('promote:demand:3')?.input).toMatchObject({
      registeredBy: 'dana@contoso.com',
      registrant: { name: 'dana@contoso.com', type: 'User' },
    });
  });

  it.each(['ManagedIdentity', 'Application'])(
    "an app's identity (%s) registered it: recorded, and nobody's approval is self-approval",
    async (type) => {
      const { client, instances } = fakeClient();
      const app = { createdBy: '6f1c0a52-8d4e-4b61-9a3e-0c2d5e7f9b11', createdByType: type };
      await startPromotion(client, POLICIES, registry(['3'], app), byHand);
      const input = instances.get('promote:demand:3')?.input;
      expect(input?.registrant).toEqual({ name: app.createdBy, type });
      expect(input?.registeredBy).toBeUndefined();
    },
  );

  it('a registry that does not say: no registrant, whatever the tags claim', async () => {
    const { client, instances } = fakeClient();
    await startPromotion(client, POLICIES, registry(['3'], {}), byHand);
    const input = instances.get('promote:demand:3')?.input;
    expect(input?.registrant).toBeUndefined();
    expect(input?.registeredBy).toBeUndefined();
  });

  it('a retry reads it again rather than copying what an earlier attempt was told', async () => {
    const { client, instances, finish } = fakeClient();
    await client.startNew('promoteModel', {
      instanceId: 'promote:demand:3',
      input: { ...byHand, policy: POLICIES.demand!, registeredBy: 'bo@contoso.com' } as PromotionInput,
    });
    finish('promote:demand:3', 'Completed', 'failed');
    await retryPromotion(client, POLICIES, registry(['3']), 'promote:demand:3');
    expect(instances.get('promote:demand:3:a2')?.input).toMatchObject({
      registeredBy: 'dana@contoso.com',
      registrant: { name: 'dana@contoso.com', type: 'User' },
    });
  });
});

describe('retrying a promotion', () => {
  async function failed(outcome: PromotionResult['outcome'] | undefined, runtimeStatus = 'Completed') {
    const fake = fakeClient();
    await startPromotion(fake.client, POLICIES, registry(['3']), byHand);
    fake.finish('promote:demand:3', runtimeStatus, outcome);
    return fake;
  }

  it.each([
    ['failed', 'Completed'],
    ['approval-timed-out', 'Completed'],
    [undefined, 'Failed'],
    [undefined, 'Terminated'],
  ] as const)('starts attempt 2 after %s (%s), keeping the registrant, under the current policy', async (o, rs) => {
    const { client, instances } = await failed(o, rs);
    const newer = { ...POLICIES, demand: { ...POLICIES.demand!, endpointName: 'fixed-ep' } } as PolicySet;
    expect(await retryPromotion(client, newer, registry(['3']), 'promote:demand:3')).toEqual({
      kind: 'started',
      id: 'promote:demand:3:a2',
      attempt: 2,
      retryOf: 'promote:demand:3',
    });
    expect(instances.get('promote:demand:3')?.runtimeStatus).toBe(rs);
    expect(instances.get('promote:demand:3:a2')?.input).toMatchObject({
      registeredBy: 'dana@contoso.com',
      source: 'retry',
      policy: { endpointName: 'fixed-ep' },
    });
  });

  it('judges the newest attempt whichever attempt is named, and numbers on', async () => {
    const { client, finish } = await failed('failed');
    await retryPromotion(client, POLICIES, registry(['3']), 'promote:demand:3');
    const whileRunning = await retryPromotion(client, POLICIES, registry(['3']), 'promote:demand:3');
    expect(whileRunning).toEqual({
      kind: 'refused',
      status: 409,
      message:
        'Promotion promote:demand:3:a2 is still running (Running); a retry starts a new attempt only once it has failed.',
    });
    finish('promote:demand:3:a2', 'Completed', 'failed');
    expect(await retryPromotion(client, POLICIES, registry(['3']), 'promote:demand:3')).toMatchObject({
      id: 'promote:demand:3:a3',
      attempt: 3,
      retryOf: 'promote:demand:3:a2',
    });
  });

  it.each(['promoted', 'lost-evaluation', 'rejected', 'superseded'] as const)(
    'refuses one that ended %s with 409, starting nothing',
    async (outcome) => {
      const { client, instances } = await failed(outcome);
      const refused = await retryPromotion(client, POLICIES, registry(['3']), 'promote:demand:3');
      expect(refused).toMatchObject({ kind: 'refused', status: 409 });
      expect(instances.size).toBe(1);
    },
  );

  it('answers 404 for an unknown promotion, and for a version no longer registered', async () => {
    const { client, instances } = await failed('failed');
    expect(await retryPromotion(client, POLICIES, registry(['3']), 'promote:demand:9')).toEqual({
      kind: 'refused',
      status: 404,
      message: 'No promotion "promote:demand:9".',
    });
    expect(await retryPromotion(client, POLICIES, registry([]), 'promote:demand:3')).toMatchObject({
      status: 404,
      message: expect.stringContaining('no version "3" in the registry'),
    });
    expect(instances.size).toBe(1);
  });
});

describe('retrying a promotion whose version is in production', () => {
  const QA = '/subscriptions/s/resourceGroups/ml/providers/Microsoft.MachineLearningServices/workspaces/qa';
  const PROD = '/subscriptions/s/resourceGroups/ml/providers/Microsoft.MachineLearningServices/workspaces/prod';
  const ACROSS = {
    demand: {
      modelName: 'demand',
      endpointName: 'demand-ep',
      environments: [
        { name: 'qa', workspace: QA },
        { name: 'prod', workspace: PROD },
      ],
    } as Policy,
  } as PolicySet;
  const staged = (stages: Record<string, string>): Registry => ({
    getModelVersion: async (_name, version) =>
      ({ version, tags: stages[version] ? { stage: stages[version] } : {}, ...DANA }) as unknown as ModelVersion,
  });
  const inWorkspace = (byWorkspace: Record<string, string | undefined>) => (id: string) =>
    staged(byWorkspace[id] ? { '3': byWorkspace[id]! } : {});
  const evidence = { decision: 'win', reason: 'better' };

  async function failedAttempt(policies: PolicySet) {
    const fake = fakeClient();
    await startPromotion(fake.client, policies, registry(['3']), byHand);
    fake.finish('promote:demand:3', 'Completed', 'failed');
    return fake;
  }

  /** An attempt across environments that promoted the version in QA, then failed in production. */
  async function failedInProduction() {
    const fake = await failedAttempt(ACROSS);
    fake.instances.set('promote:demand:3@qa', {
      instanceId: 'promote:demand:3@qa',
      name: 'promoteModel',
      runtimeStatus: 'Completed',
      createdTime: new Date(),
      input: {} as PromotionInput,
      output: { outcome: 'promoted', reason: 'released', evidence } as unknown as PromotionResult,
    });
    return fake;
  }

  it('a start by hand is refused (409 from the route), creating nothing', async () => {
    const { client, instances } = fakeClient();
    expect(await startPromotion(client, POLICIES, staged({ '3': 'production' }), byHand)).toEqual({
      kind: 'in-production',
      message: 'demand:3 is in production already (stage=production): there is nothing to promote.',
    });
    expect(instances.size).toBe(0);
  });

  it('refuses one serving a single endpoint (its promotion would stop when staging it), starting nothing', async () => {
    const { client, instances } = await failedAttempt(POLICIES);
    const refused = await retryPromotion(client, POLICIES, staged({ '3': 'production' }), 'promote:demand:3');
    expect(refused).toEqual({
      kind: 'refused',
      status: 409,
      message: 'demand:3 is in production already (stage=production): there is nothing to promote.',
    });
    expect(instances.size).toBe(1);
  });

  it('across environments: carries the ones an earlier attempt promoted it in, where it serves still', async () => {
    const { client, instances, finish } = await failedInProduction();
    const serving = inWorkspace({ [QA]: 'production' });
    const outcome = await retryPromotion(client, ACROSS, serving(QA), 'promote:demand:3', serving);
    expect(outcome).toMatchObject({ kind: 'started', id: 'promote:demand:3:a2' });
    const carried = [{ environment: 'qa', promotionId: 'promote:demand:3@qa', evidence }];
    expect(instances.get('promote:demand:3:a2')?.input.carried).toEqual(carried);
    // A third attempt carries what the second carried: the second promoted nothing in QA itself.
    finish('promote:demand:3:a2', 'Completed', 'failed');
    await retryPromotion(client, ACROSS, serving(QA), 'promote:demand:3', serving);
    expect(instances.get('promote:demand:3:a3')?.input.carried).toEqual(carried);
  });

  it('across environments: carries production while QA, rolled back since, is promoted again', async () => {
    const { client, instances } = await failedInProduction();
    instances.set('promote:demand:3@prod', {
      ...instances.get('promote:demand:3@qa')!,
      instanceId: 'promote:demand:3@prod',
    });
    const rolledBackInQa = inWorkspace({ [QA]: 'surpassed', [PROD]: 'production' });
    await retryPromotion(client, ACROSS, rolledBackInQa(QA), 'promote:demand:3', rolledBackInQa);
    expect(instances.get('promote:demand:3:a2')?.input.carried).toEqual([
      { environment: 'prod', promotionId: 'promote:demand:3@prod', evidence },
    ]);
  });

  it('across environments: one rolled back in QA since is promoted there again; in production with nothing carried is refused', async () => {
    const rolledBack = await failedInProduction();
    const surpassed = inWorkspace({ [QA]: 'surpassed' });
    expect(await retryPromotion(rolledBack.client, ACROSS, surpassed(QA), 'promote:demand:3', surpassed)).toMatchObject(
      { kind: 'started' },
    );
    expect(rolledBack.instances.get('promote:demand:3:a2')?.input.carried).toBeUndefined();

    const { client, instances } = await failedAttempt(ACROSS);
    const serving = inWorkspace({ [QA]: 'production' });
    expect(await retryPromotion(client, ACROSS, serving(QA), 'promote:demand:3', serving)).toMatchObject({
      kind: 'refused',
      status: 409,
    });
    expect(instances.size).toBe(1);
  });
});
