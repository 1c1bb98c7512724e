/**
 * WAL operations at the file level: segment rotation and naming, suffix truncation and prefix
 * compaction across segment boundaries (then reopen), installing a snapshot, and the hard state
 * file being rewritten only when term or vote change (the commit index rides in the WAL).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { silentLog } from '../../src/log.ts';
import { crc32, crc32Fallback, crc32Range } from '../../src/storage/crc.ts';
import { openWalStorage } from '../../src/storage/index.ts';
import { entries, faultyFs, sameEntries, tempDir } from './helpers.ts';

const walFiles = (dir: string): string[] =>
  fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();

test('segments rotate at segmentBytes and are named by their first index', () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = openWalStorage(dir, { segmentBytes: 1024, log: silentLog });
    for (let i = 1; i <= 200; i += 10) s.save(null, entries(i, i + 9, 1, 30));
    s.close();
    const files = walFiles(dir);
    assert.ok(files.length >= 5, `expected several segments, got ${files.join(', ')}`);
    assert.equal(files[0], '0000000000000001.wal');
    for (const [k, f] of files.entries()) {
      const first = Number(f.slice(0, 16));
      assert.equal((first - 1) % 10, 0, 'a batch is never split across segments');
      // The active (last) segment also holds its preallocated zeros: reserve + one step, each ≤ segmentBytes.
      const slack = k === files.length - 1 ? 2 * 1024 : 0;
      assert.ok(fs.statSync(path.join(dir, f)).size < 1024 + 10 * 60 + slack, 'a segment exceeds segmentBytes by at most one batch');
    }
  } finally {
    cleanup();
  }
});

test('suffix truncation reaching back over several segments, then reopen', () => {
  const { dir, cleanup } = tempDir();
  try {
    let s = openWalStorage(dir, { segmentBytes: 1024, cacheEntries: 4, log: silentLog });
    for (let i = 1; i <= 300; i += 20) s.save(null, entries(i, i + 19, 1, 20));
    const before = walFiles(dir);
    // Conflict at 45: everything from 45 on is replaced by term-2 entries.
    s.save(null, entries(45, 50, 2, 7));
    const after = walFiles(dir);
    assert.ok(after.length < before.length, 'segments after the truncation point are deleted');
    assert.ok(after.every((f) => Number(f.slice(0, 16)) <= 45));
    assert.equal(s.lastIndex(), 50);
    for (let i = 51; i <= 120; i += 10) s.save(null, entries(i, i + 9, 2, 20));
    // Truncate exactly at a segment's first index.
    const segStart = Number((walFiles(dir).at(-1) as string).slice(0, 16));
    assert.ok(segStart > 50);
    s.save(null, entries(segStart, segStart + 2, 3, 1));
    s.close();
    s = openWalStorage(dir, { segmentBytes: 1024, cacheEntries: 4, log: silentLog });
    assert.equal(s.lastIndex(), segStart + 2);
    const expected = [
      ...entries(1, 44, 1, 20),
      ...entries(45, 50, 2, 7),
      ...entries(51, segStart - 1, 2, 20),
      ...entries(segStart, segStart + 2, 3, 1),
    ];
    assert.ok(sameEntries(s.entries(1, segStart + 3), expected));
    s.close();
  } finally {
    cleanup();
  }
});

test('prefix compaction deletes whole segments only, keeps the compaction term, survives reopen', () => {
  const { dir, cleanup } = tempDir();
  try {
    let s = openWalStorage(dir, { segmentBytes: 1024, log: silentLog });
    for (let i = 1; i <= 300; i += 10)
      s.save({ term: 1 + Math.floor(i / 100), vote: '', commit: i - 1 }, entries(i, i + 9, 1 + Math.floor(i / 100), 30));
    const segs = walFiles(dir).map((f) => Number(f.slice(0, 16)));
    const third = segs[2] as number;
    // Compact to just inside the third segment: the first two go, the third stays (it holds live entries).
    s.createSnapshot({ index: third + 3, term: s.term(third + 3), confState: { voters: ['a'], learners: [], context: {} } });
    s.compact(third + 3);
    assert.deepEqual(
      walFiles(dir).map((f) => Number(f.slice(0, 16))),
      segs.slice(2),
    );
    assert.equal(s.firstIndex(), third + 4);
    const t = s.term(third + 3);
    s.close();
    s = openWalStorage(dir, { segmentBytes: 1024, log: silentLog });
    assert.equal(s.firstIndex(), third + 4);
    assert.equal(s.term(third + 3), t);
    assert.throws(() => s.term(third + 2), /compacted/);
    assert.equal(s.lastIndex(), 300);
    assert.equal(s.initialState().hardState.commit, 290);
    assert.deepEqual(s.initialState().confState.voters, ['a']);
    // Compaction and truncation together: truncate right after the compaction point.
    s.save(null, entries(third + 4, third + 6, 9, 2));
    s.close();
    s = openWalStorage(dir, { segmentBytes: 1024, log: silentLog });
    assert.equal(s.lastIndex(), third + 6);
    assert.ok(sameEntries(s.entries(third + 4, third + 7), entries(third + 4, third + 6, 9, 2)));
    s.close();
  } finally {
    cleanup();
  }
});

test('installing a snapshot replaces the log; segments of the old log are void even if they survive a crash', () => {
  const { dir, cleanup } = tempDir();
  try {
    let s = openWalStorage(dir, { segmentBytes: 1024, log: silentLog });
    s.save(null, entries(1, 100, 1, 30));
    const oldSegments = walFiles(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))] as const);
    s.applySnapshot({ index: 60, term: 4, confState: { voters: ['x'], learners: [], context: {} } });
    s.save(null, entries(61, 65, 4, 3));
    s.close();
    // Pretend the unlinks of the old segments were lost in a crash: put them back (except a name clash).
    for (const [f, bytes] of oldSegments) if (!fs.existsSync(path.join(dir, f))) fs.writeFileSync(path.join(dir, f), bytes);
    s = openWalStorage(dir, { segmentBytes: 1024, log: silentLog });
    assert.equal(s.firstIndex(), 61);
    assert.equal(s.lastIndex(), 65);
    assert.equal(s.term(60), 4);
    assert.ok(sameEntries(s.entries(61, 66), entries(61, 65, 4, 3)));
    assert.ok(s.initialState().hardState.commit >= 60, 'a snapshot is committed');
    s.close();
    assert.deepEqual(walFiles(dir), ['0000000000000061.wal'], 'the void segments are removed on open');
  } finally {
    cleanup();
  }
});

test('the hard state file is replaced only when term or vote change; commit comes from the WAL, clamped to the log', () => {
  const { dir, cleanup } = tempDir();
  try {
    let renames = 0;
    const fsl = faultyFs((call) => {
      if (call === 'renameSync') renames++;
      return null;
    });
    let s = openWalStorage(dir, { fs: fsl, log: silentLog });
    s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 10, 1));
    assert.equal(renames, 1);
    for (let c = 1; c <= 10; c++) s.save({ term: 1, vote: 'a', commit: c }, []);
    s.save({ term: 1, vote: 'a', commit: 10 }, entries(11, 12, 1));
    assert.equal(renames, 1, 'commit-only changes do not rewrite the hard state file');
    s.save({ term: 2, vote: '', commit: 10 }, []);
    s.save({ term: 2, vote: 'b', commit: 10 }, []);
    assert.equal(renames, 3);
    s.close();
    s = openWalStorage(dir, { log: silentLog });
    assert.deepEqual(s.initialState().hardState, { term: 2, vote: 'b', commit: 10 });
    // A commit index beyond the log (the entries were lost) is clamped to the last index.
    s.save({ term: 2, vote: 'b', commit: 40 }, []);
    s.close();
    s = openWalStorage(dir, { log: silentLog });
    assert.equal(s.initialState().hardState.commit, 12);
    assert.equal(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')).length, 0);
    s.close();
  } finally {
    cleanup();
  }
});

test('the pure-JS CRC-32 fallback agrees with node:zlib', () => {
  for (const len of [0, 1, 7, 8, 9, 64, 1000, 5000]) {
    const data = entries(1, 1, 1, len)[0]?.data as Uint8Array;
    assert.equal(crc32Fallback(data), crc32(data));
    assert.equal(crc32Fallback(data.subarray(len >> 1), crc32Fallback(data.subarray(0, len >> 1))), crc32(data));
  }
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926, 'the standard CRC-32 check value');
  assert.equal(crc32Fallback(Buffer.from('123456789')), 0xcbf43926);
  const big = entries(1, 1, 1, 4096)[0]?.data as Uint8Array;
  assert.equal(crc32Range(big, 100, 3000), zlib.crc32(big.subarray(100, 3000)), 'native path for large ranges');
  assert.equal(crc32Range(big, 100, 200), zlib.crc32(big.subarray(100, 200)), 'JS path for small ranges');
});

test('group commit: a steady-state save is one write and one fdatasync (preallocation is amortised)', () => {
  const { dir, cleanup } = tempDir();
  try {
    const counts = new Map<string, number>();
    const fsl = faultyFs((call) => {
      counts.set(call, (counts.get(call) ?? 0) + 1);
      return null;
    });
    const s = openWalStorage(dir, { fs: fsl, log: silentLog });
    s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 5, 1, 100));
    counts.clear();
    for (let i = 6; i <= 505; i += 5) s.save({ term: 1, vote: 'a', commit: i - 1 }, entries(i, i + 4, 1, 100));
    assert.equal(counts.get('fdatasyncSync'), 100);
    assert.equal(counts.get('writeSync'), 100, 'no zero-filling once the space is preallocated');
    assert.equal(counts.get('fsyncSync') ?? 0, 0);
    assert.equal(counts.get('renameSync') ?? 0, 0);
    s.close();
  } finally {
    cleanup();
  }
});
