import type { AzureMachineLearningWorkspaces, OnlineDeployment } from '@azure/arm-machinelearning';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalWorkspace } from '../../local/workspace/index';
import { formatMlmodel, MLMODEL_FILE, parseMlmodel } from '../../local/workspace/mlmodel';
import { deploymentBody, endpointBody, LRO, removeTempDirs, rest, sdk, start, trainAndRegister } from './helpers';

let ws: LocalWorkspace;
let client: AzureMachineLearningWorkspaces;
let mlflowModelId: string;
const EP = 'models-ep';

beforeAll(async () => {
  ws = await start();
  client = sdk(ws);
  ({ modelId: mlflowModelId } = await trainAndRegister(ws, client, {
    job: 'mlflow-train',
    model: 'flow',
    version: '1',
  }));
  await client.onlineEndpoints.beginCreateOrUpdateAndWait(
    ws.resourceGroup,
    ws.workspaceName,
    EP,
    endpointBody(ws.location),
    LRO,
  );
}, 60_000);

afterAll(async () => {
  await ws.close();
  removeTempDirs();
});

/** Registers the output of the job `mlflow-train` again under another name and type. */
async function register(name: string, modelType?: string): Promise<string> {
  const mv = await client.modelVersions.createOrUpdate(ws.resourceGroup, ws.workspaceName, name, '1', {
    properties: { modelUri: 'azureml://jobs/mlflow-train/outputs/model', ...(modelType ? { modelType } : {}) },
  });
  return mv.id!;
}

function deploy(name: string, body: OnlineDeployment) {
  return client.onlineDeployments.beginCreateOrUpdateAndWait(ws.resourceGroup, ws.workspaceName, EP, name, body, LRO);
}

describe('MLflow models written by training', () => {
  it('writes an MLmodel with a python_function flavor and a signature of named, typed columns', () => {
    const dir = join(ws.dataDir, 'models', 'flow', '1');
    const text = readFileSync(join(dir, MLMODEL_FILE), 'utf8');
    expect(text).toContain(
      `  inputs: '[{"type": "double", "name": "x1", "required": true}, {"type": "double", "name": "x2", "required": true}`,
    );
    const model = parseMlmodel(text);
    expect(model.flavors.python_function).toMatchObject({ data: 'model.json' });
    expect(existsSync(join(dir, 'model.json'))).toBe(true);
    expect(model.signature?.inputs.map((c) => c.name)).toEqual(['x1', 'x2', 'x3', 'x4']);
    expect(model.signature?.outputs).toEqual([{ type: 'double', required: true }]);
    expect(model.run_id).toBe('mlflow-train');
    expect(parseMlmodel(formatMlmodel(model))).toEqual(model);
  });

  it('reads an MLmodel as MLflow writes it: sorted keys, nulls, and a signature folded over several lines', () => {
    const text = [
      'artifact_path: model',
      'flavors:',
      '  python_function:',
      '    env:',
      '      conda: conda.yaml',
      '      virtualenv: python_env.yaml',
      '    loader_module: mlflow.sklearn',
      '    model_path: model.pkl',
      '    predict_fn: predict',
      '    python_version: 3.10.12',
      '  sklearn:',
      '    code: null',
      '    pickled_model: model.pkl',
      '    serialization_format: cloudpickle',
      '    sklearn_version: 1.3.2',
      'mlflow_version: 2.9.2',
      'model_uuid: 4d1fcb4ba0a64b6d8e7c6a3f0f2e5d11',
      'run_id: 0c3b6a7e-1f5e-4b0a-9d55-2a4d3c1b7e90',
      'signature:',
      `  inputs: '[{"type": "double", "name": "fixed acidity", "required": true}, {"type":`,
      `    "string", "name": "it''s a colour", "required": true}]'`,
      `  outputs: '[{"type": "long", "required": true}]'`,
      '  params: null',
      "utc_time_created: '2024-01-15 10:20:30.123456'",
      '',
    ].join('\n');
    const model = parseMlmodel(text);
    expect(model.flavors.python_function).toMatchObject({
      loader_module: 'mlflow.sklearn',
      env: { conda: 'conda.yaml' },
    });
    expect(model.flavors.sklearn).toMatchObject({ code: null, sklearn_version: '1.3.2' });
    expect(model.signature?.inputs).toEqual([
      { type: 'double', name: 'fixed acidity', required: true },
      { type: 'string', name: "it's a colour", required: true },
    ]);
    expect(model.signature?.outputs).toEqual([{ type: 'long', required: true }]);
    expect(model.utc_time_created).toBe('2024-01-15 10:20:30.123456');
  });
});

describe('deployable models (Guidelines for deploying MLflow models)', () => {
  it('deploys an mlflow_model without a scoring script or an environment, and scores by its signature columns', async () => {
    const deployment = await deploy('flow', deploymentBody(ws.location, mlflowModelId));
    expect(deployment.properties.provisioningState).toBe('Succeeded');
    expect(deployment.properties.codeConfiguration ?? undefined).toBeUndefined();
    expect(deployment.properties.environmentId ?? undefined).toBeUndefined();
    const logs = await client.onlineDeployments.getLogs(ws.resourceGroup, ws.workspaceName, EP, 'flow', {});
    expect(logs.content).toContain('signature x1: double, x2: double, x3: double, x4: double');

    const raw = rest(ws);
    const key = ws.endpointKeys(EP).primaryKey;
    const score = (columns: string[]) =>
      raw.score(
        ws.scoringUri(EP),
        key,
        { input_data: { columns, data: [[0.1, -0.2, 0.3, 0.5]] } },
        { 'azureml-model-deployment': 'flow' },
      );
    const named = await score(['x4', 'x3', 'x2', 'x1']);
    const ordered = await score(['x1', 'x2', 'x3', 'x4']);
    const invented = await score(['f1', 'f2', 'f3', 'f4']);
    raw.close();
    expect(named.status).toBe(200);
    expect(ordered.status).toBe(200);
    expect(named.body).not.toEqual(ordered.body);
    expect(invented.status).toBe(400);
    expect(invented.body.error.message).toContain('x1, x2, x3, x4');
  });

  // Azure/azure-cli-extensions#5583, Azure/azure-sdk-for-python#35387: 400 BadRequest, detail MissingDriverProgram.
  it.each([
    ['registered without a type', undefined],
    ['registered as custom_model', 'custom_model'],
  ])('refuses a model %s without a scoring script: 400 BadRequest, MissingDriverProgram', async (_, modelType) => {
    const modelId = await register(`custom-${modelType ?? 'default'}`, modelType);
    const error = (await deploy('custom', deploymentBody(ws.location, modelId)).catch((e: unknown) => e)) as {
      statusCode: number;
      code: string;
      message: string;
      response: { parsedBody: { error: { details: { code: string; message: string }[] } } };
    };
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('BadRequest');
    expect(error.message).toBe('The request is invalid.');
    expect(error.response.parsedBody.error.details).toEqual([
      { code: 'MissingDriverProgram', message: 'Could not find driver program in the request.' },
    ]);
    const list = client.onlineDeployments.list(ws.resourceGroup, ws.workspaceName, EP);
    const names: string[] = [];
    for await (const d of list) names.push(d.name!);
    expect(names).not.toContain('custom');
  });

  it('refuses a custom model with a scoring script but no environment, naming environmentId', async () => {
    const modelId = await register('custom-no-env', 'custom_model');
    const body = deploymentBody(ws.location, modelId);
    const error = (await deploy('custom', {
      ...body,
      properties: { ...body.properties, codeConfiguration: { codeId: 'azureml:score:1', scoringScript: 'score.py' } },
    }).catch((e: unknown) => e)) as { statusCode: number; code: string; response: { parsedBody: unknown } };
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('BadRequest');
    expect(JSON.stringify(error.response.parsedBody)).toContain('environmentId');
  });

  it('deploys a custom model with a scoring script and an environment', async () => {
    const modelId = await register('custom-scored', 'custom_model');
    const body = deploymentBody(ws.location, modelId);
    const deployment = await deploy('scored', {
      ...body,
      properties: {
        ...body.properties,
        codeConfiguration: { codeId: 'azureml:score:1', scoringScript: 'score.py' },
        environmentId: 'azureml:score-env:1',
      },
    });
    expect(deployment.properties.provisioningState).toBe('Succeeded');
    expect(deployment.properties.codeConfiguration).toEqual({ codeId: 'azureml:score:1', scoringScript: 'score.py' });
  });
});
