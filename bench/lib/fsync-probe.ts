/**
 * How long one fdatasync takes on the disk the benchmark's data directories live on, measured
 * before the load starts (while the machine is not busy with a cluster) and printed beside the
 * results.
 *
 * Why: issue 15's single-client write goal is stated against the disk ("write p50 ≤ 3 × the
 * measured fdatasync"), so the figure must come from the same disk in the same run. Two variants:
 * a small record written into preallocated space that was zero-filled and synced beforehand (what
 * graftd's WAL does, so the sync flushes data only), and an append that grows the file (the sync
 * also flushes the size change). Bounded by a count and a time budget, so a slow disk cannot make
 * the probe itself a long run.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LatencyRecorder } from './stats.ts';

export interface SyncStats {
  /** Syncs measured (fewer than asked when the time budget ran out). */
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
}

export interface FsyncProbeResult {
  /** The directory the probe's files were written in (a temp dir under it, removed afterwards). */
  readonly dir: string;
  /** File system type of `dir` (statfs magic, named when known). */
  readonly fsType: string;
  readonly recordBytes: number;
  /** write + fdatasync of a record inside preallocated, already-synced space (the WAL's case). */
  readonly preallocated: SyncStats;
  /** write + fdatasync of a record appended at the end of the file (the file grows each time). */
  readonly append: SyncStats;
  /** Wall time of the whole probe. */
  readonly elapsedMs: number;
}

export interface FsyncProbeOptions {
  /** Parent directory: a temp dir is made under it and removed afterwards. */
  readonly dir: string;
  /** Syncs per variant (default 200). */
  readonly count?: number;
  /** Bytes per record (default 200). */
  readonly recordBytes?: number;
  /** Preallocated file size (default 1 MiB, like the WAL's reserve); must hold count × recordBytes. */
  readonly preallocBytes?: number;
  /** Stop a variant once it has used this much time, whatever its count (default 400 ms per variant). */
  readonly budgetMsPerVariant?: number;
}

/** statfs f_type values of the file systems this may run on. */
const FS_TYPES: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext2/3/4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x01021994, 'tmpfs'],
  [0x794c7630, 'overlayfs'],
  [0x2fc12fc1, 'zfs'],
  [0xf2f52010, 'f2fs'],
  [0x6969, 'nfs'],
  [0x65735546, 'fuse'],
]);

function fsTypeOf(dir: string): string {
  try {
    const type = statfsSync(dir).type;
    return FS_TYPES.get(type) ?? `statfs type 0x${type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

/** Time `count` write + fdatasync pairs, `writeAt(i)` doing the write; stops early at `budgetMs`. */
function timeSyncs(fd: number, count: number, budgetMs: number, writeAt: (i: number) => void): SyncStats {
  const rec = new LatencyRecorder(count);
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    if (t0 - start > budgetMs) break;
    writeAt(i);
    fdatasyncSync(fd);
    rec.record(performance.now() - t0);
  }
  return { count: rec.sampleCount, p50Ms: rec.percentile(50), p90Ms: rec.percentile(90), p99Ms: rec.percentile(99) };
}

/** Measure both variants in a fresh temp dir under `opts.dir` (synchronous: nothing else should run meanwhile). */
export function probeFdatasync(opts: FsyncProbeOptions): FsyncProbeResult {
  const count = opts.count ?? 200;
  const recordBytes = opts.recordBytes ?? 200;
  const preallocBytes = opts.preallocBytes ?? 1024 * 1024;
  const budgetMs = opts.budgetMsPerVariant ?? 400;
  if (count * recordBytes > preallocBytes)
    throw new Error(`fsync probe: ${count} records of ${recordBytes} bytes do not fit in ${preallocBytes} preallocated bytes`);
  const started = performance.now();
  const tmp = mkdtempSync(join(opts.dir, 'graftd-fsync-probe-'));
  const record = Buffer.alloc(recordBytes, 0x61);
  try {
    // Preallocated: zeros written and synced first, then records overwrite them in order.
    const pre = openSync(join(tmp, 'prealloc'), 'w');
    let preallocated: SyncStats;
    try {
      const zeros = Buffer.alloc(64 * 1024);
      for (let off = 0; off < preallocBytes; off += zeros.length)
        writeSync(pre, zeros, 0, Math.min(zeros.length, preallocBytes - off), off);
      fdatasyncSync(pre);
      preallocated = timeSyncs(pre, count, budgetMs, (i) => writeSync(pre, record, 0, recordBytes, i * recordBytes));
    } finally {
      closeSync(pre);
    }
    // Growing: every record extends the file.
    const app = openSync(join(tmp, 'append'), 'a');
    let append: SyncStats;
    try {
      append = timeSyncs(app, count, budgetMs, () => writeSync(app, record));
    } finally {
      closeSync(app);
    }
    return { dir: opts.dir, fsType: fsTypeOf(tmp), recordBytes, preallocated, append, elapsedMs: performance.now() - started };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const ms = (n: number): string => (Number.isNaN(n) ? '-' : n < 1 ? n.toFixed(3) : n.toFixed(2));

/** One line describing the probe, for the header and the summary. */
export function fsyncProbeLine(r: FsyncProbeResult): string {
  const stats = (s: SyncStats) => `p50 ${ms(s.p50Ms)} / p90 ${ms(s.p90Ms)} / p99 ${ms(s.p99Ms)} ms (${s.count}×)`;
  const warn = r.fsType === 'tmpfs' ? ' — tmpfs: nothing reaches a disk here, the goal is meaningless' : '';
  return (
    `fdatasync on ${r.dir} (${r.fsType}), ${r.recordBytes}-byte record: into preallocated space ${stats(r.preallocated)}; ` +
    `appending (file grows) ${stats(r.append)}${warn}`
  );
}

/**
 * The single-client write against the disk, e.g.
 * `write c=1 p50 1.48 ms = 9.2 × fdatasync p50 0.16 ms (goal ≤ 3×)`; `label` goes after "write c=1"
 * (a value size), `extra` inside the parentheses (etcd's figure).
 */
export function fsyncGoalLine(writeP50Ms: number, fsyncP50Ms: number, label = '', extra = ''): string {
  const times = writeP50Ms / fsyncP50Ms;
  const verdict = Number.isFinite(times) ? (times <= 3 ? 'met' : 'not met') : 'unknown';
  return (
    `write c=1${label === '' ? '' : ` ${label}`} p50 ${ms(writeP50Ms)} ms = ${Number.isFinite(times) ? times.toFixed(1) : '-'} × ` +
    `fdatasync p50 ${ms(fsyncP50Ms)} ms (goal ≤ 3×: ${verdict}${extra === '' ? '' : `; ${extra}`})`
  );
}
