/**
 * WAL benchmark: append throughput of 100-byte entries at batch sizes 1, 16 and 256 (every batch
 * fsynced, as in production), and the time to reopen (recover) a log of 1M entries.
 *
 * Why these numbers: a batch is what the runtime persists per loop turn, so entries/s at batch
 * 256 is the ceiling for write throughput under load, batch 1 is the latency floor, and reopen
 * time is how long a restarted node is unavailable.
 *
 * fsync latency dominates and varies a lot on shared machines, so each WAL measurement is
 * interleaved, slice by slice, with a baseline that writes the same bytes with a plain
 * writeSync + fdatasyncSync on a preallocated file: both see the same disk conditions, and the
 * ratio shows the WAL's own overhead. Run: `npm run bench:wal` (BENCH_DIR picks the disk,
 * BENCH_BUDGET_MS bounds each measurement, REOPEN_ENTRIES sizes the reopen test).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Entry } from '../src/raft/types.ts';
import { type FsLike, type WalStorage, nodeFs, openWalStorage } from '../src/storage/index.ts';

const ENTRY_BYTES = 100;
/** Wall-clock budget of one append measurement (WAL and baseline slices together). */
const TIME_BUDGET_MS = Number(process.env.BENCH_BUDGET_MS ?? 6000);
const SLICE_MS = 100;
const baseDir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'graftd-wal-bench-'));

function makeBatch(first: number, n: number, term: number, payload: Uint8Array): Entry[] {
  const out: Entry[] = new Array(n);
  for (let k = 0; k < n; k++) out[k] = { index: first + k, term, type: 'normal', data: payload };
  return out;
}

/** The file system with fdatasync turned into a no-op: measures the WAL's own CPU cost (not a production mode). */
const noSyncFs: FsLike = { ...nodeFs, fdatasyncSync: () => {} };

interface Rate {
  entriesPerSec: number;
  mbPerSec: number;
  fsyncsPerSec: number;
}

const rate = (batches: number, batch: number, ms: number): Rate => ({
  entriesPerSec: (batches * batch) / (ms / 1000),
  mbPerSec: (batches * batch * ENTRY_BYTES) / (ms / 1000) / 1e6,
  fsyncsPerSec: batches / (ms / 1000),
});

/** One WAL append of `batch` entries (with a commit index update, as the runtime does). */
function walAppend(wal: WalStorage, batch: number, payload: Uint8Array): void {
  const first = wal.lastIndex() + 1;
  wal.save({ term: 1, vote: 'n1', commit: first - 1 }, makeBatch(first, batch, 1, payload));
}

/** saveAsync appends of `batch` entries, each awaited, with the fdatasync forced onto the thread pool (the node's path on a slow disk). */
async function asyncAppendBench(batch: number): Promise<Rate> {
  const dir = path.join(baseDir, `async-${batch}`);
  const wal = openWalStorage(dir, { inlineSyncBelowMs: 0 });
  const payload = new Uint8Array(ENTRY_BYTES).fill(0x61);
  const save = (): Promise<void> | null => {
    const first = wal.lastIndex() + 1;
    return wal.saveAsync({ term: 1, vote: 'n1', commit: first - 1 }, makeBatch(first, batch, 1, payload));
  };
  for (let b = 0; b < 20; b++) await save();
  let batches = 0;
  const t = performance.now();
  const end = t + TIME_BUDGET_MS / 2;
  while (performance.now() < end) {
    await save();
    batches++;
  }
  const ms = performance.now() - t;
  wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate(batches, batch, ms);
}

/** Commit-only saves (the commit index moved, no entries): no write, no fdatasync (MustSync). */
function commitOnlyBench(): number {
  const dir = path.join(baseDir, 'commit-only');
  const wal = openWalStorage(dir);
  const payload = new Uint8Array(ENTRY_BYTES).fill(0x61);
  wal.save({ term: 1, vote: 'n1', commit: 0 }, makeBatch(1, 1000, 1, payload));
  const n = 100_000;
  const t = performance.now();
  for (let c = 1; c <= n; c++) wal.save({ term: 1, vote: 'n1', commit: 1 + (c % 999) }, []);
  const ms = performance.now() - t;
  wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return n / (ms / 1000);
}

/** WAL appends interleaved with the raw baseline, SLICE_MS at a time, until the budget is spent. */
function appendBench(batch: number, fsl: FsLike = nodeFs): { wal: Rate; raw: Rate | null } {
  const dir = path.join(baseDir, `append-${batch}`);
  const wal = openWalStorage(dir, { fs: fsl });
  const payload = new Uint8Array(ENTRY_BYTES).fill(0x61);
  const rawFile = path.join(baseDir, `raw-${batch}.bin`);
  const fd = fs.openSync(rawFile, 'w+');
  const rawBuf = Buffer.alloc(batch * (ENTRY_BYTES + 26) + 17, 1);
  const rawBytes = 64 * 1024 * 1024;
  fs.writeSync(fd, Buffer.alloc(rawBytes), 0, rawBytes, 0); // preallocated, like the WAL's active segment
  fs.fsyncSync(fd);
  let rawPos = 0;
  for (let b = 0; b < 20; b++) walAppend(wal, batch, payload); // warm-up (JIT, first extension)
  let walMs = 0;
  let walBatches = 0;
  let rawMs = 0;
  let rawBatches = 0;
  const withBaseline = fsl === nodeFs;
  const end = performance.now() + TIME_BUDGET_MS;
  while (performance.now() < end) {
    let t = performance.now();
    const sliceEnd = t + SLICE_MS;
    do {
      walAppend(wal, batch, payload);
      walBatches++;
    } while (performance.now() < sliceEnd);
    walMs += performance.now() - t;
    if (!withBaseline) continue;
    t = performance.now();
    const rawEnd = t + SLICE_MS;
    do {
      if (rawPos + rawBuf.length > rawBytes) rawPos = 0;
      fs.writeSync(fd, rawBuf, 0, rawBuf.length, rawPos);
      rawPos += rawBuf.length;
      fs.fdatasyncSync(fd);
      rawBatches++;
    } while (performance.now() < rawEnd);
    rawMs += performance.now() - t;
  }
  wal.close();
  fs.closeSync(fd);
  fs.rmSync(rawFile);
  fs.rmSync(dir, { recursive: true, force: true });
  return { wal: rate(walBatches, batch, walMs), raw: withBaseline ? rate(rawBatches, batch, rawMs) : null };
}

function reopenBench(entries: number): {
  writeSec: number;
  reopenMs: number;
  reopenCpuMs: number;
  segments: number;
  bytes: number;
  readMs: number;
} {
  const dir = path.join(baseDir, 'reopen');
  const payload = new Uint8Array(ENTRY_BYTES).fill(0x62);
  let wal = openWalStorage(dir);
  const t0 = performance.now();
  for (let first = 1; first <= entries; first += 4096) {
    wal.save({ term: 1, vote: 'n1', commit: first - 1 }, makeBatch(first, Math.min(4096, entries - first + 1), 1, payload));
  }
  const writeSec = (performance.now() - t0) / 1000;
  wal.close();
  const files = fs.readdirSync(dir).filter((n) => n.endsWith('.wal'));
  const bytes = files.reduce((sum, n) => sum + fs.statSync(path.join(dir, n)).size, 0);
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  wal = openWalStorage(dir);
  const reopenMs = performance.now() - t1;
  const c = process.cpuUsage(c1);
  const reopenCpuMs = (c.user + c.system) / 1000;
  if (wal.lastIndex() !== entries) throw new Error(`reopened log ends at ${wal.lastIndex()}, expected ${entries}`);
  const t2 = performance.now();
  const got = wal.entries(entries - 999, entries + 1);
  const readMs = performance.now() - t2;
  if (got.length !== 1000) throw new Error('read back failed');
  wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { writeSec, reopenMs, reopenCpuMs, segments: files.length, bytes, readMs };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

try {
  console.log(`WAL benchmark: ${ENTRY_BYTES}-byte entries, one fdatasync per batch, dir ${baseDir}`);
  for (const batch of [1, 16, 256]) {
    const { wal, raw } = appendBench(batch);
    const base =
      raw === null ? '' : `   | disk baseline: ${fmt(raw.entriesPerSec).padStart(9)} entries/s, ${fmt(raw.fsyncsPerSec)} fsyncs/s`;
    console.log(
      `append batch=${String(batch).padStart(3)}: ${fmt(wal.entriesPerSec).padStart(9)} entries/s ${wal.mbPerSec.toFixed(1).padStart(6)} MB/s ${fmt(wal.fsyncsPerSec).padStart(6)} fsyncs/s${base}`,
    );
  }
  for (const batch of [1, 16]) {
    const a = await asyncAppendBench(batch);
    console.log(
      `saveAsync batch=${String(batch).padStart(3)}: ${fmt(a.entriesPerSec).padStart(9)} entries/s ${a.mbPerSec.toFixed(1).padStart(6)} MB/s ${fmt(a.fsyncsPerSec).padStart(6)} fsyncs/s (fdatasync on the thread pool)`,
    );
  }
  console.log(`commit-only saves (MustSync: no write, no fdatasync): ${fmt(commitOnlyBench())}/s`);
  const cpu = appendBench(256, noSyncFs).wal;
  console.log(`WAL CPU ceiling (fdatasync disabled) batch=256: ${fmt(cpu.entriesPerSec)} entries/s, ${cpu.mbPerSec.toFixed(0)} MB/s`);
  const entries = Number(process.env.REOPEN_ENTRIES ?? 1_000_000);
  const r = reopenBench(entries);
  console.log(
    `reopen ${fmt(entries)} entries (${(r.bytes / 1e6).toFixed(0)} MB in ${r.segments} segments): ${r.reopenMs.toFixed(0)} ms (CPU ${r.reopenCpuMs.toFixed(0)} ms)` +
      ` (written in ${r.writeSec.toFixed(1)} s; then reading the last 1000 entries from disk: ${r.readMs.toFixed(1)} ms)`,
  );
} finally {
  fs.rmSync(baseDir, { recursive: true, force: true });
}
