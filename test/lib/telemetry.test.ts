import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import {
  type AppInsightsModule,
  AppInsightsTelemetry,
  ConsoleTelemetry,
  createTelemetry,
} from '../../lib/adapters/telemetry';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const clock = () => NOW;
const CONNECTION_STRING = 'InstrumentationKey=00000000-0000-0000-0000-000000000000';

function fakeAppInsights() {
  const client = {
    trackEvent: vi.fn(),
    trackException: vi.fn(),
    flush: vi.fn(async () => {}),
  };
  const start = vi.fn();
  const setup = vi.fn(() => ({ start }));
  const module = { setup, defaultClient: client } as unknown as AppInsightsModule;
  const load = vi.fn(() => module);
  return { load, setup, start, client };
}

const appInsightsInCache = () =>
  Object.keys(createRequire(__filename).cache).filter((path) => /[\\/]applicationinsights[\\/]/.test(path));

describe('ConsoleTelemetry', () => {
  it('writes an event as one line of JSON', () => {
    const log = vi.fn();
    new ConsoleTelemetry(log, clock).event('promotion.started', { model: 'churn', version: 7, canary: true });

    expect(log).toHaveBeenCalledTimes(1);
    const line = log.mock.calls[0]?.[0] as string;
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      time: '2030-01-01T12:00:00.000Z',
      type: 'event',
      name: 'promotion.started',
      properties: { model: 'churn', version: 7, canary: true },
    });
  });

  it('writes an exception, stack included, on one line', () => {
    const log = vi.fn();
    const error = new TypeError('bad traffic split');
    error.stack = 'TypeError: bad traffic split\n    at rollout (rollout.ts:1:1)';
    new ConsoleTelemetry(log, clock).exception(error, { promotionId: 'p1' });

    const line = log.mock.calls[0]?.[0] as string;
    expect(line.split('\n')).toHaveLength(1);
    expect(JSON.parse(line)).toEqual({
      time: '2030-01-01T12:00:00.000Z',
      type: 'exception',
      error: { name: 'TypeError', message: 'bad traffic split', stack: error.stack },
      properties: { promotionId: 'p1' },
    });
  });

  it('writes empty properties when an exception has none', () => {
    const log = vi.fn();
    new ConsoleTelemetry(log, clock).exception(new Error('x'));
    expect(JSON.parse(log.mock.calls[0]?.[0] as string).properties).toEqual({});
  });
});

describe('createTelemetry without a connection string', () => {
  it.each([undefined, '', '   '])(
    'logs to the console and never loads applicationinsights (%j)',
    (connectionString) => {
      const { load } = fakeAppInsights();
      const log = vi.fn();
      const telemetry = createTelemetry({ connectionString, log, loadAppInsights: load, now: clock });
      telemetry.event('e', { a: 1 });

      expect(telemetry).toBeInstanceOf(ConsoleTelemetry);
      expect(load).not.toHaveBeenCalled();
      expect(JSON.parse(log.mock.calls[0]?.[0] as string)).toMatchObject({ type: 'event', name: 'e' });
    },
  );

  it('does not require the real module either', () => {
    const telemetry = createTelemetry({ log: vi.fn() });
    telemetry.event('e', {});
    telemetry.exception(new Error('x'));
    expect(telemetry).toBeInstanceOf(ConsoleTelemetry);
    // Each test file runs in its own process, and nothing here loads the real module.
    expect(appInsightsInCache()).toEqual([]);
  });
});

describe('createTelemetry with a connection string', () => {
  it('sets applicationinsights up once per process and reuses its client', () => {
    const { load, setup, start, client } = fakeAppInsights();
    const log = vi.fn();

    const first = createTelemetry({ connectionString: CONNECTION_STRING, log, loadAppInsights: load });
    const second = createTelemetry({ connectionString: ` ${CONNECTION_STRING} `, log, loadAppInsights: load });
    first.event('a', {});
    second.event('b', {});

    expect(first).toBeInstanceOf(AppInsightsTelemetry);
    expect(load).toHaveBeenCalledTimes(1);
    expect(setup).toHaveBeenCalledExactlyOnceWith(CONNECTION_STRING);
    expect(start).toHaveBeenCalledTimes(1);
    expect(client.trackEvent.mock.calls.map(([t]) => (t as { name: string }).name)).toEqual(['a', 'b']);
    expect(log).not.toHaveBeenCalled();
  });

  it('says so when asked for another connection string after setup', () => {
    const { load, setup } = fakeAppInsights();
    const log = vi.fn();
    createTelemetry({ connectionString: CONNECTION_STRING, log, loadAppInsights: load });
    createTelemetry({ connectionString: 'InstrumentationKey=other', log, loadAppInsights: load });

    expect(setup).toHaveBeenCalledTimes(1);
    expect(log).toHaveBeenCalledExactlyOnceWith(expect.stringContaining('already set up'));
  });

  it('sends events with string dimensions and numeric measurements', () => {
    const { load, client } = fakeAppInsights();
    const telemetry = createTelemetry({ connectionString: CONNECTION_STRING, log: vi.fn(), loadAppInsights: load });
    telemetry.event('rollout.step', { model: 'churn', percent: 25, canary: false, bad: Number.NaN });

    expect(client.trackEvent).toHaveBeenCalledExactlyOnceWith({
      name: 'rollout.step',
      properties: { model: 'churn', percent: '25', canary: 'false', bad: 'NaN' },
      measurements: { percent: 25 },
    });
  });

  it('sends exceptions with their properties', () => {
    const { load, client } = fakeAppInsights();
    const telemetry = createTelemetry({ connectionString: CONNECTION_STRING, log: vi.fn(), loadAppInsights: load });
    const error = new Error('OutOfQuota');
    telemetry.exception(error, { promotionId: 'p1' });
    telemetry.exception(error);

    expect(client.trackException.mock.calls).toEqual([
      [{ exception: error, properties: { promotionId: 'p1' } }],
      [{ exception: error, properties: {} }],
    ]);
  });

  it('never lets a telemetry failure reach the caller', () => {
    const { load, client } = fakeAppInsights();
    client.trackEvent.mockImplementation(() => {
      throw new Error('exporter down');
    });
    client.trackException.mockImplementation(() => {
      throw new Error('exporter down');
    });
    const log = vi.fn();
    const telemetry = createTelemetry({ connectionString: CONNECTION_STRING, log, loadAppInsights: load });

    expect(() => telemetry.event('e', {})).not.toThrow();
    expect(() => telemetry.exception(new Error('x'))).not.toThrow();
    expect(log).toHaveBeenCalledTimes(2);
    expect(log).toHaveBeenCalledWith(expect.stringContaining('exporter down'));
  });

  it('flushes through the client', async () => {
    const { load, client } = fakeAppInsights();
    const telemetry = createTelemetry({ connectionString: CONNECTION_STRING, log: vi.fn(), loadAppInsights: load });
    await (telemetry as AppInsightsTelemetry).flush();
    expect(client.flush).toHaveBeenCalledTimes(1);
  });
});
