/**
 * The runtime driving a real core over in-memory storage and a fake transport: batching, reads,
 * follower refusal, storage failure, snapshots and compaction, backup.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GraftdError, NotLeaderError } from '../../src/errors.ts';
import { restoreSnapshot } from '../../src/kv/index.ts';
import { StorageFailedError } from '../../src/errors.ts';
import { oneNode, until } from './fakes.ts';

test('proposals from one event-loop turn become one append (one fsync), each answered when applied', async () => {
  const { node, storage } = await oneNode();
  try {
    // Leader, with its own term's first entry committed and applied.
    await until(() => node.status().role === 'leader' && node.status().appliedIndex >= 2);
    storage.saves = [];
    const writes = Array.from({ length: 50 }, (_, i) => node.set({ [`k${i}`]: `v${i}` }));
    await Promise.all(writes);
    assert.deepEqual(storage.saves, [50]);
    for (let i = 0; i < 50; i++) assert.equal(await node.get(`k${i}`, 'stale'), `v${i}`);
    await node.del(['k0']);
    assert.equal(await node.get('k0', 'linearizable'), undefined);
    assert.equal(await node.get('k1', 'linearizable'), 'v1');
    assert.equal(await node.get('k2', 'lease'), 'v2');
    assert.equal(node.status().keys, 49);
  } finally {
    await node.close();
  }
});

test('a node that is not the leader refuses writes and linearizable reads with NotLeaderError, serves stale reads', async () => {
  // Two voters, the other never answers: this node can never win an election.
  const { node } = await oneNode({}, ['a', 'b']);
  try {
    await assert.rejects(node.set({ x: '1' }), NotLeaderError);
    await assert.rejects(node.get('x', 'linearizable'), NotLeaderError);
    assert.equal(await node.get('x', 'stale'), undefined);
    assert.equal(node.isReady(), false);
    await assert.rejects(node.join({ id: 'c', raftAddr: 'h:1', httpAddr: '', voter: true }), NotLeaderError);
    // whenReady: bounded by its timeout, says why; a waiter without one is answered when the node closes.
    await assert.rejects(node.whenReady(50), (e: GraftdError) => e.code === 'GRAFTD_TIMEOUT' && /leader unknown/.test(e.message));
    const waiting = node.whenReady();
    await node.close();
    await assert.rejects(waiting, (e: GraftdError) => e.code === 'GRAFTD_SHUTTING_DOWN');
    await assert.rejects(node.whenReady(), (e: GraftdError) => e.code === 'GRAFTD_SHUTTING_DOWN');
  } finally {
    await node.close();
  }
});

test('a storage failure stops the node: writes fail with GRAFTD_STORAGE_FAILED, fault is reported, not ready', async () => {
  const { node, storage } = await oneNode();
  try {
    await node.whenReady(5000);
    await node.set({ ok: '1' });
    storage.failWith = new StorageFailedError('append', new Error('EIO'));
    // Handed to the core (and maybe sent to followers) before the disk failed: outcome unknown.
    await assert.rejects(node.set({ lost: '1' }), (e: GraftdError) => e.code === 'GRAFTD_TIMEOUT' && e.httpStatus === 504);
    await assert.rejects(node.set({ after: '1' }), (e: GraftdError) => e.code === 'GRAFTD_STORAGE_FAILED' && e.httpStatus === 503);
    assert.match(node.status().fault, /EIO/);
    assert.equal(node.isReady(), false);
    assert.equal(await node.get('ok', 'stale'), '1');
  } finally {
    await node.close();
  }
});

test('snapshots are taken past the threshold and the log is compacted keeping the trailing entries', async () => {
  const { node, storage, snapshots } = await oneNode({ snapshotIntervalMs: 20, snapshotThreshold: 20, trailingLogs: 5 });
  try {
    await node.whenReady(5000);
    for (let i = 0; i < 40; i++) await node.set({ [`k${i}`]: String(i) });
    await until(() => storage.snapshotMeta().index > 20);
    const meta = storage.snapshotMeta();
    assert.deepEqual(meta.confState.voters, ['a']);
    assert.equal(storage.firstIndex(), meta.index - 5 + 1);
    const kv = await restoreSnapshot(snapshots.read(meta.index));
    assert.ok(kv.size > 0 && kv.size <= 40);
    assert.ok(node.status().snapshotIndex >= meta.index);
  } finally {
    await node.close();
  }
});

test('backup streams a consistent copy of the data after a linearizable barrier', async () => {
  const { node } = await oneNode();
  try {
    await node.whenReady(5000);
    await node.set({ a: '1', b: '2' });
    const stream = await node.backup();
    await node.set({ c: '3' });
    const kv = await restoreSnapshot(stream);
    assert.deepEqual([...kv.entries()].sort(), [
      ['a', '1'],
      ['b', '2'],
    ]);
  } finally {
    await node.close();
  }
});

test('membership: join adds a learner (no-op when same id and address), remove refuses the last voter', async () => {
  const { node, transport } = await oneNode();
  try {
    await node.whenReady(5000);
    await node.join({ id: 'l', raftAddr: '127.0.0.9:1', httpAddr: '127.0.0.9:2', voter: false });
    assert.deepEqual(
      node.status().members.map((m) => [m.id, m.voter]),
      [
        ['a', true],
        ['l', false],
      ],
    );
    assert.equal(transport.peerMap.get('l'), '127.0.0.9:1');
    await node.join({ id: 'l', raftAddr: '127.0.0.9:1', httpAddr: '127.0.0.9:2', voter: false });
    assert.equal(node.status().members.length, 2);
    // Same id, new address: the old entry is replaced.
    await node.join({ id: 'l', raftAddr: '127.0.0.9:3', httpAddr: '', voter: false });
    assert.equal(node.status().members.find((m) => m.id === 'l')?.raftAddr, '127.0.0.9:3');
    await assert.rejects(node.remove('a'), (e: GraftdError) => e.code === 'GRAFTD_LAST_VOTER' && e.httpStatus === 409);
    await assert.rejects(node.remove('zz'), (e: GraftdError) => e.code === 'GRAFTD_UNKNOWN_MEMBER' && e.httpStatus === 404);
    await node.remove('l');
    assert.equal(node.status().members.length, 1);
  } finally {
    await node.close();
  }
});

test('close answers waiting requests with GRAFTD_SHUTTING_DOWN and refuses new ones', async () => {
  const { node } = await oneNode({}, ['a', 'b']);
  await node.close();
  await assert.rejects(node.set({ x: '1' }), (e: GraftdError) => e.code === 'GRAFTD_SHUTTING_DOWN');
});

test('GRAFTD_TEST_FAULT=stale-linearizable-reads answers linearizable reads from local state, even off the leader', async () => {
  const { node } = await oneNode({ testFault: 'stale-linearizable-reads' }, ['a', 'b']);
  try {
    assert.equal(await node.get('x', 'linearizable'), undefined);
    assert.equal(await node.get('x', 'lease'), undefined);
  } finally {
    await node.close();
  }
});
