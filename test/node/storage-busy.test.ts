/**
 * A transient storage error on the save path (StorageBusyError: e.g. EMFILE opening a file) is
 * retried with backoff; the node does not enter its failed state, new writes get 503 meanwhile, and
 * everything continues once the storage is usable again. A permanent failure still fails the node.
 *
 * Before: an EMFILE while opening hardstate.tmp (or a segment) failed the WAL and the node for good
 * (503 GRAFTD_STORAGE_FAILED until restarted, NodeStatus.fault set).
 * Also here, because it guards the same store: a snapshot stream the core would not accept never
 * reaches the snapshot store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GraftdError } from '../../src/errors.ts';
import { silentLog } from '../../src/log.ts';
import type { TransportHandlers } from '../../src/node/runtime.ts';
import { makeMessage } from '../../src/raft/message.ts';
import type { Message } from '../../src/raft/types.ts';
import { type FsLike, openWalStorage } from '../../src/storage/index.ts';
import { StorageBusyError } from '../../src/storage/transient.ts';
import { faultyFs, tempDir } from '../storage/helpers.ts';
import { FakeTransport, SpyStorage, oneNode, testNode, until } from './fakes.ts';

function busy(): StorageBusyError {
  const cause = Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE' });
  return new StorageBusyError('opening hardstate.tmp', 'EMFILE', cause);
}

/** SpyStorage that counts save attempts. */
class CountingStorage extends SpyStorage {
  attempts = 0;
  override save(...args: Parameters<SpyStorage['save']>): void {
    this.attempts++;
    super.save(...args);
  }
}

test('a transient storage error during a save is retried: no failed state, new writes get 503 meanwhile, all writes succeed after', async () => {
  const { node, storage } = await oneNode();
  try {
    await node.whenReady(5000);
    await node.set({ before: '1' });
    storage.failWith = busy();
    const waiting = node.set({ during: '1' });
    // The save is being retried: the node is not failed, and new writes are turned away with 503.
    await new Promise((r) => setTimeout(r, 30));
    await assert.rejects(node.set({ refused: '1' }), (e: GraftdError) => e.code === 'GRAFTD_UNAVAILABLE' && e.httpStatus === 503);
    assert.equal(node.status().fault, '');
    storage.failWith = undefined;
    await waiting; // the write handed to the core before the error completes once the retried save succeeds
    await node.set({ after: '1' });
    assert.equal(await node.get('during', 'linearizable'), '1');
    assert.equal(await node.get('after', 'linearizable'), '1');
    assert.equal(await node.get('refused', 'stale'), undefined);
    assert.equal(node.status().fault, '');
    assert.equal(node.isReady(), true);
  } finally {
    await node.close();
  }
});

test('the retry backs off (bounded) instead of spinning', async () => {
  const { node, storage } = await testNode({ storage: new CountingStorage(), storageRetry: { minMs: 5, maxMs: 40 } });
  try {
    await node.whenReady(5000);
    storage.failWith = busy();
    storage.attempts = 0;
    const waiting = node.set({ x: '1' });
    await new Promise((r) => setTimeout(r, 300));
    // 5, 10, 20, 40, 40, ... ms: about 9 attempts in 300 ms (a spinning loop would make thousands).
    assert.ok(storage.attempts >= 3 && storage.attempts <= 20, `${storage.attempts} attempts in 300 ms`);
    storage.failWith = undefined;
    await waiting;
    assert.equal(node.status().fault, '');
  } finally {
    await node.close();
  }
});

/** A one-node runtime over a real WAL whose file system fails on demand. */
async function walNode(failOn: () => string | null) {
  const { dir, cleanup } = tempDir('graftd-busy-');
  const fsl = faultyFs((call, args) => (call === 'openSync' && String(args[0]).endsWith('.wal') ? failOn() : null));
  const syncFault = { code: null as string | null };
  // Without the asynchronous fdatasync the WAL syncs inline, where the injected fsync fault applies.
  const { fdatasync: _async, ...syncOnly } = fsl;
  const fs: FsLike = {
    ...syncOnly,
    fdatasyncSync: (fd: number) => {
      if (syncFault.code !== null) throw Object.assign(new Error(`${syncFault.code}: injected`), { code: syncFault.code });
      fsl.fdatasyncSync(fd);
    },
  };
  const { node, storage } = await testNode({ storage: openWalStorage(dir, { fs, segmentBytes: 256, log: silentLog }) });
  return { node, storage, syncFault, cleanup };
}

test('WAL: EMFILE opening the next segment during a save does not fail the node; writes succeed afterwards', async () => {
  let failures = 0;
  const { node, storage, cleanup } = await walNode(() => {
    if (failures === 0) return null;
    failures--;
    return 'EMFILE';
  });
  try {
    await node.whenReady(5000);
    const big = 'v'.repeat(120); // every write fills the 256-byte segment: the next save opens a new one
    await node.set({ k0: big });
    failures = 3;
    await node.set({ k1: big });
    await node.set({ k2: big });
    assert.equal(failures, 0, 'the faults were hit');
    assert.equal(storage.failed(), null);
    assert.equal(node.status().fault, '');
    for (let i = 3; i < 8; i++) await node.set({ [`k${i}`]: big });
    assert.equal(await node.get('k7', 'linearizable'), big);
  } finally {
    await node.close();
    cleanup();
  }
});

test('WAL: a permanent failure (EIO on fsync) still fails the node: GRAFTD_STORAGE_FAILED and NodeStatus.fault', async () => {
  const { node, syncFault, cleanup } = await walNode(() => null);
  try {
    await node.whenReady(5000);
    await node.set({ ok: '1' });
    syncFault.code = 'EIO';
    await assert.rejects(node.set({ lost: '1' }), (e: GraftdError) => e.httpStatus === 504 || e.code === 'GRAFTD_STORAGE_FAILED');
    await until(() => node.status().fault !== '');
    assert.match(node.status().fault, /EIO/);
    await assert.rejects(node.set({ after: '1' }), (e: GraftdError) => e.code === 'GRAFTD_STORAGE_FAILED');
  } finally {
    await node.close();
    cleanup();
  }
});

test('a snapshot stream from a sender the core would not follow is refused before its bytes reach the snapshot store', async () => {
  // Before: the runtime wrote the stream to the snapshot store first and asked the core afterwards, so a
  // fake snapshot (index ≤ commit) stayed on disk and could be restored on the next start.
  let handlers: TransportHandlers | undefined;
  const { node, snapshots } = await testNode({
    createTransport: (h) => {
      handlers = h;
      return new FakeTransport();
    },
  });
  try {
    await node.whenReady(5000);
    const term = node.status().term;
    const fake = (from: string, t: number): Message => ({
      ...makeMessage('snap', from, 'a', t),
      snapshot: { index: 2, term: t, confState: { voters: [from], learners: [], context: {} } },
    });
    let pulled = 0;
    async function* bytes(): AsyncIterable<Uint8Array> {
      pulled++;
      yield new Uint8Array([1, 2, 3]);
    }
    const h = handlers as TransportHandlers;
    for (const m of [fake('evil', term + 1), fake('b', term)]) {
      await assert.rejects(h.onSnapshot(m, bytes()), (e: GraftdError) => e.code === 'GRAFTD_FORBIDDEN');
    }
    assert.equal(pulled, 0, 'the stream was never read');
    assert.equal(snapshots.snaps.size, 0);
    assert.deepEqual(node.protocolViolations(), { 'non-member': 2 });
    assert.equal(node.status().role, 'leader');
    await node.set({ still: 'serving' });
  } finally {
    await node.close();
  }
});
