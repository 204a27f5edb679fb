/**
 * Who calls the local workspace. Entra ID issues each caller its own token and ARM stamps every resource it writes
 * with that caller's identity (`systemData`); here each bearer token stands for one principal, and the workspace
 * stamps `systemData` from it. Nothing in a request body can say who the caller is.
 */
import { randomBytes } from 'node:crypto';
import type { Store } from './store';

/**
 * The kinds of identity ARM records in `systemData.createdByType` (azure-rest-api-specs,
 * specification/common-types/resource-management/v5/types.json, definition `createdByType`).
 */
export const PRINCIPAL_TYPES = ['User', 'Application', 'ManagedIdentity', 'Key'] as const;
export type PrincipalType = (typeof PRINCIPAL_TYPES)[number];

export interface Principal {
  /** A user's sign-in name (UPN), or the id (a GUID) of an application or managed identity. */
  name: string;
  type: PrincipalType;
}

const META_KEY = 'principals';
const MAX_NAME = 256;
// Control and format characters (zero-width, bidirectional overrides): a name with them is meant to deceive.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** Why `name` cannot name a principal, or undefined when it can. */
export function principalNameProblem(name: string): string | undefined {
  if (!name.trim()) return 'must not be empty';
  if (name.length > MAX_NAME) return `must be at most ${MAX_NAME} characters`;
  if (INVISIBLE.test(name)) return 'must not contain control or invisible characters';
  return undefined;
}

/** The tokens the workspace accepts, each with the principal it stands for; kept in the store across restarts. */
export class Principals {
  readonly #byToken = new Map<string, Principal>();

  constructor(private readonly store: Store) {
    const saved = store.meta(META_KEY);
    for (const [token, principal] of Object.entries(saved ? (JSON.parse(saved) as Record<string, Principal>) : {}))
      this.#byToken.set(token, principal);
  }

  /** Makes `token` stand for `principal` (a fixed token given at start keeps working across restarts). */
  assign(token: string, principal: Principal): void {
    this.#byToken.set(token, principal);
    this.#save();
  }

  /** The token of `principal`, issued on first use: one token per principal, as a sign-in gives one identity. */
  tokenFor(principal: Principal): string {
    const problem = principalNameProblem(principal.name);
    if (problem) throw new Error(`Principal name ${problem}.`);
    for (const [token, p] of this.#byToken) if (p.name === principal.name && p.type === principal.type) return token;
    const token = randomBytes(32).toString('base64url');
    this.assign(token, { name: principal.name, type: principal.type });
    return token;
  }

  /** The principal an `Authorization: Bearer …` header stands for, or undefined for any other value. */
  fromAuthorization(header: string | undefined): Principal | undefined {
    const match = /^Bearer (.+)$/.exec(header ?? '');
    return match ? this.#byToken.get(match[1]!) : undefined;
  }

  #save(): void {
    this.store.setMeta(META_KEY, JSON.stringify(Object.fromEntries(this.#byToken)));
  }
}
