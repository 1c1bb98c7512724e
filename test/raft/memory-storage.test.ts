/** MemoryStorage implements the Storage contract: truncation, snapshots, compaction with a trailing tail. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage, bootstrap, decodeConfChange } from '../../src/raft/index.ts';
import type { Entry } from '../../src/raft/index.ts';

function ents(from: number, terms: number[]): Entry[] {
  return terms.map((term, i) => ({ index: from + i, term, type: 'normal' as const, data: new Uint8Array([from + i]) }));
}

test('save appends and truncates a conflicting suffix', () => {
  const s = new MemoryStorage();
  s.save({ term: 1, vote: 'a', commit: 0 }, ents(1, [1, 1, 1, 1]));
  assert.equal(s.lastIndex(), 4);
  s.save(null, ents(3, [2]));
  assert.equal(s.lastIndex(), 3);
  assert.deepEqual(
    s.entries(1, 4).map((e) => e.term),
    [1, 1, 2],
  );
  assert.deepEqual(s.initialState().hardState, { term: 1, vote: 'a', commit: 0 });
  assert.throws(() => s.save(null, ents(6, [2])), { code: 'GRAFTD_INTERNAL' }, 'a gap is refused');
});

test('entries respects maxBytes but returns at least one entry, and throws outside the log', () => {
  const s = new MemoryStorage();
  s.save(null, ents(1, [1, 1, 1, 1]));
  assert.equal(s.entries(1, 5, 2).length, 2);
  assert.equal(s.entries(1, 5, 0).length, 1);
  assert.equal(s.entries(2, 2).length, 0);
  assert.throws(() => s.entries(1, 6), { code: 'GRAFTD_UNAVAILABLE' });
  assert.throws(() => s.term(5), { code: 'GRAFTD_UNAVAILABLE' });
  assert.equal(s.term(0), 0);
});

test('createSnapshot + compact keep a trailing tail and the term at firstIndex - 1', () => {
  const s = new MemoryStorage();
  s.save(null, ents(1, [1, 1, 2, 2, 3, 3]));
  const cs = { voters: ['a'], learners: [], context: { a: '' } };
  s.createSnapshot({ index: 5, term: 3, confState: cs });
  assert.equal(s.firstIndex(), 1, 'createSnapshot does not discard entries');
  s.compact(3);
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.term(3), 2, 'the compaction point answers its term');
  assert.throws(() => s.term(2), { code: 'GRAFTD_COMPACTED' });
  assert.throws(() => s.entries(3, 5), { code: 'GRAFTD_COMPACTED' });
  assert.equal(s.snapshotMeta().index, 5, 'firstIndex may be ≤ snapshot index (trailing logs)');
  assert.deepEqual(s.initialState().confState, cs);
  assert.throws(() => s.compact(6), { code: 'GRAFTD_INTERNAL' }, 'cannot compact past the snapshot');
  s.compact(2); // already compacted: no-op
  assert.equal(s.firstIndex(), 4);
  // Saving entries that overlap the compacted prefix keeps only the part beyond it.
  s.save(null, ents(2, [1, 2, 2, 3, 3, 4]));
  assert.equal(s.lastIndex(), 7);
  assert.equal(s.term(7), 4);
});

test('applySnapshot replaces the whole log', () => {
  const s = new MemoryStorage();
  s.save(null, ents(1, [1, 1, 1]));
  const cs = { voters: ['a', 'b'], learners: [], context: { a: '', b: '' } };
  s.applySnapshot({ index: 10, term: 4, confState: cs });
  assert.equal(s.firstIndex(), 11);
  assert.equal(s.lastIndex(), 10);
  assert.equal(s.term(10), 4);
  assert.deepEqual(s.initialState().confState, cs);
  s.save(null, ents(11, [4]));
  assert.equal(s.lastIndex(), 11);
});

test('bootstrap writes one committed addVoter conf entry per member', () => {
  const s = new MemoryStorage();
  bootstrap(s, ['a', { id: 'b', context: 'B' }]);
  assert.deepEqual(s.initialState().hardState, { term: 1, vote: '', commit: 2 });
  const [e1, e2] = s.entries(1, 3);
  assert.equal(e1?.type, 'conf');
  assert.deepEqual(decodeConfChange((e2 as Entry).data), { type: 'addVoter', nodeId: 'b', context: 'B' });
  assert.throws(() => bootstrap(s, ['a']), { code: 'GRAFTD_INTERNAL' });
});
