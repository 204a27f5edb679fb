import { describe, expect, it } from 'vitest';
import {
  attemptInstanceId,
  registrationStartsNewAttempt,
  retryVerdict,
  type AttemptState,
} from '../../lib/domain/attempts';
import { parseModelVersion, versionProblem } from '../../lib/domain/versions';

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

describe('model versions from a request body', () => {
  it.each([
    ['"3"', '3', '3'],
    ['"0", looked up like any other', '0', '0'],
    ['"007", kept as sent', '007', '007'],
    ['a string version', '2024.06.1-rc', '2024.06.1-rc'],
    ['a JSON integer', 20, '20'],
  ])('accepts %s', (_name, value, version) => {
    expect(parseModelVersion(value)).toEqual({ ok: true, version });
  });

  it.each([
    ['1e20, which would name version 100000000000000000000', 1e20, /a number is taken only as a whole number/],
    ['1.5, which would name version "1.5"', 1.5, /send the version as a string/],
    ['0 as a number', 0, /a number is taken only/],
    ['a negative number', -1, /a number is taken only/],
    ['a path', '3/../4', /must start with a letter or digit and contain only/],
    ['surrounding spaces', ' 3', /must start with a letter or digit/],
    ['a boolean', true, /expected a string/],
    ['nothing', undefined, /required/],
    ['an empty string', '', /required/],
  ])('refuses %s, naming the field', (_name, value, message) => {
    const parsed = parseModelVersion(value);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toMatch(/^modelVersion: /);
    expect(!parsed.ok && parsed.message).toMatch(message);
  });

  it('shape check for the CLI', () => {
    expect(versionProblem('12')).toBeUndefined();
    expect(versionProblem('a#b')).toMatch(/only letters, digits/);
  });
});
