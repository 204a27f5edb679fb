import { describe, expect, it } from 'vitest';
import { createRandom, seedFromString } from '../../lib/domain/random';

const take = (count: number, next: () => number) => Array.from({ length: count }, next);

describe('createRandom', () => {
  it.each([0, 1, 42, 0xffffffff, 123456789])('repeats the same sequence for seed %i', (seed) => {
    const first = createRandom(seed);
    const second = createRandom(seed);
    expect(take(50, () => first.nextUint32())).toEqual(take(50, () => second.nextUint32()));
  });

  it('gives different sequences for different seeds', () => {
    const a = createRandom(1);
    const b = createRandom(2);
    expect(take(10, () => a.nextUint32())).not.toEqual(take(10, () => b.nextUint32()));
  });

  it('keeps nextFloat in [0, 1)', () => {
    const random = createRandom(7);
    const values = take(10_000, () => random.nextFloat());
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
  });

  it.each([
    { n: 1, draws: 100 },
    { n: 2, draws: 20_000 },
    { n: 10, draws: 50_000 },
    { n: 1000, draws: 100_000 },
    { n: 3_000_000, draws: 60_000 },
  ])('nextInt($n) and fillInts stay in range and are roughly uniform', ({ n, draws }) => {
    const random = createRandom(99);
    const buckets = Math.min(n, 10);
    for (const values of [
      take(draws, () => random.nextInt(n)),
      Array.from(
        (() => {
          const target = new Uint32Array(draws);
          random.fillInts(target, n);
          return target;
        })(),
      ),
    ]) {
      const counts = new Array<number>(buckets).fill(0);
      expect(values.filter((value) => !(Number.isInteger(value) && value >= 0 && value < n))).toEqual([]);
      for (const value of values) {
        const bucket = Math.floor((value / n) * buckets);
        counts[bucket] = (counts[bucket] ?? 0) + 1;
      }
      // Chi-square with buckets − 1 degrees of freedom; 3× the degrees of freedom is far in the tail.
      const expected = draws / buckets;
      const chiSquare = counts.reduce((total, count) => total + (count - expected) ** 2 / expected, 0);
      expect(chiSquare).toBeLessThan(3 * Math.max(buckets - 1, 1) + 10);
    }
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 33])('nextInt rejects n = %d', (n) => {
    expect(() => createRandom(1).nextInt(n)).toThrow(RangeError);
  });

  it('rejects a non-finite seed', () => {
    expect(() => createRandom(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe('seedFromString', () => {
  it.each([
    { text: '', seed: 0x811c9dc5 },
    { text: 'a', seed: 0xe40c292c },
    { text: 'foobar', seed: 0xbf9cf968 },
  ])('hashes "$text" with FNV-1a', ({ text, seed }) => {
    expect(seedFromString(text)).toBe(seed);
  });
});
