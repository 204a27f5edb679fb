/**
 * The templates under infra/, read with a real Bicep parser (tree-sitter-bicep, see bicep-tree.ts) and held to what
 * the app's own code needs (app-code.ts): every file parses; every app setting the code reads is set; every event
 * subscription targets a function registered with an Event Grid trigger; every ARM call in lib/ is allowed by the
 * workspace role and every role assignment is justified by a call; no secret or key is inlined or output; every
 * resource pins a stable API version; every parameter is described; role assignments are named
 * guid(scope, principal, role). Each check also runs on a broken snippet, so a check that silently finds nothing
 * fails.
 *
 * None of this compiles Bicep: `az bicep build` and `az bicep lint` stay the first step of a deployment
 * (infra/README.md) and of CI where Bicep can be installed.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, armCalls, registeredFunctions, settingsRead } from './app-code';
import {
  arrayItems,
  callOf,
  declarations,
  descendants,
  identifiersIn,
  loadBicepParser,
  outputs,
  params,
  parseBicep,
  prop,
  properties,
  stringValue,
  syntaxProblems,
  variables,
  type Declaration,
  type Node,
} from './bicep-tree';

const INFRA = join(ROOT, 'infra');

type Files = Record<string, Node>;

function bicepPaths(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (/\.bicep(param)?$/.test(e.name)) found.push(relative(INFRA, full));
    }
  };
  walk(INFRA);
  return found.sort();
}

let parse: (source: string) => Node;
let files: Files;
let main: Node;

beforeAll(async () => {
  const parser = await loadBicepParser();
  parse = (source) => parseBicep(parser, source);
  files = Object.fromEntries(bicepPaths().map((p) => [p, parse(readFileSync(join(INFRA, p), 'utf8'))]));
  main = files['main.bicep'] as Node;
});

const all = (f: Files) => Object.entries(f).flatMap(([file, root]) => declarations(root).map((d) => ({ file, d })));

// ---------------------------------------------------------------------------------------------------------------
// Syntax, API versions, descriptions, modules.

/**
 * The grammar reads a .bicepparam assignment (`param x = value`) as a declaration whose type is missing; that one
 * MISSING node is expected there, and only there.
 */
function parseProblems(f: Files): string[] {
  return Object.entries(f).flatMap(([file, root]) => {
    const untyped = new Set(
      file.endsWith('.bicepparam')
        ? params(root).flatMap((p) => {
            const type = p.node.namedChildren[1];
            const id = type?.type === 'type' ? type.namedChildren[0] : undefined;
            return id?.isMissing ? [id.id] : [];
          })
        : [],
    );
    return syntaxProblems(root, (n) => untyped.has(n.id)).map((p) => `${file}:${p}`);
  });
}

/** Every resource names `type@yyyy-mm-dd`, not a preview. */
function apiVersionProblems(f: Files): string[] {
  const problems: string[] = [];
  for (const { file, d } of all(f)) {
    if (d.kind !== 'resource') continue;
    if (d.apiVersion === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(d.apiVersion.replace(/-preview$/, ''))) {
      problems.push(`${file}: ${d.symbol} does not pin an API version (${d.target})`);
    } else if (/preview/i.test(d.apiVersion)) {
      problems.push(`${file}: ${d.symbol} uses a preview API version ${d.apiVersion}`);
    }
  }
  return problems;
}

const describedBy = (decorators: { name: string; args: Node[] }[]) =>
  decorators.some((x) => x.name === 'description' && (stringValue(x.args[0]) ?? '').trim() !== '');

/** Parameters declared in templates (a .bicepparam file only assigns them). */
function descriptionProblems(f: Files): string[] {
  return Object.entries(f)
    .filter(([file]) => file.endsWith('.bicep'))
    .flatMap(([file, root]) =>
      params(root)
        .filter((p) => !describedBy(p.decorators))
        .map((p) => `${file}: parameter ${p.name} has no @description`),
    );
}

/** What every provision must be given: nothing here may fall back to an empty value. */
const REQUIRED_PARAMS = [
  'environmentName',
  'workspaceName',
  'workspaceResourceGroupName',
  'championPolicies',
  'gitSha',
  'approvalSecret',
  'authClientId',
];

const isEmptyLiteral = (n: Node | undefined) =>
  n !== undefined &&
  ((n.type === 'string' && stringValue(n) === '') ||
    ((n.type === 'object' || n.type === 'array') && n.namedChildren.length === 0));

/**
 * A required parameter has no default; an optional one whose default is empty ('' or {}) says in its description
 * what empty means.
 */
function requiredParamProblems(root: Node, required: readonly string[]): string[] {
  const problems: string[] = [];
  const declared = new Map(params(root).map((p) => [p.name, p]));
  for (const name of required) {
    const p = declared.get(name);
    if (!p) problems.push(`parameter ${name} is not declared`);
    else if (p.default) problems.push(`required parameter ${name} has a default (${p.default.text})`);
  }
  for (const p of declared.values()) {
    if (!isEmptyLiteral(p.default)) continue;
    const text = p.decorators.find((x) => x.name === 'description')?.args[0];
    if (!/\bempty\b/i.test(stringValue(text) ?? '')) {
      problems.push(`parameter ${p.name} defaults to ${p.default?.text} without saying what empty means`);
    }
  }
  return problems;
}

function moduleProblems(f: Files): string[] {
  const problems: string[] = [];
  for (const { file, d } of all(f)) {
    if (d.kind !== 'module' || /^(br|ts)[:/]/.test(d.target)) continue;
    const path = join(dirname(file), d.target);
    const target = f[path];
    if (!target) {
      problems.push(`${file}: module ${d.symbol} → ${d.target} does not exist`);
      continue;
    }
    const declared = new Map(params(target).map((p) => [p.name, p]));
    const given = properties(prop(d.body, 'params'));
    for (const k of given.keys()) if (!declared.has(k)) problems.push(`${file}: ${d.symbol} passes unknown param ${k}`);
    for (const [k, p] of declared) {
      if (!p.default && !given.has(k)) problems.push(`${file}: ${d.symbol} misses required param ${k}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Role assignments and roles.

/** The identifiers a reference like `account.id`, `account` or `workspace.id` starts from. */
const rootIdentifier = (n: Node | undefined): string | undefined => {
  let node = n;
  while (node?.type === 'member_expression') node = node.childForFieldName('object') ?? undefined;
  return node?.type === 'identifier' ? node.text : undefined;
};

/** Identifiers an expression uses, through the variables it names (`roleDefinitionId` → `workspaceRole`). */
function expandedIdentifiers(root: Node, node: Node): Set<string> {
  const vars = variables(root);
  const seen = new Set<string>();
  const add = (n: Node) => {
    for (const id of identifiersIn(n)) {
      if (seen.has(id)) continue;
      seen.add(id);
      const value = vars.get(id);
      if (value) add(value);
    }
  };
  add(node);
  return seen;
}

function roleAssignmentProblems(f: Files): string[] {
  const problems: string[] = [];
  for (const { file, d } of all(f)) {
    const root = f[file] as Node;
    if (d.target === 'Microsoft.Authorization/roleDefinitions' && !d.existing) {
      if (callOf(prop(d.body, 'name'))?.name !== 'guid') problems.push(`${file}: ${d.symbol} is not named with guid()`);
    }
    if (d.target !== 'Microsoft.Authorization/roleAssignments' || d.existing) continue;
    const name = callOf(prop(d.body, 'name'));
    const scope = rootIdentifier(prop(d.body, 'scope'));
    const principal = prop(d.body, 'properties', 'principalId');
    const role = prop(d.body, 'properties', 'roleDefinitionId');
    if (!scope) problems.push(`${file}: ${d.symbol} has no explicit scope`);
    if (!principal || !role) problems.push(`${file}: ${d.symbol} needs principalId and roleDefinitionId`);
    if (stringValue(prop(d.body, 'properties', 'principalType')) !== 'ServicePrincipal') {
      problems.push(`${file}: ${d.symbol} should set principalType 'ServicePrincipal' (new identities replicate late)`);
    }
    if (name?.name !== 'guid') {
      problems.push(`${file}: ${d.symbol} is not named with guid()`);
      continue;
    }
    const argIds = name.args.map((a) => identifiersIn(a));
    const uses = (ids: Set<string>) => argIds.some((a) => [...ids].some((i) => a.has(i)));
    // The role is usually a variable or a loop item; the role definition id is built from the same names.
    if (name.args.length < 3 || !scope || !argIds.some((a) => a.has(scope))) {
      problems.push(`${file}: ${d.symbol} guid() needs scope, principal and role (scope ${scope ?? '?'})`);
    } else if (principal && !uses(expandedIdentifiers(root, principal))) {
      problems.push(`${file}: ${d.symbol} guid() does not include the principal ${principal.text}`);
    } else if (
      role &&
      !uses(new Set([...expandedIdentifiers(root, role)].filter((i) => i !== 'subscriptionResourceId')))
    ) {
      problems.push(`${file}: ${d.symbol} guid() does not include the role ${role.text}`);
    }
  }
  return problems;
}

/** Azure RBAC action matching: `*` stands for any characters. */
function allows(pattern: string, action: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );
  return re.test(action);
}

interface RoleDefinition {
  actions: string[];
  notActions: string[];
  dataActions: string[];
}

function customRoles(f: Files): { file: string; symbol: string; role: RoleDefinition }[] {
  return all(f)
    .filter(({ d }) => d.target === 'Microsoft.Authorization/roleDefinitions' && !d.existing)
    .map(({ file, d }) => {
      const perms = arrayItems(prop(d.body, 'properties', 'permissions'));
      const list = (key: string) =>
        perms.flatMap((p) => arrayItems(prop(p, key)).map((n) => stringValue(n) ?? `<${n.text}>`));
      return {
        file,
        symbol: d.symbol,
        role: { actions: list('actions'), notActions: list('notActions'), dataActions: list('dataActions') },
      };
    });
}

const ML = 'Microsoft.MachineLearningServices/workspaces';

/**
 * Every ARM call the adapters make (app-code.ts finds them in lib/), with the RBAC action Azure checks for it.
 * `implied`: what Azure ML also checks on the assets a request refers to (a deployment's model and environment, a
 * job's compute, data, environment and code).
 */
const ARM_OPERATIONS: Record<string, { action?: string; implied?: string[]; why: string }> = {
  'workspaces.get': { action: `${ML}/read`, why: 'region and MLflow tracking URI' },
  'modelVersions.get': { action: `${ML}/models/versions/read`, why: 'the registered version' },
  'modelVersions.list': { action: `${ML}/models/versions/read`, why: "a model's versions and stages" },
  'modelVersions.createOrUpdate': { action: `${ML}/models/versions/write`, why: 'stage tags; registering a model' },
  'send GET endpointPath': { action: `${ML}/onlineEndpoints/read`, why: 'traffic, read with mirror traffic' },
  'send PUT endpointPath': { action: `${ML}/onlineEndpoints/write`, why: 'traffic changes' },
  'onlineEndpoints.beginCreateOrUpdate': { action: `${ML}/onlineEndpoints/write`, why: 'first endpoint' },
  'onlineEndpoints.beginUpdateAndWait': { action: `${ML}/onlineEndpoints/write`, why: 'endpoint tags (git commit)' },
  'onlineEndpoints.listKeys': { action: `${ML}/onlineEndpoints/listKeys/action`, why: 'scoring key' },
  'onlineDeployments.get': { action: `${ML}/onlineEndpoints/deployments/read`, why: 'slot state' },
  'onlineDeployments.list': { action: `${ML}/onlineEndpoints/deployments/read`, why: 'slots' },
  'onlineDeployments.beginCreateOrUpdate': {
    action: `${ML}/onlineEndpoints/deployments/write`,
    implied: [`${ML}/models/versions/read`, `${ML}/environments/versions/read`],
    why: 'challenger deployment',
  },
  'onlineDeployments.beginDelete': { action: `${ML}/onlineEndpoints/deployments/delete`, why: 'old slot' },
  'send PUT jobs': {
    action: `${ML}/jobs/write`,
    implied: [
      `${ML}/computes/read`,
      `${ML}/data/versions/read`,
      `${ML}/environments/versions/read`,
      `${ML}/codes/versions/read`,
    ],
    why: 'training job',
  },
  'send GET jobs': { action: `${ML}/jobs/read`, why: 'job status and outputs' },
  'jobs.beginCancel': { action: `${ML}/jobs/cancel/action`, why: 'cancelling a superseded training' },
  'sendRequest in getRunMetrics': { action: `${ML}/experiments/runs/read`, why: "a run's metrics (MLflow)" },
  'computeOperations.get': { action: `${ML}/computes/read`, why: 'compute id for a job' },
  'environmentVersions.get': { action: `${ML}/environments/versions/read`, why: 'training environment' },
  'environmentVersions.createOrUpdate': { action: `${ML}/environments/versions/write`, why: 'training environment' },
  'codeVersions.get': { action: `${ML}/codes/versions/read`, why: 'training code, by content hash' },
  'codeVersions.createOrUpdate': { action: `${ML}/codes/versions/write`, why: 'training code, uploaded first' },
  'dataVersions.get': { action: `${ML}/data/versions/read`, why: 'data asset URI' },
  'dataVersions.list': { action: `${ML}/data/versions/read`, why: 'latest data version' },
  'datastores.get': { action: `${ML}/datastores/read`, why: "data asset's storage account" },
  // A policy environment's registry (lib/azure/ml-registry.ts): allowed by AzureML Registry User, assigned on each
  // registry the policies name (modules/registry-access.bicep), not by the workspace role.
  'send GET models': { why: "a registry's model version (registries/assets/read)" },
  'send POST models': { why: "a registry version's pending upload (registries/assets/write)" },
  'send PUT models': { why: 'a model version created in a registry (registries/assets/write)' },
  'sendRequest in #follow': { why: "polling a registry version's creation" },
  // The status URL ARM returned for an operation this identity started (Location / Azure-AsyncOperation).
  'sendRequest in getOperationStatus': { why: 'polling a long-running operation' },
  // The implementation of the `send …` calls above.
  'sendRequest in #send': { why: 'raw requests listed above' },
};

function armOperationProblems(calls: { call: string; file: string }[], role: RoleDefinition | undefined): string[] {
  if (!role) return ['no custom workspace role is defined'];
  const problems: string[] = [];
  const needed = new Set<string>();
  for (const { call, file } of calls) {
    const op = ARM_OPERATIONS[call];
    if (!op) {
      problems.push(`${file}: ARM call ${call} is not listed in ARM_OPERATIONS`);
      continue;
    }
    for (const action of [...(op.action ? [op.action] : []), ...(op.implied ?? [])]) needed.add(action);
  }
  for (const action of needed) {
    const granted = role.actions.some((p) => allows(p, action)) && !role.notActions.some((p) => allows(p, action));
    if (!granted) problems.push(`the workspace role does not allow ${action}`);
  }
  // Least privilege: every action the role grants is needed by some call.
  for (const p of role.actions) {
    if (![...needed].some((a) => allows(p, a))) problems.push(`the workspace role grants ${p}, which no call needs`);
  }
  for (const p of role.dataActions) problems.push(`the workspace role grants data action ${p}, which no call needs`);
  return problems;
}

/** Every built-in role the templates assign, with the call or setting that needs it. */
const ROLE_JUSTIFICATIONS: Record<string, string> = {
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner: host leases, Durable blobs, deployment package',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor: Durable control and work-item queues',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor: Durable history and instance tables',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher: telemetry with Entra ID',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe':
    'Storage Blob Data Contributor: lib/azure/data-reader.ts reads data assets, lib/azure/blob-datastore.ts uploads training code',
  '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39':
    'Azure Service Bus Data Sender: lib/adapters/notifier.ts sends approvals, lib/adapters/lifecycle.ts lifecycle events',
  'd5a91429-5739-47e2-a06b-3470a27159e7': 'EventGrid Data Sender: lib/adapters/lifecycle.ts publishes lifecycle events',
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User: the CHAMPION_APPROVAL_SECRET Key Vault reference',
  '0ad04412-c4d5-4796-b79c-f76d14c8d402': 'Durable Task Data Contributor: the Durable Task Scheduler backend',
  'f6c7c914-8db3-469d-8ca1-694a8f32e121': 'AzureML Data Scientist: the broader alternative to the custom role',
  '43d0d8ad-25c7-4714-9337-8ba259a9fe05':
    "Monitoring Reader: lib/azure/metrics.ts reads the online endpoints' platform metrics to judge rollout steps",
  '1823dd4f-9b8c-4ab6-ab4e-7397a3684615':
    'AzureML Registry User: the copy between environments through a registry reads and creates its model versions',
};

function roleJustificationProblems(f: Files): string[] {
  const text = Object.values(f)
    .map((root) => root.text)
    .join('\n');
  const ids = new Set(text.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g) ?? []);
  return [...ids]
    .filter((id) => !(id in ROLE_JUSTIFICATIONS))
    .map((id) => `role ${id} is assigned with no call that needs it`);
}

// ---------------------------------------------------------------------------------------------------------------
// Secrets and keys.

const SECRET_NAME = /key|secret|password|connectionstring|sas\b|token|credential/i;
const INLINE_SECRET = [
  /AccountKey=/i,
  /SharedAccessKey=/i,
  /SharedAccessSignature/i,
  /[?&]sig=/i,
  // A long base64 run with digits and both cases (a key), not a resource type or a path.
  /(?=[A-Za-z0-9+]*\d)(?=[A-Za-z0-9+]*[a-z])(?=[A-Za-z0-9+]*[A-Z])\b[A-Za-z0-9+]{40,}={0,2}/,
];
const KEY_FUNCTIONS = /^(list\w*|listKeys|listAccountSas|listServiceSas|listSecrets|listCredentials)$/;

function secretProblems(f: Files): string[] {
  const problems: string[] = [];
  for (const [file, root] of Object.entries(f)) {
    const secureParams = new Set(
      params(root)
        .filter((p) => p.decorators.some((x) => x.name === 'secure'))
        .map((p) => p.name),
    );
    for (const o of outputs(root)) {
      const ids = o.value ? identifiersIn(o.value) : new Set<string>();
      // A Key Vault's name is not a key.
      const bare = (t: string) => t.replace(/key_?vault/gi, '');
      if (SECRET_NAME.test(bare(o.name)) || (o.value && SECRET_NAME.test(bare(o.value.text)))) {
        problems.push(`${file}: output ${o.name} looks like a secret: ${o.value?.text ?? ''}`);
      }
      for (const s of secureParams) if (ids.has(s)) problems.push(`${file}: output ${o.name} exposes @secure ${s}`);
    }
    for (const s of descendants(root, 'string')) {
      const text = s.namedChildren
        .filter((c) => c.type === 'string_content')
        .map((c) => c.text)
        .join('');
      if (INLINE_SECRET.some((re) => re.test(text)))
        problems.push(`${file}: inlined key or secret: ${s.text.slice(0, 50)}`);
    }
    for (const call of descendants(root, 'call_expression')) {
      const fn = call.childForFieldName('function');
      const name = fn?.type === 'member_expression' ? fn.childForFieldName('property')?.text : fn?.text;
      if (name && KEY_FUNCTIONS.test(name)) problems.push(`${file}: reads keys with ${name}()`);
    }
    for (const { d } of all({ [file]: root })) {
      if (d.target !== 'Microsoft.Storage/storageAccounts' || d.existing) continue;
      if (prop(d.body, 'properties', 'allowSharedKeyAccess')?.text !== 'false') {
        problems.push(`${file}: ${d.symbol} must set allowSharedKeyAccess: false`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// App settings.

/** Settings the code reads that the template deliberately does not set, and why. */
const NOT_SET_ON_AZURE: Record<string, string> = {
  AZUREML_ARM_ENDPOINT: 'local workspace or another cloud only',
  AZUREML_CA_CERT_PATH: 'local workspace only',
  AZUREML_BLOB_SERVICE_URL: 'local storage emulator only',
  AZUREML_ACCESS_TOKEN: 'local workspace only; the managed identity is used on Azure',
  AZUREML_STORAGE_ACCESS_TOKEN: 'local workspace only',
  CHAMPION_LOCAL_USER: 'off Azure only',
  CHAMPION_OUTBOX_DIR: 'off Azure only',
  CHAMPION_EVENTGRID_KEY: "the local host's topic only; the custom topic takes the app's identity (local auth off)",
  WEBSITE_HOSTNAME: 'set by the platform',
  WEBSITE_AUTH_ENABLED: 'set by the platform when App Service authentication is on',
};

/** Settings the template sets for the Functions host rather than for the code. */
const HOST_SETTINGS =
  /^(AzureWebJobsStorage__\w+|APPLICATIONINSIGHTS_AUTHENTICATION_STRING|FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)$/;

function appSettingsNode(root: Node): Node | undefined {
  return variables(root).get('appSettings');
}

function appSettingProblems(root: Node, read: readonly string[]): string[] {
  const block = appSettingsNode(root);
  if (!block) return ['main.bicep has no appSettings variable'];
  const settings = properties(block);
  const problems: string[] = [];
  for (const k of read) {
    if (k in NOT_SET_ON_AZURE) continue;
    if (!settings.has(k)) problems.push(`app setting ${k} is read by the code but not set`);
  }
  for (const [k, v] of settings) {
    if (isEmptyLiteral(v)) problems.push(`app setting ${k} is empty`);
    if (!read.includes(k) && !HOST_SETTINGS.test(k)) problems.push(`app setting ${k} is set but nothing reads it`);
    if (k in NOT_SET_ON_AZURE) problems.push(`app setting ${k} must not be set on Azure: ${NOT_SET_ON_AZURE[k]}`);
  }
  // Flex Consumption deprecates these: the platform runs host ~4 and reads the runtime from functionAppConfig.
  for (const k of ['FUNCTIONS_EXTENSION_VERSION', 'FUNCTIONS_WORKER_RUNTIME', 'WEBSITE_RUN_FROM_PACKAGE']) {
    if (settings.has(k)) problems.push(`${k} must not be set on Flex Consumption`);
  }
  // The host reads the whole body before the app's own limit applies: keep what it buffers small.
  if (!(Number(stringValue(settings.get('FUNCTIONS_REQUEST_BODY_SIZE_LIMIT'))) <= 1024 * 1024))
    problems.push('FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be set, at most 1 MB (the largest Event Grid event)');
  if (settings.has('AzureWebJobsStorage')) problems.push('AzureWebJobsStorage must be identity-based');
  if (stringValue(settings.get('AzureWebJobsStorage__credential')) !== 'managedidentity') {
    problems.push('AzureWebJobsStorage__credential must be managedidentity');
  }
  for (const k of ['clientId', 'blobServiceUri', 'queueServiceUri', 'tableServiceUri']) {
    if (!settings.has(`AzureWebJobsStorage__${k}`)) problems.push(`AzureWebJobsStorage__${k} is needed`);
  }
  return problems;
}

function runtimeProblems(f: Files): string[] {
  const problems: string[] = [];
  const decls = all(f).map(({ d }) => d);
  const plan = decls.find((d) => d.target === 'Microsoft.Web/serverfarms');
  if (
    stringValue(prop(plan?.body, 'sku', 'tier')) !== 'FlexConsumption' ||
    stringValue(prop(plan?.body, 'sku', 'name')) !== 'FC1'
  ) {
    problems.push('plan is not FlexConsumption FC1');
  }
  const site = decls.find((d) => d.target === 'Microsoft.Web/sites' && !d.existing);
  const runtime = prop(site?.body, 'properties', 'functionAppConfig', 'runtime');
  if (stringValue(prop(runtime, 'name')) !== 'node') problems.push(`runtime name is ${prop(runtime, 'name')?.text}`);
  if (stringValue(prop(runtime, 'version')) !== '22')
    problems.push(`runtime version is ${prop(runtime, 'version')?.text}`);
  if (prop(site?.body, 'properties', 'siteConfig', 'linuxFxVersion'))
    problems.push('linuxFxVersion is not used on Flex');
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Event subscriptions.

interface SubscriptionTarget {
  file: string;
  functionName: string;
  eventTypes: string[];
  advancedFilters: { operatorType: string; key: string; values: string[] }[];
}

/**
 * Resolve `x.field` where `x` is the loop variable of `[for x in list: …]` and `list` a variable holding an array of
 * objects: one value per item. A plain expression resolves to itself.
 */
function resolveThroughLoop(root: Node, d: Declaration, expr: Node | undefined): Node[][] {
  if (!expr) return [];
  const loop = d.loop;
  const loopVar = loop?.childForFieldName('initializer')?.text;
  const listName = loop?.namedChildren.find((c, i) => i > 0 && c.type === 'identifier')?.text;
  const items = listName ? arrayItems(variables(root).get(listName)) : [];
  if (!loopVar || items.length === 0) return [[expr]];
  return items.map((item) => {
    const pick = (n: Node): Node => {
      if (n.type === 'member_expression' && n.childForFieldName('object')?.text === loopVar) {
        return prop(item, n.childForFieldName('property')?.text ?? '') ?? n;
      }
      return n;
    };
    return [pick(expr), item];
  });
}

function subscriptionTargets(f: Files): { targets: SubscriptionTarget[]; problems: string[] } {
  const targets: SubscriptionTarget[] = [];
  const problems: string[] = [];
  for (const { file, d } of all(f)) {
    if (!/^Microsoft\.EventGrid\/(systemTopics|topics)\/eventSubscriptions$/.test(d.target) || d.existing) continue;
    const destination = prop(d.body, 'properties', 'destination');
    if (stringValue(prop(destination, 'endpointType')) !== 'AzureFunction') {
      problems.push(`${file}: ${d.symbol} destination is not an AzureFunction endpoint`);
      continue;
    }
    const resourceId = prop(destination, 'properties', 'resourceId');
    const interpolations = resourceId?.namedChildren.filter((c) => c.type === 'interpolation') ?? [];
    const tail = resourceId?.namedChildren.at(-1);
    const fnExpr = tail?.type === 'interpolation' ? tail.namedChildren[0] : undefined;
    const before = resourceId?.namedChildren.at(-2);
    if (
      !fnExpr ||
      before?.type !== 'string_content' ||
      !before.text.endsWith('/functions/') ||
      interpolations.length !== 2
    ) {
      problems.push(`${file}: ${d.symbol} does not target '\${functionAppId}/functions/\${name}'`);
      continue;
    }
    const root = f[file] as Node;
    const filterExpr = prop(d.body, 'properties', 'filter');
    for (const [fn, item] of resolveThroughLoop(root, d, fnExpr)) {
      const functionName = stringValue(fn);
      if (!functionName) {
        problems.push(`${file}: ${d.symbol} function name ${fn?.text} is not a literal`);
        continue;
      }
      const fromItem = (key: string) => (item ? prop(item, key) : undefined);
      const resolve = (n: Node | undefined): Node | undefined =>
        n?.type === 'member_expression' && item ? (fromItem(n.childForFieldName('property')?.text ?? '') ?? n) : n;
      const types = resolve(prop(filterExpr, 'includedEventTypes'));
      const adv = resolve(prop(filterExpr, 'advancedFilters'));
      targets.push({
        file,
        functionName,
        eventTypes: arrayItems(types).map((t) => stringValue(t) ?? t.text),
        advancedFilters: arrayItems(adv).map((a) => ({
          operatorType: stringValue(prop(a, 'operatorType')) ?? '',
          key: stringValue(prop(a, 'key')) ?? '',
          values: arrayItems(prop(a, 'values')).map((v) => stringValue(v) ?? v.text),
        })),
      });
    }
  }
  return { targets, problems };
}

function subscriptionProblems(f: Files, functions: { name: string; trigger: string }[]): string[] {
  const { targets, problems } = subscriptionTargets(f);
  if (targets.length === 0) problems.push('no event subscription targets a function');
  for (const t of targets) {
    const fn = functions.find((r) => r.name === t.functionName);
    if (!fn) problems.push(`${t.file}: subscription targets ${t.functionName}, which the app does not register`);
    else if (fn.trigger !== 'eventGrid') {
      problems.push(`${t.file}: subscription targets ${t.functionName}, a ${fn.trigger} function, not eventGrid`);
    }
    if (t.eventTypes.length === 0)
      problems.push(`${t.file}: subscription to ${t.functionName} has no event type filter`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// The parameters file.

/**
 * The parameters file: uses main.bicep, assigns only what it declares and everything it requires, and a required
 * parameter read from the environment has no fallback (`readEnvironmentVariable('X')`, never `…('X', '')`).
 */
function parameterFileProblems(template: Node, paramFile: Node | undefined): string[] {
  if (!paramFile) return ['infra/main.bicepparam is missing'];
  const using = paramFile.namedChildren.find((n) => n.type === 'using_statement');
  const problems: string[] = [];
  if (stringValue(using?.namedChildren[0]) !== 'main.bicep')
    problems.push('the parameters file does not use main.bicep');
  const declared = new Map(params(template).map((p) => [p.name, p]));
  const given = new Map(params(paramFile).map((p) => [p.name, p.node.namedChildren[2]]));
  for (const k of given.keys()) {
    if (!declared.has(k)) problems.push(`the parameters file sets ${k}, which main.bicep does not declare`);
  }
  for (const [k, p] of declared) {
    if (p.default) continue;
    const value = given.get(k);
    if (!value) {
      problems.push(`the parameters file misses ${k}`);
      continue;
    }
    for (const call of descendants(value, 'call_expression')) {
      const c = callOf(call);
      if (c?.name === 'readEnvironmentVariable' && c.args.length > 1) {
        problems.push(`required parameter ${k} falls back to ${c.args[1]?.text ?? ''}`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------

describe('infra templates (parsed)', () => {
  it('finds the templates and their structure', () => {
    expect(Object.keys(files)).toContain('main.bicep');
    const decls = all(files).map(({ d }) => d);
    expect(decls.filter((d) => d.target === 'Microsoft.Authorization/roleAssignments').length).toBeGreaterThanOrEqual(
      3,
    );
    expect(decls.filter((d) => d.kind === 'module').length).toBeGreaterThanOrEqual(4);
    expect(subscriptionTargets(files).targets.length).toBeGreaterThanOrEqual(2);
  });

  type Check = [string, () => string[]];
  const checks: Check[] = [
    ['every .bicep file parses with no ERROR or MISSING node', () => parseProblems(files)],
    ['every resource pins a stable API version', () => apiVersionProblems(files)],
    ['every parameter has a description', () => descriptionProblems(files)],
    [
      'required parameters have no default; empty defaults say what empty means',
      () => requiredParamProblems(main, REQUIRED_PARAMS),
    ],
    ['every module path exists and its params match', () => moduleProblems(files)],
    ['every role assignment is named guid(scope, principal, role)', () => roleAssignmentProblems(files)],
    ['no secret or key is inlined or output, and no shared keys', () => secretProblems(files)],
    ['Flex Consumption with Node 22', () => runtimeProblems(files)],
    ['every app setting the code reads is set, and only those', () => appSettingProblems(main, settingsRead())],
    [
      'every event subscription targets a function registered with an Event Grid trigger',
      () => subscriptionProblems(files, registeredFunctions()),
    ],
    [
      'every ARM call in lib/ is allowed by the custom workspace role, which grants nothing else',
      () => armOperationProblems(armCalls(), customRoles(files)[0]?.role),
    ],
    ['every role assigned is justified by a call', () => roleJustificationProblems(files)],
    ['main.bicepparam matches main.bicep', () => parameterFileProblems(main, files['main.bicepparam'])],
  ];
  it.each(checks)('%s', (_name, check) => {
    expect(check()).toEqual([]);
  });

  it('the code scanners find what the app does (so the checks above are not vacuous)', () => {
    const read = settingsRead();
    expect(read).toEqual(expect.arrayContaining(['CHAMPION_POLICIES', 'CHAMPION_APPROVAL_SECRET', 'AZURE_CLIENT_ID']));
    const functions = registeredFunctions();
    expect(
      functions
        .filter((f) => f.trigger === 'eventGrid')
        .map((f) => f.name)
        .sort(),
    ).toEqual(['onDriftDetected', 'onModelRegistered']);
    const calls = new Set(armCalls().map((c) => c.call));
    for (const c of ['modelVersions.createOrUpdate', 'onlineDeployments.beginCreateOrUpdate', 'send PUT jobs']) {
      expect(calls).toContain(c);
    }
  });

  it('event subscriptions route each event type to its function, drift filtered to breaches and completions', () => {
    const routes = subscriptionTargets(files)
      .targets.map((t) => ({ fn: t.functionName, types: t.eventTypes, filters: t.advancedFilters }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const aml = 'Microsoft.MachineLearningServices.';
    expect(routes).toEqual([
      {
        fn: 'onDriftDetected',
        types: [`${aml}DatasetDriftDetected`],
        filters: [],
      },
      {
        fn: 'onDriftDetected',
        types: [`${aml}RunStatusChanged`],
        filters: [
          {
            operatorType: 'StringContains',
            key: 'data.RunTags.azureml_modelmonitor_threshold_breached',
            values: ['has failed due to one or more features violating metric thresholds'],
          },
        ],
      },
      {
        fn: 'onDriftDetected',
        types: [`${aml}RunStatusChanged`],
        filters: [{ operatorType: 'StringIn', key: 'data.RunStatus', values: ['Completed'] }],
      },
      { fn: 'onModelRegistered', types: [`${aml}ModelRegistered`], filters: [] },
    ]);
    // The breach tag the filter names is the one the app reads.
    expect(readFileSync(join(ROOT, 'lib/domain/events.ts'), 'utf8')).toContain(
      "MONITOR_BREACH_TAG = 'azureml_modelmonitor_threshold_breached'",
    );
  });

  it('every subscription retries, then dead-letters with the topic identity when the topic is created here', () => {
    const sub = all(files).find(({ d }) => d.target === 'Microsoft.EventGrid/systemTopics/eventSubscriptions')?.d;
    expect(prop(sub?.body, 'properties', 'retryPolicy', 'maxDeliveryAttempts')?.text).toBe('30');
    expect(prop(sub?.body, 'properties', 'retryPolicy', 'eventTimeToLiveInMinutes')?.text).toBe('1440');
    expect(prop(sub?.body, 'properties', 'deadLetterWithResourceIdentity')?.text).toBe('deadLetter');
    const root = files['modules/event-grid.bicep'] as Node;
    const deadLetter = variables(root).get('deadLetter');
    expect(stringValue(prop(deadLetter?.childForFieldName('consequence'), 'identity', 'type'))).toBe('UserAssigned');
  });

  it('secrets reach the app as Key Vault references, read with the app identity', () => {
    const settings = properties(appSettingsNode(main));
    const ref = settings.get('CHAMPION_APPROVAL_SECRET');
    expect(ref?.type).toBe('string');
    expect(ref?.namedChildren[0]?.text).toBe('@Microsoft.KeyVault(VaultName=');
    const site = all(files).find(({ d }) => d.target === 'Microsoft.Web/sites' && !d.existing)?.d;
    expect(prop(site?.body, 'properties', 'keyVaultReferenceIdentity')?.text).toBe('identityId');
    // No @secure parameter flows into an app setting directly.
    const secure = params(main).filter((p) => p.decorators.some((x) => x.name === 'secure'));
    for (const [k, v] of settings) for (const p of secure) expect(identifiersIn(v).has(p.name), k).toBe(false);
  });

  it('lifecycle events: a CloudEvents custom topic without keys and a deduplicating Service Bus topic, the app sending to both', () => {
    const topic = all(files).find(({ d }) => d.target === 'Microsoft.EventGrid/topics')?.d;
    expect(stringValue(prop(topic?.body, 'properties', 'inputSchema'))).toBe('CloudEventSchemaV1_0');
    expect(prop(topic?.body, 'properties', 'disableLocalAuth')?.text).toBe('true');
    const topics = all(files).filter(({ d }) => d.target === 'Microsoft.ServiceBus/namespaces/topics' && !d.existing);
    expect(topics.length).toBe(2);
    for (const { d } of topics) {
      expect(prop(d.body, 'properties', 'requiresDuplicateDetection')?.text).toBe('true');
    }
    // Each sender role is assigned on its topic, to the app's identity.
    const assignments = all(files).filter(({ d }) => d.target === 'Microsoft.Authorization/roleAssignments');
    const assignedOn = (role: string) =>
      assignments
        .filter(({ d }) => d.body?.text.includes(role))
        .map(({ d }) => prop(d.body, 'scope')?.text)
        .sort();
    expect(assignedOn('eventGridDataSender')).toEqual(['topic']);
    expect(assignedOn('serviceBusDataSender')).toEqual(['lifecycleTopic', 'topic']);
    const settings = properties(appSettingsNode(main));
    expect(settings.get('CHAMPION_EVENTGRID_ENDPOINT')?.text).toBe('lifecycleEvents.outputs.endpoint');
    expect(settings.get('SERVICEBUS_LIFECYCLE_TOPIC')?.text).toBe('messaging.outputs.lifecycleTopicName');
    expect(settings.has('CHAMPION_EVENTGRID_KEY')).toBe(false);
  });

  it('App Service authentication signs approvers in with Entra ID and lets function keys and Event Grid through', () => {
    const auth = all(files).find(
      ({ d }) => d.target === 'Microsoft.Web/sites/config' && stringValue(prop(d.body, 'name')) === 'authsettingsV2',
    )?.d;
    expect(auth).toBeDefined();
    const p = prop(auth?.body, 'properties');
    expect(prop(p, 'platform', 'enabled')?.text).toBe('true');
    expect(stringValue(prop(p, 'globalValidation', 'unauthenticatedClientAction'))).toBe('AllowAnonymous');
    expect(prop(p, 'globalValidation', 'requireAuthentication')?.text).toBe('false');
    expect(prop(p, 'identityProviders', 'azureActiveDirectory', 'enabled')?.text).toBe('true');
    expect(prop(p, 'identityProviders', 'azureActiveDirectory', 'registration', 'clientId')?.text).toBe('authClientId');
  });

  it('the Durable backend is a parameter: Azure Storage by default, or the Durable Task Scheduler', () => {
    const backend = params(main).find((p) => p.name === 'durableBackend');
    expect(stringValue(backend?.default)).toBe('AzureStorage');
    const allowed = backend?.decorators.find((x) => x.name === 'allowed')?.args[0];
    expect(arrayItems(allowed).map((n) => stringValue(n))).toEqual(['AzureStorage', 'DurableTaskScheduler']);
    const scheduler = all(files).find(({ d }) => d.target === 'Microsoft.DurableTask/schedulers')?.d;
    expect(stringValue(prop(scheduler?.body, 'properties', 'sku', 'name'))).toBe('Consumption');
    const durable = properties(variables(main).get('durableSettings')?.childForFieldName('consequence'));
    expect(stringValue(durable.get('AzureFunctionsJobHost__extensions__durableTask__storageProvider__type'))).toBe(
      'azureManaged',
    );
    expect(durable.get('DURABLE_TASK_SCHEDULER_CONNECTION_STRING')?.text).toContain('Authentication=ManagedIdentity');
  });

  it('the Functions host and Durable Functions get blob, queue and table roles; the app gets a workspace role', () => {
    const text = Object.values(files)
      .map((r) => r.text)
      .join('\n');
    for (const role of [
      'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
      '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
      '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
    ]) {
      expect(text).toContain(role);
    }
    expect(customRoles(files)).toHaveLength(1);
  });

  it("the app may read the workspace's endpoint metrics (Monitoring Reader on the workspace), as the judge needs", () => {
    const access = files['modules/workspace-access.bicep']?.text ?? '';
    expect(access).toContain("'43d0d8ad-25c7-4714-9337-8ba259a9fe05'"); // Monitoring Reader
    expect(access).toMatch(/scope: workspace\n\s+properties: \{\n\s+roleDefinitionId: [^\n]*monitoringReader/);
    const adapter = readFileSync(join(ROOT, 'lib/azure/metrics.ts'), 'utf8');
    expect(adapter).toContain("from '@azure/monitor-query'");
    expect(adapter).toContain('queryResource(');
  });

  it("the app may upload training code to the workspace's storage (Storage Blob Data Contributor) and register code versions", () => {
    const access = files['modules/workspace-access.bicep']?.text ?? '';
    expect(access).toContain("'ba92f5b4-2d11-453d-a403-e96b0029c9fe'"); // Storage Blob Data Contributor
    expect(access).toMatch(
      /scope: workspaceStorage\n\s+properties: \{\n\s+roleDefinitionId: [^\n]*storageBlobDataContributor/,
    );
    const calls = new Set(armCalls().map((c) => c.call));
    expect(calls).toContain('codeVersions.get');
    expect(calls).toContain('codeVersions.createOrUpdate');
  });

  it("every other environment's workspace gets the app's workspace roles, scoped to its own resource group", () => {
    const environments = all(files).find(({ d }) => d.symbol === 'environmentAccess')?.d;
    expect(environments).toMatchObject({ kind: 'module', target: 'modules/environment-access.bicep' });
    // One module per workspace the policies name in `environments`, the app's own left out.
    expect(environments?.loop?.text).toMatch(/^\[\s*for id in environmentWorkspaceIds:/);
    const ids = files['main.bicep']?.text.match(/var environmentWorkspaceIds = [\s\S]*?\n\)/)?.[0] ?? '';
    expect(ids).toContain('championPolicies.?policies');
    expect(ids).toContain('environment.workspace');
    expect(ids).toContain('id != ownWorkspaceId');
    // Addressed by the ARM id's parts: /subscriptions/{2}/resourceGroups/{4}/providers/…/workspaces/{8}.
    expect(prop(environments?.body, 'scope')?.text).toBe("resourceGroup(split(id, '/')[2], split(id, '/')[4])");
    expect(prop(environments?.body, 'params', 'workspaceName')?.text).toBe("split(id, '/')[8]");
    // The same roles as on the app's own workspace, its storage account included (the copy writes model files there).
    const inner = declarations(files['modules/environment-access.bicep']!).find((d) => d.kind === 'module');
    expect(inner?.target).toBe('workspace-access.bicep');
    expect(prop(inner?.body, 'params', 'workspaceStorageAccountName')?.text).toContain(
      'workspace.properties.storageAccount',
    );
  });

  it('every registry the policies copy models through gets AzureML Registry User, scoped to its resource group', () => {
    const registries = all(files).find(({ d }) => d.symbol === 'registryAccess')?.d;
    expect(registries).toMatchObject({ kind: 'module', target: 'modules/registry-access.bicep' });
    expect(registries?.loop?.text).toMatch(/^\[\s*for id in environmentRegistryIds:/);
    const ids = files['main.bicep']?.text.match(/var environmentRegistryIds = [\s\S]*?\n\)/)?.[0] ?? '';
    expect(ids).toContain('championPolicies.?policies');
    expect(ids).toContain('environment.?registry');
    expect(prop(registries?.body, 'scope')?.text).toBe("resourceGroup(split(id, '/')[2], split(id, '/')[4])");
    expect(prop(registries?.body, 'params', 'registryName')?.text).toBe("split(id, '/')[8]");
    const assignment = declarations(files['modules/registry-access.bicep']!).find(
      (d) => d.target === 'Microsoft.Authorization/roleAssignments',
    );
    expect(prop(assignment?.body, 'scope')?.text).toBe('registry');
    expect(files['modules/registry-access.bicep']?.text).toContain("'1823dd4f-9b8c-4ab6-ab4e-7397a3684615'");
  });

  it('the settings the local sample configures are also set in Azure', () => {
    const sample = join(ROOT, 'local.settings.sample.json');
    const local = existsSync(sample)
      ? Object.keys((JSON.parse(readFileSync(sample, 'utf8')) as { Values?: object }).Values ?? {})
      : [];
    const hostOnly = new Set(['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage']);
    const settings = properties(appSettingsNode(main));
    expect(local.filter((k) => !hostOnly.has(k) && !(k in NOT_SET_ON_AZURE) && !settings.has(k))).toEqual([]);
  });

  it('the READMEs document bicep build and lint first, azd before the Azure CLI, and the deploy-twice check', () => {
    const infraReadme = readFileSync(join(INFRA, 'README.md'), 'utf8');
    expect(infraReadme).toMatch(/az bicep build/);
    expect(infraReadme).toMatch(/az bicep lint/);
    expect(infraReadme).toMatch(/what-if/);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const deploy = readme.slice(readme.indexOf('## Deploy to Azure'), readme.indexOf('## Layout'));
    expect(deploy.indexOf('az bicep build')).toBeGreaterThan(0);
    expect(deploy.indexOf('azd up')).toBeLessThan(deploy.indexOf('az deployment group create'));
    for (const topic of ['npm run package', 'az ml model create', 'Live metrics', 'Flex Consumption', 'warm']) {
      expect(deploy).toContain(topic);
    }
    // The CI job that compiles and lints where Bicep can be installed.
    const ci = readFileSync(join(ROOT, '.github', 'workflows', 'infra.yml'), 'utf8');
    expect(ci).toContain('az bicep build --file infra/main.bicep');
    expect(ci).toContain('az bicep lint --file infra/main.bicep');
  });
});

describe('the checks catch broken templates', () => {
  const one = (src: string): Files => ({ 'x.bicep': parse(src) });
  const broken: [string, () => string[], RegExp][] = [
    [
      'a syntax error',
      () => parseProblems(one("param a string =\nresource r 'x@1' = {\n  name: 'a\n}\n")),
      /cannot parse|missing/,
    ],
    [
      'an unclosed object',
      () => parseProblems(one("resource r 'A/b@2020-01-01' = {\n  name: 'a'\n")),
      /missing|cannot parse/,
    ],
    [
      'no API version',
      () => apiVersionProblems(one("resource r 'Microsoft.Web/sites' = {\n  name: 'a'\n}")),
      /does not pin/,
    ],
    [
      'a preview API version',
      () =>
        apiVersionProblems(one("resource t 'Microsoft.EventGrid/systemTopics@2023-12-15-preview' = {\n  name: 'a'\n}")),
      /preview API version/,
    ],
    [
      'a parameter without a description',
      () => descriptionProblems(one('@minLength(1)\nparam a string')),
      /no @description/,
    ],
    [
      'a required parameter with an empty default',
      () => requiredParamProblems(parse("@description('The commit.')\nparam gitSha string = ''"), ['gitSha']),
      /required parameter gitSha has a default|without saying what empty means/,
    ],
    [
      'a role assignment with a fixed name',
      () =>
        roleAssignmentProblems(
          one(`resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: 'storage-owner'
  scope: account
  properties: {
    roleDefinitionId: r
    principalId: p
    principalType: 'ServicePrincipal'
  }
}`),
        ),
      /not named with guid/,
    ],
    [
      'a guid() that leaves out the principal',
      () =>
        roleAssignmentProblems(
          one(`resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, role, 'x')
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}`),
        ),
      /does not include the principal/,
    ],
    [
      'a guid() over another scope',
      () =>
        roleAssignmentProblems(
          one(`resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, role)
  scope: account
  properties: {
    roleDefinitionId: role
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}`),
        ),
      /needs scope, principal and role/,
    ],
    [
      'shared keys and a listKeys() connection string',
      () =>
        secretProblems(
          one(`resource s 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'x'
  properties: {
    allowSharedKeyAccess: true
  }
}
var c = 'DefaultEndpointsProtocol=https;AccountName=\${s.name};AccountKey=\${s.listKeys().keys[0].value}'`),
        ),
      /inlined key[\s\S]*listKeys[\s\S]*allowSharedKeyAccess/,
    ],
    [
      'an inlined key',
      () => secretProblems(one("var k = 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0'")),
      /inlined key or secret/,
    ],
    [
      'a secure parameter in an output',
      () =>
        secretProblems(
          one("@secure()\n@description('x')\nparam signing string\noutput approval string = 'prefix-${signing}'"),
        ),
      /exposes @secure signing/,
    ],
    [
      'a connection string output',
      () => secretProblems(one('output cs string = appInsights.properties.ConnectionString')),
      /looks like a secret/,
    ],
    [
      'Node 20',
      () =>
        runtimeProblems(
          one(`resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
}
resource site 'Microsoft.Web/sites@2024-04-01' = {
  properties: {
    functionAppConfig: {
      runtime: {
        name: 'node'
        version: '20'
      }
    }
  }
}`),
        ),
      /runtime version is '20'/,
    ],
    [
      'a missing app setting, a deprecated one and an unread one',
      () =>
        appSettingProblems(
          parse(`var appSettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  AzureWebJobsStorage__credential: 'managedidentity'
  OLD_SETTING: 'x'
}`),
          ['CHAMPION_POLICIES'],
        ),
      /CHAMPION_POLICIES is read by the code but not set[\s\S]*OLD_SETTING is set but nothing reads it[\s\S]*FUNCTIONS_EXTENSION_VERSION/,
    ],
    [
      'a module path that does not exist',
      () => moduleProblems(one("module m 'modules/nope.bicep' = {\n  name: 'm'\n  params: {}\n}")),
      /does not exist/,
    ],
    [
      'a subscription pointing at a misspelt function, and one at an HTTP function',
      () =>
        subscriptionProblems(
          one(`var subs = [
  {
    fn: 'onModelRegistred'
    types: ['Microsoft.MachineLearningServices.ModelRegistered']
  }
  {
    fn: 'health'
    types: ['Microsoft.MachineLearningServices.ModelRegistered']
  }
]
resource es 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [
  for s in subs: {
    parent: topic
    name: s.fn
    properties: {
      destination: {
        endpointType: 'AzureFunction'
        properties: {
          resourceId: '\${functionAppId}/functions/\${s.fn}'
        }
      }
      filter: {
        includedEventTypes: s.types
      }
    }
  }
]`),
          [
            { name: 'onModelRegistered', trigger: 'eventGrid' },
            { name: 'health', trigger: 'http' },
          ],
        ),
      /onModelRegistred, which the app does not register[\s\S]*health, a http function/,
    ],
    [
      'an ARM call no role allows, an unlisted call, and a role action nothing needs',
      () =>
        armOperationProblems(
          [
            { call: 'onlineDeployments.beginDelete', file: 'lib/x.ts' },
            { call: 'workspaces.beginDelete', file: 'lib/x.ts' },
          ],
          { actions: [`${ML}/onlineEndpoints/read`, `${ML}/models/*`], notActions: [], dataActions: [] },
        ),
      /workspaces.beginDelete is not listed[\s\S]*does not allow .*deployments\/delete[\s\S]*grants .*models\/\*, which no call needs/,
    ],
    [
      'a role assigned for no reason',
      () => roleJustificationProblems(one("var owner = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635' // Owner")),
      /8e3af657-a8ff-443c-a75c-2fe8c4bcb635 is assigned with no call/,
    ],
    [
      'a parameters file naming an undeclared parameter',
      () =>
        parameterFileProblems(
          parse("@description('a')\nparam a string\n@description('c')\nparam c string"),
          parse("using 'main.bicep'\nparam b = 'x'\nparam c = readEnvironmentVariable('C', '')"),
        ),
      /sets b, which main.bicep does not declare[\s\S]*misses a[\s\S]*c falls back to ''/,
    ],
  ];
  it.each(broken)('%s', (_name, check, problem) => {
    const problems = check();
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(problem);
  });

  it('a parsed template resolves the function names and filters of a looped subscription', () => {
    const { targets } = subscriptionTargets(
      one(`var subs = [
  {
    fn: 'onDriftDetected'
    types: ['Microsoft.MachineLearningServices.RunStatusChanged']
    advanced: [
      {
        operatorType: 'StringIn'
        key: 'data.RunTags.azureml_modelmonitor_threshold_breached'
        values: ['has breached']
      }
    ]
  }
]
resource es 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [
  for s in subs: if (deploy) {
    name: s.fn
    properties: {
      destination: {
        endpointType: 'AzureFunction'
        properties: {
          resourceId: '\${app}/functions/\${s.fn}'
        }
      }
      filter: {
        includedEventTypes: s.types
        advancedFilters: s.advanced
      }
    }
  }
]`),
    );
    expect(targets).toEqual([
      {
        file: 'x.bicep',
        functionName: 'onDriftDetected',
        eventTypes: ['Microsoft.MachineLearningServices.RunStatusChanged'],
        advancedFilters: [
          {
            operatorType: 'StringIn',
            key: 'data.RunTags.azureml_modelmonitor_threshold_breached',
            values: ['has breached'],
          },
        ],
      },
    ]);
  });

  it('strings, comments and quoted keys do not confuse the tree', () => {
    const root = parse(`var appSettings = {
  A: '{not a block}' // B: 'commented out'
  /* C: 'also commented' */
  'D-E': 'x \${'}'} y'
}`);
    expect(syntaxProblems(root)).toEqual([]);
    expect([...properties(appSettingsNode(root)).keys()]).toEqual(['A', 'D-E']);
  });
});
