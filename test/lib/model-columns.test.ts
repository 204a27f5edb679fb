/**
 * The smoke test and the evaluation send the model's own input columns: a model trained on `rooms, area, age,
 * floor` (not x1..x4) is served by the local workspace under its MLflow signature, which refuses any other names.
 * Rows given as arrays take their names from the evaluation data asset (its columns but the label); rows given as
 * objects name their columns themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestRow, type ActivityHandlers } from '../../lib/activities';
import { parsePolicies, type Policy } from '../../lib/domain/policy';
import type { LocalWorkspace } from '../../local/workspace/index';
import { EndpointScoring } from '../../lib/azure/scoring';
import {
  dataReader,
  mlWorkspace,
  removeTempDirs,
  sdk,
  start,
  trainAndRegister,
  waitFor,
  workspaceActivities,
} from '../workspace/helpers';

const EP = 'houses-ep';
const COLUMNS = ['rooms', 'area', 'age', 'floor', 'price'];
const evaluation = { dataAsset: { name: 'houses-eval', version: '1' }, labelColumn: 'price' };

describe('requestRow', () => {
  const data = { name: 'houses-eval:1', columns: ['rooms', 'area'] };

  it('names an array row by the evaluation data and an object row by its keys', () => {
    expect(requestRow([3, 80], data)).toEqual({ columns: ['rooms', 'area'], rows: [[3, 80]] });
    expect(requestRow({ area: 80, rooms: 3 }, undefined)).toEqual({ columns: ['area', 'rooms'], rows: [[80, 3]] });
  });

  it.each([
    [[3, 80], undefined, 'has no column names'],
    [[3], data, 'has 1 value(s); the evaluation data houses-eval:1 has 2 input column(s) (rooms, area)'],
    [[3, [80]], data, 'values must be numbers, strings, booleans or null'],
    [{}, data, 'must name at least one column'],
    [3, data, 'must be an object {"column": value} or an array'],
  ])('refuses %j (%j) saying why', (row, source, message) => {
    expect(requestRow(row, source)).toContain(message);
  });
});

describe('columns of the smoke test and the evaluation, against the local workspace', () => {
  let ws: LocalWorkspace;
  let activities: ActivityHandlers;
  let policy: Policy;
  const smokeTest = (sampleRows: unknown[], withEvaluation = true) =>
    activities.testDeployment({
      endpointName: EP,
      slot: 'blue',
      testSpec: { sampleRows, latencyBudgetMs: 60_000 },
      ...(withEvaluation ? { evaluation } : {}),
    });

  beforeAll(async () => {
    ws = await start();
    const client = sdk(ws);
    const reader = dataReader(ws);
    activities = workspaceActivities(mlWorkspace(ws), {
      scoring: new EndpointScoring({ caCert: ws.caCert }),
      data: reader,
    });
    await trainAndRegister(ws, client, { job: 'houses-train', model: 'houses', version: '1', columns: COLUMNS });
    await ws.uploadData({
      name: 'houses-eval',
      version: '1',
      table: { ...ws.sampleRows({ rows: 200, seed: 9 }), columns: COLUMNS },
    });
    policy = parsePolicies({
      policies: [
        {
          modelName: 'houses',
          endpointName: EP,
          task: 'regression',
          evaluation,
          rollout: { instanceType: 'Standard_DS3_v2', testSpec: { sampleRows: [[1, 2, 3, 4]] } },
        },
      ],
    }).houses!;
    const endpoint = await activities.beginCreateEndpoint({ endpointName: EP, modelName: 'houses' });
    await waitFor(async () => {
      if (!endpoint.ok) throw new Error(endpoint.message);
      return (await activities.checkProvisioning({ endpointName: EP })).state === 'Succeeded';
    }, 'the endpoint');
    const deployed = await activities.beginDeploy({
      endpointName: EP,
      slot: 'blue',
      modelName: 'houses',
      modelVersion: '1',
      instanceType: 'Standard_DS3_v2',
      instanceCount: 1,
      promotionId: 'promote:houses:1',
    });
    await waitFor(async () => {
      if (!deployed.ok) throw new Error(deployed.message);
      const check = await activities.checkProvisioning({
        endpointName: EP,
        slot: 'blue',
        operationUrl: deployed.operationUrl,
      });
      return check.state === 'Succeeded';
    }, 'the deployment');
  }, 90_000);

  afterAll(async () => {
    await ws.close();
    removeTempDirs();
  });

  it('sends array rows under the evaluation data’s column names, which the model’s signature accepts', async () => {
    expect(await smokeTest([[1, 2, 3, 4]])).toMatchObject({ ok: true, requests: 1, failures: [] });
  });

  it('sends object rows under their own names, in any order', async () => {
    const report = await smokeTest([{ floor: 4, age: 3, area: 2, rooms: 1 }], false);
    expect(report).toMatchObject({ ok: true, requests: 1, failures: [] });
  });

  it('fails rows it cannot name instead of inventing names, and names the model refuses', async () => {
    const unnamed = await smokeTest([[1, 2, 3, 4]], false);
    expect(unnamed.ok).toBe(false);
    expect(unnamed.failures[0]).toContain('has no column names');
    const short = await smokeTest([[1, 2, 3]]);
    expect(short.failures[0]).toContain('(rooms, area, age, floor)');
    const invented = await smokeTest([{ x1: 1, x2: 2, x3: 3, x4: 4 }], false);
    expect(invented.ok).toBe(false);
    expect(invented.failures[0]).toContain('rooms');
  });

  it('evaluates on the evaluation data under its own column names', async () => {
    const evidence = await activities.evaluateChallenger({
      policy,
      endpointName: EP,
      championSlot: null,
      challengerSlot: 'blue',
    });
    expect(evidence).toMatchObject({ kind: 'paired', n: 200 });
  });
});
