/**
 * The operators' pages, served as HTML at the site's root: the dashboard (`/`) and each model's production history
 * (`/models/{name}/history`, with its JSON and CSV exports). Read-only; for signed-in users on Azure (see
 * lib/web/access.ts), since a browser holds no function key.
 */
import { type HttpRequest } from '@azure/functions';
import * as df from 'durable-functions';
import { getApp } from '../lib/app';
import { readDashboard } from '../lib/dashboard/data';
import { dashboardPage, historyPage } from '../lib/dashboard/view';
import { historyExport, historyQuery, noModel, readModelHistory } from '../lib/history';
import { productionAt } from '../lib/domain/history';
import { html } from '../lib/web/html';
import { pageAccess } from '../lib/web/access';
import { pageResponse } from '../lib/web/layout';

const access = (request: HttpRequest) =>
  pageAccess(getApp().identity, (name) => request.headers.get(name), new URL(request.url));

const notFound = (what: string) =>
  pageResponse(404, {
    title: 'Not found',
    main: html`<h1>Not found</h1>
      <p>${what}</p>
      <p><a href="/">Dashboard</a></p>`,
  });

/**
 * The root: `{page?}` is how a Functions route matches the site root (the host takes no empty route, Azure/Azure-
 * Functions#2473; an optional parameter matches "/", azure-functions-host#1102). Any other single segment is a 404.
 */
df.app.client.http('dashboard', {
  authLevel: 'anonymous',
  route: '{page?}',
  methods: ['GET'],
  handler: async (request, _client, context) => {
    if (request.params.page) return notFound(`No page "${request.params.page}".`);
    const allowed = access(request);
    if (!allowed.ok) return allowed.response;
    const { policies, deps } = getApp();
    const data = await readDashboard(context, policies, deps.workspace, new Date());
    return pageResponse(200, dashboardPage(data));
  },
});

df.app.client.http('historyPage', {
  authLevel: 'anonymous',
  route: 'models/{name}/history',
  methods: ['GET'],
  handler: async (request, _client, context) => {
    const allowed = access(request);
    if (!allowed.ok) return allowed.response;
    const query = historyQuery(request.params.name ?? '', request.query, ['html', 'json', 'csv']);
    if (!query.ok && query.field !== 'at') return notFound(query.message);
    const modelName = request.params.name ?? '';
    const history = await readModelHistory(context, getApp().deps.workspace, modelName);
    if (!history)
      return query.ok && query.format !== 'html' ? noModel(modelName) : notFound(`No model "${modelName}".`);
    if (!query.ok) return pageResponse(400, historyPage(history, { at: query.at ?? '', problem: query.message }));
    if (query.format !== 'html') return historyExport(history, query.format, query.at?.date);
    const at = query.at;
    return pageResponse(
      200,
      historyPage(
        history,
        at ? { at: at.date!.toISOString(), answer: productionAt(history, at.date!) ?? null } : undefined,
      ),
    );
  },
});
