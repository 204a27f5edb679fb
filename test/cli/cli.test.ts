import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  api,
  ApiError,
  UnreachableError,
  type EndpointDetails,
  type Health,
  type ModelView,
  type PromotionSummary,
  type RetrainingRunView,
} from '../../cli/api';
import { COMMANDS } from '../../cli/commands';
import type { CliIo } from '../../cli/io';
import { main } from '../../cli/main';

/**
 * The CLI against a fake app: a node:http server answering the API's routes with canned bodies (the shapes of
 * functions/http.ts), recording what it was sent.
 */

const WAITING: PromotionSummary = {
  id: 'promote:demand:3',
  runtimeStatus: 'Running',
  createdTime: '2025-03-01T10:00:00.000Z',
  lastUpdatedTime: '2025-03-01T10:05:30.250Z',
  status: {
    phase: 'awaiting-approval',
    modelName: 'demand',
    modelVersion: '3',
    timeline: [
      { at: '2025-03-01T10:00:01.000Z', phase: 'preparing', note: 'evaluating demand:3 for endpoint demand' },
      { at: '2025-03-01T10:02:00.000Z', phase: 'evaluating', note: 'paired comparison against demand:2' },
      { at: '2025-03-01T10:05:30.000Z', phase: 'awaiting-approval', note: 'waiting for a decision until 2025-03-04' },
    ],
    evidence: { decision: 'win', reason: 'mse improved by 4.1% (95% CI 2.0–6.3%)', n: 1200 },
    approval: { expiresAt: '2025-03-04T10:05:30.000Z' },
  },
  result: null,
};

const PROMOTED: PromotionSummary = {
  id: 'promote:demand:2',
  runtimeStatus: 'Completed',
  createdTime: '2025-02-01T09:00:00.000Z',
  lastUpdatedTime: '2025-02-01T09:30:00.000Z',
  status: {
    phase: 'done',
    modelName: 'demand',
    modelVersion: '2',
    timeline: [
      { at: '2025-02-01T09:00:01.000Z', phase: 'preparing', note: 'evaluating demand:2 for endpoint demand' },
      { at: '2025-02-01T09:30:00.000Z', phase: 'done', note: 'promoted: green now serves 100%' },
    ],
    evidence: { decision: 'win', reason: 'mse improved by 9%', n: 800 },
  },
  result: {
    outcome: 'promoted',
    modelName: 'demand',
    modelVersion: '2',
    reason: 'green now serves 100%',
    decision: { decision: 'approve', approver: 'alice', comment: 'looks good', via: 'cli', at: '2025-02-01T09:20:00Z' },
    release: { endpointName: 'demand', slot: 'green', gitSha: 'abc1234' },
  },
};

const PROMOTIONS = [WAITING, PROMOTED];

const MODEL: ModelView = {
  name: 'demand',
  versions: [
    { version: '1', stage: 'surpassed', tags: { stage: 'surpassed' }, properties: {} },
    {
      version: '2',
      stage: 'production',
      tags: { stage: 'production', 'champion.promotion': 'promote:demand:2' },
      properties: {},
    },
    { version: '3', stage: null, tags: {}, properties: { mse: '0.4' } },
  ],
};

const ENDPOINT: EndpointDetails = {
  name: 'demand',
  provisioningState: 'Succeeded',
  traffic: { green: 100, blue: 0 },
  mirrorTraffic: { blue: 10 },
  tags: { 'git.commit': 'abc1234', 'git.repository': 'https://github.com/contoso/champion' },
  deployments: [
    { name: 'green', model: 'demand:2', provisioningState: 'Succeeded', traffic: 100, tags: {} },
    { name: 'blue', model: 'demand:3', provisioningState: 'Succeeded', traffic: 0, tags: {} },
  ],
};

const HEALTH: Health = { status: 'ok', models: ['demand', 'churn'], gitCommit: 'abc1234' };

interface Recorded {
  method: string;
  url: string;
  body: unknown;
}

let server: Server;
let url: string;
let requests: Recorded[];

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  const body: unknown = text ? JSON.parse(text) : undefined;
  requests.push({ method: req.method ?? '', url: req.url ?? '', body });
  const { pathname, searchParams } = new URL(req.url ?? '/', 'http://x');
  const parts = pathname.split('/').slice(1).map(decodeURIComponent); // ['api', 'promotions', id, ...]
  const [prefix, resource, id, sub] = parts;
  if (prefix !== 'api') return send(res, 404, { error: 'no such route' });

  if (resource === 'promotions' && id === undefined && req.method === 'GET') {
    const model = searchParams.get('model');
    return send(res, 200, model ? PROMOTIONS.filter((p) => p.status?.modelName === model) : PROMOTIONS);
  }
  if (resource === 'promotions' && id === undefined && req.method === 'POST') {
    const { modelName, modelVersion } = body as { modelName: string; modelVersion: string };
    const started = `promote:${modelName}:${modelVersion}`;
    if (modelName === 'unknown') return send(res, 404, { error: 'No promotion policy covers model "unknown".' });
    if (modelVersion === '0') {
      return send(res, 404, {
        error: `modelVersion: ${modelName} has no version "0" in the registry; nothing was started.`,
      });
    }
    if (PROMOTIONS.some((p) => p.id === started)) {
      return send(res, 409, { id: started, error: `Promotion ${started} already exists (Running).` });
    }
    return send(res, 202, { id: started, statusUrl: `${url}/api/promotions/${encodeURIComponent(started)}` });
  }
  if (resource === 'promotions' && id !== undefined && sub === undefined) {
    const found = PROMOTIONS.find((p) => p.id === id);
    return found ? send(res, 200, found) : send(res, 404, { error: `No promotion "${id}".` });
  }
  if (resource === 'promotions' && sub === 'retry' && req.method === 'POST') {
    if (id !== 'promote:demand:5') {
      return send(res, 409, {
        error: `Promotion ${id} ended promoted: it succeeded, and a promotion that succeeded is never restarted.`,
      });
    }
    const retried = `${id}:a2`;
    return send(res, 202, {
      id: retried,
      attempt: 2,
      retryOf: id,
      statusUrl: `${url}/api/promotions/${encodeURIComponent(retried)}`,
    });
  }
  if (resource === 'promotions' && (sub === 'decision' || sub === 'decisions') && req.method === 'POST') {
    if (id !== WAITING.id) {
      return send(res, 409, {
        error: `Promotion "${id}" is not waiting for a decision (phase: done).`,
      });
    }
    // An approver named "slow" stands for a promotion that had not handled the decision when the app answered.
    // Without a name the app decides as its local user ("ana" here).
    const approver = (body as { approver?: string } | undefined)?.approver ?? 'ana';
    const pending = approver === 'slow';
    return send(res, 202, pending ? { accepted: true, approver, pending: true } : { accepted: true, approver });
  }
  if (resource === 'models') {
    if (id === 'broken') return send(res, 500, { error: 'The workspace is unavailable.' });
    return id === 'demand' ? send(res, 200, MODEL) : send(res, 404, { error: `No model "${id}".` });
  }
  if (resource === 'endpoints') {
    return id === 'demand' ? send(res, 200, ENDPOINT) : send(res, 404, { error: `No endpoint "${id}".` });
  }
  if (resource === 'health') return send(res, 200, HEALTH);
  if (resource === 'retrainings') return retrainings(req.method ?? '', id, body, res);
  send(res, 404, { error: 'no such route' });
}

/** The retraining routes: "soon" asks within the cooldown, model "busy" while a run is in flight. */
function retrainings(method: string, id: string | undefined, body: unknown, res: ServerResponse): void {
  if (method === 'GET' && id === undefined) return send(res, 200, { runs: [], triggers: [] });
  if (method === 'GET' && id === BUSY_RUN.id) return send(res, 200, BUSY_RUN);
  if (method === 'GET') return send(res, 404, { error: `No retraining "${id}".` });
  const { modelName, reason } = body as { modelName: string; reason: string };
  const signal = `retrain-signal:${modelName}:manual:1`;
  if (reason === 'soon') {
    const detail = 'cooldown: the last run of demand finished less than PT1H ago';
    return send(res, 409, { id: signal, decision: { action: 'skip', reason: 'cooldown', detail }, error: detail });
  }
  if (modelName === 'busy') {
    const detail = 'single-flight: retrain:busy:1 is running';
    return send(res, 409, {
      id: signal,
      runId: BUSY_RUN.id,
      decision: { action: 'skip', reason: 'single-flight', detail },
      error: detail,
    });
  }
  const decision = { action: 'start', reason: 'manual', detail: reason };
  send(res, 202, { id: signal, decision, runId: `retrain:${modelName}:2`, statusUrl: `${url}/api/retrainings/x` });
}

const BUSY_RUN: RetrainingRunView = {
  kind: 'run',
  id: 'retrain:busy:1',
  runtimeStatus: 'Completed',
  createdTime: '2025-03-01T10:00:00.000Z',
  lastUpdatedTime: '2025-03-01T10:04:00.000Z',
  status: {
    phase: 'done',
    modelName: 'busy',
    timeline: [{ at: '2025-03-01T10:04:00.000Z', phase: 'done', note: 'registered: busy:7' }],
  },
  result: {
    outcome: 'registered',
    modelName: 'busy',
    runId: 'retrain:busy:1',
    reason: 'busy:7 registered',
    trigger: { source: 'drift-v2', reason: 'drift', triggerId: 't' },
    modelVersion: '7',
    promotionId: 'promote:busy:7',
  },
};

beforeAll(async () => {
  server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { error: String(err) }));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((done) => server.close(() => done()));
});

beforeEach(() => {
  requests = [];
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function io(env: Record<string, string> = {}): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (chunk) => void out.push(chunk),
    stderr: (chunk) => void err.push(chunk),
    fetch: (input, init) => fetch(input, init),
    env: { CHAMPION_URL: url, ...env },
  };
}

async function cli(...argv: string[]): Promise<Run> {
  const streams = io();
  const code = await main(argv, streams);
  return { code, stdout: streams.out.join(''), stderr: streams.err.join('') };
}

/** A port that refuses connections: bound, then closed. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((done) => probe.close(() => done()));
  return port;
}

describe('promotions', () => {
  it('lists id, model:version, phase or outcome, last note and update time in aligned columns', async () => {
    const run = await cli('promotions');
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ID\s+MODEL\s+PHASE\/OUTCOME\s+LAST NOTE\s+UPDATED$/);
    expect(lines[1]).toMatch(
      /^promote:demand:3\s+demand:3\s+awaiting-approval\s+waiting for a decision until 2025-03-04\s+2025-03-01 10:05:30Z$/,
    );
    expect(lines[2]).toMatch(
      /^promote:demand:2\s+demand:2\s+promoted\s+promoted: green now serves 100%\s+2025-02-01 09:30:00Z$/,
    );
    // Aligned: every column starts at the same offset on every line.
    for (const header of ['MODEL', 'PHASE/OUTCOME', 'LAST NOTE', 'UPDATED']) {
      const column = lines[0]!.indexOf(header);
      expect(lines[1]!.charAt(column - 1)).toBe(' ');
      expect(lines[1]!.charAt(column)).not.toBe(' ');
      expect(lines[2]!.charAt(column)).not.toBe(' ');
    }
  });

  it('filters by model with --model', async () => {
    const run = await cli('promotions', '--model', 'churn');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('No promotions for model churn.\n');
    expect(requests[0]?.url).toBe('/api/promotions?model=churn');
  });

  it('--json prints the raw array, nothing else', async () => {
    const run = await cli('promotions', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(PROMOTIONS);
  });
});

describe('show', () => {
  it('shows the timeline, evidence and approval links of a waiting promotion', async () => {
    const run = await cli('show', 'promote:demand:3');
    expect(run.code).toBe(0);
    expect(requests[0]?.url).toBe('/api/promotions/promote%3Ademand%3A3');
    const out = run.stdout;
    expect(out).toContain('Promotion promote:demand:3');
    expect(out).toMatch(/State\s+awaiting-approval \(Running\)/);
    expect(out).toMatch(/2025-03-01 10:00:01Z\s+preparing\s+evaluating demand:3 for endpoint demand/);
    expect(out).toMatch(/2025-03-01 10:02:00Z\s+evaluating\s+paired comparison against demand:2/);
    expect(out).toMatch(/Decision\s+win/);
    expect(out).toMatch(/Reason\s+mse improved by 4\.1%/);
    expect(out).toMatch(/n\s+1200/);
    expect(out).toContain('Waiting for a decision');
    expect(out).toMatch(/Expires\s+2025-03-04 10:05:30Z/);
    expect(out).toContain('champion approve promote:demand:3');
    expect(out).not.toMatch(/token|http:/);
    expect(out).not.toContain('Result');
  });

  it('shows the result of a finished promotion: outcome, reason, slot, git commit, and no approval links', async () => {
    const run = await cli('show', 'promote:demand:2');
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/Outcome\s+promoted/);
    expect(out).toMatch(/Reason\s+green now serves 100%/);
    expect(out).toMatch(/Slot\s+green/);
    expect(out).toMatch(/Git commit\s+abc1234/);
    expect(out).toMatch(/Decision\s+approved by alice via cli at 2025-02-01 09:20:00Z: "looks good"/);
    expect(out).not.toContain('Waiting for a decision');
    expect(out).not.toContain('token=');
  });

  it('--json prints the raw promotion', async () => {
    const run = await cli('show', 'promote:demand:3', '--json');
    expect(JSON.parse(run.stdout)).toEqual(WAITING);
  });

  it('an unknown promotion is the server 404 message, exit 1', async () => {
    const run = await cli('show', 'promote:demand:9');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('No promotion "promote:demand:9".');
  });
});

describe('models', () => {
  it('lists versions with their stage, — when there is none', async () => {
    const run = await cli('models', 'demand');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('Model demand');
    expect(lines[1]).toMatch(/^\s+VERSION\s+STAGE\s+PROMOTION$/);
    expect(lines[2]).toMatch(/^\s+1\s+surpassed\s+—$/);
    expect(lines[3]).toMatch(/^\s+2\s+production\s+promote:demand:2$/);
    expect(lines[4]).toMatch(/^\s+3\s+—\s+—$/);
  });

  it('--json prints the raw model', async () => {
    const run = await cli('--json', 'models', 'demand');
    expect(JSON.parse(run.stdout)).toEqual(MODEL);
  });

  it('an unknown model is exit 1 with the server message', async () => {
    const run = await cli('models', 'nope');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('No model "nope".');
  });
});

describe('endpoint', () => {
  it('shows deployments with traffic, model and state, the mirror traffic and the git commit', async () => {
    const run = await cli('endpoint', 'demand');
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/^Endpoint demand \(Succeeded\)\n/);
    expect(out).toMatch(/DEPLOYMENT\s+TRAFFIC\s+MODEL\s+STATE/);
    expect(out).toMatch(/green\s+100%\s+demand:2\s+Succeeded/);
    expect(out).toMatch(/blue\s+0%\s+demand:3\s+Succeeded/);
    expect(out).toMatch(/Mirror traffic\s+blue 10%/);
    expect(out).toMatch(/Git commit\s+abc1234/);
  });

  it('--json prints the raw endpoint', async () => {
    const run = await cli('endpoint', 'demand', '--json');
    expect(JSON.parse(run.stdout)).toEqual(ENDPOINT);
  });
});

describe('approve and reject', () => {
  it('approve posts the decision via cli with the approver and comment', async () => {
    const run = await cli('approve', 'promote:demand:3', '--as', 'alice', '--comment', 'error down 4%');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Approved promote:demand:3 as alice.');
    expect(requests).toEqual([
      {
        method: 'POST',
        url: '/api/promotions/promote%3Ademand%3A3/decisions',
        body: { decision: 'approve', approver: 'alice', comment: 'error down 4%', via: 'cli' },
      },
    ]);
  });

  it('reject posts a reject decision', async () => {
    const run = await cli('reject', 'promote:demand:3', '--as', 'bob');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Rejected promote:demand:3 as bob.');
    expect(requests[0]?.body).toEqual({ decision: 'reject', approver: 'bob', via: 'cli' });
  });

  it('says so when the promotion had not taken the decision yet', async () => {
    const run = await cli('approve', 'promote:demand:3', '--as', 'slow');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('it has not taken it yet');
    expect(run.stdout).toContain('champion show promote:demand:3');
    expect(run.stdout).not.toContain('Approved');
  });

  it('a server 409 is exit 1 with its message', async () => {
    const run = await cli('approve', 'promote:demand:2', '--as', 'alice');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('Promotion "promote:demand:2" is not waiting for a decision (phase: done).');
  });

  it('without --as names nobody: the app decides as who it says, and the CLI reports that', async () => {
    const run = await cli('approve', 'promote:demand:3');
    expect(run.code).toBe(0);
    expect(requests[0]?.body).toEqual({ decision: 'approve', via: 'cli' });
    expect(run.stdout).toContain('Approved promote:demand:3 as ana.');
  });
});

describe('promote', () => {
  it('starts a promotion and prints its id and status URL', async () => {
    const run = await cli('promote', 'demand', '4');
    expect(run.code).toBe(0);
    expect(requests[0]).toEqual({
      method: 'POST',
      url: '/api/promotions',
      body: { modelName: 'demand', modelVersion: '4' },
    });
    expect(run.stdout).toContain('Started promote:demand:4');
    expect(run.stdout).toContain(`Status: ${url}/api/promotions/promote%3Ademand%3A4`);
  });

  it('--json prints the raw response', async () => {
    const run = await cli('promote', 'demand', '4', '--json');
    expect(JSON.parse(run.stdout)).toEqual({
      id: 'promote:demand:4',
      statusUrl: `${url}/api/promotions/promote%3Ademand%3A4`,
    });
  });

  it('an existing promotion (409) is exit 1 with the server message', async () => {
    const run = await cli('promote', 'demand', '3');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Promotion promote:demand:3 already exists (Running).');
  });

  it('a version Azure ML could not have is a usage error, nothing sent', async () => {
    const run = await cli('promote', 'demand', '3/../4');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('argument VERSION must start with a letter or digit');
    expect(requests).toEqual([]);
  });

  it("sends a version string exactly as given; whether it is registered is the app's to say", async () => {
    const run = await cli('promote', 'demand', '0');
    expect(run.code).toBe(1);
    expect(requests[0]?.body).toEqual({ modelName: 'demand', modelVersion: '0' });
    expect(run.stderr).toContain('demand has no version "0" in the registry');
  });
});

describe('retrain and retrainings', () => {
  it('asks for a run with the reason and who asks, and names the run the guard started', async () => {
    const run = await cli('retrain', 'demand', '--reason', 'new labels', '--as', 'ana');
    expect(run.code).toBe(0);
    expect(requests[0]).toEqual({
      method: 'POST',
      url: '/api/retrainings',
      body: { modelName: 'demand', reason: 'new labels', requestedBy: 'ana' },
    });
    expect(run.stdout).toContain('Started retraining retrain:demand:2 (manual: new labels)');
  });

  it("a skip is exit 1 with the guard's reason", async () => {
    const run = await cli('retrain', 'demand', '--reason', 'soon', '--wait');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('cooldown: the last run of demand finished less than PT1H ago');
  });

  it('--wait follows the run in flight when that is why the guard skipped, and ends with its outcome', async () => {
    const run = await cli('retrain', 'busy', '--wait');
    expect(requests[0]?.body).toEqual({ modelName: 'busy', reason: 'requested from the command line' });
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')).toEqual([
      'single-flight: retrain:busy:1 is running; following retrain:busy:1.',
      'Following retraining retrain:busy:1, started 2025-03-01 10:00:00Z. Ctrl-C stops watching; the run carries on.',
      '[4:00] done               registered: busy:7',
      'Retraining retrain:busy:1 registered: busy:7 registered (after 4:00).',
      'Follow its promotion with: champion show promote:busy:7 --watch',
      '',
    ]);
  });

  it('retrainings says when there are none', async () => {
    const run = await cli('retrainings', '--model', 'demand');
    expect(run.code).toBe(0);
    expect(requests[0]?.url).toBe('/api/retrainings?model=demand');
    expect(run.stdout).toBe('No retraining runs for model demand.\n');
  });
});

describe('retry', () => {
  it('starts a new attempt and names it and the one it tries again', async () => {
    const run = await cli('retry', 'promote:demand:5');
    expect(run.code).toBe(0);
    expect(requests[0]).toMatchObject({ method: 'POST', url: '/api/promotions/promote%3Ademand%3A5/retry' });
    expect(run.stdout).toContain('Started promote:demand:5:a2 (attempt 2, after promote:demand:5)');
    expect(run.stdout).toContain('champion show promote:demand:5:a2');
  });

  it('a promotion that is not retried (409) is exit 1 with the reason', async () => {
    const run = await cli('retry', 'promote:demand:2');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('a promotion that succeeded is never restarted');
  });
});

describe('health', () => {
  it('prints the status, models and git commit', async () => {
    const run = await cli('health');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Champion at ${url}: ok`);
    expect(run.stdout).toMatch(/Models\s+demand, churn/);
    expect(run.stdout).toMatch(/Git commit\s+abc1234/);
  });

  it('--json prints the raw health', async () => {
    const run = await cli('health', '--json');
    expect(JSON.parse(run.stdout)).toEqual(HEALTH);
  });
});

describe('help and version', () => {
  it('--help and -h at the top level list every command', async () => {
    for (const flag of ['--help', '-h']) {
      const run = await cli(flag);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Usage: champion <command>');
      for (const command of COMMANDS) expect(run.stdout).toContain(command.name);
      expect(run.stdout).toContain('--version');
    }
  });

  it.each(COMMANDS.map((c) => c.name))(
    '%s --help shows usage, options and an example, and sends nothing',
    async (name) => {
      for (const flag of ['--help', '-h']) {
        const run = await cli(name, flag);
        expect(run.code).toBe(0);
        expect(run.stderr).toBe('');
        expect(run.stdout).toMatch(new RegExp(`^Usage: champion ${name}\\b`));
        expect(run.stdout).toContain('Options:');
        expect(run.stdout).toContain('--json');
        expect(run.stdout).toContain('--url URL');
        expect(run.stdout).toMatch(new RegExp(`Examples?:\\n  champion ${name}\\b`));
      }
      expect(requests).toEqual([]);
    },
  );

  it('--version prints the version from package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    const run = await cli('--version');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`champion ${version}\n`);
  });
});

describe('usage errors', () => {
  it('an unknown command is exit 2 naming it, with the top-level usage', async () => {
    const run = await cli('promotionz');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown command 'promotionz' (did you mean 'promotions'?)");
    expect(run.stderr).toContain('Usage: champion <command>');
    expect(run.stdout).toBe('');
  });

  it('no command is exit 2', async () => {
    const run = await cli();
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('missing command');
  });

  it('a missing argument is exit 2 naming it, with the command usage', async () => {
    const run = await cli('show');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('missing argument ID');
    expect(run.stderr).toContain('Usage: champion show ID');
    expect(requests).toEqual([]);
  });

  it('an unknown option is exit 2 naming it', async () => {
    const run = await cli('models', 'demand', '--stage');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown option '--stage'");
    expect(run.stderr).toContain('Usage: champion models NAME');
  });

  it('an option without its value is exit 2 naming it', async () => {
    const run = await cli('promotions', '--model');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('option --model needs a value');
  });

  it('an extra argument is exit 2 naming it', async () => {
    const run = await cli('health', 'now');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unexpected argument 'now'");
  });

  it('a bad --url is exit 2', async () => {
    const run = await cli('health', '--url', 'not a url');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--url: not a URL: 'not a url'");
  });
});

describe('the app', () => {
  it('--url overrides CHAMPION_URL, before or after the command', async () => {
    const port = await closedPort();
    const streams = io({ CHAMPION_URL: `http://127.0.0.1:${port}` });
    expect(await main(['--url', url, 'health'], streams)).toBe(0);
    expect(await main(['health', `--url=${url}/`], streams)).toBe(0);
    expect(requests.map((r) => r.url)).toEqual(['/api/health', '/api/health']);
  });

  it('connection refused is "Cannot reach Champion", exit 1', async () => {
    const port = await closedPort();
    const run = await cli('promotions', '--url', `http://127.0.0.1:${port}`);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`Cannot reach Champion at http://127.0.0.1:${port}: is it running? (npm start)\n`);
  });

  it('a server 500 is exit 1 with its error message', async () => {
    const run = await cli('models', 'broken');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('champion: The workspace is unavailable. (HTTP 500)\n');
  });
});

describe('api client', () => {
  it('has a typed method for every route, URL-encoding ids', async () => {
    const client = api(`${url}/`, io());
    expect(client.baseUrl).toBe(url);
    expect(await client.listPromotions()).toEqual(PROMOTIONS);
    expect(await client.listPromotions({ model: 'demand' })).toEqual(PROMOTIONS);
    expect(await client.getPromotion('promote:demand:3')).toEqual(WAITING);
    expect(await client.startPromotion({ modelName: 'demand', modelVersion: '5' })).toMatchObject({
      id: 'promote:demand:5',
    });
    expect(await client.decide('promote:demand:3', { decision: 'approve', approver: 'a', token: 't/1' })).toEqual({
      accepted: true,
      approver: 'a',
    });
    expect(await client.retryPromotion('promote:demand:5')).toMatchObject({ id: 'promote:demand:5:a2', attempt: 2 });
    expect(await client.getModel('demand')).toEqual(MODEL);
    expect(await client.getEndpoint('demand')).toEqual(ENDPOINT);
    expect(await client.health()).toEqual(HEALTH);
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /api/promotions',
      'GET /api/promotions?model=demand',
      'GET /api/promotions/promote%3Ademand%3A3',
      'POST /api/promotions',
      'POST /api/promotions/promote%3Ademand%3A3/decision',
      'POST /api/promotions/promote%3Ademand%3A5/retry',
      'GET /api/models/demand',
      'GET /api/endpoints/demand',
      'GET /api/health',
    ]);
    // The token goes in the body, never in a URL that is logged.
    expect(requests[4]?.body).toEqual({ decision: 'approve', approver: 'a', token: 't/1', via: 'cli' });
  });

  it('throws ApiError with the status and the server message, and the 409 body', async () => {
    const err = await api(url, io())
      .startPromotion({ modelName: 'demand', modelVersion: '3' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({
      status: 409,
      message: 'Promotion promote:demand:3 already exists (Running).',
      body: { id: 'promote:demand:3' },
    });
  });

  it('throws UnreachableError when nothing listens', async () => {
    const port = await closedPort();
    const err = await api(`http://127.0.0.1:${port}`, io())
      .health()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err).toMatchObject({ code: 'ECONNREFUSED' });
  });
});
