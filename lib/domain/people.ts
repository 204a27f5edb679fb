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

/** The name trimmed, or the message naming `field`. */
export function checkedName(field: string, name: string): { ok: true; name: string } | { ok: false; message: string } {
  const problem = nameProblem(name);
  return problem ? { ok: false, message: `${field}: ${problem}.` } : { ok: true, name: name.trim() };
}
