/**
 * Writes on a node that forwards them itself (GraftNode.forwardsWrites, the runtime over the raft
 * transport): the HTTP layer calls set/del directly, never relays them by HTTP, keeps the
 * X-Graftd-Leader header and maps the node's outcomes (503 not sent, 504 unknown).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraftdError, NotLeaderError } from '../../src/errors.ts';
import { FakeNode } from './fake-node.ts';
import { assertError, makeServer } from './helpers.ts';

/** A follower that forwards to a leader fake, as the real node does over the raft transport. */
function forwardingFollower(): { node: FakeNode; leader: FakeNode } {
  const leader = new FakeNode({ id: 'node0' });
  // An unreachable leader HTTP address: any HTTP relay would fail the test with a 503.
  const node = new FakeNode({ id: 'node1', role: 'follower', leaderId: 'node0', leaderHttpAddr: '127.0.0.89:9', leader });
  return { node, leader };
}

/** The writes `n` saw: 'set a,b' / 'del a'. */
function writes(n: FakeNode): string[] {
  return n.calls
    .filter((c) => c.method !== 'get' && c.method !== 'getMeta')
    .map((c) => `${c.method} ${(Array.isArray(c.args[0]) ? c.args[0] : Object.keys(c.args[0] as object)).join(',')}`);
}

test('a follower that forwards writes itself answers POST and DELETE /key from the node, naming the leader', async () => {
  const { node, leader } = forwardingFollower();
  const { app } = await makeServer(node);
  try {
    const res = await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1","b":"2"}' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-graftd-leader'], 'node0');
    assert.equal(res.headers['x-graftd-forwarded-by'], 'node1');
    assert.equal(node.data.get('a'), '1');
    const del = await app.inject({ method: 'DELETE', url: '/key/a' });
    assert.equal(del.statusCode, 200);
    assert.equal(del.headers['x-graftd-leader'], 'node0');
    assert.deepEqual(writes(node), ['set a,b', 'del a']);
    assert.deepEqual(writes(leader), ['set a,b', 'del a']);
    assert.equal(node.data.has('a'), false);
    assert.equal(leader.data.get('b'), '2');
  } finally {
    await app.close();
  }
});

test("a forwarding follower maps the node's outcomes: no leader/not sent → 503 with Retry-After, unknown → 504", async () => {
  const { node, leader } = forwardingFollower();
  const { app } = await makeServer(node);
  try {
    node.failNext = new NotLeaderError('');
    const none = await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}' });
    assertError(none, 503, 'GRAFTD_NO_LEADER');
    assert.equal(none.headers['retry-after'], '1');

    leader.role = 'follower'; // the leader stepped down before proposing: definite
    leader.leaderId = 'node2';
    const moved = await app.inject({ method: 'DELETE', url: '/key/a' });
    assertError(moved, 503, 'GRAFTD_NO_LEADER');
    assert.equal(moved.headers['x-graftd-leader'], 'node2');

    leader.role = 'leader';
    node.failNext = new GraftdError('GRAFTD_NO_LEADER', 'not sent');
    assertError(await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}' }), 503, 'GRAFTD_NO_LEADER');
    leader.failNext = new GraftdError('GRAFTD_PROPOSAL_DROPPED', 'proposal dropped: full');
    assertError(await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}' }), 503, 'GRAFTD_PROPOSAL_DROPPED');
    leader.failNext = new GraftdError('GRAFTD_TIMEOUT', 'unknown');
    const unknown = await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}' });
    assertError(unknown, 504, 'GRAFTD_TIMEOUT');
    assert.equal(unknown.headers['x-graftd-leader'], 'node0');
    assert.equal(node.data.size, 0);
  } finally {
    await app.close();
  }
});

test('a write already forwarded by HTTP is never forwarded again, even by a node that forwards writes itself', async () => {
  const { node } = forwardingFollower();
  const { app } = await makeServer(node);
  try {
    const res = await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}', headers: { 'x-graftd-forwarded': 'node2' } });
    assertError(res, 503, 'GRAFTD_NO_LEADER');
  } finally {
    await app.close();
  }
});

test('reads on a forwarding follower: the leader confirms (read index), the follower serves its own state', async () => {
  const { node, leader } = forwardingFollower();
  const { app } = await makeServer(node);
  try {
    await app.inject({ method: 'POST', url: '/key', payload: '{"r":"1"}' });
    for (const level of ['linearizable', 'lease']) {
      const res = await app.inject({ url: `/key/r?level=${level}` });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['x-graftd-forwarded-by'], 'node1');
    }
    assert.deepEqual(
      leader.calls.filter((c) => c.method === 'getMeta').map((c) => c.args[1]),
      ['linearizable', 'lease'],
    );
    leader.role = 'follower';
    leader.leaderId = '';
    assertError(await app.inject({ url: '/key/r' }), 503, 'GRAFTD_NO_LEADER');
  } finally {
    await app.close();
  }
});

test('the stale-linearizable-reads test fault is passed in (createHttpServer testFault), not read from the environment', async () => {
  // A follower that cannot reach its leader: a linearizable read fails, unless the fault serves it locally.
  const node = new FakeNode({ id: 'node1', role: 'follower', leaderId: 'node0', forwards: false });
  node.data.set('k', 'old');
  // The runtime with the fault answers every level from local state; the fake does so for stale.
  node.getMeta = async (key: string) => ({ kv: node.store.keyValue(key), revision: node.store.revision });
  const plain = await makeServer(node);
  const faulty = await makeServer(node, { testFault: 'stale-linearizable-reads' });
  try {
    assertError(await plain.app.inject({ url: '/key/k' }), 503, 'GRAFTD_NO_LEADER');
    const res = await faulty.app.inject({ url: '/key/k' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(JSON.parse(res.body), { k: 'old' });
  } finally {
    await plain.app.close();
    await faulty.app.close();
  }
});
