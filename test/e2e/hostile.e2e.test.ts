/**
 * Hostile input against the embedded default, over real HTTP: names that would address other resources, and,
 * after all of it, the app still takes a real registration to the approval wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedApp } from '../support/embedded';
import { eventually } from '../support/processes';

describe('hostile input on the embedded default', { timeout: 120_000 }, () => {
  let app: EmbeddedApp;
  let api: string;

  beforeAll(async () => {
    app = await EmbeddedApp.start({ provisioningMs: 100 });
    api = app.url;
  }, 60_000);
  afterAll(async () => app?.stop());

  const problemOf = async (res: Response) => ((await res.json()) as { error: string }).error;
  const armRequests = async () => ((await app.lab.admin('GET', 'requests')) as { value: unknown[] }).value.length;

  it('refuses ARM names that would address another resource, before any ARM call', async () => {
    const before = await armRequests();
    const endpoint = await fetch(`${api}/api/endpoints/x%2F..%2Fdemand-ep`);
    expect(endpoint.status).toBe(400);
    expect(await problemOf(endpoint)).toMatch(/^name: must be 3–32 characters/);
    const model = await fetch(`${api}/api/models/x%2F..%2F..%2FonlineEndpoints%2Fdemand-ep`);
    expect(model.status).toBe(400);
    const start = await fetch(`${api}/api/promotions`, {
      method: 'POST',
      body: JSON.stringify({ modelName: 'demand/../../onlineEndpoints/demand-ep', modelVersion: '1' }),
    });
    expect(start.status).toBe(400);
    expect(await problemOf(start)).toMatch(/^modelName: must start with a letter or digit/);
    expect(await armRequests()).toBe(before);
  });

  it('still takes a real registration to the approval wait afterwards', async () => {
    await app.lab.trainAndRegister({ name: 'demand', version: '1', seed: 1, registeredBy: 'dana' });
    const waiting = await eventually(
      async () => {
        const res = await fetch(`${api}/api/promotions/${encodeURIComponent('promote:demand:1')}`);
        const body = res.status === 200 ? ((await res.json()) as { status?: { phase?: string } }) : undefined;
        return body?.status?.phase === 'awaiting-approval' ? body : undefined;
      },
      'promote:demand:1 to wait for approval',
      600,
    );
    expect(waiting.status?.phase).toBe('awaiting-approval');
  });
});
