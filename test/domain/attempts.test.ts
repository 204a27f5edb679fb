import { describe, expect, it } from 'vitest';
import {
  attemptInstanceId,
  registrationStartsNewAttempt,
  retryVerdict,
  type AttemptState,
} from '../../lib/domain/attempts';

const attempt = (over: Partial<AttemptState>): AttemptState => ({
  id: 'promote:demand:3',
  runtimeStatus: 'Completed',
  ...over,
});

describe('attempt instance ids', () => {
  it('keeps the first attempt on the one-per-version id and numbers the later ones', () => {
    expect(attemptInstanceId('demand', '3', 1)).toBe('promote:demand:3');
    expect(attemptInstanceId('demand', '3', 2)).toBe('promote:demand:3:a2');
    expect(attemptInstanceId('demand', '3', 12)).toBe('promote:demand:3:a12');
  });

  it('never gives a later attempt the id of another version', () => {
    // Versions cannot hold ':', so "3:a2" is hashed and differs from attempt 2 of "3".
    expect(attemptInstanceId('demand', '3:a2', 1)).not.toBe(attemptInstanceId('demand', '3', 2));
    expect(attemptInstanceId('demand', '3-a2', 1)).not.toBe(attemptInstanceId('demand', '3', 2));
  });

  it('refuses an attempt below 1', () => {
    expect(() => attemptInstanceId('demand', '3', 0)).toThrow(RangeError);
  });
});

describe('which attempts may be retried', () => {
  it.each([
    ['a failed outcome (smoke test, deployment, traffic update)', attempt({ outcome: 'failed' })],
    ['an approval that timed out', attempt({ outcome: 'approval-timed-out' })],
    ['an orchestration the runtime failed', attempt({ runtimeStatus: 'Failed' })],
    ['an orchestration someone terminated', attempt({ runtimeStatus: 'Terminated' })],
  ])('%s', (_name, state) => {
    expect(retryVerdict(state)).toEqual({ retry: true });
  });

  it.each([
    ['running', attempt({ runtimeStatus: 'Running', phase: 'evaluating' }), /still running \(phase: evaluating\)/],
    ['pending', attempt({ runtimeStatus: 'Pending' }), /still running \(Pending\)/],
    ['suspended', attempt({ runtimeStatus: 'Suspended' }), /still running/],
    ['promoted', attempt({ outcome: 'promoted' }), /ended promoted: it succeeded.*never restarted/],
    ['lost its evaluation', attempt({ outcome: 'lost-evaluation' }), /an answer, not a failure/],
    ['rejected by a person', attempt({ outcome: 'rejected' }), /a person rejected it/],
    ['superseded', attempt({ outcome: 'superseded' }), /a newer winner superseded it/],
    ['completed without an outcome', attempt({}), /without an outcome/],
  ])('not %s, and says why', (_name, state, reason) => {
    const verdict = retryVerdict(state);
    expect(verdict.retry).toBe(false);
    expect(verdict.retry === false && verdict.reason).toMatch(reason);
    expect(verdict.retry === false && verdict.reason).toContain('promote:demand:3');
  });

  it('a registration starts a new attempt only after one that failed before the version was registered', () => {
    const failedEarly = { ...attempt({ outcome: 'failed' }), createdTime: '2026-01-01T10:00:00.000Z' };
    expect(registrationStartsNewAttempt(failedEarly, '2026-01-01T10:05:00Z')).toBe(true);
    // A duplicate delivery of the registration that started the attempt is older than it.
    expect(registrationStartsNewAttempt(failedEarly, '2026-01-01T09:59:59Z')).toBe(false);
    const running = { ...attempt({ runtimeStatus: 'Running' }), createdTime: '2026-01-01T10:00:00.000Z' };
    expect(registrationStartsNewAttempt(running, '2026-01-01T10:05:00Z')).toBe(false);
    const lost = { ...attempt({ outcome: 'lost-evaluation' }), createdTime: '2026-01-01T10:00:00.000Z' };
    expect(registrationStartsNewAttempt(lost, '2026-01-01T10:05:00Z')).toBe(false);
  });
});
