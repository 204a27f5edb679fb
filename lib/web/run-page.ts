/**
 * A retraining run that waits for a person before registering its model (retraining.approval) is decided through
 * the same links and the same form as a promotion, so its approval link opens `/promotions/{runId}` too: this is
 * that page, smaller than a promotion's (no evaluation yet: the model is not registered), with the run's job and the
 * metrics it logged, its timeline and the decision.
 */
import { createHash } from 'node:crypto';
import type { RetrainingInput, RetrainingResult, RetrainingStatus } from '../../orchestrations/contract';
import { runMetricsRecord } from '../domain/evidence-record';
import { html } from './html';
import type { PageOptions } from './layout';
import {
  LINK_SCRIPT,
  decisionSectionFor,
  decisionState,
  linkClosedBlock,
  noticeBlock,
  type DecisionForm,
  type Notice,
} from './promotion-page';

export interface RunPageData {
  id: string;
  runtimeStatus: string;
  input: RetrainingInput;
  status?: RetrainingStatus;
  result?: RetrainingResult;
}

/** The digest a run's decision is bound to: the run, the model, the job whose output would be registered, its metrics. */
export function runEvidenceDigest(data: RunPageData): string {
  const shown = [
    'run-v1',
    data.id,
    data.input.modelName,
    data.status?.jobName ?? data.result?.job?.name ?? null,
    data.status?.metrics ?? null,
  ];
  return createHash('sha256').update(JSON.stringify(shown), 'utf8').digest('base64url');
}

export function runPage(
  data: RunPageData,
  form: DecisionForm,
  options: { notice?: Notice; closed?: Notice } = {},
): PageOptions {
  const job = data.status?.jobName ?? data.result?.job?.name;
  const metrics = Object.entries(data.status?.metrics ?? runMetricsRecord(data.result?.job?.metrics ?? {}));
  const timeline = data.status?.timeline ?? [];
  const main = html`${options.notice ? noticeBlock(options.notice) : ''} ${linkClosedBlock(options.closed)}
    <h1>Retraining of ${data.input.modelName}: register its model?</h1>
    ${data.result ? noticeBlock({ tone: 'warn', title: `Outcome: ${data.result.outcome}`, text: data.result.reason }, 'outcome') : ''}
    <dl class="facts" id="facts">
      <dt>Run</dt>
      <dd><code>${data.id}</code></dd>
      <dt>State</dt>
      <dd id="phase">${data.status?.phase ?? data.runtimeStatus} (${data.runtimeStatus})</dd>
      <dt>Training job</dt>
      <dd id="job">${job ?? '—'}</dd>
      ${
        metrics.length
          ? html`<dt>Metrics</dt>
              <dd id="run-metrics">${metrics.map(([k, v]) => html`<code>${k}</code>=${v} `)}</dd>`
          : ''
      }
    </dl>
    <p>
      Approving registers the job's model, which starts its promotion (evaluated against the champion, then asked for
      approval again before it serves). Rejecting leaves it unregistered.
    </p>
    ${decisionSectionFor(decisionState(data), form, runEvidenceDigest(data))}
    <section aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      <ol class="timeline" id="timeline">
        ${timeline.map((e) => html`<li><time datetime="${e.at}">${e.at}</time> <strong>${e.phase}</strong>: ${e.note}</li>`)}
      </ol>
    </section>`;
  return { title: `Retraining ${data.id}`, main, scripts: [LINK_SCRIPT] };
}
