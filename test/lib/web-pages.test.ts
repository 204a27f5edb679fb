/** The promotion's page and the outbox in the one layout: escaping, the hashed script, the evidence digest, older promotions. */
import { describe, expect, it } from 'vitest';
import { demoPolicy } from '../../local/start';
import { parsePolicies } from '../../lib/domain/policy';
import { createHash } from 'node:crypto';
import { escapeHtml } from '../../lib/web/html';
import { pageResponse, renderPage } from '../../lib/web/layout';
import { outboxPage } from '../../lib/web/outbox-page';
import { evidenceDigest, LINK_SCRIPT, promotionPage, type PromotionPageData } from '../../lib/web/promotion-page';
import { runEvidenceDigest, runPage, type RunPageData } from '../../lib/web/run-page';

const HOSTILE = `<script>alert(1)</script>"'\`&<img src=x onerror=alert(2)>`;
const policy = Object.values(parsePolicies({ policies: [demoPolicy()] }))[0]!;

function data(overrides: Partial<PromotionPageData> = {}): PromotionPageData {
  return {
    id: 'promote:demand:2',
    runtimeStatus: 'Running',
    input: { modelName: 'demand', modelVersion: '2', policy, source: 'event' },
    status: {
      phase: 'awaiting-approval',
      modelName: 'demand',
      modelVersion: '2',
      timeline: [{ at: '2026-01-01T00:00:00.000Z', phase: 'evaluated', note: HOSTILE }],
      evidence: { decision: 'win', reason: HOSTILE, n: 400 },
      approval: { expiresAt: '2026-01-02T00:00:00.000Z' },
    },
    version: {
      name: 'demand',
      version: '2',
      id: '/x',
      tags: { stage: 'staged', note: HOSTILE },
      properties: { 'training.job': HOSTILE },
      createdBy: HOSTILE,
      createdByType: 'User',
    },
    ...overrides,
  };
}

const render = (d: PromotionPageData, kind: 'link' | 'caller' = 'link') =>
  renderPage(promotionPage(d, kind === 'link' ? { why: 'use your link' } : { caller: HOSTILE })).html;
const sha = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

describe('pages', () => {
  it('renders hostile names, reasons, tags, notes and callers as text', () => {
    for (const page of [render(data()), render(data(), 'caller')]) {
      expect(page).not.toContain('<script>alert');
      expect(page).not.toContain('<img src=x');
      expect(page).toContain(escapeHtml(HOSTILE));
    }
  });

  it('is a page of the one layout: landmarks, skip link, the site navigation, its script allowed by hash only', () => {
    const response = pageResponse(200, {
      ...promotionPage(data(), { caller: 'carol' }),
      nav: [{ href: '/outbox', label: 'Outbox' }],
      current: '/outbox',
    });
    const body = String(response.body);
    const headers = response.headers as Record<string, string>;
    const csp = headers['content-security-policy']!;
    expect(body).toContain('<html lang="en">');
    expect(body).toContain('<a class="skip" href="#main">');
    expect(body).toContain('<main id="main"');
    expect(body).toMatch(/<a href="\/"\s*>Dashboard<\/a\s*>/);
    expect(body).toMatch(/<a href="\/outbox" aria-current="page"\s*>Outbox<\/a\s*>/);
    expect(body).toContain(`<script>${LINK_SCRIPT}</script>`);
    expect(csp).toContain(`script-src ${sha(LINK_SCRIPT)};`);
    expect(csp).not.toMatch(/unsafe-inline|nonce-/);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self'");
    // Same-origin: a POST under no-referrer would carry "Origin: null", and the forms are checked by their Origin.
    expect(headers['referrer-policy']).toBe('same-origin');
  });

  it('posts its one form to the page itself; shown to a caller who may decide, hidden for a link to open', () => {
    const caller = render(data(), 'caller');
    expect(caller).toMatch(
      /<form\s+class="decide"\s+id="decide"\s+method="post"\s+action="\/promotions\/promote%3Ademand%3A2"\s*>/,
    );
    expect(caller).toContain(`You decide as <strong>${escapeHtml(HOSTILE)}</strong>`);
    const link = render(data());
    expect(link).toMatch(
      /<form\s+class="decide"\s+id="decide"\s+method="post"\s+action="\/promotions\/promote%3Ademand%3A2"\s+hidden\s*>/,
    );
    expect(link).toContain('use your link');
    expect(link).not.toContain('id="link-closed"');
  });

  it('renders a promotion evaluated before metric values were kept', () => {
    const page = render(data());
    expect(page).toContain('evaluated before metric values were kept');
    expect(page).not.toContain('id="metrics"');
    expect(page).not.toContain('differences-chart');
  });

  it("binds the digest to the evidence and the registry's facts, not to Champion's own tags", () => {
    const base = data();
    const digest = evidenceDigest(base);
    expect(evidenceDigest(data())).toBe(digest);
    const restaged = data({ version: { ...base.version!, tags: { ...base.version!.tags, stage: 'production' } } });
    expect(evidenceDigest(restaged)).toBe(digest);
    const retagged = data({ version: { ...base.version!, tags: { ...base.version!.tags, 'git.commit': 'abc' } } });
    expect(evidenceDigest(retagged)).not.toBe(digest);
    const reevaluated = data({ status: { ...base.status!, evidence: { decision: 'win', reason: 'other', n: 400 } } });
    expect(evidenceDigest(reevaluated)).not.toBe(digest);
    expect(render(base)).toContain(`name="evidenceDigest" value="${digest}"`);
  });

  it('shows no form once the promotion does not wait for a decision', () => {
    const decided = data({
      status: {
        ...data().status!,
        decision: { decision: 'approve', approver: HOSTILE, via: 'link', at: '2026-01-01T00:00:00.000Z' },
      },
    });
    const page = render(decided);
    expect(page).not.toContain('id="decide"');
    expect(page).toContain(`Approved by ${escapeHtml(HOSTILE)}`);
    // A link opened now is told why it decides nothing (the script shows this block when the address has a token).
    const closed = renderPage(
      promotionPage(decided, { why: '' }, { closed: { tone: 'warn', title: 'Already decided', text: HOSTILE } }),
    ).html;
    expect(closed).toMatch(/<div id="link-closed" hidden>/);
    expect(closed).not.toContain('<script>alert');
  });

  it("says what approving does with the policy's rollout: mirror, steps and their bake, the rollback window", () => {
    const demo = demoPolicy();
    const progressive = Object.values(
      parsePolicies({
        policies: [
          {
            ...demo,
            rollout: {
              ...demo.rollout,
              strategy: 'canary',
              steps: [10, 100],
              bake: 'PT5M',
              mirror: { percent: 20, duration: 'PT10M' },
              rollbackWindow: 'PT2H',
            },
          },
        ],
      }),
    )[0]!;
    const page = renderPage(
      promotionPage(data({ input: { ...data().input, policy: progressive } }), { why: '' }),
    ).html.replace(/\s+/g, ' ');
    expect(page).toContain('First 20 % of live requests are copied to the challenger for 10 min');
    expect(page).toContain('takes 10 %, then 100 % of');
    expect(page).toContain('each step below 100 % serves 5 min and is judged before the next');
    expect(page).toContain('(for 2 h, then its deployment is removed)');
  });

  it('shows a retraining run waiting to register its model with the same form, bound to its job', () => {
    const run: RunPageData = {
      id: 'retrain:demand:1',
      runtimeStatus: 'Running',
      input: {
        modelName: 'demand',
        retraining: {
          jobSpec: 'jobs/train.json',
          trainingDataAsset: { name: 'demand-train' },
          approval: policy.approval,
        },
        trigger: { source: 'manual', reason: 'asked', triggerId: 'retrain-signal:demand:1' },
      },
      status: {
        phase: 'awaiting-approval',
        modelName: 'demand',
        jobName: HOSTILE,
        approval: { expiresAt: '2026-01-02T00:00:00.000Z' },
        metrics: { rmse: '0.5' },
        timeline: [{ at: '2026-01-01T00:00:00.000Z', phase: 'awaiting-approval', note: HOSTILE }],
      },
    };
    const page = renderPage(runPage(run, { caller: 'carol' })).html;
    expect(page).toContain('action="/promotions/retrain%3Ademand%3A1"');
    expect(page).toContain(`name="evidenceDigest" value="${runEvidenceDigest(run)}"`);
    expect(page).not.toContain('<script>alert');
    expect(page).toMatch(/id="run-metrics"><code>rmse<\/code>=0.5/);
    const otherJob = { ...run, status: { ...run.status!, jobName: 'another-job' } };
    expect(runEvidenceDigest(otherJob)).not.toBe(runEvidenceDigest(run));
    const otherMetrics = { ...run, status: { ...run.status!, metrics: { rmse: '0.9' } } };
    expect(runEvidenceDigest(otherMetrics)).not.toBe(runEvidenceDigest(run));
  });

  it('makes only http(s) outbox links clickable, and escapes the message', () => {
    const page = renderPage(
      outboxPage([
        {
          file: 'f',
          writtenAt: new Date(0),
          message: {
            promotionId: HOSTILE,
            modelName: 'demand',
            modelVersion: '2',
            evidenceSummary: HOSTILE,
            expiresAt: 'later',
            approver: HOSTILE,
            approveUrl: 'javascript:alert(1)',
            rejectUrl: 'http://127.0.0.1:7071/promotions/p#token=a',
            reminder: true,
          },
        },
      ]),
    ).html;
    expect(page).not.toContain('javascript:');
    expect(page).toContain('href="http://127.0.0.1:7071/promotions/p#token=a"');
    expect(page).toContain('Reminder: demand version 2');
    expect(page).not.toContain('<script>alert');
  });
});
