import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../lib/activities';
import { WorkspaceRestClient } from './client';
import { startWorkspace, type LocalWorkspace, type WorkspaceOptions } from './index';

/**
 * Registers the repo's training script (jobs/code/train.py, what `python train.py` commands run) as a code version
 * of the workspace, once; returns its ARM id for a job's `codeId`.
 */
export async function uploadTrainingCode(ws: LocalWorkspace): Promise<string> {
  const script = readFileSync(join(repoRoot(), 'jobs/code/train.py'), 'utf8');
  return (await ws.uploadCode({ name: 'local-train', version: '1', files: { 'train.py': script } })).id;
}

export interface ScoringFixture {
  ws: LocalWorkspace;
  client: WorkspaceRestClient;
  endpoint: string;
  scoringUri: string;
  /** Same endpoint over plain http (ws.scoringHttpEndpoint); set when `plainHttpScoring` was asked for. */
  plainScoringUri?: string;
  /** Primary key of the endpoint: send `Authorization: Bearer <key>`. */
  key: string;
  caCert: string;
  /** Feature columns the deployed models expect, in order. */
  features: string[];
  /** A request body the endpoint accepts. */
  sampleBody: { input_data: { columns: string[]; data: number[][] } };
  close(): Promise<void>;
}

export interface ScoringFixtureOptions {
  /** Default: a fresh temp directory, removed on close. */
  dataDir?: string;
  endpoint?: string;
  /** Default { blue: 90, green: 10 }. Deployment names come from these keys (and mirrorTraffic's). */
  traffic?: Record<string, number>;
  /** Needs a deployment that has no live traffic, e.g. traffic {blue: 100, green: 0}, mirror {green: 10}. */
  mirrorTraffic?: Record<string, number>;
  /** Rows per scoring request in sampleBody; default 1. */
  rowsPerRequest?: number;
  /** Also open the plain-http scoring listener (ephemeral port). */
  plainHttpScoring?: boolean;
  workspace?: Partial<WorkspaceOptions>;
}

/**
 * A started workspace with a Key-auth endpoint whose deployments serve trained models (one model per deployment,
 * trained on differently drifted data) at the given split. Built for benchmarks and demos.
 */
export async function startScoringFixture(opts: ScoringFixtureOptions = {}): Promise<ScoringFixture> {
  const owned = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'champion-ws-'));
  const ws = await startWorkspace({
    dataDir,
    provisioningMs: 50,
    retryAfterSeconds: 0,
    jobMs: 50,
    ...(opts.plainHttpScoring ? { scoringHttpPort: 0 } : {}),
    ...opts.workspace,
  });
  const client = new WorkspaceRestClient(ws);
  const close = async (): Promise<void> => {
    client.close();
    await ws.close();
    if (owned) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const endpoint = opts.endpoint ?? 'fixture-ep';
    const traffic = opts.traffic ?? { blue: 90, green: 10 };
    const mirror = opts.mirrorTraffic ?? {};
    const names = [...new Set([...Object.keys(traffic), ...Object.keys(mirror)])];
    const models: string[] = [];
    const codeId = await uploadTrainingCode(ws);
    for (const [i, name] of names.entries()) {
      await ws.generateData({ name: `fixture-data-${name}`, rows: 400, seed: i + 1, drift: i * 0.3 });
      const job = `fixture-train-${name}-${Date.now().toString(36)}`;
      await client.arm('PUT', `/jobs/${job}`, {
        properties: {
          jobType: 'Command',
          command: `python train.py --task regression --target y --data azureml:fixture-data-${name}@latest`,
          codeId,
          environmentId: 'azureml:local-sklearn:1',
          computeId: `${client.workspacePath}/computes/cpu-cluster`,
          outputs: { model: { jobOutputType: 'mlflow_model', mode: 'ReadWriteMount' } },
        },
      });
      const until = Date.now() + 30_000;
      for (;;) {
        const r = await client.arm('GET', `/jobs/${job}`);
        const status = r.body?.properties?.status;
        if (status === 'Completed') break;
        if (status === 'Failed' || Date.now() > until) throw new Error(`fixture training ${job} ended ${status}`);
        await new Promise((res) => setTimeout(res, 20));
      }
      const version = String(i + 1);
      const mv = await client.arm('PUT', `/models/fixture-model/versions/${version}`, {
        properties: { modelUri: `azureml://jobs/${job}/outputs/model`, modelType: 'mlflow_model' },
      });
      if (mv.status >= 300) throw new Error(`fixture model registration failed: ${mv.text}`);
      models.push(mv.body.id);
    }
    const location = ws.location;
    await client.putAndWait(`/onlineEndpoints/${endpoint}`, {
      location,
      identity: { type: 'SystemAssigned' },
      properties: { authMode: 'Key' },
    });
    for (const [i, name] of names.entries()) {
      await client.putAndWait(`/onlineEndpoints/${endpoint}/deployments/${name}`, {
        location,
        sku: { name: 'Default', capacity: 1 },
        properties: { endpointComputeType: 'Managed', model: models[i], instanceType: 'Standard_DS3_v2' },
      });
    }
    const mirrorApi = Object.keys(mirror).length > 0 ? '2023-04-01' : undefined;
    await client.putAndWait(
      `/onlineEndpoints/${endpoint}`,
      {
        location,
        identity: { type: 'SystemAssigned' },
        properties: { authMode: 'Key', traffic, ...(mirrorApi ? { mirrorTraffic: mirror } : {}) },
      },
      mirrorApi,
    );
    const keys = await client.arm('POST', `/onlineEndpoints/${endpoint}/listKeys`);
    const features = ['x1', 'x2', 'x3', 'x4'];
    const rows = ws.sampleRows({ rows: opts.rowsPerRequest ?? 1, seed: 7, omitTarget: true }).rows;
    return {
      ws,
      client,
      endpoint,
      scoringUri: ws.scoringUri(endpoint),
      ...(ws.scoringHttpEndpoint ? { plainScoringUri: `${ws.scoringHttpEndpoint}/endpoints/${endpoint}/score` } : {}),
      key: keys.body.primaryKey,
      caCert: ws.caCert,
      features,
      sampleBody: { input_data: { columns: features, data: rows } },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
