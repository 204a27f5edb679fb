/** host.json durableTask settings and start flags the local host reads: what it refuses, naming the setting. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { replaySchema } from '../../local/runtime/durable/replay';
import { LocalFunctionsHost } from '../../local/runtime/host';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function appWith(durableTask: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'host-settings-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'host.json'), JSON.stringify({ version: '2.0', extensions: { durableTask } }));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ main: 'index.js' }));
  writeFileSync(join(dir, 'index.js'), '');
  return dir;
}

describe('host.json durableTask settings', () => {
  it('refuses overridableExistingInstanceStates other than NonRunningStates, which the engine implements', async () => {
    const appDir = appWith({ overridableExistingInstanceStates: 'AnyState' });
    await expect(LocalFunctionsHost.start({ appDir, dataDir: join(appDir, 'data'), port: 0 })).rejects.toThrow(
      'host.json durableTask.overridableExistingInstanceStates: "AnyState" is not supported',
    );
  });

  it('refuses an unknown versionFailureStrategy, naming the key', async () => {
    const appDir = appWith({ versionFailureStrategy: 'Retry' });
    await expect(LocalFunctionsHost.start({ appDir, dataDir: join(appDir, 'data'), port: 0 })).rejects.toThrow(
      'host.json durableTask.versionFailureStrategy: "Retry" is not one of Reject, Fail.',
    );
  });
});

describe('--durable-schema', () => {
  it('takes V1 to V4 (the SDK ReplaySchema numbers) and refuses anything else, naming the flag', () => {
    expect(['V1', 'v2', 'V3', 'V4'].map((v) => replaySchema(v, '--durable-schema'))).toEqual([0, 1, 2, 3]);
    expect(() => replaySchema('V5', '--durable-schema')).toThrow(
      '--durable-schema: "V5" is not one of V1, V2, V3, V4.',
    );
  });
});
