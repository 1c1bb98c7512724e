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

/** A follower whose set/del "forward" to the leader: they apply locally or fail with `failWith`. */
class ForwardingFollower extends FakeNode {
  readonly forwardsWrites = true;
  failWith: Error | undefined;
  readonly writes: string[] = [];

  constructor() {
    // An unreachable leader HTTP address: any HTTP relay would fail the test with a 503.
    super({ id: 'node1', role: 'follower', leaderId: 'node0', leaderHttpAddr: '127.0.0.89:9' });
  }

  override async set(pairs: Readonly<Record<string, string>>): Promise<void> {
    this.writes.push(`set ${Object.keys(pairs).join(',')}`);
    if (this.failWith !== undefined) throw this.failWith;
    for (const [k, v] of Object.entries(pairs)) this.data.set(k, v);
  }

  override async del(keys: readonly string[]): Promise<void> {
    this.writes.push(`del ${keys.join(',')}`);
    if (this.failWith !== undefined) throw this.failWith;
    for (const k of keys) this.data.delete(k);
  }
}

test('a follower that forwards writes itself answers POST and DELETE /key from the node, naming the leader', async () => {
  const node = new ForwardingFollower();
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
    assert.deepEqual(node.writes, ['set a,b', 'del a']);
    assert.equal(node.data.has('a'), false);
  } finally {
    await app.close();
  }
});

test("a forwarding follower maps the node's outcomes: no leader/not sent → 503 with Retry-After, unknown → 504", async () => {
  const node = new ForwardingFollower();
  const { app } = await makeServer(node);
  try {
    node.failWith = new NotLeaderError('');
    const none = await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}' });
    assertError(none, 503, 'GRAFTD_NO_LEADER');
    assert.equal(none.headers['retry-after'], '1');

    node.failWith = new NotLeaderError('node2'); // the leader stepped down before proposing: definite
    const moved = await app.inject({ method: 'DELETE', url: '/key/a' });
    assertError(moved, 503, 'GRAFTD_NO_LEADER');
    assert.equal(moved.headers['x-graftd-leader'], 'node2');

    node.failWith = new GraftdError('GRAFTD_NO_LEADER', 'not sent');
    assertError(await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}' }), 503, 'GRAFTD_NO_LEADER');
    node.failWith = new GraftdError('GRAFTD_PROPOSAL_DROPPED', 'proposal dropped: full');
    assertError(await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}' }), 503, 'GRAFTD_PROPOSAL_DROPPED');
    node.failWith = new GraftdError('GRAFTD_TIMEOUT', 'unknown');
    const unknown = await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}' });
    assertError(unknown, 504, 'GRAFTD_TIMEOUT');
    assert.equal(unknown.headers['x-graftd-leader'], 'node0');
    assert.equal(node.data.size, 0);
  } finally {
    await app.close();
  }
});

test('a write already forwarded by HTTP is never forwarded again, even by a node that forwards writes itself', async () => {
  const node = new ForwardingFollower();
  const { app } = await makeServer(node);
  try {
    const res = await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}', headers: { 'x-graftd-forwarded': 'node2' } });
    assertError(res, 503, 'GRAFTD_NO_LEADER');
  } finally {
    await app.close();
  }
});
