import { describe, expect, it } from 'vitest';
import { DryRunWriteRefused, readOnlyWorkspace, WORKSPACE_WRITES } from '../../lib/dry-run';
import type { MlWorkspace } from '../../lib/ports';

describe('readOnlyWorkspace', () => {
  it('refuses every write of the port and passes reads through', async () => {
    const calls: string[] = [];
    const workspace = new Proxy({} as MlWorkspace, {
      get: (_target, name) => () => {
        calls.push(String(name));
        return Promise.resolve(undefined);
      },
    });
    const reading = readOnlyWorkspace(workspace);
    for (const write of WORKSPACE_WRITES) {
      await expect((reading[write] as () => Promise<unknown>)()).rejects.toBeInstanceOf(DryRunWriteRefused);
    }
    await reading.getModelVersion('demand', '1');
    await reading.listDeployments('demand-ep');
    expect(calls).toEqual(['getModelVersion', 'listDeployments']);
  });
});
