/**
 * Runtimes wired by an in-memory network: joins with learner promotion, the leader's
 * send-before-fsync ordering, leadership transfer, snapshot sending to a node that joins late.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restoreSnapshot } from '../../src/kv/index.ts';
import { until } from './fakes.ts';
import { MemNet, addrOf, startMemNode } from './mem-cluster.ts';

test('three nodes: joins become voters, writes reach every node, leader ships entries before its own fsync', async () => {
  const net = new MemNet();
  const a = await startMemNode(net, 'a', true);
  const b = await startMemNode(net, 'b', false);
  const c = await startMemNode(net, 'c', false);
  try {
    await until(() => a.node.status().role === 'leader' && a.node.status().appliedIndex >= 2);
    await a.node.join({ id: 'b', ...addrOf('b'), voter: true });
    await until(() => a.node.status().members.filter((m) => m.voter).length === 2);
    await a.node.join({ id: 'c', ...addrOf('c'), voter: true });
    await until(() => a.node.status().members.filter((m) => m.voter).length === 3);
    net.events.length = 0;
    await a.node.set({ x: '1' });
    const index = a.node.status().appliedIndex;
    // On the leader the append to followers left before the leader's own save of that entry.
    const sent = net.events.findIndex(
      (e) => e.kind === 'send' && e.from === 'a' && e.m.type === 'app' && e.m.entries.some((en) => en.index === index),
    );
    const saved = net.events.findIndex((e) => e.kind === 'save' && e.node === 'a' && e.lastIndex >= index);
    assert.ok(sent !== -1 && saved !== -1 && sent < saved, `send at ${sent}, save at ${saved}`);
    // Followers save before they answer.
    const bSaved = net.events.findIndex((e) => e.kind === 'save' && e.node === 'b' && e.lastIndex >= index);
    const bAck = net.events.findIndex((e) => e.kind === 'send' && e.from === 'b' && e.m.type === 'appResp' && e.m.index >= index);
    assert.ok(bSaved !== -1 && bSaved < bAck, `b saved at ${bSaved}, acked at ${bAck}`);
    await until(() => b.node.status().appliedIndex >= index && c.node.status().appliedIndex >= index);
    assert.equal(await b.node.get('x', 'stale'), '1');
    assert.equal(await c.node.get('x', 'stale'), '1');
    assert.equal(b.node.status().leaderHttpAddr, 'http:a');
  } finally {
    await Promise.all([a.node.close(), b.node.close(), c.node.close()]);
  }
});

test('transferLeader moves leadership (to a named voter, then to the best one)', async () => {
  const net = new MemNet();
  const a = await startMemNode(net, 'a', true);
  const b = await startMemNode(net, 'b', false);
  try {
    await until(() => a.node.status().role === 'leader' && a.node.status().appliedIndex >= 2);
    await a.node.join({ id: 'b', ...addrOf('b'), voter: true });
    await until(() => a.node.status().members.filter((m) => m.voter).length === 2);
    assert.equal(await a.node.transferLeader('b'), 'b');
    await until(() => b.node.status().role === 'leader');
    assert.equal(await b.node.transferLeader(), 'a');
  } finally {
    await Promise.all([a.node.close(), b.node.close()]);
  }
});

test('a node joining after compaction receives a snapshot and ends with the same data', async () => {
  const net = new MemNet();
  const config = { snapshotIntervalMs: 10, snapshotThreshold: 20, trailingLogs: 3 };
  const a = await startMemNode(net, 'a', true, config);
  const d = await startMemNode(net, 'd', false, config);
  try {
    await until(() => a.node.status().role === 'leader' && a.node.status().appliedIndex >= 2);
    for (let i = 0; i < 60; i++) await a.node.set({ [`k${i}`]: String(i) });
    await until(() => a.storage.firstIndex() > 2);
    await a.node.join({ id: 'd', ...addrOf('d'), voter: false });
    const target = a.node.status().commitIndex;
    await until(() => d.node.status().appliedIndex >= target);
    assert.ok(d.storage.snapshotMeta().index > 0, 'd installed a snapshot');
    assert.equal(d.node.status().keys, 60);
    const kv = await restoreSnapshot(d.snapshots.read(d.storage.snapshotMeta().index));
    assert.equal(kv.get('k5'), '5');
    assert.equal(await d.node.get('k59', 'stale'), '59');
  } finally {
    await Promise.all([a.node.close(), d.node.close()]);
  }
});
