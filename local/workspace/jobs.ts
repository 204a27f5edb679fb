/**
 * What Azure ML requires of a command job's body before it runs it, and the compute the local workspace offers.
 * Sources (local/workspace/README.md lists them with each rule):
 * - REST spec Microsoft.MachineLearningServices stable/2023-04-01 mfe.json: `JobBase.computeId` is the "ARM resource
 *   ID of the compute resource"; `AssetJobInput.uri` is "[Required] Input Asset URI" and `mode` an
 *   `InputDeliveryMode`; `LiteralJobInput.value` is a literal string handed to the command as it is.
 * - Azure/azureml-previews#131: `azureml:NAME` compute references are resolved by the CLI into the ARM id before the
 *   job is sent; the service itself is addressed with the ARM id (quickstart template
 *   machine-learning-job-create-or-update-job builds it with `resourceId(.../computes, ws, name)`).
 */
import { userError } from './http';
import { parseUri } from './uris';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- job bodies are free-form ARM JSON
type Json = any;

/** The compute clusters the local workspace has: the one a job can name. */
export const LOCAL_COMPUTES = ['cpu-cluster'];

/** `InputDeliveryMode` of the 2023-04-01 specification. */
export const INPUT_DELIVERY_MODES = [
  'ReadOnlyMount',
  'ReadWriteMount',
  'Download',
  'Direct',
  'EvalMount',
  'EvalDownload',
];
/** `OutputDeliveryMode` of the 2022-10-01 specification. */
export const OUTPUT_DELIVERY_MODES = ['ReadWriteMount', 'Upload'];

const DATA_INPUT_TYPES = new Set(['uri_file', 'uri_folder', 'mltable']);

/** An AmlCompute cluster as `computes/{name}` GET answers (shape of examples/Compute/get/AmlCompute.json). */
export function computeBody(workspaceId: string, name: string, location: string): Json {
  return {
    id: `${workspaceId}/computes/${name}`,
    name,
    type: 'Microsoft.MachineLearningServices/workspaces/computes',
    location,
    properties: {
      computeType: 'AmlCompute',
      computeLocation: location,
      provisioningState: 'Succeeded',
      description: 'Local training cluster: command jobs run in the workspace process.',
      isAttachedCompute: false,
      disableLocalAuth: true,
      properties: {
        vmSize: 'STANDARD_DS3_V2',
        vmPriority: 'Dedicated',
        osType: 'Linux',
        scaleSettings: { maxNodeCount: 1, minNodeCount: 0, nodeIdleTimeBeforeScaleDown: 'PT120S' },
        allocationState: 'Steady',
        currentNodeCount: 0,
        targetNodeCount: 0,
      },
    },
  };
}

/** The compute a job's `computeId` names, or a 400 naming the field when it is not a compute of this workspace. */
export function checkComputeId(computeId: string, workspaceId: string): string {
  const prefix = `${workspaceId}/computes/`.toLowerCase();
  const name = computeId.toLowerCase().startsWith(prefix) ? computeId.slice(prefix.length) : undefined;
  if (!name || name.includes('/')) {
    throw userError(
      `computeId '${computeId}' is not the ARM resource id of a compute: expected ${workspaceId}/computes/{name}. ` +
        `A short name such as 'azureml:cpu-cluster' is resolved by clients, not by the service.`,
      'properties.computeId',
    );
  }
  const known = LOCAL_COMPUTES.find((c) => c.toLowerCase() === name.toLowerCase());
  if (!known) {
    throw userError(
      `Compute '${name}' was not found in workspace ${workspaceId.split('/').at(-1)}; computes: ${LOCAL_COMPUTES.join(', ')}.`,
      'properties.computeId',
    );
  }
  return known;
}

/**
 * Inputs as Azure runs them: a data input carries `uri` (and a known `mode`), and a literal is text. A literal whose
 * value names data (`azureml:NAME:VERSION`, a datastore path, a job output, a data version id) would reach the
 * command as that text with nothing mounted, so it is refused here with the field named.
 */
export function checkJobInputs(inputs: Record<string, Json> | null | undefined): void {
  for (const [name, input] of Object.entries(inputs ?? {})) {
    if (!input) continue;
    const target = `properties.inputs.${name}`;
    if (input.jobInputType === 'literal') {
      const kind = typeof input.value === 'string' ? parseUri(input.value).kind : 'remote';
      if (kind === 'dataAsset' || kind === 'datastore' || kind === 'jobOutput') {
        throw userError(
          `Input '${name}' is a literal whose value '${input.value}' names data: a literal is passed to the command ` +
            `as text and nothing is mounted. Declare it as uri_file, uri_folder or mltable with 'uri' and 'mode'.`,
          target,
        );
      }
      continue;
    }
    if (typeof input.uri !== 'string' || input.uri.trim() === '') {
      throw userError(
        `Input '${name}' (${input.jobInputType}) has no 'uri', which the specification requires of asset inputs.`,
        `${target}.uri`,
      );
    }
    if (input.mode !== undefined && input.mode !== null && !INPUT_DELIVERY_MODES.includes(input.mode)) {
      throw userError(
        `Input '${name}' has mode '${input.mode}'; expected one of ${INPUT_DELIVERY_MODES.join(', ')}.`,
        `${target}.mode`,
      );
    }
    if (DATA_INPUT_TYPES.has(input.jobInputType) && parseUri(input.uri).kind === 'modelAsset') {
      throw userError(`Input '${name}' is ${input.jobInputType} but '${input.uri}' is a model.`, `${target}.uri`);
    }
  }
}

/** Declared outputs, each with the uri Azure gives an output the job did not place itself. */
export function jobOutputs(job: string, outputs: Record<string, Json> | null | undefined): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [name, output] of Object.entries(outputs ?? {})) {
    if (!output) continue;
    if (output.mode !== undefined && output.mode !== null && !OUTPUT_DELIVERY_MODES.includes(output.mode)) {
      throw userError(
        `Output '${name}' has mode '${output.mode}'; expected one of ${OUTPUT_DELIVERY_MODES.join(', ')}.`,
        `properties.outputs.${name}.mode`,
      );
    }
    out[name] = { mode: 'ReadWriteMount', ...output, uri: output.uri ?? `azureml://jobs/${job}/outputs/${name}` };
  }
  return out;
}
