/** Log replication rules: Figure 8, conflicts, fast backtracking, pipelining bounds, batching, backpressure. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRaft } from '../../src/raft/index.ts';
import type { Entry, Message } from '../../src/raft/index.ts';
import { Cluster, cmd, seededRandom, storageWithLog, text, msg } from './helpers.ts';

const FIVE = ['s1', 's2', 's3', 's4', 's5'];

/**
 * Raft paper Figure 8, state (c) (indices shifted by the 5 bootstrap entries): S1 leads term 4 with
 * index 6 of term 2, which S2 also has; S5 has index 6 of term 3. S1 gets index 6 onto S3 (now on a
 * majority: S1, S2, S3) but its no-op (index 7, term 4) only onto S2.
 */
function figure8(faults: { commitPreviousTermByCounting?: boolean }) {
  const storages = new Map([
    ['s1', storageWithLog(FIVE, [2], 3)],
    ['s2', storageWithLog(FIVE, [2], 3)],
    ['s3', storageWithLog(FIVE, [], 3)],
    ['s4', storageWithLog(FIVE, [], 3)],
    ['s5', storageWithLog(FIVE, [3], 3)],
  ]);
  // One entry per message (entries carry 2 bytes), no lease so that S5 may win later.
  const c = new Cluster(FIVE, { maxMsgBytes: 1, preVote: false, checkQuorum: false, testFaults: faults }, FIVE, storages);
  c.rewrite = (m) => (m.type === 'app' && m.to !== 's2' ? { ...m, entries: m.entries.filter((e) => e.index < 7) } : m);
  c.drop = (m) => m.type === 'app' && (m.to === 's4' || m.to === 's5'); // S5 keeps its term-3 entry
  c.elect('s1');
  assert.equal(c.core('s1').status().term, 4);
  return c;
}

test('Figure 8: a leader does not commit an entry of a previous term by counting replicas', () => {
  const c = figure8({});
  const st = c.core('s1').status();
  assert.equal(st.progress.s2?.match, 7);
  assert.equal(st.progress.s3?.match, 6);
  assert.equal(st.commit, 5, 'index 6 (term 2) is on a majority but must not be committed');
  // Once the no-op of term 4 reaches a majority, both commit.
  c.rewrite = (m) => m;
  c.heal();
  c.tick(2);
  assert.equal(c.core('s1').status().commit, 7);
  assert.deepEqual(
    c
      .node('s1')
      .applied.slice(-2)
      .map((e) => e.term),
    [2, 4],
  );
});

test('Figure 8 with the commitPreviousTermByCounting fault: the "committed" entry is later overwritten', () => {
  const c = figure8({ commitPreviousTermByCounting: true });
  assert.equal(c.core('s1').status().commit, 6, 'the fault commits index 6 by counting');
  assert.equal(c.node('s1').applied.at(-1)?.term, 2);
  // S1 crashes; S5 (last term 3) wins with votes from S3 and S4 and overwrites index 6.
  c.nodes.delete('s1');
  c.rewrite = (m) => m;
  c.heal();
  while (c.core('s5').status().role !== 'candidate') c.core('s5').tick();
  // Bounded: followers that wrongly committed index 6 now answer in a loop the leader cannot resolve.
  c.run(50);
  assert.equal(c.core('s5').status().role, 'leader');
  assert.equal(c.node('s5').storage.entries(6, 7)[0]?.term, 3, 'the new leader keeps its own entry at 6');
  assert.equal(c.node('s4').applied.find((e) => e.index === 6)?.term, 3, 'S4 applies a different entry at 6 than S1: safety violated');
});

test('a follower truncates a conflicting suffix and appends the leader entries', () => {
  const s = storageWithLog(['a', 'b', 'c'], [2, 2, 2], 3);
  const core = createRaft({ id: 'b', random: seededRandom(1), applied: 3, startupQuietTicks: 0 }, s);
  const ents: Entry[] = [
    { index: 5, term: 3, type: 'normal', data: cmd('x5') },
    { index: 6, term: 3, type: 'normal', data: cmd('x6') },
  ];
  core.step(msg('app', 'a', 'b', 3, { index: 4, logTerm: 2, entries: ents, commit: 3 }));
  const rd = core.ready();
  assert.deepEqual(
    rd.entries.map((e) => [e.index, e.term]),
    [
      [5, 3],
      [6, 3],
    ],
  );
  s.save(rd.hardState, rd.entries);
  core.advance(rd);
  assert.equal(s.lastIndex(), 6);
  assert.deepEqual(
    s.entries(4, 7).map((e) => e.term),
    [2, 3, 3],
  );
  assert.equal(rd.messages[0]?.type, 'appResp');
  assert.equal(rd.messages[0]?.index, 6);
  assert.equal(rd.messages[0]?.reject, false);
  // Entries that match are not rewritten (an old, duplicated append must not truncate newer ones).
  core.step(msg('app', 'a', 'b', 3, { index: 4, logTerm: 2, entries: ents.slice(0, 1), commit: 3 }));
  assert.equal(core.status().lastIndex, 6);
});

test('fast backtracking: a follower rejection skips a whole conflicting term', () => {
  // Leader log: bootstrap(3) + terms [2,2,5,5,5,5]; follower: bootstrap + [2,2,3,3,3,3,3,3,3,3].
  const leaderStore = storageWithLog(['a', 'b', 'c'], [2, 2, 5, 5, 5, 5], 5);
  const followerStore = storageWithLog(['a', 'b', 'c'], [2, 2, 3, 3, 3, 3, 3, 3, 3, 3], 3);
  const c = new Cluster(
    ['a', 'b', 'c'],
    {},
    ['a', 'b', 'c'],
    new Map([
      ['a', leaderStore],
      ['b', followerStore],
      ['c', storageWithLog(['a', 'b', 'c'], [2, 2, 5], 5)],
    ]),
  );
  c.elect('a');
  const rejects = c.delivered.filter((m) => m.type === 'appResp' && m.from === 'b' && m.reject);
  // One by one it would take 4 rejections (9, 8, 7, 6); with hints one round trip suffices.
  assert.equal(rejects.length, 1);
  const first = rejects[0] as Message;
  assert.equal(first.rejectHint, 9, 'hint: the last index with term ≤ the leader prevLogTerm');
  assert.equal(first.logTerm, 3, 'and its term, so the leader can skip all its entries of later terms');
  assert.deepEqual(
    c
      .node('b')
      .storage.entries(4, c.node('b').storage.lastIndex() + 1)
      .map((e) => e.term),
    [2, 2, 5, 5, 5, 5, 6],
  );
});

test('replicate state keeps at most maxInflight appends in flight per follower', () => {
  const c = new Cluster(['a', 'b', 'c'], { maxInflight: 3, maxMsgBytes: 10 });
  c.elect('a');
  c.drop = (m) => m.type === 'appResp';
  for (let i = 0; i < 20; i++) {
    c.core('a').propose([cmd(`p${i}-0123456789`)]);
    c.stabilize();
  }
  const st = c.core('a').status();
  assert.equal(st.progress.b?.state, 'replicate');
  assert.equal(st.progress.b?.inflight, 3);
  const appsToB = c.delivered.filter((m) => m.type === 'app' && m.to === 'b' && m.entries.length > 0);
  // 1 for the no-op round + at most 3 more while every answer is lost (heartbeats stay off: no ticks).
  assert.ok(appsToB.length <= 4, `sent ${appsToB.length} appends to b`);
  c.heal();
  c.tick(3);
  assert.equal(c.core('a').status().progress.b?.match, c.core('a').status().lastIndex);
});

test('an append carries at most maxMsgBytes of entries (at least one entry)', () => {
  const c = new Cluster(['a', 'b', 'c'], { maxMsgBytes: 250 });
  c.elect('a');
  const big = new Uint8Array(100);
  c.core('a').propose(Array.from({ length: 10 }, () => big));
  c.stabilize();
  const apps = c.delivered.filter((m) => m.type === 'app' && m.to === 'b' && m.entries.length > 0).slice(1);
  assert.ok(apps.length >= 5);
  for (const m of apps) assert.ok(m.entries.length <= 2, `append with ${m.entries.length} entries of 100 bytes`);
  c.core('a').propose([new Uint8Array(1000)]);
  c.stabilize();
  assert.equal(c.core('b').status().commit, c.core('a').status().lastIndex, 'an entry bigger than the cap still goes out alone');
});

test('proposals made before the next ready() go out as one batch: one Ready.entries, one append per follower', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const a = c.core('a');
  const r1 = a.propose([cmd('x'), cmd('y')]);
  const r2 = a.propose([cmd('z')]);
  assert.equal(r2.index, r1.index + 2);
  const rd = a.ready();
  assert.deepEqual(
    rd.entries.map((e) => text(e)),
    ['x', 'y', 'z'],
  );
  const apps = rd.messages.filter((m) => m.type === 'app');
  assert.equal(apps.length, 2);
  for (const m of apps) assert.equal(m.entries.length, 3);
  a.advance(rd);
});

test('the leader counts itself only once its entries are durable (advance)', () => {
  const c = new Cluster(['a']);
  c.elect('a');
  const a = c.core('a');
  const { index } = a.propose([cmd('x')]);
  const rd = a.ready();
  assert.equal(a.status().commit, index - 1, 'not committed before persisted');
  c.node('a').storage.save(rd.hardState, rd.entries);
  a.advance(rd);
  assert.equal(a.status().commit, index);
  const rd2 = a.ready();
  assert.equal(rd2.committedEntries.at(-1)?.index, index);
  a.advance(rd2);
});

test('maxUncommittedBytes: proposals beyond the limit are dropped until entries commit', () => {
  const c = new Cluster(['a', 'b', 'c'], { maxUncommittedBytes: 100 });
  c.elect('a');
  c.isolate('a');
  const a = c.core('a');
  a.propose([new Uint8Array(60)]);
  assert.throws(() => a.propose([new Uint8Array(60)]), { code: 'GRAFTD_PROPOSAL_DROPPED' });
  c.heal();
  c.tick(2);
  assert.doesNotThrow(() => a.propose([new Uint8Array(60)]));
});

test('a follower refuses proposals with NotLeaderError naming the leader', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  assert.throws(() => c.core('b').propose([cmd('x')]), { code: 'GRAFTD_NOT_LEADER', leader: 'a' });
});

test('a restarted node keeps its term, vote and log, and catches up', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.core('a').propose([cmd('x')]);
  c.stabilize();
  const b = c.node('b');
  const before = b.core.status();
  c.add('b', b.storage, 99, { applied: 0 });
  const after = c.core('b').status();
  assert.equal(after.term, before.term);
  assert.equal(after.lastIndex, before.lastIndex);
  c.core('a').propose([cmd('y')]);
  c.tick(2);
  assert.equal(c.core('b').status().commit, c.core('a').status().commit);
  assert.deepEqual(c.core('b').confState().voters, ['a', 'b', 'c']);
});
