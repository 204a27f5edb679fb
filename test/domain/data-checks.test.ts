import { describe, expect, it } from 'vitest';
import {
  formatReport,
  ksCriticalValue,
  ksStatistic,
  populationStabilityIndex,
  quantileCutPoints,
  runDataChecks,
  type Cell,
  type DataCheck,
  type DataCheckSpec,
  type TabularData,
} from '../../lib/domain/data-checks';

/** A deterministic, evenly spread sequence in [0, 1): no randomness needed. */
const spread = (n: number, offset = 0) => Array.from({ length: n }, (_, i) => ((i * 7919 + offset) % 1000) / 1000);

const columns = ['age', 'income', 'segment', 'churned'];
const cleanRows: Cell[][] = spread(200).map((u, i) => [
  20 + Math.floor(u * 50),
  1000 + u * 4000,
  i % 3 === 0 ? 'a' : 'b',
  i % 4 === 0,
]);
const clean: TabularData = { columns, rows: cleanRows };
const reference: TabularData = {
  columns,
  rows: spread(300, 17).map((u) => [20 + Math.floor(u * 50), 1000 + u * 4000, 'a', false]),
};

const spec: DataCheckSpec = {
  minRows: 100,
  allowExtraColumns: false,
  columns: [
    { name: 'age', type: 'integer', min: 18, max: 100 },
    { name: 'income', type: 'number', min: 0, maxMissingFraction: 0.05 },
    { name: 'segment', type: 'string', drift: null },
    { name: 'churned', type: 'boolean' },
  ],
  drift: { psiMax: 0.25, ksMax: 0.15 },
};

const failing = (checks: DataCheck[]) => checks.filter((c) => !c.ok).map((c) => [c.name, c.column]);

describe('runDataChecks', () => {
  it('passes clean data and reports every check it ran', () => {
    const report = runDataChecks(clean, spec, reference);
    expect(failing(report.checks)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.rows).toBe(200);
    expect(report.checks.map((c) => `${c.name}:${c.column ?? ''}`)).toEqual([
      'row-count:',
      'unexpected-columns:',
      'column-present:age',
      'missing:age',
      'type:age',
      'range:age',
      'psi:age',
      'ks:age',
      'column-present:income',
      'missing:income',
      'type:income',
      'range:income',
      'psi:income',
      'ks:income',
      'column-present:segment',
      'missing:segment',
      'type:segment',
      'column-present:churned',
      'missing:churned',
      'type:churned',
    ]);
  });

  it('accepts records as well as rows', () => {
    const records = cleanRows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]])));
    const fromRecords = runDataChecks({ records }, spec, reference);
    expect(fromRecords).toEqual(runDataChecks(clean, spec, reference));
  });

  const withColumn = (name: string, fn: (v: Cell, i: number) => Cell): TabularData => {
    const index = columns.indexOf(name);
    return { columns, rows: cleanRows.map((r, i) => r.map((v, j) => (j === index ? fn(v, i) : v))) };
  };

  type Row = [string, TabularData, Partial<DataCheckSpec>, [string, string | undefined], Partial<DataCheck>];
  const rows: Row[] = [
    [
      'too few rows',
      { columns, rows: cleanRows.slice(0, 50) },
      {},
      ['row-count', undefined],
      { value: 50, threshold: 100, message: '50 rows (at least 100 required)' },
    ],
    [
      'a ragged row',
      { columns, rows: [...cleanRows, [30, 2000]] },
      {},
      ['row-shape', undefined],
      { value: 1, message: '1 rows do not have 4 cells' },
    ],
    [
      'a duplicated column name',
      { columns: [...columns, 'age'], rows: cleanRows.map((r) => [...r, r[0]]) },
      { allowExtraColumns: true },
      ['duplicate-columns', undefined],
      { message: 'duplicate column names: age' },
    ],
    [
      'a missing column',
      { columns: columns.slice(0, 3), rows: cleanRows.map((r) => r.slice(0, 3)) },
      {},
      ['column-present', 'churned'],
      { value: 0, threshold: 1, message: 'column is missing' },
    ],
    [
      'an unexpected column',
      { columns: [...columns, 'ssn'], rows: cleanRows.map((r) => [...r, 'x']) },
      {},
      ['unexpected-columns', undefined],
      { value: 1, message: 'unexpected columns: ssn' },
    ],
    [
      'strings in an integer column',
      withColumn('age', (v, i) => (i < 10 ? String(v) : v)),
      {},
      ['type', 'age'],
      { value: 0.05, threshold: 0, message: '10 of 200 values are not integer (e.g. "20")' },
    ],
    [
      'fractions in an integer column',
      withColumn('age', (v, i) => (i === 0 ? 30.5 : v)),
      {},
      ['type', 'age'],
      { value: 0.005 },
    ],
    [
      'too many missing values',
      withColumn('income', (v, i) => (i % 10 === 0 ? null : i % 10 === 1 ? Number.NaN : v)),
      {},
      ['missing', 'income'],
      { value: 0.2, threshold: 0.05, message: '20% missing (40 of 200; allowed 5%)' },
    ],
    [
      'empty strings count as missing',
      withColumn('segment', (v, i) => (i < 2 ? '' : v)),
      {},
      ['missing', 'segment'],
      { value: 0.01 },
    ],
    [
      'values out of range',
      withColumn('age', (v, i) => (i === 0 ? 7 : i === 1 ? 140 : v)),
      {},
      ['range', 'age'],
      { value: 0.01, message: '2 of 200 values outside [18, 100] (min 7, max 140)' },
    ],
    [
      'a shifted distribution (PSI and KS both fail)',
      withColumn('income', (v) => (v as number) + 2500),
      {},
      ['psi', 'income'],
      { threshold: 0.25 },
    ],
  ];
  it.each(rows)('fails on %s', (_name, data, overrides, [name, column], expected) => {
    const report = runDataChecks(data, { ...spec, ...overrides }, reference);
    expect(report.ok).toBe(false);
    const check = report.checks.find((c) => c.name === name && c.column === column && !c.ok);
    expect(check, `${name} [${column}] should fail`).toBeDefined();
    expect(check).toMatchObject(expected);
  });

  it('a shifted distribution fails both PSI and KS, and nothing else', () => {
    const shifted = withColumn('income', (v) => (v as number) + 2500);
    const report = runDataChecks(
      shifted,
      { ...spec, columns: spec.columns.map((c) => ({ ...c, max: undefined })) },
      reference,
    );
    expect(failing(report.checks)).toEqual([
      ['psi', 'income'],
      ['ks', 'income'],
    ]);
    const ks = report.checks.find((c) => c.name === 'ks' && c.column === 'income');
    expect(ks?.value).toBeGreaterThan(0.5);
  });

  it.each([
    ['within tolerance', { maxOutOfRangeFraction: 0.01 }, true],
    ['beyond tolerance', { maxOutOfRangeFraction: 0.005 }, false],
  ])('range tolerance: %s', (_name, tolerance, ok) => {
    const data = withColumn('age', (v, i) => (i < 2 ? 500 : v));
    const columnsSpec = spec.columns.map((c) => (c.name === 'age' ? { ...c, ...tolerance } : c));
    const report = runDataChecks(data, { ...spec, columns: columnsSpec, drift: {} }, reference);
    expect(report.checks.find((c) => c.name === 'range' && c.column === 'age')?.ok).toBe(ok);
  });

  it('per-column drift thresholds override the spec-wide ones', () => {
    const columnsSpec = spec.columns.map((c) => (c.name === 'income' ? { ...c, drift: { psiMax: 0, ksMax: 0 } } : c));
    const report = runDataChecks(clean, { ...spec, columns: columnsSpec }, reference);
    expect(failing(report.checks)).toEqual([
      ['psi', 'income'],
      ['ks', 'income'],
    ]);
  });

  it('fails a drift check that cannot be computed, rather than passing it', () => {
    const refWithoutIncome: TabularData = { columns: ['age'], rows: [[30], [40]] };
    const report = runDataChecks(clean, spec, refWithoutIncome);
    const psi = report.checks.find((c) => c.name === 'psi' && c.column === 'income');
    expect(psi).toMatchObject({ ok: false, message: 'PSI not computable: reference has no numeric values' });
    expect(psi?.value).toBeNaN();
  });

  it('uses the KS critical value when only ksAlpha is given', () => {
    const report = runDataChecks(clean, { ...spec, drift: { ksAlpha: 0.05 } }, reference);
    const ks = report.checks.find((c) => c.name === 'ks' && c.column === 'age');
    expect(ks?.threshold).toBeCloseTo(ksCriticalValue(0.05, 300, 200), 12);
    expect(ks?.message).toMatch(/critical value at alpha 0.05/);
    expect(report.checks.some((c) => c.name === 'psi')).toBe(false);
  });

  it('runs no drift checks without a reference', () => {
    const report = runDataChecks(clean, spec);
    expect(report.checks.some((c) => c.name === 'psi' || c.name === 'ks')).toBe(false);
    expect(report.ok).toBe(true);
  });

  it('allows extra columns by default', () => {
    const data: TabularData = { columns: [...columns, 'extra'], rows: cleanRows.map((r) => [...r, 1]) };
    const { allowExtraColumns: _a, ...rest } = spec;
    expect(runDataChecks(data, rest, reference).ok).toBe(true);
  });
});

describe('populationStabilityIndex', () => {
  const ref = Array.from({ length: 10 }, (_, i) => i + 1); // median cut at 5.5 with two bins
  it.each([
    ['identical samples', ref, 0],
    ['80/20 split', [1, 1, 1, 1, 1, 1, 1, 1, 9, 10], 0.3 * Math.log(0.8 / 0.5) + -0.3 * Math.log(0.2 / 0.5)],
    ['an empty bin is floored at epsilon', [1, 2, 3], 0.5 * Math.log(1 / 0.5) + (1e-4 - 0.5) * Math.log(1e-4 / 0.5)],
  ])('%s, two bins', (_name, current, expected) => {
    expect(populationStabilityIndex(ref, current, { bins: 2 })).toBeCloseTo(expected, 12);
  });

  it('is larger for a larger shift', () => {
    const base = spread(500);
    const small = populationStabilityIndex(
      base,
      base.map((x) => x + 0.05),
    );
    const large = populationStabilityIndex(
      base,
      base.map((x) => x + 0.3),
    );
    expect(small).toBeGreaterThan(0);
    expect(large).toBeGreaterThan(small);
  });

  it('detects a change from a constant reference', () => {
    expect(populationStabilityIndex([5, 5, 5, 5], [5, 5, 9, 9])).toBeGreaterThan(1);
    expect(populationStabilityIndex([5, 5, 5, 5], [5, 5])).toBe(0);
  });

  it.each([
    ['bins < 2', () => populationStabilityIndex(ref, ref, { bins: 1 })],
    ['epsilon 0', () => populationStabilityIndex(ref, ref, { epsilon: 0 })],
    ['empty current', () => populationStabilityIndex(ref, [])],
  ])('rejects %s', (_name, fn) => {
    expect(fn).toThrow(RangeError);
  });

  it('quantile cut points are distinct and come from the reference', () => {
    expect(quantileCutPoints([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 2)).toEqual([5.5]);
    expect(quantileCutPoints([1, 2, 3, 4, 5], 4)).toEqual([2, 3, 4]);
    expect(quantileCutPoints([1, 1, 1, 1, 2], 4)).toEqual([1]);
  });
});

describe('ksStatistic', () => {
  /** Direct definition: the largest ECDF gap over every observed value. */
  function bruteForce(a: number[], b: number[]): number {
    const ecdf = (s: number[], x: number) => s.filter((v) => v <= x).length / s.length;
    return Math.max(...[...a, ...b].map((x) => Math.abs(ecdf(a, x) - ecdf(b, x))));
  }
  it.each([
    ['identical', [1, 2, 3], [1, 2, 3], 0],
    ['disjoint', [1, 2], [3, 4, 5], 1],
    ['half overlap', [1, 2, 3, 4], [3, 4, 5, 6], 0.5],
    ['ties across samples', [1, 1, 2], [1, 2, 2], 1 / 3],
    ['single values', [0], [0], 0],
  ])('%s', (_name, a, b, expected) => {
    expect(ksStatistic(a, b)).toBeCloseTo(expected, 12);
  });

  it.each([
    [spread(50), spread(70, 3).map((x) => x * 1.2)],
    [spread(40).map((x) => Math.round(x * 5)), spread(60, 11).map((x) => Math.round(x * 6))],
  ])('matches the definition on larger samples (case %#)', (a, b) => {
    expect(ksStatistic(a, b)).toBeCloseTo(bruteForce(a, b), 12);
  });

  it('critical value matches the tabulated c(0.05) = 1.358', () => {
    expect(ksCriticalValue(0.05, 100, 100)).toBeCloseTo(1.3581 * Math.sqrt(200 / 10000), 4);
    expect(() => ksCriticalValue(0, 1, 1)).toThrow(RangeError);
    expect(() => ksStatistic([], [1])).toThrow(RangeError);
  });
});

describe('formatReport', () => {
  it('prints a summary and one line per check, failures first', () => {
    const report = runDataChecks(
      { columns: ['x'], rows: [[1], [null], [250]] },
      { columns: [{ name: 'x', type: 'number', min: 0, max: 100, maxMissingFraction: 0.5 }] },
    );
    expect(formatReport(report).split('\n')).toEqual([
      'Data checks FAILED: 3 of 4 passed, 3 rows',
      '  FAIL range [x]: 1 of 2 values outside [0, 100] (min 250, max 250)',
      '  ok   column-present [x]: present',
      '  ok   missing [x]: 33.3% missing (1 of 3; allowed 50%)',
      '  ok   type [x]: all 2 values are number',
    ]);
  });

  it('prints PASSED for a clean report', () => {
    expect(formatReport(runDataChecks(clean, spec, reference))).toMatch(
      /^Data checks PASSED: 20 of 20 passed, 200 rows\n/,
    );
  });
});
