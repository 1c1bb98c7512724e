/**
 * Follower reads with real processes: a linearizable (or lease) read on a follower asks the leader
 * for a read index over the raft connection and is answered by the follower itself from its own
 * state, once applied — never a stale value, even right after a write acknowledged by the leader.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Cluster } from './cluster.ts';

const c = new Cluster({ ips: ['127.0.0.97', '127.0.0.98', '127.0.0.99'], httpPortBase: 15120, raftPortBase: 16120 });

before(async () => {
  await c.startVoters(['r0', 'r1', 'r2']);
});

after(() => c.destroy());

test('a follower answers linearizable and lease reads itself, and sees every write the leader acknowledged', async () => {
  const leader = await c.waitForLeader();
  const followers = ['r0', 'r1', 'r2'].filter((id) => id !== leader);
  for (let i = 0; i < 50; i++) {
    const w = await c.post(leader, '/key', { k: `v${i}` });
    assert.equal(w.status, 200, w.text);
    for (const f of followers) {
      for (const level of ['linearizable', 'lease']) {
        const res = await fetch(`${c.url(f)}/key/k?level=${level}`, { signal: AbortSignal.timeout(10_000) });
        const text = await res.text();
        assert.equal(res.status, 200, `${f} ${level}: ${text}`);
        assert.deepEqual(JSON.parse(text), { k: `v${i}` }, `${f} ${level} after write ${i}`);
        // Served by the follower (not relayed over HTTP): it names itself as the answering node.
        assert.equal(res.headers.get('x-graftd-node'), f);
        assert.equal(res.headers.get('x-graftd-forwarded-by'), f);
        assert.equal(res.headers.get('x-graftd-leader'), leader);
      }
    }
  }
  const missing = await c.get(followers[0]!, '/key/nope');
  assert.equal(missing.status, 404);
});

test('with the leader gone and no quorum, a follower refuses linearizable reads instead of answering stale', async () => {
  const leader = await c.waitForLeader();
  const followers = ['r0', 'r1', 'r2'].filter((id) => id !== leader);
  await c.kill(leader);
  await c.kill(followers[1]!);
  const res = await fetch(`${c.url(followers[0]!)}/key/k`, { signal: AbortSignal.timeout(20_000) });
  assert.ok(res.status === 503 || res.status === 504, `expected 503/504, got ${res.status} ${await res.text()}`);
});
