/**
 * One promotion as a page, `/promotions/{id}`: what is promoted and by whom, the evidence with both models' values and
 * a chart, the smoke test, what approving does (the rollout plan), the rollout's state, the timeline, and — while it
 * waits for a person — the decision form. An approval link opens the same page: its token stays in the address's
 * fragment, which is never sent, and the page's script moves it into the form's body; without a token the form is
 * for the local user or a signed-in approver. The form posts to the page's own address.
 *
 * The decision is bound to what the page showed: the form carries a digest of the evidence shown (the evaluation's
 * record and the registry's facts about the version), and a decision whose digest no longer matches is refused.
 */
import { createHash } from 'node:crypto';
import type { ApprovalDecision, PromotionInput, PromotionResult, PromotionStatus } from '../../orchestrations/contract';
import { evidenceRecord, type EvidenceRecord, type MetricValues } from '../domain/evidence-record';
import type { ModelVersion } from '../ports';
import { differencesChart } from './chart';
import { html, raw, type SafeHtml } from './html';
import type { PageOptions } from './layout';

/** Tags Champion writes itself; they change as the promotion goes on, so they are not evidence. */
const OWN_TAGS = new Set(['stage', 'champion.promotion']);

export interface EndpointState {
  name: string;
  provisioningState?: string;
  traffic: Record<string, number>;
  deployments: { name: string; model: string | null; provisioningState?: string }[];
}

export interface PromotionPageData {
  id: string;
  runtimeStatus: string;
  createdTime?: string;
  input: PromotionInput;
  status?: PromotionStatus;
  result?: PromotionResult;
  /** The version as the registry has it now (undefined if it is gone). */
  version?: ModelVersion;
  endpoint?: EndpointState;
}

/**
 * Who may decide on this page without a link: the caller's name, or why not (a link's holder decides through the
 * same form, which the page's script opens with the link's token).
 */
export type DecisionForm = { caller: string } | { why: string };

export interface Notice {
  tone: 'good' | 'bad' | 'warn';
  title: string;
  text: string;
}

/** The evidence the page shows: the status's record, or one made from the result's full evidence when the status has only the summary. */
export function shownEvidence(data: PromotionPageData): EvidenceRecord | undefined {
  const fromStatus = data.status?.evidence;
  if (fromStatus?.primary) return fromStatus;
  if (data.result?.evidence) return evidenceRecord(data.result.evidence);
  return fromStatus;
}

/** The registry's facts the page shows about the version: who registered it, from which job and commit, its tags. */
export function versionFacts(data: PromotionPageData) {
  const v = data.version;
  const pick = (key: string) => v?.properties[key] ?? v?.tags[key] ?? null;
  return {
    registrant: data.input.registrant ?? (v?.createdBy ? { name: v.createdBy, type: v.createdByType } : null),
    registeredAt: v?.createdAt ?? null,
    job: pick('training.job'),
    commit: pick('git.commit'),
    repository: pick('git.repository'),
    tags: Object.fromEntries(
      Object.entries(v?.tags ?? {})
        .filter(([key]) => !OWN_TAGS.has(key))
        .sort(([a], [b]) => a.localeCompare(b)),
    ),
  };
}

/** A digest of everything the page shows as evidence; a decision is refused when it no longer matches. */
export function evidenceDigest(data: PromotionPageData): string {
  const shown = [
    'evidence-v1',
    data.id,
    data.input.modelName,
    data.input.modelVersion,
    shownEvidence(data) ?? null,
    versionFacts(data),
  ];
  return createHash('sha256').update(JSON.stringify(shown), 'utf8').digest('base64url');
}

const num = (value: number | null | undefined) =>
  value === null || value === undefined ? '—' : String(Number(value.toPrecision(4)));

const percent = (value: number | undefined) => (value === undefined ? '—' : `${Math.round(value * 100)} %`);

function metricRow(m: MetricValues, guardrail?: { margin: number; passed: boolean | null }): SafeHtml {
  const verdict =
    guardrail === undefined
      ? ''
      : guardrail.passed === null
        ? html`<span class="warn">not evaluated</span>`
        : guardrail.passed
          ? html`<span class="good">passed</span>`
          : html`<span class="bad">breached</span>`;
  return html`<tr>
    <th scope="row">${m.metric}${guardrail ? ' (guardrail)' : ' (primary)'}</th>
    <td class="num" data-model="champion">${num(m.champion)}</td>
    <td class="num" data-model="challenger">${num(m.challenger)}</td>
    <td class="num">${num(m.improvement)}</td>
    <td class="num">${m.interval ? `${num(m.interval.lower)} to ${num(m.interval.upper)}` : '—'}</td>
    <td>${guardrail ? html`worse by at most ${num(guardrail.margin)}: ${verdict}` : ''}</td>
  </tr>`;
}

function evidenceSection(evidence: EvidenceRecord | undefined): SafeHtml {
  if (!evidence)
    return html`<section aria-labelledby="evidence-h">
      <h2 id="evidence-h">Evidence</h2>
      <p class="muted">Not evaluated yet.</p>
    </section>`;
  const tone = evidence.decision === 'win' ? 'good' : evidence.decision === 'inconclusive' ? 'warn' : 'bad';
  const values = evidence.primary
    ? html`<table id="metrics">
          <caption class="muted">
            Champion and challenger on the same ${evidence.n ?? ''} evaluation
            rows${evidence.dataVersion ? html` of <code>${evidence.dataVersion}</code>` : ''}. Improvement: positive
            means the challenger is
            better${evidence.confidence ? `; interval at ${percent(evidence.confidence)} confidence` : ''}.
          </caption>
          <thead>
            <tr>
              <th scope="col">Metric</th>
              <th scope="col">Champion</th>
              <th scope="col">Challenger</th>
              <th scope="col">Improvement</th>
              <th scope="col">Interval</th>
              <th scope="col">Guardrail</th>
            </tr>
          </thead>
          <tbody>
            ${metricRow(evidence.primary)}${(evidence.guardrails ?? []).map((g) => metricRow(g, g))}
          </tbody>
        </table>
        <p>
          Minimum improvement asked for:
          ${num(evidence.minImprovement)}.${
            evidence.mcnemar
              ? ` McNemar: ${evidence.mcnemar.c} rows only the challenger got right, ${evidence.mcnemar.b} only the champion; p = ${num(evidence.mcnemar.pValue)}.`
              : ''
          }
        </p>`
    : html`<p class="muted">This promotion was evaluated before metric values were kept: decision and reason only.</p>`;
  const chart = evidence.differences
    ? differencesChart(evidence.differences, evidence.metric ?? '')
    : evidence.primary
      ? html`<p class="muted">
          No chart:
          ${evidence.kind === 'recorded' ? 'recorded metrics have no rows to compare' : 'there was no champion to compare with'}.
        </p>`
      : '';
  return html`<section aria-labelledby="evidence-h">
    <h2 id="evidence-h">Evidence</h2>
    <p id="verdict">
      <span class="${tone}">${evidence.decision}</span>:
      ${evidence.reason}${evidence.n !== undefined ? html` <span class="muted">(n = ${evidence.n})</span>` : ''}
    </p>
    ${values} ${chart}
  </section>`;
}

function smokeSection(evidence: EvidenceRecord | undefined): SafeHtml {
  const smoke = evidence?.smokeTest;
  if (!smoke) return html``;
  return html`<section aria-labelledby="smoke-h">
    <h2 id="smoke-h">Smoke test</h2>
    <p id="smoke-test">
      ${smoke.ok ? html`<span class="good">Passed</span>` : html`<span class="bad">Failed</span>`}: ${smoke.requests}
      request(s) to the challenger's deployment, median latency ${num(smoke.p50LatencyMs)} ms, slowest
      ${num(smoke.maxLatencyMs)} ms.
    </p>
    ${
      smoke.failures.length
        ? html`<ul>
            ${smoke.failures.map((f) => html`<li>${f}</li>`)}
          </ul>`
        : ''
    }
  </section>`;
}

/** A policy's duration in words (milliseconds from the policy's own parse). */
function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 1000)} s`;
}

function planSection(data: PromotionPageData): SafeHtml {
  const { policy, modelName, modelVersion } = data.input;
  const { steps, mirror, bakeMs, rollbackWindowMs } = policy.rollout;
  const slot = data.endpoint?.deployments.find((d) => d.model === `${modelName}:${modelVersion}`)?.name;
  return html`<section aria-labelledby="plan-h">
    <h2 id="plan-h">On approval</h2>
    <ol id="rollout-plan">
      ${
        mirror
          ? html`<li>
              First ${mirror.percent} % of live requests are copied to the challenger for
              ${duration(mirror.durationMs)}; clients get only the champion's answers.
            </li>`
          : ''
      }
      <li>
        The challenger${slot ? html` (deployment <code>${slot}</code>)` : ''} takes
        ${steps.map((s) => `${s} %`).join(', then ')} of <code>${policy.endpointName}</code>'s traffic, each step once
        the endpoint has applied the
        last${
          bakeMs && steps.length > 1
            ? `; each step below 100 % serves ${duration(bakeMs)} and is judged before the next`
            : ''
        }.
      </li>
      <li>
        Then version ${modelVersion} is tagged <code>production</code> and the endpoint records the release; the
        previous version stays deployed at 0 % so it can be put
        back${rollbackWindowMs ? ` (for ${duration(rollbackWindowMs)}, then its deployment is removed)` : ''}.
      </li>
      <li>If any step fails, the champion is put back to 100 %.</li>
    </ol>
    <p>
      On rejection: the version is tagged <code>rejected</code> and its deployment removed. Without a decision by the
      expiry, the policy ${policy.approval.onTimeout === 'approve' ? 'approves' : 'rejects'}.
    </p>
  </section>`;
}

/** Across a policy's environments: where the version is in each, by which promotion, and the gate passed. */
function environmentsSection(data: PromotionPageData): SafeHtml {
  const environments = data.result?.environments ?? data.status?.environments ?? [];
  if (environments.length === 0) return html``;
  return html`<section aria-labelledby="environments-h">
    <h2 id="environments-h">Environments</h2>
    <table id="environments">
      <thead>
        <tr>
          <th scope="col">Environment</th>
          <th scope="col">State</th>
          <th scope="col">Promotion</th>
          <th scope="col">Gate and outcome</th>
        </tr>
      </thead>
      <tbody>
        ${environments.map(
          (e) =>
            html`<tr data-environment="${e.name}">
              <th scope="row">${e.name}</th>
              <td>${e.carried ? `${e.state} (by an earlier attempt)` : (e.outcome ?? e.state)}</td>
              <td>
                ${e.promotionId ? html`<a href="/promotions/${encodeURIComponent(e.promotionId)}">${e.promotionId}</a>` : '—'}
              </td>
              <td>${[e.gate, e.reason].filter(Boolean).join('; ') || html`<code>${e.endpointName}</code>`}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function rolloutSection(data: PromotionPageData): SafeHtml {
  const endpoint = data.endpoint;
  if (!endpoint) return html``;
  return html`<section aria-labelledby="rollout-h">
    <h2 id="rollout-h">Rollout state</h2>
    <table id="traffic">
      <caption class="muted">
        Endpoint
        <code>${endpoint.name}</code
        >${endpoint.provisioningState ? `, ${endpoint.provisioningState}` : ''}
      </caption>
      <thead>
        <tr>
          <th scope="col">Deployment</th>
          <th scope="col">Model</th>
          <th scope="col">Traffic</th>
          <th scope="col">State</th>
        </tr>
      </thead>
      <tbody>
        ${endpoint.deployments.map(
          (d) =>
            html`<tr>
              <th scope="row">${d.name}</th>
              <td>${d.model ?? '—'}</td>
              <td class="num">${endpoint.traffic[d.name] ?? 0} %</td>
              <td>${d.provisioningState ?? ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

export function decisionText(decision: ApprovalDecision): string {
  const verb = decision.decision === 'approve' ? 'Approved' : 'Rejected';
  const how =
    decision.identity === 'policy' ? ' (nobody decided in time)' : decision.authenticated ? ' (signed in)' : '';
  return `${verb} by ${decision.approver}${how} at ${decision.at}${decision.comment ? `: “${decision.comment}”` : ''}`;
}

export const promotionPagePath = (id: string) => `/promotions/${encodeURIComponent(id)}`;

/** What the decision part of a page needs: the same for a promotion and for a retraining run's approval. */
export interface DecisionState {
  id: string;
  /** The promotion (or run) waits for a person now. */
  waiting: boolean;
  taken?: ApprovalDecision;
  phase: string;
  expiresAt?: string;
}

export function decisionSectionFor(state: DecisionState, form: DecisionForm, digest: string): SafeHtml {
  const { taken, waiting } = state;
  let body: SafeHtml;
  if (taken)
    body = html`<p id="decision-taken" class="${taken.decision === 'approve' ? 'good' : 'bad'}">
      ${decisionText(taken)}
    </p>`;
  else if (!waiting)
    body = html`<p id="decision-taken" class="muted">No decision is asked for now (${state.phase}).</p>`;
  else {
    // One form for both ways of deciding: shown to a caller who may decide, opened by the script for a link.
    const mayDecide = 'caller' in form;
    body = html`<p id="caller-line" class="${mayDecide ? '' : 'muted'}">
        ${
          mayDecide
            ? html`You decide as <strong>${form.caller}</strong>. The request expires at ${state.expiresAt ?? '—'}.`
            : html`Waiting for an approver until ${state.expiresAt ?? '—'}. ${form.why}`
        }
      </p>
      <p id="link-state" role="status" hidden></p>
      <noscript
        ><p class="notice warn">
          Deciding through an approval link needs JavaScript: the link's token stays in the address's fragment, which is
          never sent to the server, and the page's script moves it into the form. Everything else here reads without it.
        </p></noscript
      >
      <form
        class="decide"
        id="decide"
        method="post"
        action="${promotionPagePath(state.id)}"
        ${mayDecide ? '' : raw('hidden')}
      >
        <input type="hidden" name="token" id="token" value="" />
        <input type="hidden" name="evidenceDigest" value="${digest}" />
        <label for="comment">Comment (optional)</label>
        <textarea id="comment" name="comment" maxlength="1000"></textarea>
        <p>
          <button type="submit" class="approve" id="approve" name="decision" value="approve">Approve</button>
          <button type="submit" class="reject" id="reject" name="decision" value="reject">Reject</button>
        </p>
      </form>`;
  }
  return html`<section aria-labelledby="decision-h">
    <h2 id="decision-h">Decision</h2>
    ${body}
  </section>`;
}

function outcomeNotice(data: PromotionPageData): Notice | undefined {
  const r = data.result;
  if (!r) {
    if (['Failed', 'Terminated'].includes(data.runtimeStatus))
      return {
        tone: 'bad',
        title: `Promotion ${data.runtimeStatus.toLowerCase()}`,
        text: 'It no longer takes decisions.',
      };
    return undefined;
  }
  const titles: Record<PromotionResult['outcome'], [Notice['tone'], string]> = {
    promoted: ['good', 'Promoted'],
    'lost-evaluation': ['bad', 'Lost its evaluation'],
    rejected: ['bad', 'Rejected'],
    'approval-timed-out': ['warn', 'Approval timed out'],
    superseded: ['warn', 'Superseded'],
    failed: ['bad', 'Failed'],
  };
  const [tone, title] = titles[r.outcome];
  return { tone, title, text: r.reason };
}

/**
 * Why an approval link decides nothing now, first on the page; hidden until the page's script finds a link's token
 * in the address (a reader without a link sees the outcome and the decision instead).
 */
export function linkClosedBlock(closed: Notice | undefined): SafeHtml | '' {
  return closed ? html`<div id="link-closed" hidden>${noticeBlock(closed, 'link-notice')}</div>` : '';
}

export function noticeBlock(notice: Notice, id = 'notice'): SafeHtml {
  return html`<div class="notice ${notice.tone}" role="${notice.tone === 'good' ? 'status' : 'alert'}" id="${id}">
    <h2>${notice.title}</h2>
    <p>${notice.text}</p>
  </div>`;
}

/** Where a link's token waits in the tab while its approver signs in (App Service's sign-in drops the fragment). */
const STASH_KEY = "'champion.approval-token:' + location.pathname";

/**
 * The script of a promotion's page (fixed text, allowed by its hash): with an approval link's token in the fragment
 * (or kept across a sign-in), the token leaves the address bar first, then opens the form with it — or, when the
 * promotion no longer waits, shows why the link decides nothing. Without a token it does nothing.
 */
export const LINK_SCRIPT = `(function () {
  var params = new URLSearchParams(location.hash.slice(1));
  var token = params.get('token') || sessionStorage.getItem(${STASH_KEY});
  sessionStorage.removeItem(${STASH_KEY});
  if (params.has('token')) history.replaceState(null, '', location.pathname + location.search);
  if (!token) return;
  var closed = document.getElementById('link-closed');
  if (closed) { closed.hidden = false; return; }
  var state = document.getElementById('link-state');
  var form = document.getElementById('decide');
  if (!state || !form) return;
  var caller = document.getElementById('caller-line');
  if (caller) caller.hidden = true;
  form.hidden = true;
  state.hidden = false;
  var claims = null;
  try { claims = JSON.parse(atob(token.split('.')[0].replace(/-/g, '+').replace(/_/g, '/'))); } catch (e) {}
  if (!claims || (claims.d !== 'approve' && claims.d !== 'reject') || typeof claims.e !== 'number') {
    state.textContent = 'This is not a valid approval link: open the link exactly as it was sent to you.'; state.className = 'notice bad'; return;
  }
  if (claims.e <= Date.now()) {
    state.id = 'link-expired';
    state.textContent = 'This approval link expired at ' + new Date(claims.e).toISOString() + ': it can no longer decide anything.';
    state.className = 'notice warn'; return;
  }
  document.getElementById('token').value = token;
  var other = document.getElementById(claims.d === 'approve' ? 'reject' : 'approve');
  if (other) other.remove();
  state.textContent = 'This link ' + (claims.d === 'approve' ? 'approves' : 'rejects') + ' the promotion' +
    (claims.a ? ' as ' + claims.a : '') + '; to ' + (claims.d === 'approve' ? 'reject' : 'approve') +
    ' it instead, open the other link of the same message.';
  form.hidden = false;
})();`;

/** What the decision part reads of anything that waits for a person: a promotion or a retraining run. */
export interface AwaitingPerson {
  id: string;
  runtimeStatus: string;
  status?: { phase?: string; decision?: ApprovalDecision; approval?: { expiresAt?: string } } | null;
  result?: { decision?: ApprovalDecision } | null;
}

/** The decision part's state for a promotion or a retraining run. */
export function decisionState(data: AwaitingPerson): DecisionState {
  const taken = data.status?.decision ?? data.result?.decision;
  return {
    id: data.id,
    waiting: data.runtimeStatus === 'Running' && data.status?.phase === 'awaiting-approval' && !taken,
    ...(taken ? { taken } : {}),
    phase: data.status?.phase ?? data.runtimeStatus,
    ...(data.status?.approval?.expiresAt ? { expiresAt: data.status.approval.expiresAt } : {}),
  };
}

export function promotionPage(
  data: PromotionPageData,
  form: DecisionForm,
  options: { notice?: Notice; closed?: Notice } = {},
): PageOptions {
  const { modelName, modelVersion } = data.input;
  const evidence = shownEvidence(data);
  const facts = versionFacts(data);
  const digest = evidenceDigest(data);
  const timeline = data.result?.timeline ?? data.status?.timeline ?? [];
  const outcome = outcomeNotice(data);
  const main = html`${options.notice ? noticeBlock(options.notice) : ''} ${linkClosedBlock(options.closed)}
    <h1>Promotion of ${modelName} version ${modelVersion}</h1>
    ${outcome && outcome !== options.notice ? noticeBlock({ ...outcome, title: `Outcome: ${outcome.title}` }, 'outcome') : ''}
    <dl class="facts" id="facts">
      <dt>Promotion</dt>
      <dd><code>${data.id}</code></dd>
      <dt>State</dt>
      <dd id="phase">${data.status?.phase ?? data.runtimeStatus} (${data.runtimeStatus})</dd>
      <dt>Registered by</dt>
      <dd id="registrant">
        ${facts.registrant ? `${facts.registrant.name}${facts.registrant.type ? ` (${facts.registrant.type})` : ''}` : '—'}${facts.registeredAt ? ` at ${facts.registeredAt}` : ''}
      </dd>
      <dt>Training job</dt>
      <dd id="job">${facts.job ?? '—'}</dd>
      <dt>Commit</dt>
      <dd id="commit">
        ${facts.commit ? html`<code>${facts.commit}</code>` : '—'}${facts.repository ? ` in ${facts.repository}` : ''}
      </dd>
      <dt>Endpoint</dt>
      <dd><code>${data.input.policy.endpointName}</code></dd>
      ${
        Object.keys(facts.tags).length
          ? html`<dt>Tags</dt>
              <dd id="tags">${Object.entries(facts.tags).map(([k, v]) => html`<code>${k}</code>=${v} `)}</dd>`
          : ''
      }
      ${
        data.status?.approval
          ? html`<dt>Approval expires</dt>
              <dd>${data.status.approval.expiresAt}</dd>`
          : ''
      }
    </dl>
    ${environmentsSection(data)} ${evidenceSection(evidence)} ${smokeSection(evidence)}
    ${data.result ? '' : planSection(data)} ${decisionSectionFor(decisionState(data), form, digest)}
    ${rolloutSection(data)}
    <section aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      ${data.status?.earlierEntries && !data.result?.timeline ? html`<p class="muted">${data.status.earlierEntries} earlier entries not shown.</p>` : ''}
      <ol class="timeline" id="timeline">
        ${timeline.map((e) => html`<li><time datetime="${e.at}">${e.at}</time> <strong>${e.phase}</strong>: ${e.note}</li>`)}
      </ol>
    </section>`;
  return { title: `${modelName} ${modelVersion}`, main, scripts: [LINK_SCRIPT] };
}

/** A page that is only a notice (no such promotion, a refused form). */
export function noticePage(notice: Notice): PageOptions {
  return { title: notice.title, main: noticeBlock(notice) };
}

/** The script of the sign-in page: an approval link's token waits in the tab's session storage across the sign-in. */
export const STASH_SCRIPT = `(function () {
  var token = new URLSearchParams(location.hash.slice(1)).get('token');
  history.replaceState(null, '', location.pathname + location.search);
  if (token) sessionStorage.setItem(${STASH_KEY}, token);
})();`;

/**
 * On Azure, for a caller App Service authentication has not signed in: a link to its sign-in, back to this page.
 * Its script keeps an approval link's token in the tab's session storage (never sent anywhere) across the sign-in,
 * which loses the fragment; the promotion's page takes it from there once and removes it.
 */
export function signInPage(returnPath: string, message: string): PageOptions {
  const href = `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(returnPath)}`;
  return {
    title: 'Sign in',
    main: html`${noticeBlock({ tone: 'warn', title: 'Sign in', text: message })}
      <p><a id="sign-in" href="${href}">Sign in with your organisation's account</a> to read this promotion.</p>`,
    scripts: [STASH_SCRIPT],
  };
}
