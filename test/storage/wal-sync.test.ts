/**
 * When the WAL syncs: a commit-only save never fdatasyncs (raft's MustSync) and its commit index
 * becomes durable with the next batch (or on close); saveAsync writes at once, resolves only after
 * its fdatasync, and a failed asynchronous fdatasync fails the store like a synchronous one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageFailedError } from '../../src/errors.ts';
import { silentLog } from '../../src/log.ts';
import type { FsLike } from '../../src/storage/index.ts';
import { openWalStorage } from '../../src/storage/index.ts';
import { entries, faultyFs, sameEntries, tempDir } from './helpers.ts';

function countingFs(): { fsl: FsLike; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const fsl = faultyFs((call) => {
    counts.set(call, (counts.get(call) ?? 0) + 1);
    return null;
  });
  return { fsl, counts };
}

test('a commit-only save does not write or sync; the commit index rides with the next batch', () => {
  const { dir, cleanup } = tempDir();
  try {
    const { fsl, counts } = countingFs();
    const s = openWalStorage(dir, { fs: fsl, log: silentLog });
    s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 10, 1));
    counts.clear();
    for (let c = 1; c <= 8; c++) s.save({ term: 1, vote: 'a', commit: c }, []);
    assert.equal(counts.size, 0, `no file-system call for commit-only saves, got ${[...counts.keys()].join(', ')}`);
    assert.equal(s.saveAsync({ term: 1, vote: 'a', commit: 9 }, []), null, 'nothing to wait for');
    // A crash now (the store is not closed; a second instance reads the files) loses only the commit index.
    const crashed = openWalStorage(dir, { log: silentLog });
    assert.equal(crashed.lastIndex(), 10);
    assert.equal(crashed.initialState().hardState.commit, 0);
    crashed.close();
    // The next batch carries it: one write, one fdatasync.
    s.save({ term: 1, vote: 'a', commit: 9 }, entries(11, 12, 1));
    assert.equal(counts.get('writeSync'), 1);
    assert.equal(counts.get('fdatasyncSync'), 1);
    const after = openWalStorage(dir, { log: silentLog });
    assert.equal(after.initialState().hardState.commit, 9);
    after.close();
    // A clean close records a commit index that is still pending.
    s.save({ term: 1, vote: 'a', commit: 12 }, []);
    s.close();
    const reopened = openWalStorage(dir, { log: silentLog });
    assert.equal(reopened.initialState().hardState.commit, 12);
    reopened.close();
  } finally {
    cleanup();
  }
});

test('saveAsync: entries are readable at once and durable when the promise resolves (one write, one fdatasync)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { fsl, counts } = countingFs();
    const s = openWalStorage(dir, { fs: fsl, log: silentLog, inlineSyncBelowMs: 0 });
    s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 5, 1, 100));
    counts.clear();
    for (let i = 6; i <= 105; i += 5) {
      const p = s.saveAsync({ term: 1, vote: 'a', commit: i - 1 }, entries(i, i + 4, 1, 100));
      assert.ok(p !== null);
      assert.equal(s.lastIndex(), i + 4);
      assert.ok(sameEntries(s.entries(i, i + 5), entries(i, i + 4, 1, 100)));
      assert.throws(() => s.save(null, entries(i + 5, i + 5, 1)), /in flight/, 'one sync at a time');
      await p;
    }
    assert.equal(counts.get('fdatasync'), 20);
    assert.equal(counts.get('fdatasyncSync') ?? 0, 0, 'never syncs on the event loop');
    assert.equal(counts.get('writeSync'), 20);
    s.close();
    const r = openWalStorage(dir, { log: silentLog });
    assert.equal(r.lastIndex(), 105);
    assert.equal(r.initialState().hardState.commit, 100);
    assert.ok(sameEntries(r.entries(1, 106), entries(1, 105, 1, 100)));
    r.close();
  } finally {
    cleanup();
  }
});

test('saveAsync: a failed fdatasync rejects with StorageFailedError and the store stays failed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    let armed = false;
    const base = faultyFs(() => null);
    const fsl: FsLike = {
      ...base,
      fdatasync: (fd, cb) => {
        if (!armed) {
          base.fdatasync?.(fd, cb);
          return;
        }
        const err = new Error('EIO: injected fault in fdatasync') as NodeJS.ErrnoException;
        err.code = 'EIO';
        setImmediate(() => cb(err));
      },
    };
    const s = openWalStorage(dir, { fs: fsl, log: silentLog, inlineSyncBelowMs: 0 });
    await s.saveAsync({ term: 1, vote: 'a', commit: 0 }, entries(1, 10, 1));
    armed = true;
    const err = await s.saveAsync(null, entries(11, 12, 1))?.then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof StorageFailedError, `expected StorageFailedError, got ${String(err)}`);
    assert.match(err.message, /EIO/);
    assert.equal(s.failed(), err);
    armed = false;
    assert.throws(
      () => s.saveAsync(null, entries(13, 13, 1)),
      (e: unknown) => e === err,
    );
    s.close();
    // What resolved before the fault is intact.
    const r = openWalStorage(dir, { log: silentLog });
    assert.ok(r.lastIndex() >= 10);
    assert.ok(sameEntries(r.entries(1, 11), entries(1, 10, 1)));
    r.close();
  } finally {
    cleanup();
  }
});

test('close() while an asynchronous sync is in flight keeps its descriptor open until the sync ends', async () => {
  const { dir, cleanup } = tempDir();
  try {
    let closes = 0;
    const fsl = faultyFs((call) => {
      if (call === 'closeSync') closes++;
      return null;
    });
    const s = openWalStorage(dir, { fs: fsl, log: silentLog, inlineSyncBelowMs: 0 });
    s.save({ term: 1, vote: 'a', commit: 0 }, []);
    const p = s.saveAsync(null, entries(1, 3, 1));
    closes = 0;
    s.close();
    assert.equal(closes, 0, 'the segment stays open while its fdatasync runs');
    await p;
    assert.equal(closes, 1);
    const r = openWalStorage(dir, { log: silentLog });
    assert.equal(r.lastIndex(), 3);
    r.close();
  } finally {
    cleanup();
  }
});

test('saveAsync syncs inline (and returns null) while the disk is fast, on the thread pool once it is slow', async () => {
  const { dir, cleanup } = tempDir();
  try {
    let slowMs = 0;
    const counts = new Map<string, number>();
    const base = faultyFs((call) => {
      counts.set(call, (counts.get(call) ?? 0) + 1);
      return null;
    });
    const fsl: FsLike = {
      ...base,
      fdatasyncSync: (fd) => {
        const until = Date.now() + slowMs;
        while (Date.now() < until) {
          // A slow disk, simulated by blocking.
        }
        base.fdatasyncSync(fd);
      },
    };
    const s = openWalStorage(dir, { fs: fsl, log: silentLog, inlineSyncBelowMs: 5 });
    s.save({ term: 1, vote: 'a', commit: 0 }, []);
    counts.clear();
    assert.equal(s.saveAsync(null, entries(1, 2, 1)), null, 'a fast disk: durable on return');
    assert.equal(counts.get('fdatasync') ?? 0, 0);
    slowMs = 30;
    let i = 3;
    let p: Promise<void> | null = null;
    for (; i < 3 + 2 * 20 && p === null; i += 2) p = s.saveAsync(null, entries(i, i + 1, 1));
    assert.ok(p !== null, 'a slow disk moves the sync to the thread pool');
    await p;
    assert.equal(counts.get('fdatasync'), 1);
    s.close();
    const r = openWalStorage(dir, { log: silentLog });
    assert.equal(r.lastIndex(), i - 1);
    r.close();
  } finally {
    cleanup();
  }
});
