/**
 * A full disk (ENOSPC/EDQUOT) is transient for data nothing depends on yet, and is found before a
 * record is written: the WAL preallocates (zeros + fdatasync) ahead of its write position, keeps
 * writing into that reserve while it lasts (diskFull() reports the condition, logged once and
 * counted), refuses a batch that does not fit with StorageFullError (nothing written or indexed, not
 * failed), and carries on once space is back. ENOSPC on a record written into allocated space (a
 * copy-on-write file system) stays permanent. Before: any ENOSPC failed the store for good.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { StorageFailedError } from '../../src/errors.ts';
import { recordingLog, silentLog } from '../../src/log.ts';
import { openWalStorage } from '../../src/storage/index.ts';
import { StorageFullError } from '../../src/storage/transient.ts';
import { entries, entry, faultyFs, sameEntries, tempDir } from './helpers.ts';

/** True when the buffer slice a writeSync call would write is all zeros (a preallocation). */
function writesZeros(args: unknown[]): boolean {
  const buf = args[1] as Uint8Array;
  const off = args[2] as number;
  const len = args[3] as number;
  for (let i = off; i < off + len; i++) if (buf[i] !== 0) return false;
  return true;
}

/** A file system that, while `state.full`, fails writes (of zeros only, with `zerosOnly`) with `code`. */
function fullDisk(opts: { code?: string; zerosOnly?: boolean; calls?: readonly string[] } = {}) {
  const state = { full: false, refused: 0 };
  const calls = opts.calls ?? ['writeSync'];
  const fsl = faultyFs((call, args) => {
    if (!state.full || !calls.includes(call)) return null;
    if (call === 'writeSync' && opts.zerosOnly === true && !writesZeros(args)) return null;
    state.refused++;
    return opts.code ?? 'ENOSPC';
  });
  return { fsl, state };
}

const walFiles = (dir: string): string[] =>
  fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
const sizeOf = (dir: string, name: string): number => fs.statSync(path.join(dir, name)).size;
const diskFullLogs = (log: ReturnType<typeof recordingLog>) =>
  log.records.filter((r) => r.level === 'error' && r.msg.includes('disk full'));

test('preallocation: the active segment is extended (zeros) ahead of the records, and a zero tail reopens cleanly', () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = openWalStorage(dir, { segmentBytes: 64 * 1024, reserveBytes: 4096, log: silentLog });
    s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 10, 1, 100));
    const [name] = walFiles(dir);
    assert.ok(name !== undefined);
    const records = 24 + 10 * (26 + 100);
    // reserve + one step (= segmentBytes here) ahead of the last record
    assert.equal(sizeOf(dir, name), records + 4096 + 64 * 1024);
    s.close();
    const log = recordingLog();
    const again = openWalStorage(dir, { segmentBytes: 64 * 1024, reserveBytes: 4096, log });
    assert.equal(again.lastIndex(), 10);
    assert.ok(sameEntries(again.entries(1, 11), entries(1, 10, 1, 100)));
    assert.ok(!log.records.some((r) => r.level === 'warn'), 'a zero tail is a clean end, not a torn one');
    again.save(null, entries(11, 12, 1, 100));
    again.close();
  } finally {
    cleanup();
  }
});

test('disk full while preallocating: writes go on in the reserve, then a batch that does not fit is refused (transient); space back → it succeeds', () => {
  const { dir, cleanup } = tempDir();
  const { fsl, state } = fullDisk({ zerosOnly: true });
  const log = recordingLog();
  // Large entries, so the reserve of 64 KiB takes 8 of them and the 4 MiB step ~520 (no rotation at 16 MiB).
  const E = 8000;
  const s = openWalStorage(dir, { fs: fsl, segmentBytes: 16 * 1024 * 1024, reserveBytes: 64 * 1024, log });
  try {
    s.save({ term: 1, vote: 'a', commit: 0 }, [entry(1, 1, E)]);
    const [name] = walFiles(dir);
    assert.ok(name !== undefined);
    state.full = true;
    let index = 2;
    let flaggedAt = -1;
    let refused: unknown;
    for (; index < 1000; index++) {
      try {
        s.save(null, [entry(index, 1, E)]);
      } catch (err) {
        refused = err;
        break;
      }
      if (flaggedAt < 0 && s.diskFull() !== null) flaggedAt = index;
    }
    assert.ok(flaggedAt > 0, 'the condition is reported while the reserve still takes writes');
    assert.ok(index - flaggedAt >= 5, `several saves fit in the reserve after the flag (flag at ${flaggedAt}, refused at ${index})`);
    assert.ok(refused instanceof StorageFullError, `expected StorageFullError, got ${String(refused)}`);
    assert.equal(refused.code, 'GRAFTD_DISK_FULL');
    assert.equal(refused.httpStatus, 507);
    assert.equal(refused.retryable, true);
    assert.equal(refused.path, path.join(dir, name));
    assert.equal(s.failed(), null, 'a full disk is not a storage failure');
    assert.equal(s.lastIndex(), index - 1, 'the refused batch was neither written nor indexed');
    const allocated = sizeOf(dir, name);
    assert.throws(() => s.save(null, [entry(index, 1, E)]), StorageFullError);
    assert.equal(sizeOf(dir, name), allocated, 'a failed preallocation is cut back');
    assert.equal(s.retrySpace(), s.diskFull(), 'still full');
    assert.notEqual(s.diskFull(), null);
    assert.equal(s.diskFullEvents(), 1);
    assert.equal(diskFullLogs(log).length, 1, 'one episode, one log line, however many refusals');
    assert.equal((diskFullLogs(log)[0]?.obj as { path?: string } | undefined)?.path, path.join(dir, name));
    // Space is freed: the next probe allocates the reserve again and the refused batch is accepted.
    state.full = false;
    assert.equal(s.retrySpace(), null);
    assert.ok(log.records.some((r) => r.level === 'info' && r.msg.includes('available again')));
    s.save(null, [entry(index, 1, E)]);
    s.save(null, entries(index + 1, index + 20, 1, E));
    assert.equal(s.diskFullEvents(), 1);
    s.close();
    const again = openWalStorage(dir, { log: silentLog });
    const all = [entry(1, 1, E)];
    for (let i = 2; i <= index + 20; i++) all.push(entry(i, 1, E));
    assert.equal(again.lastIndex(), index + 20);
    assert.ok(sameEntries(again.entries(1, index + 21), all), 'every acknowledged entry is intact');
    again.close();
  } finally {
    s.close();
    cleanup();
  }
});

for (const code of ['ENOSPC', 'EDQUOT']) {
  test(`${code} on every write: a term change (hardstate temp file) is refused as transient, nothing changed, the retry succeeds`, () => {
    const { dir, cleanup } = tempDir();
    const { fsl, state } = fullDisk({ code });
    const s = openWalStorage(dir, { fs: fsl, log: silentLog });
    try {
      s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 5, 1));
      state.full = true;
      assert.throws(
        () => s.save({ term: 2, vote: 'b', commit: 3 }, entries(6, 8, 2)),
        (e: unknown) => e instanceof StorageFullError && e.code === 'GRAFTD_DISK_FULL' && e.message.includes(code),
      );
      assert.equal(s.failed(), null);
      assert.equal(s.lastIndex(), 5);
      assert.deepEqual(s.initialState().hardState, { term: 1, vote: 'a', commit: 0 });
      assert.ok(!fs.readdirSync(dir).some((n) => n.endsWith('.tmp')), 'the temp file is removed');
      state.full = false;
      s.save({ term: 2, vote: 'b', commit: 3 }, entries(6, 8, 2));
      s.close();
      const again = openWalStorage(dir, { log: silentLog });
      assert.equal(again.initialState().hardState.term, 2);
      assert.ok(sameEntries(again.entries(1, 9), [...entries(1, 5, 1), ...entries(6, 8, 2)]));
      again.close();
    } finally {
      s.close();
      cleanup();
    }
  });
}

test('ENOSPC reported by the fdatasync of the preallocated zeros is transient too (file systems that allocate late)', () => {
  const { dir, cleanup } = tempDir();
  let armed = false;
  const fsl = faultyFs((call) => (armed && call === 'fdatasyncSync' ? 'ENOSPC' : null));
  const s = openWalStorage(dir, { fs: fsl, segmentBytes: 64 * 1024, reserveBytes: 1024, log: silentLog });
  try {
    armed = true;
    assert.throws(() => s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 3, 1)), StorageFullError);
    assert.equal(s.failed(), null);
    assert.equal(s.lastIndex(), 0);
    armed = false;
    s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 3, 1));
    s.close();
    const again = openWalStorage(dir, { log: silentLog });
    assert.ok(sameEntries(again.entries(1, 4), entries(1, 3, 1)));
    again.close();
  } finally {
    s.close();
    cleanup();
  }
});

test('ENOSPC on a record written into allocated space (copy-on-write file systems) stays permanent', () => {
  const { dir, cleanup } = tempDir();
  const { fsl, state } = fullDisk();
  const s = openWalStorage(dir, { fs: fsl, segmentBytes: 64 * 1024, reserveBytes: 8 * 1024, log: silentLog });
  try {
    s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 3, 1));
    // The next batch fits in the preallocated space, so the only write is the records themselves.
    state.full = true;
    assert.throws(() => s.save(null, entries(4, 5, 1)), StorageFailedError);
    assert.ok(s.failed() instanceof StorageFailedError);
    state.full = false;
    assert.throws(() => s.save(null, entries(4, 5, 1)), StorageFailedError);
  } finally {
    s.close();
    cleanup();
  }
});

test('no space for a new segment: the batch goes on in the old one while it fits, then rotation resumes; sealed segments lose their zero tail', () => {
  const { dir, cleanup } = tempDir();
  const state = { full: false };
  // Only new segment files are refused (open of a .wal for 'w+').
  const guarded = faultyFs((call, args) =>
    state.full && call === 'openSync' && String(args[0]).endsWith('.wal') && args[1] === 'w+' ? 'ENOSPC' : null,
  );
  const log = recordingLog();
  const s = openWalStorage(dir, { fs: guarded, segmentBytes: 2048, reserveBytes: 2048, log });
  try {
    let i = 1;
    for (; i <= 60; i += 4) s.save(i === 1 ? { term: 1, vote: 'a', commit: 0 } : null, entries(i, i + 3, 1, 100));
    const sealed = walFiles(dir).slice(0, -1);
    assert.ok(sealed.length >= 2, `sealed segments: ${sealed.join(', ')}`);
    for (const f of sealed) {
      // Exactly header + whole batches: the preallocated zeros were released at rotation.
      assert.equal((sizeOf(dir, f) - 24) % (4 * 126), 0, `${f} has no zero tail`);
    }
    const before = walFiles(dir).length;
    state.full = true;
    // The old segment keeps taking batches while its preallocated space lasts (>= 2048 bytes).
    s.save(null, entries(i, i + 3, 1, 100));
    i += 4;
    assert.equal(walFiles(dir).length, before, 'no new segment while the disk is full');
    assert.notEqual(s.diskFull(), null);
    assert.equal(s.failed(), null);
    state.full = false;
    for (let k = 0; k < 5; k++, i += 4) s.save(null, entries(i, i + 3, 1, 100));
    assert.ok(walFiles(dir).length > before, 'rotation resumed');
    assert.equal(s.diskFull(), null);
    s.close();
    const again = openWalStorage(dir, { log: silentLog });
    assert.equal(again.lastIndex(), i - 1);
    assert.ok(sameEntries(again.entries(1, i), entries(1, i - 1, 1, 100)));
    again.close();
  } finally {
    s.close();
    cleanup();
  }
});
