/**
 * WAL benchmark: append throughput of 100-byte entries at batch sizes 1, 16 and 256 (every batch
 * fsynced, as in production), and the time to reopen (recover) a log of 1M entries.
 *
 * Why these numbers: a batch is what the runtime persists per loop turn, so entries/s at batch
 * 256 is the ceiling for write throughput under load, batch 1 is the latency floor, and reopen
 * time is how long a restarted node is unavailable. Run: `npm run bench:wal` (BENCH_DIR picks the disk).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Entry } from '../src/raft/types.ts';
import { type FsLike, nodeFs, openWalStorage } from '../src/storage/index.ts';

const ENTRY_BYTES = 100;
/** Each measurement stops after this long even if its batch count is not reached. */
const TIME_BUDGET_MS = Number(process.env.BENCH_BUDGET_MS ?? 5000);
const baseDir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'graftd-wal-bench-'));

function makeBatch(first: number, n: number, term: number, payload: Uint8Array): Entry[] {
  const out: Entry[] = new Array(n);
  for (let k = 0; k < n; k++) out[k] = { index: first + k, term, type: 'normal', data: payload };
  return out;
}

/** The file system with fdatasync turned into a no-op: measures the WAL's own CPU cost (not a production mode). */
const noSyncFs: FsLike = { ...nodeFs, fdatasyncSync: () => {} };

function appendBench(
  batch: number,
  totalEntries: number,
  fsl: FsLike = nodeFs,
): { entriesPerSec: number; mbPerSec: number; fsyncsPerSec: number } {
  const dir = path.join(baseDir, `append-${batch}`);
  const wal = openWalStorage(dir, { fs: fsl });
  const payload = new Uint8Array(ENTRY_BYTES).fill(0x61);
  const batches = Math.ceil(totalEntries / batch);
  // Warm up (JIT, page cache, first segment) before timing.
  for (let b = 0; b < Math.min(50, batches); b++) wal.save(null, makeBatch(wal.lastIndex() + 1, batch, 1, payload));
  const start = performance.now();
  let done = 0;
  // Stops early after TIME_BUDGET_MS so that a slow disk does not make the run drag on.
  while (done < batches && (done % 16 !== 0 || performance.now() - start < TIME_BUDGET_MS)) {
    const first = wal.lastIndex() + 1;
    wal.save({ term: 1, vote: 'n1', commit: first - 1 }, makeBatch(first, batch, 1, payload));
    done++;
  }
  const sec = (performance.now() - start) / 1000;
  wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const n = done * batch;
  return { entriesPerSec: n / sec, mbPerSec: (n * ENTRY_BYTES) / sec / 1e6, fsyncsPerSec: done / sec };
}

/** The disk's own ceiling: the same bytes per batch written with plain writeSync + fdatasyncSync. */
function rawFsyncBench(batch: number, batches: number): { entriesPerSec: number; fsyncsPerSec: number } {
  const file = path.join(baseDir, 'raw.bin');
  const fd = fs.openSync(file, 'w');
  const buf = Buffer.alloc(batch * (ENTRY_BYTES + 26) + 17, 1);
  let pos = 0;
  const start = performance.now();
  let done = 0;
  while (done < batches && (done % 16 !== 0 || performance.now() - start < TIME_BUDGET_MS)) {
    fs.writeSync(fd, buf, 0, buf.length, pos);
    pos += buf.length;
    fs.fdatasyncSync(fd);
    done++;
  }
  const sec = (performance.now() - start) / 1000;
  fs.closeSync(fd);
  fs.rmSync(file);
  return { entriesPerSec: (done * batch) / sec, fsyncsPerSec: done / sec };
}

function reopenBench(entries: number): { writeSec: number; reopenMs: number; segments: number; bytes: number; firstReadMs: number } {
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
  const t1 = performance.now();
  wal = openWalStorage(dir);
  const reopenMs = performance.now() - t1;
  if (wal.lastIndex() !== entries) throw new Error(`reopened log ends at ${wal.lastIndex()}, expected ${entries}`);
  const t2 = performance.now();
  const got = wal.entries(entries - 999, entries + 1);
  const firstReadMs = performance.now() - t2;
  if (got.length !== 1000) throw new Error('read back failed');
  wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { writeSec, reopenMs, segments: files.length, bytes, firstReadMs };
}

try {
  console.log(`WAL benchmark: ${ENTRY_BYTES}-byte entries, fsync per batch, dir ${baseDir}`);
  for (const [batch, total] of [
    [1, 5_000],
    [16, 64_000],
    [256, 512_000],
  ] as const) {
    const r = appendBench(batch, total);
    console.log(
      `append batch=${String(batch).padStart(3)}: ${Math.round(r.entriesPerSec).toLocaleString('en-US').padStart(10)} entries/s  ${r.mbPerSec.toFixed(1).padStart(6)} MB/s  ${Math.round(r.fsyncsPerSec).toLocaleString('en-US')} fsyncs/s`,
    );
  }
  for (const batch of [1, 256]) {
    const raw = rawFsyncBench(batch, batch === 1 ? 2000 : 1000);
    console.log(
      `  disk baseline (plain write + fdatasync, same bytes) batch=${String(batch).padStart(3)}: ${Math.round(raw.entriesPerSec).toLocaleString('en-US')} entries/s, ${Math.round(raw.fsyncsPerSec).toLocaleString('en-US')} fsyncs/s`,
    );
  }
  const cpu = appendBench(256, 1_024_000, noSyncFs);
  console.log(
    `  WAL CPU ceiling (fdatasync disabled) batch=256: ${Math.round(cpu.entriesPerSec).toLocaleString('en-US')} entries/s, ${cpu.mbPerSec.toFixed(0)} MB/s`,
  );
  const entries = Number(process.env.REOPEN_ENTRIES ?? 1_000_000);
  const r = reopenBench(entries);
  console.log(
    `reopen ${entries.toLocaleString('en-US')} entries (${(r.bytes / 1e6).toFixed(0)} MB in ${r.segments} segments): ${r.reopenMs.toFixed(0)} ms (written in ${r.writeSec.toFixed(1)} s; reading the last 1000 entries afterwards: ${r.firstReadMs.toFixed(1)} ms)`,
  );
} finally {
  fs.rmSync(baseDir, { recursive: true, force: true });
}
