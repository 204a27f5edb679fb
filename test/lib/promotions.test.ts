/**
 * submitDecision against a scripted durable client: what the sender of a decision is told once it is raised —
 * taken, lost to another decision, or not handled yet.
 */
import type * as df from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { isSealed } from '../../lib/approval';
import { decisionCaller, type IdentityMode } from '../../lib/identity';
import { submitDecision } from '../../lib/promotions';
import type {
  ApprovalDecision,
  PromotionInput,
  PromotionStatus,
  RetrainingInput,
  RetrainingStatus,
} from '../../orchestrations/contract';

const ID = 'promote:demand:3';

/** A promotion waiting for approval; `react` decides what its status shows once an event was raised. */
function fakeClient(react: (sent: ApprovalDecision) => ApprovalDecision | undefined) {
  let taken: ApprovalDecision | undefined;
  const raised: ApprovalDecision[] = [];
  const client = {
    getStatus: async () => {
      const status: PromotionStatus = {
        phase: 'awaiting-approval',
        modelName: 'demand',
        modelVersion: '3',
        timeline: [],
        ...(taken ? { decision: taken } : {}),
      };
      return {
        runtimeStatus: 'Running',
        input: {
          modelName: 'demand',
          modelVersion: '3',
          registeredBy: 'dana',
          policy: { approval: {} },
        } as unknown as PromotionInput,
        customStatus: status,
      };
    },
    raiseEvent: async (_id: string, _name: string, data: ApprovalDecision) => {
      raised.push(data);
      taken = react(data);
    },
  } as unknown as df.DurableClient;
  return { client, raised };
}

const SECRET = 'an approval secret of at least 32 bytes';
const LOCAL: IdentityMode = { kind: 'local', localUser: 'ana' };

const submit = (client: df.DurableClient, approver = 'ana') =>
  submitDecision(
    client,
    SECRET,
    {
      promotionId: ID,
      decision: 'approve',
      via: 'api',
      identify: (issuedTo) => decisionCaller(LOCAL, () => null, approver, issuedTo),
    },
    new Date('2030-01-01T00:00:00Z'),
    { timeoutMs: 50, pollMs: 1 },
  );

describe('submitDecision', () => {
  it('answers accepted once the promotion shows it took this decision', async () => {
    const { client, raised } = fakeClient((sent) => sent);
    expect(await submit(client)).toEqual({ ok: true, approver: 'ana' });
    expect(raised[0]).toMatchObject({
      decision: 'approve',
      approver: 'ana',
      authenticated: false,
      identity: 'request',
      id: expect.any(String),
    });
    // Sealed for this promotion, so the promotion takes it (a raw Durable event carries no valid seal).
    const { seal, ...decision } = raised[0] as ApprovalDecision & { seal: string };
    expect(isSealed(SECRET, ID, decision, seal)).toBe(true);
    expect(isSealed(SECRET, `${ID}:a2`, decision, seal)).toBe(false);
  });

  it('refuses with 409 when another decision got there first', async () => {
    const other: ApprovalDecision = {
      id: 'x',
      decision: 'reject',
      approver: 'bo',
      via: 'link',
      at: '2030-01-01T00:00:00Z',
    };
    const { client } = fakeClient(() => other);
    expect(await submit(client)).toEqual({
      ok: false,
      status: 409,
      message: 'This promotion was already rejected by bo at 2030-01-01T00:00:00Z; a decision can be made only once.',
    });
  });

  it('says pending when the promotion has not handled it by the deadline', async () => {
    const { client } = fakeClient(() => undefined);
    expect(await submit(client)).toEqual({ ok: true, approver: 'ana', pending: true });
  });
});

describe('submitDecision on a retraining waiting to register its model', () => {
  const RUN = 'retrain:demand:4';
  const retraining = (raised: ApprovalDecision[]) =>
    ({
      getStatus: async () => ({
        name: 'retrainModel',
        runtimeStatus: 'Running',
        input: {
          modelName: 'demand',
          retraining: { approval: { required: true, approvers: ['ana'] } },
        } as unknown as RetrainingInput,
        customStatus: {
          phase: 'awaiting-approval',
          modelName: 'demand',
          timeline: [],
          ...(raised[0] ? { decision: raised[0] } : {}),
        } satisfies RetrainingStatus,
      }),
      raiseEvent: async (_id: string, _name: string, data: ApprovalDecision) => void raised.push(data),
    }) as unknown as df.DurableClient;
  const decide = (client: df.DurableClient, approver: string, decision: 'approve' | 'reject' = 'approve') =>
    submitDecision(
      client,
      SECRET,
      {
        promotionId: RUN,
        decision,
        via: 'api',
        identify: (issuedTo) => decisionCaller(LOCAL, () => null, approver, issuedTo),
      },
      new Date('2030-01-01T00:00:00Z'),
      { timeoutMs: 50, pollMs: 1 },
    );

  it("takes a listed approver's decision, sealed for the run, and refuses an approval from anyone else", async () => {
    const raised: ApprovalDecision[] = [];
    expect(await decide(retraining(raised), 'mallory', 'approve')).toEqual({
      ok: false,
      status: 403,
      message: 'approver: "mallory" is not an approver for demand.',
    });
    expect(raised).toEqual([]);
    expect(await decide(retraining(raised), 'ana', 'reject')).toEqual({ ok: true, approver: 'ana' });
    const { seal, ...decision } = raised[0] as ApprovalDecision & { seal: string };
    expect(isSealed(SECRET, RUN, decision, seal)).toBe(true);
  });
});
