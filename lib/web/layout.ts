/**
 * The frame of every Champion page (the dashboard, the history, a promotion's page, the local outbox): landmarks
 * (header, nav, main), a skip link, one stylesheet with visible focus and colours that keep 4.5:1 contrast, and a
 * Content-Security-Policy that allows only this stylesheet and the scripts a page names by their hash (no other
 * script, no framing, forms only to the app). The pages' scripts are fixed text, so a hash names each exactly and no
 * per-response nonce is needed.
 */
import type { HttpResponseInit } from '@azure/functions';
import { createHash } from 'node:crypto';
import { html, raw, type SafeHtml } from './html';

/** `sha256-…` of an inline script or style, for a Content-Security-Policy that allows exactly it. */
export const cspHash = (source: string): string =>
  `'sha256-${createHash('sha256').update(source, 'utf8').digest('base64')}'`;

export const STYLE = `
:root { color-scheme: light; --ink: #111827; --muted: #4b5563; --line: #d1d5db; --accent: #1d4ed8; --bad: #b91c1c; --good: #15803d; --warn: #7a4a00; --soft: #f3f5f8; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #fff; }
header, main, footer { max-width: 72rem; margin: 0 auto; padding: 0.75rem 1.25rem; }
header { display: flex; gap: 1.5rem; align-items: baseline; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 700; font-size: 1.15rem; }
nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, summary:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 0.5rem; background: #fff; padding: 0.25rem 0.5rem; z-index: 1; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
h1 { font-size: 1.5rem; margin: 0.5rem 0; } h2 { font-size: 1.25rem; margin-top: 2rem; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; }
table.compact { width: auto; font-size: 0.9rem; }
.muted { color: var(--muted); }
.stage-production, .outcome-promoted, .outcome-rolled-back, .outcome-registered { color: var(--good); font-weight: 600; }
.outcome-failed, .outcome-rejected, .outcome-job-failed, .outcome-data-check-failed, .error { color: var(--bad); font-weight: 600; }
progress { width: 6rem; vertical-align: middle; }
ul.plain { list-style: none; padding: 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem 1rem; margin: 0.75rem 0; }
.live { display: flex; gap: 1rem; align-items: center; }
figure.chart { margin: 0.5rem 0; } figure.chart svg { max-width: 100%; height: auto; }
form.inline { display: flex; gap: 0.5rem; align-items: end; flex-wrap: wrap; }
label { display: block; font-weight: 600; }
input[type=text] { font: inherit; padding: 0.3rem 0.4rem; border: 1px solid var(--muted); border-radius: 4px; min-width: 18rem; }
input[aria-invalid=true] { border-color: var(--bad); }
button { font: inherit; padding: 0.3rem 0.8rem; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
details > summary { cursor: pointer; }
ol.timeline { margin: 0.25rem 0; padding-left: 1.25rem; font-size: 0.9rem; }
nav a[aria-current=page] { font-weight: 700; color: var(--ink); }
.good { color: var(--good); font-weight: 600; } .bad { color: var(--bad); font-weight: 600; }
.warn { color: var(--warn); font-weight: 600; }
.notice { border: 2px solid var(--line); border-left-width: 6px; padding: 0.5rem 1rem; margin: 1rem 0; background: var(--soft); }
.notice.good { border-color: var(--good); } .notice.bad { border-color: var(--bad); } .notice.warn { border-color: var(--warn); }
.notice h2 { margin-top: 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
form.decide { border: 1px solid var(--line); border-radius: 6px; padding: 0.75rem 1rem; background: var(--soft); }
textarea { width: 100%; min-height: 4rem; font: inherit; padding: 0.4rem; border: 1px solid var(--muted); border-radius: 4px; }
textarea:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
button.approve { background: var(--good); border-color: var(--good); } button.reject { background: var(--bad); border-color: var(--bad); }
svg text { font: 12px system-ui, sans-serif; fill: var(--ink); }
`;

/** A link of the site's navigation, after the dashboard's. */
export interface NavLink {
  href: string;
  label: string;
}

export interface PageOptions {
  title: string;
  main: SafeHtml;
  /** The site's links after the dashboard's (the local outbox, where there is one). */
  nav?: NavLink[];
  /** The address of this page among the site's links, marked as the current page. */
  current?: string;
  /** Inline scripts the page runs (allowed by hash). */
  scripts?: string[];
  /** Without JavaScript, reload every so many seconds (a page that shows something running). */
  refreshSeconds?: number;
  /** The `data-live` flag of <main>, which the refresh script reads. */
  live?: boolean;
}

/**
 * A <style> or <script> holding exactly `source`, so its hash is the one the policy names. Built outside the `html`
 * templates, whose markup a formatter may re-indent.
 */
const inline = (tag: 'style' | 'script', source: string) => raw(`<${tag}>${source}</${tag}>`);

export function renderPage(options: PageOptions): { html: string; csp: string } {
  const scripts = options.scripts ?? [];
  const body = html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${options.title} · Champion</title>
        ${inline('style', STYLE)}
        ${options.refreshSeconds ? html`<noscript><meta http-equiv="refresh" content="${options.refreshSeconds}" /></noscript>` : ''}
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <span class="brand">Champion</span>
          <nav aria-label="Main">
            <ul>
              ${[{ href: '/', label: 'Dashboard' }, ...(options.nav ?? [])].map(
                (link) =>
                  html`<li>
                    <a href="${link.href}" ${link.href === options.current ? raw('aria-current="page"') : ''}
                      >${link.label}</a
                    >
                  </li>`,
              )}
            </ul>
          </nav>
        </header>
        <main id="main" tabindex="-1" data-live="${options.live ? 'true' : 'false'}">${options.main}</main>
        ${scripts.map((source) => inline('script', source))}
      </body>
    </html> `;
  const csp = [
    "default-src 'none'",
    `style-src ${cspHash(STYLE)}`,
    scripts.length ? `script-src ${scripts.map(cspHash).join(' ')}` : "script-src 'none'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html: body.value, csp };
}

/**
 * A page reply: HTML, never cached (it shows live state), never framed, no referrer leaving the app. Referrer-Policy
 * is same-origin rather than no-referrer because a POST under no-referrer carries `Origin: null` (Fetch, "append a
 * request Origin header"), and the decision forms are checked by their Origin where Sec-Fetch-Site is not sent.
 */
export function pageResponse(
  status: number,
  options: PageOptions,
  headers: Record<string, string> = {},
): HttpResponseInit {
  const { html: body, csp } = renderPage(options);
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': csp,
      'referrer-policy': 'same-origin',
      'x-content-type-options': 'nosniff',
      ...headers,
    },
    body,
  };
}
