/**
 * The crash test's workload, in process, over {@link PowerCutFs}: the WAL appends (save and
 * saveAsync), overwrites a suffix after a term change, changes term and vote, records snapshots,
 * compacts and installs snapshots, and the power is cut at a random file-system call (inside an
 * operation, between a rename and its directory fsync, while the thread pool syncs, during
 * recovery...). After each reboot the WAL is reopened and checked against what was acknowledged.
 *
 * Why in process and not a child killed with SIGKILL (crash.test.ts): kill -9 keeps the page
 * cache, so only a power cut shows a missing fsync. Returning problems instead of throwing lets
 * the bug-detection tests assert that a removed fsync is noticed.
 *
 * The check: the recovered log equals the acknowledged log, or — when the cut struck inside an
 * operation — what that operation was writing, cut short no earlier than where it started
 * changing the log (an interrupted overwrite may lose the unacknowledged suffix it replaces,
 * never anything before it); term/vote, snapshot index, compaction point and commit index are
 * never older than acknowledged nor newer than attempted.
 */
import { CorruptionError } from '../../src/errors.ts';
import type { Entry, HardState } from '../../src/raft/types.ts';
import { type WalStorage, openWalStorage } from '../../src/storage/index.ts';
import { nullLog } from '../../src/storage/null-log.ts';
import { Prng } from '../sim/prng.ts';
import { dataFor } from './helpers.ts';
import { type CutMode, PowerCutFs, type PowerCutFsOptions } from './power-cut-fs.ts';

export interface WorkloadOptions {
  readonly seed: number;
  /** Power cuts (each followed by a reboot, a reopen and the check). */
  readonly rounds: number;
  /** What the cut keeps of unsynced writes: one mode, or 'mixed' (drawn per cut among drop and prefix). Default 'mixed'. */
  readonly mode?: CutMode | 'mixed';
  /** Cut at a call drawn from [1, maxCalls] after the reopen. Default 300. */
  readonly maxCalls?: number;
  readonly segmentBytes?: number;
  /** saveAsync syncs inline (WalStorage's inlineSyncBelowMs path) instead of on the thread pool. */
  readonly inlineSync?: boolean;
  /** Fault switches of the file system (bug-detection tests). */
  readonly fs?: Pick<PowerCutFsOptions, 'skipSync' | 'lateAsyncSync'>;
  /** Receives a line per operation, acknowledgement and cut (replaying a failure). */
  readonly trace?: (line: string) => void;
  /** Per-mille weights of the operations (the rest of 1000 appends). */
  readonly weights?: Partial<typeof DEFAULT_WEIGHTS>;
}

const DEFAULT_WEIGHTS = { overwrite: 60, term: 80, snapshot: 60, install: 15 };

export interface WorkloadResult {
  /** Empty when every check held. */
  readonly problems: string[];
  readonly rounds: number;
  /** Saves with entries acknowledged. */
  readonly acked: number;
  /** Reopens that found the data damaged (CorruptionError). */
  readonly corruptions: number;
  readonly bytesLost: number;
  readonly syncsSkipped: number;
}

/** Entry `index` as written by `salt` with `term` (deterministic bytes, 0..59 long). */
function mkEntry(index: number, term: number, salt: number): Entry {
  return { index, term, type: 'normal', data: dataFor(index, salt, (index * 7 + salt) % 60) };
}

/** A version of the log the disk may hold: entries base+1..last (index → [term, salt]). */
interface LogVersion {
  readonly base: number;
  readonly last: number;
  /** The recovered log may end anywhere in [floor, last]. */
  readonly floor: number;
  readonly ents: ReadonlyMap<number, readonly [number, number]>;
}

/** What the operation the cut interrupted would have changed. */
interface InFlight {
  log?: LogVersion;
  hard?: HardState;
  snap?: number;
  compact?: number;
  commit?: number;
}

const WAL_DIR = '/data/wal';

export async function runPowerCutWorkload(o: WorkloadOptions): Promise<WorkloadResult> {
  const rng = new Prng(o.seed);
  const w = { ...DEFAULT_WEIGHTS, ...o.weights };
  const mode = o.mode ?? 'mixed';
  const fs = new PowerCutFs({ seed: o.seed * 31 + 7, dirs: ['/data'], ...o.fs });
  const problems: string[] = [];
  let acked = 0;
  let corruptions = 0;

  // Acknowledged state.
  let log: LogVersion = { base: 0, last: 0, floor: 0, ents: new Map() };
  let hard: HardState = { term: 0, vote: '', commit: 0 };
  let snap = 0;
  let compact = 0;
  /** The commit index made durable with the last acknowledged batch or term change. */
  let commitFloor = 0;
  let maxCommit = 0;
  let salt = 0;
  /** What the operation running when the power went would have changed (checked against after the reboot). */
  let inflight: InFlight = {};
  const ack = (): void => {
    if (inflight.log !== undefined) log = { ...inflight.log, floor: inflight.log.last };
    if (inflight.hard !== undefined) hard = inflight.hard;
    if (inflight.snap !== undefined) snap = inflight.snap;
    if (inflight.compact !== undefined) compact = inflight.compact;
    if (inflight.commit !== undefined) commitFloor = Math.max(commitFloor, inflight.commit);
    inflight = {};
  };
  const trace = o.trace ?? (() => {});

  const open = (): WalStorage =>
    openWalStorage(WAL_DIR, {
      fs,
      segmentBytes: o.segmentBytes ?? 1024,
      cacheEntries: 8,
      log: nullLog,
      inlineSyncBelowMs: o.inlineSync === true ? 1e9 : 0,
    });

  for (let round = 0; round < o.rounds && problems.length === 0; round++) {
    // Now and then the power goes during recovery itself.
    if (rng.chance(0.1)) fs.armCut(1 + rng.int(40));
    let wal: WalStorage | null = null;
    try {
      wal = open();
    } catch (err) {
      if (!fs.isDead) {
        if (err instanceof CorruptionError) corruptions++;
        problems.push(`round ${round}: reopen failed: ${String(err)}`);
        break;
      }
    }
    fs.disarm();
    if (wal !== null) {
      const p = check(wal, round);
      if (p !== null) {
        problems.push(p);
        break;
      }
      inflight = {};
      salt++;
      fs.armCut(1 + rng.int(o.maxCalls ?? 300));
      try {
        // Bounded: a cut drawn beyond this many operations is forced.
        for (let step = 0; step < 2000 && !fs.isDead; step++) await op(wal);
      } catch (err) {
        if (!fs.isDead) {
          problems.push(`round ${round}: operation failed without a power cut: ${String(err)}`);
          break;
        }
      }
    }
    trace(
      `round ${round}: power cut after ${fs.calls} calls; in flight ${JSON.stringify(inflight, (k, v) => (k === 'ents' ? undefined : v))}`,
    );
    fs.die('end of round');
    fs.reboot(mode === 'mixed' ? (rng.chance(0.5) ? 'drop' : 'prefix') : mode);
  }
  // The last cut is checked too.
  if (problems.length === 0) {
    try {
      const wal = open();
      const p = check(wal, o.rounds);
      if (p !== null) problems.push(p);
      wal.close();
    } catch (err) {
      if (err instanceof CorruptionError) corruptions++;
      problems.push(`final reopen failed: ${String(err)}`);
    }
  }
  return { problems, rounds: o.rounds, acked, corruptions, bytesLost: fs.stats.bytesLost, syncsSkipped: fs.stats.syncsSkipped };

  /** One random operation; updates the acknowledged state only once the WAL returned (or resolved). */
  async function op(wal: WalStorage): Promise<void> {
    const r = rng.int(1000);
    const last = wal.lastIndex();
    const t1 = w.overwrite;
    const t2 = t1 + w.term;
    const t3 = t2 + w.snapshot;
    const t4 = t3 + w.install;
    if (r < t1 && last > Math.max(hard.commit, compact) + 1) {
      // A new leader's entries overwrite an uncommitted suffix (term change in the same save).
      const from = hard.commit + 1 + rng.int(last - hard.commit);
      const term = hard.term + 1;
      const hs = { term, vote: `n${term % 5}`, commit: hard.commit };
      await save(wal, hs, from, 1 + rng.int(12), term);
    } else if (r >= t1 && r < t2) {
      const term = hard.term + 1;
      const hs = { term, vote: rng.chance(0.5) ? '' : `n${term % 5}`, commit: hard.commit };
      inflight = { hard: hs, commit: hs.commit };
      const promise = wal.saveAsync(hs, []);
      if (promise !== null) throw new Error('a term change without entries must be durable when saveAsync returns');
      ack();
    } else if (r >= t1 && r < t3) {
      const index = hard.commit;
      if (index <= snap || index < wal.firstIndex()) return;
      inflight = { snap: index };
      wal.createSnapshot({ index, term: wal.term(index), confState: { voters: ['n1'], learners: [], context: {} } });
      ack();
      const upTo = Math.max(compact, index - rng.int(20));
      if (upTo <= compact) return;
      inflight = { compact: upTo };
      wal.compact(upTo);
      ack();
    } else if (r >= t1 && r < t4) {
      const index = last + 1 + rng.int(20);
      const term = hard.term;
      inflight = {
        log: { base: index, last: index, floor: index, ents: new Map() },
        snap: index,
        compact: index,
        commit: index,
      };
      wal.applySnapshot({ index, term, confState: { voters: ['n1'], learners: [], context: {} } });
      ack();
      hard = { ...hard, commit: index };
      maxCommit = Math.max(maxCommit, index);
    } else {
      await save(wal, null, last + 1, 1 + rng.int(30), hard.term);
    }
  }

  /** Save entries from..from+n-1 (overwriting from `from` on), with save() or saveAsync(). */
  async function save(wal: WalStorage, hs: HardState | null, from: number, n: number, term: number): Promise<void> {
    const batch: Entry[] = [];
    for (let i = from; i < from + n; i++) batch.push(mkEntry(i, Math.max(1, term), salt));
    // Commit what is well inside the acknowledged log (never what an overwrite could remove).
    // The lag varies so that overwrites sometimes reach back over segment boundaries.
    const commit = Math.max(hard.commit, Math.min(log.floor, from - 1) - 3 - rng.int(rng.chance(0.3) ? 40 : 4));
    const h = { ...(hs ?? hard), commit };
    maxCommit = Math.max(maxCommit, commit);
    const ents = new Map([...log.ents].filter(([i]) => i < from));
    for (const e of batch) ents.set(e.index, [e.term, salt]);
    const next: LogVersion = { base: log.base, last: from + n - 1, floor: Math.min(log.floor, from - 1), ents };
    inflight = { log: next, commit, ...(hs === null ? {} : { hard: h }) };
    trace(`save ${from}..${from + n - 1} term ${term} commit ${commit}${hs === null ? '' : ` hard ${h.term}/${h.vote}`}`);
    if (rng.chance(0.5)) {
      const promise = wal.saveAsync(h, batch);
      if (promise !== null) await promise;
    } else {
      wal.save(h, batch);
    }
    hard = h;
    ack();
    acked++;
  }

  /** Compare the reopened WAL with what was acknowledged (and what was in flight); null when it holds. */
  function check(wal: WalStorage, round: number): string | null {
    const at = `round ${round}`;
    const hs = wal.initialState().hardState;
    const okHard = (x: HardState): boolean => hs.term === x.term && hs.vote === x.vote;
    if (!okHard(hard) && !(inflight.hard !== undefined && okHard(inflight.hard)))
      return `${at}: hard state term ${hs.term} vote '${hs.vote}', acknowledged term ${hard.term} vote '${hard.vote}'`;
    const snapIndex = wal.snapshotMeta().index;
    if (snapIndex < snap || snapIndex > Math.max(snap, inflight.snap ?? 0))
      return `${at}: snapshot index ${snapIndex}, acknowledged ${snap}${inflight.snap === undefined ? '' : ` (in flight ${inflight.snap})`}`;
    const ci = wal.firstIndex() - 1;
    if (ci < compact || ci > Math.max(compact, inflight.compact ?? 0))
      return `${at}: compaction point ${ci}, acknowledged ${compact}${inflight.compact === undefined ? '' : ` (in flight ${inflight.compact})`}`;
    const last = wal.lastIndex();
    const got = wal.entries(ci + 1, last + 1);
    const fits = (v: LogVersion): string | null => {
      if (last < v.floor || last > v.last) return `last index ${last} outside [${v.floor}, ${v.last}]`;
      for (const e of got) {
        if (e.index <= v.base) return `entry ${e.index} at or below the log's base ${v.base}`;
        const want = v.ents.get(e.index);
        if (want === undefined) return `entry ${e.index} was never written in this version`;
        const m = mkEntry(e.index, want[0], want[1]);
        if (e.term !== m.term || Buffer.compare(Buffer.from(e.data), Buffer.from(m.data)) !== 0)
          return `entry ${e.index} has term ${e.term} and ${e.data.length} bytes, expected term ${m.term} and ${m.data.length} bytes`;
      }
      return null;
    };
    // An interrupted overwrite may also have cut the old suffix it replaces short (that suffix is
    // uncommitted: losing any of it is safe), but nothing below where it starts.
    const a = fits(inflight.log === undefined ? log : { ...log, floor: Math.min(log.floor, inflight.log.floor) });
    const b = inflight.log === undefined ? a : fits(inflight.log);
    if (a !== null && b !== null) return `${at}: the log does not match what was acknowledged (${a}) nor the interrupted write (${b})`;
    if (hs.commit < Math.min(commitFloor, last) || hs.commit > Math.max(maxCommit, snapIndex))
      return `${at}: commit ${hs.commit}, durable floor ${commitFloor}, highest written ${maxCommit}`;
    // Continue from what the disk holds: the recovered state is the new acknowledged one.
    log = {
      base: ci,
      last,
      floor: last,
      ents: new Map(got.map((e) => [e.index, [e.term, (a === null ? log : (inflight.log as LogVersion)).ents.get(e.index)?.[1] ?? 0]])),
    };
    hard = hs;
    snap = snapIndex;
    compact = ci;
    commitFloor = hs.commit;
    maxCommit = Math.max(maxCommit, hs.commit);
    return null;
  }
}
