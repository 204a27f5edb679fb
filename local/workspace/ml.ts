import LogisticRegression from 'ml-logistic-regression';
import { Matrix } from 'ml-matrix';
import MultivariateLinearRegression from 'ml-regression-multivariate-linear';
import { prng, type Table, type Task } from './datagen';

export const ARTIFACT_FORMAT = 'champion-local-model/v1';
export const ARTIFACT_FILE = 'model.json';

export interface TrainSpec {
  task: Task;
  target: string;
  /** Feature columns; default every numeric column except the target. */
  features?: string[];
  /** Held-out share for metrics, 0 < testSize < 1; default 0.2. */
  testSize?: number;
  seed?: number;
  /** Gradient steps for logistic regression; default 600. */
  maxSteps?: number;
}

export interface ModelArtifact {
  format: typeof ARTIFACT_FORMAT;
  task: Task;
  algorithm: 'ml-regression-multivariate-linear' | 'ml-logistic-regression';
  features: string[];
  target: string;
  classes?: (number | string)[];
  scaling?: { mean: number[]; std: number[] };
  model: Record<string, unknown>;
  metrics: Record<string, number>;
  rows: { train: number; test: number };
  trainedAt: string;
}

/** A training failure caused by the job's inputs: becomes a Failed job with this message. */
export class TrainingError extends Error {
  override name = 'TrainingError';
}

export function train(table: Table, spec: TrainSpec): ModelArtifact {
  const { task, target } = spec;
  const testSize = spec.testSize ?? 0.2;
  if (task !== 'regression' && task !== 'classification') {
    throw new TrainingError(`Unknown task '${String(task)}': expected regression or classification.`);
  }
  if (!(testSize > 0 && testSize < 1))
    throw new TrainingError(`--test-size must be between 0 and 1 (got ${testSize}).`);
  const targetIdx = table.columns.indexOf(target);
  if (targetIdx < 0) {
    throw new TrainingError(`Target column '${target}' not found; columns are: ${table.columns.join(', ')}.`);
  }
  const features = spec.features ?? table.columns.filter((c, i) => i !== targetIdx && isNumericColumn(table, i));
  if (features.length === 0) throw new TrainingError('No numeric feature columns to train on.');
  if (features.includes(target)) throw new TrainingError(`Target column '${target}' cannot also be a feature.`);
  const featureIdx = features.map((f) => {
    const i = table.columns.indexOf(f);
    if (i < 0) throw new TrainingError(`Feature column '${f}' not found; columns are: ${table.columns.join(', ')}.`);
    if (!isNumericColumn(table, i)) throw new TrainingError(`Feature column '${f}' is not numeric.`);
    return i;
  });
  const rows = table.rows.filter((r) => r[targetIdx] !== '' && r[targetIdx] !== undefined);
  const x = rows.map((r) => featureIdx.map((i) => r[i] as number));
  const y = rows.map((r) => r[targetIdx]!);
  const nTest = Math.max(1, Math.round(rows.length * testSize));
  const nTrain = rows.length - nTest;
  if (nTrain < features.length + 2 || rows.length < 10) {
    throw new TrainingError(
      `Not enough rows to train: ${rows.length} rows for ${features.length} features (need at least ${Math.max(10, features.length + 3)}).`,
    );
  }
  const order = shuffle(rows.length, spec.seed ?? 42);
  const trainIdx = order.slice(0, nTrain);
  const testIdx = order.slice(nTrain);
  const pick = <T>(arr: T[], idx: number[]): T[] => idx.map((i) => arr[i]!);
  const base = { format: ARTIFACT_FORMAT, features, target, trainedAt: new Date().toISOString() } as const;

  if (task === 'regression') {
    if (y.some((v) => typeof v !== 'number')) throw new TrainingError(`Target column '${target}' is not numeric.`);
    const yNum = y as number[];
    const model = new MultivariateLinearRegression(
      pick(x, trainIdx),
      pick(yNum, trainIdx).map((v) => [v]),
      { intercept: true, statistics: false },
    );
    const predicted = model.predict(pick(x, testIdx)).map((r) => r[0]!);
    return {
      ...base,
      task,
      algorithm: 'ml-regression-multivariate-linear',
      model: model.toJSON() as unknown as Record<string, unknown>,
      metrics: regressionMetrics(pick(yNum, testIdx), predicted),
      rows: { train: nTrain, test: nTest },
    };
  }

  const classes = [...new Set(y)].sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b)),
  );
  if (classes.length < 2) throw new TrainingError(`Target column '${target}' has a single class; need at least 2.`);
  if (classes.length > 20) {
    throw new TrainingError(`Target column '${target}' has ${classes.length} classes; classification supports <= 20.`);
  }
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const xTrain = pick(x, trainIdx);
  const scaling = standardization(xTrain);
  const model = new LogisticRegression({ numSteps: spec.maxSteps ?? 600, learningRate: 2 / nTrain });
  model.train(designMatrix(xTrain, scaling), Matrix.columnVector(pick(y, trainIdx).map((v) => classIndex.get(v)!)));
  const predicted = model.predict(designMatrix(pick(x, testIdx), scaling));
  return {
    ...base,
    task,
    algorithm: 'ml-logistic-regression',
    classes,
    scaling,
    model: model.toJSON(),
    metrics: classificationMetrics(
      pick(y, testIdx).map((v) => classIndex.get(v)!),
      predicted,
      classes.length,
    ),
    rows: { train: nTrain, test: nTest },
  };
}

export interface Predictor {
  task: Task;
  features: string[];
  predict(rows: number[][]): (number | string)[];
}

export function loadPredictor(artifact: ModelArtifact): Predictor {
  if (artifact?.format !== ARTIFACT_FORMAT) throw new Error(`Unsupported model format '${String(artifact?.format)}'.`);
  const { features } = artifact;
  if (artifact.algorithm === 'ml-regression-multivariate-linear') {
    const model = MultivariateLinearRegression.load(artifact.model as unknown as MultivariateLinearRegression.MLRModel);
    return { task: 'regression', features, predict: (rows) => model.predict(rows).map((r) => r[0]!) };
  }
  if (artifact.algorithm === 'ml-logistic-regression') {
    const model = LogisticRegression.load(artifact.model);
    const classes = artifact.classes ?? [];
    const scaling = artifact.scaling ?? { mean: features.map(() => 0), std: features.map(() => 1) };
    return {
      task: 'classification',
      features,
      predict: (rows) => model.predict(designMatrix(rows, scaling)).map((i) => classes[i]!),
    };
  }
  throw new Error(`Unsupported algorithm '${String(artifact.algorithm)}'.`);
}

function isNumericColumn(table: Table, i: number): boolean {
  let seen = false;
  for (const r of table.rows) {
    const v = r[i];
    if (v === '' || v === undefined) continue;
    if (typeof v !== 'number') return false;
    seen = true;
  }
  return seen;
}

function shuffle(n: number, seed: number): number[] {
  const rand = prng(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}

function standardization(x: number[][]): { mean: number[]; std: number[] } {
  const m = new Matrix(x);
  const mean = m.mean('column');
  const std = m.standardDeviation('column', { mean }).map((s) => (s > 1e-12 ? s : 1));
  return { mean, std };
}

/** Standardised features plus a constant column: the logistic model has no intercept of its own. */
function designMatrix(x: number[][], s: { mean: number[]; std: number[] }): Matrix {
  return new Matrix(x.map((r) => [...r.map((v, j) => (v - s.mean[j]!) / s.std[j]!), 1]));
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

function regressionMetrics(actual: number[], predicted: number[]): Record<string, number> {
  const n = actual.length;
  const mean = actual.reduce((s, v) => s + v, 0) / n;
  let se = 0;
  let ae = 0;
  let tot = 0;
  for (let i = 0; i < n; i++) {
    const e = actual[i]! - predicted[i]!;
    se += e * e;
    ae += Math.abs(e);
    tot += (actual[i]! - mean) ** 2;
  }
  return { rmse: round(Math.sqrt(se / n)), mae: round(ae / n), r2: round(tot > 0 ? 1 - se / tot : 0) };
}

function classificationMetrics(actual: number[], predicted: number[], k: number): Record<string, number> {
  const n = actual.length;
  const f1s: number[] = [];
  let correct = 0;
  for (let i = 0; i < n; i++) if (actual[i] === predicted[i]) correct++;
  let last = { precision: 0, recall: 0, f1: 0 };
  for (let c = 0; c < k; c++) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < n; i++) {
      if (predicted[i] === c && actual[i] === c) tp++;
      else if (predicted[i] === c) fp++;
      else if (actual[i] === c) fn++;
    }
    const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
    const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    f1s.push(f1);
    last = { precision, recall, f1 };
  }
  const metrics: Record<string, number> = { accuracy: round(correct / n) };
  // Binary metrics treat the last (highest) class as positive.
  if (k === 2)
    Object.assign(metrics, { precision: round(last.precision), recall: round(last.recall), f1: round(last.f1) });
  else metrics.f1_macro = round(f1s.reduce((s, v) => s + v, 0) / k);
  return metrics;
}
