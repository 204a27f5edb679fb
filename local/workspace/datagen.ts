import { readFileSync } from 'node:fs';

export type Task = 'regression' | 'classification';

export interface GenerateOptions {
  /** Number of rows; default 1000. */
  rows?: number;
  /** PRNG seed: the same options give the same rows. Default 1. */
  seed?: number;
  task?: Task;
  /** Number of feature columns x1..xN; default 4 (1..20). */
  features?: number;
  /**
   * Distribution shift: 0 is the reference distribution. Feature means move by `drift` standard deviations, their
   * spread grows and the feature→target relationship changes, so a model trained at drift 0 degrades at drift 1.
   */
  drift?: number;
  /**
   * Share (0..1) of rows whose target follows the true relationship; the rest get a target unrelated to their
   * features. Lower quality trains a worse model on purpose. Default 1.
   */
  quality?: number;
  /** Standard deviation of the regression target's noise; default 0.5. */
  noise?: number;
  /** Target column name; default 'y' for regression, 'label' for classification. */
  target?: string;
  /** Leave the target column out (rows to score). Default false. */
  omitTarget?: boolean;
}

export interface Dataset {
  columns: string[];
  features: string[];
  target: string;
  rows: number[][];
}

/** Small, fast, seedable PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0 || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

const BASE_WEIGHTS = [2, -1.5, 1, 0.5, -0.8, 0.3, 1.2, -0.4];
const WEIGHT_DRIFT = [-1.5, 2, -0.5, 1, 0.6, -0.7, -1, 0.5];
const MEAN_SHIFT = [1, -0.8, 0.6, 0.4, -0.5, 0.9, -0.3, 0.7];

/** Generates a seeded tabular dataset with known structure (see GenerateOptions for the knobs). */
export function generateDataset(opts: GenerateOptions = {}): Dataset {
  const n = opts.rows ?? 1000;
  const k = opts.features ?? 4;
  const task = opts.task ?? 'regression';
  const drift = opts.drift ?? 0;
  const quality = opts.quality ?? 1;
  const noise = opts.noise ?? 0.5;
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new RangeError('rows must be an integer in 1..1000000');
  if (!Number.isInteger(k) || k < 1 || k > 20) throw new RangeError('features must be an integer in 1..20');
  if (!(quality >= 0 && quality <= 1)) throw new RangeError('quality must be in 0..1');
  if (!Number.isFinite(drift) || drift < 0 || drift > 10) throw new RangeError('drift must be in 0..10');
  if (!(noise >= 0)) throw new RangeError('noise must be >= 0');
  const rand = prng(opts.seed ?? 1);
  const normal = gaussian(rand);
  const at = (arr: number[], j: number): number => arr[j % arr.length]!;
  const weights = Array.from({ length: k }, (_, j) => at(BASE_WEIGHTS, j) + drift * at(WEIGHT_DRIFT, j));
  const means = Array.from({ length: k }, (_, j) => drift * at(MEAN_SHIFT, j));
  const spread = 1 + 0.3 * drift;
  const bias = task === 'regression' ? 3 : 0;
  const features = Array.from({ length: k }, (_, j) => `x${j + 1}`);
  const target = opts.target ?? (task === 'regression' ? 'y' : 'label');
  const draw = (): number[] => means.map((m) => m + spread * normal());
  const signal = (x: number[]): number => x.reduce((s, v, j) => s + v * weights[j]!, bias);
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const x = draw();
    // Low-quality rows take their target from unrelated features: an honest relationship diluted by junk.
    const related = rand() < quality;
    const basis = related ? x : draw();
    let y: number;
    if (task === 'regression') y = signal(basis) + noise * normal();
    else y = rand() < 1 / (1 + Math.exp(-signal(basis))) ? 1 : 0;
    const rounded = x.map((v) => Math.round(v * 1e4) / 1e4);
    rows.push(opts.omitTarget ? rounded : [...rounded, task === 'regression' ? Math.round(y * 1e4) / 1e4 : y]);
  }
  return { columns: opts.omitTarget ? features : [...features, target], features, target, rows };
}

export function toCsv(columns: string[], rows: (number | string)[][]): string {
  const cell = (v: number | string): string => {
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.map(cell).join(','), ...rows.map((r) => r.map(cell).join(','))].join('\n') + '\n';
}

export interface Table {
  columns: string[];
  rows: (number | string)[][];
}

/** Reads CSV (header row, RFC 4180 quoting) or JSON (array of objects, or {columns, data}). */
export function readTable(file: string): Table {
  return tableFromText(readFileSync(file, 'utf8'), file);
}

/** Parses a file's text by its name (`.json`) or content (a JSON array or object), else as CSV. */
export function tableFromText(text: string, name: string): Table {
  if (/\.json$/i.test(name) || /^\s*[[{]/.test(text)) return tableFromJson(JSON.parse(text));
  return parseCsv(text);
}

/** The rows of several parts of one table (the files of a uri_folder), which must all have the same columns. */
export function concatTables(parts: { source: string; table: Table }[]): Table {
  const [first, ...rest] = parts;
  if (!first) throw new Error('no files to read');
  for (const part of rest) {
    if (part.table.columns.join(',') !== first.table.columns.join(',')) {
      throw new Error(
        `${part.source} has columns [${part.table.columns.join(', ')}], ${first.source} has [${first.table.columns.join(', ')}]`,
      );
    }
  }
  return { columns: first.table.columns, rows: parts.flatMap((part) => part.table.rows) };
}

export function tableFromJson(value: unknown): Table {
  if (Array.isArray(value)) {
    const columns: string[] = [];
    for (const row of value) {
      if (!row || typeof row !== 'object' || Array.isArray(row)) throw new Error('JSON rows must be objects');
      for (const c of Object.keys(row)) if (!columns.includes(c)) columns.push(c);
    }
    return {
      columns,
      rows: value.map((row: Record<string, unknown>) => columns.map((c) => toCell(row[c]))),
    };
  }
  const v = value as { columns?: unknown; data?: unknown };
  if (v && Array.isArray(v.columns) && Array.isArray(v.data)) {
    return {
      columns: v.columns.map(String),
      rows: v.data.map((r) => (Array.isArray(r) ? r.map(toCell) : [])),
    };
  }
  throw new Error('JSON data must be an array of objects or {"columns": [...], "data": [[...]]}');
}

function toCell(v: unknown): number | string {
  if (typeof v === 'number') return v;
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? numOrString(v) : String(v);
}

function numOrString(s: string): number | string {
  const t = s.trim();
  if (t === '') return '';
  const n = Number(t);
  return Number.isFinite(n) ? n : s;
}

export function parseCsv(text: string): Table {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      field = '';
      if (record.length > 1 || record[0] !== '') records.push(record);
      record = [];
    } else field += ch;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  const [header, ...body] = records;
  if (!header) throw new Error('CSV has no header row');
  return { columns: header.map((h) => h.trim()), rows: body.map((r) => r.map(numOrString)) };
}
