import { z } from 'zod';

// Request bodies of the 2022-10-01 REST specification (and the newer fields the workspace understands).
// Objects are loose: fields the local workspace does not interpret are kept and echoed, as Azure does.

const str = z.string();
const dict = z.record(z.string(), z.string().nullable());
const obj = z.looseObject({});

const resourceBase = {
  description: str.nullable().optional(),
  tags: dict.nullable().optional(),
  properties: dict.nullable().optional(),
};

const assetBase = { ...resourceBase, isAnonymous: z.boolean().optional(), isArchived: z.boolean().optional() };

export const assetContainerBody = z.looseObject({
  properties: z.looseObject({ ...resourceBase, isArchived: z.boolean().optional() }),
});

export const modelVersionBody = z.looseObject({
  properties: z.looseObject({
    ...assetBase,
    flavors: z
      .record(z.string(), z.looseObject({ data: dict.nullable().optional() }))
      .nullable()
      .optional(),
    modelType: str.nullable().optional(),
    modelUri: str.nullable().optional(),
    jobName: str.nullable().optional(),
  }),
});

export const environmentVersionBody = z.looseObject({
  properties: z
    .looseObject({
      ...assetBase,
      image: str.min(1).nullable().optional(),
      condaFile: str.nullable().optional(),
      build: z
        .looseObject({ contextUri: str.min(1), dockerfilePath: str.optional() })
        .nullable()
        .optional(),
      osType: z.enum(['Linux', 'Windows']).optional(),
      inferenceConfig: obj.nullable().optional(),
      autoRebuild: z.enum(['Disabled', 'OnBaseImageUpdate']).optional(),
    })
    .refine((p) => Boolean(p.image || p.build), {
      message: 'an environment needs an image or a build context',
      path: ['image'],
    }),
});

export const dataVersionBody = z.looseObject({
  properties: z.looseObject({
    ...assetBase,
    dataType: z.enum(['uri_file', 'uri_folder', 'mltable']),
    dataUri: str.min(1),
    referencedUris: z.array(str).nullable().optional(),
  }),
});

/** CodeVersion of the spec (examples/CodeVersion/createOrUpdate.json): `codeUri` is the snapshot folder's blob URL. */
export const codeVersionBody = z.looseObject({
  properties: z.looseObject({ ...assetBase, codeUri: str.min(1).nullable().optional() }),
});

const identity = z.looseObject({
  type: z.enum(['None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned,UserAssigned']),
  userAssignedIdentities: z.record(z.string(), obj.nullable()).nullable().optional(),
});

const sku = z.looseObject({
  name: str,
  tier: z.enum(['Free', 'Basic', 'Standard', 'Premium']).optional(),
  size: str.optional(),
  family: str.optional(),
  capacity: z.number().int().optional(),
});

const trafficValue = z.number().int().min(0).max(100);

export const onlineEndpointBody = z.looseObject({
  location: str.min(1),
  kind: str.optional(),
  tags: dict.nullable().optional(),
  identity: identity.optional(),
  sku: sku.optional(),
  properties: z.looseObject({
    authMode: z.enum(['AMLToken', 'Key', 'AADToken']),
    description: str.nullable().optional(),
    properties: dict.nullable().optional(),
    compute: str.nullable().optional(),
    publicNetworkAccess: z.enum(['Enabled', 'Disabled']).optional(),
    traffic: z.record(z.string(), trafficValue).nullable().optional(),
    mirrorTraffic: z.record(z.string(), trafficValue).nullable().optional(),
  }),
});

export const endpointPatchBody = z.looseObject({
  tags: dict.nullable().optional(),
  identity: identity.optional(),
});

export const onlineDeploymentBody = z.looseObject({
  location: str.min(1),
  kind: str.optional(),
  tags: dict.nullable().optional(),
  identity: identity.optional(),
  sku: sku.optional(),
  properties: z.looseObject({
    endpointComputeType: z.enum(['Managed', 'Kubernetes', 'AzureMLCompute']),
    model: str.min(1, 'a deployment needs a model (a model version id or azureml:name:version)'),
    description: str.nullable().optional(),
    properties: dict.nullable().optional(),
    codeConfiguration: z
      .looseObject({ codeId: str.optional(), scoringScript: str.min(1) })
      .nullable()
      .optional(),
    environmentId: str.nullable().optional(),
    environmentVariables: dict.nullable().optional(),
    instanceType: str.optional(),
    appInsightsEnabled: z.boolean().optional(),
    scaleSettings: z
      .looseObject({ scaleType: z.enum(['Default', 'TargetUtilization']) })
      .nullable()
      .optional(),
    requestSettings: obj.nullable().optional(),
    livenessProbe: obj.nullable().optional(),
    readinessProbe: obj.nullable().optional(),
    modelMountPath: str.nullable().optional(),
    egressPublicNetworkAccess: z.enum(['Enabled', 'Disabled']).optional(),
  }),
});

export const deploymentPatchBody = z.looseObject({
  tags: dict.nullable().optional(),
  sku: z.looseObject({ capacity: z.number().int().min(0).optional() }).optional(),
});

const jobInput = z.looseObject({
  jobInputType: z.enum([
    'literal',
    'uri_file',
    'uri_folder',
    'mltable',
    'custom_model',
    'mlflow_model',
    'triton_model',
  ]),
  description: str.nullable().optional(),
  value: str.optional(),
  uri: str.optional(),
  mode: str.optional(),
});

const jobOutput = z.looseObject({
  jobOutputType: z.enum(['uri_file', 'uri_folder', 'mltable', 'custom_model', 'mlflow_model', 'triton_model']),
  description: str.nullable().optional(),
  uri: str.nullable().optional(),
  mode: str.optional(),
});

export const jobBody = z.looseObject({
  properties: z.looseObject({ jobType: str }),
});

export const commandJobBody = z.looseObject({
  properties: z.looseObject({
    ...resourceBase,
    jobType: z.literal('Command'),
    command: str.min(1),
    environmentId: str.min(1),
    displayName: str.nullable().optional(),
    experimentName: str.optional(),
    computeId: str.nullable().optional(),
    codeId: str.nullable().optional(),
    isArchived: z.boolean().optional(),
    inputs: z.record(z.string(), jobInput.nullable()).nullable().optional(),
    outputs: z.record(z.string(), jobOutput.nullable()).nullable().optional(),
    environmentVariables: dict.nullable().optional(),
    services: z.record(z.string(), obj.nullable()).nullable().optional(),
  }),
});

export const getLogsBody = z
  .looseObject({
    containerType: z.enum(['StorageInitializer', 'InferenceServer']).optional(),
    tail: z.number().int().min(0).optional(),
  })
  .optional();

export const regenerateKeysBody = z.looseObject({
  keyType: z.enum(['Primary', 'Secondary']),
  keyValue: str.min(1).nullable().optional(),
});
