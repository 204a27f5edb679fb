/**
 * What a data scientist does by hand, against the local workspace through the official SDK: generate data,
 * train a model with a command job, register it. Used by the demo and the end-to-end tests.
 */
import { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import { createPipelineRequest } from '@azure/core-rest-pipeline';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { ensureCodeAsset, repoRoot } from '../lib/activities';
import { BlobCodeStore, DatastoreContainers } from '../lib/azure/blob-datastore';
import { StaticTokenCredential } from '../lib/azure/credential';
import { AzureMlWorkspace } from '../lib/azure/ml-workspace';
import type { CodeStore, MlWorkspace } from '../lib/ports';

/** The repo folder holding the training script the lab's jobs run (the one retraining's job spec names). */
export const TRAINING_CODE = 'jobs/code';

/** The compute cluster the local workspace offers. */
export const TRAINING_COMPUTE = 'cpu-cluster';

/**
 * A training command job as Azure runs it: the code by its code version's ARM id, the data as a typed input (by its data version's ARM id, mounted
 * read-only), the compute by its ARM id and a declared `model` output.
 */
export async function trainingJobSpec(
  workspace: MlWorkspace,
  args: {
    command: string;
    codeId: string;
    environmentId: string;
    data: { name: string; version: string };
    /** Where the job writes its model (a datastore path); default: where the job keeps it. */
    modelOutputUri?: string;
  },
): Promise<Record<string, unknown>> {
  const data = (await workspace.listDataVersions(args.data.name)).find((v) => v.version === args.data.version);
  if (!data) throw new Error(`Data asset ${args.data.name}:${args.data.version} does not exist.`);
  const compute = await workspace.getCompute(TRAINING_COMPUTE);
  if (!compute) throw new Error(`Compute ${TRAINING_COMPUTE} does not exist.`);
  return {
    jobType: 'Command',
    command: args.command,
    codeId: args.codeId,
    environmentId: args.environmentId,
    computeId: compute.id,
    inputs: { training_data: { jobInputType: data.dataType, uri: data.id, mode: 'ReadOnlyMount' } },
    outputs: {
      model: {
        jobOutputType: 'mlflow_model',
        mode: 'ReadWriteMount',
        ...(args.modelOutputUri ? { uri: args.modelOutputUri } : {}),
      },
    },
  };
}

export interface WorkspaceInfo {
  armEndpoint: string;
  caCertPath: string;
  subscriptionId: string;
  resourceGroup: string;
  workspaceName: string;
  token: string;
  storageToken: string;
  blobServiceUrl: string;
  /** The local user's token: the lab acts as a person, as one signed in with the Azure CLI would. */
  userToken?: string;
}

export interface TrainArgs {
  name: string;
  version: string;
  seed: number;
  quality?: number;
  drift?: number;
  rows?: number;
  pollMs?: number;
  /**
   * The job writes its model to the default datastore (`azureml/{job}/model/`), where the storage SDK can read it
   * back, e.g. to copy it to another workspace.
   */
  outputToDatastore?: boolean;
}

/** The parts of a command job's body that say how Azure runs it. */
export interface JobBody {
  codeId?: string | null;
  computeId?: string | null;
  inputs?: Record<string, { jobInputType: string; uri?: string; mode?: string; value?: string } | null> | null;
  outputs?: Record<string, { jobOutputType: string; mode?: string; uri?: string } | null> | null;
}

const WORKSPACE_ARM_ID =
  '^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.MachineLearningServices/workspaces/[^/]+';
const COMPUTE_ARM_ID = new RegExp(`${WORKSPACE_ARM_ID}/computes/[^/]+$`, 'i');
const CODE_ARM_ID = new RegExp(`${WORKSPACE_ARM_ID}/codes/[^/]+/versions/[^/]+$`, 'i');
const DATA_INPUT_TYPES = ['uri_file', 'uri_folder', 'mltable'];

/**
 * A training job as Azure runs it: its code as a code version's ARM id, its data as typed inputs with uri and mode, a
 * compute ARM id, a model output.
 */
export function runsAsOnAzure(job: JobBody): boolean {
  const inputs = Object.values(job.inputs ?? {}).filter((i) => i !== null);
  const data = inputs.filter((i) => DATA_INPUT_TYPES.includes(i.jobInputType));
  return (
    CODE_ARM_ID.test(job.codeId ?? '') &&
    COMPUTE_ARM_ID.test(job.computeId ?? '') &&
    data.length > 0 &&
    data.every((i) => Boolean(i.uri && i.mode)) &&
    !inputs.some((i) => i.jobInputType === 'literal' && /^azureml:/i.test(i.value ?? '')) &&
    Boolean(job.outputs?.model?.jobOutputType)
  );
}

export interface TrainedModel {
  name: string;
  version: string;
  job: string;
  /** Held-out metrics of the job, as the model version's properties. */
  properties: Record<string, string>;
}

export class Lab {
  readonly client: AzureMachineLearningWorkspaces;
  /** The production adapter: jobs go through it as Champion sends them. */
  readonly workspace: AzureMlWorkspace;
  readonly info: WorkspaceInfo;
  /** Training code goes up as Champion uploads it: to the default datastore, with a storage token. */
  readonly code: CodeStore;
  readonly #ca: string;

  constructor(workspaceJsonPath: string) {
    this.info = JSON.parse(readFileSync(workspaceJsonPath, 'utf8')) as WorkspaceInfo;
    this.#ca = readFileSync(this.info.caCertPath, 'utf8');
    const credential = new StaticTokenCredential(this.info.userToken ?? this.info.token, this.info.storageToken);
    this.client = this.#client(credential);
    this.workspace = new AzureMlWorkspace(credential, {
      subscriptionId: this.info.subscriptionId,
      resourceGroup: this.info.resourceGroup,
      workspaceName: this.info.workspaceName,
      armEndpoint: this.info.armEndpoint,
      caCert: this.#ca,
    });
    this.code = new BlobCodeStore(
      new DatastoreContainers(this.client, credential, this.info.resourceGroup, this.info.workspaceName, {
        blobServiceUrl: this.info.blobServiceUrl,
        caCert: this.#ca,
      }),
    );
  }

  /** Another workspace the same host serves (e.g. production), through the production adapter, as the local user. */
  inWorkspace(workspaceName: string): AzureMlWorkspace {
    return new AzureMlWorkspace(
      new StaticTokenCredential(this.info.userToken ?? this.info.token, this.info.storageToken),
      {
        subscriptionId: this.info.subscriptionId,
        resourceGroup: this.info.resourceGroup,
        workspaceName,
        armEndpoint: this.info.armEndpoint,
        caCert: this.#ca,
      },
    );
  }

  #client(credential: StaticTokenCredential): AzureMachineLearningWorkspaces {
    return new AzureMachineLearningWorkspaces(credential, this.info.subscriptionId, {
      endpoint: this.info.armEndpoint,
      tlsOptions: { ca: this.#ca },
    });
  }

  /** Calls the local workspace's admin surface (data generation, faults, monitor signals). */
  admin(method: string, path: string, body?: unknown): Promise<unknown> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        `${this.info.armEndpoint}/_local/${path}`,
        { method, ca: this.#ca, headers: payload ? { 'content-type': 'application/json' } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 500) >= 400)
              reject(new Error(`${method} /_local/${path}: ${res.statusCode} ${text}`));
            else resolve(text ? JSON.parse(text) : undefined);
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Trains and registers in one go; registration makes the workspace emit ModelRegistered. */
  async trainAndRegister(args: TrainArgs & { as?: string; tags?: Record<string, string> }): Promise<void> {
    await this.register(await this.train(args), { as: args.as, tags: args.tags });
  }

  /**
   * Generates training data (seeded; `quality` < 1 corrupts targets so the model is worse on purpose), trains a
   * regression model with a command job and waits for it.
   */
  async train(args: TrainArgs): Promise<TrainedModel> {
    const dataName = `${args.name}-train-v${args.version}`;
    await this.admin('POST', 'data/generate', {
      name: dataName,
      version: '1',
      rows: args.rows ?? 600,
      seed: args.seed,
      quality: args.quality ?? 1,
      drift: args.drift ?? 0,
    });
    const job = `${args.name}-train-v${args.version}-${args.seed}`;
    const code = await ensureCodeAsset({ workspace: this.workspace, code: this.code }, TRAINING_CODE, repoRoot());
    const spec = await trainingJobSpec(this.workspace, {
      command: 'python train.py --task regression --target y --data ${{inputs.training_data}}',
      codeId: code.id,
      environmentId: 'azureml:champion-train:1',
      data: { name: dataName, version: '1' },
      ...(args.outputToDatastore
        ? { modelOutputUri: `azureml://datastores/workspaceblobstore/paths/azureml/${job}/model/` }
        : {}),
    });
    await this.workspace.submitJob(job, spec);
    let status = 'NotStarted';
    let properties: Record<string, string | null> = {};
    for (let i = 0; i < 600 && !['Completed', 'Failed', 'Canceled'].includes(status); i++) {
      await new Promise((r) => setTimeout(r, args.pollMs ?? 100));
      const current = await this.workspace.getJob(job);
      status = current?.status ?? 'Unknown';
      properties = current?.properties ?? {};
    }
    if (status !== 'Completed')
      throw new Error(`Training job ${job} ended ${status}: ${properties['error.message'] ?? ''}`);
    const logged = (await this.workspace.getRunMetrics(job)) ?? {};
    const metrics = Object.fromEntries(Object.entries(logged).map(([k, v]) => [`metrics.${k}`, String(v)]));
    return { name: args.name, version: args.version, job, properties: { ...metrics, 'training.job': job } };
  }

  /**
   * Registers a trained model version with its metrics; the workspace then emits ModelRegistered. `as` signs in as
   * that user for the registration, so the version's `systemData.createdBy` names them (default the local user).
   */
  async register(model: TrainedModel, options: { as?: string; tags?: Record<string, string> } = {}): Promise<void> {
    const client = options.as ? this.#client(new StaticTokenCredential(await this.tokenFor(options.as))) : this.client;
    await client.modelVersions.createOrUpdate(
      this.info.resourceGroup,
      this.info.workspaceName,
      model.name,
      model.version,
      {
        properties: {
          modelUri: `azureml://jobs/${model.job}/outputs/model`,
          // Training wrote an MLflow model: it deploys without a scoring script or an environment.
          modelType: 'mlflow_model',
          properties: model.properties,
          tags: options.tags ?? {},
        },
      },
    );
  }

  /** A bearer token for a user of the local workspace (its stand-in for signing in to Entra ID). */
  async tokenFor(user: string): Promise<string> {
    return ((await this.admin('POST', 'tokens', { name: user })) as { token: string }).token;
  }

  /**
   * Every job of the workspace as the service keeps it, read with api-version 2023-04-01 (the typed 2022-10-01
   * client would drop the inputs' uri and mode).
   */
  async jobBodies(): Promise<{ name: string; properties: JobBody }[]> {
    const { resourceGroup: rg, workspaceName: ws, subscriptionId } = this.info;
    const names: string[] = [];
    for await (const job of this.client.jobs.list(rg, ws)) if (job.name) names.push(job.name);
    const base =
      `${this.info.armEndpoint}/subscriptions/${subscriptionId}/resourceGroups/${rg}` +
      `/providers/Microsoft.MachineLearningServices/workspaces/${ws}/jobs`;
    return Promise.all(
      names.map(async (name) => {
        const url = `${base}/${encodeURIComponent(name)}?api-version=2023-04-01`;
        const response = await this.client.sendRequest(createPipelineRequest({ url, method: 'GET' }));
        return { name, properties: (JSON.parse(response.bodyAsText ?? '{}') as { properties: JobBody }).properties };
      }),
    );
  }

  async modelStages(name: string): Promise<Record<string, string | undefined>> {
    const out: Record<string, string | undefined> = {};
    for await (const v of this.client.modelVersions.list(this.info.resourceGroup, this.info.workspaceName, name)) {
      out[v.name ?? ''] = v.properties.tags?.stage ?? undefined;
    }
    return out;
  }

  /** The type of the model each deployment of an endpoint serves (`mlflow_model` needs no scoring script). */
  async deployedModelTypes(endpoint: string): Promise<Record<string, string | undefined>> {
    const { resourceGroup: rg, workspaceName: ws } = this.info;
    const out: Record<string, string | undefined> = {};
    for await (const d of this.client.onlineDeployments.list(rg, ws, endpoint)) {
      const model = /\/models\/([^/]+)\/versions\/([^/]+)$/i.exec(d.properties.model ?? '');
      const version = model ? await this.client.modelVersions.get(rg, ws, model[1]!, model[2]!) : undefined;
      out[d.name ?? ''] = version?.properties.modelType ?? undefined;
    }
    return out;
  }

  /**
   * Scores rows through the endpoint as a client does (its key, no deployment header): the answer, and which deployment
   * gave it (the `azureml-model-deployment` response header).
   */
  async score(endpoint: string, rows: unknown[][]): Promise<{ status: number; deployment?: string; body: unknown }> {
    const { resourceGroup: rg, workspaceName: ws } = this.info;
    const [ep, keys] = await Promise.all([
      this.client.onlineEndpoints.get(rg, ws, endpoint),
      this.client.onlineEndpoints.listKeys(rg, ws, endpoint),
    ]);
    const payload = JSON.stringify({ input_data: rows });
    return new Promise((resolve, reject) => {
      const req = https.request(
        ep.properties.scoringUri!,
        {
          method: 'POST',
          ca: this.#ca,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.primaryKey}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const deployment = res.headers['azureml-model-deployment'];
            let body: unknown = text;
            try {
              body = JSON.parse(text);
            } catch {
              // Not JSON: kept as text.
            }
            resolve({
              status: res.statusCode ?? 0,
              ...(typeof deployment === 'string' ? { deployment } : {}),
              body,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * Live clients of an endpoint, as production traffic: one request after another (its key, no deployment header)
   * until stopped, counted by the deployment that answered, server errors apart.
   */
  async clients(endpoint: string, options: { pauseMs?: number } = {}): Promise<LiveClients> {
    const { resourceGroup: rg, workspaceName: ws } = this.info;
    const [ep, keys] = await Promise.all([
      this.client.onlineEndpoints.get(rg, ws, endpoint),
      this.client.onlineEndpoints.listKeys(rg, ws, endpoint),
    ]);
    const agent = new https.Agent({ keepAlive: true, ca: this.#ca });
    const answered: Record<string, { ok: number; serverErrors: number }> = {};
    const send = (i: number) =>
      new Promise<void>((resolve) => {
        const req = https.request(
          ep.properties.scoringUri!,
          {
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.primaryKey}` },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              const counts = (answered[String(res.headers['azureml-model-deployment'] ?? 'none')] ??= {
                ok: 0,
                serverErrors: 0,
              });
              if ((res.statusCode ?? 500) >= 500) counts.serverErrors++;
              else counts.ok++;
              resolve();
            });
          },
        );
        req.on('error', () => resolve());
        req.end(JSON.stringify({ input_data: [[i % 7, 1, 2, 3]] }));
      });
    let running = true;
    const loop = (async () => {
      for (let i = 0; running; i++) {
        await send(i);
        await new Promise((r) => setTimeout(r, options.pauseMs ?? 10));
      }
    })();
    return {
      answered,
      async stop() {
        running = false;
        await loop;
        agent.destroy();
        return answered;
      },
    };
  }
}

/** Clients started by Lab.clients: what they were answered so far, and how to stop them. */
export interface LiveClients {
  readonly answered: Readonly<Record<string, { ok: number; serverErrors: number }>>;
  stop(): Promise<Record<string, { ok: number; serverErrors: number }>>;
}
