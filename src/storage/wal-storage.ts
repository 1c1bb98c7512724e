/**
 * The durable implementation of the core's {@link Storage}: a segmented write-ahead log plus the
 * `hardstate` and `logmeta` files, all in one directory.
 *
 * Why two write paths: the core reads its log synchronously, so every save writes its records
 * synchronously (one buffer, one write: group commit). `save()` then fdatasyncs on the calling
 * thread (the simulator and tests); `saveAsync()` fdatasyncs on the libuv thread pool and
 * resolves once the batch is durable, so the node's event loop keeps serving the network while
 * the disk syncs. Reads come from an index of record offsets kept in memory and a bounded cache
 * of recent entries; misses read the segment file.
 *
 * Why a commit-only save does not sync (raft's MustSync): the commit index is volatile state in
 * Raft. It is written with the next batch of entries (or on close) and becomes durable with that
 * batch's sync; a crash may lose the latest value, and recovery takes
 * max(hard state, last durable commit record, snapshot index).
 *
 * Failure policy: any failed write or fsync leaves the on-disk state unknown, so the store
 * enters a failed state and refuses every later write with the same StorageFailedError. The
 * node must not go on acknowledging entries it may not have persisted. A file that cannot be
 * *opened* for a transient reason (EMFILE, ENFILE, EAGAIN, ENOMEM: transient.ts) before anything
 * was changed is not such a failure: the call throws StorageBusyError (GRAFTD_UNAVAILABLE), leaves
 * the store as it was, and may be retried. Every write path opens what it needs before its first
 * destructive step for that reason.
 *
 * Disk full: the active segment is kept preallocated (zeros written and fdatasynced) `reserveBytes`
 * ahead of the write position, and the space for a batch is allocated before its first record is
 * written. So ENOSPC/EDQUOT shows up while writing zeros nothing depends on, never half way through
 * a record: the zeros are cut off again, the store records the condition (diskFull(), logged once
 * per episode and counted) and keeps writing into the reserve it already has; only when a batch
 * does not fit does the save throw StorageFullError (GRAFTD_DISK_FULL, a StorageBusyError: nothing
 * changed, retry later). The same holds for a new segment and the temp file of hardstate/logmeta.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CompactedError, CorruptionError, GraftdError, StorageFailedError, UnavailableError, assert } from '../errors.ts';
import type { Log } from '../log.ts';
import { nullLog } from './null-log.ts';
import type { ConfState, Entry, HardState, SnapshotMeta, Storage } from '../raft/types.ts';
import { EntryCache } from './entry-cache.ts';
import { type FsLike, fsyncDir, mkdirDurable, nodeFs, readFully, writeFully } from './fs-like.ts';
import { type LogMeta, readHardState, readLogMeta, writeHardState, writeLogMeta } from './meta-files.ts';
import {
  COMMIT_RECORD_BYTES,
  RECORD_ENTRY,
  SEGMENT_HEADER_BYTES,
  checkRecord,
  decodeEntry,
  encodeCommit,
  encodeEntry,
  encodeSegmentHeader,
  entryRecordBytes,
} from './record.ts';
import { recoverSegments } from './recovery.ts';
import { Segment } from './segment.ts';
import { StorageBusyError, StorageFullError, isDiskFullError, withTransientOpens } from './transient.ts';

/** Options of {@link openWalStorage}. */
export interface WalStorageOptions {
  /** Rotate to a new segment file once the current one reaches this size. Default 64 MiB. */
  readonly segmentBytes?: number;
  /** Number of recent entries kept in memory for reads. Default 8192. */
  readonly cacheEntries?: number;
  /** Upper bound on the data bytes held by the entry cache. Default 64 MiB. */
  readonly cacheBytes?: number;
  readonly log?: Log;
  /**
   * saveAsync() runs its fdatasync inline (blocking, no thread-pool round trip) while the recent
   * sync time (moving average) is below this; slower disks sync on the thread pool. Default 0:
   * always on the thread pool (measured faster in the 3-node HTTP benchmark, even at 0.15 ms syncs).
   */
  readonly inlineSyncBelowMs?: number;
  /** File-system calls (tests inject faults here). Default: node:fs. */
  readonly fs?: FsLike;
  /**
   * Space kept preallocated ahead of the write position of the active segment (capped at
   * segmentBytes). When it cannot be kept because the disk is full, diskFull() reports it while
   * batches still go into what is left of it. Default 1 MiB.
   */
  readonly reserveBytes?: number;
}

/** A durable {@link Storage} backed by a directory. */
export interface WalStorage extends Storage {
  /**
   * Like save(), but without waiting for the disk: the records are written (to the OS) before it
   * returns, and so is a term or vote change (the hard state file is replaced synchronously).
   * Returns a promise that resolves once the entries are durable (fdatasync on the thread pool)
   * and rejects with StorageFailedError if that fails; null when they are durable already (a fast
   * disk, see inlineSyncBelowMs) or nothing needed a sync (a commit-only change, or only term/vote). Reads see the entries at once. No other save,
   * truncation or snapshot install may start before the promise settles.
   */
  saveAsync(hardState: HardState | null, entries: readonly Entry[]): Promise<void> | null;
  /** Close the files. The store must not be used afterwards. */
  close(): void;
  /** The error that put the store into the failed state, or null while healthy. */
  failed(): StorageFailedError | null;
  /**
   * Non-null while the disk is full: the last write of space nothing depended on yet (preallocation,
   * a new segment, a temp file) failed with ENOSPC/EDQUOT. Writes still succeed while they fit in
   * the space already allocated; the node refuses new client writes meanwhile.
   */
  diskFull(): StorageFullError | null;
  /**
   * Try now to allocate the reserve again (no-op returning null when diskFull() is null, and while an
   * asynchronous sync is in flight it returns diskFull() unchanged). Returns diskFull() afterwards.
   */
  retrySpace(): StorageFullError | null;
  /** Disk-full episodes since open (each logged once when it starts). */
  diskFullEvents(): number;
  /** Observe the duration (ms) of each WAL fdatasync of save()/saveAsync() (metrics); null stops. */
  setSyncObserver(fn: ((ms: number) => void) | null): void;
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const DEFAULT_CACHE_ENTRIES = 8192;
const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
/** The write buffer is kept between batches up to this size; larger batches use a one-off buffer. */
const MAX_RETAINED_WRITE_BUFFER_BYTES = 8 * 1024 * 1024;
/** The active segment is extended with zeros in steps of this size (capped at segmentBytes), plus the reserve. */
const PREALLOCATE_BYTES = 4 * 1024 * 1024;
const DEFAULT_RESERVE_BYTES = 1024 * 1024;
const ZEROS = Buffer.alloc(1024 * 1024);
/** Read descriptors kept open on non-active segments (bounded; reopened on demand). */
const MAX_READ_FDS = 8;
const DEFAULT_INLINE_SYNC_BELOW_MS = 0;
/** Weight of the newest sample in the moving average of sync times. */
const SYNC_EWMA_WEIGHT = 0.2;

/**
 * Open (or create) the WAL in `dir`. Recovers from a torn tail with a warning; throws
 * CorruptionError when the data is damaged in a way a crash cannot explain.
 */
export function openWalStorage(dir: string, opts: WalStorageOptions = {}): WalStorage {
  return WalStorageImpl.open(dir, opts);
}

class WalStorageImpl implements WalStorage {
  private readonly dir: string;
  private readonly fs: FsLike;
  private readonly log: Log;
  private readonly segmentBytes: number;
  private readonly cache: EntryCache;
  private segments: Segment[];
  private hard: HardState;
  /** The commit index last written to the WAL (or found on recovery). */
  private recordedCommit: number;
  private meta: LogMeta;
  private last: number;
  private failure: StorageFailedError | null = null;
  private closed = false;
  private writeBuf = Buffer.allocUnsafe(64 * 1024);
  /** An asynchronous fdatasync is in flight (saveAsync); close() leaves the descriptors to it. */
  private syncing = false;
  private readonly inlineSyncBelowMs: number;
  /** Moving average of recent WAL sync times (wall clock, ms). */
  private syncMs = 0;
  /** Told the duration (ms) of every WAL fdatasync that completed (graftd_wal_fsync_duration_seconds). */
  private syncObserver: ((ms: number) => void) | null = null;
  private readonly readFds: Segment[] = [];
  /** Bytes kept allocated ahead of the write position, and the extension step (both ≤ segmentBytes). */
  private readonly reserveBytes: number;
  private readonly chunkBytes: number;
  private full: StorageFullError | null = null;
  private fullEvents = 0;

  private constructor(dir: string, opts: WalStorageOptions, segments: Segment[], hard: HardState, meta: LogMeta, recordedCommit: number) {
    this.dir = dir;
    this.fs = withTransientOpens(opts.fs ?? nodeFs);
    this.log = opts.log ?? nullLog;
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.inlineSyncBelowMs = opts.inlineSyncBelowMs ?? DEFAULT_INLINE_SYNC_BELOW_MS;
    this.reserveBytes = Math.min(opts.reserveBytes ?? DEFAULT_RESERVE_BYTES, this.segmentBytes);
    this.chunkBytes = Math.min(PREALLOCATE_BYTES, this.segmentBytes);
    this.cache = new EntryCache(opts.cacheEntries ?? DEFAULT_CACHE_ENTRIES, opts.cacheBytes ?? DEFAULT_CACHE_BYTES);
    this.segments = segments;
    this.hard = hard;
    this.meta = meta;
    this.recordedCommit = recordedCommit;
    const active = segments[segments.length - 1];
    assert(active !== undefined && active.fd >= 0, 'the WAL must have an open active segment');
    this.last = Math.max(active.lastIndex, meta.compactIndex);
    this.cache.reset(this.last + 1);
  }

  static open(dir: string, opts: WalStorageOptions): WalStorageImpl {
    const fsl = withTransientOpens(opts.fs ?? nodeFs);
    const log = opts.log ?? nullLog;
    const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    assert(
      Number.isInteger(segmentBytes) && segmentBytes >= 256 && segmentBytes <= 2 ** 31,
      `segmentBytes must be in [256 B, 2 GiB], got ${segmentBytes}`,
    );
    const reserve = opts.reserveBytes ?? DEFAULT_RESERVE_BYTES;
    assert(Number.isInteger(reserve) && reserve >= 0, `reserveBytes must be an integer ≥ 0, got ${reserve}`);
    const absDir = path.resolve(dir);
    try {
      // mkdir -p: every level it creates is an entry in its parent that must be made durable.
      mkdirDurable(fsl, absDir);
    } catch (err) {
      throw new StorageFailedError(`creating the data directory ${absDir}`, err);
    }
    const hard = wrapIo('reading the hard state', () => readHardState(fsl, absDir));
    const meta = wrapIo('reading the log metadata', () => readLogMeta(fsl, absDir));
    const { segments, maxCommit } = wrapIo('recovering the WAL', () => recoverSegments(fsl, absDir, meta, log));
    try {
      WalStorageImpl.applyCompactionOnOpen(fsl, absDir, meta, segments, log);
      if (segments.length === 0) segments.push(mustCreateSegment(fsl, absDir, meta.compactIndex + 1, meta.generation));
    } catch (err) {
      for (const s of segments) if (s.fd >= 0) fsl.closeSync(s.fd);
      if (err instanceof GraftdError) throw err;
      throw new StorageFailedError('recovering the WAL', err);
    }
    const active = segments[segments.length - 1] as Segment;
    const lastIndex = Math.max(active.lastIndex, meta.compactIndex);
    // The commit index rides in WAL records; the hard state file has the value as of the last term/vote
    // change; a snapshot is only ever taken of committed entries.
    const commit = Math.min(Math.max(hard.commit, maxCommit, meta.snapshot.index), lastIndex);
    const store = new WalStorageImpl(absDir, opts, segments, { term: hard.term, vote: hard.vote, commit }, meta, maxCommit);
    log.info({ dir: absDir, firstIndex: store.firstIndex(), lastIndex, commit, segments: segments.length }, 'WAL opened');
    return store;
  }

  /** Drop segments made void by compaction and check that no entries are missing after the compaction point. */
  private static applyCompactionOnOpen(fsl: FsLike, dir: string, meta: LogMeta, segments: Segment[], log: Log): void {
    const lastSeg = segments[segments.length - 1];
    if (lastSeg !== undefined && lastSeg.lastIndex < meta.compactIndex) {
      // Everything held lies below the compaction point: the log is empty after it.
      for (const s of segments) {
        if (s.fd >= 0) fsl.closeSync(s.fd);
        fsl.unlinkSync(s.path);
      }
      log.warn(
        { dir, compactIndex: meta.compactIndex, lastIndex: lastSeg.lastIndex },
        'WAL: every segment lies below the compaction point; starting an empty log after it',
      );
      segments.length = 0;
      return;
    }
    while (segments.length > 1 && (segments[0] as Segment).lastIndex <= meta.compactIndex) {
      const s = segments.shift() as Segment;
      fsl.unlinkSync(s.path);
    }
    const first = segments[0];
    if (first !== undefined && first.firstIndex > meta.compactIndex + 1) {
      for (const s of segments) if (s.fd >= 0) fsl.closeSync(s.fd);
      throw new CorruptionError(
        first.path,
        0,
        `the log is compacted through index ${meta.compactIndex} but the first segment starts at ${first.firstIndex}: entries ${meta.compactIndex + 1}..${first.firstIndex - 1} are missing`,
      );
    }
  }

  // ---- reads --------------------------------------------------------------------------------

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hard, confState: this.meta.snapshot.confState };
  }

  firstIndex(): number {
    return this.meta.compactIndex + 1;
  }

  lastIndex(): number {
    return this.last;
  }

  snapshotMeta(): SnapshotMeta {
    return this.meta.snapshot;
  }

  term(index: number): number {
    const ci = this.meta.compactIndex;
    if (index <= ci) {
      if (index === ci) return this.meta.compactTerm;
      if (index === 0) return 0;
      throw new CompactedError(index, ci + 1);
    }
    if (index > this.last) throw new UnavailableError(index, this.last);
    const cached = this.cache.get(index);
    if (cached !== undefined) return cached.term;
    return this.segmentOf(index).termOf(index);
  }

  entries(lo: number, hi: number, maxBytes: number = Number.POSITIVE_INFINITY): Entry[] {
    this.assertOpen();
    const ci = this.meta.compactIndex;
    if (lo <= ci) throw new CompactedError(lo, ci + 1);
    if (hi > this.last + 1) throw new UnavailableError(hi - 1, this.last);
    assert(lo <= hi, `entries(lo=${lo}, hi=${hi}): expected lo <= hi`);
    if (lo === hi) return [];
    // How many fit under maxBytes (at least one), decided from the index alone.
    let end = hi;
    if (maxBytes !== Number.POSITIVE_INFINITY) {
      let bytes = this.dataLen(lo);
      end = lo + 1;
      while (end < hi) {
        bytes += this.dataLen(end);
        if (bytes > maxBytes) break;
        end++;
      }
    }
    const out: Entry[] = new Array(end - lo);
    let i = lo;
    while (i < end) {
      const cached = this.cache.get(i);
      if (cached !== undefined) {
        out[i - lo] = cached;
        i++;
        continue;
      }
      // A run of misses within one segment: one read.
      const seg = this.segmentOf(i);
      let j = i + 1;
      while (j < end && j <= seg.lastIndex && this.cache.get(j) === undefined) j++;
      this.readRun(seg, i, j, out, lo);
      i = j;
    }
    return out;
  }

  private dataLen(index: number): number {
    const cached = this.cache.get(index);
    if (cached !== undefined) return cached.data.length;
    return this.segmentOf(index).dataLenOf(index);
  }

  /** The segment holding `index` (which must be within the held range). */
  private segmentOf(index: number): Segment {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    const last = segs[hi] as Segment;
    if (index >= last.firstIndex) return last;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((segs[mid] as Segment).firstIndex <= index) lo = mid;
      else hi = mid - 1;
    }
    return segs[lo] as Segment;
  }

  /** Read entries [from, to) of `seg` from disk into out[k - base]. */
  private readRun(seg: Segment, from: number, to: number, out: Entry[], base: number): void {
    const start = seg.offsetOf(from);
    const lastOff = seg.offsetOf(to - 1);
    const end = lastOff + entryRecordBytes(seg.dataLenOf(to - 1));
    const buf = Buffer.allocUnsafe(end - start);
    const fd = this.readFd(seg);
    const got = this.io(`reading ${seg.path}`, () => readFully(this.fs, fd, buf, 0, buf.length, start));
    if (got !== buf.length)
      throw new CorruptionError(seg.path, start + got, `expected ${buf.length} bytes of records, the file ends early`);
    for (let i = from; i < to; i++) {
      const off = seg.offsetOf(i) - start;
      const r = checkRecord(buf, off, buf.length);
      if (typeof r === 'string' || buf[off + 8] !== RECORD_ENTRY) {
        throw new CorruptionError(seg.path, off + start, typeof r === 'string' ? r : 'expected an entry record');
      }
      const e = decodeEntry(buf, off);
      if (e.index !== i) throw new CorruptionError(seg.path, off + start, `entry record has index ${e.index}, expected ${i}`);
      out[i - base] = e;
    }
  }

  private readFd(seg: Segment): number {
    if (seg.fd >= 0) return seg.fd;
    if (this.readFds.length >= MAX_READ_FDS) {
      const old = this.readFds.shift() as Segment;
      if (old.fd >= 0 && old !== this.active) {
        this.fs.closeSync(old.fd);
        old.fd = -1;
      }
    }
    // Permanent even when transient: a read happens inside a core transition, which cannot be retried half way.
    seg.fd = this.io(`opening ${seg.path}`, () => this.fs.openSync(seg.path, 'r'), false);
    this.readFds.push(seg);
    return seg.fd;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1] as Segment;
  }

  // ---- writes -------------------------------------------------------------------------------

  failed(): StorageFailedError | null {
    return this.failure;
  }

  diskFull(): StorageFullError | null {
    return this.full;
  }

  diskFullEvents(): number {
    return this.fullEvents;
  }

  retrySpace(): StorageFullError | null {
    if (this.full === null || this.closed || this.failure !== null || this.syncing) return this.full;
    const seg = this.active;
    const target = seg.size + this.reserveBytes + this.chunkBytes;
    const err = seg.fileSize >= target ? null : this.extend(seg, target);
    if (err === null) this.noteSpace();
    else this.full = err;
    return this.full;
  }

  /** Record the disk-full condition; the first of an episode is logged (with the path) and counted. */
  private noteFull(err: StorageFullError): void {
    if (this.full === null) {
      this.fullEvents++;
      this.log.error(
        { dir: this.dir, path: err.path, errno: err.errno, err: err.message },
        'WAL: disk full; new writes are refused until space is freed (acknowledged data is intact, reads keep working)',
      );
    }
    this.full = err;
  }

  private noteSpace(): void {
    if (this.full === null) return;
    this.log.info({ dir: this.dir, path: this.full.path }, 'WAL: disk space available again; accepting writes');
    this.full = null;
  }

  /** Observe the duration (ms) of each WAL fdatasync of save()/saveAsync() (metrics); null stops. */
  setSyncObserver(fn: ((ms: number) => void) | null): void {
    this.syncObserver = fn;
  }

  save(hardState: HardState | null, entries: readonly Entry[]): void {
    const fd = this.write(hardState, entries);
    if (fd < 0) return;
    const start = performance.now();
    this.io(`syncing ${this.active.path}`, () => this.fs.fdatasyncSync(fd));
    this.syncObserver?.(performance.now() - start);
  }

  saveAsync(hardState: HardState | null, entries: readonly Entry[]): Promise<void> | null {
    const fd = this.write(hardState, entries);
    if (fd < 0) return null;
    const what = `syncing ${this.active.path}`;
    const fdatasync = this.fs.fdatasync;
    const start = performance.now();
    if (fdatasync === undefined || this.syncMs < this.inlineSyncBelowMs) {
      // A fast disk (when enabled): blocking briefly instead of the thread pool's two extra wake-ups.
      this.io(what, () => this.fs.fdatasyncSync(fd));
      this.noteSync(performance.now() - start);
      return null;
    }
    this.syncing = true;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (err: unknown): void => {
        if (settled) return;
        settled = true;
        this.syncing = false;
        this.noteSync(performance.now() - start);
        if (this.closed) this.closeFiles();
        if (err !== null && err !== undefined) reject(this.enterFailed(what, err));
        else if (this.failure !== null) reject(this.failure);
        else resolve();
      };
      try {
        fdatasync.call(this.fs, fd, done);
      } catch (err) {
        done(err);
      }
    });
  }

  private noteSync(ms: number): void {
    this.syncObserver?.(ms);
    this.syncMs += (ms - this.syncMs) * SYNC_EWMA_WEIGHT;
  }

  /**
   * Write one save's hard state and records (no WAL sync). Returns the descriptor to fdatasync,
   * or -1 when nothing written needs it: a commit-only change stays pending until the next batch.
   */
  private write(hardState: HardState | null, entries: readonly Entry[]): number {
    this.assertWritable();
    assert(!this.syncing, 'save while an asynchronous sync is in flight');
    if (hardState !== null) {
      assert(hardState.term >= this.hard.term, `hard state term went back from ${this.hard.term} to ${hardState.term}`);
      if (hardState.term !== this.hard.term || hardState.vote !== this.hard.vote) {
        this.io('writing the hard state', () => writeHardState(this.fs, this.dir, hardState));
      }
      this.hard = hardState;
    }
    let ents = entries;
    if (ents.length > 0) {
      const first = (ents[0] as Entry).index;
      assert(first <= this.last + 1, `save: entries start at ${first} but the log ends at ${this.last} (gap)`);
      const ci = this.meta.compactIndex;
      if (first <= ci) {
        // That prefix is covered by the snapshot already.
        const skip = ci + 1 - first;
        if (skip >= ents.length) ents = [];
        else ents = ents.slice(skip);
      }
      for (let k = 1; k < ents.length; k++) {
        assert(
          (ents[k] as Entry).index === (ents[0] as Entry).index + k,
          `save: entry index ${(ents[k] as Entry).index} is not contiguous`,
        );
      }
    }
    if (ents.length === 0) return -1;
    const first = (ents[0] as Entry).index;
    if (first <= this.last) this.truncateSuffix(first);
    // On a full disk the batch goes on in the old segment while its preallocated space lasts.
    if (this.active.size >= this.segmentBytes) this.rotate(first);
    // The commit index rides with the entries when it changed, and again after a truncation or rotation so
    // the latest value never lives only in records that were cut off or in a segment compaction deletes.
    this.append(ents, this.pendingCommit());
    return this.active.fd;
  }

  /** The commit index to record with the next batch, or -1 when the WAL already has it. */
  private pendingCommit(): number {
    return this.hard.commit > 0 && this.hard.commit !== this.recordedCommit ? this.hard.commit : -1;
  }

  /** Encode and write one batch on the active segment (the caller syncs). */
  private append(ents: readonly Entry[], commit: number): void {
    let total = commit >= 0 ? COMMIT_RECORD_BYTES : 0;
    for (let k = 0; k < ents.length; k++) total += entryRecordBytes((ents[k] as Entry).data.length);
    const seg = this.active;
    const base = seg.size;
    // Space first: a full disk is found here, before anything of this batch is written or indexed.
    this.ensureSpace(seg, base + total);
    let buf = this.writeBuf;
    if (buf.length < total) {
      buf = Buffer.allocUnsafe(Math.max(total, buf.length * 2));
      if (buf.length <= MAX_RETAINED_WRITE_BUFFER_BYTES) this.writeBuf = buf;
    }
    let pos = 0;
    for (let k = 0; k < ents.length; k++) {
      const e = ents[k] as Entry;
      const off = pos;
      pos = encodeEntry(buf, pos, e);
      // Indexed before the write: on a failed write (the space is allocated, so not for lack of it) the
      // store is failed and never read for writing again.
      seg.push(base + off, e.term, e.data.length);
    }
    if (commit >= 0) pos = encodeCommit(buf, pos, commit);
    assert(pos === total, `encoded ${pos} bytes, expected ${total}`);
    const end = base + total;
    this.io(`appending to ${seg.path}`, () => writeFully(this.fs, seg.fd, buf, total, base));
    seg.size = end;
    if (ents.length > 0) {
      this.last = (ents[ents.length - 1] as Entry).index;
      this.cache.append(ents);
    }
    if (commit >= 0) this.recordedCommit = commit;
  }

  /**
   * Make sure [seg.size, end) is allocated before a batch ending at `end` is written, and keep
   * reserveBytes allocated beyond it when the disk allows. Extending in steps of chunkBytes means the
   * fdatasync of most batches lands inside allocated space and need not commit a file-size change
   * (roughly half its cost on ext4); the zeros are synced here, once per step, so a file system that
   * reports ENOSPC only at sync time reports it here too. Throws StorageFullError (nothing of the
   * batch written or indexed) when the batch itself does not fit.
   */
  private ensureSpace(seg: Segment, end: number): void {
    if (seg.fileSize >= end + this.reserveBytes) return;
    const err = this.extend(seg, end + this.reserveBytes + this.chunkBytes);
    if (err === null) {
      this.noteSpace();
      return;
    }
    if (end > seg.fileSize) {
      // Not even the batch fits in what is allocated: try exactly what it needs.
      const tight = this.extend(seg, end);
      if (tight !== null) {
        this.noteFull(tight);
        throw tight;
      }
    }
    this.noteFull(err);
  }

  /**
   * Write zeros over [seg.fileSize, to) and fdatasync them. Returns null on success; on ENOSPC/EDQUOT
   * the file is cut back to where it was and a StorageFullError is returned. Any other error fails
   * the store (a disk that cannot write zeros cannot be trusted with records).
   */
  private extend(seg: Segment, to: number): StorageFullError | null {
    const from = seg.fileSize;
    if (to <= from) return null;
    try {
      for (let p = from; p < to; p += ZEROS.length) writeFully(this.fs, seg.fd, ZEROS, Math.min(ZEROS.length, to - p), p);
      this.fs.fdatasyncSync(seg.fd);
    } catch (err) {
      if (!isDiskFullError(err)) throw this.enterFailed(`preallocating space in ${seg.path}`, err);
      try {
        // Give back what was taken (only zeros beyond every record); left in place it would be a clean end anyway.
        this.fs.ftruncateSync(seg.fd, from);
      } catch {
        // see above
      }
      return new StorageFullError('preallocating WAL space', seg.path, (err as NodeJS.ErrnoException).code as string, err);
    }
    seg.fileSize = to;
    return null;
  }

  /** Remove entries ≥ index from disk before new ones are written in their place. */
  private truncateSuffix(index: number): void {
    assert(
      index > this.meta.compactIndex && index <= this.last,
      `truncateSuffix(${index}) outside (${this.meta.compactIndex}, ${this.last}]`,
    );
    // The segment that will hold `index`; opened for writing before anything is changed, so a
    // transient open failure leaves the log as it was.
    let k = this.segments.length - 1;
    while (k > 0 && (this.segments[k] as Segment).firstIndex > index) k--;
    const seg = this.segments[k] as Segment;
    if (seg.fd < 0 || this.readFds.includes(seg)) {
      const fd = this.io(`opening ${seg.path} to truncate it`, () => this.fs.openSync(seg.path, 'r+'));
      this.closeFd(seg);
      seg.fd = fd;
    }
    this.io(
      `truncating the log from index ${index}`,
      () => {
        let removed = false;
        while (this.segments.length > k + 1) {
          const s = this.segments.pop() as Segment;
          this.closeFd(s);
          this.fs.unlinkSync(s.path);
          removed = true;
        }
        // The removal of later segments is made durable before the cut: a power loss in between
        // must not leave them behind a shortened segment (a gap that recovery rightly calls corrupt).
        if (removed) fsyncDir(this.fs, this.dir);
        const cut = index === seg.firstIndex ? SEGMENT_HEADER_BYTES : seg.offsetOf(index);
        // The cut must be durable before new records overwrite those bytes, or a crash could leave
        // new records followed by old ones that still look valid.
        this.fs.ftruncateSync(seg.fd, cut);
        this.fs.fsyncSync(seg.fd);
        seg.size = cut;
        seg.fileSize = cut;
        seg.truncateFrom(index);
      },
      false,
    );
    this.last = index - 1;
    this.recordedCommit = -1;
    this.cache.truncateFrom(index);
  }

  /**
   * Start a new segment whose first entry will be `firstIndex`, created with its reserve
   * preallocated. On a full disk the condition is recorded; when no file of the new segment can be
   * left behind (it was never created, or its removal is durable) the old segment stays active and
   * the batch goes into its preallocated space if it fits (append throws StorageFullError
   * otherwise). Were the old segment to go on while an empty new one might reappear after a crash,
   * recovery would see two segments overlap, so otherwise this throws StorageFullError: nothing was
   * written, and the retry creates the same file again.
   */
  private rotate(firstIndex: number): void {
    const old = this.active;
    const preallocate = SEGMENT_HEADER_BYTES + this.reserveBytes + this.chunkBytes;
    const made = this.io('rotating to a new segment', () =>
      createSegment(this.fs, this.dir, firstIndex, this.meta.generation, preallocate),
    );
    if (!(made instanceof Segment)) {
      this.noteFull(made.full);
      if (!made.removed) throw made.full;
      return;
    }
    const seg = made;
    if (old.fileSize > old.size) {
      // The sealed segment's preallocated zeros are not needed any more. Every record below is durable
      // already and a zero tail is a clean end, so no sync is needed; a failure only wastes the space.
      try {
        this.fs.ftruncateSync(old.fd, old.size);
        old.fileSize = old.size;
      } catch (err) {
        this.log.warn({ file: old.path, err: String(err) }, 'WAL: could not release the preallocated end of a sealed segment');
      }
    }
    this.closeFd(old);
    old.trim();
    this.segments.push(seg);
    this.recordedCommit = -1;
  }

  applySnapshot(meta: SnapshotMeta): void {
    this.assertWritable();
    assert(!this.syncing, 'applySnapshot while an asynchronous sync is in flight');
    assert(
      meta.index >= this.meta.snapshot.index,
      `applySnapshot: index ${meta.index} is older than the current snapshot ${this.meta.snapshot.index}`,
    );
    const next: LogMeta = { generation: this.meta.generation + 1, compactIndex: meta.index, compactTerm: meta.term, snapshot: meta };
    // The metadata goes first: once it is durable, every older segment is void (lower generation).
    // Until it is written nothing has changed, so a transient failure to open its temp file is retryable.
    this.io('installing a snapshot', () => writeLogMeta(this.fs, this.dir, next));
    this.io(
      'installing a snapshot',
      () => {
        for (const s of this.segments) {
          this.closeFd(s);
          this.fs.unlinkSync(s.path);
        }
        this.segments = [];
        this.readFds.length = 0;
        this.segments.push(mustCreateSegment(this.fs, this.dir, meta.index + 1, next.generation));
      },
      false,
    );
    this.meta = next;
    this.last = meta.index;
    this.recordedCommit = -1;
    this.cache.reset(meta.index + 1);
  }

  createSnapshot(meta: SnapshotMeta): void {
    this.assertWritable();
    if (meta.index <= this.meta.snapshot.index) return;
    assert(meta.index <= this.last, `createSnapshot: index ${meta.index} is beyond the last index ${this.last}`);
    if (meta.index >= this.meta.compactIndex) {
      const t = this.term(meta.index);
      assert(t === meta.term, `createSnapshot: term ${meta.term} at index ${meta.index} does not match the log's term ${t}`);
    }
    const next: LogMeta = { ...this.meta, snapshot: meta };
    this.io('recording a snapshot', () => writeLogMeta(this.fs, this.dir, next));
    this.meta = next;
  }

  compact(index: number): void {
    this.assertWritable();
    if (index <= this.meta.compactIndex) return;
    assert(index <= this.meta.snapshot.index, `compact: index ${index} is beyond the snapshot index ${this.meta.snapshot.index}`);
    assert(index <= this.last, `compact: index ${index} is beyond the last index ${this.last}`);
    const next: LogMeta = { ...this.meta, compactIndex: index, compactTerm: this.term(index) };
    this.io('compacting the log', () => {
      writeLogMeta(this.fs, this.dir, next);
      // Whole segments only; the compaction point in logmeta hides the rest.
      while (this.segments.length > 1 && (this.segments[0] as Segment).lastIndex <= index) {
        const s = this.segments.shift() as Segment;
        this.closeFd(s);
        this.fs.unlinkSync(s.path);
      }
    });
    this.meta = next;
    this.cache.dropThrough(index);
  }

  close(): void {
    if (this.closed) return;
    // A commit index still pending is written and synced now (best effort: losing it is safe).
    const commit = this.pendingCommit();
    if (commit >= 0 && this.failure === null && !this.syncing) {
      try {
        this.append([], commit);
        this.fs.fdatasyncSync(this.active.fd);
      } catch (err) {
        this.log.warn({ dir: this.dir, err: String(err) }, 'WAL: could not record the commit index on close');
      }
    }
    this.closed = true;
    // With a sync in flight its descriptor must stay open (a reused number would sync another file).
    if (!this.syncing) this.closeFiles();
  }

  private closeFiles(): void {
    for (const s of this.segments) {
      if (s.fd >= 0) {
        try {
          this.fs.closeSync(s.fd);
        } catch {
          // Closing is best effort; durability was decided by the fsyncs.
        }
        s.fd = -1;
      }
    }
    this.readFds.length = 0;
  }

  private closeFd(s: Segment): void {
    if (s.fd >= 0) {
      this.fs.closeSync(s.fd);
      s.fd = -1;
    }
    const k = this.readFds.indexOf(s);
    if (k >= 0) this.readFds.splice(k, 1);
  }

  private assertOpen(): void {
    if (this.closed) throw new GraftdError('GRAFTD_SHUTTING_DOWN', `the WAL in ${this.dir} is closed`);
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.failure !== null) throw this.failure;
  }

  /**
   * Run an I/O step; on failure enter the failed state for good and throw StorageFailedError. With
   * `transientOk` (the step has changed nothing before its opens), a transient open failure is thrown
   * as StorageBusyError instead and the store stays usable.
   */
  private io<T>(operation: string, fn: () => T, transientOk = true): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof StorageBusyError) {
        if (!transientOk) throw this.enterFailed(operation, err);
        if (err instanceof StorageFullError) this.noteFull(err);
        else this.log.warn({ dir: this.dir, operation, err: err.message }, 'WAL: could not open a file; nothing was changed, retry later');
        throw err;
      }
      if (err instanceof GraftdError && err.code !== 'GRAFTD_STORAGE_FAILED') throw err;
      throw this.enterFailed(operation, err);
    }
  }

  /** Enter the failed state for good (the first failure is kept) and return the error to throw. */
  private enterFailed(operation: string, err: unknown): StorageFailedError {
    if (this.failure !== null) return this.failure;
    const failure = err instanceof StorageFailedError ? err : new StorageFailedError(`${operation} in ${this.dir}`, err);
    this.failure = failure;
    this.log.error({ dir: this.dir, operation, err: String(err) }, 'WAL: write failed; refusing further writes');
    return failure;
  }
}

/** Run `fn`; turn a raw fs error into StorageFailedError. */
function wrapIo<T>(operation: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof GraftdError) throw err;
    throw new StorageFailedError(operation, err);
  }
}

/** A segment could not be created for lack of space; `removed`: no file of it can reappear. */
interface NoSegment {
  readonly full: StorageFullError;
  readonly removed: boolean;
}

/**
 * Create a segment file with its header and zeros up to `preallocateTo`, durably (file and
 * directory fsynced). A full disk is returned (the file removed, durably when `removed`); any
 * other error is thrown.
 */
function createSegment(fsl: FsLike, dir: string, firstIndex: number, generation: number, preallocateTo = 0): Segment | NoSegment {
  const seg = new Segment(dir, firstIndex, generation, SEGMENT_HEADER_BYTES);
  const header = encodeSegmentHeader(generation, firstIndex);
  const full = (err: unknown): StorageFullError =>
    new StorageFullError('creating a WAL segment', seg.path, (err as NodeJS.ErrnoException).code as string, err);
  let fd: number;
  try {
    fd = fsl.openSync(seg.path, 'w+', 0o644);
  } catch (err) {
    if (isDiskFullError(err)) return { full: full(err), removed: true };
    throw err;
  }
  try {
    writeFully(fsl, fd, header, header.length, 0);
    for (let p = header.length; p < preallocateTo; p += ZEROS.length) {
      writeFully(fsl, fd, ZEROS, Math.min(ZEROS.length, preallocateTo - p), p);
    }
    fsl.fsyncSync(fd);
    fsyncDir(fsl, dir);
  } catch (err) {
    fsl.closeSync(fd);
    // Not in use yet: remove it so a retry (or a restart) starts clean.
    let removed = false;
    try {
      fsl.unlinkSync(seg.path);
      fsyncDir(fsl, dir);
      removed = true;
    } catch {
      // recovery treats a header-only segment as an empty one (the retry reuses its name)
    }
    if (isDiskFullError(err)) return { full: full(err), removed };
    throw err;
  }
  seg.fd = fd;
  seg.fileSize = Math.max(SEGMENT_HEADER_BYTES, preallocateTo);
  return seg;
}

/** createSegment where a full disk is thrown (opening the WAL, installing a snapshot). */
function mustCreateSegment(fsl: FsLike, dir: string, firstIndex: number, generation: number): Segment {
  const made = createSegment(fsl, dir, firstIndex, generation);
  if (made instanceof Segment) return made;
  throw made.full;
}
