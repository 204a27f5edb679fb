/**
 * A small seeded pseudo-random generator (mulberry32).
 *
 * Durable activities and orchestrations may be replayed, so every "random" choice in the domain (bootstrap
 * resampling, property-style tests) must come from an explicit seed: the same seed always yields the same sequence.
 * mulberry32 has a 2^32 period and passes the usual statistical batteries well enough for resampling; it is not
 * suitable for anything security related.
 */
export interface Random {
  /** The next 32-bit unsigned integer. */
  nextUint32(): number;
  /** A float uniformly distributed in [0, 1). */
  nextFloat(): number;
  /** An integer uniformly distributed in [0, n), without modulo bias. `n` must be an integer in [1, 2^32]. */
  nextInt(n: number): number;
  /**
   * Fills `target` with independent uniform integers in [0, n) — the same distribution as repeated `nextInt(n)`
   * but several times faster for small n, for resampling loops. (Not the same sequence as `nextInt`.)
   */
  fillInts(target: Uint32Array, n: number): void;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_21 = 2097152;

class Mulberry32 implements Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  nextInt(n: number): number {
    if (!(n >= 1 && n <= TWO_POW_21) || !Number.isInteger(n)) return this.nextIntSlow(n);
    // Lemire's multiply-shift with rejection: unbiased, and no floating-point modulo on the hot path.
    // u · n < 2^53 for n ≤ 2^21, so the product is exact and `>>> 0` takes its low 32 bits.
    let product = this.nextUint32() * n;
    let low = product >>> 0;
    if (low < n) {
      const threshold = (TWO_POW_32 - n) % n;
      while (low < threshold) {
        product = this.nextUint32() * n;
        low = product >>> 0;
      }
    }
    return Math.floor(product / TWO_POW_32);
  }

  fillInts(target: Uint32Array, n: number): void {
    const bits = n <= 1 ? 1 : 32 - Math.clz32(n - 1);
    if (!Number.isInteger(n) || n < 1 || bits > 30) {
      for (let i = 0; i < target.length; i++) target[i] = this.nextInt(n);
      return;
    }
    // Cut each 32-bit draw into ⌊32 / bits⌋ chunks of `bits` bits and keep the chunks below n: rejection keeps
    // every value equally likely, and for n = 1000 one draw yields about three indices.
    const mask = (1 << bits) - 1;
    const chunks = Math.floor(32 / bits);
    const length = target.length;
    let filled = 0;
    // The generator step is inlined on a local copy of the state: this loop is the bootstrap's hot path.
    let state = this.state;
    while (filled < length) {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      let word = (t ^ (t >>> 14)) >>> 0;
      for (let c = 0; c < chunks && filled < length; c++) {
        const candidate = word & mask;
        word >>>= bits;
        if (candidate < n) target[filled++] = candidate;
      }
    }
    this.state = state;
  }

  private nextIntSlow(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`nextInt: n must be an integer between 1 and 2^32, got ${n}`);
    }
    // Reject the top partial block of 2^32 so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let value = this.nextUint32();
    while (value >= limit) value = this.nextUint32();
    return value % n;
  }
}

/** A generator seeded with a 32-bit integer (other numbers are truncated to their low 32 bits). */
export function createRandom(seed: number): Random {
  if (!Number.isFinite(seed)) throw new RangeError(`createRandom: seed must be a finite number, got ${seed}`);
  return new Mulberry32(seed);
}

/** A 32-bit seed derived from text (FNV-1a), so a seed can be tied to e.g. a model name and version. */
export function seedFromString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
