/** Azure ML's naming rules for ARM names (sources in lib/domain/names.ts). */
import { describe, expect, it } from 'vitest';
import { armNameProblem, armPathSegment, InvalidArmNameError } from '../../lib/domain/names';

describe('ARM names', () => {
  it.each([
    ['endpoint', 'demand-ep'],
    ['endpoint', 'abc'],
    ['endpoint', `a${'b'.repeat(31)}`],
    ['asset', 'demand'],
    ['asset', 'credit_risk.v2'],
    ['version', '12'],
    ['version', '2024.01-rc_1'],
  ] as const)('%s %j is valid', (kind, name) => {
    expect(armNameProblem(kind, name)).toBeUndefined();
  });

  it.each([
    ['endpoint', 'x/../demand-ep'],
    ['endpoint', 'ab'],
    ['endpoint', `a${'b'.repeat(32)}`],
    ['endpoint', '1-ep'],
    ['endpoint', 'ep-'],
    ['endpoint', 'demand%2Fep'],
    ['asset', '..'],
    ['asset', 'demand/1'],
    ['asset', ''],
    ['asset', 'x'.repeat(256)],
    ['asset', 'dem\u0000and'],
    ['version', '1?api-version=1'],
    ['version', '1#x'],
    ['version', ' 1'],
  ] as const)('%s %j is refused', (kind, name) => {
    expect(armNameProblem(kind, name)).toMatch(/must/);
  });

  it('refuses what is not a string', () => {
    expect(armNameProblem('asset', undefined)).toBe('must be a string');
    expect(armNameProblem('asset', 3)).toBe('must be a string');
  });

  it('encodes a checked name as one path segment and names the field of a bad one', () => {
    expect(armPathSegment('endpoint', 'demand-ep')).toBe('demand-ep');
    expect(() => armPathSegment('endpoint', 'x/../y', 'endpointName')).toThrow(InvalidArmNameError);
    expect(() => armPathSegment('endpoint', 'x/../y', 'endpointName')).toThrow(/^endpointName: "x\/\.\.\/y" must/);
  });
});
