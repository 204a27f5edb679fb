/**
 * The local host serving the sample app over real HTTP, in a child process, as a user runs it:
 * routes, Event Grid, timers and a durable workflow that survives kill -9.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, repoRoot, startProcess, tempDir, type RunningProcess } from '../support/processes';

const appDir = path.join(repoRoot, 'test/fixtures/sample-app');

function startHost(dataDir: string, stateDir: string, port = '0'): Promise<RunningProcess> {
  return startProcess('dist/local/runtime/main.js', ['--app-dir', appDir, '--data-dir', dataDir, '--port', port], {
    env: { SAMPLE_STATE_DIR: stateDir, FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '4096' },
  });
}

interface Status {
  runtimeStatus: string;
  customStatus?: unknown;
  output?: unknown;
}

async function status(url: string): Promise<Status> {
  const res = await fetch(url);
  return (await res.json()) as Status;
}

const eventGridUrl = (base: string, fn: string) => `${base}/runtime/webhooks/eventgrid?functionName=${fn}`;

describe('local Functions host', () => {
  let host: RunningProcess;
  let dataDir: string;
  let stateDir: string;

  beforeAll(async () => {
    dataDir = tempDir('host');
    stateDir = tempDir('state');
    host = await startHost(dataDir, stateDir);
  });
  afterAll(async () => host?.stop());

  it('routes HTTP requests with the route prefix, literals before parameters', async () => {
    const literal = await fetch(`${host.url}/api/approvals/42/approve`, { method: 'POST' });
    expect(await literal.json()).toEqual({ matched: 'literal', id: '42' });
    const params = await fetch(`${host.url}/api/approvals/churn/7`);
    expect(await params.json()).toEqual({ matched: 'parameters', model: 'churn', version: '7' });
    const rest = await fetch(`${host.url}/api/files/a/b.txt`);
    expect(await rest.json()).toEqual({ rest: 'a/b.txt' });
    const echo = await fetch(`${host.url}/api/echo`, { method: 'POST', body: JSON.stringify({ a: 1 }) });
    expect(echo.status).toBe(201);
    expect(await echo.json()).toEqual({ received: { a: 1 } });
  });

  it('answers bad requests as the Functions host does and keeps serving', async () => {
    expect((await fetch(`${host.url}/api/nothing`)).status).toBe(404);
    expect((await fetch(`${host.url}/elsewhere`)).status).toBe(404);
    expect((await fetch(`${host.url}/api/echo`)).status).toBe(405);
    expect((await fetch(`${host.url}/api/boom`)).status).toBe(500);
    const big = await fetch(`${host.url}/api/echo`, { method: 'POST', body: 'x'.repeat(5000) });
    expect(big.status).toBe(413);
    const ok = await fetch(`${host.url}/api/echo`, { method: 'POST', body: '{"still":"up"}' });
    expect(ok.status).toBe(201);
  });

  it('handles the Event Grid handshake, deliveries and bad input without starting anything', async () => {
    const validation = await fetch(eventGridUrl(host.url, 'onSampleEvent'), {
      method: 'POST',
      headers: { 'aeg-event-type': 'SubscriptionValidation' },
      body: JSON.stringify([
        { id: 'v', eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: { validationCode: 'code-1' } },
      ]),
    });
    expect(await validation.json()).toEqual({ validationResponse: 'code-1' });

    const bad: { headers: Record<string, string>; body: string; status: number }[] = [
      { headers: {}, body: '[]', status: 400 },
      { headers: { 'aeg-event-type': 'Notification' }, body: '[{"id":', status: 400 },
    ];
    for (const b of bad) {
      const res = await fetch(eventGridUrl(host.url, 'onSampleEvent'), {
        method: 'POST',
        headers: b.headers,
        body: b.body,
      });
      expect(res.status).toBe(b.status);
    }
    const unknown = await fetch(eventGridUrl(host.url, 'nope'), {
      method: 'POST',
      headers: { 'aeg-event-type': 'Notification' },
      body: '[]',
    });
    expect(unknown.status).toBe(404);
    const failing = await fetch(eventGridUrl(host.url, 'failingEventHandler'), {
      method: 'POST',
      headers: { 'aeg-event-type': 'Notification' },
      body: JSON.stringify([{ id: 'f', subject: 'fail', eventType: 'X', data: {} }]),
    });
    expect(failing.status).toBe(500);
    const list = await fetch(`${host.url}/runtime/webhooks/durabletask/instances`);
    expect(await list.json()).toEqual([]);
  });

  it('starts one orchestration per event id however often Event Grid delivers it', async () => {
    const event = {
      id: 'evt-1',
      subject: 'grid',
      eventType: 'Sample.Happened',
      eventTime: new Date().toISOString(),
      data: {},
      dataVersion: '1',
    };
    const deliveries = await Promise.all(
      [1, 2, 3].map(() =>
        fetch(eventGridUrl(host.url, 'onSampleEvent'), {
          method: 'POST',
          headers: { 'aeg-event-type': 'Notification' },
          body: JSON.stringify([event]),
        }),
      ),
    );
    // A concurrent duplicate may lose the race to create the instance; Event Grid would retry it.
    expect(deliveries.some((d) => d.status === 202)).toBe(true);
    const s = await eventually(async () => {
      const st = await status(`${host.url}/runtime/webhooks/durabletask/instances/evt-1`);
      return st.customStatus === 'waiting-for-approval' ? st : undefined;
    }, 'evt-1 to wait for approval');
    expect(s.runtimeStatus).toBe('Running');
    const list = (await (await fetch(`${host.url}/runtime/webhooks/durabletask/instances`)).json()) as unknown[];
    expect(list).toHaveLength(1);
  });

  it('runs activity → retry → approval-or-timeout to completion, also after kill -9 mid-wait', async () => {
    const started = await fetch(`${host.url}/api/workflows/approvalFlow/wf-1`, {
      method: 'POST',
      body: JSON.stringify({ subject: 'wf-1' }),
    });
    expect(started.status).toBe(202);
    const links = (await started.json()) as { statusQueryGetUri: string; sendEventPostUri: string };
    await eventually(async () => {
      const st = await status(links.statusQueryGetUri);
      return st.customStatus === 'waiting-for-approval' ? st : undefined;
    }, 'wf-1 to wait for approval');

    await host.kill9();
    host = await startHost(dataDir, stateDir, new URL(host.url).port);

    const raised = await fetch(links.sendEventPostUri.replace('{eventName}', 'approval'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'ana' }),
    });
    expect(raised.status).toBe(202);
    const done = await eventually(async () => {
      const st = await status(links.statusQueryGetUri);
      return st.runtimeStatus === 'Completed' ? st : undefined;
    }, 'wf-1 to complete');
    expect(done.output).toEqual({
      prepared: { subject: 'wf-1', attempts: 2 },
      decision: { approved: true, by: 'ana' },
      recorded: true,
    });
  });

  it('takes the timeout branch when no approval arrives', async () => {
    const started = await fetch(`${host.url}/api/workflows/approvalFlow/wf-timeout`, {
      method: 'POST',
      body: JSON.stringify({ subject: 'wf-timeout', timeoutMs: 200 }),
    });
    const links = (await started.json()) as { statusQueryGetUri: string };
    const done = await eventually(async () => {
      const st = await status(links.statusQueryGetUri);
      return st.runtimeStatus === 'Completed' ? st : undefined;
    }, 'wf-timeout to complete');
    expect(done.output).toMatchObject({ decision: { approved: false, by: 'timeout' } });
  });

  it('fires timers and runs a missed occurrence as past due after a restart', async () => {
    const log = path.join(stateDir, 'heartbeat.log');
    const entries = () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { isPastDue: boolean })
        : [];
    await eventually(async () => (entries().length > 0 ? true : undefined), 'a heartbeat');
    await host.kill9();
    const before = entries().length;
    await new Promise((r) => setTimeout(r, 2500)); // the schedule fires every 2 s: let one pass while down
    host = await startHost(dataDir, stateDir, new URL(host.url).port);
    const pastDue = await eventually(
      async () =>
        entries()
          .slice(before)
          .find((e) => e.isPastDue),
      'a past-due heartbeat',
    );
    expect(pastDue.isPastDue).toBe(true);
  });
});
