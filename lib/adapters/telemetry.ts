/**
 * Telemetry port implementations: Application Insights when a connection string is set, one-line JSON logs
 * otherwise. applicationinsights is only loaded when it will be used: set up without a connection string it still
 * costs about 5 s at flush.
 */
import type * as AppInsights from 'applicationinsights';
import { createHash } from 'node:crypto';
import type { LifecycleEvent } from '../domain/lifecycle';
import type { LifecycleSink } from './lifecycle';
import type { Telemetry } from '../ports';

type Properties = Record<string, string | number | boolean>;
type Log = (line: string) => void;

/** The parts of the applicationinsights module used here. */
export interface AppInsightsModule {
  setup(connectionString: string): { start(): unknown };
  readonly defaultClient: Pick<AppInsights.TelemetryClient, 'trackEvent' | 'trackException' | 'trackMetric' | 'flush'>;
  /** A correlation context for an operation id (an OpenTelemetry trace id); optional in fakes. */
  startOperation?: typeof AppInsights.startOperation;
  wrapWithCorrelationContext?: typeof AppInsights.wrapWithCorrelationContext;
}

export type AppInsightsClient = AppInsightsModule['defaultClient'];

export class ConsoleTelemetry implements Telemetry {
  constructor(
    private readonly log: Log,
    private readonly now: () => Date = () => new Date(),
  ) {}

  event(name: string, properties: Properties): void {
    this.write({ time: this.now().toISOString(), type: 'event', name, properties });
  }

  exception(error: Error, properties: Record<string, string> = {}): void {
    this.write({
      time: this.now().toISOString(),
      type: 'exception',
      error: { name: error.name, message: error.message, stack: error.stack },
      properties,
    });
  }

  private write(entry: Record<string, unknown>): void {
    // JSON escapes newlines (in stacks too), so each entry stays on one line.
    this.log(JSON.stringify(entry));
  }
}

/**
 * The operation id of a flow's telemetry: Application Insights takes it from the OpenTelemetry trace id (32 hex
 * digits), so an instance id maps to one by hash; each event also names its instance in `instanceId`.
 */
export function operationIdOf(instanceId: string): string {
  return createHash('sha256').update(instanceId).digest('hex').slice(0, 32);
}

export class AppInsightsTelemetry implements Telemetry {
  constructor(
    private readonly client: AppInsightsClient,
    private readonly log: Log,
    private readonly correlation: Pick<AppInsightsModule, 'startOperation' | 'wrapWithCorrelationContext'> = {},
  ) {}

  /**
   * One lifecycle step: a custom event named by its type and a metric `Champion.LifecycleStep` (1, by step and
   * model), both in the operation of the step's instance. Flushed at once (not awaited): steps are few, and an
   * instance that stops right after its last step would otherwise leave it in the buffer.
   */
  lifecycle(event: LifecycleEvent): void {
    const { data } = event;
    const dimensions: Record<string, string> = {
      eventId: event.id,
      instanceId: data.instanceId,
      modelName: data.modelName,
      step: data.step,
      ...(data.modelVersion !== undefined ? { modelVersion: data.modelVersion } : {}),
    };
    const measurements: Record<string, number> = {};
    for (const [key, value] of Object.entries(data.details)) {
      if (key in dimensions || value === null) continue;
      dimensions[key] = String(value);
      if (typeof value === 'number' && Number.isFinite(value)) measurements[key] = value;
    }
    const track = () => {
      this.client.trackEvent({ name: event.type, time: new Date(event.time), properties: dimensions, measurements });
      this.client.trackMetric({
        name: 'Champion.LifecycleStep',
        value: 1,
        properties: { step: data.step, modelName: data.modelName },
      });
    };
    this.guard(() => {
      const { startOperation, wrapWithCorrelationContext } = this.correlation;
      const operation = startOperation?.(
        { traceId: operationIdOf(data.instanceId), spanId: operationIdOf(event.id).slice(0, 16), traceFlags: 1 },
        event.type,
      );
      if (operation && wrapWithCorrelationContext) wrapWithCorrelationContext(track, operation)();
      else track();
    });
    this.client.flush().catch((error: unknown) => {
      this.log(`telemetry: could not flush to Application Insights: ${(error as Error).message}`);
    });
  }

  event(name: string, properties: Properties): void {
    // Custom dimensions are strings; numbers also go to measurements so they can be charted.
    const dimensions: Record<string, string> = {};
    const measurements: Record<string, number> = {};
    for (const [key, value] of Object.entries(properties)) {
      dimensions[key] = String(value);
      if (typeof value === 'number' && Number.isFinite(value)) measurements[key] = value;
    }
    this.guard(() => this.client.trackEvent({ name, properties: dimensions, measurements }));
  }

  exception(error: Error, properties: Record<string, string> = {}): void {
    this.guard(() => this.client.trackException({ exception: error, properties }));
  }

  flush(): Promise<void> {
    return this.client.flush();
  }

  // Telemetry must never fail the work it describes.
  private guard(track: () => void): void {
    try {
      track();
    } catch (error) {
      this.log(`telemetry: could not send to Application Insights: ${(error as Error).message}`);
    }
  }
}

export interface TelemetryOptions {
  connectionString?: string;
  log: Log;
  /** Loads applicationinsights; replaced in tests. */
  loadAppInsights?: () => AppInsightsModule;
  now?: () => Date;
}

// applicationinsights is process-global (OpenTelemetry providers), so it is set up once per loader, i.e. per process.
const started = new WeakMap<
  () => AppInsightsModule,
  {
    connectionString: string;
    client: AppInsightsClient;
    correlation: Pick<AppInsightsModule, 'startOperation' | 'wrapWithCorrelationContext'>;
  }
>();

function requireAppInsights(): AppInsightsModule {
  // Required lazily on purpose: importing it at the top would load OpenTelemetry even when it is not configured.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('applicationinsights') as typeof AppInsights;
}

export function createTelemetry(options: TelemetryOptions): Telemetry {
  const connectionString = options.connectionString?.trim();
  if (!connectionString) return new ConsoleTelemetry(options.log, options.now);

  const load = options.loadAppInsights ?? requireAppInsights;
  let instance = started.get(load);
  if (!instance) {
    const appInsights = load();
    appInsights.setup(connectionString).start();
    instance = {
      connectionString,
      client: appInsights.defaultClient,
      correlation: {
        startOperation: appInsights.startOperation,
        wrapWithCorrelationContext: appInsights.wrapWithCorrelationContext,
      },
    };
    started.set(load, instance);
  } else if (instance.connectionString !== connectionString) {
    options.log('telemetry: Application Insights is already set up with another connection string; reusing it');
  }
  return new AppInsightsTelemetry(instance.client, options.log, instance.correlation);
}

/** Lifecycle steps to Application Insights: only when it is configured (else no sink at all). */
export class TelemetrySink implements LifecycleSink {
  readonly name = 'Application Insights';
  constructor(private readonly telemetry: AppInsightsTelemetry) {}

  async send(events: readonly LifecycleEvent[]): Promise<void> {
    for (const event of events) this.telemetry.lifecycle(event);
  }
}
