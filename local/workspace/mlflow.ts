/**
 * The MLflow tracking subset Azure ML serves for a workspace, where a job's metrics live (not in the job resource).
 * Sources: the workspace's `mlFlowTrackingUri` is `azureml://{region}.api.azureml.ms/mlflow/v1.0{workspace id}`, and
 * REST clients call it over https with an ARM token (audience https://management.azure.com) under `/api/2.0/mlflow`
 * (azureml-examples sdk/python/using-mlflow/using-rest-api/using_mlflow_rest_api.ipynb); a job's MLflow run id is the
 * job name (the `RunId` Azure ML's run events carry); shapes and error codes follow the MLflow REST API reference
 * (runs/get returns each metric's latest value at its largest step, metrics/get-history every value;
 * `RESOURCE_DOES_NOT_EXIST`, `INVALID_PARAMETER_VALUE`).
 */

export const MLFLOW_PREFIX = '/mlflow/v1.0';
const API = '/api/2.0/mlflow';

export interface MlflowMetric {
  key: string;
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  step: number;
}

/** What the workspace knows of a job, as its MLflow run. */
export interface MlflowRunSource {
  name: string;
  status: string;
  experimentName: string;
  tags: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  metrics: MlflowMetric[];
}

export interface MlflowReply {
  status: number;
  body: unknown;
}

/** Azure ML job status → MLflow RunStatus. */
function runStatus(status: string): string {
  if (status === 'Completed') return 'FINISHED';
  if (status === 'Failed' || status === 'NotResponding') return 'FAILED';
  if (status === 'Canceled' || status === 'CancelRequested') return 'KILLED';
  if (status === 'Running' || status === 'Finalizing') return 'RUNNING';
  return 'SCHEDULED';
}

const error = (status: number, code: string, message: string): MlflowReply => ({
  status,
  body: { error_code: code, message },
});

/**
 * Answers `GET {prefix}{workspace id}/api/2.0/mlflow/runs/get?run_id=` and `.../metrics/get-history?run_id=&metric_key=`.
 * `workspaceId` is this workspace's ARM id; `experimentId` turns an experiment name into its id.
 */
export function mlflowReply(
  method: string,
  url: URL,
  workspaceId: string,
  run: (id: string) => MlflowRunSource | undefined,
  experimentId: (name: string) => string,
): MlflowReply {
  const base = `${MLFLOW_PREFIX}${workspaceId}${API}/`.toLowerCase();
  const path = url.pathname.toLowerCase();
  if (!path.startsWith(base)) {
    return error(404, 'ENDPOINT_NOT_FOUND', `No MLflow tracking API is served at '${url.pathname}'.`);
  }
  const op = path.slice(base.length);
  if (op !== 'runs/get' && op !== 'metrics/get-history') {
    return error(
      404,
      'ENDPOINT_NOT_FOUND',
      `The local workspace serves runs/get and metrics/get-history, not '${op}'.`,
    );
  }
  if (method !== 'GET') return error(405, 'INVALID_PARAMETER_VALUE', `${op} is a GET.`);
  const runId = url.searchParams.get('run_id') ?? url.searchParams.get('run_uuid');
  if (!runId) return error(400, 'INVALID_PARAMETER_VALUE', "Missing value for required parameter 'run_id'.");
  const source = run(runId);
  if (!source) return error(404, 'RESOURCE_DOES_NOT_EXIST', `Run '${runId}' not found.`);
  if (op === 'metrics/get-history') {
    const key = url.searchParams.get('metric_key');
    if (!key) return error(400, 'INVALID_PARAMETER_VALUE', "Missing value for required parameter 'metric_key'.");
    return { status: 200, body: { metrics: source.metrics.filter((m) => m.key === key) } };
  }
  const latest = new Map<string, MlflowMetric>();
  for (const m of source.metrics) {
    const seen = latest.get(m.key);
    if (!seen || m.step > seen.step || (m.step === seen.step && m.timestamp >= seen.timestamp)) latest.set(m.key, m);
  }
  const status = runStatus(source.status);
  const finished = status === 'FINISHED' || status === 'FAILED' || status === 'KILLED';
  return {
    status: 200,
    body: {
      run: {
        info: {
          run_id: source.name,
          run_uuid: source.name,
          run_name: source.name,
          experiment_id: experimentId(source.experimentName),
          user_id: 'local-user',
          status,
          start_time: source.createdAt,
          ...(finished ? { end_time: source.updatedAt } : {}),
          artifact_uri: `azureml://experiments/${source.experimentName}/runs/${source.name}/artifacts`,
          lifecycle_stage: 'active',
        },
        data: {
          metrics: [...latest.values()],
          tags: Object.entries(source.tags).map(([key, value]) => ({ key, value })),
        },
      },
    },
  };
}
