import { describe, expect, it } from 'vitest';
import { parseNcrontab } from '../../local/runtime/ncrontab';

const at = (iso: string) => new Date(iso);

describe('NCRONTAB schedules', () => {
  it.each([
    ['*/5 * * * * *', '2026-01-01T00:00:03Z', '2026-01-01T00:00:05.000Z'],
    ['0 */5 * * * *', '2026-01-01T00:04:59Z', '2026-01-01T00:05:00.000Z'],
    ['0 30 9 * * 1-5', '2026-11-20T10:00:00Z', '2026-11-23T09:30:00.000Z'], // Friday after 9:30 → Monday
    ['0 0 0 1 Jan *', '2026-06-01T00:00:00Z', '2027-01-01T00:00:00.000Z'],
    ['0 0 12 * * Sun', '2026-11-22T12:00:00Z', '2026-11-29T12:00:00.000Z'], // exactly at a firing → the next one
    ['0 0 0 29 2 *', '2026-03-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['10,20 0 0 * * *', '2026-01-01T00:00:10Z', '2026-01-01T00:00:20.000Z'],
    ['0 0 0 * * 7', '2026-11-22T01:00:00Z', '2026-11-29T00:00:00.000Z'], // 7 is Sunday too
  ])('%s after %s fires at %s', (expression, after, expected) => {
    expect(parseNcrontab(expression).next(at(after)).toISOString()).toBe(expected);
  });

  it.each([
    ['0 */5 * * *', /expected 6 fields/],
    ['60 * * * * *', /second "60" is not in 0-59/],
    ['0 0 25 * * *', /hour "25"/],
    ['*/0 * * * * *', /step "0"/],
    ['0 0 0 5-1 * *', /range "5-1" is reversed/],
    ['0 0 0 * Foo *', /month "Foo"/],
  ])('rejects %s', (expression, message) => {
    expect(() => parseNcrontab(expression)).toThrow(message);
  });
});
