import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceRestClient } from '../../local/workspace/client';
import type { LocalWorkspace } from '../../local/workspace/index';
import { parseArgs } from '../../local/workspace/main';
import { removeTempDirs, rest, start } from './helpers';

let ws: LocalWorkspace;
let raw: WorkspaceRestClient;

beforeAll(async () => {
  ws = await start();
  raw = rest(ws);
});

afterAll(async () => {
  raw.close();
  await ws.close();
  removeTempDirs();
});

const admin = (method: string, path: string, body?: unknown) =>
  raw.request(method, ws.adminUrl(path), { body, token: null });

describe('admin surface under /_local', () => {
  it('lists its routes and reports health and connection info', async () => {
    expect((await admin('GET', '')).body.routes.length).toBeGreaterThan(5);
    expect((await admin('GET', 'health')).body).toEqual({ status: 'ok' });
    const info = await admin('GET', 'info');
    expect(info.body).toMatchObject({ armEndpoint: ws.armEndpoint, token: ws.token, caCertPath: ws.caCertPath });
    const unknown = await admin('GET', 'nope');
    expect(unknown.status).toBe(404);
    expect((await raw.request('GET', '/elsewhere', { token: null })).status).toBe(404);
  });

  it('filters the ARM request log to count writes per rollout', async () => {
    await admin('DELETE', 'requests');
    await raw.arm('PUT', '/models/log-model', { properties: {} });
    await raw.arm('GET', '/models/log-model');
    await raw.arm('PUT', '/models/log-model/versions/1', {
      properties: { modelUri: 'azureml://datastores/x/paths/y' },
    });
    const writes = await admin('GET', 'requests?writes=true&path=/models/log-model*');
    expect(writes.body.value.map((r: { method: string; status: number }) => [r.method, r.status])).toEqual([
      ['PUT', 201],
      ['PUT', 201],
    ]);
    const gets = await admin('GET', 'requests?method=GET');
    expect(gets.body.value).toHaveLength(1);
    expect(ws.requestLog({ path: /versions\/1$/ })).toHaveLength(1);
    expect((await admin('GET', 'requests?since=-1')).status).toBe(400);
  });

  it('validates fault specs, naming the bad field, and manages faults', async () => {
    const missing = await admin('POST', 'faults', { kind: 'arm', path: '/x' });
    expect(missing.status).toBe(400);
    expect(missing.body.error.target).toBe('status');
    const badKind = await admin('POST', 'faults', { kind: 'meteor' });
    expect(badKind.status).toBe(400);
    expect(badKind.body.error.message).toMatch(/kind/);
    const created = await admin('POST', 'faults', { kind: 'scoring', deployment: 'blue', latencyMs: 10 });
    expect(created.status).toBe(201);
    expect((await admin('GET', 'faults')).body.value.map((f: { id: string }) => f.id)).toEqual([created.body.id]);
    expect((await admin('DELETE', `faults/${created.body.id}`)).status).toBe(204);
    expect((await admin('DELETE', `faults/${created.body.id}`)).status).toBe(404);
    expect((await admin('GET', 'faults')).body.value).toEqual([]);
  });

  it('generates drifted data as a data asset version and samples rows to score', async () => {
    const bad = await admin('POST', 'data/generate', { name: 'gen', drift: -1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.target).toBe('drift');
    const unknownField = await admin('POST', 'data/generate', { name: 'gen', drfit: 1 });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error.message).toMatch(/drfit/);
    const made = await admin('POST', 'data/generate', { name: 'gen', rows: 50, drift: 0.5, seed: 3, quality: 0.8 });
    expect(made.status).toBe(201);
    expect(made.body.name).toBe('1');
    expect(made.body.properties.properties).toMatchObject({ 'generator.drift': '0.5', rows: '50' });
    const again = await admin('POST', 'data/generate', { name: 'gen', rows: 50, drift: 1 });
    expect(again.body.name).toBe('2');
    const dup = await admin('POST', 'data/generate', { name: 'gen', version: '2' });
    expect(dup.status).toBe(409);
    const asset = await raw.arm('GET', '/data/gen/versions/2');
    expect(asset.body.properties.dataType).toBe('uri_file');
    const sample = await admin('POST', 'data/sample', { rows: 3, omitTarget: true, drift: 1 });
    expect(sample.body.columns).toEqual(['x1', 'x2', 'x3', 'x4']);
    expect(sample.body.data).toHaveLength(3);
  });

  it('manages event subscribers', async () => {
    const bad = await admin('POST', 'event-subscribers', { url: 'ftp://x' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.target).toBe('url');
    const ok = await admin('POST', 'event-subscribers', {
      url: 'http://127.0.0.1:9/hook',
      eventTypes: ['ModelRegistered'],
    });
    expect(ok.body.value).toEqual([
      { url: 'http://127.0.0.1:9/hook', eventTypes: ['Microsoft.MachineLearningServices.ModelRegistered'] },
    ]);
    expect((await admin('DELETE', 'event-subscribers')).status).toBe(400);
    expect(
      (await admin('DELETE', `event-subscribers?url=${encodeURIComponent('http://127.0.0.1:9/hook')}`)).status,
    ).toBe(204);
    expect((await admin('GET', 'event-subscribers')).body.value).toEqual([]);
    const events = await admin('GET', 'events?type=ModelRegistered');
    expect(events.body.value.map((e: { subject: string }) => e.subject)).toEqual(['models/log-model:1']);
  });
});

describe('CLI arguments', () => {
  it('parses options, subscribers with event types and faults', () => {
    const o = parseArgs([
      '--data-dir',
      '/tmp/x',
      '--port=8443',
      '--subscriber',
      'http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=onModelRegistered',
      '--event-types',
      'ModelRegistered',
      '--subscriber',
      'http://127.0.0.1:7071/all',
      '--fault',
      '{"kind":"provisioning","code":"OutOfQuota"}',
      '--provisioning-ms',
      '500',
    ]);
    expect(o).toMatchObject({
      dataDir: '/tmp/x',
      port: 8443,
      provisioningMs: 500,
      eventSubscribers: [
        {
          url: 'http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=onModelRegistered',
          eventTypes: ['ModelRegistered'],
        },
        { url: 'http://127.0.0.1:7071/all' },
      ],
      faults: [{ kind: 'provisioning', code: 'OutOfQuota' }],
    });
    expect(parseArgs(['--help']).help).toBe(true);
  });

  it('names the bad argument', () => {
    expect(() => parseArgs(['--port', 'x'])).toThrow(/--port/);
    expect(() => parseArgs(['--event-types', 'A'])).toThrow(/--subscriber/);
    expect(() => parseArgs(['--fault', '{"kind":"arm"}'])).toThrow(/--fault: path/);
    expect(() => parseArgs(['--frobnicate'])).toThrow(/--frobnicate/);
    expect(() => parseArgs(['--data-dir'])).toThrow(/--data-dir needs a value/);
    expect(() => parseArgs(['--also-serve', 'x/y'])).toThrow(/--also-serve needs a workspace name/);
  });

  it('serves more workspaces with --also-serve', () => {
    expect(parseArgs(['--also-serve', 'champion-prod', '--also-serve', 'champion-dev']).workspaces).toEqual([
      { workspaceName: 'champion-prod' },
      { workspaceName: 'champion-dev' },
    ]);
  });
});
