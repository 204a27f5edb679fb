/**
 * The platform metrics Azure Monitor keeps for an online endpoint, kept here per minute as scoring really happens,
 * and the Azure Monitor metrics REST API over them (`GET {endpoint id}/providers/Microsoft.Insights/metrics`), so
 * `@azure/monitor-query`'s MetricsQueryClient reads the local workspace as it reads Azure.
 *
 * Sources:
 * - Metric names, units, dimensions and time grain: "Supported metrics for
 *   Microsoft.MachineLearningServices/workspaces/onlineEndpoints" (learn.microsoft.com/azure/azure-monitor/reference/
 *   supported-metrics/microsoft-machinelearningservices-workspaces-onlineendpoints-metrics) and "Monitor online
 *   endpoints" (learn.microsoft.com/azure/machine-learning/how-to-monitor-online-endpoints): `RequestsPerMinute`
 *   (Count; dimensions deployment, statusCode, statusCodeClass, modelStatusCode), `RequestLatency` and
 *   `RequestLatency_P50|P90|P95|P99` (MilliSeconds; dimension deployment), all at PT1M.
 * - Query parameters and response shape: REST spec Microsoft.Insights stable/2024-02-01 metrics_API.json (the version
 *   @azure/monitor-query 1.3 sends): `timespan` (start/end), `interval` (ISO 8601 duration or FULL, default PT1M),
 *   `metricnames`, `aggregation`, `$filter` (`dim eq 'value'`, `'*'` splits by the dimension), `top` (default 10
 *   time series).
 * - Intervals Azure refuses: any grain but PT1M, PT5M, PT15M, PT30M, PT1H, PT6H, PT12H, P1D (or FULL) is answered
 *   400 "Invalid time grain duration: PT3M, supported ones are: 00:01:00,…" (Azure/azure-libraries-for-net#495).
 * - Retention: platform metrics are kept 93 days ("Azure Monitor Metrics overview").
 * Wording is local for the other refusals (an unknown metric, aggregation or dimension), whose exact messages the
 * sources do not give; the status (400 BadRequest) is Azure's.
 *
 * Modelling choices (local): each minute of `RequestsPerMinute` is one sample (its value the requests of that minute),
 * so Total over a window is the requests in it and Count the minutes with traffic; each request is one sample of
 * `RequestLatency`; each minute's percentile is one sample of `RequestLatency_Pxx` (so a longer grain averages the
 * minutes' percentiles, as the metric's description says). Per-minute percentiles come from a log histogram whose
 * buckets are 5 % wide (the bucket's upper bound is reported). A minute is in a window when it starts at or after the
 * window's start rounded down to the minute and before its end, as minute-grained data allows. Whether Azure counts
 * mirrored copies is not established: only answered live requests are counted here.
 */
import type { Store } from './store';

export const METRICS_API_VERSIONS = ['2018-01-01', '2019-07-01', '2021-05-01', '2023-10-01', '2024-02-01'];
export const METRICS_NAMESPACE = 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints';
const MINUTE_MS = 60_000;
const RETENTION_MS = 93 * 24 * 60 * MINUTE_MS;

/** Supported grains, as ISO 8601 durations and as Azure's error names them (TimeSpan text). */
const GRAINS: [iso: string, ms: number, timeSpan: string][] = [
  ['PT1M', MINUTE_MS, '00:01:00'],
  ['PT5M', 5 * MINUTE_MS, '00:05:00'],
  ['PT15M', 15 * MINUTE_MS, '00:15:00'],
  ['PT30M', 30 * MINUTE_MS, '00:30:00'],
  ['PT1H', 60 * MINUTE_MS, '01:00:00'],
  ['PT6H', 360 * MINUTE_MS, '06:00:00'],
  ['PT12H', 720 * MINUTE_MS, '12:00:00'],
  ['P1D', 1440 * MINUTE_MS, '1.00:00:00'],
];

type Aggregation = 'Average' | 'Count' | 'Minimum' | 'Maximum' | 'Total';
const AGGREGATIONS: Aggregation[] = ['Average', 'Count', 'Minimum', 'Maximum', 'Total'];

interface MetricDefinition {
  name: string;
  localizedName: string;
  description: string;
  unit: 'Count' | 'MilliSeconds';
  dimensions: string[];
  /** The minute's samples of this metric for one deployment's record, narrowed to the dimension values given. */
  samples(record: MinuteRecord, where: (dimension: string, value: string) => boolean): number[];
  /** Dimension values the record holds, for splitting. */
  values(record: MinuteRecord, dimension: string): string[];
}

/** One deployment's requests in one minute. */
export interface MinuteRecord {
  /** HTTP status → requests answered with it. */
  statuses: Record<string, number>;
  latencySum: number;
  latencyCount: number;
  latencyMin: number;
  latencyMax: number;
  /** Log-histogram bucket index → requests. */
  histogram: Record<string, number>;
}

const BUCKET_BASE = 0.01;
const BUCKET_GROWTH = 1.05;
const bucketOf = (ms: number) =>
  ms <= BUCKET_BASE ? 0 : Math.ceil(Math.log(ms / BUCKET_BASE) / Math.log(BUCKET_GROWTH));
const bucketBound = (bucket: number) => BUCKET_BASE * BUCKET_GROWTH ** bucket;

function percentileOf(record: MinuteRecord, p: number): number | undefined {
  if (record.latencyCount === 0) return undefined;
  const rank = Math.ceil(p * record.latencyCount);
  const buckets = Object.keys(record.histogram)
    .map(Number)
    .sort((a, b) => a - b);
  let seen = 0;
  for (const bucket of buckets) {
    seen += record.histogram[bucket] ?? 0;
    if (seen >= rank) return Math.min(Number(bucketBound(bucket).toPrecision(6)), record.latencyMax);
  }
  return record.latencyMax;
}

const statusClass = (status: string) => `${status[0]}xx`;

const latencyPercentile = (p: number, label: string): MetricDefinition => ({
  name: `RequestLatency_P${label}`,
  localizedName: `Request Latency P${label}`,
  description: `The average P${label} request latency aggregated by all request latency values collected over the selected time period`,
  unit: 'MilliSeconds',
  dimensions: ['deployment'],
  samples: (record) => {
    const value = percentileOf(record, p);
    return value === undefined ? [] : [value];
  },
  values: () => [],
});

const DEFINITIONS: MetricDefinition[] = [
  {
    name: 'RequestsPerMinute',
    localizedName: 'Requests Per Minute',
    description: 'The number of requests sent to online endpoint within a minute',
    unit: 'Count',
    dimensions: ['deployment', 'statusCode', 'statusCodeClass', 'modelStatusCode'],
    samples: (record, where) => {
      let requests = 0;
      for (const [status, count] of Object.entries(record.statuses)) {
        if (
          where('statusCode', status) &&
          where('statusCodeClass', statusClass(status)) &&
          where('modelStatusCode', status)
        ) {
          requests += count;
        }
      }
      return requests > 0 ? [requests] : [];
    },
    values: (record, dimension) => {
      const statuses = Object.keys(record.statuses);
      if (dimension === 'statusCodeClass') return [...new Set(statuses.map(statusClass))];
      return statuses;
    },
  },
  {
    name: 'RequestLatency',
    localizedName: 'Request Latency',
    description: 'The average complete interval of time taken for a request to be responded in milliseconds',
    unit: 'MilliSeconds',
    dimensions: ['deployment'],
    // Each request is a sample; only the aggregates are kept, so they stand for the samples below.
    samples: () => [],
    values: () => [],
  },
  latencyPercentile(0.5, '50'),
  latencyPercentile(0.9, '90'),
  latencyPercentile(0.95, '95'),
  latencyPercentile(0.99, '99'),
];

interface Summary {
  count: number;
  total: number;
  minimum: number;
  maximum: number;
}

const emptySummary = (): Summary => ({ count: 0, total: 0, minimum: Infinity, maximum: -Infinity });

function addSamples(
  summary: Summary,
  definition: MetricDefinition,
  record: MinuteRecord,
  where: (d: string, v: string) => boolean,
) {
  if (definition.name === 'RequestLatency') {
    if (record.latencyCount === 0) return;
    summary.count += record.latencyCount;
    summary.total += record.latencySum;
    summary.minimum = Math.min(summary.minimum, record.latencyMin);
    summary.maximum = Math.max(summary.maximum, record.latencyMax);
    return;
  }
  for (const value of definition.samples(record, where)) {
    summary.count++;
    summary.total += value;
    summary.minimum = Math.min(summary.minimum, value);
    summary.maximum = Math.max(summary.maximum, value);
  }
}

export class MetricsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const badRequest = (message: string) => new MetricsError(400, 'BadRequest', message);

/** Per-minute metrics of every deployment, in memory and flushed to SQLite with the scoring stats. */
export class MinuteMetrics {
  /** `endpoint/deployment` (lower case) → minute start (ms) → record. */
  private readonly series = new Map<string, Map<number, MinuteRecord>>();
  private readonly names = new Map<string, { endpoint: string; deployment: string }>();
  private readonly dirty = new Set<string>();

  constructor(private readonly store: Store) {
    for (const row of store.loadMetricMinutes()) {
      this.seriesOf(row.endpoint, row.deployment).set(row.minute, row.record as MinuteRecord);
    }
  }

  private seriesOf(endpoint: string, deployment: string): Map<number, MinuteRecord> {
    const key = `${endpoint.toLowerCase()}/${deployment.toLowerCase()}`;
    let minutes = this.series.get(key);
    if (!minutes) {
      minutes = new Map();
      this.series.set(key, minutes);
      this.names.set(key, { endpoint, deployment });
    }
    return minutes;
  }

  /** One answered live request. */
  record(endpoint: string, deployment: string, status: number, latencyMs: number, at = Date.now()): void {
    const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    const minutes = this.seriesOf(endpoint, deployment);
    let record = minutes.get(minute);
    if (!record) {
      record = { statuses: {}, latencySum: 0, latencyCount: 0, latencyMin: Infinity, latencyMax: 0, histogram: {} };
      minutes.set(minute, record);
    }
    const code = String(status);
    record.statuses[code] = (record.statuses[code] ?? 0) + 1;
    record.latencySum += latencyMs;
    record.latencyCount++;
    record.latencyMin = Math.min(record.latencyMin, latencyMs);
    record.latencyMax = Math.max(record.latencyMax, latencyMs);
    const bucket = bucketOf(latencyMs);
    record.histogram[bucket] = (record.histogram[bucket] ?? 0) + 1;
    this.dirty.add(`${endpoint.toLowerCase()}/${deployment.toLowerCase()}/${minute}`);
  }

  flush(now = Date.now()): void {
    if (this.dirty.size === 0) return;
    const rows: { endpoint: string; deployment: string; minute: number; record: MinuteRecord }[] = [];
    for (const key of this.dirty) {
      const cut = key.lastIndexOf('/');
      const seriesKey = key.slice(0, cut);
      const minute = Number(key.slice(cut + 1));
      const record = this.series.get(seriesKey)?.get(minute);
      const [endpoint, deployment] = seriesKey.split('/') as [string, string];
      if (record) rows.push({ endpoint, deployment, minute, record });
    }
    this.dirty.clear();
    this.store.saveMetricMinutes(rows, now - RETENTION_MS);
    for (const minutes of this.series.values()) {
      for (const minute of minutes.keys()) if (minute < now - RETENTION_MS) minutes.delete(minute);
    }
  }

  /** Answers `GET {endpoint id}/providers/Microsoft.Insights/metrics` for one endpoint. */
  query(resourceId: string, endpoint: string, params: URLSearchParams, now = Date.now()): Record<string, unknown> {
    const { start, end, timespan } = parseTimespan(params.get('timespan'), now);
    const intervalText = params.get('interval') ?? 'PT1M';
    const full = intervalText.toUpperCase() === 'FULL';
    const grain = full ? undefined : GRAINS.find(([iso]) => iso === intervalText.toUpperCase());
    if (!full && !grain) {
      throw badRequest(
        `Invalid time grain duration: ${intervalText}, supported ones are: ${GRAINS.map(([, , text]) => text).join(',')}`,
      );
    }
    const requested = (params.get('metricnames') ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean);
    if (requested.length === 0) throw badRequest('metricnames: name at least one metric (local wording).');
    const definitions = requested.map((name) => {
      const definition = DEFINITIONS.find((d) => d.name.toLowerCase() === name.toLowerCase());
      if (!definition) {
        throw badRequest(
          `Failed to find metric configuration for provider: Microsoft.MachineLearningServices, resource Type: workspaces/onlineEndpoints, metric: ${name}, Valid metrics: ${DEFINITIONS.map((d) => d.name).join(',')}`,
        );
      }
      return definition;
    });
    const aggregations = (params.get('aggregation') ?? 'Average').split(',').map((text) => {
      const aggregation = AGGREGATIONS.find((a) => a.toLowerCase() === text.trim().toLowerCase());
      if (!aggregation) throw badRequest(`Invalid aggregation type: ${text} (local wording).`);
      return aggregation;
    });
    const filter = parseFilter(params.get('$filter'));
    const top = params.has('top') ? Number(params.get('top')) : 10;
    if (!Number.isInteger(top) || top < 1) throw badRequest(`top must be a positive integer (local wording).`);

    const from = Math.floor(start / MINUTE_MS) * MINUTE_MS;
    const grainMs = grain ? grain[1] : Math.max(MINUTE_MS, end - from);
    const buckets: number[] = [];
    for (let t = from; t < end; t += grainMs) buckets.push(t);
    const prefix = `${endpoint.toLowerCase()}/`;
    const deployments = [...this.series.keys()].filter((key) => key.startsWith(prefix));

    const value = definitions.map((definition) => {
      for (const dimension of Object.keys(filter)) {
        if (!definition.dimensions.some((d) => d.toLowerCase() === dimension.toLowerCase())) {
          throw badRequest(`Metric ${definition.name} has no dimension ${dimension} (local wording).`);
        }
      }
      const splitBy = definition.dimensions.filter((d) => filter[d.toLowerCase()]?.includes('*'));
      const accepts = (dimension: string, value: string) => {
        const wanted = filter[dimension.toLowerCase()];
        return !wanted || wanted.includes('*') || wanted.some((w) => w.toLowerCase() === value.toLowerCase());
      };
      // Group (deployment, minute record) pairs into time series by the split dimensions' values.
      const groups = new Map<string, { labels: Record<string, string>; points: Map<number, Summary> }>();
      for (const key of deployments) {
        const deployment = this.names.get(key)!.deployment;
        if (!accepts('deployment', deployment)) continue;
        for (const [minute, record] of this.series.get(key)!) {
          if (minute < from || minute >= end) continue;
          const bucket = from + Math.floor((minute - from) / grainMs) * grainMs;
          const combos = splitCombinations(splitBy, definition, deployment, record, accepts);
          for (const labels of combos) {
            const where = (dimension: string, v: string) =>
              labels[dimension] !== undefined
                ? labels[dimension].toLowerCase() === v.toLowerCase()
                : accepts(dimension, v);
            const groupKey = JSON.stringify(labels);
            let group = groups.get(groupKey);
            if (!group) {
              group = { labels, points: new Map() };
              groups.set(groupKey, group);
            }
            let summary = group.points.get(bucket);
            if (!summary) {
              summary = emptySummary();
              group.points.set(bucket, summary);
            }
            addSamples(summary, definition, record, where);
          }
        }
      }
      let series = [...groups.values()].filter((g) => [...g.points.values()].some((s) => s.count > 0));
      if (splitBy.length === 0 && series.length === 0) series = [{ labels: {}, points: new Map() }];
      series.sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
      series = series.slice(0, top);
      return {
        id: `${resourceId}/providers/Microsoft.Insights/metrics/${definition.name}`,
        type: 'Microsoft.Insights/metrics',
        name: { value: definition.name, localizedValue: definition.localizedName },
        displayDescription: definition.description,
        unit: definition.unit,
        timeseries: series.map((s) => ({
          metadatavalues: Object.entries(s.labels).map(([name, v]) => ({
            name: { value: name, localizedValue: name },
            value: v,
          })),
          data: buckets.map((bucket) => dataPoint(bucket, s.points.get(bucket), aggregations)),
        })),
        errorCode: 'Success',
      };
    });
    return {
      cost: 0,
      timespan,
      interval: full ? 'FULL' : grain![0],
      value,
      namespace: METRICS_NAMESPACE,
      resourceregion: 'local',
    };
  }
}

function dataPoint(bucket: number, summary: Summary | undefined, aggregations: Aggregation[]): Record<string, unknown> {
  const point: Record<string, unknown> = { timeStamp: new Date(bucket).toISOString() };
  const has = summary !== undefined && summary.count > 0;
  for (const aggregation of aggregations) {
    if (aggregation === 'Count') point.count = has ? summary.count : 0;
    else if (aggregation === 'Total') point.total = has ? summary.total : 0;
    else if (!has) continue;
    else if (aggregation === 'Average') point.average = summary.total / summary.count;
    else if (aggregation === 'Minimum') point.minimum = summary.minimum;
    else point.maximum = summary.maximum;
  }
  return point;
}

/** The label sets a deployment's minute contributes to, one per value of each split dimension. */
function splitCombinations(
  splitBy: string[],
  definition: MetricDefinition,
  deployment: string,
  record: MinuteRecord,
  accepts: (dimension: string, value: string) => boolean,
): Record<string, string>[] {
  let combos: Record<string, string>[] = [{}];
  for (const dimension of splitBy) {
    const values = dimension === 'deployment' ? [deployment] : definition.values(record, dimension);
    const next: Record<string, string>[] = [];
    for (const combo of combos)
      for (const v of values) if (accepts(dimension, v)) next.push({ ...combo, [dimension]: v });
    combos = next;
  }
  return combos;
}

/**
 * `dim eq 'value'` clauses joined by `and`; a clause may be a parenthesised `or` of values of one dimension.
 * Returns dimension (lower case) → accepted values ('*' = any, split by it).
 */
export function parseFilter(text: string | null): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!text || !text.trim()) return out;
  for (const clause of text.split(/\s+and\s+/i)) {
    const inner = clause.trim().replace(/^\((.*)\)$/, '$1');
    for (const part of inner.split(/\s+or\s+/i)) {
      const match = /^\s*([A-Za-z_][\w.]*)\s+eq\s+'([^']*)'\s*$/i.exec(part);
      if (!match) throw badRequest(`Invalid $filter clause: ${part.trim()} (local wording).`);
      const dimension = match[1]!.toLowerCase();
      (out[dimension] ??= []).push(match[2]!);
    }
  }
  return out;
}

/** `start/end`, `start/duration`, `duration/end` or a duration ending now (ISO 8601). */
export function parseTimespan(text: string | null, now: number): { start: number; end: number; timespan: string } {
  if (!text) {
    const start = now - 60 * MINUTE_MS;
    return { start, end: now, timespan: `${new Date(start).toISOString()}/${new Date(now).toISOString()}` };
  }
  const [a, b] = text.split('/');
  const time = (s: string | undefined) => (s && !/^P/i.test(s) ? Date.parse(s) : Number.NaN);
  const duration = (s: string | undefined) => (s && /^P/i.test(s) ? durationMs(s) : Number.NaN);
  let start: number;
  let end: number;
  if (b === undefined) {
    end = now;
    start = now - duration(a);
  } else if (Number.isFinite(time(a)) && Number.isFinite(time(b))) {
    start = time(a);
    end = time(b);
  } else if (Number.isFinite(time(a))) {
    start = time(a);
    end = start + duration(b);
  } else {
    end = time(b);
    start = end - duration(a);
  }
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw badRequest(`Invalid timespan: ${text} (local wording).`);
  if (start >= end) throw badRequest(`Invalid timespan: ${text}: the start must be before the end (local wording).`);
  return { start, end, timespan: text };
}

function durationMs(text: string): number {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(text);
  if (!match || text.toUpperCase() === 'P' || text.toUpperCase().endsWith('T')) return Number.NaN;
  const [, d, h, m, s] = match;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(m ?? 0)) * MINUTE_MS + Number(s ?? 0) * 1000;
}
