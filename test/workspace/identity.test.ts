/**
 * Who wrote a resource, as ARM records it: `systemData` comes from the caller's bearer token, never from what the
 * request says about itself (its body, tags or properties).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceRestClient } from '../../local/workspace/client';
import type { LocalWorkspace } from '../../local/workspace/index';
import { removeTempDirs, rest, start, tempDir } from './helpers';

let ws: LocalWorkspace;
let raw: WorkspaceRestClient;
const dataDir = tempDir();

beforeAll(async () => {
  ws = await start({ dataDir, user: 'carol@contoso.com' });
  raw = rest(ws);
});

afterAll(async () => {
  raw.close();
  await ws.close();
  removeTempDirs();
});

const FORGED = {
  createdBy: 'mallory@contoso.com',
  createdByType: 'User',
  createdAt: '2000-01-01T00:00:00Z',
  lastModifiedBy: 'mallory@contoso.com',
  lastModifiedByType: 'User',
  lastModifiedAt: '2000-01-01T00:00:00Z',
};

const modelVersion = (tags: Record<string, string> = {}) => ({
  properties: {
    modelUri: 'azureml://datastores/workspaceblobstore/paths/m',
    modelType: 'custom_model',
    tags: { registered_by: 'mallory@contoso.com', ...tags },
    properties: { createdBy: 'mallory@contoso.com' },
  },
  systemData: FORGED,
});

describe('systemData records the caller of each write', () => {
  it('names the user whose token registered a version, whatever its body, tags or properties claim', async () => {
    const dana = ws.tokenFor('dana@contoso.com');
    const put = await raw.arm('PUT', '/models/who/versions/1', modelVersion(), { token: dana });
    expect(put.status).toBe(201);
    expect(put.body.systemData).toMatchObject({
      createdBy: 'dana@contoso.com',
      createdByType: 'User',
      lastModifiedBy: 'dana@contoso.com',
      lastModifiedByType: 'User',
    });
    expect(put.body.systemData.createdAt).not.toBe(FORGED.createdAt);
    // The container the version created is dana's too.
    expect((await raw.arm('GET', '/models/who')).body.systemData).toMatchObject({ createdBy: 'dana@contoso.com' });
  });

  it('keeps the creator when someone else writes the resource again, and records them as its last modifier', async () => {
    const put = await raw.arm('PUT', '/models/who/versions/1', modelVersion({ stage: 'staged' }), {
      token: ws.token,
    });
    expect(put.status).toBe(200);
    expect(put.body.systemData).toMatchObject({
      createdBy: 'dana@contoso.com',
      createdByType: 'User',
      lastModifiedBy: ws.appIdentity.name,
      lastModifiedByType: 'ManagedIdentity',
    });
    expect((await raw.arm('GET', '/models/who/versions/1')).body.systemData).toEqual(put.body.systemData);
  });

  it("names the app's managed identity by an id, and the local user by name", async () => {
    expect(ws.appIdentity).toEqual({ name: expect.stringMatching(/^[0-9a-f-]{36}$/), type: 'ManagedIdentity' });
    const app = await raw.arm('PUT', '/models/by-app/versions/1', modelVersion(), { token: ws.token });
    expect(app.body.systemData).toMatchObject({ createdBy: ws.appIdentity.name, createdByType: 'ManagedIdentity' });
    const local = await raw.arm('PUT', '/models/by-user/versions/1', modelVersion(), { token: ws.userToken });
    expect(local.body.systemData).toMatchObject({ createdBy: 'carol@contoso.com', createdByType: 'User' });
    // The admin surface acts as the local user.
    await ws.generateData({ name: 'who-data', rows: 10 });
    expect((await raw.arm('GET', '/data/who-data/versions/1')).body.systemData).toMatchObject({
      createdBy: 'carol@contoso.com',
      createdByType: 'User',
    });
  });

  it('issues tokens through the admin surface, one per principal, and refuses an unknown token', async () => {
    const admin = (body: unknown) => raw.request('POST', ws.adminUrl('tokens'), { body, token: null });
    const issued = await admin({ name: 'erin@contoso.com' });
    expect(issued.status).toBe(200);
    expect(issued.body).toEqual({ token: expect.any(String), name: 'erin@contoso.com', type: 'User' });
    expect((await admin({ name: 'erin@contoso.com' })).body.token).toBe(issued.body.token);
    expect((await admin({ name: 'erin@contoso.com', type: 'Application' })).body.token).not.toBe(issued.body.token);
    expect((await admin({ name: 'er\u200Bin@contoso.com' })).status).toBe(400);
    const put = await raw.arm('PUT', '/models/by-erin/versions/1', modelVersion(), { token: issued.body.token });
    expect(put.body.systemData).toMatchObject({ createdBy: 'erin@contoso.com', createdByType: 'User' });
    const unknown = await raw.arm('GET', '/models/by-erin/versions/1', undefined, { token: 'not-a-token' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('InvalidAuthenticationToken');
  });

  it('keeps tokens and authorship across a restart', async () => {
    const erin = ws.tokenFor('erin@contoso.com');
    raw.close();
    await ws.close();
    ws = await start({ dataDir, user: 'carol@contoso.com' });
    raw = rest(ws);
    const got = await raw.arm('GET', '/models/by-erin/versions/1', undefined, { token: erin });
    expect(got.status).toBe(200);
    expect(got.body.systemData).toMatchObject({ createdBy: 'erin@contoso.com', createdByType: 'User' });
  });
});
