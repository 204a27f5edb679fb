/**
 * NCRONTAB schedules as Azure Functions timer triggers use them: six fields, seconds first
 * (`{second} {minute} {hour} {day} {month} {day-of-week}`), evaluated in UTC.
 */

interface Field {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: Field[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  { name: 'day-of-week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

export interface Schedule {
  expression: string;
  allowed: Set<number>[];
  next(after: Date): Date;
}

function parseValue(text: string, field: Field, expression: string): number {
  const lower = text.toLowerCase();
  const named = field.names?.findIndex((n) => lower.startsWith(n) && /^[a-z]+$/.test(lower)) ?? -1;
  const value = named >= 0 ? named + field.min : /^\d+$/.test(text) ? Number(text) : NaN;
  // Day-of-week 7 is Sunday in NCRONTAB as in cron.
  const normalised = field.name === 'day-of-week' && value === 7 ? 0 : value;
  if (!Number.isInteger(normalised) || normalised < field.min || normalised > field.max) {
    throw new Error(`Invalid NCRONTAB "${expression}": ${field.name} "${text}" is not in ${field.min}-${field.max}.`);
  }
  return normalised;
}

function parseField(text: string, field: Field, expression: string): Set<number> {
  const allowed = new Set<number>();
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) {
      throw new Error(`Invalid NCRONTAB "${expression}": ${field.name} step "${stepText}" must be a positive integer.`);
    }
    let from: number;
    let to: number;
    if (range === '*') {
      from = field.min;
      to = field.name === 'day-of-week' ? 6 : field.max;
    } else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      from = parseValue(a, field, expression);
      to = parseValue(b, field, expression);
      if (to < from) throw new Error(`Invalid NCRONTAB "${expression}": ${field.name} range "${range}" is reversed.`);
    } else {
      from = parseValue(range, field, expression);
      to = stepText === undefined ? from : field.max;
    }
    for (let v = from; v <= to; v += step) allowed.add(v);
  }
  return allowed;
}

export function parseNcrontab(expression: string): Schedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 6) {
    throw new Error(
      `Invalid NCRONTAB "${expression}": expected 6 fields (second minute hour day month day-of-week), got ${parts.length}.`,
    );
  }
  const allowed = parts.map((p, i) => parseField(p, FIELDS[i] as Field, expression));
  const [seconds, minutes, hours, days, months, weekdays] = allowed as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];

  function next(after: Date): Date {
    const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
    const limit = after.getTime() + 5 * 366 * 24 * 3600 * 1000;
    while (t.getTime() <= limit) {
      if (!months.has(t.getUTCMonth() + 1)) {
        t.setUTCMonth(t.getUTCMonth() + 1, 1);
        t.setUTCHours(0, 0, 0);
        continue;
      }
      if (!days.has(t.getUTCDate()) || !weekdays.has(t.getUTCDay())) {
        t.setUTCDate(t.getUTCDate() + 1);
        t.setUTCHours(0, 0, 0);
        continue;
      }
      if (!hours.has(t.getUTCHours())) {
        t.setUTCHours(t.getUTCHours() + 1, 0, 0);
        continue;
      }
      if (!minutes.has(t.getUTCMinutes())) {
        t.setUTCMinutes(t.getUTCMinutes() + 1, 0);
        continue;
      }
      if (!seconds.has(t.getUTCSeconds())) {
        t.setUTCSeconds(t.getUTCSeconds() + 1);
        continue;
      }
      return t;
    }
    throw new Error(`NCRONTAB "${expression}" never fires.`);
  }

  return { expression, allowed, next };
}
