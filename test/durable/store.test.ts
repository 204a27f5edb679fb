import { afterEach, describe, expect, it } from 'vitest';
import { DurableStore } from '../../local/runtime/durable/store';
import { first, pragma } from '../../local/sqlite';
import { tempDir } from './helpers';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function open(): DurableStore {
  const dir = tempDir();
  const store = new DurableStore(dir.file('store.db'));
  cleanups.push(
    () => dir.remove(),
    () => store.close(),
  );
  return store;
}

describe('DurableStore', () => {
  it('uses WAL with synchronous=FULL by default', () => {
    const store = open();
    expect(pragma(store.db, 'journal_mode')).toBe('wal');
    expect(pragma(store.db, 'synchronous')).toBe(2);
  });

  it('groups commits submitted in the same turn into one transaction, isolating a failing one', async () => {
    const store = open();
    const before = { ...store.counters };
    const results = await Promise.allSettled([
      store.commit(() => void store.insertMessage('a', null, 1, '{}')),
      store.commit(() => {
        store.insertMessage('b', null, 1, '{}');
        throw new Error('this commit fails');
      }),
      store.commit(() => void store.insertMessage('c', null, 1, '{}')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(store.counters.transactions - before.transactions).toBe(1);
    expect(store.counters.commits - before.commits).toBe(3);
    expect(store.readyInstanceIds(1).sort()).toEqual(['a', 'c']);
  });

  it('stores one history row per episode and reads the events back in order', async () => {
    const store = open();
    await store.commit(() => {
      store.appendHistory('i', 'e', 0, JSON.stringify([{ EventType: 12 }, { EventType: 0 }]));
      store.appendHistory('i', 'e', 2, JSON.stringify([{ EventType: 13 }]));
    });
    expect(store.readHistory('i').map((e) => e.EventType)).toEqual([12, 0, 13]);
    expect(first(store.db.prepare('SELECT COUNT(*) FROM history'))).toBe(2);
  });

  it('refuses writes once frozen (simulated crash) but keeps serving reads', async () => {
    const store = open();
    await store.commit(() => void store.insertMessage('x', null, 5, '{}'));
    store.freeze();
    await expect(store.commit(() => void store.insertMessage('y', null, 5, '{}'))).rejects.toThrow(/closed/);
    expect(store.readyInstanceIds(10)).toEqual(['x']);
  });
});
