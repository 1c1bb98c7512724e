/** Leadership transfer: catch the target up, TimeoutNow, proposals dropped meanwhile, abort after a timeout. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster, cmd } from './helpers.ts';

test('transferLeader to an up-to-date follower: TimeoutNow, it wins at once (past the lease, skipping PreVote)', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const term = c.core('a').status().term;
  c.delivered = [];
  c.core('a').transferLeader('b');
  c.stabilize();
  assert.equal(c.leader(), 'b');
  assert.equal(c.core('b').status().term, term + 1);
  assert.ok(c.delivered.some((m) => m.type === 'timeoutNow' && m.to === 'b'));
  assert.equal(c.delivered.filter((m) => m.type === 'preVote').length, 0);
  assert.ok(c.delivered.filter((m) => m.type === 'vote').every((m) => m.context === 'transfer'));
});

test('the leader catches a lagging target up before sending TimeoutNow, and drops proposals meanwhile', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.drop = (m) => m.to === 'b';
  c.core('a').propose([cmd('x'), cmd('y')]);
  c.stabilize();
  c.heal();
  c.delivered = [];
  c.core('a').transferLeader('b');
  assert.throws(() => c.core('a').propose([cmd('z')]), { code: 'GRAFTD_PROPOSAL_DROPPED' });
  assert.throws(() => c.core('a').proposeConfChange({ type: 'addLearner', nodeId: 'l', context: '' }), { code: 'GRAFTD_PROPOSAL_DROPPED' });
  const last = c.core('a').status().lastIndex;
  c.tick(1);
  const timeoutAt = c.delivered.findIndex((m) => m.type === 'timeoutNow');
  const caughtUpAt = c.delivered.findIndex((m) => m.type === 'appResp' && m.from === 'b' && m.index === last);
  assert.ok(caughtUpAt >= 0 && timeoutAt > caughtUpAt, 'TimeoutNow only after the target caught up');
  assert.equal(c.leader(), 'b');
  assert.deepEqual(
    c
      .node('b')
      .applied.slice(-3)
      .map((e) => e.data.length),
    [1, 1, 0],
  );
});

test('a transfer that does not complete within an election timeout is aborted', () => {
  const c = new Cluster(['a', 'b', 'c'], { electionTicks: 10 });
  c.elect('a');
  c.drop = (m) => m.to === 'b' && (m.type === 'timeoutNow' || m.type === 'app');
  c.core('a').propose([cmd('x')]);
  c.stabilize();
  c.core('a').transferLeader('b');
  assert.equal(c.core('a').status().leadTransferee, 'b');
  c.tick(10);
  assert.equal(c.core('a').status().leadTransferee, '');
  assert.equal(c.leader(), 'a');
  assert.doesNotThrow(() => c.core('a').propose([cmd('y')]));
});

test('transferLeader refuses non-voters and is a no-op for the leader itself', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.core('a').transferLeader('a');
  assert.equal(c.core('a').status().leadTransferee, '');
  assert.throws(() => c.core('a').transferLeader('zz'), { code: 'GRAFTD_UNKNOWN_MEMBER' });
  assert.throws(() => c.core('b').transferLeader('c'), { code: 'GRAFTD_NOT_LEADER' });
});
