import { MetricsQueryClient } from '@azure/monitor-query';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureMonitorMetrics } from '../../lib/azure/metrics';
import { startScoringFixture, type ScoringFixture } from '../../local/workspace/fixtures';
import { startWorkspace } from '../../local/workspace/index';
import { MinuteMetrics, parseFilter } from '../../local/workspace/metrics';
import type { Store } from '../../local/workspace/store';

let fx: ScoringFixture;
let dataDir: string;
let monitor: MetricsQueryClient;
let endpointId: string;
const EP = 'metrics-ep';

async function score(n: number): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await fx.client.score(fx.scoringUri, fx.key, fx.sampleBody);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  }
  return statuses;
}

function adapter(f: ScoringFixture): AzureMonitorMetrics {
  return new AzureMonitorMetrics(f.ws.credential(), {
    subscriptionId: f.ws.subscriptionId,
    resourceGroup: f.ws.resourceGroup,
    workspaceName: f.ws.workspaceName,
    armEndpoint: f.ws.armEndpoint,
    caCert: f.ws.caCert,
  });
}

let started: Date;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'champion-metrics-'));
  fx = await startScoringFixture({
    dataDir,
    endpoint: EP,
    traffic: { blue: 50, green: 50 },
    workspace: { statsFlushMs: 20 },
  });
  monitor = new MetricsQueryClient(fx.ws.credential(), {
    endpoint: fx.ws.armEndpoint,
    tlsOptions: { ca: fx.ws.caCert },
    retryOptions: { maxRetries: 0 },
  });
  endpointId = `${fx.client.workspacePath}/onlineEndpoints/${EP}`;
  started = new Date();
  // Green fails one request in ten and answers 80 ms slower; blue is healthy.
  fx.ws.faults.add({ kind: 'scoring', endpoint: EP, deployment: 'green', errorRate: 0.1, status: 500 });
  fx.ws.faults.add({ kind: 'scoring', endpoint: EP, deployment: 'green', latencyMs: 80 });
  await score(200);
}, 120_000);

afterAll(async () => {
  await fx.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the Azure Monitor metrics API of an online endpoint, read through @azure/monitor-query', () => {
  it('counts each deployment’s requests by status class, as scoring happened', async () => {
    const result = await monitor.queryResource(endpointId, ['RequestsPerMinute'], {
      timespan: { startTime: new Date(started.getTime() - 60_000), endTime: new Date(Date.now() + 60_000) },
      granularity: 'PT1M',
      aggregations: ['Total'],
      filter: "deployment eq '*' and statusCodeClass eq '*'",
    });
    const metric = result.metrics[0]!;
    expect(metric).toMatchObject({ name: 'RequestsPerMinute', unit: 'Count', type: 'Microsoft.Insights/metrics' });
    const totals: Record<string, number> = {};
    for (const series of metric.timeseries) {
      const labels = Object.fromEntries((series.metadataValues ?? []).map((m) => [m.name, m.value]));
      const key = `${labels.deployment}/${labels.statusCodeClass}`;
      totals[key] = (series.data ?? []).reduce((sum, p) => sum + (p.total ?? 0), 0);
    }
    expect(totals).toEqual({ 'blue/2xx': 100, 'green/2xx': 90, 'green/5xx': 10 });
  });

  it('the adapter sums a window into counts per deployment; a window before the traffic has none', async () => {
    const metrics = adapter(fx);
    expect(await metrics.requestCounts(EP, started, new Date())).toEqual({
      blue: { requests: 100, serverErrors: 0, clientErrors: 0 },
      green: { requests: 100, serverErrors: 10, clientErrors: 0 },
    });
    const hourAgo = new Date(started.getTime() - 3_600_000);
    expect(await metrics.requestCounts(EP, hourAgo, new Date(hourAgo.getTime() + 300_000))).toEqual({});
  });

  it('serves latency percentiles per deployment: the slower one shows it', async () => {
    const result = await monitor.queryResource(endpointId, ['RequestLatency_P95', 'RequestLatency'], {
      timespan: { startTime: new Date(started.getTime() - 60_000), endTime: new Date(Date.now() + 60_000) },
      granularity: 'FULL',
      aggregations: ['Average', 'Maximum'],
      filter: "deployment eq '*'",
    });
    expect(result.metrics.map((m) => [m.name, m.unit])).toEqual([
      ['RequestLatency_P95', 'MilliSeconds'],
      ['RequestLatency', 'MilliSeconds'],
    ]);
    const p95 = Object.fromEntries(
      result.metrics[0]!.timeseries.map((s) => [s.metadataValues![0]!.value, s.data![0]!.average!]),
    );
    expect(p95.green).toBeGreaterThanOrEqual(80);
    expect(p95.blue).toBeLessThan(80);
    const slowest = result.metrics[1]!.timeseries.find((s) => s.metadataValues![0]!.value === 'green')!;
    expect(slowest.data![0]!.maximum).toBeGreaterThanOrEqual(80);
  });

  it('refuses what Azure Monitor refuses: an interval it does not support, a metric the resource has not', async () => {
    const timespan = { startTime: new Date(Date.now() - 600_000), endTime: new Date() };
    await expect(
      monitor.queryResource(endpointId, ['RequestsPerMinute'], { timespan, granularity: 'PT3M' }),
    ).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringContaining('Invalid time grain duration: PT3M, supported ones are: 00:01:00,00:05:00'),
    });
    await expect(monitor.queryResource(endpointId, ['RequestsPerSecond'], { timespan })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringContaining('metric: RequestsPerSecond'),
    });
    await expect(
      monitor.queryResource(endpointId, ['RequestLatency'], { timespan, filter: "statusCode eq '*'" }),
    ).rejects.toMatchObject({ statusCode: 400 });
    await expect(
      monitor.queryResource(`${fx.client.workspacePath}/onlineEndpoints/nowhere`, ['RequestsPerMinute'], { timespan }),
    ).rejects.toMatchObject({ statusCode: 404 });
  });

  it('keeps the counts across a restart of the workspace', async () => {
    const before = await adapter(fx).requestCounts(EP, started, new Date());
    await fx.ws.close();
    const again = await startWorkspace({ dataDir, provisioningMs: 50, retryAfterSeconds: 0 });
    try {
      const metrics = new AzureMonitorMetrics(again.credential(), {
        subscriptionId: again.subscriptionId,
        resourceGroup: again.resourceGroup,
        workspaceName: again.workspaceName,
        armEndpoint: again.armEndpoint,
        caCert: again.caCert,
      });
      expect(await metrics.requestCounts(EP, started, new Date())).toEqual(before);
    } finally {
      await again.close();
      fx = { ...fx, close: async () => fx.client.close() };
    }
  });
});

describe('minute metrics (pure)', () => {
  const store = { loadMetricMinutes: () => [], saveMetricMinutes: () => {} } as unknown as Store;
  const T0 = Date.parse('2026-12-03T10:00:00Z');
  const ID =
    '/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/ep';
  const query = (metrics: MinuteMetrics, params: Record<string, string>) =>
    metrics.query(ID, 'ep', new URLSearchParams(params), T0 + 3_600_000) as {
      interval: string;
      value: { timeseries: { metadatavalues: { value: string }[]; data: Record<string, unknown>[] }[] }[];
    };

  it('buckets requests by minute and aggregates them to the grain asked for', () => {
    const metrics = new MinuteMetrics(store);
    for (let i = 0; i < 6; i++) metrics.record('ep', 'blue', 200, 10, T0 + i * 20_000); // 3 per minute, 2 minutes
    metrics.record('ep', 'blue', 503, 10, T0 + 125_000);
    const timespan = `${new Date(T0).toISOString()}/${new Date(T0 + 300_000).toISOString()}`;
    const perMinute = query(metrics, {
      timespan,
      interval: 'PT1M',
      metricnames: 'RequestsPerMinute',
      aggregation: 'Total,Count',
    });
    expect(perMinute.value[0]!.timeseries[0]!.data).toEqual([
      { timeStamp: '2026-12-03T10:00:00.000Z', total: 3, count: 1 },
      { timeStamp: '2026-12-03T10:01:00.000Z', total: 3, count: 1 },
      { timeStamp: '2026-12-03T10:02:00.000Z', total: 1, count: 1 },
      { timeStamp: '2026-12-03T10:03:00.000Z', total: 0, count: 0 },
      { timeStamp: '2026-12-03T10:04:00.000Z', total: 0, count: 0 },
    ]);
    const fiveMinutes = query(metrics, {
      timespan,
      interval: 'PT5M',
      metricnames: 'RequestsPerMinute',
      aggregation: 'Total,Average,Maximum',
    });
    expect(fiveMinutes.interval).toBe('PT5M');
    expect(fiveMinutes.value[0]!.timeseries[0]!.data).toEqual([
      { timeStamp: '2026-12-03T10:00:00.000Z', total: 7, average: 7 / 3, maximum: 3 },
    ]);
    // A window starting mid-minute takes that whole minute: metrics have no finer grain.
    const midMinute = `${new Date(T0 + 130_000).toISOString()}/${new Date(T0 + 170_000).toISOString()}`;
    const narrow = query(metrics, {
      timespan: midMinute,
      interval: 'FULL',
      metricnames: 'RequestsPerMinute',
      aggregation: 'Total',
    });
    expect(narrow.value[0]!.timeseries[0]!.data).toEqual([{ timeStamp: '2026-12-03T10:02:00.000Z', total: 1 }]);
  });

  it('returns at most `top` time series (10 unless asked), as Azure Monitor does', () => {
    const metrics = new MinuteMetrics(store);
    for (let d = 0; d < 12; d++) metrics.record('ep', `d${String(d).padStart(2, '0')}`, 200, 5, T0);
    const timespan = `${new Date(T0).toISOString()}/${new Date(T0 + 60_000).toISOString()}`;
    const base = { timespan, metricnames: 'RequestsPerMinute', aggregation: 'Total', $filter: "deployment eq '*'" };
    expect(query(metrics, base).value[0]!.timeseries).toHaveLength(10);
    expect(query(metrics, { ...base, top: '20' }).value[0]!.timeseries).toHaveLength(12);
    const one = query(metrics, { ...base, $filter: "deployment eq 'd03'" }).value[0]!.timeseries;
    expect(one).toHaveLength(1);
    expect(one[0]!.metadatavalues).toEqual([]);
    expect(one[0]!.data[0]).toMatchObject({ total: 1 });
  });

  it('parses $filter clauses as the API documents them', () => {
    expect(parseFilter("deployment eq 'blue' and statusCodeClass eq '*'")).toEqual({
      deployment: ['blue'],
      statuscodeclass: ['*'],
    });
    expect(parseFilter("(deployment eq 'blue' or deployment eq 'green')")).toEqual({ deployment: ['blue', 'green'] });
    expect(() => parseFilter('deployment = blue')).toThrow(/Invalid \$filter/);
  });
});
