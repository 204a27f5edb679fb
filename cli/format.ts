/** Plain-text output: aligned tables, times and placeholders. No colour. */

export const NONE = '—';

/** An aligned table: a header row then one row per item, columns separated by two spaces, no trailing spaces. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((row) => (row[col] ?? '').length)));
  return all
    .map((row) =>
      header
        .map((_, col) => (row[col] ?? '').padEnd(widths[col] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** "2025-03-01T10:02:03.456Z" → "2025-03-01 10:02:03Z" (UTC); anything unparsable is shown as is. */
export function formatTime(value: string | null | undefined): string {
  if (!value) return NONE;
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) return value;
  return `${time.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** Cuts text to `max` characters with an ellipsis, on one line. */
export function truncate(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

export const orNone = (value: string | number | null | undefined): string =>
  value === null || value === undefined || value === '' ? NONE : String(value);

/** Label/value lines: "  Label    value", labels padded to the widest. */
export function fields(rows: [string, string][]): string {
  const width = Math.max(0, ...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`.trimEnd()).join('\n');
}

/** Indents every line by two spaces. */
export const indent = (text: string, by = '  '): string =>
  text
    .split('\n')
    .map((line) => (line ? `${by}${line}` : line))
    .join('\n');
