/**
 * Listing promotions a page at a time. durable-functions 3.x's getStatusAll/getStatusBy follow every continuation
 * and take no page size, so a list over thousands of instances would read them all on each call. The Durable
 * HTTP API that the client calls underneath takes `top`, `instanceIdPrefix` and `x-ms-continuation-token`
 * (HttpApiHandler.HandleGetStatusRequestAsync in the Durable extension), so pages are read from it directly,
 * at the address the durable client binding gives.
 */
import type { InvocationContext } from '@azure/functions';

/** One instance as the Durable HTTP API reports it. */
export interface InstanceStatus {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input?: unknown;
  customStatus?: unknown;
  output?: unknown;
  createdTime: string;
  lastUpdatedTime: string;
}

export interface InstancePage {
  instances: InstanceStatus[];
  /** Present when more instances follow; pass it back to read the next page. */
  continuationToken?: string;
}

interface ClientBinding {
  rpcBaseUrl?: string;
  managementUrls?: { statusQueryGetUri?: string; id?: string };
}

/** Where the Durable HTTP API's instance query lives, from the function's durable client binding. */
function instancesUrl(context: InvocationContext): URL {
  const input = context.options.extraInputs.find((i) => i.type === 'durableClient' || i.type === 'orchestrationClient');
  const binding = (input ? context.extraInputs.get(input) : undefined) as ClientBinding | undefined;
  if (binding?.rpcBaseUrl) return new URL('instances/', binding.rpcBaseUrl);
  const template = binding?.managementUrls?.statusQueryGetUri;
  const placeholder = binding?.managementUrls?.id;
  if (!template || !placeholder) throw new Error('The function has no durable client binding to list instances with.');
  // The public management URL carries the task hub, connection and system key in its query string.
  return new URL(template.replace(placeholder, ''));
}

/** Narrows a query to instances created since a time, or in some runtime states (the HTTP API's own filters). */
export interface InstanceFilter {
  createdTimeFrom?: string;
  runtimeStatus?: string[];
}

/** One page of the instances whose ids start with `instanceIdPrefix`, in the task hub's own order. */
export async function readInstancePage(
  context: InvocationContext,
  query: { instanceIdPrefix: string; top: number; continuationToken?: string } & InstanceFilter,
): Promise<InstancePage> {
  const url = instancesUrl(context);
  url.searchParams.set('instanceIdPrefix', query.instanceIdPrefix);
  url.searchParams.set('top', String(query.top));
  if (query.createdTimeFrom) url.searchParams.set('createdTimeFrom', query.createdTimeFrom);
  if (query.runtimeStatus) url.searchParams.set('runtimeStatus', query.runtimeStatus.join(','));
  const response = await fetch(url, {
    headers: query.continuationToken ? { 'x-ms-continuation-token': query.continuationToken } : {},
  });
  if (!response.ok) throw new Error(`Durable instance query answered ${response.status}: ${await response.text()}`);
  const instances = (await response.json()) as InstanceStatus[];
  const token = response.headers.get('x-ms-continuation-token');
  // The extension sends the header on the last page too, empty (or "null" from some storage providers).
  return token && token !== 'null' ? { instances, continuationToken: token } : { instances };
}

/** Every instance whose id starts with `instanceIdPrefix`, a page at a time, keeping those `keep` accepts. */
export async function readAllInstances(
  context: InvocationContext,
  query: { instanceIdPrefix: string; pageSize: number } & InstanceFilter,
  keep: (status: InstanceStatus) => boolean = () => true,
): Promise<InstanceStatus[]> {
  const all: InstanceStatus[] = [];
  let continuationToken: string | undefined;
  do {
    const { pageSize, ...filter } = query;
    const page = await readInstancePage(context, { ...filter, top: pageSize, continuationToken });
    all.push(...page.instances.filter(keep));
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return all;
}
