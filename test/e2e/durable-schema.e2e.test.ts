/**
 * `npm start -- --durable-schema V3`: the embedded default with a durable engine that advertises what a Durable
 * extension older than 3.13 advertises. A promotion needs critical sections (schema V4), so it must fail at once
 * with a message naming the minimum extension and bundle, before it writes anything to the workspace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../local/lab';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

interface Promotion {
  runtimeStatus: string;
  result?: unknown;
}

describe('promotion on an engine at OOProc schema V3', { timeout: 120_000 }, () => {
  let app: EmbeddedApp;
  let lab: Lab;

  beforeAll(async () => {
    app = await EmbeddedApp.start({ args: ['--durable-schema', 'V3'] });
    lab = app.lab;
  }, 60_000);
  afterAll(async () => app?.stop());

  it('fails at once naming DurableTask 3.13 and bundle 4.37.1, and changes nothing in the workspace', async () => {
    const model = await lab.train({ name: 'demand', version: '1', seed: 1 });
    const before = (await lab.admin('GET', 'requests?method=WRITE')) as { value: { seq: number }[] };
    const since = Math.max(0, ...before.value.map((r) => r.seq));
    await lab.register(model, { as: 'dana' });

    const failed = await eventually(
      async () => {
        const res = await fetch(`${app.url}/api/promotions/promote%3Ademand%3A1`);
        const p = res.status === 200 ? ((await res.json()) as Promotion) : undefined;
        return p?.runtimeStatus === 'Failed' ? p : undefined;
      },
      'the promotion to fail',
      600,
    );
    const message = String(failed.result);
    expect(message).toContain('Microsoft.Azure.WebJobs.Extensions.DurableTask 3.13.0 or later');
    expect(message).toContain('extension bundle 4.37.1 or later');
    expect(message).toContain('supports up to V3');

    // The registration is the only write since training: no tag, no endpoint, no deployment.
    const writes = (await lab.admin('GET', `requests?method=WRITE&since=${since}`)) as {
      value: { method: string; path: string }[];
    };
    expect(writes.value.map((w) => `${w.method} ${w.path.replace(/^.*\/workspaces\/[^/]+/, '')}`)).toEqual([
      'PUT /models/demand/versions/1',
    ]);
    expect(await lab.modelStages('demand')).toEqual({ '1': undefined });
  });
});
