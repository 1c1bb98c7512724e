/**
 * Transient open failures (EMFILE, ENFILE, EAGAIN, ENOMEM): the call throws StorageBusyError, the
 * store changes nothing and stays usable, and the same call succeeds once the pressure is gone.
 * Before, an EMFILE while opening `hardstate.tmp` put the WAL into its permanent failed state (the
 * node then answered 503 GRAFTD_STORAGE_FAILED until restarted). A failed write, fsync or rename
 * stays permanent (faults.test.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { test } from 'node:test';
import { StorageFailedError } from '../../src/errors.ts';
import { silentLog } from '../../src/log.ts';
import { openSnapshotStore, openWalStorage } from '../../src/storage/index.ts';
import { readHardState, writeHardState } from '../../src/storage/meta-files.ts';
import { StorageBusyError } from '../../src/storage/transient.ts';
import { nodeFs } from '../../src/storage/index.ts';
import { MAX_TERM } from '../../src/raft/index.ts';
import { entries, faultyFs, sameEntries, tempDir } from './helpers.ts';

/** A file system whose next `count` openSync calls matching `match` fail with `code`. */
function openFaults(code: string, match: (path: string, flags: string) => boolean) {
  const state = { remaining: 0, hits: 0 };
  const fsl = faultyFs((call, args) => {
    if (call !== 'openSync' || state.remaining === 0 || !match(String(args[0]), String(args[1]))) return null;
    state.remaining--;
    state.hits++;
    return code;
  });
  return { fsl, state };
}

const noTemps = (dir: string): boolean => !fs.readdirSync(dir).some((n) => n.endsWith('.tmp'));

function expectBusy(fn: () => void, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StorageBusyError, `expected StorageBusyError, got ${String(e)}`);
    assert.equal(e.code, 'GRAFTD_UNAVAILABLE');
    assert.equal(e.httpStatus, 503);
    assert.equal(e.retryable, true);
    assert.match(e.message, new RegExp(code));
    return true;
  });
}

for (const code of ['EMFILE', 'ENFILE', 'EAGAIN', 'ENOMEM']) {
  test(`${code} opening hardstate.tmp: busy, nothing changed, the next save succeeds (no failed state)`, () => {
    const { dir, cleanup } = tempDir();
    const { fsl, state } = openFaults(code, (p) => p.endsWith('hardstate.tmp'));
    const s = openWalStorage(dir, { fs: fsl, log: silentLog });
    try {
      s.save({ term: 1, vote: 'a', commit: 0 }, entries(1, 5, 1));
      state.remaining = 1;
      expectBusy(() => s.save({ term: 2, vote: 'b', commit: 3 }, entries(6, 8, 2)), code);
      assert.equal(state.hits, 1);
      assert.equal(s.failed(), null, 'a transient open is not a storage failure');
      assert.equal(s.lastIndex(), 5, 'the entries of the refused save were not written');
      assert.deepEqual(s.initialState().hardState, { term: 1, vote: 'a', commit: 0 });
      assert.ok(noTemps(dir));
      // The runtime retries the same save: it succeeds.
      s.save({ term: 2, vote: 'b', commit: 3 }, entries(6, 8, 2));
      assert.equal(s.failed(), null);
      assert.equal(s.lastIndex(), 8);
      s.close();
      const again = openWalStorage(dir, { log: silentLog });
      assert.equal(again.initialState().hardState.term, 2);
      assert.equal(again.initialState().hardState.vote, 'b');
      assert.ok(sameEntries(again.entries(1, 9), [...entries(1, 5, 1), ...entries(6, 8, 2)]));
      again.close();
    } finally {
      s.close();
      cleanup();
    }
  });
}

test('EMFILE opening the next segment: busy, no segment file left behind, the retry rotates', () => {
  const { dir, cleanup } = tempDir();
  const { fsl, state } = openFaults('EMFILE', (p) => p.endsWith('.wal'));
  const s = openWalStorage(dir, { fs: fsl, segmentBytes: 512, log: silentLog });
  try {
    s.save(null, entries(1, 20, 1, 20)); // fills the first segment
    const segments = fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).length;
    state.remaining = 1;
    expectBusy(() => s.save(null, entries(21, 30, 1, 20)), 'EMFILE');
    assert.equal(s.failed(), null);
    assert.equal(s.lastIndex(), 20);
    assert.equal(fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).length, segments);
    s.save(null, entries(21, 30, 1, 20));
    assert.equal(s.lastIndex(), 30);
    assert.ok(sameEntries(s.entries(1, 31), entries(1, 30, 1, 20)));
    s.close();
    const again = openWalStorage(dir, { segmentBytes: 512, log: silentLog });
    assert.ok(sameEntries(again.entries(1, 31), entries(1, 30, 1, 20)));
    again.close();
  } finally {
    s.close();
    cleanup();
  }
});

test('EMFILE opening a segment to truncate a conflicting suffix: busy, the log is unchanged, the retry truncates', () => {
  const { dir, cleanup } = tempDir();
  const { fsl, state } = openFaults('EMFILE', (_p, flags) => flags === 'r+');
  const s = openWalStorage(dir, { fs: fsl, segmentBytes: 512, log: silentLog });
  try {
    for (let i = 1; i <= 40; i += 5) s.save(null, entries(i, i + 4, 1, 20)); // several segments
    assert.ok(fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).length > 2);
    state.remaining = 1;
    expectBusy(() => s.save({ term: 2, vote: '', commit: 0 }, entries(5, 6, 2, 20)), 'EMFILE');
    assert.equal(state.hits, 1);
    assert.equal(s.failed(), null);
    assert.equal(s.lastIndex(), 40, 'nothing was truncated');
    assert.ok(sameEntries(s.entries(1, 41), entries(1, 40, 1, 20)));
    s.save({ term: 2, vote: '', commit: 0 }, entries(5, 6, 2, 20));
    assert.equal(s.lastIndex(), 6);
    const want = [...entries(1, 4, 1, 20), ...entries(5, 6, 2, 20)];
    assert.ok(sameEntries(s.entries(1, 7), want));
    s.close();
    const again = openWalStorage(dir, { segmentBytes: 512, log: silentLog });
    assert.ok(sameEntries(again.entries(1, 7), want));
    assert.equal(again.lastIndex(), 6);
    again.close();
  } finally {
    s.close();
    cleanup();
  }
});

test('EMFILE opening logmeta.tmp while installing a snapshot: busy, the log is unchanged, the retry installs it', () => {
  const { dir, cleanup } = tempDir();
  const { fsl, state } = openFaults('EMFILE', (p) => p.endsWith('logmeta.tmp'));
  const s = openWalStorage(dir, { fs: fsl, log: silentLog });
  const meta = { index: 50, term: 3, confState: { voters: ['a'], learners: [], context: {} } };
  try {
    s.save({ term: 1, vote: '', commit: 0 }, entries(1, 10, 1));
    state.remaining = 1;
    expectBusy(() => s.applySnapshot(meta), 'EMFILE');
    assert.equal(s.failed(), null);
    assert.equal(s.lastIndex(), 10);
    assert.equal(s.snapshotMeta().index, 0);
    assert.ok(sameEntries(s.entries(1, 11), entries(1, 10, 1)));
    assert.ok(noTemps(dir));
    s.applySnapshot(meta);
    assert.equal(s.firstIndex(), 51);
    assert.equal(s.lastIndex(), 50);
    s.save(null, entries(51, 52, 3));
    s.close();
    const again = openWalStorage(dir, { log: silentLog });
    assert.equal(again.snapshotMeta().index, 50);
    assert.equal(again.lastIndex(), 52);
    again.close();
  } finally {
    s.close();
    cleanup();
  }
});

test('a transient open for a read inside the log stays a storage failure (a core transition cannot be retried half way)', () => {
  const { dir, cleanup } = tempDir();
  const { fsl, state } = openFaults('EMFILE', (_p, flags) => flags === 'r');
  const s = openWalStorage(dir, { fs: fsl, segmentBytes: 512, cacheEntries: 1, log: silentLog });
  try {
    for (let i = 1; i <= 40; i += 5) s.save(null, entries(i, i + 4, 1, 20)); // several segments; the first one is closed
    state.remaining = 1;
    assert.throws(() => s.entries(1, 2), StorageFailedError);
    assert.ok(s.failed() instanceof StorageFailedError);
  } finally {
    s.close();
    cleanup();
  }
});

test('hard state: every term up to MAX_TERM (and any safe integer) round-trips; an unsafe term is refused before anything is written', () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const term of [0, 1, MAX_TERM, Number.MAX_SAFE_INTEGER]) {
      writeHardState(nodeFs, dir, { term, vote: 'x', commit: 7 });
      assert.deepEqual(readHardState(nodeFs, dir), { term, vote: 'x', commit: 7 });
    }
    // 2^53 (what a campaign at 2^53 − 1 computed) is not a safe integer: the reader would call the file corrupt.
    assert.throws(() => writeHardState(nodeFs, dir, { term: 2 ** 53, vote: 'x', commit: 7 }), /not storable/);
    assert.deepEqual(readHardState(nodeFs, dir), { term: Number.MAX_SAFE_INTEGER, vote: 'x', commit: 7 });
    assert.ok(noTemps(dir));
  } finally {
    cleanup();
  }
});

test('snapshot store: EMFILE opening the temp file is StorageBusyError; nothing is left behind and the next snapshot works', async (t) => {
  const { dir, cleanup } = tempDir();
  const store = openSnapshotStore(dir, { log: silentLog });
  const meta = (index: number) => ({ index, term: 1, confState: { voters: ['a'], learners: [], context: {} } });
  try {
    const realOpen = fsp.open;
    const m = t.mock.method(fsp, 'open', async (...args: Parameters<typeof fsp.open>) => {
      const err = new Error('EMFILE: too many open files, open') as NodeJS.ErrnoException;
      err.code = 'EMFILE';
      if (String(args[0]).endsWith('.tmp')) throw err;
      return realOpen(...args);
    });
    const w = store.create(meta(5));
    await assert.rejects(w.write(new Uint8Array([1, 2, 3])), StorageBusyError);
    await w.abort();
    m.mock.restore();
    assert.ok(noTemps(dir));
    assert.equal(store.latest(), null);
    const w2 = store.create(meta(6));
    await w2.write(new Uint8Array([4, 5, 6]));
    await w2.commit();
    assert.equal(store.latest()?.meta.index, 6);
  } finally {
    cleanup();
  }
});
