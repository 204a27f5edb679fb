/**
 * The dashboard and the history page as HTML, from data already read (pure: the same data renders the same page).
 * Every value from the registry, a record or a request goes through `html`, which escapes it.
 */
import { STAGE_TAG } from '../domain/stages';
import type { ModelHistory, ProductionInterval } from '../domain/history';
import type { ScopedHistory } from '../history';
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

/** An endpoint's deployments and traffic (`label` tells endpoints of several environments apart). */
function endpointBlock(
  endpointName: string,
  endpoint: ModelPanel['endpoint'],
  deployments: ModelPanel['deployments'],
  label = '',
): SafeHtml {
  const traffic = endpoint?.traffic ?? {};
  return endpoint
    ? html`<h4>Endpoint ${endpointName}${label} <span class="muted">(${endpoint.provisioningState})</span></h4>
        ${
          deployments.length
            ? html`<table>
                <caption class="visually-hidden">
                  Deployments of endpoint ${endpointName}
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
                  ${deployments.map((d) => {
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
    : html`<p class="muted">Endpoint ${endpointName}${label} does not exist yet.</p>`;
}

/** A policy with environments: each one's endpoint and production version, in order. */
function environmentsBlock(panel: ModelPanel): SafeHtml {
  return html`${(panel.environments ?? []).map(
    (e) =>
      html`<div class="environment" data-environment="${e.name}">
        <p>
          In production in <strong>${e.name}</strong>:
          <strong data-production="${panel.name}@${e.name}"
            >${e.production ? `${panel.name}:${e.production}` : 'none'}</strong
          >
        </p>
        ${e.error ? html`<p class="error" role="alert">Could not read ${e.name}: ${e.error}</p>` : ''}
        ${endpointBlock(e.endpointName, e.endpoint, e.deployments, ` (${e.name})`)}
      </div>`,
  )}`;
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
  // With environments, each says what it serves (below): this workspace's tag is only the first one's.
  const serving = panel.environments
    ? ''
    : html`In production:
        <strong data-production="${panel.name}">${production ? `${panel.name}:${production.version}` : 'none'}</strong>
        ·`;
  const endpoint = panel.environments
    ? environmentsBlock(panel)
    : endpointBlock(panel.endpointName, panel.endpoint, panel.deployments);
  return html`<section class="card" aria-labelledby="${id}">
    <h3 id="${id}">${panel.name}</h3>
    ${panel.error ? html`<p class="error" role="alert">Could not read the model: ${panel.error}</p>` : ''}
    <p>
      ${serving}
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

/** Every interval of one history (a model's, or one environment's), oldest first, with its notes. */
function intervalsSection(history: ModelHistory, id: string, title: SafeHtml | string, what: string): SafeHtml {
  return html`<section aria-labelledby="${id}">
    <h2 id="${id}">${title}</h2>
    ${
      history.intervals.length
        ? html`<table>
            <caption class="visually-hidden">
              Production intervals of ${what}, oldest first
            </caption>
            ${INTERVAL_HEADER}
            <tbody>
              ${history.intervals.map(intervalRow)}
            </tbody>
          </table>`
        : html`<p class="muted">Nothing of ${what} has been in production.</p>`
    }
    ${history.notes.map((note) => html`<p class="error">${note}</p>`)}
  </section>`;
}

/**
 * The history of one model, with a form asking "in production at T" (a GET, so it works without JavaScript and its
 * answer has an address) and links to the JSON and CSV exports. For a policy with environments: each environment's
 * history (its endpoint, its releases and rollbacks, its workspace's registry); the question is asked of one of them.
 */
export function historyPage(
  history: ScopedHistory,
  question?: { at: string; answer?: ProductionInterval | null; problem?: string },
): PageOptions {
  const name = history.modelName;
  const base = `/models/${enc(name)}/history`;
  const answer = question?.answer;
  const environments = history.environments;
  const asked = history.environment;
  const exportsOf = (environment?: string) => {
    const scope = environment !== undefined ? `environment=${enc(environment)}&` : '';
    return html`<a href="${base}?${scope}format=json">Export as JSON</a> ·
      <a href="${base}?${scope}format=csv">Export as CSV</a>`;
  };
  const main = html`<h1>Production history of ${name}</h1>
    ${environments ? '' : html`<p>${exportsOf()}</p>`}
    <form class="inline" method="get" action="${base}" aria-labelledby="ask">
      <h2 id="ask" class="visually-hidden">What was in production at a given time</h2>
      ${
        environments
          ? html`<div>
              <label for="environment">Environment</label>
              <select id="environment" name="environment">
                ${environments.map(
                  (e) =>
                    html`<option value="${e.environment}" ${e.environment === asked ? 'selected' : ''}>
                      ${e.environment}
                    </option>`,
                )}
              </select>
            </div>`
          : ''
      }
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
            <h2 id="answer">At ${time(question.at)}${asked !== undefined ? ` in ${asked}` : ''}</h2>
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
    ${
      environments
        ? environments.map(
            (e) =>
              html`<div class="card" data-environment="${e.environment}">
                ${intervalsSection(
                  e,
                  `intervals-${e.environment}`,
                  html`In ${e.environment}: endpoint ${e.endpointName}`,
                  `${name} in ${e.environment}`,
                )}
                <p>
                  In production in ${e.environment}:
                  <strong>${e.productionNow !== null ? `${name}:${e.productionNow}` : 'none'}</strong> ·
                  ${exportsOf(e.environment)}
                </p>
              </div>`,
          )
        : intervalsSection(history, 'intervals', 'Every version in production', name)
    }`;
  return { title: `History of ${name}`, main };
}
