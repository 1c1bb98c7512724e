/** Observer events and the invariants the core asserts about its own use. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRaft, MemoryStorage, bootstrap } from '../../src/raft/index.ts';
import type { RaftEvent } from '../../src/raft/index.ts';
import { Cluster, cmd, seededRandom } from './helpers.ts';

test('onEvent reports role changes, votes, messages, commits and conf changes', () => {
  const events: RaftEvent[] = [];
  const c = new Cluster(['a', 'b', 'c']);
  const { storage } = c.node('a');
  c.add('a', storage, 7, { onEvent: (e) => events.push(e) });
  c.elect('a');
  c.core('a').propose([cmd('x')]);
  c.stabilize();
  c.core('a').proposeConfChange({ type: 'addLearner', nodeId: 'l', context: '' });
  c.stabilize();
  const kinds = new Set(events.map((e) => e.kind));
  for (const k of ['role', 'vote', 'send', 'recv', 'commit', 'confChange']) assert.ok(kinds.has(k as RaftEvent['kind']), `no ${k} event`);
  const roles = events.filter((e) => e.kind === 'role').map((e) => (e.kind === 'role' ? e.role : ''));
  assert.deepEqual(roles.slice(-3), ['preCandidate', 'candidate', 'leader']);
  const commits = events.flatMap((e) => (e.kind === 'commit' ? [e.index] : []));
  assert.deepEqual(
    commits,
    [...commits].sort((x, y) => x - y),
    'commit events increase',
  );
  assert.ok(events.some((e) => e.kind === 'confChange' && e.change.nodeId === 'l'));
});

test('ready() twice without advance() is refused; advance() needs the Ready it was given', () => {
  const s = new MemoryStorage();
  bootstrap(s, ['a']);
  const core = createRaft({ id: 'a', random: seededRandom(1) }, s);
  assert.equal(core.hasReady(), true);
  const rd = core.ready();
  assert.equal(core.hasReady(), false, 'nothing more to take while a Ready is outstanding');
  assert.throws(() => core.ready(), { code: 'GRAFTD_INTERNAL' });
  assert.throws(() => core.advance({ ...rd }), { code: 'GRAFTD_INTERNAL' });
  core.advance(rd);
});

test('bad configuration is refused with GRAFTD_BAD_CONFIG', () => {
  const s = new MemoryStorage();
  assert.throws(() => createRaft({ id: '', random: seededRandom(1) }, s), { code: 'GRAFTD_BAD_CONFIG' });
  assert.throws(() => createRaft({ id: 'a', random: seededRandom(1), electionTicks: 2, heartbeatTicks: 2 }, s), {
    code: 'GRAFTD_BAD_CONFIG',
  });
  assert.throws(() => createRaft({ id: 'a', random: seededRandom(1), maxInflight: 0 }, s), { code: 'GRAFTD_BAD_CONFIG' });
});

test('a restart with applied beyond the persisted commit raises the commit to applied', () => {
  const s = new MemoryStorage();
  bootstrap(s, ['a', 'b', 'c']);
  s.save({ term: 1, vote: '', commit: 1 }, []);
  const core = createRaft({ id: 'a', random: seededRandom(1), applied: 3, startupQuietTicks: 0 }, s);
  assert.equal(core.status().commit, 3);
  assert.deepEqual(core.confState().voters, ['a', 'b', 'c']);
  assert.throws(() => createRaft({ id: 'a', random: seededRandom(1), applied: 9 }, s), { code: 'GRAFTD_INTERNAL' });
});
