/**
 * Azure ML workspace ARM ids: `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/
 * workspaces/{name}` (the `id` ARM gives a workspace; Azure Resource Manager, "Resource ID" format). A policy's
 * environment names its workspace so; the adapter turns it into a client per workspace.
 */
export interface WorkspaceRef {
  subscriptionId: string;
  resourceGroup: string;
  workspaceName: string;
}

/** Resource group names: letters, digits, `_`, `-`, `.`, `(`, `)`, up to 90, not ending with `.` (ARM naming rules). */
const RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;
/**
 * Workspace and registry names: 3–33 characters, alphanumeric start, then alphanumerics, `-` and `_` (Azure ML naming
 * rules; registries.json `RegistryNameParameter`).
 */
const ML_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const mlResource = (collection: string, called: string) => ({
  collection,
  called,
  pattern: new RegExp(
    `^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\\.MachineLearningServices/${collection}/([^/]+)$`,
    'i',
  ),
});
const ML_RESOURCE = {
  workspace: mlResource('workspaces', 'a workspace ARM id'),
  registry: mlResource('registries', 'an Azure ML registry ARM id'),
};

/** `id` read as a workspace's or a registry's ARM id: subscription, resource group and name, or what is wrong. */
function readMlResourceId(
  id: string,
  kind: keyof typeof ML_RESOURCE,
): { ok: true; parts: [string, string, string] } | { ok: false; problem: string } {
  const { collection, called, pattern } = ML_RESOURCE[kind];
  const m = pattern.exec(id);
  const problem = (text: string) => ({ ok: false as const, problem: text });
  if (!m) {
    return problem(
      `must be ${called}: /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.MachineLearningServices/${collection}/{name}`,
    );
  }
  const [, subscription = '', group = '', name = ''] = m;
  if (!GUID.test(subscription)) return problem(`subscription '${subscription}' must be a GUID`);
  if (!RESOURCE_GROUP.test(group)) return problem(`resource group '${group}' is not a valid resource group name`);
  if (!ML_NAME.test(name))
    return problem(`${kind} '${name}' must be 3–33 letters, digits, "-" or "_", starting with a letter or digit`);
  return { ok: true, parts: [subscription, group, name] };
}

/** The parts of a valid id of `kind`; a bad one throws, naming it. */
function mlResourceParts(id: string, kind: keyof typeof ML_RESOURCE): [string, string, string] {
  const read = readMlResourceId(id, kind);
  if (!read.ok) throw new Error(`${JSON.stringify(id)} ${read.problem}`);
  return read.parts;
}

/** What is wrong with `id` as a workspace ARM id, or undefined when it is one. */
export function workspaceIdProblem(id: string): string | undefined {
  const read = readMlResourceId(id, 'workspace');
  return read.ok ? undefined : read.problem;
}

export function parseWorkspaceId(id: string): WorkspaceRef {
  const [subscriptionId, resourceGroup, workspaceName] = mlResourceParts(id, 'workspace');
  return { subscriptionId, resourceGroup, workspaceName };
}

export function workspaceId(ref: WorkspaceRef): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${ref.workspaceName}`;
}

/** The same workspace (ARM ids compare without regard to case). */
export function sameWorkspace(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Azure ML registry ARM ids: `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/
 * registries/{name}`; names as registries.json (stable 2024-10-01) `RegistryNameParameter` has them:
 * `^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$`.
 */
export interface RegistryRef {
  subscriptionId: string;
  resourceGroup: string;
  registryName: string;
}

/** What is wrong with `id` as a registry ARM id, or undefined when it is one. */
export function registryIdProblem(id: string): string | undefined {
  const read = readMlResourceId(id, 'registry');
  return read.ok ? undefined : read.problem;
}

export function parseRegistryId(id: string): RegistryRef {
  const [subscriptionId, resourceGroup, registryName] = mlResourceParts(id, 'registry');
  return { subscriptionId, resourceGroup, registryName };
}
