import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient, OrchestrationContext } from 'durable-functions';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientBindingData, handleDurableHttp } from '../../local/runtime/durable/http-api';
import { readInstancePage } from '../../lib/promotion-list';
import { Registry, startEngine, type TestEngine } from './helpers';

/**
 * The HTTP surface driven by the real durable-functions DurableClient (rpcBaseUrl mode) and by plain fetch
 * against the createCheckStatusResponse links.
 */

const PREFIX = '/runtime/webhooks/durabletask/';
let t: TestEngine;
let server: Server;
let origin: string;
let pageSize = 100;

function registry(): Registry {
  let rewindable = 0;
  return new Registry()
    .activity('Upper', (s) => String(s).toUpperCase())
    .activity('FailsOnce', () => {
      rewindable++;
      if (rewindable === 1) throw new Error('first run fails');
      return 'second run ok';
    })
    .orchestration('Upper', function* (context: OrchestrationContext) {
      return yield context.df.callActivity('Upper', context.df.getInput());
    })
    .orchestration('WaitFor', function* (context: OrchestrationContext) {
      context.df.setCustomStatus('waiting');
      return yield context.df.waitForExternalEvent('Proceed');
    })
    .orchestration('Rewindable', function* (context: OrchestrationContext) {
      return yield context.df.callActivity('FailsOnce');
    })
    .entity('Tally', (context: df.EntityContext<{ count: number }>) => {
      const state = context.df.getState(() => ({ count: 0 })) ?? { count: 0 };
      state.count += context.df.getInput<number>() ?? 0;
      context.df.setState(state);
    })
    .orchestration('Tally', function* (context: OrchestrationContext) {
      yield context.df.callEntity(new df.EntityId('Tally', 'models'), 'add', 3);
      return 'done';
    });
}

beforeEach(async () => {
  t = startEngine(registry());
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!url.pathname.startsWith(PREFIX)) {
        res.writeHead(404).end();
        return;
      }
      void handleDurableHttp(
        t.engine,
        {
          method: req.method ?? 'GET',
          path: url.pathname.slice(PREFIX.length),
          query: url.searchParams,
          body: Buffer.concat(chunks).toString('utf8'),
          origin,
          headers: req.headers,
        },
        { defaultPageSize: pageSize },
      ).then((r) => {
        res.writeHead(r.status, r.headers);
        res.end(r.body === undefined ? undefined : JSON.stringify(r.body));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  pageSize = 100;
  await new Promise((r) => server.close(r));
  await t.close();
});

function client(): DurableClient {
  const input = df.input.durableClient();
  const context = new InvocationContext({ functionName: 'client', options: { extraInputs: [input] } });
  context.extraInputs.set(input, clientBindingData(origin, 'TestHub'));
  return df.getClient(context);
}

describe('durable-functions client over rpcBaseUrl', () => {
  it('starts an orchestration and reads its status, input, output and history', async () => {
    const c = client();
    const id = await c.startNew('Upper', { input: 'hello' });
    await t.engine.waitForCompletion(id);
    const status = await c.getStatus(id, { showHistory: true, showHistoryOutput: true });
    expect(status).toMatchObject({
      name: 'Upper',
      instanceId: id,
      runtimeStatus: 'Completed',
      input: 'hello',
      output: 'HELLO',
    });
    expect(status.createdTime).toBeInstanceOf(Date);
    expect((status.history as { EventType: string }[]).map((e) => e.EventType)).toEqual([
      'ExecutionStarted',
      'TaskCompleted',
      'ExecutionCompleted',
    ]);
  });

  it("starts an instance at the version startNew names (the client's `version` query parameter)", async () => {
    await t.close();
    t = startEngine(registry(), { versioning: { defaultVersion: '1', matchStrategy: 'None' } });
    const c = client();
    const pinned = await c.startNew('Upper', { input: 'a', version: '0.7' });
    const plain = await c.startNew('Upper', { input: 'b' });
    await t.engine.waitForCompletion(pinned);
    await t.engine.waitForCompletion(plain);
    const versionOf = async (id: string) =>
      (await t.engine.exportHistory(id))!.history.find((e) => e.EventType === 0)?.Version;
    expect(await versionOf(pinned)).toBe('0.7');
    expect(await versionOf(plain)).toBe('1');
  });

  it('uses the given instance id and rejects a duplicate while it runs', async () => {
    const c = client();
    expect(await c.startNew('WaitFor', { instanceId: 'fixed-id' })).toBe('fixed-id');
    await expect(c.startNew('WaitFor', { instanceId: 'fixed-id' })).rejects.toThrow(/409/);
    await expect(c.startNew('NoSuchOrchestrator')).rejects.toThrow(/400/);
    await expect(c.getStatus('missing')).rejects.toThrow(/404/);
  });

  it('raises events, and maps unknown (404) and finished (410) instances like the extension', async () => {
    const c = client();
    const id = await c.startNew('WaitFor');
    await t.engine.whenIdle();
    expect((await c.getStatus(id)).customStatus).toBe('waiting');
    await c.raiseEvent(id, 'Proceed', { ok: true });
    expect((await t.engine.waitForCompletion(id)).output).toEqual({ ok: true });
    await expect(c.raiseEvent('missing', 'Proceed', 1)).rejects.toThrow("No instance with ID 'missing' found.");
    await expect(c.raiseEvent(id, 'Proceed', 1)).resolves.toBeUndefined(); // 410: the client treats it as done
  });

  it('suspends, resumes and terminates', async () => {
    const c = client();
    const id = await c.startNew('WaitFor');
    await c.suspend(id, 'pause');
    await t.engine.whenIdle();
    expect((await c.getStatus(id)).runtimeStatus).toBe('Suspended');
    await c.resume(id, 'go on');
    await t.engine.whenIdle();
    expect((await c.getStatus(id)).runtimeStatus).toBe('Running');
    await c.terminate(id, 'enough');
    const s = await t.engine.waitForCompletion(id);
    expect(s).toMatchObject({ runtimeStatus: 'Terminated', output: 'enough' });
    await expect(c.terminate('missing', 'x')).rejects.toThrow(/No instance/);
  });

  it('queries by status and follows x-ms-continuation-token pages', async () => {
    pageSize = 2;
    const c = client();
    for (let i = 0; i < 5; i++) await c.startNew('Upper', { instanceId: `q-${i}`, input: `v${i}` });
    await c.startNew('WaitFor', { instanceId: 'q-waiting' });
    await t.engine.whenIdle();
    const completed = await c.getStatusBy({ runtimeStatus: [df.OrchestrationRuntimeStatus.Completed] });
    expect(completed.map((s) => s.instanceId).sort()).toEqual(['q-0', 'q-1', 'q-2', 'q-3', 'q-4']);
    const all = await c.getStatusAll();
    expect(all).toHaveLength(6);
  });

  it('reads one page at a time by id prefix through the binding (the promotion list), token to token', async () => {
    const input = df.input.durableClient();
    const context = new InvocationContext({ functionName: 'list', options: { extraInputs: [input] } });
    context.extraInputs.set(input, clientBindingData(origin, 'TestHub'));
    const c = client();
    for (let i = 0; i < 5; i++) await c.startNew('Upper', { instanceId: `promote:m:${i}`, input: `v${i}` });
    await c.startNew('Upper', { instanceId: 'promote:other:1', input: 'x' });
    await c.startNew('Upper', { instanceId: 'retrain:m', input: 'y' });
    await t.engine.whenIdle();
    const seen: string[] = [];
    let continuationToken: string | undefined;
    let pages = 0;
    do {
      const page = await readInstancePage(context, { instanceIdPrefix: 'promote:m:', top: 2, continuationToken });
      expect(page.instances.length).toBeLessThanOrEqual(2);
      seen.push(...page.instances.map((s) => s.instanceId));
      continuationToken = page.continuationToken;
      pages++;
    } while (continuationToken);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4].map((i) => `promote:m:${i}`));
  });

  it('purges one instance or many', async () => {
    const c = client();
    const a = await c.startNew('Upper', { input: 'a' });
    const b = await c.startNew('Upper', { input: 'b' });
    await t.engine.waitForCompletion(a);
    await t.engine.waitForCompletion(b);
    expect((await c.purgeInstanceHistory(a)).instancesDeleted).toBe(1);
    expect((await c.purgeInstanceHistory(a)).instancesDeleted).toBe(0);
    const many = await c.purgeInstanceHistoryBy({
      createdTimeFrom: new Date(0),
      runtimeStatus: [df.OrchestrationRuntimeStatus.Completed],
    });
    expect(many.instancesDeleted).toBe(1);
  });

  it('rewinds a failed instance so the failed activity runs again', async () => {
    const c = client();
    const id = await c.startNew('Rewindable');
    expect((await t.engine.waitForCompletion(id)).runtimeStatus).toBe('Failed');
    await c.rewind(id, 'fixed the bug');
    const status = await t.engine.waitForCompletion(id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'second run ok' });
    await expect(c.rewind(id, 'again')).rejects.toThrow(/only supported on failed/);
  });

  it('waitForCompletionOrCreateCheckStatusResponse returns the output once done', async () => {
    const c = client();
    const id = await c.startNew('Upper', { input: 'wait' });
    const request = new HttpRequest({ url: `${origin}/api/start`, method: 'POST' });
    const response = await c.waitForCompletionOrCreateCheckStatusResponse(request, id, {
      timeoutInMilliseconds: 5000,
      retryIntervalInMilliseconds: 10,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toBe('WAIT');
  });
});

describe('public management API behind createCheckStatusResponse', () => {
  async function links(id: string): Promise<Record<string, string>> {
    const request = new HttpRequest({ url: `${origin}/api/orchestrators/WaitFor`, method: 'POST' });
    const response = client().createCheckStatusResponse(request, id);
    expect(response.status).toBe(202);
    return (await response.json()) as Record<string, string>;
  }

  it('serves status (202 + Location while running, 200 when done), events, terminate and purge', async () => {
    const id = await t.engine.startNew('WaitFor', { instanceId: 'public-1' });
    const l = await links(id);
    expect(l.statusQueryGetUri).toBe(
      `${origin}/runtime/webhooks/durabletask/instances/public-1?taskHub=TestHub&connection=Storage`,
    );

    const running = await fetch(l.statusQueryGetUri!);
    expect(running.status).toBe(202);
    expect(running.headers.get('location')).toBe(l.statusQueryGetUri);
    expect(await running.json()).toMatchObject({
      instanceId: 'public-1',
      runtimeStatus: expect.stringMatching(/Pending|Running/),
    });

    const bad = await fetch(l.sendEventPostUri!.replace('{eventName}', 'Proceed'), { method: 'POST', body: '{nope' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/not valid JSON/);

    const raised = await fetch(l.sendEventPostUri!.replace('{eventName}', 'Proceed'), {
      method: 'POST',
      body: JSON.stringify('approved'),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(raised.status).toBe(202);
    await t.engine.waitForCompletion(id);
    const done = await fetch(l.statusQueryGetUri!);
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ runtimeStatus: 'Completed', output: 'approved' });

    const gone = await fetch(l.terminatePostUri!.replace('{text}', 'late'), { method: 'POST' });
    expect(gone.status).toBe(410);
    expect((await fetch(l.purgeHistoryDeleteUri!, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(l.statusQueryGetUri!)).status).toBe(404);
  });

  it('terminates, suspends and resumes through the management links', async () => {
    const id = await t.engine.startNew('WaitFor', { instanceId: 'public-2' });
    const l = await links(id);
    expect((await fetch(l.suspendPostUri!.replace('{text}', 'pause'), { method: 'POST' })).status).toBe(202);
    await t.engine.whenIdle();
    expect((await t.engine.getStatus(id))!.runtimeStatus).toBe('Suspended');
    expect((await fetch(l.resumePostUri!.replace('{text}', 'resume'), { method: 'POST' })).status).toBe(202);
    expect((await fetch(l.terminatePostUri!.replace('{text}', 'stop%20now'), { method: 'POST' })).status).toBe(202);
    expect(await t.engine.waitForCompletion(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop now' });
  });

  it('starts orchestrations on the public API and reports unknown routes', async () => {
    const start = await fetch(`${origin}/runtime/webhooks/durabletask/orchestrators/Upper/pub-3?taskHub=TestHub`, {
      method: 'POST',
      body: JSON.stringify('abc'),
    });
    expect(start.status).toBe(202);
    const payload = (await start.json()) as Record<string, string>;
    expect(payload.id).toBe('pub-3');
    expect(start.headers.get('location')).toBe(payload.statusQueryGetUri);
    await t.engine.waitForCompletion('pub-3');
    const restarted = await fetch(payload.restartPostUri!, { method: 'POST' });
    expect(restarted.status).toBe(202);
    const newId = ((await restarted.json()) as { id: string }).id;
    expect(newId).not.toBe('pub-3');
    expect((await t.engine.waitForCompletion(newId)).output).toBe('ABC');

    const page = await fetch(`${origin}/runtime/webhooks/durabletask/instances?top=1`);
    expect(page.status).toBe(200);
    expect((await page.json()) as unknown[]).toHaveLength(1);
    expect(page.headers.get('x-ms-continuation-token')).toBeTruthy();

    expect((await fetch(`${origin}/runtime/webhooks/durabletask/instances/nope`)).status).toBe(404);
    expect((await fetch(`${origin}/runtime/webhooks/durabletask/whatever`)).status).toBe(404);
    expect((await fetch(`${origin}/runtime/webhooks/durabletask/entities/counter`, { method: 'POST' })).status).toBe(
      501,
    );
    expect((await fetch(`${origin}/runtime/webhooks/durabletask/entities/counter/1`, { method: 'POST' })).status).toBe(
      400,
    );
    expect((await fetch(`${origin}/runtime/webhooks/durabletask/instances?runtimeStatus=Bogus`)).status).toBe(400);
  });

  it("reads an entity's state as DurableClient.readEntityState asks for it, and answers 404 for one that has none", async () => {
    const c = client();
    expect(await c.readEntityState(new df.EntityId('Tally', 'models'))).toMatchObject({ entityExists: false });
    await t.engine.startNew('Tally', { instanceId: 'tally-1' });
    await t.engine.waitForCompletion('tally-1');
    expect(await c.readEntityState(new df.EntityId('Tally', 'models'))).toMatchObject({
      entityExists: true,
      entityState: { count: 3 },
    });
    expect((await fetch(`${origin}/runtime/webhooks/durabletask/entities/tally/other`)).status).toBe(404);
  });

  it('signals an entity as DurableClient.signalEntity does: accepted at once, run in arrival order', async () => {
    const c = client();
    await c.signalEntity(new df.EntityId('Tally', 'signalled'), 'add', 2);
    await c.signalEntity(new df.EntityId('Tally', 'signalled'), 'add', 5);
    await t.engine.whenIdle();
    expect(await c.readEntityState(new df.EntityId('Tally', 'signalled'))).toMatchObject({
      entityExists: true,
      entityState: { count: 7 },
    });
  });

  it('binding data has the shape df.getClient accepts', () => {
    const data = clientBindingData('http://127.0.0.1:7071', 'Hub') as Record<string, unknown>;
    expect(data).toMatchObject({
      taskHubName: 'Hub',
      rpcBaseUrl: 'http://127.0.0.1:7071/runtime/webhooks/durabletask/',
      baseUrl: 'http://127.0.0.1:7071/runtime/webhooks/durabletask',
      requiredQueryStringParameters: 'taskHub=Hub&connection=Storage',
      creationUrls: {
        createNewInstancePostUri:
          'http://127.0.0.1:7071/runtime/webhooks/durabletask/orchestrators/{functionName}[/{instanceId}]?taskHub=Hub&connection=Storage',
      },
    });
    expect(Object.keys(data.managementUrls as object).sort()).toEqual(
      [
        'id',
        'purgeHistoryDeleteUri',
        'restartPostUri',
        'resumePostUri',
        'rewindPostUri',
        'sendEventPostUri',
        'statusQueryGetUri',
        'suspendPostUri',
        'terminatePostUri',
      ].sort(),
    );
  });
});
