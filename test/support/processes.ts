/** Starts the project's local servers as child processes, the way a user runs them, and stops them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../..');

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `champion-${prefix}-`));
}

export interface RunningProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** SIGKILL: no cleanup, as a crash. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Spawns `node script args…` and resolves once a line of its output matches `ready` (whose first group is the
 * URL). Fails with the process output if it exits first or is not ready within `timeoutMs`.
 */
/** Generous: the embedded default loads and starts a storage emulator too, and CI machines are shared. */
const READY_TIMEOUT_MS = 90_000;

export function startProcess(
  script: string,
  args: string[],
  options: { env?: Record<string, string>; ready?: RegExp; timeoutMs?: number } = {},
): Promise<RunningProcess> {
  const ready = options.ready ?? /listening on (http\S+)/i;
  const child = spawn(process.execPath, [path.join(repoRoot, script), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stopWith('SIGKILL');
      reject(new Error(`${script} was not ready within ${options.timeoutMs ?? READY_TIMEOUT_MS} ms:\n${output}`));
    }, options.timeoutMs ?? READY_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match && match[1]) {
        clearTimeout(timer);
        resolve({
          child,
          url: match[1],
          output: () => output,
          kill9: () => stopWith('SIGKILL'),
          stop: () => stopWith('SIGTERM'),
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready:\n${output}`));
    });
  });
}

/** Polls `probe` until it returns a value other than undefined; bounded in attempts, never timed in asserts. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, attempts = 300): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Gave up waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export { freePort } from '../../local/start';
