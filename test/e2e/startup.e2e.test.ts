/**
 * Starting with a bad policy or on a port already taken: the process exits non-zero at once and says what to
 * change (the path of the bad field, the option that picks another port).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoPolicy } from '../../local/start';
import { freePort, repoRoot, tempDir } from '../support/processes';

/** Runs `node script args…` to its end; the exit code and everything it wrote. */
function run(script: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot, script), ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // A start that does not fail keeps running: stop it, so the test fails instead of hanging.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function badPolicyFile(): string {
  const policy = demoPolicy();
  const file = path.join(tempDir('policy'), 'policies.json');
  writeFileSync(file, JSON.stringify({ policies: [{ ...policy, rollout: { ...policy.rollout, steps: [50, 150] } }] }));
  return file;
}

describe('starting with something to fix', { timeout: 60_000 }, () => {
  let taken: net.Server;
  let takenPort: number;

  beforeAll(async () => {
    taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    takenPort = (taken.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it('npm start exits non-zero with the path of the bad policy field, before serving anything', async () => {
    const file = badPolicyFile();
    const port = String(await freePort());
    const { code, output } = await run('dist/local/start.js', [
      '--data-dir',
      tempDir('bad-policy'),
      '--port',
      port,
      '--workspace-port',
      String(await freePort()),
      '--policies',
      file,
    ]);
    expect(code).toBe(1);
    expect(output).toContain(`CHAMPION_POLICIES (${file}): policies[0].rollout.steps[1]`);
    expect(output).not.toMatch(/listening on/);
  });

  it('the app itself stops at start on a bad policy, wherever it is hosted', async () => {
    const { code, output } = await run(
      'dist/local/runtime/main.js',
      ['--app-dir', '.', '--port', String(await freePort())],
      {
        CHAMPION_DATA_DIR: tempDir('bad-policy-host'),
        AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
        AZURE_RESOURCE_GROUP: 'rg',
        AZUREML_WORKSPACE_NAME: 'ws',
        AZUREML_ACCESS_TOKEN: 'token',
        CHAMPION_APPROVAL_SECRET: 'x'.repeat(32),
        CHAMPION_POLICIES: `@${badPolicyFile()}`,
      },
    );
    expect(code).toBe(1);
    expect(output).toMatch(/CHAMPION_POLICIES \(.*\): policies\[0\]\.rollout\.steps\[1\]/);
    expect(output).not.toMatch(/listening on/);
  });

  it.each([
    ['--port', () => ['--port', String(takenPort), '--workspace-port', '0']],
    ['--workspace-port', () => ['--workspace-port', String(takenPort)]],
  ])('a port already taken names %s', async (option, portArgs) => {
    const args = ['--data-dir', tempDir('port'), '--port', '0', ...portArgs()];
    const { code, output } = await run('dist/local/start.js', args);
    expect(code).toBe(1);
    expect(output).toContain(`Port ${takenPort} is already in use: pass ${option} N to use another.`);
  });

  it('the local Functions host names --port when its port is taken', async () => {
    const app = path.join(repoRoot, 'test/fixtures/sample-app');
    const args = ['--app-dir', app, '--data-dir', tempDir('host-port'), '--port', String(takenPort)];
    const { code, output } = await run('dist/local/runtime/main.js', args);
    expect(code).toBe(1);
    expect(output).toContain(`Port ${takenPort} is already in use: pass --port N to use another.`);
    expect(output).not.toMatch(/listening on/);
  });
});
