import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ActivityView, DashboardData } from '../../lib/dashboard/data';
import { trafficChart, trafficPoints } from '../../lib/dashboard/traffic';
import { dashboardPage, historyPage, REFRESH_SCRIPT } from '../../lib/dashboard/view';
import { buildHistory, productionAt } from '../../lib/domain/history';
import { historyQuery } from '../../lib/history';
import { pageAccess } from '../../lib/web/access';
import { escapeHtml, html } from '../../lib/web/html';
import { renderPage } from '../../lib/web/layout';

const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>"'&`;

const promotion = (overrides: Partial<ActivityView> = {}): ActivityView => ({
  kind: 'promotion',
  id: 'promote:demand:2',
  modelName: 'demand',
  version: '2',
  runtimeStatus: 'Completed',
  createdTime: '2026-01-01T10:00:00.000Z',
  lastUpdatedTime: '2026-01-01T10:05:00.000Z',
  outcome: 'promoted',
  reason: 'green serves 100 %',
  timeline: [
    { at: '2026-01-01T10:00:00.000Z', phase: 'preparing', note: 'evaluating' },
    { at: '2026-01-01T10:03:00.000Z', phase: 'rolling-out', note: 'traffic → {"blue":90,"green":10}' },
    { at: '2026-01-01T10:04:00.000Z', phase: 'rolling-out', note: 'traffic → {"blue":0,"green":100}' },
    { at: '2026-01-01T10:05:00.000Z', phase: 'done', note: 'promoted: green serves 100 %' },
  ],
  ...overrides,
});

const data = (activities: ActivityView[] = [promotion()]): DashboardData => ({
  generatedAt: '2026-01-01T10:06:00.000Z',
  models: [
    {
      name: 'demand',
      endpointName: 'demand-ep',
      versions: [
        { name: 'demand', version: '2', id: 'v2', tags: { stage: 'production' }, properties: {}, createdBy: 'dana' },
        { name: 'demand', version: '1', id: 'v1', tags: { stage: 'surpassed' }, properties: {} },
      ],
      endpoint: {
        name: 'demand-ep',
        provisioningState: 'Succeeded',
        traffic: { blue: 0, green: 100 },
        mirrorTraffic: {},
        tags: {},
      },
      deployments: [
        {
          name: 'blue',
          endpointName: 'demand-ep',
          provisioningState: 'Succeeded',
          modelId: 'azureml:demand:1',
          tags: {},
        },
        {
          name: 'green',
          endpointName: 'demand-ep',
          provisioningState: 'Succeeded',
          modelId: 'azureml:demand:2',
          tags: {},
        },
      ],
    },
  ],
  activities,
});

/** The page with the formatting whitespace between tags and inside text runs collapsed. */
const tidy = (page: string) => page.replace(/>\s+</g, '><').replace(/\s+/g, ' ');
const render = (page: ReturnType<typeof dashboardPage>) => tidy(renderPage(page).html);

describe('html', () => {
  it('escapes every value, in text and attributes, and nests fragments once', () => {
    expect(escapeHtml(HOSTILE)).toBe(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;',
    );
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p title="${'" onmouseover="x'}">${inner}${[1, '<', null, false]}</p>`.value).toBe(
      '<p title="&quot; onmouseover=&quot;x"><b>&lt;i&gt;</b>1&lt;</p>',
    );
  });
});

describe('the dashboard', () => {
  it('shows each model, what is in production, its versions and its endpoint deployments with their traffic', () => {
    const page = render(dashboardPage(data()));
    expect(page).toContain('data-production="demand">demand:2</strong>');
    expect(page).toMatch(/<tr data-deployment="green"><td>green<\/td><td>demand:2<\/td>[\s\S]*?100 %<\/td><\/tr>/);
    expect(page).toMatch(/<tr data-deployment="blue"><td>blue<\/td><td>demand:1<\/td>[\s\S]*?0 %<\/td><\/tr>/);
    expect(page).toContain('href="/models/demand/history"');
    expect(page).toContain('href="/promotions/promote%3Ademand%3A2"');
  });

  it('across environments: what each one serves, and no single "in production" that is only the first one\'s', () => {
    const base = data();
    const model = base.models[0]!;
    const environment = (name: string, production: string | null) => ({
      name,
      workspace: `/subscriptions/s/resourceGroups/ml/providers/Microsoft.MachineLearningServices/workspaces/${name}`,
      endpointName: `demand-${name}`,
      production,
      deployments: [],
    });
    const page = render(
      dashboardPage({
        ...base,
        models: [{ ...model, environments: [environment('qa', '2'), environment('prod', '1')] }],
      }),
    );
    expect(page).toMatch(/data-production="demand@qa"\s*>demand:2</);
    expect(page).toMatch(/data-production="demand@prod"\s*>demand:1</);
    expect(page).not.toContain('data-production="demand"');
    expect(page).toContain('href="/models/demand/history"');
  });

  it('draws the traffic of a rollout from its timeline, with a table of the same points', () => {
    const page = render(dashboardPage(data()));
    expect(page).toMatch(
      /<svg[^>]*role="img"[^>]*aria-label="Traffic of promote:demand:2: 10:03:00: blue 90 %, green 10 %; 10:04:00: blue 0 %, green 100 %"/,
    );
    expect(page.match(/<polyline/g)).toHaveLength(2);
    expect(page).toContain('<tr><td>10:03:00</td><td>90 %</td><td>10 %</td></tr>');
  });

  it('refreshes itself only while something runs: a polling script, or a <noscript> refresh', () => {
    const done = dashboardPage(data());
    expect(done.live).toBe(false);
    expect(render(done)).toContain('data-live="false"');
    expect(render(done)).not.toContain('http-equiv="refresh"');
    const running = dashboardPage(
      data([promotion({ runtimeStatus: 'Running', outcome: undefined, phase: 'rolling-out' })]),
    );
    const page = render(running);
    expect(page).toContain('data-live="true"');
    expect(page).toContain('<noscript><meta http-equiv="refresh" content="9" /></noscript>');
    expect(page).toContain('1 running');
    expect(page).toContain('rolling-out</span><span class="muted">(running)');
  });

  it('allows exactly its own script and style by hash, nothing else', () => {
    const { csp, html: page } = renderPage(dashboardPage(data()));
    const hash = `'sha256-${createHash('sha256').update(REFRESH_SCRIPT).digest('base64')}'`;
    expect(csp).toContain(`script-src ${hash}`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.match(/<script>/g)).toHaveLength(1);
    // What the browser hashes is the element's text as served.
    const served = (tag: string) => new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(page)![1]!;
    const sha = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    expect(served('script')).toBe(REFRESH_SCRIPT);
    expect(csp).toContain(`script-src ${sha(served('script'))}`);
    expect(csp).toContain(`style-src ${sha(served('style'))}`);
  });

  it('shows hostile names, notes and reasons as text', () => {
    const hostile = data([
      promotion({
        id: `promote:${HOSTILE}`,
        modelName: HOSTILE,
        reason: HOSTILE,
        timeline: [{ at: '2026-01-01T10:00:00.000Z', phase: HOSTILE, note: `traffic → {"${HOSTILE}":100}` }],
      }),
    ]);
    hostile.models[0]!.name = HOSTILE;
    hostile.models[0]!.versions[0]!.createdBy = HOSTILE;
    hostile.models[0]!.deployments[0]!.name = HOSTILE;
    hostile.models[0]!.error = HOSTILE;
    const page = render(dashboardPage(hostile));
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<img src=x');
    expect(page).not.toMatch(/"[^"]*" onerror/);
    expect(page.match(/<script>/g)).toHaveLength(1);
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
  });
});

describe('trafficPoints', () => {
  it('reads the splits asked for, rollbacks included, and skips anything else', () => {
    expect(
      trafficPoints([
        { at: '2026-01-01T10:00:00Z', phase: 'rolling-out', note: 'traffic → {"blue":50,"green":50}' },
        { at: '2026-01-01T10:01:00Z', phase: 'rolling-back', note: 'rolling back to {"blue":100,"green":0}' },
        { at: '2026-01-01T10:02:00Z', phase: 'rolling-back', note: 'traffic → {"blue":100}: demand:1 from blue' },
        {
          at: '2026-01-01T10:02:30Z',
          phase: 'rolling-out',
          note: 'step 1/2: canary; traffic → {"blue":90,"green":10}',
        },
        { at: '2026-01-01T10:02:40Z', phase: 'rolling-out', note: 'step 1/2: baking until 2026-01-01T10:03:00Z' },
        { at: '2026-01-01T10:03:00Z', phase: 'rolling-out', note: 'traffic → {not json}' },
        { at: 'later', phase: 'rolling-out', note: 'traffic → {"blue":1}' },
        { at: '2026-01-01T10:04:00Z', phase: 'done', note: 'promoted' },
      ]),
    ).toEqual([
      { at: '2026-01-01T10:00:00Z', traffic: { blue: 50, green: 50 } },
      { at: '2026-01-01T10:01:00Z', traffic: { blue: 100, green: 0 } },
      { at: '2026-01-01T10:02:00Z', traffic: { blue: 100 } },
      { at: '2026-01-01T10:02:30Z', traffic: { blue: 90, green: 10 } },
    ]);
  });

  it('draws nothing without points', () => {
    expect(trafficChart([], '2026-01-01T10:00:00Z', 'x').value).toBe('');
  });
});

describe('the history page', () => {
  const T1 = '2026-01-10T10:00:00.000Z';
  const history = buildHistory(
    'demand',
    {
      promotions: [
        {
          id: 'promote:demand:1',
          lastUpdatedTime: T1,
          result: {
            outcome: 'promoted',
            modelName: 'demand',
            modelVersion: '1',
            reason: 'ok',
            decision: { decision: 'approve', approver: HOSTILE, via: 'api', at: T1, comment: HOSTILE },
          },
        },
      ],
      rollbacks: [],
    },
    [{ version: '1', tags: { stage: 'production', 'git.commit': HOSTILE }, properties: {} }],
  );

  const showHistory = (question: Parameters<typeof historyPage>[1]) =>
    tidy(renderPage(historyPage(history, question)).html);

  it('answers the question asked, with its interval, and links the exports', () => {
    const at = '2026-01-11T00:00:00.000Z';
    const page = showHistory({ at, answer: productionAt(history, new Date(at)) ?? null });
    expect(page).toContain('data-answer="1"><strong>demand:1</strong> was in production.');
    expect(page).toContain('href="/models/demand/history?format=csv"');
    expect(page).toContain('href="/models/demand/history?format=json"');
    expect(page).toContain('<label for="at">');
    const before = showHistory({ at: '2026-01-01T00:00:00.000Z', answer: null });
    expect(before).toContain('data-answer="">Nothing was in production for demand then.');
  });

  it('says what is wrong with the time asked, on the field, and keeps the text typed', () => {
    const page = showHistory({ at: HOSTILE, problem: 'at: bad' });
    expect(page).toContain('aria-invalid="true" aria-describedby="at-problem"');
    expect(page).toContain('<p id="at-problem" class="error" role="alert">at: bad</p>');
    expect(page).toContain(`value="${escapeHtml(HOSTILE)}"`);
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<img src=x');
  });
});

describe('historyQuery', () => {
  const q = (query: string) => historyQuery('demand', new URLSearchParams(query), ['json', 'csv']);
  it('checks the name, the format and the time, naming the field', () => {
    expect(q('')).toEqual({ ok: true, modelName: 'demand', format: 'json' });
    expect(q('format=csv&at=2026-01-01')).toMatchObject({ ok: true, format: 'csv', at: { text: '2026-01-01' } });
    expect(q('at=tomorrow')).toMatchObject({ ok: false, status: 400, field: 'at' });
    expect(q('format=xml')).toMatchObject({ ok: false, status: 400, field: 'format', message: 'format: json or csv.' });
    expect(historyQuery('../x', new URLSearchParams(), ['json'])).toMatchObject({ ok: false, field: 'name' });
  });
});

describe('who may read the pages', () => {
  const url = new URL('https://app.example/models/demand/history?at=2026-01-01');
  const none = () => null;
  it('locally, the local user', () => {
    expect(pageAccess({ kind: 'local', localUser: 'ana' }, none, url)).toEqual({
      ok: true,
      viewer: 'ana',
      authenticated: false,
    });
  });

  it('behind App Service authentication, signed-in users; others are sent to sign in and back', () => {
    const signedIn = (name: string) => (name === 'x-ms-client-principal-name' ? 'bo@contoso.com' : null);
    expect(pageAccess({ kind: 'app-service' }, signedIn, url)).toEqual({
      ok: true,
      viewer: 'bo@contoso.com',
      authenticated: true,
    });
    const denied = pageAccess({ kind: 'app-service' }, none, url);
    expect(denied.ok).toBe(false);
    if (!denied.ok) {
      expect(denied.response.status).toBe(302);
      expect((denied.response.headers as Record<string, string>).location).toBe(
        '/.auth/login/aad?post_login_redirect_uri=%2Fmodels%2Fdemand%2Fhistory%3Fat%3D2026-01-01',
      );
    }
  });

  it('on Azure without sign-in, nobody', () => {
    const denied = pageAccess({ kind: 'unavailable' }, none, url);
    expect(denied.ok ? 200 : denied.response.status).toBe(403);
  });
});
