/**
 * Orchestration versioning on the embedded engine, as the Durable Functions extension applies it (docs:
 * "Orchestration versioning in Durable Functions"): host.json defaultVersion stamps new instances, the SDK reads it
 * from ExecutionStarted as `context.df.version`, and versionMatchStrategy / versionFailureStrategy decide which
 * instances a worker runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OrchestrationContext } from 'durable-functions';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineOptions } from '../../local/runtime/durable/engine';
import { HistoryEventType as H } from '../../local/runtime/durable/types';
import {
  compareVersions,
  versioningFromHostJson,
  versionMismatch,
  type VersioningOptions,
} from '../../local/runtime/durable/versioning';
import { FLOW_VERSION, isAtLeast, type Context } from '../../orchestrations/durable';
import { Registry, startEngine, tempDir, type TestEngine } from './helpers';

let current: TestEngine | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

function run(
  registry: Registry,
  versioning: VersioningOptions,
  extra: Partial<EngineOptions> & { file?: string } = {},
) {
  current = startEngine(registry, { versioning, ...extra });
  return current;
}

describe('version comparison (the documented rules)', () => {
  it.each([
    [undefined, undefined, 0],
    ['', undefined, 0],
    [undefined, '1', -1],
    ['1', '', 1],
    ['2', '10', -1],
    ['1.0.3', '1.0.10', -1],
    ['1.0', '1.0.0', -1],
    ['2.1', '2.1', 0],
    ['v1.0-release', 'V1.0-RELEASE', 0],
    ['2025-01-01', '2025-02-01', -1],
  ])('compares %j with %j as %i', (a, b, want) => {
    expect(compareVersions(a, b)).toBe(want);
  });

  it('lets CurrentOrOlder run older and equal versions, Strict only equal ones, None any', () => {
    const worker = { defaultVersion: '2' };
    expect(versionMismatch(worker, undefined)).toBeUndefined();
    expect(versionMismatch(worker, '2')).toBeUndefined();
    expect(versionMismatch(worker, '3')).toContain("'3' does not match this worker's version '2'");
    expect(versionMismatch({ ...worker, matchStrategy: 'Strict' }, '1')).toContain('Strict');
    expect(versionMismatch({ ...worker, matchStrategy: 'None' }, '9')).toBeUndefined();
  });
});

describe('host.json versioning settings', () => {
  it('reads the three keys case-insensitively and refuses unknown values, naming the key', () => {
    expect(
      versioningFromHostJson({
        defaultVersion: '3',
        versionMatchStrategy: 'strict',
        versionFailureStrategy: 'FAIL',
      }),
    ).toEqual({ defaultVersion: '3', matchStrategy: 'Strict', failureStrategy: 'Fail' });
    expect(versioningFromHostJson({ defaultVersion: null })).toEqual({});
    expect(() => versioningFromHostJson({ versionMatchStrategy: 'Newest' })).toThrow(
      'host.json durableTask.versionMatchStrategy: "Newest" is not one of None, Strict, CurrentOrOlder.',
    );
    expect(() => versioningFromHostJson({ defaultVersion: 2 })).toThrow('durableTask.defaultVersion');
  });

  it("keeps the app's host.json defaultVersion equal to the flows' FLOW_VERSION", () => {
    const hostJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'host.json'), 'utf8')) as {
      extensions: { durableTask: Record<string, unknown> };
    };
    expect(versioningFromHostJson(hostJson.extensions.durableTask)).toEqual({
      defaultVersion: String(FLOW_VERSION),
      matchStrategy: 'CurrentOrOlder',
      failureStrategy: 'Reject',
    });
  });
});

/** Records the version each execution sees, and waits for 'go' so a test can change workers in between. */
function versionProbe(): Registry {
  return new Registry()
    .orchestration('Child', function* (context: OrchestrationContext) {
      yield context.df.createTimer(context.df.currentUtcDateTime);
      return context.df.version ?? null;
    })
    .orchestration('Probe', function* (context: OrchestrationContext) {
      const seen = [context.df.version ?? null];
      const child = yield context.df.callSubOrchestrator('Child', undefined, `${context.df.instanceId}-child`);
      const pinned = yield context.df.callSubOrchestrator('Child', undefined, `${context.df.instanceId}-pin`, '0.9');
      const generation = context.df.getInput() as number | undefined;
      if (generation === undefined) {
        context.df.continueAsNew(1);
        return undefined;
      }
      seen.push(child as string, pinned as string);
      return seen;
    });
}

describe('versions on the engine', () => {
  it('stamps ExecutionStarted with defaultVersion, exposes it as context.df.version, keeps it across continueAsNew', async () => {
    const t = run(versionProbe(), { defaultVersion: '2' });
    const id = await t.engine.startNew('Probe', { instanceId: 'p' });
    expect((await t.engine.waitForCompletion(id)).output).toEqual(['2', '2', '0.9']);
    const started = (await t.engine.exportHistory(id))!.history.find((e) => e.EventType === H.ExecutionStarted);
    expect(started?.Version).toBe('2');
  });

  it('starts an instance at the version its starter names instead of the default', async () => {
    const t = run(versionProbe(), { defaultVersion: '2', matchStrategy: 'None' });
    const id = await t.engine.startNew('Probe', { instanceId: 'p', version: '1.5' });
    expect((await t.engine.waitForCompletion(id)).output).toEqual(['1.5', '2', '0.9']);
  });

  it('carries no version when host.json sets none (context.df.version undefined)', async () => {
    // None: the child pinned at 0.9 is newer than the worker's empty version, which CurrentOrOlder would reject.
    const t = run(versionProbe(), { matchStrategy: 'None' });
    const id = await t.engine.startNew('Probe', { instanceId: 'p' });
    expect((await t.engine.waitForCompletion(id)).output).toEqual([null, null, '0.9']);
  });

  it('Reject: leaves a newer instance untouched until a worker of its version runs it', async () => {
    const dir = tempDir();
    try {
      // A version-3 instance reaches a worker whose defaultVersion is 2 (an older deployment still running).
      const older = run(versionProbe(), { defaultVersion: '2' }, { file: dir.file('d.db') });
      await older.engine.startNew('Probe', { instanceId: 'p', version: '3' });
      await older.engine.whenIdle();
      expect((await older.engine.getStatus('p'))?.runtimeStatus).toBe('Pending');
      expect((await older.engine.exportHistory('p'))?.history).toEqual([]);
      await older.close();

      const newer = run(versionProbe(), { defaultVersion: '3' }, { file: dir.file('d.db') });
      expect((await newer.engine.waitForCompletion('p')).output).toEqual(['3', '3', '0.9']);
    } finally {
      dir.remove();
    }
  });

  it('Fail: fails a newer instance at once with the mismatch', async () => {
    const t = run(versionProbe(), { defaultVersion: '2', failureStrategy: 'Fail' });
    await t.engine.startNew('Probe', { instanceId: 'p', version: '3' });
    const status = await t.engine.waitForCompletion('p');
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain("The orchestration's version '3' does not match this worker's version '2'");
  });
});

describe('a flow change guarded by the version seam', () => {
  /** Version 2 of this flow inserts an audit step; instances started on version 1 keep the old sequence. */
  function flow(): Registry {
    return new Registry()
      .activity('prepare', () => 'prepared')
      .activity('audit', () => 'audited')
      .activity('release', () => 'released')
      .orchestration('Flow', function* (context: OrchestrationContext) {
        const ctx = context as unknown as Context;
        const steps = [yield context.df.callActivity('prepare')];
        yield context.df.waitForExternalEvent('go');
        if (isAtLeast(ctx, 2)) steps.push(yield context.df.callActivity('audit'));
        steps.push(yield context.df.callActivity('release'));
        return steps;
      });
  }

  it('replays an instance started before the change on the new code, and runs new instances the new way', async () => {
    const dir = tempDir();
    try {
      const before = run(flow(), { defaultVersion: '1' }, { file: dir.file('d.db') });
      await before.engine.startNew('Flow', { instanceId: 'old' });
      await before.engine.whenIdle();
      await before.close();

      // The deployment with the change: host.json defaultVersion 2.
      const after = run(flow(), { defaultVersion: '2' }, { file: dir.file('d.db') });
      await after.engine.startNew('Flow', { instanceId: 'new' });
      await after.engine.whenIdle();
      await after.engine.raiseEvent('old', 'go', null);
      await after.engine.raiseEvent('new', 'go', null);
      const old = await after.engine.waitForCompletion('old');
      expect(old).toMatchObject({ runtimeStatus: 'Completed', output: ['prepared', 'released'] });
      expect((await after.engine.waitForCompletion('new')).output).toEqual(['prepared', 'audited', 'released']);
    } finally {
      dir.remove();
    }
  });
});
