import { describe, expect, it } from 'vitest';
import { newerWinner, type ModelVersionTags } from '../../lib/domain/stages';
import { compareVersions, parseModelVersion, versionProblem } from '../../lib/domain/versions';

describe('model versions from a request body', () => {
  it.each([
    ['"3"', '3', '3'],
    ['"0", looked up like any other', '0', '0'],
    ['"007", kept as sent', '007', '007'],
    ['a string version', '2024.06.1-rc', '2024.06.1-rc'],
    ['a JSON integer', 20, '20'],
  ])('accepts %s', (_name, value, version) => {
    expect(parseModelVersion(value)).toEqual({ ok: true, version });
  });

  it.each([
    ['1e20, which would name version 100000000000000000000', 1e20, /a number is taken only as a whole number/],
    ['1.5, which would name version "1.5"', 1.5, /send the version as a string/],
    ['0 as a number', 0, /a number is taken only/],
    ['a negative number', -1, /a number is taken only/],
    ['a path', '3/../4', /must start with a letter or digit and contain only/],
    ['surrounding spaces', ' 3', /must start with a letter or digit/],
    ['a boolean', true, /expected a string/],
    ['nothing', undefined, /required/],
    ['an empty string', '', /required/],
  ])('refuses %s, naming the field', (_name, value, message) => {
    const parsed = parseModelVersion(value);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toMatch(/^modelVersion: /);
    expect(!parsed.ok && parsed.message).toMatch(message);
  });

  it('shape check for the CLI', () => {
    expect(versionProblem('12')).toBeUndefined();
    expect(versionProblem('a#b')).toMatch(/only letters, digits/);
  });
});

describe('which version is newer', () => {
  const at = (version: string, createdAt?: string) => ({ version, ...(createdAt ? { createdAt } : {}) });

  it('orders whole numbers by their value, however they were registered', () => {
    expect(compareVersions(at('10', '2026-01-01T10:00:00Z'), at('9', '2026-01-01T10:00:05Z'))).toBe(1);
    expect(compareVersions(at('9'), at('10'))).toBe(-1);
    expect(compareVersions(at('100000000000000000001'), at('100000000000000000000'))).toBe(1);
  });

  it('orders other versions by registration time, then by their text', () => {
    expect(compareVersions(at('rc-b', '2026-01-01T10:00:00Z'), at('rc-a', '2026-01-01T10:00:01Z'))).toBe(-1);
    expect(compareVersions(at('2', '2026-01-01T10:00:01Z'), at('v1', '2026-01-01T10:00:00Z'))).toBe(1);
    expect(compareVersions(at('b', '2026-01-01T10:00:00Z'), at('a', '2026-01-01T10:00:00Z'))).toBe(1);
    expect(compareVersions(at('b'), at('a'))).toBe(1);
    expect(compareVersions(at('a'), at('a'))).toBe(0);
  });

  it('finds the newest winner that stands and is newer than a version', () => {
    const v = (version: string, stage?: string): ModelVersionTags => ({ version, tags: stage ? { stage } : {} });
    const versions = [v('7', 'production'), v('8', 'unstaged'), v('9'), v('10', 'staged'), v('12', 'unstaged')];
    expect(newerWinner(versions, '9')).toEqual({ version: '10', stage: 'staged' });
    expect(newerWinner(versions, '6')).toEqual({ version: '10', stage: 'staged' });
    expect(newerWinner(versions, '10')).toBeUndefined();
    expect(newerWinner(versions, '11')).toBeUndefined();
    expect(newerWinner([v('7', 'production'), v('5')], '5')).toEqual({ version: '7', stage: 'production' });
  });
});
