/**
 * The operators' pages, served as HTML at the site's root: the dashboard (`/`), each model's production history
 * (`/models/{name}/history`, with its JSON and CSV exports), a promotion's page (`/promotions/{id}`, which an
 * approval link opens; its form posts to the same address) and, locally, the outbox (`/outbox`). For signed-in users
 * on Azure (see lib/web/access.ts), since a browser holds no function key.
 */
import { type HttpRequest } from '@azure/functions';
import * as df from 'durable-functions';
import { getApp } from '../lib/app';
import { readDashboard } from '../lib/dashboard/data';
import { dashboardPage, historyPage } from '../lib/dashboard/view';
import { historyExport, historyQuery, historySources, noModel, readScopedHistory } from '../lib/history';
import { productionAt } from '../lib/domain/history';
import { problem } from '../lib/http';
import { html } from '../lib/web/html';
import { pageAccess } from '../lib/web/access';
import { outboxPage, readOutbox } from '../lib/web/outbox-page';
import { decideFromPage, showPromotion } from '../lib/web/promotion-routes';
import { sitePage } from '../lib/web/site';

const access = (request: HttpRequest) =>
  pageAccess(getApp().identity, (name) => request.headers.get(name), new URL(request.url));

const notFound = (what: string) =>
  sitePage(404, {
    title: 'Not found',
    main: html`<h1>Not found</h1>
      <p>${what}</p>
      <p><a href="/">Dashboard</a></p>`,
  });

/** A request the page cannot answer as asked (a bad field), said on a page. */
const badRequest = (what: string) =>
  sitePage(400, {
    title: 'Bad request',
    main: html`<h1>Bad request</h1>
      <p role="alert">${what}</p>
      <p><a href="/">Dashboard</a></p>`,
  });

/**
 * The root: `{page?}` is how a Functions route matches the site root (the host takes no empty route, Azure/Azure-
 * Functions#2473; an optional parameter matches "/", azure-functions-host#1102). The outbox is served here too
 * rather than by a route of its own, which this one would also match. Any other single segment is a 404.
 */
df.app.client.http('dashboard', {
  authLevel: 'anonymous',
  route: '{page?}',
  methods: ['GET'],
  handler: async (request, _client, context) => {
    const page = request.params.page;
    if (page && page !== 'outbox') return notFound(`No page "${page}".`);
    const allowed = access(request);
    if (!allowed.ok) return allowed.response;
    const { policies, deps, identity, settings } = getApp();
    if (page === 'outbox') {
      // Only the local runtime keeps messages on the machine; on Azure they went to Service Bus.
      if (identity.kind !== 'local' || !settings.CHAMPION_OUTBOX_DIR)
        return notFound('No outbox here: notifications go to the Service Bus topic.');
      return sitePage(200, outboxPage(readOutbox(settings.CHAMPION_OUTBOX_DIR)));
    }
    const forWorkspace = deps.forWorkspace;
    const data = await readDashboard(
      context,
      policies,
      deps.workspace,
      new Date(),
      forWorkspace ? (id) => forWorkspace(id).workspace : undefined,
    );
    return sitePage(200, { ...dashboardPage(data), current: '/' });
  },
});

/** A promotion's page: GET shows it (an approval link opens it with its token in the fragment), POST decides. */
df.app.client.http('promotionPage', {
  authLevel: 'anonymous',
  route: 'promotions/{id}',
  methods: ['GET'],
  handler: (request, client) => showPromotion(request, client),
});

df.app.client.http('promotionPageDecision', {
  authLevel: 'anonymous',
  route: 'promotions/{id}',
  methods: ['POST'],
  handler: (request, client) => decideFromPage(request, client),
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
    const read = await readScopedHistory(
      context,
      historySources(getApp()),
      modelName,
      query.ok ? query.environment : undefined,
    );
    if (!read.ok)
      return query.ok && query.format !== 'html' ? problem(read.status, read.message) : badRequest(read.message);
    const history = read.history;
    if (!history)
      return query.ok && query.format !== 'html' ? noModel(modelName) : notFound(`No model "${modelName}".`);
    if (!query.ok) return sitePage(400, historyPage(history, { at: query.at ?? '', problem: query.message }));
    if (query.format !== 'html') return historyExport(history, query.format, query.at?.date);
    const at = query.at;
    return sitePage(
      200,
      historyPage(
        history,
        at ? { at: at.date!.toISOString(), answer: productionAt(history, at.date!) ?? null } : undefined,
      ),
    );
  },
});
