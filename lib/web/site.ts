/**
 * The site around the pages: its navigation (the dashboard, and the local outbox where the notifier writes one) and
 * a page reply in the one layout with it.
 */
import type { HttpResponseInit } from '@azure/functions';
import { getApp } from '../app';
import { pageResponse, type NavLink, type PageOptions } from './layout';
import { OUTBOX_PATH } from './outbox-page';

/** The links after the dashboard's: the outbox only where messages are kept on this machine (the local runtime). */
export function siteNav(): NavLink[] {
  const { identity, settings } = getApp();
  return identity.kind === 'local' && settings.CHAMPION_OUTBOX_DIR ? [{ href: OUTBOX_PATH, label: 'Outbox' }] : [];
}

export function sitePage(status: number, options: PageOptions, headers: Record<string, string> = {}): HttpResponseInit {
  return pageResponse(status, { nav: siteNav(), ...options }, headers);
}
