/**
 * The dashboard and the history page as HTML, from data already read (pure: the same data renders the same page).
 * Every value from the registry, a record or a request goes through `html`, which escapes it.
 */
import { STAGE_TAG } from '../domain/stages';
import type { ModelHistory, ProductionInterval } from '../domain/history';
import { modelRef } from '../activities';
import { html, type SafeHtml } from '../web/html';
import type { PageOptions } from '../web/layout';
import type { ActivityView, DashboardData, ModelPanel } from './data';
import { isRunning, RECENT_DAYS } from './data';
import { trafficChart, trafficPoints } from './traffic';

const enc = encodeURIComponent;

/** How often the page asks for itself again while something runs. */
export const REFRESH_SECONDS = 3;

/**
 * While the page shows something running, fetch it again and swap <main> in place (keeping open timelines and
 * focus), until nothing runs; "Pause updates" stops it. Without JavaScript, a <noscript> refresh does the same.
 */
export const REFRESH_SCRIPT = `(() => {
  const main = document.querySelector('main');
  const pause = document.getElementById('pause');
  if (!main || main.dataset.live !== 'true' || !pause) return;
  let paused = false;
  pause.hidden = false;
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume updates' : 'Pause updates';
  });
  const timer = setInterval(async () => {
    if (paused) return;
    try {
      const response = await fetch(location.href, { headers: { accept: 'text/html' }, cache: 'no-store' });
      if (!response.ok) return;
      const next = new DOMParser().parseFromString(await response.text(), 'text/html').querySelector('main');
      if (!next) return;
      const open = [...main.querySelectorAll('details[open][id]')].map((d) => d.id);
      const focused = document.activeElement && main.contains(document.activeElement) ? document.activeElement.id : '';
      main.replaceChildren(...next.childNodes);
      // The button keeps its state and listener.
      const fresh = document.getElementById('pause');
      if (fresh && fresh !== pause) fresh.replaceWith(pause);
      for (const id of open) document.getElementById(id)?.setAttribute('open', '');
      if (focused) document.getElementById(focused)?.focus();
      main.dataset.live = next.dataset.live;
      if (next.dataset.live !== 'true') { clearInterval(timer); pause.hidden = true; }
    } catch { /* the next tick tries again */ }
  }, ${REFRESH_SECONDS * 1000});
})();`;

const time = (iso: string | null | undefined) =>
  iso ? html`<time datetime="${iso}">${new Date(iso).toISOString().slice(0, 19).replace('T', ' ')}Z</time>` : '—';

const promotionLink = (id: string) => html`<a href="/promotions/${enc(id)}">${id}</a>`;

function stateOf(view: ActivityView): SafeHtml {
  if (view.outcome) return html`<span class="outcome-${view.outcome}">${view.outcome}</span>`;
  if (isRunning(view)) return html`<span>${view.phase ?? 'starting'}</span> <span class="muted">(running)</span>`;
  return html`<span>${view.runtimeStatus.toLowerCase()}</span>`;
}

function modelSection(panel: ModelPanel): SafeHtml {
  const id = `model-${panel.name}`;
  const production = panel.versions.find((v) => v.tags[STAGE_TAG] === 'production');
  const versions = panel.versions.length
    ? html`<table>
        <caption class="visually-hidden">
          Versions of ${panel.name}
        </caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Stage</th>
            <th scope="col">Registered by</th>
            <th scope="col">Registered</th>
            <th scope="col">Last promotion</th>
          </tr>
        </thead>
        <tbody>
          ${panel.versions.map((v) => {
            const stage = v.tags[STAGE_TAG];
            const promotion = v.tags['champion.promotion'];
            return html`<tr>
              <td>${v.version}</td>
              <td class="${stage ? `stage-${stage}` : ''}">${stage ?? '—'}</td>
              <td>${v.createdBy ?? '—'}</td>
              <td>${time(v.createdAt)}</td>
              <td>${promotion ? promotionLink(promotion) : '—'}</td>
            </tr>`;
          })}
        </tbody>
      </table>`
    : html`<p class="muted">No versions registered.</p>`;
  const traffic = panel.endpoint?.traffic ?? {};
  const endpoint = panel.endpoint
    ? html`<h4>Endpoint ${panel.endpointName} <span class="muted">(${panel.endpoint.provisioningState})</span></h4>
        ${
          panel.deployments.length
            ? html`<table>
                <caption class="visually-hidden">
                  Deployments of endpoint ${panel.endpointName}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Deployment</th>
                    <th scope="col">Model</th>
                    <th scope="col">State</th>
                    <th scope="col">Traffic</th>
                  </tr>
                </thead>
                <tbody>
                  ${panel.deployments.map((d) => {
                    const share = traffic[d.name] ?? 0;
                    return html`<tr data-deployment="${d.name}">
                      <td>${d.name}</td>
                      <td>${modelRef(d.modelId) ?? '—'}</td>
                      <td>${d.provisioningState}</td>
                      <td><progress max="100" value="${share}" aria-hidden="true"></progress> ${share} %</td>
                    </tr>`;
                  })}
                </tbody>
              </table>`
            : html`<p class="muted">No deployments.</p>`
        }`
    : html`<p class="muted">Endpoint ${panel.endpointName} does not exist yet.</p>`;
  return html`<section class="card" aria-labelledby="${id}">
    <h3 id="${id}">${panel.name}</h3>
    ${panel.error ? html`<p class="error" role="alert">Could not read the model: ${panel.error}</p>` : ''}
    <p>
      In production:
      <strong data-production="${panel.name}">${production ? `${panel.name}:${production.version}` : 'none'}</strong> ·
      <a href="/models/${enc(panel.name)}/history">Production history of ${panel.name}</a>
    </p>
    ${versions} ${endpoint}
  </section>`;
}

function activityItem(view: ActivityView, withChart: boolean, generatedAt: string): SafeHtml {
  const id = `activity-${view.id.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  const title = view.kind === 'promotion' ? promotionLink(view.id) : html`<span>${view.id}</span>`;
  const points = withChart ? trafficPoints(view.timeline) : [];
  const until = isRunning(view) ? generatedAt : view.lastUpdatedTime;
  return html`<li class="card">
    <p>
      <strong>${view.kind}</strong> ${title} · ${view.modelName}${view.version ? `:${view.version}` : ''} ·
      ${stateOf(view)}
      <span class="muted">started ${time(view.createdTime)}, updated ${time(view.lastUpdatedTime)}</span>
    </p>
    ${view.reason ? html`<p>${view.reason}</p>` : ''}
    ${points.length ? trafficChart(points, until, `Traffic of ${view.id}`) : ''}
    ${
      view.timeline.length
        ? html`<details id="${id}">
            <summary>Timeline (${view.timeline.length} entries)</summary>
            <ol class="timeline">
              ${view.timeline.map((e) => html`<li>${time(e.at)} <strong>${e.phase}</strong>: ${e.note}</li>`)}
            </ol>
          </details>`
        : ''
    }
  </li>`;
}

function activityList(title: string, id: string, views: ActivityView[], generatedAt: string): SafeHtml {
  return html`<section aria-labelledby="${id}">
    <h2 id="${id}">${title}</h2>
    ${
      views.length
        ? html`<ul class="plain">
            ${views.map((v) => activityItem(v, v.kind !== 'retraining', generatedAt))}
          </ul>`
        : html`<p class="muted">None running or in the last ${RECENT_DAYS} days.</p>`
    }
  </section>`;
}

export function dashboardPage(data: DashboardData): PageOptions {
  const running = data.activities.filter(isRunning);
  const live = running.length > 0;
  const of = (kind: ActivityView['kind']) => data.activities.filter((a) => a.kind === kind);
  const main = html`<h1>Dashboard</h1>
    <div class="live" id="live-controls">
      <p>As of ${time(data.generatedAt)} · ${running.length ? `${running.length} running` : 'nothing running'}</p>
      <button type="button" id="pause" class="secondary" aria-pressed="false" hidden>Pause updates</button>
    </div>
    <section aria-labelledby="models">
      <h2 id="models">Models</h2>
      ${data.models.length ? data.models.map(modelSection) : html`<p class="muted">No model has a policy.</p>`}
    </section>
    ${activityList('Promotions', 'promotions', of('promotion'), data.generatedAt)}
    ${activityList('Rollbacks', 'rollbacks', of('rollback'), data.generatedAt)}
    ${activityList('Retrainings', 'retrainings', of('retraining'), data.generatedAt)}`;
  return {
    title: 'Dashboard',
    main,
    live,
    scripts: [REFRESH_SCRIPT],
    ...(live ? { refreshSeconds: REFRESH_SECONDS * 3 } : {}),
  };
}

function causeCell(entry: ProductionInterval): SafeHtml {
  const cause = entry.cause;
  if (cause.kind === 'promotion') return html`released by ${promotionLink(cause.id)}`;
  if (cause.kind === 'rollback')
    return html`rolled back by ${cause.requestedBy}${cause.authenticated ? '' : ' (unauthenticated)'}: ${cause.reason}
      <span class="muted">(${cause.id})</span>`;
  return html`tagged in the registry, no record of how`;
}

function approvalCell(entry: ProductionInterval): SafeHtml | string {
  if (entry.approval)
    return html`${entry.approval.approver}${entry.approval.authenticated ? '' : ' (unauthenticated)'},
    ${time(entry.approval.at)}
    ${entry.approval.comment ? html`<br /><span class="muted">“${entry.approval.comment}”</span>` : ''}`;
  return entry.promotionId ? 'no approval asked' : '—';
}

function intervalRow(entry: ProductionInterval): SafeHtml {
  return html`<tr>
    <td>${entry.version}</td>
    <td>${time(entry.from)}</td>
    <td>${entry.until ? time(entry.until) : 'now'}</td>
    <td>${causeCell(entry)}</td>
    <td>${approvalCell(entry)}</td>
    <td>${entry.evidence ? `${entry.evidence.decision}: ${entry.evidence.reason}` : '—'}</td>
    <td>
      ${entry.commit ?? '—'}${entry.trainingJob ? html`<br /><span class="muted">job ${entry.trainingJob}</span>` : ''}
    </td>
    <td>${entry.registeredBy?.name ?? '—'}</td>
  </tr>`;
}

const INTERVAL_HEADER = html`<thead>
  <tr>
    <th scope="col">Version</th>
    <th scope="col">From</th>
    <th scope="col">Until</th>
    <th scope="col">Put there by</th>
    <th scope="col">Approved by</th>
    <th scope="col">Evidence</th>
    <th scope="col">Commit</th>
    <th scope="col">Registered by</th>
  </tr>
</thead>`;

/**
 * The history of one model, with a form asking "in production at T" (a GET, so it works without JavaScript and its
 * answer has an address) and links to the JSON and CSV exports.
 */
export function historyPage(
  history: ModelHistory,
  question?: { at: string; answer?: ProductionInterval | null; problem?: string },
): PageOptions {
  const name = history.modelName;
  const base = `/models/${enc(name)}/history`;
  const answer = question?.answer;
  const main = html`<h1>Production history of ${name}</h1>
    <p><a href="${base}?format=json">Export as JSON</a> · <a href="${base}?format=csv">Export as CSV</a></p>
    <form class="inline" method="get" action="${base}" aria-labelledby="ask">
      <h2 id="ask" class="visually-hidden">What was in production at a given time</h2>
      <div>
        <label for="at">In production at (ISO 8601, e.g. 2026-03-01T12:00:00Z)</label>
        <input
          type="text"
          id="at"
          name="at"
          value="${question?.at ?? ''}"
          autocomplete="off"
          ${question?.problem ? html`aria-invalid="true" aria-describedby="at-problem"` : ''}
        />
      </div>
      <button type="submit">Ask</button>
    </form>
    ${question?.problem ? html`<p id="at-problem" class="error" role="alert">${question.problem}</p>` : ''}
    ${
      question && !question.problem
        ? html`<section aria-labelledby="answer" class="card">
            <h2 id="answer">At ${time(question.at)}</h2>
            ${
              answer
                ? html`<p data-answer="${answer.version}">
                      <strong>${name}:${answer.version}</strong> was in production.
                    </p>
                    <table>
                      ${INTERVAL_HEADER}
                      <tbody>
                        ${intervalRow(answer)}
                      </tbody>
                    </table>`
                : html`<p data-answer="">Nothing was in production for ${name} then.</p>`
            }
          </section>`
        : ''
    }
    <section aria-labelledby="intervals">
      <h2 id="intervals">Every version in production</h2>
      ${
        history.intervals.length
          ? html`<table>
              <caption class="visually-hidden">
                Production intervals of ${name}, oldest first
              </caption>
              ${INTERVAL_HEADER}
              <tbody>
                ${history.intervals.map(intervalRow)}
              </tbody>
            </table>`
          : html`<p class="muted">Nothing of ${name} has been in production.</p>`
      }
      ${history.notes.map((note) => html`<p class="error">${note}</p>`)}
    </section>`;
  return { title: `History of ${name}`, main };
}
