/**
 * Injected file-system faults: a failed write or fsync puts the WAL into a permanent failed
 * state (StorageFailedError on every later write), and what was acknowledged before survives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageFailedError } from '../../src/errors.ts';
import { recordingLog, silentLog } from '../../src/log.ts';
import type { FsLike } from '../../src/storage/index.ts';
import { openWalStorage } from '../../src/storage/index.ts';
import { entries, faultyFs, sameEntries, tempDir } from './helpers.ts';

/** Faults to inject: which call fails, with which errno, and which save triggers it. */
const CASES: { call: keyof FsLike; code: string; what: string }[] = [
  // A full disk is not permanent (disk-full.test.ts); an I/O error on a write is.
  { call: 'writeSync', code: 'EIO', what: 'I/O error on append' },
  { call: 'fdatasyncSync', code: 'EIO', what: 'I/O error on fsync' },
  { call: 'fsyncSync', code: 'EIO', what: 'I/O error on the hard state fsync' },
  { call: 'renameSync', code: 'EACCES', what: 'permission denied replacing the hard state' },
  { call: 'openSync', code: 'EACCES', what: 'cannot open the next segment' },
];

for (const c of CASES) {
  test(`${c.what} → StorageFailedError, and the store stays failed`, () => {
    const { dir, cleanup } = tempDir();
    let armed = false;
    const fsl = faultyFs((call) => (armed && call === c.call ? c.code : null));
    const log = recordingLog();
    const s = openWalStorage(dir, { fs: fsl, segmentBytes: 512, log });
    try {
      s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 10, 1, 20));
      assert.equal(s.failed(), null);
      armed = true;
      // A term change exercises the hard state file; the entries fill the segment so it rotates.
      let err: unknown = null;
      try {
        s.save({ term: 2, vote: 'b', commit: 5 }, entries(11, 40, 2, 20));
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof StorageFailedError, `expected StorageFailedError, got ${String(err)}`);
      assert.equal(err.code, 'GRAFTD_STORAGE_FAILED');
      assert.match(err.message, new RegExp(c.code));
      assert.equal(s.failed(), err);
      assert.ok(log.records.some((r) => r.level === 'error'));
      // Even after the fault clears, every write is refused with the same error.
      armed = false;
      assert.throws(
        () => s.save(null, entries(11, 11, 2)),
        (e: unknown) => e === err,
      );
      assert.throws(
        () => s.save({ term: 3, vote: '', commit: 5 }, []),
        (e: unknown) => e === err,
      );
      assert.throws(
        () => s.compact(1),
        (e: unknown) => e === err,
      );
      assert.throws(
        () => s.createSnapshot({ index: 5, term: 1, confState: { voters: [], learners: [], context: {} } }),
        (e: unknown) => e === err,
      );
      assert.throws(
        () => s.applySnapshot({ index: 50, term: 3, confState: { voters: [], learners: [], context: {} } }),
        (e: unknown) => e === err,
      );
      // What was acknowledged before the fault is still readable, now and after a restart.
      assert.ok(sameEntries(s.entries(1, 11), entries(1, 10, 1, 20)));
      s.close();
      const again = openWalStorage(dir, { segmentBytes: 512, log: silentLog });
      assert.ok(again.lastIndex() >= 10);
      assert.ok(sameEntries(again.entries(1, 11), entries(1, 10, 1, 20)));
      assert.ok(again.initialState().hardState.term >= 1);
      again.close();
    } finally {
      s.close();
      cleanup();
    }
  });
}

test('a short write that returns 0 bytes is a failure, not a silent loss', () => {
  const { dir, cleanup } = tempDir();
  let armed = false;
  const base = faultyFs(() => null);
  const fsl: FsLike = { ...base, writeSync: (fd, buf, off, len, pos) => (armed ? 0 : base.writeSync(fd, buf, off, len, pos)) };
  const s = openWalStorage(dir, { fs: fsl });
  try {
    s.save(null, entries(1, 3, 1));
    armed = true;
    assert.throws(() => s.save(null, entries(4, 5, 1)), StorageFailedError);
    assert.ok(s.failed() instanceof StorageFailedError);
    assert.equal(s.lastIndex(), 3, 'the in-memory log does not advance past what was persisted');
  } finally {
    s.close();
    cleanup();
  }
});

test('a data directory that cannot be read fails the open with StorageFailedError', () => {
  const { dir, cleanup } = tempDir();
  try {
    openWalStorage(dir).close();
    const fsl = faultyFs((call) => (call === 'readdirSync' ? 'EACCES' : null));
    assert.throws(() => openWalStorage(dir, { fs: fsl }), StorageFailedError);
  } finally {
    cleanup();
  }
});

test('disk full halfway through a batch: the half-written records are a torn tail on the next open', () => {
  const { dir, cleanup } = tempDir();
  let armed = false;
  const base = faultyFs(() => null);
  const fsl: FsLike = {
    ...base,
    writeSync: (fd, buf, off, len, pos) => {
      if (!armed) return base.writeSync(fd, buf, off, len, pos);
      armed = false;
      // 5 of the 10 records (76 bytes each) and 7 bytes of the sixth reach the disk.
      base.writeSync(fd, buf, off, 5 * 76 + 7, pos);
      const err = new Error('ENOSPC: no space left on device, write') as NodeJS.ErrnoException;
      err.code = 'ENOSPC';
      throw err;
    },
  };
  const s = openWalStorage(dir, { fs: fsl });
  try {
    s.save({ term: 1, vote: '', commit: 0 }, entries(1, 10, 1, 50));
    armed = true;
    assert.throws(() => s.save(null, entries(11, 20, 1, 50)), StorageFailedError);
    s.close();
    const log = recordingLog();
    const again = openWalStorage(dir, { log });
    assert.equal(again.lastIndex(), 15, 'the complete records of the half batch may survive (never acknowledged, harmless)');
    assert.ok(sameEntries(again.entries(1, 16), entries(1, 15, 1, 50)));
    assert.ok(log.records.some((r) => r.level === 'warn' && r.msg.includes('torn tail')));
    again.close();
  } finally {
    s.close();
    cleanup();
  }
});
