/**
 * The bounded cache of recent entries: holds a contiguous suffix, bounded by count and bytes,
 * follows truncation and compaction.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EntryCache } from '../../src/storage/entry-cache.ts';
import { entries } from './helpers.ts';

const held = (c: EntryCache, lo: number, hi: number): number[] => {
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) if (c.get(i) !== undefined) out.push(i);
  return out;
};

test('keeps the most recent entries within the count bound', () => {
  const c = new EntryCache(4, 1 << 20);
  c.reset(1);
  c.append(entries(1, 10, 1, 10));
  assert.deepEqual(held(c, 0, 12), [7, 8, 9, 10]);
  assert.equal(c.get(9)?.index, 9);
});

test('keeps at most cacheBytes of data (but always the newest entry)', () => {
  const c = new EntryCache(100, 250);
  c.reset(1);
  c.append(entries(1, 10, 1, 100));
  assert.deepEqual(held(c, 0, 12), [9, 10]);
  c.append(entries(11, 11, 1, 1000));
  assert.deepEqual(held(c, 0, 12), [11]);
});

test('follows suffix truncation, compaction and a non-contiguous append', () => {
  const c = new EntryCache(8, 1 << 20);
  c.reset(1);
  c.append(entries(1, 8, 1));
  c.truncateFrom(6);
  assert.deepEqual(held(c, 0, 10), [1, 2, 3, 4, 5]);
  c.append(entries(6, 7, 2));
  assert.equal(c.get(6)?.term, 2);
  c.dropThrough(3);
  assert.deepEqual(held(c, 0, 10), [4, 5, 6, 7]);
  c.append(entries(20, 21, 3));
  assert.deepEqual(held(c, 0, 30), [20, 21], 'a gap resets the cache');
  c.truncateFrom(1);
  assert.deepEqual(held(c, 0, 30), []);
  c.append(entries(1, 2, 4));
  assert.deepEqual(held(c, 0, 30), [1, 2]);
});
