/**
 * EndpointMetrics over Azure Monitor, through the official `@azure/monitor-query` MetricsQueryClient (GET
 * `{resource id}/providers/Microsoft.Insights/metrics`, api-version 2024-02-01), with the app's credential: on Azure
 * its identity needs Monitoring Reader on the workspace (infra/modules/roles.bicep); locally the client points at the
 * local workspace's ARM endpoint, which serves the same API from its scoring statistics.
 *
 * The metric is `RequestsPerMinute` of Microsoft.MachineLearningServices/workspaces/onlineEndpoints, split by its
 * `deployment` and `statusCodeClass` dimensions ("Supported metrics for
 * Microsoft.MachineLearningServices/workspaces/onlineEndpoints"), summed (Total) per minute, the metric's only
 * grain: the minutes' totals add up to the window's requests exactly, whatever its length.
 */
import type { TokenCredential } from '@azure/core-auth';
import { MetricsQueryClient } from '@azure/monitor-query';
import { armPathSegment } from '../domain/names';
import type { DeploymentRequestCounts, EndpointMetrics } from '../ports';
import type { WorkspaceAddress } from './ml-workspace';

const REQUESTS_METRIC = 'RequestsPerMinute';
/** Time series come back at most `top` at a time (Azure's default is 10): deployments × status classes. */
const MAX_SERIES = 100;
const MINUTE_MS = 60_000;

export class AzureMonitorMetrics implements EndpointMetrics {
  readonly #client: MetricsQueryClient;
  readonly #workspaceId: string;

  constructor(credential: TokenCredential, address: WorkspaceAddress) {
    this.#client = new MetricsQueryClient(credential, {
      ...(address.armEndpoint ? { endpoint: address.armEndpoint.replace(/\/+$/, '') } : {}),
      ...(address.caCert ? { tlsOptions: { ca: address.caCert } } : {}),
    });
    this.#workspaceId =
      `/subscriptions/${address.subscriptionId}/resourceGroups/${address.resourceGroup}` +
      `/providers/Microsoft.MachineLearningServices/workspaces/${address.workspaceName}`;
  }

  async requestCounts(endpointName: string, from: Date, to: Date): Promise<Record<string, DeploymentRequestCounts>> {
    const resourceId = `${this.#workspaceId}/onlineEndpoints/${armPathSegment('endpoint', endpointName, 'endpointName')}`;
    // Whole minutes: a window inside one minute still asks for that minute.
    const startTime = new Date(Math.floor(from.getTime() / MINUTE_MS) * MINUTE_MS);
    const endTime = new Date(Math.max(to.getTime(), startTime.getTime() + MINUTE_MS));
    const result = await this.#client.queryResource(resourceId, [REQUESTS_METRIC], {
      timespan: { startTime, endTime },
      granularity: 'PT1M',
      aggregations: ['Total'],
      filter: "deployment eq '*' and statusCodeClass eq '*'",
      top: MAX_SERIES,
    });
    const counts: Record<string, DeploymentRequestCounts> = {};
    for (const metric of result.metrics) {
      if (metric.name !== REQUESTS_METRIC) continue;
      if (metric.errorCode && metric.errorCode !== 'Success') {
        throw new Error(`Azure Monitor could not read ${REQUESTS_METRIC}: ${metric.errorMessage ?? metric.errorCode}`);
      }
      for (const series of metric.timeseries) {
        const label = (name: string) =>
          series.metadataValues?.find((m) => m.name?.toLowerCase() === name.toLowerCase())?.value;
        const deployment = label('deployment');
        if (!deployment) continue;
        const total = (series.data ?? []).reduce((sum, point) => sum + (point.total ?? 0), 0);
        const entry = (counts[deployment] ??= { requests: 0, serverErrors: 0, clientErrors: 0 });
        entry.requests += total;
        const statusClass = label('statusCodeClass') ?? '';
        if (statusClass.startsWith('5')) entry.serverErrors += total;
        else if (statusClass.startsWith('4')) entry.clientErrors += total;
      }
    }
    for (const [deployment, entry] of Object.entries(counts)) if (entry.requests === 0) delete counts[deployment];
    return counts;
  }
}
