/**
 * The approver's side of the local outbox (see OutboxNotifier): read the message a promotion sent to an approver,
 * and use one of its links — the token from the fragment, POSTed in the body of a decision.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { outboxFile, type ApproverMessage } from '../lib/adapters/notifier';

export class Inbox {
  constructor(readonly dir: string) {}

  /** The embedded default's outbox under its data directory. */
  static of(dataDir: string): Inbox {
    return new Inbox(path.join(dataDir, 'outbox'));
  }

  /** What `approver` was sent for a promotion (no approver: the links for anyone the policy allows). */
  message(promotionId: string, approver?: string): ApproverMessage | undefined {
    const file = outboxFile(this.dir, promotionId, approver);
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ApproverMessage) : undefined;
  }
}

/**
 * Uses an approval link as a script would: POSTs the fragment's token, with `body`, as JSON to the decision route of
 * the promotion the link opens (`/promotions/{id}` → `/api/promotions/{id}/decision`; the page's form posts the same
 * token to the page itself).
 */
export function decideByLink(link: string, body: Record<string, unknown> = {}): Promise<Response> {
  const url = new URL(link);
  const token = new URLSearchParams(url.hash.slice(1)).get('token') ?? undefined;
  url.hash = '';
  const page = /^\/promotions\/([^/]+)$/.exec(url.pathname);
  if (page) url.pathname = `/api/promotions/${page[1]}/decision`;
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, token }),
  });
}
