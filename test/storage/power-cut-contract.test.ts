/**
 * The storage contract through power cuts: MemoryStorage and WalStorage (on PowerCutFs) run the
 * same seeded walk of operations, and where the plain contract test closes and reopens the WAL,
 * this one cuts the power (unsynced writes dropped, or a torn prefix kept) and reopens. Every
 * operation has returned before the cut, so the recovered WAL must show exactly what
 * MemoryStorage shows — except the commit index of commit-only saves, which Raft lets a crash
 * lose: it must lie between the commit saved with the last batch or term change and the latest.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraftdError } from '../../src/errors.ts';
import { MemoryStorage } from '../../src/raft/index.ts';
import type { HardState, SnapshotMeta, Storage } from '../../src/raft/types.ts';
import { type WalStorage, openWalStorage } from '../../src/storage/index.ts';
import { nullLog } from '../../src/storage/null-log.ts';
import { Prng } from '../sim/prng.ts';
import { entries } from './helpers.ts';
import { PowerCutFs, type PowerCutFsOptions } from './power-cut-fs.ts';
import { LOAD_BEARING_SITES } from './power-cut-sites.ts';

const conf = (voters: string[]): SnapshotMeta['confState'] => ({ voters, learners: [], context: {} });

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof GraftdError ? err.code : `non-graftd error: ${String(err)}`;
  }
}

/** Everything observable except the commit index. */
function observe(st: Storage): unknown {
  const first = st.firstIndex();
  const last = st.lastIndex();
  const all = st.entries(first, last + 1).map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]);
  const { hardState, confState } = st.initialState();
  return {
    first,
    last,
    all,
    term: first > 1 ? st.term(first - 1) : 0,
    snap: st.snapshotMeta(),
    hs: [hardState.term, hardState.vote],
    confState,
  };
}

/** The walk; throws (an assertion or the WAL's own error) at the first difference. Returns the number of cuts. */
function walk(seed: number, skipSync?: PowerCutFsOptions['skipSync']): number {
  const rng = new Prng(seed);
  const fs = new PowerCutFs({ seed, dirs: ['/data'], ...(skipSync === undefined ? {} : { skipSync }) });
  const open = (): WalStorage => openWalStorage('/data/wal', { fs, segmentBytes: 768, cacheEntries: 16, log: nullLog, reserveBytes: 0 });
  const mem = new MemoryStorage();
  let wal = open();
  let term = 1;
  let commit = 0;
  /** The commit index the WAL made durable (it rode with a batch, a term change or a snapshot install). */
  let syncedCommit = 0;
  let cuts = 0;
  for (let step = 0; step < 400; step++) {
    const first = mem.firstIndex();
    const last = mem.lastIndex();
    const op = rng.int(100);
    const apply = (fn: (s: Storage) => void): void => {
      const a = code(() => fn(mem));
      const b = code(() => fn(wal));
      assert.equal(b, a, `step ${step}: outcome differs`);
    };
    if (op < 55) {
      const lo = Math.max(first, commit + 1);
      const start = rng.int(4) === 0 && last >= lo ? lo + rng.int(last - lo + 1) : last + 1;
      const bump = rng.int(5) === 0;
      if (bump) term++;
      const batch = entries(start, start + rng.int(12), term, rng.int(60), step);
      commit = Math.max(commit, Math.min(start - 1, commit + rng.int(5)));
      const hs: HardState = { term, vote: `n${term % 3}`, commit };
      apply((s) => s.save(hs, batch));
      syncedCommit = commit;
    } else if (op < 65) {
      const si = mem.snapshotMeta().index;
      if (commit > si && commit >= first) {
        const idx = si + 1 + rng.int(commit - si);
        const meta = { index: idx, term: mem.term(idx), confState: conf([`n${rng.int(5)}`]) };
        apply((s) => s.createSnapshot(meta));
      }
    } else if (op < 75) {
      const idx = first - 1 + rng.int(Math.max(1, mem.snapshotMeta().index - first + 3));
      apply((s) => s.compact(idx));
    } else if (op < 78) {
      const idx = Math.max(mem.snapshotMeta().index, last) + rng.int(20);
      term++;
      commit = idx;
      const meta = { index: idx, term, confState: conf(['a', `n${rng.int(9)}`]) };
      apply((s) => s.applySnapshot(meta));
      apply((s) => s.save({ term, vote: '', commit }, []));
      syncedCommit = commit;
    } else if (op < 90) {
      // The power goes between two operations; the WAL is never closed.
      fs.powerCut(rng.chance(0.5) ? 'drop' : 'prefix');
      cuts++;
      wal = open();
      const c = wal.initialState().hardState.commit;
      assert.ok(
        c >= Math.min(syncedCommit, wal.lastIndex()) && c <= commit,
        `step ${step}: commit ${c} outside [${syncedCommit}, ${commit}]`,
      );
      // Raft resumes from the recovered commit; the memory model follows (commit-only saves below may move it again).
      mem.save({ ...mem.initialState().hardState, commit: c }, []);
      commit = c;
    } else {
      commit = Math.min(Math.max(commit, commit + rng.int(3)), mem.lastIndex());
      apply((s) => s.save({ term, vote: `n${term % 3}`, commit }, []));
    }
    assert.deepEqual(observe(wal), observe(mem), `step ${step} (op ${op})`);
  }
  wal.close();
  return cuts;
}

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`MemoryStorage and WalStorage agree through power cuts (seed ${seed}, 400 steps)`, () => {
    const cuts = walk(seed);
    assert.ok(cuts > 20, `${cuts} power cuts`);
  });
}

// Bug detection: the walk uses save() only, so the saveAsync sites are the workload's (power-cut-sites.test.ts).
for (const site of LOAD_BEARING_SITES.filter((s) => !s.name.startsWith('saveAsync'))) {
  test(`contract through power cuts: removing the ${site.name} makes the walk fail`, () => {
    for (let seed = 1; seed <= 12; seed++) {
      try {
        walk(seed, site.matches);
      } catch {
        return;
      }
    }
    assert.fail(`no seed in 1..12 noticed the missing ${site.name}`);
  });
}
