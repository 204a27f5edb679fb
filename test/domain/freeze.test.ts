import { describe, expect, it } from 'vitest';
import { describeFreeze, freezeInForce, MAX_RECHECK_MS, type RequestedFreeze } from '../../lib/domain/freeze';

const at = (iso: string) => new Date(iso);
const window = (from: string, until: string, reason = 'quarter close') => ({ from, until, reason });
const ana = (over: Partial<RequestedFreeze> = {}): RequestedFreeze => ({
  by: 'ana',
  authenticated: true,
  identity: 'app-service-authentication',
  reason: 'Black Friday',
  at: '2030-01-01T00:00:00Z',
  ...over,
});

describe('freezeInForce', () => {
  it('nothing holds outside the windows (until excluded) and without a person freezing', () => {
    const windows = [window('2030-01-02T00:00:00Z', '2030-01-03T00:00:00Z')];
    expect(freezeInForce(windows, undefined, at('2030-01-01T23:59:59Z'))).toEqual({ frozen: false });
    expect(freezeInForce(windows, undefined, at('2030-01-03T00:00:00Z'))).toEqual({ frozen: false });
    expect(freezeInForce(windows, ana({ until: '2030-01-01T12:00:00Z' }), at('2030-01-01T12:00:00Z'))).toEqual({
      frozen: false,
    });
  });

  it('a policy window holds from its start to its end, and the promotion looks again when it ends (at most hourly)', () => {
    const windows = [window('2030-01-01T00:00:00Z', '2030-01-01T00:30:00Z', 'deploy freeze')];
    expect(freezeInForce(windows, undefined, at('2030-01-01T00:00:00Z'))).toEqual({
      frozen: true,
      source: 'policy',
      reason: 'deploy freeze',
      window: 0,
      until: '2030-01-01T00:30:00Z',
      recheckAt: '2030-01-01T00:30:00.000Z',
    });
    const long = [window('2030-01-01T00:00:00Z', '2030-01-05T00:00:00Z')];
    const held = freezeInForce(long, undefined, at('2030-01-01T06:00:00Z'));
    expect(held.frozen && held.recheckAt).toBe(
      new Date(Date.parse('2030-01-01T06:00:00Z') + MAX_RECHECK_MS).toISOString(),
    );
  });

  it("tells the freeze that lasts longest: a person's without an end before any window", () => {
    const windows = [
      window('2030-01-01T00:00:00Z', '2030-01-01T02:00:00Z', 'short'),
      window('2030-01-01T00:00:00Z', '2030-01-01T05:00:00Z', 'long'),
    ];
    const now = at('2030-01-01T01:00:00Z');
    expect(freezeInForce(windows, undefined, now)).toMatchObject({ reason: 'long', window: 1 });
    expect(freezeInForce(windows, ana(), now)).toMatchObject({ source: 'request', by: 'ana', reason: 'Black Friday' });
    expect(freezeInForce(windows, ana({ until: '2030-01-01T03:00:00Z' }), now)).toMatchObject({ reason: 'long' });
    expect(describeFreeze(freezeInForce(windows, ana(), now) as never)).toBe(
      'releases of this model are frozen by ana until it is lifted: Black Friday',
    );
  });
});
