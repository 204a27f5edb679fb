import { describe, expect, it } from 'vitest';
import {
  buildHistory,
  csvField,
  HISTORY_CSV_COLUMNS,
  historyCsv,
  parseInstant,
  productionAt,
  type PromotionRecord,
  type RegistryVersion,
  type RollbackRecord,
} from '../../lib/domain/history';
import type { Evidence } from '../../lib/domain/evaluation';
import type { PromotionResult } from '../../orchestrations/contract';

const evidence = (reason: string) =>
  ({ kind: 'paired', decision: 'win', metric: 'mse', reason }) as unknown as Evidence;

function promoted(
  version: string,
  at: string,
  extra: Partial<PromotionResult> = {},
  model = 'demand',
): PromotionRecord {
  return {
    id: `promote:${model}:${version}`,
    lastUpdatedTime: at,
    result: {
      outcome: 'promoted',
      modelName: model,
      modelVersion: version,
      reason: 'released',
      evidence: evidence(`v${version} better`),
      decision: { decision: 'approve', approver: 'ana', authenticated: false, identity: 'request', via: 'cli', at },
      release: { endpointName: 'demand-ep', slot: version === '1' ? 'blue' : 'green', gitSha: 'c0ffee' },
      timeline: [
        { at: '2026-01-01T00:00:00.000Z', phase: 'preparing', note: 'start' },
        { at, phase: 'done', note: 'promoted' },
      ],
      ...extra,
    },
  };
}

const rolledBack = (to: string, at: string): RollbackRecord => ({
  id: `rollback:demand:${at}`,
  lastUpdatedTime: at,
  result: {
    outcome: 'rolled-back',
    modelName: 'demand',
    reason: 'done',
    requestedBy: { name: 'oncall', authenticated: false, identity: 'request' },
    requestReason: 'p99 doubled',
    from: { slot: 'green', model: 'demand:2' },
    to: { slot: 'blue', model: `demand:${to}` },
    timeline: [{ at, phase: 'done', note: 'rolled-back' }],
  },
});

const version = (v: string, stage?: string, extra: Partial<RegistryVersion> = {}): RegistryVersion => ({
  version: v,
  tags: stage ? { stage } : {},
  properties: {},
  createdAt: `2026-01-0${v}T00:00:00.000Z`,
  createdBy: 'dana@contoso.com',
  createdByType: 'User',
  ...extra,
});

const T1 = '2026-01-10T10:00:00.000Z';
const T2 = '2026-01-20T10:00:00.000Z';
const T3 = '2026-01-25T10:00:00.000Z';

describe('production history', () => {
  const registry = [
    version('1', 'production', { tags: { stage: 'production', 'git.commit': 'abc123' } }),
    version('2', 'surpassed', { properties: { 'mlflow.source.git.commit': 'def456', 'training.job': 'job-2' } }),
    version('3'),
  ];
  const history = buildHistory(
    'demand',
    {
      // Any order: the history sorts by when each change was done.
      promotions: [
        promoted('2', T2, {
          decision: { decision: 'approve', approver: 'bo', via: 'link', at: T2, comment: 'ok' },
        }),
        promoted('1', T1),
        { id: 'promote:demand:3', lastUpdatedTime: T3, result: { ...promoted('3', T3).result!, outcome: 'rejected' } },
        { id: 'promote:demand:4', lastUpdatedTime: T3 },
        promoted('9', T1, {}, 'other'),
      ],
      rollbacks: [
        rolledBack('1', T3),
        {
          ...rolledBack('1', T3),
          id: 'rollback:refused',
          result: { ...rolledBack('1', T3).result!, outcome: 'refused' },
        },
      ],
    },
    registry,
  );

  it('has one interval per change that put a version in production, each ending where the next begins', () => {
    expect(history.intervals.map((i) => [i.version, i.from, i.until, i.cause.kind])).toEqual([
      ['1', T1, T2, 'promotion'],
      ['2', T2, T3, 'promotion'],
      ['1', T3, null, 'rollback'],
    ]);
    expect(history.productionNow).toBe('1');
    expect(history.notes).toEqual([]);
  });

  it('says who approved, with which evidence, from which commit and job, and where it was released', () => {
    const second = history.intervals[1]!;
    expect(second).toMatchObject({
      promotionId: 'promote:demand:2',
      approval: { approver: 'bo', via: 'link', comment: 'ok' },
      evidence: { reason: 'v2 better' },
      commit: 'def456',
      trainingJob: 'job-2',
      registeredBy: { name: 'dana@contoso.com', type: 'User' },
      release: { endpointName: 'demand-ep', slot: 'green', championCommit: 'c0ffee' },
    });
    expect(history.intervals[0]!.commit).toBe('abc123');
  });

  it('names who rolled back and why, keeping the approval and evidence of the release it went back to', () => {
    expect(history.intervals[2]).toMatchObject({
      cause: { kind: 'rollback', requestedBy: 'oncall', authenticated: false, reason: 'p99 doubled' },
      promotionId: 'promote:demand:1',
      approval: { approver: 'ana' },
      evidence: { reason: 'v1 better' },
    });
  });

  it('answers "in production at T": nothing before the first release, the newer version from the moment of its change', () => {
    const at = (iso: string) => productionAt(history, new Date(iso))?.version;
    expect(at('2026-01-09T00:00:00Z')).toBeUndefined();
    expect(at(T1)).toBe('1');
    expect(at('2026-01-20T09:59:59.999Z')).toBe('1');
    expect(at(T2)).toBe('2');
    expect(at('2026-01-24T00:00:00Z')).toBe('2');
    expect(at(T3)).toBe('1');
    expect(productionAt(history, new Date('2030-01-01T00:00:00Z'))?.cause.kind).toBe('rollback');
  });

  it('falls back to when the task hub last updated an instance whose result has no timeline', () => {
    const old = promoted('1', T1);
    delete old.result!.timeline;
    expect(buildHistory('demand', { promotions: [old], rollbacks: [] }, []).intervals[0]!.from).toBe(T1);
  });

  it('shows a version tagged production without any record of how, from its registration on, and says so', () => {
    const tagged = buildHistory('demand', { promotions: [], rollbacks: [] }, [version('3', 'production')]);
    expect(tagged.intervals).toMatchObject([{ version: '3', from: null, until: null, cause: { kind: 'registry' } }]);
    expect(tagged.notes[0]).toContain('no promotion or rollback records how');
    expect(productionAt(tagged, new Date('2026-01-02T00:00:00Z'))).toBeUndefined();
    expect(productionAt(tagged, new Date('2026-01-04T00:00:00Z'))?.version).toBe('3');
  });

  it('says when the registry no longer agrees with the last change recorded', () => {
    const moved = buildHistory('demand', { promotions: [promoted('1', T1)], rollbacks: [] }, [
      version('1', 'surpassed'),
      version('2', 'production'),
    ]);
    expect(moved.notes).toEqual([
      `The last change recorded put demand:1 in production (${T1}), but the registry tags demand:2 production now: ` +
        'its tags were changed outside Champion.',
    ]);
    const none = buildHistory('demand', { promotions: [promoted('1', T1)], rollbacks: [] }, []);
    expect(none.notes[0]).toContain('the registry tags no version production now');
  });

  it('is empty for a model with no records and nothing in production', () => {
    const empty = buildHistory('demand', { promotions: [], rollbacks: [] }, [version('1')]);
    expect(empty).toEqual({ modelName: 'demand', intervals: [], productionNow: null, notes: [] });
  });
});

describe('history as CSV', () => {
  it('has a header and one CRLF-terminated row per interval, empty fields for what is unknown', () => {
    const history = buildHistory('demand', { promotions: [promoted('1', T1)], rollbacks: [] }, [
      version('1', 'production'),
    ]);
    const lines = historyCsv(history).split('\r\n');
    expect(lines[0]).toBe(HISTORY_CSV_COLUMNS.join(','));
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    const fields = lines[1]!.split(',');
    const field = (name: (typeof HISTORY_CSV_COLUMNS)[number]) => fields[HISTORY_CSV_COLUMNS.indexOf(name)];
    expect(field('version')).toBe('1');
    expect(field('from')).toBe(T1);
    expect(field('until')).toBe('');
    expect(field('approved_by')).toBe('ana');
    expect(field('approver_authenticated')).toBe('false');
    expect(field('commit')).toBe('');
  });

  it('quotes fields with commas, quotes and line breaks (RFC 4180) and defuses spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r\nlf')).toBe('"cr\r\nlf"');
    expect(csvField('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('@sum')).toBe("'@sum");
    expect(csvField(null)).toBe('');
    expect(csvField(undefined)).toBe('');
  });

  it('keeps a hostile rollback reason in its one field', () => {
    const history = buildHistory(
      'demand',
      {
        promotions: [promoted('1', T1)],
        rollbacks: [
          {
            ...rolledBack('1', T3),
            result: { ...rolledBack('1', T3).result!, requestReason: 'a, "b"\r\n=cmd|\' /C calc\'!A0' },
          },
        ],
      },
      [],
    );
    const csv = historyCsv(history);
    expect(csv).toContain(`"a, ""b""\r\n=cmd|' /C calc'!A0"`);
    // Three records: header and two rows, the line break inside the quoted field not counting.
    expect(csv.match(/\r\n(?=(?:[^"]*"[^"]*")*[^"]*$)/g)).toHaveLength(3);
  });
});

describe('parseInstant', () => {
  it('takes ISO 8601 date-times with a zone, and plain dates as UTC midnight', () => {
    expect(parseInstant('2026-01-20T10:00:00Z')?.toISOString()).toBe('2026-01-20T10:00:00.000Z');
    expect(parseInstant('2026-01-20T10:00:00.123456Z')?.toISOString()).toBe('2026-01-20T10:00:00.123Z');
    expect(parseInstant('2026-01-20T12:00+02:00')?.toISOString()).toBe('2026-01-20T10:00:00.000Z');
    expect(parseInstant('2026-01-20')?.toISOString()).toBe('2026-01-20T00:00:00.000Z');
  });

  it('refuses what is not one unambiguous instant', () => {
    for (const bad of [
      '',
      'now',
      'March 7',
      '1700000000',
      '2026-01-20T10:00:00',
      '2026-02-30T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-01-20T25:00:00Z',
      '2026-01-20 10:00:00Z',
    ]) {
      expect(parseInstant(bad), bad).toBeUndefined();
    }
  });
});
