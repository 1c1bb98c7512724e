/**
 * A full disk on a one-node runtime over a real WAL (the file system refuses to grow files while
 * "full"): new writes get 507 GRAFTD_DISK_FULL, every acknowledged write stays readable
 * (linearizable reads keep working: the raft loop is not blocked), the node is not failed
 * (/healthz stays 200, NodeStatus.fault empty, NodeStatus.diskFull names the file), and once space
 * is back writes are accepted again without a restart. Before: the first ENOSPC failed the WAL and
 * the node for good (503 GRAFTD_STORAGE_FAILED until restarted).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GraftdError } from '../../src/errors.ts';
import { recordingLog } from '../../src/log.ts';
import { encodeMemberContext } from '../../src/node/members.ts';
import { SnapshotKeeper } from '../../src/node/snapshots.ts';
import { bootstrap } from '../../src/raft/index.ts';
import { openWalStorage } from '../../src/storage/index.ts';
import { KvStateMachine } from '../../src/kv/state-machine.ts';
import { StorageFullError } from '../../src/storage/transient.ts';
import { faultyFs, tempDir } from '../storage/helpers.ts';
import { MemorySnapshotStore, SpyStorage, testNode } from './fakes.ts';

/** Writes of zeros (preallocation), new files and temp files fail with ENOSPC while `disk.full`. */
function fullableFs() {
  const disk = { full: false };
  const fsl = faultyFs((call, args) => {
    if (!disk.full) return null;
    if (call === 'openSync' && (args[1] === 'w' || args[1] === 'w+')) return 'ENOSPC';
    if (call !== 'writeSync') return null;
    const buf = args[1] as Uint8Array;
    const off = args[2] as number;
    const len = args[3] as number;
    for (let i = off; i < off + len; i++) if (buf[i] !== 0) return null;
    return 'ENOSPC';
  });
  return { fsl, disk };
}

test('disk full: new writes get 507, acknowledged writes and reads survive, no failed state; space back → writes again', async () => {
  const { dir, cleanup } = tempDir('graftd-diskfull-');
  const { fsl, disk } = fullableFs();
  const log = recordingLog();
  // 4 KiB of reserve; large values so it is reached quickly.
  const storage = openWalStorage(dir, { fs: fsl, segmentBytes: 64 * 1024, reserveBytes: 4096, log });
  const { node } = await testNode({ storage, log, storageRetry: { minMs: 5, maxMs: 20 } });
  try {
    await node.whenReady(5000);
    const value = 'v'.repeat(700);
    const acked: string[] = [];
    for (let i = 0; i < 5; i++) {
      await node.set({ [`k${i}`]: value });
      acked.push(`k${i}`);
    }
    disk.full = true;
    let refused: GraftdError | undefined;
    for (let i = 5; i < 500 && refused === undefined; i++) {
      try {
        await node.set({ [`k${i}`]: value });
        acked.push(`k${i}`);
      } catch (err) {
        refused = err as GraftdError;
      }
    }
    assert.ok(refused !== undefined, 'writes were refused');
    assert.equal(refused.code, 'GRAFTD_DISK_FULL', refused.message);
    assert.equal(refused.httpStatus, 507);
    assert.equal(storage.failed(), null);
    const st = node.status();
    assert.equal(st.fault, '', 'not a failure');
    assert.match(st.diskFull ?? '', /ENOSPC/);
    assert.match(st.diskFull ?? '', new RegExp(dir));
    assert.equal(node.diskFullEvents(), 1);
    // Still refused, reads of everything acknowledged still work (linearizable: the raft loop runs).
    await assert.rejects(node.set({ again: '1' }), (e: GraftdError) => e.code === 'GRAFTD_DISK_FULL');
    for (const k of acked) assert.equal(await node.get(k, 'linearizable'), value, k);
    assert.equal(log.records.filter((r) => r.level === 'error' && r.msg.includes('disk full')).length, 1, 'logged once');
    assert.ok(!log.records.some((r) => r.level === 'fatal'));
    // Space is freed: within the backoff (≤ 20 ms here) writes are accepted again, no restart.
    disk.full = false;
    let tries = 0;
    for (;;) {
      tries++;
      try {
        await node.set({ after: '1' });
        break;
      } catch (err) {
        if ((err as GraftdError).code !== 'GRAFTD_DISK_FULL' || tries > 200) throw err;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    assert.equal(node.status().diskFull, '');
    for (let i = 0; i < 20; i++) await node.set({ [`more${i}`]: value });
    assert.equal(await node.get('after', 'linearizable'), '1');
    assert.equal(node.diskFullEvents(), 1);
    assert.ok(log.records.some((r) => r.msg.includes('available again')));
  } finally {
    await node.close();
    cleanup();
  }
});

test('a full disk while recording a snapshot in the log is logged, not an unhandled rejection (which would end the process)', async () => {
  const storage = new SpyStorage();
  bootstrap(storage, [
    { id: 'a', context: encodeMemberContext({ raftAddr: '127.0.0.1:16000', httpAddr: '127.0.0.1:15000', voter: true }) },
  ]);
  storage.save(null, [{ index: 2, term: 1, type: 'normal', data: new Uint8Array(0) }]);
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  storage.createSnapshot = () => {
    throw new StorageFullError('writing logmeta', '/data/wal/logmeta.tmp', 'ENOSPC', enospc);
  };
  const log = recordingLog();
  const keeper = new SnapshotKeeper({
    id: 'a',
    log,
    storage,
    store: new MemorySnapshotStore(),
    threshold: 0,
    trailingLogs: 0,
    intervalMs: 1000,
    lastIndex: 0,
    current: () => ({ applied: 2, stateMachine: new KvStateMachine(), confState: storage.initialState().confState, active: true }),
    emit: () => {},
  });
  await keeper.maybeTake(); // resolves
  assert.ok(log.records.some((r) => r.level === 'error' && r.msg.includes('recording a snapshot')));
  assert.equal(keeper.lastIndex, 0, 'not counted as taken');
});
