/**
 * A power cut at every file-system call of one WAL operation: for each n, a fresh WAL is brought
 * to the same state, the power goes at the operation's n-th call, and the reopened WAL must hold
 * either the state before the operation or after it — for an overwrite, also the old log cut
 * short anywhere at or after the overwrite point (that suffix is uncommitted in Raft).
 *
 * Why exhaustive: the random workload (power-cut-crash.test.ts) hits most windows, this one
 * hits every window of the operations that touch several files (rotation, an overwrite that
 * removes segments, a snapshot install) in every cut mode.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry } from '../../src/raft/types.ts';
import { type WalStorage, openWalStorage } from '../../src/storage/index.ts';
import { nullLog } from '../../src/storage/null-log.ts';
import { entries, sameEntries } from './helpers.ts';
import { type CutMode, PowerCutFs } from './power-cut-fs.ts';

const DIR = '/data/wal';
const conf = { voters: ['a'], learners: [], context: {} };

interface Case {
  readonly name: string;
  /** Bring the WAL to the starting state (everything acknowledged). */
  readonly setup: (w: WalStorage) => void;
  readonly op: (w: WalStorage) => void;
  /** Is the reopened state acceptable? `before`/`after` are the logs (first..last) before and after the operation. */
  readonly ok: (w: WalStorage, before: Entry[], after: Entry[]) => string | null;
}

const logOf = (w: WalStorage): Entry[] => w.entries(w.firstIndex(), w.lastIndex() + 1);
const isPrefix = (got: Entry[], of: Entry[], atLeast: number): boolean =>
  got.length >= atLeast && got.length <= of.length && sameEntries(got, of.slice(0, got.length));

const CASES: Case[] = [
  {
    name: 'an overwrite reaching back over two segments',
    setup: (w) => {
      for (let i = 1; i <= 40; i += 5) w.save({ term: 1, vote: 'a', commit: 5 }, entries(i, i + 4, 1, 20));
      assert.ok(w.lastIndex() === 40);
    },
    op: (w) => w.save({ term: 2, vote: 'b', commit: 5 }, entries(12, 15, 2, 20)),
    ok: (w, before, after) => {
      const got = logOf(w);
      return isPrefix(got, before, 11) || isPrefix(got, after, 11) ? null : `log ${got.length} entries, neither old nor new`;
    },
  },
  {
    name: 'a batch that rotates to a new segment',
    setup: (w) => {
      for (let i = 1; i <= 10; i += 5) w.save({ term: 1, vote: 'a', commit: 0 }, entries(i, i + 4, 1, 20));
    },
    op: (w) => {
      w.save(null, entries(11, 15, 1, 20));
      w.save(null, entries(16, 30, 1, 20));
    },
    ok: (w, before, after) => {
      const got = logOf(w);
      return isPrefix(got, after, before.length) ? null : `log ${got.length} entries, not a prefix of the new log covering the old`;
    },
  },
  {
    name: 'a snapshot install replacing the log',
    setup: (w) => {
      for (let i = 1; i <= 40; i += 5) w.save({ term: 1, vote: 'a', commit: 0 }, entries(i, i + 4, 1, 20));
    },
    op: (w) => w.applySnapshot({ index: 100, term: 3, confState: conf }),
    ok: (w, before) => {
      const got = logOf(w);
      if (w.snapshotMeta().index === 100)
        return w.firstIndex() === 101 && w.lastIndex() === 100 ? null : 'snapshot installed but entries left';
      return sameEntries(got, before) ? null : 'snapshot not installed and the old log changed';
    },
  },
  {
    name: 'compaction (logmeta replaced, segments deleted)',
    setup: (w) => {
      for (let i = 1; i <= 40; i += 5) w.save({ term: 1, vote: 'a', commit: 35 }, entries(i, i + 4, 1, 20));
      w.createSnapshot({ index: 35, term: 1, confState: conf });
    },
    op: (w) => w.compact(30),
    ok: (w, before) => {
      const first = w.firstIndex();
      if (first !== 1 && first !== 31) return `first index ${first}`;
      return sameEntries(logOf(w), before.slice(first - 1)) ? null : 'entries changed';
    },
  },
  {
    name: 'a term and vote change',
    setup: (w) => {
      w.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 5, 1, 20));
    },
    op: (w) => w.save({ term: 2, vote: 'b', commit: 3 }, []),
    ok: (w, before) => {
      const hs = w.initialState().hardState;
      const t = `${hs.term}/${hs.vote}`;
      if (t !== '1/a' && t !== '2/b') return `hard state ${t}`;
      return sameEntries(logOf(w), before) ? null : 'entries changed';
    },
  },
];

function open(fs: PowerCutFs): WalStorage {
  return openWalStorage(DIR, { fs, segmentBytes: 512, cacheEntries: 4, log: nullLog, reserveBytes: 0 });
}

for (const c of CASES) {
  test(`power cut at every call of ${c.name}: the WAL reopens with the old or the new state`, () => {
    // How many calls the operation makes, on an fs without a cut.
    const probe = new PowerCutFs({ dirs: ['/data'] });
    const pw = open(probe);
    c.setup(pw);
    const before = logOf(pw);
    const start = probe.calls;
    c.op(pw);
    const calls = probe.calls - start;
    const after = logOf(pw);
    pw.close();
    assert.ok(calls > 3, `the operation makes ${calls} calls`);
    let checked = 0;
    for (const mode of ['drop', 'prefix', 'reorder'] as CutMode[]) {
      for (let n = 1; n <= calls + 1; n++) {
        for (let seed = 1; seed <= (mode === 'drop' ? 1 : 4); seed++) {
          const fs = new PowerCutFs({ dirs: ['/data'], seed });
          const w = open(fs);
          c.setup(w);
          fs.armCut(n);
          try {
            c.op(w);
          } catch (err) {
            assert.ok(fs.isDead, `${c.name}: the operation failed without a cut: ${String(err)}`);
          }
          fs.die();
          fs.reboot(mode);
          let r: WalStorage;
          try {
            r = open(fs);
          } catch (err) {
            // 'reorder' may leave a hole inside the unfinished batch: reported as corruption (documented limit).
            if (mode === 'reorder' && /valid record follows/.test(String(err))) continue;
            throw new Error(`${c.name}, cut at call ${n}/${calls} (${mode}, seed ${seed}): reopen failed: ${String(err)}`);
          }
          const problem = c.ok(r, before, after);
          assert.equal(problem, null, `${c.name}, cut at call ${n}/${calls} (${mode}, seed ${seed})`);
          r.close();
          checked++;
        }
      }
    }
    assert.ok(checked > calls, `checked ${checked} cuts`);
  });
}
