import { describe, expect, it } from 'vitest';
import { mapConcurrently } from '../../lib/activities';

describe('mapConcurrently', () => {
  it('keeps the items’ order and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const out = await mapConcurrently([5, 1, 4, 2, 3, 0, 6], 3, async (ms) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return ms * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0, 60]);
    expect(most).toBe(3);
  });

  it('rejects with the first failure and handles no items', async () => {
    await expect(
      mapConcurrently([1, 2, 3], 2, async (n) => {
        if (n === 2) throw new Error('batch 2 failed');
        return n;
      }),
    ).rejects.toThrow('batch 2 failed');
    expect(await mapConcurrently([], 4, async () => 1)).toEqual([]);
  });
});
