/**
 * Who is calling: the approver of a decision is established here, never taken from what a request says about
 * itself. On Azure it comes only from App Service authentication, whose front end sets the `X-MS-CLIENT-PRINCIPAL*`
 * headers and drops any a client sent ("Work with user identities in Azure App Service authentication": external
 * requests aren't allowed to set these headers). Locally it is the configured local user, or the name given, and
 * the record says it was not authenticated.
 */
import { userInfo } from 'node:os';
import type { IdentitySource as DecisionIdentity } from '../orchestrations/contract';
import { checkedName, sameName } from './domain/people';

/** How the approver's identity was established; kept in the decision record. */
export type IdentitySource = Exclude<DecisionIdentity, 'policy'>;

export interface CallerIdentity {
  name: string;
  /** True only when the platform authenticated the caller. */
  authenticated: boolean;
  source: IdentitySource;
  /** The identity provider's id of the caller (X-MS-CLIENT-PRINCIPAL-ID), when authenticated. */
  id?: string;
  /** The identity provider (X-MS-CLIENT-PRINCIPAL-IDP), when authenticated. */
  idp?: string;
}

/**
 * Where identities come from in this process:
 * - `app-service`: App Service authentication is on (the platform then sets `WEBSITE_AUTH_ENABLED=True`,
 *   "Environment variables and app settings in Azure App Service"), so its headers are trusted;
 * - `unavailable`: on Azure without it: no identity can be trusted, so nobody can decide;
 * - `local`: the embedded default and Core Tools: the local user (or the name given), unauthenticated.
 */
export type IdentityMode = { kind: 'app-service' } | { kind: 'unavailable' } | { kind: 'local'; localUser: string };

export function identityMode(settings: {
  WEBSITE_AUTH_ENABLED?: string;
  WEBSITE_HOSTNAME?: string;
  CHAMPION_LOCAL_USER?: string;
}): IdentityMode {
  if (settings.WEBSITE_AUTH_ENABLED?.toLowerCase() === 'true') return { kind: 'app-service' };
  // WEBSITE_HOSTNAME is set by the platform on Azure ("Read-only. Primary hostname for the app").
  if (settings.WEBSITE_HOSTNAME) return { kind: 'unavailable' };
  return { kind: 'local', localUser: settings.CHAMPION_LOCAL_USER ?? userInfo().username };
}

export type CallerResult =
  { ok: true; caller: CallerIdentity } | { ok: false; status: 400 | 401 | 403; message: string };

const PRINCIPAL = 'x-ms-client-principal';
const PRINCIPAL_NAME = 'x-ms-client-principal-name';
const PRINCIPAL_ID = 'x-ms-client-principal-id';
const PRINCIPAL_IDP = 'x-ms-client-principal-idp';
const PRINCIPAL_HEADERS = [PRINCIPAL, PRINCIPAL_NAME, PRINCIPAL_ID, PRINCIPAL_IDP];

type Headers = (name: string) => string | null;

/** What the principal headers say, or undefined when there are none. */
export function signedInPrincipal(header: Headers): CallerIdentity | undefined {
  let name = header(PRINCIPAL_NAME) ?? undefined;
  let idp = header(PRINCIPAL_IDP) ?? undefined;
  const encoded = header(PRINCIPAL);
  if (!name && encoded) {
    // "Decoding the client principal header": base64 JSON {auth_typ, claims: [{typ, val}], name_typ, role_typ}.
    try {
      const principal = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as {
        auth_typ?: unknown;
        claims?: { typ?: unknown; val?: unknown }[];
        name_typ?: unknown;
      };
      const claim = principal.claims?.find((c) => c.typ === principal.name_typ);
      if (typeof claim?.val === 'string') name = claim.val;
      if (!idp && typeof principal.auth_typ === 'string') idp = principal.auth_typ;
    } catch {
      name = undefined;
    }
  }
  if (!name) return undefined;
  return {
    name,
    authenticated: true,
    source: 'app-service-authentication',
    id: header(PRINCIPAL_ID) ?? undefined,
    idp,
  };
}

const UNAVAILABLE: CallerResult = {
  ok: false,
  status: 403,
  message:
    'Decisions need App Service authentication on Azure (WEBSITE_AUTH_ENABLED is not True): no caller can be trusted.',
};

/**
 * The person deciding. `claimed` is the name the request gives (the body's `approver`); `issuedTo` the approver a
 * signed link was made for. Behind App Service authentication the signed-in user decides, and must be the one the
 * link was issued to, so a forwarded link is refused. Locally a link decides as the approver it was issued to, and
 * the API as the name given or the local user; neither is authenticated.
 */
export function decisionCaller(
  mode: IdentityMode,
  header: Headers,
  claimed: string | undefined,
  issuedTo?: string,
): CallerResult {
  if (mode.kind === 'unavailable') return UNAVAILABLE;
  if (mode.kind === 'app-service') {
    const principal = signedInPrincipal(header);
    if (!principal) return { ok: false, status: 401, message: 'Sign in: decisions are taken by signed-in users.' };
    const checked = checkedName(PRINCIPAL_NAME, principal.name);
    if (!checked.ok) return { ok: false, status: 400, message: checked.message };
    if (claimed !== undefined && !sameName(claimed, principal.name)) {
      return { ok: false, status: 403, message: `approver: you are signed in as ${principal.name}.` };
    }
    if (issuedTo !== undefined && !sameName(issuedTo, principal.name)) {
      return {
        ok: false,
        status: 403,
        message: `This approval link was issued to another approver, not to ${principal.name}.`,
      };
    }
    return { ok: true, caller: { ...principal, name: checked.name } };
  }
  // Without App Service authentication in front these headers come from the client: refuse rather than ignore,
  // so a forged identity is never mistaken for a real one.
  const forged = PRINCIPAL_HEADERS.find((name) => header(name) !== null);
  if (forged) {
    return {
      ok: false,
      status: 403,
      message: `${forged}: only App Service authentication sets this header, and it is not on here.`,
    };
  }
  if (claimed !== undefined) {
    const checked = checkedName('approver', claimed);
    if (!checked.ok) return { ok: false, status: 400, message: checked.message };
  }
  if (issuedTo !== undefined) {
    if (claimed !== undefined && !sameName(claimed, issuedTo)) {
      return { ok: false, status: 403, message: `approver: this approval link was issued to another approver.` };
    }
    return { ok: true, caller: { name: issuedTo, authenticated: false, source: 'approval-link' } };
  }
  const name = claimed ?? mode.localUser;
  const checked = checkedName(claimed !== undefined ? 'approver' : 'CHAMPION_LOCAL_USER', name);
  if (!checked.ok) return { ok: false, status: 400, message: checked.message };
  return {
    ok: true,
    caller: { name: checked.name, authenticated: false, source: claimed !== undefined ? 'request' : 'local-user' },
  };
}
