/**
 * Role and vote events say why: the reason of every role change (election timeout, won the
 * pre-vote/election with the tally, higher term from X, lost quorum, leadership transfer) and of
 * every refused vote (already voted, log behind).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRaft } from '../../src/raft/index.ts';
import type { RaftEvent } from '../../src/raft/index.ts';
import { Cluster, msg, seededRandom, storageWithLog } from './helpers.ts';

type RoleEvent = Extract<RaftEvent, { kind: 'role' }>;
type VoteEvent = Extract<RaftEvent, { kind: 'vote' }>;

function recorder() {
  const events: RaftEvent[] = [];
  return {
    events,
    onEvent: (e: RaftEvent) => events.push(e),
    roles: () => events.filter((e): e is RoleEvent => e.kind === 'role'),
    votes: () => events.filter((e): e is VoteEvent => e.kind === 'vote'),
  };
}

test('an election: timeout, won the pre-vote, won the election, each with its tally; the voters grant without a reason', () => {
  const a = recorder();
  const b = recorder();
  const c = new Cluster(['a', 'b', 'c'], { preVote: true });
  c.add('a', c.node('a').storage, 7, { onEvent: a.onEvent });
  c.add('b', c.node('b').storage, 8, { onEvent: b.onEvent });
  c.elect('a');
  const roles = a.roles();
  assert.equal(roles[0]?.reason, 'started');
  const last = roles.slice(-3);
  assert.deepEqual(
    last.map((e) => e.role),
    ['preCandidate', 'candidate', 'leader'],
  );
  assert.match(last[0]!.reason, /^election timeout \(no leader\)$/);
  assert.match(last[1]!.reason, /^won the pre-vote \([23] of 3 votes\)$/);
  assert.match(last[2]!.reason, /^won the election \([23] of 3 votes\)$/);
  const granted = b.votes().filter((v) => v.candidate === 'a');
  assert.ok(granted.length >= 2, 'a pre-vote and a vote');
  for (const v of granted) {
    assert.equal(v.granted, true);
    assert.equal(v.reason, '');
  }
});

test('a leader that sees a higher term steps down naming the term, the sender and the message (and a transfer)', () => {
  const a = recorder();
  const c = new Cluster(['a', 'b', 'c'], { preVote: true });
  c.add('a', c.node('a').storage, 7, { onEvent: a.onEvent });
  c.elect('a');
  const term = c.core('a').status().term;
  const last = c.core('a').status().lastIndex;
  c.core('a').step(msg('vote', 'b', 'a', term + 1, { index: last, logTerm: term, context: 'transfer' }));
  const down = a.roles().at(-1)!;
  assert.equal(down.role, 'follower');
  assert.equal(down.reason, `higher term ${term + 1} from b (vote, leadership transfer)`);
  c.core('a').step(msg('heartbeat', 'c', 'a', term + 2));
  assert.equal(a.roles().at(-1)!.reason, `higher term ${term + 2} from leader c`);
});

test('a leader cut off from its followers steps down with "lost quorum (CheckQuorum)"', () => {
  let now = 0;
  const a = recorder();
  const c = new Cluster(['a', 'b', 'c'], { preVote: true, checkQuorum: true, clock: () => now, tickMs: 10 });
  c.add('a', c.node('a').storage, 7, { onEvent: a.onEvent });
  c.elect('a');
  c.isolate('a');
  for (let i = 0; i < 200 && c.core('a').status().role === 'leader'; i++) {
    now += 10;
    c.tick(1, ['a']);
  }
  const down = a.roles().at(-1)!;
  assert.equal(down.role, 'follower');
  assert.match(down.reason, /^lost quorum \(CheckQuorum\)/);
});

test('a refused vote says why: already voted for another, or the candidate is behind', () => {
  const r = recorder();
  const s = storageWithLog(['a', 'b', 'c'], [], 1);
  const core = createRaft({ id: 'b', random: seededRandom(1), applied: 3, startupQuietTicks: 0, onEvent: r.onEvent }, s);
  core.step(msg('vote', 'a', 'b', 2, { index: 3, logTerm: 1 }));
  core.step(msg('vote', 'c', 'b', 2, { index: 3, logTerm: 1 }));
  core.step(msg('vote', 'c', 'b', 3, { index: 1, logTerm: 1 }));
  const votes = r.votes();
  assert.deepEqual(
    votes.map((v) => [v.candidate, v.term, v.granted]),
    [
      ['a', 2, true],
      ['c', 2, false],
      ['c', 3, false],
    ],
  );
  assert.equal(votes[1]!.reason, 'already voted for a in term 2');
  assert.match(votes[2]!.reason, /^the candidate's log \(last index 1, term 1\) is behind ours \(last index 3, term 1\)$/);
});
