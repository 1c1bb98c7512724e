/** The small pure pieces: majority arithmetic and the inflight window. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Inflights } from '../../src/raft/inflights.ts';
import { committedIndex, hasQuorum, quorumSize, voteResult } from '../../src/raft/quorum.ts';

test('committedIndex is the largest index held by a majority of voters', () => {
  const match: Record<string, number> = { a: 9, b: 5, c: 7, d: 1, e: 7 };
  const get = (id: string) => match[id] ?? 0;
  assert.equal(committedIndex(['a', 'b', 'c'], get, []), 7);
  assert.equal(committedIndex(['a', 'b', 'c', 'd'], get, []), 5);
  assert.equal(committedIndex(['a', 'b', 'c', 'd', 'e'], get, []), 7);
  assert.equal(committedIndex(['a'], get, []), 9);
  assert.equal(committedIndex([], get, []), 0);
  assert.equal(committedIndex(['a', 'zz', 'yy'], get, []), 0, 'unknown voters count as 0');
});

test('quorum sizes and vote results', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(quorumSize), [1, 2, 2, 3, 3]);
  const v = (o: Record<string, boolean>) => new Map(Object.entries(o));
  assert.equal(voteResult(['a', 'b', 'c'], v({ a: true })), 'pending');
  assert.equal(voteResult(['a', 'b', 'c'], v({ a: true, b: true })), 'won');
  assert.equal(voteResult(['a', 'b', 'c'], v({ a: true, b: false, c: false })), 'lost');
  assert.equal(voteResult(['a', 'b', 'c', 'd'], v({ a: true, b: true, c: false })), 'pending');
  assert.equal(voteResult(['a', 'b'], v({ a: true, x: true })), 'pending', 'votes of non-voters do not count');
  assert.equal(
    hasQuorum(['a', 'b', 'c'], (id) => id !== 'c'),
    true,
  );
});

test('inflights: bounded by count, freed in order, freeFirst unblocks', () => {
  const f = new Inflights(3, Number.POSITIVE_INFINITY);
  f.add(10, 100);
  f.add(20, 100);
  f.add(30, 100);
  assert.equal(f.full(), true);
  assert.throws(() => f.add(40, 1), { code: 'GRAFTD_INTERNAL' });
  f.freeLE(15);
  assert.equal(f.count, 2);
  assert.equal(f.bytes, 200);
  f.add(40, 1); // wraps around the ring
  f.freeFirst();
  assert.equal(f.count, 2);
  f.freeLE(40);
  assert.equal(f.count, 0);
  assert.equal(f.bytes, 0);
  assert.throws(() => {
    f.add(5, 1);
    f.add(4, 1);
  }, /does not increase/);
});

test('inflights: a byte budget also closes the window', () => {
  const f = new Inflights(100, 250);
  f.add(1, 100);
  f.add(2, 100);
  assert.equal(f.full(), false);
  f.add(3, 100);
  assert.equal(f.full(), true);
});
