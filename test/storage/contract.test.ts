/**
 * The Storage contract, checked against both implementations: the in-memory MemoryStorage of
 * the core and the durable WalStorage. Fixed scenarios pin the documented behaviour; a seeded
 * random walk of operations then runs both side by side (reopening the WAL now and then) and
 * requires identical observable state after every step.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraftdError } from '../../src/errors.ts';
import { silentLog } from '../../src/log.ts';
import { MemoryStorage } from '../../src/raft/index.ts';
import type { Entry, SnapshotMeta, Storage } from '../../src/raft/types.ts';
import { type WalStorage, openWalStorage } from '../../src/storage/index.ts';
import { entries, entry, sameEntries, tempDir } from './helpers.ts';

interface Subject {
  readonly name: string;
  storage: Storage;
  /** Simulate a restart (the WAL is closed and recovered from disk; memory storage survives as is). */
  reopen(): void;
  dispose(): void;
}

function memorySubject(): Subject {
  return { name: 'MemoryStorage', storage: new MemoryStorage(), reopen() {}, dispose() {} };
}

function walSubject(segmentBytes = 1024): Subject {
  const { dir, cleanup } = tempDir();
  const open = (): WalStorage => openWalStorage(dir, { segmentBytes, cacheEntries: 16, log: silentLog });
  const subject = {
    name: 'WalStorage',
    storage: open() as Storage,
    reopen() {
      (subject.storage as WalStorage).close();
      subject.storage = open();
    },
    dispose() {
      (subject.storage as WalStorage).close();
      cleanup();
    },
  };
  return subject;
}

const FACTORIES = [memorySubject, walSubject];

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof GraftdError ? err.code : `non-graftd error: ${String(err)}`;
  }
}

const conf = (voters: string[]): SnapshotMeta['confState'] => ({
  voters,
  learners: [],
  context: Object.fromEntries(voters.map((v) => [v, `{"addr":"${v}"}`])),
});

for (const make of FACTORIES) {
  test(`${make().name}: a fresh store is empty`, () => {
    const s = make();
    try {
      for (let round = 0; round < 2; round++) {
        const st = s.storage;
        assert.deepEqual(st.initialState(), {
          hardState: { term: 0, vote: '', commit: 0 },
          confState: { voters: [], learners: [], context: {} },
        });
        assert.equal(st.firstIndex(), 1);
        assert.equal(st.lastIndex(), 0);
        assert.equal(st.term(0), 0);
        assert.deepEqual(st.entries(1, 1), []);
        assert.equal(
          code(() => st.term(1)),
          'GRAFTD_UNAVAILABLE',
        );
        assert.equal(
          code(() => st.entries(1, 2)),
          'GRAFTD_UNAVAILABLE',
        );
        assert.equal(st.snapshotMeta().index, 0);
        s.reopen();
      }
    } finally {
      s.dispose();
    }
  });

  test(`${make().name}: append, read with maxBytes, truncate a conflicting suffix, survive a restart`, () => {
    const s = make();
    try {
      s.storage.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 10, 1, 10));
      s.storage.save({ term: 2, vote: '', commit: 3 }, entries(11, 30, 2, 10));
      s.reopen();
      let st = s.storage;
      assert.deepEqual(st.initialState().hardState, { term: 2, vote: '', commit: 3 });
      assert.equal(st.lastIndex(), 30);
      assert.equal(st.term(10), 1);
      assert.equal(st.term(11), 2);
      assert.ok(sameEntries(st.entries(5, 15), [...entries(5, 10, 1, 10), ...entries(11, 14, 2, 10)]));
      assert.equal(st.entries(5, 15, 35).length, 3, 'stops before maxBytes is exceeded');
      assert.equal(st.entries(5, 15, 30).length, 3, 'exactly maxBytes fits');
      assert.equal(st.entries(5, 15, 0).length, 1, 'at least one entry');
      // A conflict at 12 (reaching back over segment boundaries for the WAL).
      st.save({ term: 3, vote: 'b', commit: 3 }, entries(12, 14, 3, 4));
      assert.equal(st.lastIndex(), 14);
      assert.equal(
        code(() => st.term(15)),
        'GRAFTD_UNAVAILABLE',
      );
      s.reopen();
      st = s.storage;
      assert.equal(st.lastIndex(), 14);
      assert.ok(sameEntries(st.entries(10, 15), [entry(10, 1, 10), entry(11, 2, 10), ...entries(12, 14, 3, 4)]));
      assert.deepEqual(st.initialState().hardState, { term: 3, vote: 'b', commit: 3 });
      // A gap is refused; a hard state going back in term is refused.
      assert.equal(
        code(() => st.save(null, [entry(16, 3)])),
        'GRAFTD_INTERNAL',
      );
      assert.equal(
        code(() => st.save({ term: 2, vote: '', commit: 3 }, [])),
        'GRAFTD_INTERNAL',
      );
    } finally {
      s.dispose();
    }
  });

  test(`${make().name}: snapshots and compaction with a trailing tail`, () => {
    const s = make();
    try {
      s.storage.save({ term: 2, vote: 'a', commit: 40 }, [...entries(1, 20, 1, 20), ...entries(21, 50, 2, 20)]);
      const meta = { index: 40, term: 2, confState: conf(['a', 'b', 'c']) };
      s.storage.createSnapshot(meta);
      assert.equal(
        code(() => s.storage.compact(41)),
        'GRAFTD_INTERNAL',
        'cannot compact beyond the snapshot',
      );
      s.storage.compact(30);
      s.reopen();
      let st = s.storage;
      assert.deepEqual(st.snapshotMeta(), meta);
      assert.deepEqual(st.initialState().confState, meta.confState);
      assert.equal(st.firstIndex(), 31);
      assert.equal(st.lastIndex(), 50);
      assert.equal(st.term(30), 2, 'the compaction point keeps its term');
      assert.equal(
        code(() => st.term(29)),
        'GRAFTD_COMPACTED',
      );
      assert.equal(
        code(() => st.entries(30, 32)),
        'GRAFTD_COMPACTED',
      );
      assert.ok(sameEntries(st.entries(31, 51), entries(31, 50, 2, 20)));
      // An older snapshot is ignored; entries covering the compacted prefix are trimmed.
      st.createSnapshot({ index: 35, term: 2, confState: conf(['x']) });
      assert.deepEqual(st.snapshotMeta(), meta);
      st.save(null, entries(25, 52, 2, 20));
      assert.equal(st.firstIndex(), 31);
      assert.equal(st.lastIndex(), 52);
      // Installing a snapshot from a leader replaces the whole log.
      const leaderSnap = { index: 100, term: 7, confState: conf(['a', 'b']) };
      st.applySnapshot(leaderSnap);
      s.reopen();
      st = s.storage;
      assert.equal(st.firstIndex(), 101);
      assert.equal(st.lastIndex(), 100);
      assert.equal(st.term(100), 7);
      assert.deepEqual(st.entries(101, 101), []);
      assert.deepEqual(st.initialState().confState, leaderSnap.confState);
      assert.equal(
        code(() => st.applySnapshot({ index: 90, term: 7, confState: conf(['a']) })),
        'GRAFTD_INTERNAL',
      );
      st.save(null, entries(101, 105, 7));
      s.reopen();
      assert.ok(sameEntries(s.storage.entries(101, 106), entries(101, 105, 7)));
    } finally {
      s.dispose();
    }
  });
}

/** Everything a caller can observe, in comparable form. */
function observe(st: Storage, probe: { lo: number; hi: number; maxBytes: number }): unknown {
  const first = st.firstIndex();
  const last = st.lastIndex();
  const terms: (number | string)[] = [];
  for (let i = Math.max(0, first - 3); i <= last + 2; i++) {
    try {
      terms.push(st.term(i));
    } catch (err) {
      terms.push((err as GraftdError).code);
    }
  }
  const all = st.entries(first, last + 1).map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]);
  let window: unknown;
  try {
    window = st.entries(probe.lo, probe.hi, probe.maxBytes).map((e) => e.index);
  } catch (err) {
    window = (err as GraftdError).code;
  }
  return { first, last, terms, all, window, snap: st.snapshotMeta(), init: st.initialState() };
}

test('MemoryStorage and WalStorage agree on a random walk of operations (with restarts)', () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const mem = memorySubject();
  const wal = walSubject(768);
  try {
    let term = 1;
    let commit = 0;
    for (let step = 0; step < 400; step++) {
      const st = mem.storage;
      const first = st.firstIndex();
      const last = st.lastIndex();
      const op = rnd(100);
      const apply = (fn: (s: Storage) => void): void => {
        const a = code(() => fn(mem.storage));
        const b = code(() => fn(wal.storage));
        assert.equal(b, a, `step ${step}: outcome differs`);
      };
      if (op < 55) {
        // Append, sometimes overwriting a suffix (never below the commit index, as in Raft).
        const lo = Math.max(first, commit + 1);
        const start = rnd(4) === 0 && last >= lo ? lo + rnd(last - lo + 1) : last + 1;
        if (rnd(5) === 0) term++;
        const batch: Entry[] = entries(start, start + rnd(12), term, rnd(60), step);
        commit = Math.max(commit, Math.min(start - 1, commit + rnd(5)));
        apply((s) => s.save({ term, vote: `n${term % 3}`, commit }, batch));
      } else if (op < 65) {
        if (commit > st.snapshotMeta().index && commit >= first) {
          const idx = st.snapshotMeta().index + 1 + rnd(commit - st.snapshotMeta().index);
          const meta = { index: idx, term: st.term(idx), confState: conf([`n${rnd(5)}`]) };
          apply((s) => s.createSnapshot(meta));
        }
      } else if (op < 75) {
        const idx = first - 1 + rnd(Math.max(1, st.snapshotMeta().index - first + 3));
        apply((s) => s.compact(idx));
      } else if (op < 78) {
        const idx = Math.max(st.snapshotMeta().index, last) + rnd(20);
        term++;
        commit = idx;
        const meta = { index: idx, term, confState: conf(['a', `n${rnd(9)}`]) };
        apply((s) => s.applySnapshot(meta));
        apply((s) => s.save({ term, vote: '', commit }, []));
      } else if (op < 88) {
        wal.reopen();
      } else {
        apply((s) => s.save({ term, vote: 'z', commit }, []));
      }
      const lo = Math.max(0, first - 2 + rnd(last - first + 5));
      const probe = { lo, hi: lo + rnd(10), maxBytes: rnd(3) === 0 ? Number.POSITIVE_INFINITY : rnd(200) };
      assert.deepEqual(observe(wal.storage, probe), observe(mem.storage, probe), `step ${step} (op ${op})`);
    }
  } finally {
    mem.dispose();
    wal.dispose();
  }
});
