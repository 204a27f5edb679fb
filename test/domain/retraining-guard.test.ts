import { describe, expect, it } from 'vitest';
import {
  SIGNAL_LOG_LIMIT,
  appendSignal,
  decideRetraining,
  type RetrainingGuardPolicy,
  type RetrainingState,
  type RetrainingTrigger,
  type SignalEntry,
} from '../../lib/domain/retraining-guard';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const HOUR = 3_600_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

const breach = (observationId: string, generation: 'v1' | 'v2' = 'v2'): RetrainingTrigger => ({
  kind: 'drift',
  generation,
  signal: 'breach',
  observationId,
});
const recovery = (observationId: string): RetrainingTrigger => ({
  kind: 'drift',
  generation: 'v2',
  signal: 'recovery',
  observationId,
});
const logged = (
  signal: 'breach' | 'recovery',
  observationId: string,
  at = ago(HOUR),
  source: SignalEntry['source'] = 'drift-v2',
): SignalEntry => ({ at, source, signal, observationId, decision: 'skip' });

const idle: RetrainingState = {};
const running: RetrainingState = { activeRun: { id: 'retrain:churn', startedAt: ago(2 * HOUR) } };
const justFinished: RetrainingState = { lastFinishedAt: ago(HOUR) };
const longFinished: RetrainingState = { lastFinishedAt: ago(48 * HOUR) };
const cooldown: RetrainingGuardPolicy = { cooldownMs: 6 * HOUR };
const kOfN: RetrainingGuardPolicy = { cooldownMs: 6 * HOUR, kOfN: { k: 2, n: 3 } };

describe('decideRetraining', () => {
  type Row = {
    name: string;
    trigger: RetrainingTrigger;
    log?: SignalEntry[];
    state: RetrainingState;
    policy: RetrainingGuardPolicy;
    action: 'start' | 'skip';
    reason: string;
    detail?: RegExp;
  };
  const rows: Row[] = [
    {
      name: 'v2 breach, idle, no k-of-n',
      trigger: breach('r1'),
      state: idle,
      policy: cooldown,
      action: 'start',
      reason: 'drift',
    },
    {
      name: 'v1 breach, idle',
      trigger: breach('r1', 'v1'),
      state: idle,
      policy: cooldown,
      action: 'start',
      reason: 'drift',
    },
    {
      name: 'recovery never starts',
      trigger: recovery('r1'),
      state: idle,
      policy: cooldown,
      action: 'skip',
      reason: 'recovery-signal',
    },
    {
      name: 'breach while a run is active',
      trigger: breach('r1'),
      state: running,
      policy: cooldown,
      action: 'skip',
      reason: 'single-flight',
      detail: /retrain:churn/,
    },
    {
      name: 'breach inside the cooldown',
      trigger: breach('r1'),
      state: justFinished,
      policy: cooldown,
      action: 'skip',
      reason: 'cooldown',
      detail: /cooldown ends in 5h$/,
    },
    {
      name: 'breach after the cooldown',
      trigger: breach('r1'),
      state: longFinished,
      policy: cooldown,
      action: 'start',
      reason: 'drift',
    },
    {
      name: 'breach exactly at the end of the cooldown',
      trigger: breach('r1'),
      state: { lastFinishedAt: ago(6 * HOUR) },
      policy: cooldown,
      action: 'start',
      reason: 'drift',
    },
    {
      name: 'first breach with k=2 of n=3',
      trigger: breach('r1'),
      state: idle,
      policy: kOfN,
      action: 'skip',
      reason: 'k-of-n-not-met',
      detail: /1 of the last 1 .* need 2 of 3/,
    },
    {
      name: 'second breach with k=2 of n=3',
      trigger: breach('r2'),
      log: [logged('breach', 'r1')],
      state: idle,
      policy: kOfN,
      action: 'start',
      reason: 'drift',
      detail: /2 of the last 2/,
    },
    {
      name: 'breach, recovery, recovery, breach: only 1 breach within the last 3',
      trigger: breach('r4'),
      log: [logged('breach', 'r1'), logged('recovery', 'r2'), logged('recovery', 'r3')],
      state: idle,
      policy: kOfN,
      action: 'skip',
      reason: 'k-of-n-not-met',
      detail: /1 of the last 3/,
    },
    {
      name: 'v1 and v2 observations share the window',
      trigger: breach('r2', 'v2'),
      log: [logged('breach', 'd1', ago(HOUR), 'drift-v1')],
      state: idle,
      policy: kOfN,
      action: 'start',
      reason: 'drift',
    },
    {
      name: 'breaches from before the last run finished do not count',
      trigger: breach('r3'),
      log: [logged('breach', 'r1', ago(50 * HOUR)), logged('breach', 'r2', ago(49 * HOUR))],
      state: longFinished,
      policy: kOfN,
      action: 'skip',
      reason: 'k-of-n-not-met',
      detail: /1 of the last 1/,
    },
    {
      name: 'timer and manual entries are not drift observations',
      trigger: breach('r2'),
      log: [
        { at: ago(HOUR), source: 'timer', signal: 'scheduled', decision: 'skip' },
        { at: ago(HOUR), source: 'manual', signal: 'requested', reason: 'x', decision: 'skip' },
      ],
      state: idle,
      policy: kOfN,
      action: 'skip',
      reason: 'k-of-n-not-met',
    },
    {
      name: 'duplicate delivery of a recorded observation',
      trigger: breach('r1'),
      log: [logged('breach', 'r1')],
      state: idle,
      policy: cooldown,
      action: 'skip',
      reason: 'duplicate-signal',
    },
    {
      name: 'same run id from the other generation is not a duplicate',
      trigger: breach('r1', 'v1'),
      log: [logged('breach', 'r1')],
      state: idle,
      policy: cooldown,
      action: 'start',
      reason: 'drift',
    },
    {
      name: 'recovery while running is still a recovery',
      trigger: recovery('r9'),
      state: running,
      policy: cooldown,
      action: 'skip',
      reason: 'recovery-signal',
    },
    {
      name: 'timer, idle',
      trigger: { kind: 'timer', schedule: '0 0 3 * * 1' },
      state: idle,
      policy: kOfN,
      action: 'start',
      reason: 'scheduled',
      detail: /0 0 3 \* \* 1/,
    },
    {
      name: 'timer bypasses k-of-n but respects the cooldown',
      trigger: { kind: 'timer' },
      state: justFinished,
      policy: kOfN,
      action: 'skip',
      reason: 'cooldown',
    },
    {
      name: 'timer respects single-flight',
      trigger: { kind: 'timer' },
      state: running,
      policy: cooldown,
      action: 'skip',
      reason: 'single-flight',
    },
    {
      name: 'manual, idle, bypasses k-of-n',
      trigger: { kind: 'manual', reason: 'new labels', requestedBy: 'ana' },
      state: idle,
      policy: kOfN,
      action: 'start',
      reason: 'manual',
      detail: /new labels \(requested by ana\)$/,
    },
    {
      name: 'manual bypasses the cooldown and says so',
      trigger: { kind: 'manual', reason: 'hotfix' },
      state: justFinished,
      policy: kOfN,
      action: 'start',
      reason: 'manual',
      detail: /hotfix; cooldown bypassed/,
    },
    {
      name: 'manual does not bypass single-flight',
      trigger: { kind: 'manual', reason: 'hotfix' },
      state: running,
      policy: cooldown,
      action: 'skip',
      reason: 'single-flight',
    },
  ];

  it.each(rows)('$name → $action ($reason)', ({ trigger, log = [], state, policy, action, reason, detail }) => {
    const { decision } = decideRetraining({ trigger, log, state, now: NOW, policy });
    expect(decision).toMatchObject({ action, reason });
    if (detail) expect(decision.detail).toMatch(detail);
  });

  it.each([
    [breach('r1'), { source: 'drift-v2', signal: 'breach', observationId: 'r1', decision: 'start' }],
    [breach('d1', 'v1'), { source: 'drift-v1', signal: 'breach', observationId: 'd1', decision: 'start' }],
    [recovery('r2'), { source: 'drift-v2', signal: 'recovery', observationId: 'r2', decision: 'skip' }],
    [
      { kind: 'timer', schedule: 'nightly' } as const,
      { source: 'timer', signal: 'scheduled', reason: 'nightly', decision: 'start' },
    ],
    [
      { kind: 'manual', reason: 'why' } as const,
      { source: 'manual', signal: 'requested', reason: 'why', decision: 'start' },
    ],
  ])('records %o', (trigger, expected) => {
    const { record } = decideRetraining({ trigger, log: [], state: idle, now: NOW, policy: cooldown });
    expect(record).toEqual({ at: NOW.toISOString(), ...expected });
  });

  it('records nothing for a duplicate', () => {
    const result = decideRetraining({
      trigger: breach('r1'),
      log: [logged('breach', 'r1')],
      state: idle,
      now: NOW,
      policy: cooldown,
    });
    expect(result.record).toBeNull();
  });

  it.each([
    ['negative cooldown', { cooldownMs: -1 }],
    ['NaN cooldown', { cooldownMs: Number.NaN }],
    ['k = 0', { cooldownMs: 0, kOfN: { k: 0, n: 3 } }],
    ['k > n', { cooldownMs: 0, kOfN: { k: 4, n: 3 } }],
    ['fractional n', { cooldownMs: 0, kOfN: { k: 1, n: 2.5 } }],
  ])('rejects a bad policy: %s', (_name, policy) => {
    expect(() => decideRetraining({ trigger: breach('r1'), log: [], state: idle, now: NOW, policy })).toThrow(
      RangeError,
    );
  });

  it('rejects an invalid clock or state timestamp', () => {
    const args = { trigger: breach('r1'), log: [], policy: cooldown };
    expect(() => decideRetraining({ ...args, state: idle, now: new Date(Number.NaN) })).toThrow(RangeError);
    expect(() => decideRetraining({ ...args, state: { lastFinishedAt: 'soon' }, now: NOW })).toThrow(RangeError);
  });
});

describe('a storm of breach signals', () => {
  /** Apply triggers in order, updating log and state the way the orchestration does. */
  function replay(triggers: RetrainingTrigger[], policy: RetrainingGuardPolicy, stepMs = 60_000) {
    let log: SignalEntry[] = [];
    let state: RetrainingState = {};
    const decisions = triggers.map((trigger, i) => {
      const now = new Date(NOW.getTime() + i * stepMs);
      const { decision, record } = decideRetraining({ trigger, log, state, now, policy });
      log = appendSignal(log, record);
      if (decision.action === 'start')
        state = { ...state, activeRun: { id: `run-${i}`, startedAt: now.toISOString() } };
      return decision;
    });
    return { decisions, log, state };
  }
  const storm = Array.from({ length: 20 }, (_, i) => breach(`monitor-run-${i}`));

  it.each([
    ['without k-of-n', cooldown, 0],
    ['with k=3 of n=5', { cooldownMs: HOUR, kOfN: { k: 3, n: 5 } }, 2],
    ['with k=1 of n=1', { cooldownMs: 0, kOfN: { k: 1, n: 1 } }, 0],
  ])('20 breaches %s start exactly one run', (_name, policy, startIndex) => {
    const { decisions, log } = replay(storm, policy);
    const starts = decisions.flatMap((d, i) => (d.action === 'start' ? [i] : []));
    expect(starts).toEqual([startIndex]);
    expect(decisions.slice(startIndex + 1).every((d) => d.action === 'skip' && d.reason === 'single-flight')).toBe(
      true,
    );
    expect(log).toHaveLength(20);
  });

  it('every signal delivered twice still starts exactly one run and logs each observation once', () => {
    const doubled = storm.flatMap((t) => [t, t]);
    const { decisions, log } = replay(doubled, { cooldownMs: HOUR, kOfN: { k: 3, n: 5 } });
    expect(decisions.filter((d) => d.action === 'start')).toHaveLength(1);
    expect(decisions.filter((d) => d.action === 'skip' && d.reason === 'duplicate-signal')).toHaveLength(20);
    expect(log).toHaveLength(20);
  });

  it('after the run finishes, the storm continuing inside the cooldown starts nothing', () => {
    const policy: RetrainingGuardPolicy = { cooldownMs: HOUR, kOfN: { k: 1, n: 1 } };
    const finishedAt = new Date(NOW.getTime() + 30 * 60_000).toISOString();
    let log: SignalEntry[] = [];
    const state: RetrainingState = { lastFinishedAt: finishedAt };
    const results = storm.map((trigger, i) => {
      const now = new Date(Date.parse(finishedAt) + (i + 1) * 60_000);
      const result = decideRetraining({ trigger, log, state, now, policy });
      log = appendSignal(log, result.record);
      return result.decision;
    });
    expect(results.every((d) => d.action === 'skip' && d.reason === 'cooldown')).toBe(true);
  });
});

describe('appendSignal', () => {
  it('appends and keeps only the newest entries', () => {
    const entries = Array.from({ length: SIGNAL_LOG_LIMIT + 5 }, (_, i) => logged('breach', `r${i}`));
    const log = entries.reduce<SignalEntry[]>((acc, e) => appendSignal(acc, e), []);
    expect(log).toHaveLength(SIGNAL_LOG_LIMIT);
    expect(log[0]?.observationId).toBe('r5');
    expect(appendSignal(log, null)).toEqual(log);
    expect(
      appendSignal([logged('breach', 'a'), logged('breach', 'b')], logged('breach', 'c'), 2).map(
        (e) => e.observationId,
      ),
    ).toEqual(['b', 'c']);
  });
});
