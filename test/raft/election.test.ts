/** Election rules: timeouts, voting, persist-before-send, PreVote, CheckQuorum, stale terms. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRaft, MemoryStorage, bootstrap } from '../../src/raft/index.ts';
import { Cluster, seededRandom, storageWithLog, msg } from './helpers.ts';

test('election timeout is randomized within [electionTicks, 2*electionTicks)', () => {
  const seen = new Set<number>();
  for (let seed = 1; seed <= 60; seed++) {
    const s = new MemoryStorage();
    bootstrap(s, ['a', 'b', 'c']);
    const core = createRaft({ id: 'a', random: seededRandom(seed), electionTicks: 10, preVote: false }, s);
    core.advance(core.ready()); // applies the bootstrap membership
    let ticks = 0;
    while (core.status().role === 'follower') {
      core.tick();
      ticks++;
      assert.ok(ticks < 20, 'campaigned too late');
    }
    assert.ok(ticks >= 10, `campaigned after ${ticks} ticks, before electionTicks`);
    seen.add(ticks);
  }
  assert.ok(seen.size > 3, `timeouts not randomized: ${[...seen]}`);
});

test('a three-node cluster elects exactly one leader, which commits a no-op of its term', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  assert.equal(c.leader(), 'a');
  const st = c.core('a').status();
  assert.equal(st.commit, 4);
  assert.equal(c.node('b').applied.at(-1)?.term, st.term);
  assert.equal(c.node('b').applied.at(-1)?.data.length, 0);
});

test('nodes outside the voter set never campaign (learner, fresh joiner)', () => {
  const c = new Cluster(['a', 'b', 'j'], {}, ['a', 'b']);
  c.elect('a');
  c.core('a').proposeConfChange({ type: 'addLearner', nodeId: 'l', context: '' });
  c.stabilize();
  c.isolate('a');
  for (let i = 0; i < 60; i++) {
    c.core('j').tick();
    c.stabilize();
  }
  assert.equal(c.core('j').status().role, 'follower');
  assert.equal(c.core('j').status().term, 0);
  assert.equal(c.delivered.filter((m) => m.from === 'j').length, 0);
});

test('vote is in the hard state of the same Ready as the vote response (persist before send)', () => {
  const s = storageWithLog(['a', 'b', 'c'], [], 1);
  const core = createRaft({ id: 'b', random: seededRandom(1), applied: 3, startupQuietTicks: 0 }, s);
  core.step(msg('vote', 'a', 'b', 2, { index: 3, logTerm: 1 }));
  const rd = core.ready();
  const resp = rd.messages.find((m) => m.type === 'voteResp');
  assert.ok(resp !== undefined && !resp.reject);
  assert.deepEqual(rd.hardState, { term: 2, vote: 'a', commit: 3 });
});

test('a node never votes twice in a term', () => {
  const s = storageWithLog(['a', 'b', 'c'], [], 1);
  const core = createRaft({ id: 'b', random: seededRandom(1), applied: 3, startupQuietTicks: 0 }, s);
  core.step(msg('vote', 'a', 'b', 2, { index: 3, logTerm: 1 }));
  core.step(msg('vote', 'c', 'b', 2, { index: 3, logTerm: 1 }));
  core.step(msg('vote', 'a', 'b', 2, { index: 3, logTerm: 1 })); // the same candidate again: fine
  const resps = core.ready().messages.filter((m) => m.type === 'voteResp');
  assert.deepEqual(
    resps.map((m) => [m.to, m.reject]),
    [
      ['a', false],
      ['c', true],
      ['a', false],
    ],
  );
  assert.equal(core.status().vote, 'a');
});

test('the voteTwice test fault grants a second vote in the same term', () => {
  const s = storageWithLog(['a', 'b', 'c'], [], 1);
  const core = createRaft({ id: 'b', random: seededRandom(1), applied: 3, startupQuietTicks: 0, testFaults: { voteTwice: true } }, s);
  core.step(msg('vote', 'a', 'b', 2, { index: 3, logTerm: 1 }));
  core.step(msg('vote', 'c', 'b', 2, { index: 3, logTerm: 1 }));
  const resps = core.ready().messages.filter((m) => m.type === 'voteResp');
  assert.deepEqual(
    resps.map((m) => m.reject),
    [false, false],
  );
});

test('votes go only to candidates whose log is at least as up to date', () => {
  const s = storageWithLog(['a', 'b', 'c'], [2, 2], 2);
  const core = createRaft({ id: 'b', random: seededRandom(1), applied: 3, startupQuietTicks: 0 }, s);
  core.step(msg('vote', 'a', 'b', 3, { index: 9, logTerm: 1 })); // longer but older last term
  core.step(msg('vote', 'c', 'b', 3, { index: 4, logTerm: 2 })); // same last term, shorter
  const resps = core.ready().messages.filter((m) => m.type === 'voteResp');
  assert.deepEqual(
    resps.map((m) => m.reject),
    [true, true],
  );
  assert.equal(core.status().vote, '');
});

test('stale-term messages are ignored; a stale leader is told the newer term', () => {
  const s = storageWithLog(['a', 'b', 'c'], [], 5);
  const core = createRaft({ id: 'b', random: seededRandom(1), applied: 3, startupQuietTicks: 0 }, s);
  core.step(msg('vote', 'a', 'b', 4, { index: 9, logTerm: 4 }));
  core.step(msg('app', 'a', 'b', 4, { index: 3, logTerm: 1, entries: [{ index: 4, term: 4, type: 'normal', data: new Uint8Array(1) }] }));
  const rd = core.ready();
  assert.equal(core.status().term, 5);
  assert.equal(core.status().lastIndex, 3, 'stale append must not change the log');
  assert.equal(rd.messages.filter((m) => m.type === 'voteResp').length, 0);
  const answer = rd.messages.find((m) => m.type === 'appResp');
  assert.equal(answer?.term, 5);
  // The stale leader steps down on hearing the newer term.
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const t = c.core('a').status().term;
  c.core('a').step(msg('appResp', 'b', 'a', t + 3));
  assert.equal(c.core('a').status().role, 'follower');
  assert.equal(c.core('a').status().term, t + 3);
});

test('a partitioned node rejoining with PreVote does not disrupt the leader', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const term = c.core('a').status().term;
  c.isolate('c');
  for (let i = 0; i < 100; i++) c.tick(1);
  assert.equal(c.core('c').status().term, term, 'PreVote must not inflate the isolated node term');
  assert.equal(c.core('a').status().role, 'leader');
  c.heal();
  c.tick(5);
  assert.equal(c.leader(), 'a');
  assert.equal(c.core('a').status().term, term);
  assert.equal(c.core('c').status().leader, 'a');
});

test('without PreVote the same partition would disrupt the leader (the test can fail)', () => {
  const c = new Cluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
  c.elect('a');
  const term = c.core('a').status().term;
  c.isolate('c');
  for (let i = 0; i < 100; i++) c.tick(1);
  assert.ok(c.core('c').status().term > term);
  c.heal();
  c.tick(30);
  assert.ok(c.core('a').status().term > term, 'the rejoining node forced a new term');
});

test('CheckQuorum: an isolated leader steps down within an election timeout or two', () => {
  const c = new Cluster(['a', 'b', 'c'], { electionTicks: 10 });
  c.elect('a');
  c.isolate('a');
  let ticks = 0;
  while (c.core('a').status().role === 'leader') {
    c.tick(1, ['a']);
    ticks++;
    assert.ok(ticks <= 20, 'isolated leader did not step down');
  }
  assert.equal(c.core('a').status().role, 'follower');
  // b and c elect a new leader among themselves.
  for (let i = 0; i < 60 && c.leader() !== 'b' && c.leader() !== 'c'; i++) c.tick(1, ['b', 'c']);
  assert.ok(['b', 'c'].includes(c.leader()));
});

test('a node that heard from its leader recently ignores vote requests (lease) unless it is a transfer', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const term = c.core('a').status().term;
  const b = c.core('b');
  b.step(msg('vote', 'c', 'b', term + 1, { index: 100, logTerm: term }));
  assert.equal(b.status().term, term, 'in lease: ignored');
  b.step(msg('vote', 'c', 'b', term + 1, { index: 100, logTerm: term, context: 'transfer' }));
  assert.equal(b.status().term, term + 1);
  assert.equal(b.status().vote, 'c');
});

test('PreVote does not change the term or the vote of the voters', () => {
  const s = storageWithLog(['a', 'b', 'c'], [], 1);
  const core = createRaft({ id: 'b', random: seededRandom(1), applied: 3, startupQuietTicks: 0 }, s);
  core.step(msg('preVote', 'a', 'b', 2, { index: 3, logTerm: 1 }));
  const rd = core.ready();
  const resp = rd.messages.find((m) => m.type === 'preVoteResp');
  assert.equal(resp?.reject, false);
  assert.equal(resp?.term, 2);
  assert.equal(core.status().term, 1);
  assert.equal(core.status().vote, '');
});

test('a restarted node ignores vote requests for startupQuietTicks (it may have promised a leader not to vote)', () => {
  const s = storageWithLog(['a', 'b', 'c'], [], 1);
  const core = createRaft({ id: 'b', random: seededRandom(1), applied: 3, electionTicks: 10 }, s);
  core.step(msg('vote', 'a', 'b', 2, { index: 3, logTerm: 1 }));
  assert.equal(core.status().term, 1, 'ignored during the quiet period');
  core.step(msg('vote', 'a', 'b', 2, { index: 3, logTerm: 1, context: 'transfer' }));
  assert.equal(core.status().vote, 'a', 'a leadership transfer is not held up');
  const s2 = storageWithLog(['a', 'b', 'c'], [], 1);
  const core2 = createRaft({ id: 'b', random: seededRandom(1), applied: 3, electionTicks: 10 }, s2);
  for (let i = 0; i < 10; i++) core2.tick();
  core2.step(msg('vote', 'c', 'b', 2, { index: 3, logTerm: 1 }));
  assert.equal(core2.status().vote, 'c', 'answered after the quiet period');
});

test('the only voter campaigns at its first tick; a member of a larger cluster waits its election timeout', () => {
  const one = new Cluster(['a']);
  one.stabilize(); // the first Ready applies the bootstrap entry (the configuration)
  one.tick(1);
  assert.equal(one.core('a').status().role, 'leader', 'a one-node cluster is led after one tick');
  const three = new Cluster(['a', 'b', 'c']);
  three.stabilize();
  three.tick(1, ['a']);
  assert.equal(three.core('a').status().role, 'follower', 'with other voters the randomized timeout (≥ electionTicks) applies');
});
