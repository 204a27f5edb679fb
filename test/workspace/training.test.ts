import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommand } from '../../local/workspace/command';
import { generateDataset, parseCsv, toCsv } from '../../local/workspace/datagen';
import type { LocalWorkspace } from '../../local/workspace/index';
import { loadPredictor, train, TrainingError } from '../../local/workspace/ml';
import { mlWorkspace, removeTempDirs, rest, start, trainingCode, waitFor } from './helpers';

function rmse(predicted: (number | string)[], actual: number[]): number {
  return Math.sqrt(predicted.reduce<number>((s, p, i) => s + (Number(p) - actual[i]!) ** 2, 0) / actual.length);
}

/** Trains on `trainOpts` data and returns the model's RMSE on fresh rows drawn with `evalOpts`. */
function holdoutRmse(
  trainOpts: Parameters<typeof generateDataset>[0],
  evalOpts: Parameters<typeof generateDataset>[0],
): number {
  const artifact = train(generateDataset(trainOpts), { task: 'regression', target: 'y' });
  const evalSet = generateDataset(evalOpts);
  const p = loadPredictor(artifact);
  return rmse(
    p.predict(evalSet.rows.map((r) => r.slice(0, 4))),
    evalSet.rows.map((r) => r[4]!),
  );
}

describe('seeded data generator', () => {
  it('is deterministic per seed and shaped as asked', () => {
    const a = generateDataset({ rows: 50, seed: 9, features: 3 });
    expect(a.columns).toEqual(['x1', 'x2', 'x3', 'y']);
    expect(a.rows).toHaveLength(50);
    expect(generateDataset({ rows: 50, seed: 9, features: 3 }).rows).toEqual(a.rows);
    expect(generateDataset({ rows: 50, seed: 10, features: 3 }).rows).not.toEqual(a.rows);
    expect(generateDataset({ rows: 5, omitTarget: true }).columns).toEqual(['x1', 'x2', 'x3', 'x4']);
    expect(() => generateDataset({ quality: 2 })).toThrow(RangeError);
  });

  it('drift makes a model trained on reference data worse on the drifted data', () => {
    const onReference = holdoutRmse({ rows: 800, seed: 1 }, { rows: 800, seed: 2 });
    const onDrifted = holdoutRmse({ rows: 800, seed: 1 }, { rows: 800, seed: 2, drift: 1 });
    const retrained = holdoutRmse({ rows: 800, seed: 3, drift: 1 }, { rows: 800, seed: 2, drift: 1 });
    expect(onDrifted).toBeGreaterThan(onReference * 3);
    expect(retrained).toBeLessThan(onDrifted / 3);
  });

  it('the quality knob produces a worse model on purpose', () => {
    const good = holdoutRmse({ rows: 800, seed: 1, quality: 1 }, { rows: 800, seed: 2 });
    const bad = holdoutRmse({ rows: 800, seed: 1, quality: 0.3 }, { rows: 800, seed: 2 });
    expect(bad).toBeGreaterThan(good * 2);
  });

  it('round-trips CSV with quoting', () => {
    const csv = toCsv(
      ['a', 'b,c'],
      [
        [1, 'x "y"'],
        [2.5, ''],
      ],
    );
    expect(parseCsv(csv)).toEqual({
      columns: ['a', 'b,c'],
      rows: [
        [1, 'x "y"'],
        [2.5, ''],
      ],
    });
  });
});

describe('training with the ML libraries', () => {
  it('trains logistic regression for classification with held-out metrics', () => {
    const ds = generateDataset({ rows: 600, seed: 5, task: 'classification' });
    const artifact = train(ds, { task: 'classification', target: 'label' });
    expect(artifact.algorithm).toBe('ml-logistic-regression');
    expect(artifact.classes).toEqual([0, 1]);
    expect(artifact.metrics.accuracy).toBeGreaterThan(0.75);
    expect(Object.keys(artifact.metrics).sort()).toEqual(['accuracy', 'f1', 'precision', 'recall']);
    const p = loadPredictor(JSON.parse(JSON.stringify(artifact)));
    const out = p.predict([
      [3, -3, 2, 1],
      [-3, 3, -2, -1],
    ]);
    expect(out).toEqual([1, 0]);
  });

  it('rejects unusable data with clear messages', () => {
    const ds = generateDataset({ rows: 100 });
    expect(() => train(ds, { task: 'regression', target: 'z' })).toThrow(/Target column 'z' not found/);
    expect(() => train(ds, { task: 'regression', target: 'y', features: ['x9'] })).toThrow(/Feature column 'x9'/);
    expect(() =>
      train({ columns: ds.columns, rows: ds.rows.slice(0, 5) }, { task: 'regression', target: 'y' }),
    ).toThrow(/Not enough rows/);
    expect(() => train(ds, { task: 'classification', target: 'y' })).toThrow(/classes/);
    expect(() => train(ds, { task: 'regression', target: 'y' })).not.toThrow();
  });
});

describe('command convention', () => {
  it('reads flags, = syntax, ${{inputs.*}} expansion and literal inputs', () => {
    const cmd = parseCommand(
      'python train.py --task=classification --target label --features "x1,x2" --data ${{inputs.d}} --test-size 0.3',
      {
        d: { jobInputType: 'uri_file', uri: 'azureml:sales:2' },
        seed: { jobInputType: 'literal', value: '7' },
      },
    );
    expect(cmd).toEqual({
      task: 'classification',
      target: 'label',
      features: ['x1', 'x2'],
      data: 'azureml:sales:2',
      testSize: 0.3,
      seed: 7,
    });
    expect(
      parseCommand('train --task regression --target y', {
        training_data: { jobInputType: 'uri_file', uri: 'azureml:a:1' },
      }).data,
    ).toBe('azureml:a:1');
  });

  it('rejects what it does not understand', () => {
    expect(() => parseCommand('python train.py')).toThrow(/no task/);
    expect(() => parseCommand('--task clustering --target y --data x')).toThrow(/Unknown task 'clustering'/);
    expect(() => parseCommand('--task regression --data x')).toThrow(/no target/);
    expect(() => parseCommand('--task regression --target y --data x --epochs 3')).toThrow(
      /Unknown argument '--epochs'/,
    );
    expect(() => parseCommand('--task regression --target y')).toThrow(TrainingError);
    expect(() =>
      parseCommand('--task regression --target y --data ${{inputs.d}}', { d: { jobInputType: 'uri_file' } }),
    ).toThrow(/has no uri/);
    expect(() => parseCommand('--task regression --target y --data x --test-size 2')).toThrow(/between 0 and 1/);
  });
});

describe('jobs, data assets and models in the workspace', () => {
  let ws: LocalWorkspace;
  beforeAll(async () => {
    ws = await start();
  });
  afterAll(async () => {
    await ws.close();
    removeTempDirs();
  });

  it('fails a job with a bad command clearly and emits RunStatusChanged Failed', async () => {
    await ws.generateData({ name: 'bad-cmd-data', rows: 100 });
    const raw = rest(ws);
    await raw.arm('PUT', '/jobs/bad-cmd', {
      properties: {
        jobType: 'Command',
        command: 'python train.py --task clustering --target y --data azureml:bad-cmd-data:1',
        codeId: await trainingCode(ws),
        environmentId: 'azureml:env:1',
      },
    });
    const job = await waitFor(async () => {
      const j = await raw.arm('GET', '/jobs/bad-cmd');
      return j.body.properties.status === 'Failed' ? j.body : undefined;
    }, 'job failure');
    raw.close();
    expect(job.properties.properties).toMatchObject({ 'error.code': 'UserError' });
    expect(job.properties.properties['error.message']).toMatch(/Unknown task 'clustering'/);
    const failed = ws.events({ type: 'RunStatusChanged' }).filter((e) => e.data.RunId === 'bad-cmd');
    expect(failed.map((e) => e.data.RunStatus)).toEqual(['Running', 'Failed']);
  });

  it('trains a classifier on uploaded rows with string labels, registers a custom model from a folder, and serves labels through its scoring script', async () => {
    const ds = generateDataset({ rows: 300, seed: 11, task: 'classification' });
    const rows = ds.rows.map((r) => ({ x1: r[0]!, x2: r[1]!, x3: r[2]!, x4: r[3]!, churn: r[4] === 1 ? 'yes' : 'no' }));
    const raw = rest(ws);
    const upload = await raw.request('POST', ws.adminUrl('data/rows'), { body: { name: 'churn-rows', rows } });
    expect(upload.status).toBe(201);
    expect(upload.body.properties.dataUri).toMatch(/^azureml:\/\/datastores\/workspaceblobstore\/paths\//);
    await raw.arm('PUT', '/jobs/churn-job', {
      properties: {
        jobType: 'Command',
        command: 'python train.py --task classification --target churn',
        codeId: await trainingCode(ws),
        environmentId: 'azureml:env:1',
        inputs: { training_data: { jobInputType: 'uri_file', uri: upload.body.id, mode: 'ReadOnlyMount' } },
      },
    });
    const job = await waitFor(async () => {
      const j = await raw.arm('GET', '/jobs/churn-job');
      return ['Completed', 'Failed'].includes(j.body.properties.status) ? j.body : undefined;
    }, 'classification job');
    expect(job.properties.status).toBe('Completed');
    expect((await mlWorkspace(ws).getRunMetrics('churn-job'))?.accuracy).toBeGreaterThan(0.7);

    // A custom model can also come from a folder in the datastore (a blob container of the workspace's storage account).
    const model = JSON.stringify(
      train(
        parseCsv(
          toCsv(
            ['x1', 'x2', 'x3', 'x4', 'churn'],
            rows.map((r) => Object.values(r)),
          ),
        ),
        { task: 'classification', target: 'churn' },
      ),
    );
    await ws.storage
      .container(ws.datastoreContainer)
      .getBlockBlobClient('models/churn/model.json')
      .upload(model, model.length);
    const mv = await raw.arm('PUT', '/models/churn/versions/1', {
      properties: { modelUri: 'azureml://datastores/workspaceblobstore/paths/models/churn' },
    });
    expect(mv.status).toBe(201);
    await raw.putAndWait('/onlineEndpoints/churn-ep', { location: 'westeurope', properties: { authMode: 'Key' } });
    // A custom model needs a scoring script and an environment; the local stand-in for the script loads model.json.
    await raw.putAndWait('/onlineEndpoints/churn-ep/deployments/blue', {
      location: 'westeurope',
      properties: {
        endpointComputeType: 'Managed',
        model: 'azureml:churn:1',
        codeConfiguration: { codeId: 'azureml:churn-score:1', scoringScript: 'score.py' },
        environmentId: 'azureml:env:1',
      },
    });
    await raw.putAndWait('/onlineEndpoints/churn-ep', {
      location: 'westeurope',
      properties: { authMode: 'Key', traffic: { blue: 100 } },
    });
    const scored = await raw.score(ws.scoringUri('churn-ep'), ws.endpointKeys('churn-ep').primaryKey, {
      input_data: [
        { x1: 3, x2: -3, x3: 2, x4: 1 },
        { x1: -3, x2: 3, x3: -2, x4: -1 },
      ],
    });
    raw.close();
    expect(scored.status).toBe(200);
    expect(scored.body).toEqual(['yes', 'no']);
  });
});
