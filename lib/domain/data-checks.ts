/**
 * Sanity checks on tabular training data, run before spending compute on a training job: schema, types, missing
 * values, value ranges, and drift against a reference sample (PSI and two-sample Kolmogorov–Smirnov). Pure.
 */

export type Cell = number | string | boolean | null | undefined;

/** Column-major header plus row arrays, or an array of records. */
export type TabularData =
  | { columns: readonly string[]; rows: readonly (readonly Cell[])[] }
  | { records: readonly Readonly<Record<string, Cell>>[] };

export type ColumnType = 'number' | 'integer' | 'string' | 'boolean';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** Largest allowed fraction of missing values (null, undefined, NaN, ''). Default 0. */
  maxMissingFraction?: number;
  /** Inclusive bounds for numeric columns. */
  min?: number;
  max?: number;
  /** Largest allowed fraction of present values outside [min, max]. Default 0. */
  maxOutOfRangeFraction?: number;
  /** Per-column drift thresholds; override the spec-wide ones. Set to null to skip drift for this column. */
  drift?: DriftThresholds | null;
}

export interface DriftThresholds {
  /** Fail when PSI exceeds this. Common reading: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major shift. */
  psiMax?: number;
  /** Fail when the KS statistic D exceeds this. */
  ksMax?: number;
  /** Alternatively, fail when D exceeds the two-sample critical value at this significance level. */
  ksAlpha?: number;
}

export interface DataCheckSpec {
  columns: readonly ColumnSpec[];
  /** Columns not in the spec are allowed unless this is false. */
  allowExtraColumns?: boolean;
  minRows?: number;
  /** Largest allowed fraction of present values of the wrong type. Default 0. */
  maxTypeErrorFraction?: number;
  drift?: DriftThresholds & {
    /** Quantile bins for PSI, taken from the reference. Default 10. */
    bins?: number;
    /** Stand-in proportion for empty bins, so PSI stays finite. Default 1e-4. */
    epsilon?: number;
  };
}

export type CheckName =
  | 'row-count'
  | 'row-shape'
  | 'duplicate-columns'
  | 'column-present'
  | 'unexpected-columns'
  | 'type'
  | 'missing'
  | 'range'
  | 'psi'
  | 'ks';

export interface DataCheck {
  name: CheckName;
  column?: string;
  ok: boolean;
  value: number;
  threshold: number;
  message: string;
}

export interface DataCheckReport {
  ok: boolean;
  rows: number;
  checks: DataCheck[];
}

export const DEFAULT_PSI_BINS = 10;
export const DEFAULT_PSI_EPSILON = 1e-4;

export function runDataChecks(data: TabularData, spec: DataCheckSpec, reference?: TabularData): DataCheckReport {
  const table = toTable(data);
  const checks: DataCheck[] = [];
  const n = table.rows.length;

  if (spec.minRows !== undefined) {
    checks.push({
      name: 'row-count',
      ok: n >= spec.minRows,
      value: n,
      threshold: spec.minRows,
      message: `${n} rows (at least ${spec.minRows} required)`,
    });
  }

  const ragged = table.rows.filter((r) => r.length !== table.columns.length).length;
  if (ragged > 0) {
    checks.push({
      name: 'row-shape',
      ok: false,
      value: ragged,
      threshold: 0,
      message: `${ragged} rows do not have ${table.columns.length} cells`,
    });
  }

  const duplicates = [...new Set(table.columns.filter((c, i) => table.columns.indexOf(c) !== i))];
  if (duplicates.length > 0) {
    checks.push({
      name: 'duplicate-columns',
      ok: false,
      value: duplicates.length,
      threshold: 0,
      message: `duplicate column names: ${duplicates.join(', ')}`,
    });
  }

  if (spec.allowExtraColumns === false) {
    const expected = new Set(spec.columns.map((c) => c.name));
    const extra = table.columns.filter((c) => !expected.has(c));
    checks.push({
      name: 'unexpected-columns',
      ok: extra.length === 0,
      value: extra.length,
      threshold: 0,
      message: extra.length === 0 ? 'no unexpected columns' : `unexpected columns: ${extra.join(', ')}`,
    });
  }

  const ref = reference === undefined ? undefined : toTable(reference);
  const maxTypeErrors = spec.maxTypeErrorFraction ?? 0;

  for (const col of spec.columns) {
    const index = table.columns.indexOf(col.name);
    checks.push({
      name: 'column-present',
      column: col.name,
      ok: index >= 0,
      value: index >= 0 ? 1 : 0,
      threshold: 1,
      message: index >= 0 ? 'present' : 'column is missing',
    });
    if (index < 0) continue;

    const values = table.rows.map((r) => r[index]);
    const present = values.filter((v) => !isMissing(v));
    const missingFraction = n === 0 ? 0 : (n - present.length) / n;
    const maxMissing = col.maxMissingFraction ?? 0;
    checks.push({
      name: 'missing',
      column: col.name,
      ok: missingFraction <= maxMissing,
      value: missingFraction,
      threshold: maxMissing,
      message: `${pct(missingFraction)} missing (${n - present.length} of ${n}; allowed ${pct(maxMissing)})`,
    });

    const wrong = present.filter((v) => !hasType(v, col.type));
    const typeErrorFraction = present.length === 0 ? 0 : wrong.length / present.length;
    checks.push({
      name: 'type',
      column: col.name,
      ok: typeErrorFraction <= maxTypeErrors,
      value: typeErrorFraction,
      threshold: maxTypeErrors,
      message:
        wrong.length === 0
          ? `all ${present.length} values are ${col.type}`
          : `${wrong.length} of ${present.length} values are not ${col.type} (e.g. ${JSON.stringify(wrong[0])})`,
    });

    if (!isNumeric(col.type)) continue;
    const numbers = present.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));

    if (col.min !== undefined || col.max !== undefined) {
      const lo = col.min ?? -Infinity;
      const hi = col.max ?? Infinity;
      const outside = numbers.filter((v) => v < lo || v > hi);
      const fraction = numbers.length === 0 ? 0 : outside.length / numbers.length;
      const allowed = col.maxOutOfRangeFraction ?? 0;
      checks.push({
        name: 'range',
        column: col.name,
        ok: fraction <= allowed,
        value: fraction,
        threshold: allowed,
        message:
          `${outside.length} of ${numbers.length} values outside [${fmt(lo)}, ${fmt(hi)}]` +
          (outside.length > 0 ? ` (min ${fmt(Math.min(...outside))}, max ${fmt(Math.max(...outside))})` : ''),
      });
    }

    if (ref === undefined || col.drift === null) continue;
    const thresholds: DriftThresholds = { ...spec.drift, ...col.drift };
    if (thresholds.psiMax === undefined && thresholds.ksMax === undefined && thresholds.ksAlpha === undefined) {
      continue;
    }
    const refIndex = ref.columns.indexOf(col.name);
    const refNumbers =
      refIndex < 0
        ? []
        : ref.rows.map((r) => r[refIndex]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));

    if (thresholds.psiMax !== undefined) {
      checks.push(
        driftCheck('psi', col.name, refNumbers, numbers, thresholds.psiMax, () =>
          populationStabilityIndex(refNumbers, numbers, {
            bins: spec.drift?.bins ?? DEFAULT_PSI_BINS,
            epsilon: spec.drift?.epsilon ?? DEFAULT_PSI_EPSILON,
          }),
        ),
      );
    }
    if (thresholds.ksMax !== undefined || thresholds.ksAlpha !== undefined) {
      const threshold =
        thresholds.ksMax ??
        (refNumbers.length > 0 && numbers.length > 0
          ? ksCriticalValue(thresholds.ksAlpha ?? 0.05, refNumbers.length, numbers.length)
          : 0);
      const check = driftCheck('ks', col.name, refNumbers, numbers, threshold, () => ksStatistic(refNumbers, numbers));
      if (thresholds.ksMax === undefined)
        check.message += `; threshold is the critical value at alpha ${fmt(thresholds.ksAlpha ?? 0.05)}`;
      checks.push(check);
    }
  }

  return { ok: checks.every((c) => c.ok), rows: n, checks };
}

function driftCheck(
  name: 'psi' | 'ks',
  column: string,
  reference: readonly number[],
  current: readonly number[],
  threshold: number,
  compute: () => number,
): DataCheck {
  const label = name === 'psi' ? 'PSI' : 'KS D';
  if (reference.length === 0 || current.length === 0) {
    // Without both samples drift cannot be ruled out, so the check fails rather than passing silently.
    return {
      name,
      column,
      ok: false,
      value: Number.NaN,
      threshold,
      message: `${label} not computable: ${reference.length === 0 ? 'reference' : 'current data'} has no numeric values`,
    };
  }
  const value = compute();
  return {
    name,
    column,
    ok: value <= threshold,
    value,
    threshold,
    message: `${label} ${fmt(value)} ${value <= threshold ? '<=' : '>'} ${fmt(threshold)} (reference n=${reference.length}, current n=${current.length})`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics

/**
 * Population stability index: bins are the reference's quantiles, so each holds about 1/bins of the reference;
 * PSI = Σ (q − p) · ln(q / p) with p, q the reference and current proportions, empty bins floored at epsilon.
 */
export function populationStabilityIndex(
  reference: readonly number[],
  current: readonly number[],
  options: { bins?: number; epsilon?: number } = {},
): number {
  const bins = options.bins ?? DEFAULT_PSI_BINS;
  const epsilon = options.epsilon ?? DEFAULT_PSI_EPSILON;
  if (!Number.isInteger(bins) || bins < 2) throw new RangeError('bins must be an integer >= 2');
  if (!(epsilon > 0)) throw new RangeError('epsilon must be > 0');
  if (reference.length === 0 || current.length === 0) throw new RangeError('PSI needs two non-empty samples');
  const cuts = quantileCutPoints(reference, bins);
  const p = proportions(reference, cuts);
  const q = proportions(current, cuts);
  let psi = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = Math.max(p[i] ?? 0, epsilon);
    const qi = Math.max(q[i] ?? 0, epsilon);
    psi += (qi - pi) * Math.log(qi / pi);
  }
  return psi;
}

/**
 * Distinct interior cut points at the reference's i/bins quantiles (linear interpolation between order
 * statistics). Bins are (-∞, c1], (c1, c2], …, (ck, ∞); ties collapse bins, so heavily discrete data gets fewer.
 */
export function quantileCutPoints(sample: readonly number[], bins: number): number[] {
  const sorted = [...sample].sort((a, b) => a - b);
  const cuts: number[] = [];
  for (let i = 1; i < bins; i++) {
    const c = quantileSorted(sorted, i / bins);
    const last = cuts[cuts.length - 1];
    if (last === undefined || c > last) cuts.push(c);
  }
  return cuts;
}

export function quantileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty sample');
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const a = sorted[lo] as number;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)] as number;
  return a + (h - lo) * (b - a);
}

function proportions(sample: readonly number[], cuts: readonly number[]): number[] {
  const counts = new Array<number>(cuts.length + 1).fill(0);
  for (const x of sample) {
    // First bin whose upper cut is >= x; binary search keeps large samples cheap.
    let lo = 0;
    let hi = cuts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x <= (cuts[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    counts[lo] = (counts[lo] ?? 0) + 1;
  }
  return counts.map((c) => c / sample.length);
}

/** Two-sample Kolmogorov–Smirnov statistic D = sup |F_a(x) − F_b(x)|, exact with ties. */
export function ksStatistic(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || b.length === 0) throw new RangeError('KS needs two non-empty samples');
  const x = [...a].sort((u, v) => u - v);
  const y = [...b].sort((u, v) => u - v);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const xi = x[i] as number;
    const yj = y[j] as number;
    const t = Math.min(xi, yj);
    // Step past every value equal to t in both samples before comparing the two ECDFs.
    while (i < x.length && (x[i] as number) <= t) i++;
    while (j < y.length && (y[j] as number) <= t) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/** Asymptotic two-sample critical value: c(α)·sqrt((n+m)/(n·m)) with c(α) = sqrt(−ln(α/2)/2). */
export function ksCriticalValue(alpha: number, n: number, m: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError('alpha must be in (0, 1)');
  if (n <= 0 || m <= 0) throw new RangeError('sample sizes must be positive');
  return Math.sqrt(-Math.log(alpha / 2) / 2) * Math.sqrt((n + m) / (n * m));
}

// ---------------------------------------------------------------------------------------------------------------
// Report

/** The report as text lines: a summary, then one line per check, failures first. */
export function formatReport(report: DataCheckReport): string {
  const failed = report.checks.filter((c) => !c.ok);
  const lines = [
    `Data checks ${report.ok ? 'PASSED' : 'FAILED'}: ${report.checks.length - failed.length} of ${report.checks.length} passed, ${report.rows} rows`,
  ];
  for (const c of [...failed, ...report.checks.filter((x) => x.ok)]) {
    lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.column === undefined ? '' : ` [${c.column}]`}: ${c.message}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

interface Table {
  columns: readonly string[];
  rows: readonly (readonly Cell[])[];
}

function toTable(data: TabularData): Table {
  if ('columns' in data) return data;
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const record of data.records) {
    for (const key of Object.keys(record)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  }
  return { columns, rows: data.records.map((r) => columns.map((c) => r[c])) };
}

function isMissing(v: Cell): boolean {
  return v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) || v === '';
}

function hasType(v: Cell, type: ColumnType): boolean {
  switch (type) {
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
  }
}

function isNumeric(type: ColumnType): boolean {
  return type === 'number' || type === 'integer';
}

function pct(fraction: number): string {
  return `${fmt(fraction * 100, 1)}%`;
}

function fmt(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toFixed(digits)));
}
