/** Following a promotion or a retraining run: the pure formatting, and the polling loop over scripted answers. */
import { describe, expect, it } from 'vitest';
import {
  ApiError,
  UnreachableError,
  type PromotionSummary,
  type RetrainingRunView,
  type RetrainingSignalView,
} from '../../cli/api';
import { runState, signalsSummary } from '../../cli/commands/retrainings';
import type { CliIo } from '../../cli/io';
import { main } from '../../cli/main';
import {
  entryLine,
  follow,
  formatElapsed,
  INTERRUPTED_EXIT_CODE,
  MAX_POLL_MS,
  nextPollDelay,
  PROMOTION_EXIT_CODES,
  promotionSnapshot,
  promotionWaitingFor,
  retrainingSnapshot,
  retrainingWaitingFor,
  statusLine,
  type Snapshot,
} from '../../cli/watch';

const CREATED = '2025-03-01T10:00:00.000Z';

function promotion(overrides: Partial<PromotionSummary> & Pick<PromotionSummary, 'runtimeStatus'>): PromotionSummary {
  return {
    id: 'promote:demand:3',
    createdTime: CREATED,
    lastUpdatedTime: '2025-03-01T10:21:00.000Z',
    ...overrides,
  };
}

const status = (phase: NonNullable<PromotionSummary['status']>['phase'], extra = {}) => ({
  phase,
  modelName: 'demand',
  modelVersion: '3',
  timeline: [],
  ...extra,
});

describe('formatElapsed', () => {
  it('shows minutes and seconds, then hours, then days', () => {
    expect(formatElapsed(0)).toBe('0:00');
    expect(formatElapsed(5_400)).toBe('0:05');
    expect(formatElapsed(754_000)).toBe('12:34');
    expect(formatElapsed(3_723_000)).toBe('1:02:03');
    expect(formatElapsed(2 * 86_400_000 + 3_723_000)).toBe('2d 01:02:03');
  });

  it('never goes below zero (a clock a little behind the runtime)', () => {
    expect(formatElapsed(-1500)).toBe('0:00');
  });
});

describe('entryLine', () => {
  it('puts the time since the start, the phase and the note on one line, phases padded to line up', () => {
    const deploying = entryLine(CREATED, { at: '2025-03-01T10:00:05.900Z', phase: 'deploying', note: 'to blue' });
    const waiting = entryLine(CREATED, { at: '2025-03-01T11:02:03Z', phase: 'awaiting-approval', note: 'until x' });
    expect(deploying).toBe('[0:05] deploying          to blue');
    expect(waiting).toBe('[1:02:03] awaiting-approval  until x');
  });
});

describe('what a promotion waits for', () => {
  it('names the wait of each running phase', () => {
    const waits = (['preparing', 'deploying', 'testing', 'evaluating', 'rolling-out', 'rolling-back'] as const).map(
      (phase) => promotionWaitingFor(promotion({ runtimeStatus: 'Running', status: status(phase) })),
    );
    expect(waits).toEqual([
      'its turn (promotions of a model prepare one at a time)',
      'the deployment to provision',
      'the smoke test',
      'the evaluation against the champion',
      'the traffic update to roll out',
      "the champion's traffic to be restored",
    ]);
  });

  it('names approval with its expiry and how to decide', () => {
    const waiting = promotion({
      runtimeStatus: 'Running',
      status: status('awaiting-approval', { approval: { expiresAt: '2025-03-04T10:05:30.000Z' } }),
    });
    expect(promotionWaitingFor(waiting)).toBe(
      'approval until 2025-03-04 10:05:30Z (champion approve promote:demand:3, or champion reject promote:demand:3)',
    );
  });

  it('names the release freeze a promotion waits out, and how it ends', () => {
    const frozen = (freeze: object) =>
      promotionWaitingFor(promotion({ runtimeStatus: 'Running', status: status('frozen', { freeze } as never) }));
    expect(
      frozen({ frozen: true, source: 'request', by: 'ana', reason: 'Black Friday', recheckAt: '2025-03-04T11:00:00Z' }),
    ).toBe('the release freeze to end, until lifted (champion unfreeze demand): Black Friday');
    expect(
      frozen({
        frozen: true,
        source: 'policy',
        window: 0,
        reason: 'quarter close',
        until: '2025-03-04T10:05:30.000Z',
        recheckAt: '2025-03-04T10:05:30.000Z',
      }),
    ).toBe('the release freeze to end, until 2025-03-04 10:05:30Z: quarter close');
  });

  it('names the training job a retraining run waits for', () => {
    const run: RetrainingRunView = {
      kind: 'run',
      id: 'retrain:demand:2',
      runtimeStatus: 'Running',
      createdTime: CREATED,
      lastUpdatedTime: CREATED,
      status: { phase: 'training', modelName: 'demand', jobName: 'retrain-demand-2-ab12cd34', timeline: [] },
    };
    expect(retrainingWaitingFor(run)).toBe('the training job retrain-demand-2-ab12cd34 to finish');
  });

  it('shows the elapsed time and the wait on the status line a terminal redraws', () => {
    const snapshot = promotionSnapshot(promotion({ runtimeStatus: 'Running', status: status('deploying') }));
    expect(statusLine(snapshot, Date.parse(CREATED) + 65_000)).toBe('[1:05] waiting for the deployment to provision');
  });
});

describe('snapshots', () => {
  it('maps each outcome of a promotion to its exit code, and a runtime failure to the code of failed', () => {
    const ended = (result: PromotionSummary['result'], runtimeStatus = 'Completed') =>
      promotionSnapshot(promotion({ runtimeStatus, result })).ended;
    const result = (outcome: keyof typeof PROMOTION_EXIT_CODES) => ({
      outcome,
      modelName: 'demand',
      modelVersion: '3',
      reason: 'because',
    });
    expect(ended(result('promoted'))).toEqual({
      summary: 'promoted: because',
      exitCode: 0,
      lastUpdatedTime: '2025-03-01T10:21:00.000Z',
    });
    expect(ended(result('rejected'))?.exitCode).toBe(4);
    expect(new Set(Object.values(PROMOTION_EXIT_CODES)).size).toBe(Object.keys(PROMOTION_EXIT_CODES).length);
    expect(ended(null, 'Terminated')).toMatchObject({
      summary: 'ended without an outcome: the runtime reports Terminated',
      exitCode: PROMOTION_EXIT_CODES.failed,
    });
    expect(promotionSnapshot(promotion({ runtimeStatus: 'Running', status: status('testing') })).ended).toBeUndefined();
  });

  it("reads a finished promotion's timeline from its result, which keeps every entry", () => {
    const entry = (phase: string) => ({ at: CREATED, phase, note: phase });
    const snapshot = promotionSnapshot(
      promotion({
        runtimeStatus: 'Completed',
        status: status('done', { timeline: [entry('done')], earlierEntries: 2 }),
        result: {
          outcome: 'promoted',
          modelName: 'demand',
          modelVersion: '3',
          reason: 'r',
          timeline: [entry('preparing'), entry('deploying'), entry('done')],
        },
      }),
    );
    expect(snapshot.firstIndex).toBe(0);
    expect(snapshot.entries.map((e) => e.phase)).toEqual(['preparing', 'deploying', 'done']);
  });

  it('names the registered version and its promotion when a retraining run ends', () => {
    const snapshot = retrainingSnapshot({
      kind: 'run',
      id: 'retrain:demand:2',
      runtimeStatus: 'Completed',
      createdTime: CREATED,
      lastUpdatedTime: CREATED,
      result: {
        outcome: 'registered',
        modelName: 'demand',
        runId: 'retrain:demand:2',
        reason: 'trained',
        trigger: { source: 'manual', reason: 'x', triggerId: 't' },
        modelVersion: '4',
        promotionId: 'promote:demand:4',
      },
    });
    expect(snapshot.ended).toMatchObject({
      summary: 'registered: trained',
      next: 'Follow its promotion with: champion show promote:demand:4 --watch',
      exitCode: 0,
    });
  });
});

describe('polling', () => {
  it('backs off while nothing changes, up to its ceiling, and comes back quick after a change', () => {
    let delay = 250;
    for (let i = 0; i < 20; i++) delay = nextPollDelay(delay, false);
    expect(delay).toBe(MAX_POLL_MS);
    expect(nextPollDelay(delay, true)).toBeLessThan(MAX_POLL_MS);
  });
});

/** An io that records lines, never sleeps, and lets a test press Ctrl-C. */
function scriptedIo(options: { isTTY?: boolean } = {}) {
  const out: string[] = [];
  let interrupt: (() => void) | undefined;
  const io: CliIo = {
    stdout: (chunk) => void out.push(chunk),
    stderr: (chunk) => void out.push(chunk),
    fetch: () => Promise.reject(new Error('no network here')),
    env: {},
    isTTY: options.isTTY ?? false,
    sleep: () => Promise.resolve(),
    onInterrupt: (stop) => {
      interrupt = stop;
      return () => (interrupt = undefined);
    },
  };
  return { io, text: () => out.join(''), pressCtrlC: () => interrupt?.(), listening: () => interrupt !== undefined };
}

const at = (seconds: number) => new Date(Date.parse(CREATED) + seconds * 1000).toISOString();
const entry = (seconds: number, phase: string, note: string) => ({ at: at(seconds), phase, note });

function running(entries: ReturnType<typeof entry>[], waitingFor: string, firstIndex = 0): Snapshot {
  return { createdTime: CREATED, entries, firstIndex, waitingFor };
}

describe('follow', () => {
  const subject = { subject: 'promotion promote:demand:3', carriesOn: 'the promotion' };

  it('prints each entry once, each new wait once, and the outcome; plain lines without a terminal', async () => {
    const e1 = entry(0, 'preparing', 'evaluating demand:3');
    const e2 = entry(5, 'deploying', 'to blue');
    const e3 = entry(90, 'awaiting-approval', 'waiting for a decision');
    const e4 = entry(600, 'done', 'promoted: green serves 100%');
    const answers: Snapshot[] = [
      running([e1], 'its turn'),
      running([e1, e2], 'the deployment to provision'),
      running([e1, e2], 'the deployment to provision'),
      // The status keeps only the latest entries: e1 dropped out, e3 came in.
      running([e2, e3], 'approval', 1),
      {
        createdTime: CREATED,
        entries: [e1, e2, e3, e4],
        firstIndex: 0,
        ended: { summary: 'promoted: green serves 100%', exitCode: 0, lastUpdatedTime: at(601) },
      },
    ];
    const { io, text, listening } = scriptedIo();
    const code = await follow(io, { ...subject, read: () => Promise.resolve(answers.shift()!) });
    expect(code).toBe(0);
    expect(text().split('\n')).toEqual([
      'Following promotion promote:demand:3, started 2025-03-01 10:00:00Z. Ctrl-C stops watching; the promotion carries on.',
      '[0:00] preparing          evaluating demand:3',
      '  … waiting for its turn',
      '[0:05] deploying          to blue',
      '  … waiting for the deployment to provision',
      '[1:30] awaiting-approval  waiting for a decision',
      '  … waiting for approval',
      '[10:00] done               promoted: green serves 100%',
      'Promotion promote:demand:3 promoted: green serves 100% (after 10:01).',
      '',
    ]);
    expect(text()).not.toContain('\r');
    expect(listening()).toBe(false);
  });

  it('says how many entries it could not show when more arrived between two polls than the status keeps', async () => {
    const answers: Snapshot[] = [
      running([entry(0, 'preparing', 'a')], 'x'),
      running([entry(9, 'testing', 'd')], 'y', 3),
      { ...running([], 'y', 4), ended: { summary: 'failed: smoke test', exitCode: 3, lastUpdatedTime: at(10) } },
    ];
    const { io, text } = scriptedIo();
    expect(await follow(io, { ...subject, read: () => Promise.resolve(answers.shift()!) })).toBe(3);
    expect(text()).toContain('  (2 earlier entries not shown)\n[0:09] testing');
  });

  it('redraws one status line on a terminal and clears it before each entry', async () => {
    const answers: Snapshot[] = [
      running([entry(0, 'preparing', 'a')], 'its turn'),
      { ...running([], 'x', 1), ended: { summary: 'superseded', exitCode: 6, lastUpdatedTime: at(3) } },
    ];
    const { io, text } = scriptedIo({ isTTY: true });
    expect(await follow(io, { ...subject, read: () => Promise.resolve(answers.shift()!) })).toBe(6);
    const clearLine = '\r\u001b[2K';
    const [, firstEntry, status, rest] = text().split('\n');
    expect(firstEntry).toBe('[0:00] preparing          a');
    expect(status).toMatch(/^\[[^\]]+\] waiting for its turn/);
    expect(status?.endsWith(`${clearLine}Promotion promote:demand:3 superseded (after 0:03).`)).toBe(true);
    expect(rest).toBe('');
    expect(text()).not.toContain('… waiting for');
  });

  it('stops on Ctrl-C without asking the app for anything else, exit 130', async () => {
    const { io, text, pressCtrlC } = scriptedIo();
    let reads = 0;
    const code = await follow(io, {
      ...subject,
      read: () => {
        reads++;
        pressCtrlC();
        return Promise.resolve(running([], 'approval'));
      },
    });
    expect(code).toBe(INTERRUPTED_EXIT_CODE);
    expect(reads).toBe(1);
    expect(text()).toContain('Stopped watching promotion promote:demand:3; the promotion carries on.');
  });

  it('gives up at once on an unknown id, and after a few failed polls in a row otherwise', async () => {
    const { io } = scriptedIo();
    const unknown = follow(io, { ...subject, read: () => Promise.reject(new ApiError(404, 'No promotion "x".')) });
    await expect(unknown).rejects.toMatchObject({ status: 404 });

    const down = scriptedIo();
    let reads = 0;
    const unreachable = follow(down.io, {
      ...subject,
      read: () =>
        reads++ === 0
          ? Promise.resolve(running([], 'approval'))
          : Promise.reject(new UnreachableError('http://app', 'unreachable', 'ECONNREFUSED')),
    });
    await expect(unreachable).rejects.toBeInstanceOf(UnreachableError);
    expect(reads).toBe(6);
    expect(down.text()).toContain('Cannot reach Champion at http://app: is it running? (npm start); trying again)');
  });
});

describe('--help', () => {
  it('lists the exit codes of a watch, each once', async () => {
    let out = '';
    const io: CliIo = { stdout: (t) => void (out += t), stderr: () => {}, fetch, env: {} };
    expect(await main(['show', '--help'], io)).toBe(0);
    const codes = out.slice(out.indexOf('Exit codes (with --watch):')).split('\n').slice(1, 10);
    expect(codes.map((line) => line.trim().split(/\s+/)[0])).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '130']);
    expect(out).toMatch(/\n {2}4 +ended rejected\n/);
  });
});

describe('retrainings', () => {
  const signal = (decision?: RetrainingSignalView['decision']): RetrainingSignalView => ({
    kind: 'trigger',
    id: 'retrain-signal:demand:manual:x',
    runtimeStatus: 'Completed',
    createdTime: CREATED,
    ...(decision ? { decision } : {}),
  });

  it('counts the signals the guard acted on, skipped (by reason) and has not answered yet', () => {
    const skip = (reason: 'single-flight' | 'cooldown') => signal({ action: 'skip', reason, detail: '' });
    const triggers = [
      signal({ action: 'start', reason: 'drift', detail: '' }),
      skip('single-flight'),
      skip('single-flight'),
      skip('cooldown'),
      signal(),
    ];
    expect(signalsSummary({ runs: [], triggers })).toBe(
      '5 signals: 1 started a run, 3 skipped (single-flight 2, cooldown 1), 1 waiting for the guard.',
    );
    expect(signalsSummary({ runs: [], triggers: [] })).toBeUndefined();
  });

  it("shows a run's outcome once it ended, its phase while it runs", () => {
    const run: RetrainingRunView = {
      kind: 'run',
      id: 'retrain:demand:1',
      runtimeStatus: 'Running',
      createdTime: CREATED,
      lastUpdatedTime: CREATED,
      status: { phase: 'training', modelName: 'demand', timeline: [] },
    };
    expect(runState(run)).toBe('training');
    expect(runState({ ...run, runtimeStatus: 'Terminated' })).toBe('terminated');
  });
});
