/**
 * The registry adapter's create of a model version when ARM answers it as a long-running operation (the spec marks
 * registry version creates long-running; the local registry answers at once): it follows Azure-AsyncOperation to the
 * end, honouring Retry-After, reports a failed operation with its error, and never sends its ARM token elsewhere.
 * Scripted pipeline answers stand in for ARM.
 */
import { createHttpHeaders, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import type { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import { describe, expect, it } from 'vitest';
import { AzureMlRegistry } from '../../lib/azure/ml-registry';

const ARM = 'https://management.example';
const REGISTRY =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/registries/shared';
const OPERATION = `${ARM}/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.MachineLearningServices/locations/westeurope/registryOperations/op1`;
const VERSION = {
  name: 'forecast',
  version: '3',
  modelUri: 'https://blob/pending/3',
  modelType: 'mlflow_model' as const,
  tags: { 'champion.source.version': 'forecast:3' },
  properties: { mse: '0.2' },
};

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };

/** A pipeline that answers each request with the next scripted answer for its method and path, recording them. */
function scripted(answers: Record<string, Answer[]>) {
  const sent: string[] = [];
  const client = {
    sendRequest: async (request: PipelineRequest): Promise<PipelineResponse> => {
      const url = new URL(request.url);
      const key = `${request.method} ${url.origin}${url.pathname}`;
      sent.push(key);
      const answer = answers[key]?.shift();
      if (!answer) throw new Error(`unscripted: ${key}`);
      return {
        request,
        status: answer.status,
        headers: createHttpHeaders(answer.headers ?? {}),
        bodyAsText: answer.body === undefined ? '' : JSON.stringify(answer.body),
      };
    },
  } as unknown as AzureMachineLearningWorkspaces;
  return { client, sent };
}

const versionUrl = `PUT ${ARM}${REGISTRY}/models/forecast/versions/3`;
const created = {
  id: `${REGISTRY}/models/forecast/versions/3`,
  name: '3',
  properties: {
    modelUri: VERSION.modelUri,
    modelType: 'mlflow_model',
    tags: VERSION.tags,
    properties: VERSION.properties,
  },
};

describe('creating a registry model version as a long-running operation', () => {
  it('follows Azure-AsyncOperation until it succeeds, then answers the version as the registry has it', async () => {
    const { client, sent } = scripted({
      [versionUrl]: [{ status: 201, body: created, headers: { 'azure-asyncoperation': OPERATION } }],
      [`GET ${OPERATION}`]: [
        { status: 200, body: { status: 'InProgress' }, headers: { 'retry-after': '0' } },
        { status: 202 },
        { status: 200, body: { status: 'Succeeded' } },
      ],
      [`GET ${ARM}${REGISTRY}/models/forecast/versions/3`]: [{ status: 200, body: created }],
    });
    const registry = new AzureMlRegistry(client, REGISTRY, { armEndpoint: ARM, pollMs: 1 });
    const version = await registry.createModelVersion(VERSION);
    expect(version).toMatchObject({
      version: '3',
      assetUri: 'azureml://registries/shared/models/forecast/versions/3',
      modelType: 'mlflow_model',
      tags: VERSION.tags,
    });
    expect(sent.filter((s) => s === `GET ${OPERATION}`)).toHaveLength(3);
  });

  it('reports an operation that failed, with its error, and reads no version', async () => {
    const { client, sent } = scripted({
      [versionUrl]: [{ status: 202, headers: { location: OPERATION } }],
      [`GET ${OPERATION}`]: [
        { status: 200, body: { status: 'Failed', error: { code: 'UserError', message: 'modelUri is not readable' } } },
      ],
    });
    const registry = new AzureMlRegistry(client, REGISTRY, { armEndpoint: ARM, pollMs: 1 });
    await expect(registry.createModelVersion(VERSION)).rejects.toThrow(
      `Creating the model version in ${REGISTRY} Failed: modelUri is not readable`,
    );
    expect(sent.some((s) => s.startsWith('GET') && s.includes('/models/'))).toBe(false);
  });

  it('does not poll an operation URL off the ARM endpoint (the pipeline would send it the ARM token)', async () => {
    const elsewhere = 'https://attacker.example/operations/1';
    const { client, sent } = scripted({
      [versionUrl]: [{ status: 201, body: created, headers: { 'azure-asyncoperation': elsewhere } }],
    });
    const registry = new AzureMlRegistry(client, REGISTRY, { armEndpoint: ARM, pollMs: 1 });
    await expect(registry.createModelVersion(VERSION)).rejects.toThrow(/is not on the ARM endpoint .*; not polled/);
    expect(sent).toEqual([versionUrl]);
  });

  it('gives up at its deadline rather than polling forever', async () => {
    const { client } = scripted({
      [versionUrl]: [{ status: 202, headers: { 'azure-asyncoperation': OPERATION } }],
      [`GET ${OPERATION}`]: Array.from({ length: 50 }, () => ({ status: 202 })),
    });
    const registry = new AzureMlRegistry(client, REGISTRY, { armEndpoint: ARM, pollMs: 5, deadlineMs: 20 });
    await expect(registry.createModelVersion(VERSION)).rejects.toThrow('did not end in time');
  });
});
