import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { OrchestrationHandler } from 'durable-functions';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DurableEngine } from '../../local/runtime/durable/engine';
import { checkDeterminism, replayHistory } from '../../local/runtime/durable/replay';
import { DurableStore } from '../../local/runtime/durable/store';
import { HistoryEventType as H } from '../../local/runtime/durable/types';
import { Registry, tempDir } from './helpers';

/**
 * Real process death: a child process runs the engine (compiled from the same sources to plain JS), the test
 * SIGKILLs it mid-flight, and an in-process engine opened on the same SQLite file finishes the work.
 */

const ROOT = resolve(__dirname, '../..');
const FIXTURES = join(__dirname, 'fixtures');
// Under node_modules so the compiled files resolve @azure/functions and durable-functions from the project.
const BUILD_DIR = join(ROOT, 'node_modules', '.cache', 'durable-kill-test', String(process.pid));
interface KillApp {
  orchestrations: Record<string, OrchestrationHandler>;
  expectedOutput: string[];
}
let app: KillApp;

beforeAll(async () => {
  app = (await import('./fixtures/kill-app.mjs')) as KillApp;
  mkdirSync(BUILD_DIR, { recursive: true });
  const tsc = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '--outDir', BUILD_DIR,
      '--rootDir', join(ROOT, 'local'), // the engine and the SQLite helper it imports (local/sqlite.ts)
      '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'ES2022',
      '--strict', '--skipLibCheck', '--esModuleInterop', '--types', 'node',
      join(ROOT, 'local/runtime/durable/index.ts'),
    ], // prettier-ignore
    { encoding: 'utf8' },
  );
  if (tsc.status !== 0) throw new Error(`compiling the engine failed:\n${tsc.stdout}${tsc.stderr}`);
});

afterAll(() => {
  rmSync(BUILD_DIR, { recursive: true, force: true });
  try {
    rmdirSync(dirname(BUILD_DIR)); // only succeeds once no other run is using it
  } catch {
    // another test process still has its build there
  }
});

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function startChild(dbFile: string, mode: 'block' | 'busy', count: number): { child: ChildProcess; lines: string[] } {
  const child = spawn(
    process.execPath,
    [join(FIXTURES, 'kill-child.mjs'), join(BUILD_DIR, 'runtime/durable'), dbFile, mode, String(count)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
    child.emit('lines');
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  child.on('exit', (code, signal) => {
    if (signal !== 'SIGKILL') lines.push(`EXITED ${code} ${stderr}`);
    child.emit('lines');
  });
  return { child, lines };
}

function waitForLine(child: ChildProcess, lines: string[], predicate: (lines: string[]) => boolean): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const check = (): void => {
      const exited = lines.find((l) => l.startsWith('EXITED'));
      if (exited) {
        child.off('lines', check);
        reject(new Error(`child exited early: ${exited}`));
      } else if (predicate(lines)) {
        child.off('lines', check);
        resolvePromise();
      }
    };
    child.on('lines', check);
    check();
  });
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}

function recover(file: string): { engine: DurableEngine; registry: Registry } {
  const registry = new Registry().activity('Step', (n) => `step-${String(n)}`);
  for (const [name, fn] of Object.entries(app.orchestrations)) registry.orchestration(name, fn);
  const store = new DurableStore(file);
  const engine = new DurableEngine(registry.engineOptions(store, { taskHub: 'KillHub' }));
  cleanups.push(async () => {
    await engine.stop();
    store.close();
  });
  engine.start();
  return { engine, registry };
}

async function expectFinished(engine: DurableEngine, registry: Registry, instanceId: string): Promise<void> {
  const status = await engine.waitForCompletion(instanceId, 20_000);
  expect(status.runtimeStatus).toBe('Completed');
  expect(status.output).toEqual(app.expectedOutput);
  const exp = (await engine.exportHistory(instanceId))!;
  const replay = await replayHistory(registry.handler('KillFlow'), exp);
  expect(checkDeterminism(exp, replay)).toMatchObject({ ok: true, pending: 0 });
  const completed = exp.history.filter((e) => e.EventType === H.TaskCompleted).map((e) => e.TaskScheduledId);
  expect(completed).toEqual([0, 1, 2, 3, 5]);
}

describe('kill -9 of a process running the engine', () => {
  it('re-runs the activity that was running and finishes the orchestration', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const file = dir.file('kill.db');
    const { child, lines } = startChild(file, 'block', 1);
    await waitForLine(child, lines, (ls) => ls.includes('BLOCKED kill-0'));
    await kill(child);
    expect(lines).toContain('STEP kill-0 2');

    const { engine, registry } = recover(file);
    await expectFinished(engine, registry, 'kill-0');
    // Step 3 was in flight when the process died: it ran again here (at-least-once); steps 1-2 did not.
    expect(registry.calls.map((c) => c.input)).toEqual([3, 4, 5]);
  });

  it('finishes every instance when killed at an arbitrary point under load', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const file = dir.file('busy.db');
    const count = 20;
    const { child, lines } = startChild(file, 'busy', count);
    await waitForLine(child, lines, (ls) => ls.filter((l) => l.startsWith('STEP')).length >= 30);
    await kill(child);

    const { engine, registry } = recover(file);
    const started = (await engine.list({ instanceIdPrefix: 'kill-' })).instances.length;
    expect(started).toBeGreaterThan(0);
    for (let i = 0; i < started; i++) await expectFinished(engine, registry, `kill-${i}`);
  });
});
