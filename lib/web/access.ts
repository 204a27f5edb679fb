/**
 * Who may read the pages. They are served to browsers, which hold no function key: on Azure they are for users
 * App Service authentication signed in (one who is not is sent to sign in, `/.auth/login/aad` with
 * `post_login_redirect_uri`, "Customize sign-in and sign-out in Azure App Service authentication"); on Azure without
 * it, nobody (nothing could say who reads); locally, the local user, as the API is open there.
 */
import type { HttpResponseInit } from '@azure/functions';
import { signedInPrincipal, type IdentityMode } from '../identity';
import { html } from './html';
import { pageResponse } from './layout';

export type PageAccess =
  { ok: true; viewer: string; authenticated: boolean } | { ok: false; response: HttpResponseInit };

export function pageAccess(mode: IdentityMode, header: (name: string) => string | null, url: URL): PageAccess {
  if (mode.kind === 'local') return { ok: true, viewer: mode.localUser, authenticated: false };
  if (mode.kind === 'app-service') {
    const principal = signedInPrincipal(header);
    if (principal) return { ok: true, viewer: principal.name, authenticated: true };
    // Only the path and query: a redirect never leaves the app.
    const back = `${url.pathname}${url.search}`;
    return {
      ok: false,
      response: {
        status: 302,
        headers: { location: `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(back)}` },
      },
    };
  }
  return {
    ok: false,
    response: pageResponse(403, {
      title: 'Sign-in is not set up',
      main: html`<h1>Sign-in is not set up</h1>
        <p>
          These pages are for people App Service authentication signed in, and it is not on for this app
          (WEBSITE_AUTH_ENABLED is not True). The API still answers callers with a function key.
        </p>`,
    }),
  };
}
