/**
 * Hostile input against the embedded default, over real HTTP: names that would address other resources, huge,
 * nested and garbled bodies and events, malformed paths — each answered 4xx or acknowledged, never 5xx — and,
 * after all of it, the app still takes a real registration to the approval wait.
 */
import http from 'node:http';
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

  const statuses: number[] = [];
  const send = async (path: string, init: RequestInit & { duplex?: 'half' } = {}) => {
    const res = await fetch(`${api}${path}`, init);
    statuses.push(res.status);
    return res;
  };
  const deliver = (body: string) =>
    send('/runtime/webhooks/eventgrid?functionName=onModelRegistered', {
      method: 'POST',
      headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
      body,
    });
  const registered = (id: string, data: unknown) =>
    JSON.stringify([
      {
        id,
        eventType: 'Microsoft.MachineLearningServices.ModelRegistered',
        subject: 'models/demand:9',
        eventTime: '2026-12-01T00:00:00Z',
        data,
      },
    ]);
  /** A body this large goes on a connection of its own: an idle keep-alive one may be closed under it. */
  const postOnNewConnection = (path: string, bytes: number) =>
    new Promise<{ status: number; error: string }>((resolve, reject) => {
      const req = http.request(
        `${api}${path}`,
        { method: 'POST', agent: false, headers: { 'content-length': bytes } },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, error: (JSON.parse(body) as { error: string }).error }),
          );
        },
      );
      req.on('error', reject);
      req.end(Buffer.alloc(bytes));
    });
  const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

  it('refuses a 90 MB body on the open link route by its declared length, and a chunked one at the limit', async () => {
    const huge = await postOnNewConnection('/api/promotions/promote%3Ademand%3A1/decision', 90 * 1024 * 1024);
    statuses.push(huge.status);
    expect(huge.status).toBe(413);
    expect(huge.error).toMatch(/^The body is larger than 65536 bytes/);
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 32; i++) controller.enqueue(new Uint8Array(32 * 1024).fill(0x20));
        controller.close();
      },
    });
    const chunked = await send('/api/promotions', { method: 'POST', body: chunks, duplex: 'half' });
    expect(chunked.status).toBe(413);
  });

  it('refuses fields that would grow the promotion past its limits, naming them', async () => {
    const comment = await send('/api/promotions/promote%3Ademand%3A1/decisions', {
      method: 'POST',
      body: JSON.stringify({ decision: 'approve', approver: 'ana', comment: 'c'.repeat(5000) }),
    });
    expect(comment.status).toBe(400);
    expect(await problemOf(comment)).toBe('comment: at most 1000 characters.');
    const approver = await send('/api/promotions/promote%3Ademand%3A1/decisions', {
      method: 'POST',
      body: JSON.stringify({ decision: 'approve', approver: 'a'.repeat(300) }),
    });
    expect(await problemOf(approver)).toBe('approver: at most 256 characters.');
    const reason = await send('/api/retrainings', {
      method: 'POST',
      body: JSON.stringify({ modelName: 'demand', reason: 'r'.repeat(2000) }),
    });
    expect(await problemOf(reason)).toBe('reason: at most 1000 characters.');
  });

  it('answers nested and garbled bodies with a 4xx', async () => {
    for (const body of [`{"modelName":${nested(10_000)},"modelVersion":"1"}`, '{"modelName":', '\xff\xfe', '[]']) {
      const res = await send('/api/promotions', { method: 'POST', body });
      expect(res.status).toBe(400);
    }
  });

  it('acknowledges unprocessable events (Event Grid would retry a failure for a day) and refuses garbled deliveries', async () => {
    expect(
      (await deliver(registered('deep', { ModelName: 'demand', ModelVersion: 9, ModelTags: nested(20_000) }))).status,
    ).toBe(202);
    expect((await deliver(registered('shallow-but-odd', { ModelName: '../demand', ModelVersion: 9 }))).status).toBe(
      202,
    );
    expect((await deliver(registered('no-data', 'x'))).status).toBe(202);
    expect((await deliver('[{"id":')).status).toBe(400);
    // Nothing was started for version 9.
    expect((await send('/api/promotions/promote%3Ademand%3A9')).status).toBe(404);
  });

  it('answers a malformed %-escape in any route with 400', async () => {
    for (const path of [
      '/api/promotions/%E0%A4%A',
      '/api/models/%',
      '/runtime/webhooks/durabletask/instances/%ZZ',
      '/admin/functions/%E0',
    ]) {
      const res = await send(path);
      expect(res.status, path).toBe(400);
      expect(await problemOf(res)).toMatch(/not a valid path/);
    }
  });

  it('answered every hostile request with a 4xx or an acknowledgement, never a 5xx', () => {
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });

  it('still takes a real registration to the approval wait afterwards', async () => {
    await app.lab.trainAndRegister({ name: 'demand', version: '1', seed: 1, as: 'dana' });
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
