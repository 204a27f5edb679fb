/**
 * People's names (approvers, registrants) compared in one form: NFKC, then case-folded, so `ＡＬＩＣＥ@contoso.com`
 * is `alice@contoso.com`. A name with control or invisible characters, or one mixing Latin with Cyrillic or Greek
 * letters, is refused: it can only be meant to look like someone else's.
 */

/** Longest name kept (a UPN is at most 113 characters, an e-mail address 254). */
export const MAX_NAME_LENGTH = 256;

// Control (Cc), format (Cf: zero-width space and joiners, BOM, bidirectional overrides), line/paragraph separators.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const SCRIPTS = [/\p{Script=Latin}/u, /\p{Script=Cyrillic}/u, /\p{Script=Greek}/u];

/** The form names are compared in. */
export function normalizeName(name: string): string {
  return name.normalize('NFKC').toLowerCase().normalize('NFKC').trim();
}

/** Two names are the same person's when their normalized forms are equal (and not empty). */
export function sameName(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const normalized = normalizeName(a);
  return normalized !== '' && normalized === normalizeName(b);
}

/** Why `name` cannot be anyone's name, or undefined when it can. */
export function nameProblem(name: string): string | undefined {
  if (!name.trim()) return 'must not be empty';
  if (name.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters`;
  if (INVISIBLE.test(name)) return 'must not contain control or invisible (zero-width, bidirectional) characters';
  const normalized = normalizeName(name);
  if (SCRIPTS.filter((script) => script.test(normalized)).length > 1) {
    return 'must not mix Latin, Cyrillic or Greek letters';
  }
  return undefined;
}

/**
 * Who registered a model version, as the registry recorded it from their token (`systemData.createdBy` and
 * `createdByType`): unlike a tag, not something the registrant writes.
 */
export interface Registrant {
  name: string;
  /** `User`, `Application`, `ManagedIdentity` or `Key`; absent when the registry did not say. */
  type?: string;
}

// Azure records applications and managed identities (Champion's own retraining registers as its identity) by id:
// only a person's registration makes their approval a self-approval.
const NOT_A_PERSON: readonly string[] = ['Application', 'ManagedIdentity', 'Key'];

/**
 * The registrant of a version, and the name whose approval would be self-approval (when a person registered it).
 * A version without `createdBy` (a registry that does not record it) has neither.
 */
export function registrantOf(version: { createdBy?: string; createdByType?: string } | undefined): {
  registrant?: Registrant;
  registeredBy?: string;
} {
  if (!version?.createdBy) return {};
  const registrant: Registrant = {
    name: version.createdBy,
    ...(version.createdByType ? { type: version.createdByType } : {}),
  };
  return NOT_A_PERSON.includes(registrant.type ?? '') ? { registrant } : { registrant, registeredBy: registrant.name };
}

/** The name trimmed, or the message naming `field`. */
export function checkedName(field: string, name: string): { ok: true; name: string } | { ok: false; message: string } {
  const problem = nameProblem(name);
  return problem ? { ok: false, message: `${field}: ${problem}.` } : { ok: true, name: name.trim() };
}
