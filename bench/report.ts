/**
 * Shared helpers for the benchmark suites: percentiles, number formatting and the per-suite table.
 * Benchmarks report; they never fail on absolute figures (a goal that is missed prints "no", the exit code stays 0).
 */

export interface Row {
  metric: string;
  value: string;
  /** The goal as printed, e.g. '≥ 10,000'; empty when the figure is context only. */
  goal?: string;
  /** true/false when the figure has a goal; undefined for context figures. */
  met?: boolean;
}

export interface SuiteResult {
  name: string;
  rows: Row[];
  /** Free-text lines printed under the table (setup, caveats). */
  notes: string[];
  seconds: number;
}

/** Nearest-rank percentile of an ascending-sorted array (q in 0..1). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(values as ArrayLike<number>);
  out.sort();
  return out;
}

export function median(values: number[]): number {
  return percentile(sortedCopy(values), 0.5);
}

/** 12,345 / 1,234.5 / 12.35 / 0.123: significant enough digits without noise. */
export function fmt(n: number, digits?: number): string {
  if (!Number.isFinite(n)) return String(n);
  const d = digits ?? (Math.abs(n) >= 1000 ? 0 : Math.abs(n) >= 100 ? 1 : Math.abs(n) >= 1 ? 2 : 3);
  return n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** Counts: 12,345. */
export function int(n: number): string {
  return fmt(Math.round(n), 0);
}

export function ms(n: number): string {
  return `${fmt(n)} ms`;
}

export function ratio(n: number): string {
  return `${fmt(n, 2)}×`;
}

export function mark(met: boolean | undefined): string {
  return met === undefined ? '' : met ? 'yes' : 'NO';
}

export function printTable(title: string, rows: Row[]): void {
  const header: [string, string, string, string] = ['metric', 'value', 'goal', 'met'];
  const cells = rows.map((r): [string, string, string, string] => [r.metric, r.value, r.goal ?? '', mark(r.met)]);
  const width = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c
      .map((v, i) => (i === 1 ? v.padStart(width[i]!) : v.padEnd(width[i]!)))
      .join('  ')
      .trimEnd();
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(width.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

export function printSuite(result: SuiteResult): void {
  printTable(`== ${result.name} (${fmt(result.seconds, 1)} s)`, result.rows);
  for (const n of result.notes) console.log(`  ${n}`);
}

/** Monotonic milliseconds. */
export function now(): number {
  return performance.now();
}

export function log(line: string): void {
  // Progress goes to stderr so the tables on stdout stay clean when redirected.
  process.stderr.write(`  … ${line}\n`);
}
