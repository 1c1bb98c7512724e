/**
 * Crash test: a child process appends to the WAL, changes the hard state and writes snapshots,
 * reporting each durable step; the parent SIGKILLs it at random moments, reopens everything and
 * checks that every reported step survived — entries in order, without duplicates or stale
 * bytes; a hard state never torn or older than reported; no half-written snapshot visible.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { recordingLog } from '../../src/log.ts';
import type { Entry } from '../../src/raft/types.ts';
import { openSnapshotStore, openWalStorage } from '../../src/storage/index.ts';
import { crashEntry } from './crash-model.ts';
import { sameEntries, tempDir } from './helpers.ts';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 50);
const WRITER = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Upper bound on a round's wait for the child to start (bounded waits everywhere). */
const START_TIMEOUT_MS = 60_000;

/**
 * How to start the writer. Start-up dominates a round, and `node --import tsx` spends most of it
 * compiling, so the writer is bundled once with esbuild (which tsx itself depends on) into a
 * plain .mjs; when esbuild cannot be loaded the test falls back to `node --import tsx`.
 */
async function writerArgs(outDir: string): Promise<string[]> {
  const name = 'esbuild';
  try {
    const esbuild = (await import(name)) as { buildSync(o: Record<string, unknown>): unknown };
    const outfile = path.join(outDir, 'crash-writer.mjs');
    esbuild.buildSync({
      entryPoints: [WRITER],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      logLevel: 'silent',
    });
    return [outfile];
  } catch {
    return ['--import', 'tsx', WRITER];
  }
}

/** Run one child; kill it `killAfterMs` after it is ready; resolve with the complete lines it printed. */
function runChild(args: readonly string[], dir: string, salt: number, killAfterMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args, dir, String(salt)], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let killTimer: NodeJS.Timeout | undefined;
    const startTimer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      if (killTimer === undefined && out.includes('\n')) {
        clearTimeout(startTimer);
        killTimer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(startTimer);
      clearTimeout(killTimer);
      if (signal !== 'SIGKILL') reject(new Error(`crash writer exited by itself (code ${code}, signal ${signal}): ${err}`));
      else resolve(out.split('\n').slice(0, -1)); // the last piece is an incomplete line (or '')
    });
  });
}

/** One lane: a directory whose child is killed and checked `rounds` times. */
async function lane(args: readonly string[], dir: string, rounds: number, laneSeed: number, saltBase: number): Promise<number> {
  /** index → [term, salt] of every entry reported durable (the writer only appends, never overwrites). */
  const reported = new Map<number, [number, number]>();
  let maxReported = 0;
  let lastTerm = 0;
  let lastVote = '';
  let lastSnap: { index: number; size: number; checksum: number } | null = null;
  let seed = laneSeed;
  for (let round = 0; round < rounds; round++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const killAfterMs = (seed >>> 8) % 60;
    const salt = saltBase + round;
    const lines = await runChild(args, dir, salt, killAfterMs);
    assert.match(lines[0] ?? '', /^ready \d+$/, `round ${round}: the child started`);
    for (const line of lines.slice(1)) {
      const [kind, a, b, c] = line.split(' ');
      if (kind === 'B') {
        for (let i = Number(a); i <= Number(b); i++) reported.set(i, [Number(c), salt]);
        maxReported = Math.max(maxReported, Number(b));
      } else if (kind === 'H') {
        lastTerm = Number(a);
        lastVote = b as string;
      } else if (kind === 'S') {
        lastSnap = { index: Number(a), size: Number(b), checksum: Number(c) };
      } else {
        assert.fail(`round ${round}: unexpected line ${line}`);
      }
    }

    const log = recordingLog();
    const wal = openWalStorage(path.join(dir, 'wal'), { segmentBytes: 8192, log });
    try {
      assert.ok(wal.lastIndex() >= maxReported, `round ${round}: last index ${wal.lastIndex()} < reported ${maxReported}`);
      const hs = wal.initialState().hardState;
      assert.ok(hs.term >= lastTerm, `round ${round}: hard state term ${hs.term} < reported ${lastTerm}`);
      if (hs.term === lastTerm) assert.equal(hs.vote, lastVote);
      const first = wal.firstIndex();
      const got = wal.entries(first, wal.lastIndex() + 1);
      assert.equal(got.length, wal.lastIndex() - first + 1);
      for (let k = 0; k < got.length; k++) {
        const e = got[k] as Entry;
        assert.equal(e.index, first + k, `round ${round}: entries out of order or duplicated`);
        const rep = reported.get(e.index);
        if (rep === undefined) continue; // durable but not yet reported when the child died
        assert.ok(
          sameEntries([e], [crashEntry(e.index, rep[0], rep[1])]),
          `round ${round}: entry ${e.index} differs from what was reported`,
        );
      }
      assert.ok(!log.records.some((r) => r.level === 'error'));
    } finally {
      wal.close();
    }
    const slog = recordingLog();
    const snaps = openSnapshotStore(path.join(dir, 'snap'), { log: slog });
    const latest = snaps.latest();
    assert.ok(!slog.records.some((r) => r.level === 'error'), `round ${round}: a visible snapshot failed verification`);
    assert.ok(!fs.readdirSync(path.join(dir, 'snap')).some((n) => n.endsWith('.tmp')), 'temp files are cleaned on open');
    if (lastSnap !== null) {
      assert.ok(latest !== null && latest.meta.index >= lastSnap.index, `round ${round}: the reported snapshot ${lastSnap.index} is gone`);
      if (latest.meta.index === lastSnap.index) {
        assert.equal(latest.size, lastSnap.size);
        assert.equal(latest.checksum, lastSnap.checksum);
      }
    }
    for (const s of snaps.list()) {
      let bytes = 0;
      for await (const chunk of snaps.read(s.meta.index)) bytes += chunk.length;
      assert.equal(bytes, s.size);
    }
  }
  return maxReported;
}

test(`kill -9 at random moments (${ROUNDS} rounds): every reported batch, hard state and snapshot survives`, async () => {
  const a = tempDir('graftd-crash-');
  const b = tempDir('graftd-crash-');
  const bin = tempDir('graftd-crash-bin-');
  try {
    const args = await writerArgs(bin.dir);
    // Two lanes in parallel: child start-up dominates a round, and it overlaps well.
    const half = Math.ceil(ROUNDS / 2);
    const [ra, rb] = await Promise.all([lane(args, a.dir, half, 42, 0), lane(args, b.dir, ROUNDS - half, 4242, 1000)]);
    assert.ok(ra > 0 && rb > 0, 'the children reported batches');
  } finally {
    a.cleanup();
    b.cleanup();
    bin.cleanup();
  }
});
