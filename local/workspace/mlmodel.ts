/**
 * MLflow models as the local workspace writes and serves them: a folder with an `MLmodel` file (YAML) and the
 * model's data. The MLmodel keeps MLflow's layout (MLflow "Storage Format" docs): `flavors`, and a `signature` whose
 * `inputs`/`outputs` are JSON strings of column specs `{"type", "name"?, "required"?}`. Training writes one flavor,
 * `python_function`, whose `data` names the model file; Azure's no-code deployment loads models through that flavor.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ARTIFACT_FILE, loadPredictor, type ModelArtifact, type Predictor } from './ml';

export const MLMODEL_FILE = 'MLmodel';
export const LOCAL_LOADER_MODULE = 'champion_local_model';

/**
 * Whether a model version's `modelType` is an MLflow model: `mlflow_model` as the Azure ML CLI and SDK v2 send it
 * (AssetTypes.MLFLOW_MODEL), or `MLFlowModel`, the older REST spelling.
 */
export function isMlflowModelType(modelType: unknown): boolean {
  return typeof modelType === 'string' && ['mlflow_model', 'mlflowmodel'].includes(modelType.toLowerCase());
}

/** MLflow's column types (mlflow.types.DataType). */
export type ColumnType = 'boolean' | 'integer' | 'long' | 'float' | 'double' | 'string' | 'binary' | 'datetime';

export interface ColumnSpec {
  type: ColumnType;
  name?: string;
  required?: boolean;
}

export interface Signature {
  inputs: ColumnSpec[];
  outputs: ColumnSpec[];
}

export interface MlflowModel {
  flavors: Record<string, Record<string, unknown>>;
  signature?: Signature;
  [key: string]: unknown;
}

/** The MLmodel training writes next to `dataFile`: numeric inputs by name, one output column. */
export function mlmodelFor(artifact: ModelArtifact, dataFile: string, runId: string): MlflowModel {
  const classes = artifact.classes ?? [];
  const output: ColumnType =
    artifact.task === 'regression' || classes.some((c) => typeof c === 'number' && !Number.isInteger(c))
      ? 'double'
      : classes.every((c) => typeof c === 'number')
        ? 'long'
        : 'string';
  return {
    artifact_path: 'model',
    flavors: { python_function: { data: dataFile, loader_module: LOCAL_LOADER_MODULE } },
    run_id: runId,
    signature: {
      inputs: artifact.features.map((name) => ({ type: 'double', name, required: true })),
      outputs: [{ type: output, required: true }],
    },
    utc_time_created: artifact.trainedAt.replace('T', ' ').replace('Z', ''),
  };
}

/**
 * The predictor of a registered model's folder. A no-code deployment (no scoring script) serves an MLflow model as
 * Azure's generated scoring script does: the MLmodel's python_function flavor names the data file and its signature
 * the input columns. With a scoring script, the local stand-in for it loads the model file directly.
 */
export function loadModelFolder(dir: string, noCode: boolean): { predictor: Predictor; summary: string } {
  const mlmodelPath = join(dir, MLMODEL_FILE);
  if (!noCode && !existsSync(mlmodelPath)) {
    const artifact = readArtifact(join(dir, ARTIFACT_FILE));
    return { predictor: loadPredictor(artifact), summary: `${artifact.algorithm}, scoring script` };
  }
  if (!existsSync(mlmodelPath)) {
    throw new Error(
      `the model has no ${MLMODEL_FILE} file: a deployment without a scoring script serves MLflow models only`,
    );
  }
  const mlmodel = parseMlmodel(readFileSync(mlmodelPath, 'utf8'));
  const pyfunc = mlmodel.flavors.python_function;
  if (!pyfunc || typeof pyfunc.data !== 'string') {
    throw new Error(`${MLMODEL_FILE} has no python_function flavor naming the model data`);
  }
  const inner = loadPredictor(readArtifact(join(dir, pyfunc.data)));
  const inputs = mlmodel.signature?.inputs ?? [];
  if (inputs.length === 0) return { predictor: inner, summary: `MLflow model without a signature` };
  const names = inputs.map((c) => c.name);
  const missing = inner.features.filter((f) => !names.includes(f));
  if (names.some((n) => n === undefined) || missing.length > 0 || names.length !== inner.features.length) {
    throw new Error(
      `the signature's inputs (${names.join(', ')}) are not the model's features (${inner.features.join(', ')})`,
    );
  }
  const order = inner.features.map((f) => names.indexOf(f));
  return {
    predictor: {
      task: inner.task,
      features: names as string[],
      predict: (rows) => inner.predict(rows.map((row) => order.map((i) => row[i] as number))),
    },
    summary: `MLflow model, signature ${inputs.map((c) => `${c.name}: ${c.type}`).join(', ')}`,
  };
}

function readArtifact(file: string): ModelArtifact {
  if (!existsSync(file)) throw new Error(`the model data file ${basename(file)} is missing`);
  return JSON.parse(readFileSync(file, 'utf8')) as ModelArtifact;
}

// ---- YAML, the subset MLflow writes (PyYAML safe_dump, block style, keys sorted) ------------------------------

/** MLmodel text: block mappings, keys sorted, the signature's column specs as single-quoted JSON, as MLflow does. */
export function formatMlmodel(model: MlflowModel): string {
  const doc: Record<string, unknown> = { ...model };
  if (model.signature) {
    doc.signature = {
      inputs: pythonJson(model.signature.inputs),
      outputs: pythonJson(model.signature.outputs),
      params: null,
    };
  }
  return `${formatMapping(doc, 0).join('\n')}\n`;
}

/** Column specs as Python's json.dumps writes them (`", "` and `": "` separators), which MLflow uses. */
function pythonJson(specs: ColumnSpec[]): string {
  const spec = (s: ColumnSpec) =>
    `{${Object.entries(s)
      .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
      .join(', ')}}`;
  return `[${specs.map(spec).join(', ')}]`;
}

function formatMapping(map: Record<string, unknown>, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const key of Object.keys(map).sort()) {
    const value = map[key];
    if (value === undefined) continue;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
      lines.push(`${pad}${key}:`, ...formatMapping(value as Record<string, unknown>, indent + 2));
    } else {
      lines.push(`${pad}${key}: ${formatScalar(value)}`);
    }
  }
  return lines;
}

function formatScalar(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return Array.isArray(value) ? '[]' : '{}';
  const text = String(value);
  const plain =
    /^[A-Za-z_./][\w./ -]*$/.test(text) && !/ $/.test(text) && !/^(null|true|false|yes|no|on|off|~)$/i.test(text);
  return plain ? text : `'${text.replace(/'/g, "''")}'`;
}

export class MlmodelError extends Error {
  override name = 'MlmodelError';
}

interface Line {
  indent: number;
  text: string;
  number: number;
}

/**
 * Reads an MLmodel file: nested block mappings and sequences of plain, single- or double-quoted scalars, including
 * quoted scalars folded over several lines as PyYAML writes long signatures.
 */
export function parseMlmodel(text: string): MlflowModel {
  const lines: Line[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '' || raw.trimStart().startsWith('#') || raw.trim() === '---') return;
    lines.push({ indent: raw.length - raw.trimStart().length, text: raw.trimEnd().trimStart(), number: i + 1 });
  });
  const at = { i: 0 };
  const doc = parseBlock(lines, at, 0);
  if (at.i < lines.length) throw new MlmodelError(`MLmodel line ${lines[at.i]!.number}: unexpected indentation.`);
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new MlmodelError('MLmodel is not a mapping.');
  const model = doc as Record<string, unknown>;
  const flavors = model.flavors;
  if (!flavors || typeof flavors !== 'object' || Array.isArray(flavors)) {
    throw new MlmodelError('MLmodel has no flavors.');
  }
  const raw = model.signature as { inputs?: unknown; outputs?: unknown } | null | undefined;
  return {
    ...model,
    flavors: flavors as MlflowModel['flavors'],
    signature: raw
      ? { inputs: columnSpecs(raw.inputs, 'inputs'), outputs: columnSpecs(raw.outputs, 'outputs') }
      : undefined,
  };
}

function columnSpecs(value: unknown, field: string): ColumnSpec[] {
  if (value === null || value === undefined) return [];
  let specs: unknown;
  try {
    specs = typeof value === 'string' ? JSON.parse(value) : value;
  } catch (err) {
    throw new MlmodelError(`MLmodel signature.${field} is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(specs) || specs.some((s) => !s || typeof (s as ColumnSpec).type !== 'string')) {
    throw new MlmodelError(`MLmodel signature.${field} must be a list of column specs {"type", "name"}.`);
  }
  return specs as ColumnSpec[];
}

function parseBlock(lines: Line[], at: { i: number }, indent: number): unknown {
  const first = lines[at.i];
  if (!first || first.indent < indent) return null;
  if (first.text.startsWith('- ') || first.text === '-') {
    const list: unknown[] = [];
    while (at.i < lines.length && lines[at.i]!.indent === first.indent && lines[at.i]!.text.startsWith('-')) {
      const item = lines[at.i]!;
      at.i++;
      list.push(scalar(item.text.slice(1).trim(), lines, at, item.indent));
    }
    return list;
  }
  const map: Record<string, unknown> = {};
  while (at.i < lines.length && lines[at.i]!.indent === first.indent) {
    const line = lines[at.i]!;
    const match = /^('(?:[^']|'')*'|"[^"]*"|[^:'"]+?):(?: (.*))?$/.exec(line.text);
    if (!match) throw new MlmodelError(`MLmodel line ${line.number}: expected 'key: value'.`);
    const key = unquote(match[1]!);
    at.i++;
    const rest = match[2]?.trim() ?? '';
    if (rest === '') {
      const next = lines[at.i];
      const nested = next && (next.indent > line.indent || (next.indent === line.indent && next.text.startsWith('-')));
      map[key] = nested ? parseBlock(lines, at, next.indent) : null;
    } else {
      map[key] = scalar(rest, lines, at, line.indent);
    }
  }
  return map;
}

/** A scalar, pulling in continuation lines (more indented than `indent`) of a folded quoted or plain scalar. */
function scalar(text: string, lines: Line[], at: { i: number }, indent: number): unknown {
  let value = text;
  const open = (v: string) =>
    (v.startsWith("'") && !/^'(?:[^']|'')*'$/.test(v)) || (v.startsWith('"') && !/^"(?:[^"\\]|\\.)*"$/.test(v));
  while (at.i < lines.length && lines[at.i]!.indent > indent && (open(value) || !/^['"[{]/.test(value))) {
    value += ` ${lines[at.i]!.text}`;
    at.i++;
  }
  if (value.startsWith("'") || value.startsWith('"')) return unquote(value);
  if (value === 'null' || value === '~' || value === '') return null;
  if (value === 'true' || value === 'false') return value === 'true';
  if (value === '{}') return {};
  if (value === '[]') return [];
  if (/^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value)) return Number(value);
  return value;
}

function unquote(text: string): string {
  if (text.startsWith("'")) return text.slice(1, -1).replace(/''/g, "'");
  if (text.startsWith('"')) return JSON.parse(text) as string;
  return text.trim();
}
