/**
 * The local outbox as a page of the dashboard (`/outbox`), as a mail catcher shows mail: every message the local
 * notifier wrote (approval requests and reminders, one per approver, with their links), newest first. It exists on
 * the local runtime only — the one local place an approval link appears; on Azure the messages go to Service Bus and
 * this page answers 404.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ApproverMessage } from '../adapters/notifier';
import { html } from './html';
import type { PageOptions } from './layout';

/** The outbox's address: a page of the dashboard. */
export const OUTBOX_PATH = '/outbox';

export interface OutboxEntry {
  file: string;
  writtenAt: Date;
  message: ApproverMessage;
}

/** Every message in the outbox folder, newest first; files that are not messages are skipped. */
export function readOutbox(dir: string): OutboxEntry[] {
  const entries: OutboxEntry[] = [];
  let folders: string[];
  try {
    folders = readdirSync(dir);
  } catch {
    return [];
  }
  for (const folder of folders) {
    const inner = path.join(dir, folder);
    let files: string[];
    try {
      files = readdirSync(inner).filter((f) => f.endsWith('.json'));
    } catch {
      continue;
    }
    for (const name of files) {
      const file = path.join(inner, name);
      try {
        const message = JSON.parse(readFileSync(file, 'utf8')) as ApproverMessage;
        if (typeof message?.promotionId !== 'string' || typeof message.approveUrl !== 'string') continue;
        entries.push({ file, writtenAt: statSync(file).mtime, message });
      } catch {
        continue;
      }
    }
  }
  return entries.sort(
    (a, b) =>
      b.writtenAt.getTime() - a.writtenAt.getTime() || a.message.promotionId.localeCompare(b.message.promotionId),
  );
}

/** Only links to this app's own decision route are made clickable. */
function safeLink(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

export function outboxPage(entries: OutboxEntry[]): PageOptions {
  const main = html`<h1>Outbox</h1>
    <p>
      What the local runtime would have sent: approval requests and their reminders, one message per approver. On Azure
      these go to the Service Bus topic instead and never appear here. Each link works once, for the approver it names.
      Messages are kept on this machine only.
    </p>
    ${
      entries.length === 0
        ? html`<p id="outbox-empty" class="muted">No messages yet.</p>`
        : html`<ol id="outbox" class="messages">
            ${entries.map(({ message: m, writtenAt }) => {
              const approve = safeLink(m.approveUrl);
              const reject = safeLink(m.rejectUrl);
              return html`<li>
                <article aria-labelledby="msg-${m.promotionId}-${m.approver ?? 'any'}${m.reminder ? '-reminder' : ''}">
                  <h2 id="msg-${m.promotionId}-${m.approver ?? 'any'}${m.reminder ? '-reminder' : ''}">
                    ${m.reminder ? 'Reminder' : 'Approval requested'}: ${m.modelName} version ${m.modelVersion}
                  </h2>
                  <dl class="facts">
                    <dt>To</dt>
                    <dd class="to">${m.approver ?? 'any approver the policy allows'}</dd>
                    <dt>Written</dt>
                    <dd><time datetime="${writtenAt.toISOString()}">${writtenAt.toISOString()}</time></dd>
                    <dt>Promotion</dt>
                    <dd><code>${m.promotionId}</code></dd>
                    ${
                      m.registrant
                        ? html`<dt>Registered by</dt>
                            <dd>${m.registrant.name}</dd>`
                        : ''
                    }
                    <dt>Evidence</dt>
                    <dd>${m.evidenceSummary}</dd>
                    <dt>Expires</dt>
                    <dd>${m.expiresAt}</dd>
                  </dl>
                  <p>
                    ${approve ? html`<a class="approve-link" href="${approve}">Open the approve link</a>` : ''} ·
                    ${reject ? html`<a class="reject-link" href="${reject}">Open the reject link</a>` : ''}
                  </p>
                </article>
              </li>`;
            })}
          </ol>`
    }`;
  return { title: 'Outbox', main, current: OUTBOX_PATH };
}
