import { describe, expect, it } from 'vitest';
import { arriveAtGate, gateKey, leaveGate } from '../../lib/domain/gates';

const v = (version: string, promotionId = `promote:forecast:${version}`) => ({ promotionId, modelVersion: version });

describe('who waits at a gate between environments', () => {
  it('lets the first promotion wait, displacing nobody', () => {
    expect(arriveAtGate({}, v('1'))).toEqual({ state: { waiting: v('1') }, arrival: { waits: true } });
  });

  it("takes a newer version's place for it and names the older one it displaced", () => {
    expect(arriveAtGate({ waiting: v('9') }, v('10'))).toEqual({
      state: { waiting: v('10') },
      arrival: { waits: true, displaced: v('9') },
    });
  });

  it('supersedes an older version arriving while a newer one waits, which keeps its place', () => {
    expect(arriveAtGate({ waiting: v('10') }, v('9'))).toEqual({
      state: { waiting: v('10') },
      arrival: { waits: false, supersededBy: v('10') },
    });
  });

  it('lets a later attempt of the same version take the place; the same promotion again displaces nobody', () => {
    const retry = v('3', 'promote:forecast:3:attempt-2');
    expect(arriveAtGate({ waiting: v('3') }, retry).arrival).toEqual({ waits: true, displaced: v('3') });
    expect(arriveAtGate({ waiting: v('3') }, v('3')).arrival).toEqual({ waits: true });
  });

  it('frees the place only for the promotion holding it', () => {
    expect(leaveGate({ waiting: v('2') }, v('2').promotionId)).toEqual({});
    expect(leaveGate({ waiting: v('2') }, v('1').promotionId)).toEqual({ waiting: v('2') });
    expect(leaveGate({}, v('1').promotionId)).toEqual({});
  });

  it('keys a gate by model and the environment it leads into', () => {
    expect(gateKey('forecast', 'prod')).toBe('forecast@prod');
  });
});
