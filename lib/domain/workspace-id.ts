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

const WORKSPACE_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)$/i;
/** Resource group names: letters, digits, `_`, `-`, `.`, `(`, `)`, up to 90, not ending with `.` (ARM naming rules). */
const RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;
/** Workspace names: 3–33 characters, alphanumeric start, then alphanumerics, `-` and `_` (Azure ML naming rules). */
const WORKSPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What is wrong with `id` as a workspace ARM id, or undefined when it is one. */
export function workspaceIdProblem(id: string): string | undefined {
  const m = WORKSPACE_ID.exec(id);
  if (!m) {
    return 'must be a workspace ARM id: /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.MachineLearningServices/workspaces/{name}';
  }
  if (!GUID.test(m[1]!)) return `subscription '${m[1]}' must be a GUID`;
  if (!RESOURCE_GROUP.test(m[2]!)) return `resource group '${m[2]}' is not a valid resource group name`;
  if (!WORKSPACE_NAME.test(m[3]!))
    return `workspace '${m[3]}' must be 3–33 letters, digits, "-" or "_", starting with a letter or digit`;
  return undefined;
}

export function parseWorkspaceId(id: string): WorkspaceRef {
  const problem = workspaceIdProblem(id);
  if (problem) throw new Error(`${JSON.stringify(id)} ${problem}`);
  const m = WORKSPACE_ID.exec(id)!;
  return { subscriptionId: m[1]!, resourceGroup: m[2]!, workspaceName: m[3]! };
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

const REGISTRY_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/registries\/([^/]+)$/i;
const REGISTRY_NAME = /^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$/;

/** What is wrong with `id` as a registry ARM id, or undefined when it is one. */
export function registryIdProblem(id: string): string | undefined {
  const m = REGISTRY_ID.exec(id);
  if (!m) {
    return 'must be an Azure ML registry ARM id: /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.MachineLearningServices/registries/{name}';
  }
  if (!GUID.test(m[1]!)) return `subscription '${m[1]}' must be a GUID`;
  if (!RESOURCE_GROUP.test(m[2]!)) return `resource group '${m[2]}' is not a valid resource group name`;
  if (!REGISTRY_NAME.test(m[3]!))
    return `registry '${m[3]}' must be 3–33 letters, digits, "-" or "_", starting with a letter or digit`;
  return undefined;
}

export function parseRegistryId(id: string): RegistryRef {
  const problem = registryIdProblem(id);
  if (problem) throw new Error(`${JSON.stringify(id)} ${problem}`);
  const m = REGISTRY_ID.exec(id)!;
  return { subscriptionId: m[1]!, resourceGroup: m[2]!, registryName: m[3]! };
}
