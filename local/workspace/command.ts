import type { Task } from './datagen';
import { TrainingError } from './ml';

export interface JobInputSpec {
  jobInputType: string;
  value?: string;
  uri?: string;
}

export interface TrainingCommand {
  task: Task;
  target: string;
  features?: string[];
  /** URI of the training data (a data asset reference, datastore path, job output or file). */
  data: string;
  testSize: number;
  seed: number;
  maxSteps?: number;
}

const FLAGS = ['task', 'target', 'features', 'data', 'test-size', 'seed', 'max-steps', 'model-output'] as const;
type Flag = (typeof FLAGS)[number];
const ALIASES: Record<string, Flag> = { 'training-data': 'data', 'train-data': 'data', label: 'target' };
const DATA_INPUTS = ['training_data', 'data', 'train_data'];

/**
 * The command convention of the local workspace (documented in README.md): flags `--task regression|classification`,
 * `--target COLUMN`, `--features a,b,c` (optional), `--data URI` (optional when the job has one data input),
 * `--test-size 0.2`, `--seed 42`, `--max-steps N`, `--model-output ${{outputs.model}}` (where the script writes the
 * model; the workspace writes the job's model output itself); `${{inputs.NAME}}` expands to a literal input's value or an asset
 * input's URI. A literal input named like a flag (task, target, features, test_size, seed, max_steps) supplies
 * that flag. Leading words such as `python train.py` are ignored.
 */
export function parseCommand(command: string, inputs: Record<string, JobInputSpec | null> = {}): TrainingCommand {
  const tokens = tokenize(command).map((t) => expand(t, inputs));
  const flags = new Map<Flag, string>();
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (!tok.startsWith('--')) continue;
    let name = tok.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const norm = name.toLowerCase().replace(/_/g, '-');
    const flag = (FLAGS as readonly string[]).includes(norm) ? (norm as Flag) : ALIASES[norm];
    if (!flag) {
      throw new TrainingError(
        `Unknown argument '--${name}'. The local workspace understands: ${FLAGS.map((f) => `--${f}`).join(', ')}.`,
      );
    }
    if (value === undefined) {
      const next = tokens[i + 1];
      if (next === undefined || next.startsWith('--')) throw new TrainingError(`Argument '--${name}' needs a value.`);
      value = next;
      i++;
    }
    flags.set(flag, value);
  }
  for (const [name, input] of Object.entries(inputs)) {
    if (input?.jobInputType !== 'literal' || input.value === undefined) continue;
    const flag = name.toLowerCase().replace(/_/g, '-');
    if ((FLAGS as readonly string[]).includes(flag) && !flags.has(flag as Flag)) flags.set(flag as Flag, input.value);
  }

  const task = flags.get('task');
  if (!task) throw new TrainingError("The command names no task: add '--task regression' or '--task classification'.");
  if (task !== 'regression' && task !== 'classification') {
    throw new TrainingError(`Unknown task '${task}': expected regression or classification.`);
  }
  const target = flags.get('target');
  if (!target) throw new TrainingError("The command names no target column: add '--target COLUMN'.");
  const features = flags
    .get('features')
    ?.split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  if (features && features.length === 0) throw new TrainingError("'--features' lists no columns.");

  let data = flags.get('data');
  if (!data) {
    const named = Object.entries(inputs).find(([k, v]) => v && DATA_INPUTS.includes(k.toLowerCase()));
    const assets = Object.entries(inputs).filter(([, v]) => v && v.jobInputType !== 'literal');
    const chosen = named ?? (assets.length === 1 ? assets[0] : undefined);
    if (!chosen) {
      throw new TrainingError(
        "No training data: pass '--data ${{inputs.training_data}}' or give the job exactly one uri_file/uri_folder/mltable input.",
      );
    }
    data = inputValue(chosen[0], chosen[1]!);
  }
  const testSize = num(flags.get('test-size') ?? '0.2', 'test-size');
  if (!(testSize > 0 && testSize < 1))
    throw new TrainingError(`'--test-size' must be between 0 and 1 (got ${testSize}).`);
  const seed = num(flags.get('seed') ?? '42', 'seed');
  if (!Number.isInteger(seed)) throw new TrainingError(`'--seed' must be an integer (got ${seed}).`);
  const maxStepsRaw = flags.get('max-steps');
  const maxSteps = maxStepsRaw === undefined ? undefined : num(maxStepsRaw, 'max-steps');
  if (maxSteps !== undefined && !(Number.isInteger(maxSteps) && maxSteps >= 1 && maxSteps <= 100_000)) {
    throw new TrainingError(`'--max-steps' must be an integer in 1..100000 (got ${maxStepsRaw}).`);
  }
  return { task, target, features, data, testSize, seed, ...(maxSteps !== undefined ? { maxSteps } : {}) };
}

function num(s: string, flag: string): number {
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n)) throw new TrainingError(`'--${flag}' must be a number (got '${s}').`);
  return n;
}

function expand(token: string, inputs: Record<string, JobInputSpec | null>): string {
  return token.replace(/\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_.-]+)\s*\}\}/g, (_, scope: string, name: string) => {
    if (scope === 'outputs') return `outputs/${name}`;
    const input = inputs[name];
    if (!input)
      throw new TrainingError(`The command references \${{inputs.${name}}} but the job has no input '${name}'.`);
    return inputValue(name, input);
  });
}

function inputValue(name: string, input: JobInputSpec): string {
  if (input.jobInputType === 'literal') {
    if (input.value === undefined) throw new TrainingError(`Literal input '${name}' has no value.`);
    return input.value;
  }
  if (!input.uri) throw new TrainingError(`Input '${name}' (${input.jobInputType}) has no uri.`);
  return input.uri;
}

/**
 * The script a `python [options] script.py args…` command runs, as its path relative to the working directory;
 * undefined for any other command (`python -m module`, `python -c code`, a shell command).
 */
export function commandScript(command: string): string | undefined {
  let tokens: string[];
  try {
    tokens = tokenize(command);
  } catch {
    return undefined;
  }
  if (!/^python(\d+(\.\d+)?)?$/.test(tokens[0] ?? '')) return undefined;
  for (const token of tokens.slice(1)) {
    if (token === '-m' || token === '-c') return undefined;
    if (token.startsWith('-')) continue;
    return token.replace(/^\.\//, '');
  }
  return undefined;
}

/** Splits a command line on whitespace, honouring single and double quotes. */
export function tokenize(command: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let has = false;
  for (const ch of command) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += ch;
  }
  if (quote) throw new TrainingError('The command has an unterminated quote.');
  if (has || cur) out.push(cur);
  return out;
}
