/** Single-server membership changes, learners, and the membership after restart. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRaft } from '../../src/raft/index.ts';
import { Cluster, cmd, seededRandom } from './helpers.ts';

test('a joining node starts empty, learns the membership from the log and becomes a voter', () => {
  const c = new Cluster(['a', 'b', 'c', 'd'], {}, ['a', 'b', 'c']);
  c.elect('a');
  assert.deepEqual(c.core('d').confState().voters, []);
  c.core('a').proposeConfChange({ type: 'addVoter', nodeId: 'd', context: '{"raftAddr":"x"}' });
  c.tick(3);
  for (const id of ['a', 'b', 'c', 'd']) assert.deepEqual(c.core(id).confState().voters, ['a', 'b', 'c', 'd'], id);
  assert.equal(c.core('d').confState().context.d, '{"raftAddr":"x"}');
  assert.equal(c.core('d').status().commit, c.core('a').status().commit);
});

test('only one membership change at a time: the next is refused until the previous is applied', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const a = c.core('a');
  const { index } = a.proposeConfChange({ type: 'addLearner', nodeId: 'l1', context: '' });
  assert.throws(() => a.proposeConfChange({ type: 'addLearner', nodeId: 'l2', context: '' }), { code: 'GRAFTD_CONF_CHANGE_IN_PROGRESS' });
  assert.equal(a.status().pendingConfIndex, index);
  c.stabilize();
  assert.deepEqual(a.confState().learners, ['l1']);
  assert.doesNotThrow(() => a.proposeConfChange({ type: 'addLearner', nodeId: 'l2', context: '' }));
});

test('a conf change takes effect when advance() acknowledges its committed entry', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const b = c.node('b');
  c.core('a').proposeConfChange({ type: 'addLearner', nodeId: 'l', context: '' });
  // Run everything except b's final processing of the committed entry.
  for (let i = 0; i < 20; i++) {
    c.process('a');
    c.process('c');
    const q = c.queue;
    c.queue = [];
    for (const m of q) c.deliver(m);
  }
  assert.deepEqual(b.core.confState().learners, []);
  let sawCommitted = false;
  while (b.core.hasReady()) {
    const rd = b.core.ready();
    b.storage.save(rd.hardState, rd.entries);
    if (rd.committedEntries.some((e) => e.type === 'conf')) {
      sawCommitted = true;
      assert.deepEqual(b.core.confState().learners, [], 'not before advance');
    }
    b.core.advance(rd);
  }
  assert.ok(sawCommitted);
  assert.deepEqual(b.core.confState().learners, ['l']);
});

test('invalid changes are refused with InvalidConfChangeError', () => {
  const c = new Cluster(['a', 'b']);
  c.elect('a');
  const a = c.core('a');
  const bad = [
    { type: 'addVoter', nodeId: 'b' },
    { type: 'addLearner', nodeId: 'a' },
    { type: 'promoteLearner', nodeId: 'b' },
    { type: 'promoteLearner', nodeId: 'zz' },
    { type: 'removeNode', nodeId: 'zz' },
    { type: 'removeNode', nodeId: 'a' }, // the leader itself: transfer first
  ] as const;
  for (const ch of bad)
    assert.throws(() => a.proposeConfChange({ ...ch, context: '' }), { code: 'GRAFTD_INVALID_CONF_CHANGE' }, ch.type + ch.nodeId);
  a.proposeConfChange({ type: 'removeNode', nodeId: 'b', context: '' });
  c.stabilize();
  assert.deepEqual(a.confState().voters, ['a']);
  // Now a is the last voter.
  assert.throws(() => a.proposeConfChange({ type: 'removeNode', nodeId: 'a', context: '' }), { code: 'GRAFTD_INVALID_CONF_CHANGE' });
});

test('learners receive the log but are not counted in the commit quorum nor in elections', () => {
  const c = new Cluster(['a', 'b', 'l1', 'l2'], {}, ['a', 'b']);
  c.elect('a');
  c.core('a').proposeConfChange({ type: 'addLearner', nodeId: 'l1', context: '' });
  c.stabilize();
  c.core('a').proposeConfChange({ type: 'addLearner', nodeId: 'l2', context: '' });
  c.stabilize();
  assert.deepEqual(c.core('a').confState(), { voters: ['a', 'b'], learners: ['l1', 'l2'], context: { a: '', b: '', l1: '', l2: '' } });
  // b is down: a + two learners would be 3 of 4 members, but only voters count.
  c.drop = (m) => m.to === 'b' || m.from === 'b';
  const before = c.core('a').status().commit;
  const { index } = c.core('a').propose([cmd('x')]);
  c.stabilize();
  assert.equal(c.core('l1').status().lastIndex, index, 'learners get the log');
  assert.equal(c.core('a').status().commit, before, 'learners are not counted');
  assert.equal(c.core('a').status().progress.l1?.isLearner, true);
  // Learners never campaign, even when the leader is gone.
  c.isolate('a');
  for (let i = 0; i < 50; i++) c.tick(1, ['l1', 'l2']);
  assert.equal(c.core('l1').status().role, 'follower');
  assert.equal(c.delivered.filter((m) => m.type === 'preVote' || m.type === 'vote').filter((m) => m.from.startsWith('l')).length, 0);
  // Promoted, a learner counts.
  c.heal();
  c.tick(2);
  c.core('a').proposeConfChange({ type: 'promoteLearner', nodeId: 'l1', context: '' });
  c.stabilize();
  assert.deepEqual(c.core('a').confState().voters, ['a', 'b', 'l1']);
  c.drop = (m) => m.to === 'b' || m.from === 'b';
  const { index: i2 } = c.core('a').propose([cmd('y')]);
  c.stabilize();
  assert.equal(c.core('a').status().commit, i2, 'a + l1 are a majority of 3 voters');
});

test('after a restart, confState reflects the conf entries up to config.applied', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.core('a').proposeConfChange({ type: 'addLearner', nodeId: 'l', context: 'ctx' });
  c.stabilize();
  const { storage } = c.node('b');
  const applied = c.core('b').status().applied;
  const restarted = createRaft({ id: 'b', random: seededRandom(5), applied }, storage);
  assert.deepEqual(restarted.confState().learners, ['l']);
  assert.equal(restarted.confState().context.l, 'ctx');
  const fresh = createRaft({ id: 'b', random: seededRandom(5), applied: 0 }, storage);
  assert.deepEqual(fresh.confState().voters, [], 'nothing applied yet: the conf entries are re-applied through Ready');
});

test('a removed follower stops campaigning; the rest keep committing', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.core('a').proposeConfChange({ type: 'removeNode', nodeId: 'c', context: '' });
  c.stabilize();
  assert.deepEqual(c.core('a').confState().voters, ['a', 'b']);
  c.isolate('c');
  for (let i = 0; i < 50; i++) c.tick(1, ['c']);
  assert.equal(c.core('c').status().role, 'follower');
  const { index } = c.core('a').propose([cmd('x')]);
  c.stabilize();
  assert.equal(c.core('a').status().commit, index);
});

test('a leader that applies its own removal hands leadership to a remaining voter and steps down', () => {
  // b proposes removing a, then a becomes leader and commits (and applies) its own removal.
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('b');
  c.isolate('b');
  c.core('b').proposeConfChange({ type: 'removeNode', nodeId: 'a', context: '' });
  c.drop = (m) => (m.from === 'b' && m.to === 'c') || (m.from === 'a' && m.to === 'b');
  c.stabilize(); // a receives the entry (b does not learn it), c does not
  assert.equal(c.core('a').status().lastIndex, c.core('b').status().lastIndex);
  c.isolate('b');
  const role = (id: string) => c.core(id).status().role;
  for (let i = 0; i < 60 && role('a') !== 'leader'; i++) c.tick(1, ['a', 'c']);
  assert.equal(role('a'), 'leader');
  c.heal();
  c.tick(25); // the hand-off is retried every election timeout
  for (const id of ['a', 'b', 'c']) assert.deepEqual(c.core(id).confState().voters, ['b', 'c'], id);
  assert.equal(role('a'), 'follower');
  const next = c.leader();
  assert.ok(next === 'b' || next === 'c', `leader is ${next}`);
  const { index } = c.core(next).propose([cmd('after')]);
  c.tick(1);
  assert.equal(c.core(next).status().commit, index);
});
