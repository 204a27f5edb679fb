/**
 * Server-rendered HTML without a template engine: `html` is a tagged template that escapes every value it is given
 * (text and attribute values alike), so a hostile model name, approver or note is shown, never run. Fragments built
 * with `html` nest without being escaped twice; anything else is text.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe inside an element or a quoted attribute value. */
export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

type Value = SafeHtml | string | number | boolean | null | undefined | readonly Value[];

function render(value: Value): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(out);
}

/**
 * The app's own markup, inserted as written: its stylesheet and scripts (whose hashes the page's policy names).
 * Never for anything read from a request, the registry or a record.
 */
export const raw = (markup: string): SafeHtml => new SafeHtml(markup);
