/** Compaction and snapshots: the leader sends one when a follower needs compacted entries; the follower installs it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRaft } from '../../src/raft/index.ts';
import type { Message } from '../../src/raft/index.ts';
import { Cluster, cmd, seededRandom, storageWithLog } from './helpers.ts';

function compactLeader(c: Cluster, id: string, trailing: number): number {
  const n = c.node(id);
  const applied = n.core.status().applied;
  n.storage.createSnapshot({ index: applied, term: n.storage.term(applied), confState: n.core.confState() });
  n.storage.compact(applied - trailing);
  return applied;
}

test('a follower behind the compacted log gets a snapshot, installs it and catches up', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.isolate('c');
  for (let i = 0; i < 10; i++) c.core('a').propose([cmd(`v${i}`)]);
  c.stabilize();
  const snapIndex = compactLeader(c, 'a', 2);
  assert.equal(c.node('a').storage.firstIndex(), snapIndex - 1);
  c.heal();
  c.delivered = [];
  c.tick(2);
  const snap = c.delivered.find((m) => m.type === 'snap') as Message;
  assert.equal(snap.snapshot?.index, snapIndex);
  assert.deepEqual(snap.snapshot?.confState.voters, ['a', 'b', 'c']);
  const readyWithSnap = c.node('c').readies.find((r) => r.snapshot !== null);
  assert.equal(readyWithSnap?.snapshot?.index, snapIndex);
  assert.ok(
    readyWithSnap?.committedEntries.every((e) => e.index > snapIndex),
    'entries covered by the snapshot are not applied again',
  );
  const cs = c.core('c').status();
  assert.equal(cs.applied, c.core('a').status().commit);
  assert.equal(c.node('c').storage.snapshotMeta().index, snapIndex);
  assert.equal(c.core('a').status().progress.c?.state, 'replicate');
  // The snapshot's response reported index = meta.index.
  assert.ok(c.delivered.some((m) => m.type === 'appResp' && m.from === 'c' && m.index === snapIndex && !m.reject));
});

test('a follower installing a snapshot discards its conflicting log and takes the snapshot membership', () => {
  const ids = ['a', 'b', 'c'];
  const s = storageWithLog(ids, [2, 2, 2], 2);
  const core = createRaft({ id: 'c', random: seededRandom(1), applied: 3, startupQuietTicks: 0 }, s);
  const meta = { index: 8, term: 3, confState: { voters: ['a', 'b', 'c'], learners: ['l'], context: { a: '', b: '', c: '', l: '' } } };
  const m: Message = {
    type: 'snap',
    from: 'a',
    to: 'c',
    term: 3,
    logTerm: 3,
    index: 8,
    entries: [],
    commit: 8,
    reject: false,
    rejectHint: 0,
    context: '',
    snapshot: meta,
  };
  core.step(m);
  const rd = core.ready();
  assert.deepEqual(rd.snapshot, meta);
  assert.equal(rd.hardState?.commit, 8);
  assert.equal(rd.messages[0]?.type, 'appResp');
  assert.equal(rd.messages[0]?.index, 8);
  assert.equal(rd.committedEntries.length, 0);
  assert.deepEqual(core.confState().learners, ['l']);
  s.applySnapshot(rd.snapshot as typeof meta);
  s.save(rd.hardState, rd.entries);
  core.advance(rd);
  const st = core.status();
  assert.equal(st.lastIndex, 8);
  assert.equal(st.firstIndex, 9);
  assert.equal(st.applied, 8);
  assert.equal(s.lastIndex(), 8);
});

test('a snapshot whose last entry the follower already holds only fast-forwards its commit', () => {
  const ids = ['a', 'b', 'c'];
  const s = storageWithLog(ids, [2, 2, 2], 2);
  const core = createRaft({ id: 'c', random: seededRandom(1), applied: 3, startupQuietTicks: 0 }, s);
  const meta = { index: 5, term: 2, confState: { voters: ids, learners: [], context: { a: '', b: '', c: '' } } };
  core.step({
    type: 'snap',
    from: 'a',
    to: 'c',
    term: 2,
    logTerm: 2,
    index: 5,
    entries: [],
    commit: 5,
    reject: false,
    rejectHint: 0,
    context: '',
    snapshot: meta,
  });
  const rd = core.ready();
  assert.equal(rd.snapshot, null);
  assert.equal(core.status().lastIndex, 6, 'entries after the snapshot are kept');
  assert.equal(rd.hardState?.commit, 5);
  assert.deepEqual(
    rd.committedEntries.map((e) => e.index),
    [4, 5],
  );
  assert.equal(rd.messages[0]?.index, 5);
  core.advance(rd);
});

test('reportSnapshot(false) sends the follower back to probing; a new snapshot is sent', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.isolate('c');
  for (let i = 0; i < 5; i++) c.core('a').propose([cmd(`v${i}`)]);
  c.stabilize();
  compactLeader(c, 'a', 0);
  c.drop = (m) => m.type === 'snap';
  c.tick(2);
  assert.equal(c.core('a').status().progress.c?.state, 'snapshot');
  c.core('a').reportSnapshot('c', false);
  assert.equal(c.core('a').status().progress.c?.state, 'probe');
  c.heal();
  c.tick(2);
  assert.equal(c.core('c').status().commit, c.core('a').status().commit);
});

test('compacted entries cannot be read; the commit and terms at the compaction point stay known', () => {
  const c = new Cluster(['a']);
  c.elect('a');
  for (let i = 0; i < 5; i++) c.core('a').propose([cmd(`v${i}`)]);
  c.stabilize();
  const idx = compactLeader(c, 'a', 0);
  const st = c.core('a').status();
  assert.equal(st.firstIndex, idx + 1);
  assert.equal(st.snapshotIndex, idx);
  c.core('a').propose([cmd('after')]);
  c.stabilize();
  assert.equal(c.core('a').status().commit, idx + 1);
});

test('a snapshot neither acknowledged nor reported on is sent again after a few election timeouts', () => {
  const c = new Cluster(['a', 'b', 'c'], { electionTicks: 10 });
  c.elect('a');
  c.isolate('c');
  for (let i = 0; i < 5; i++) c.core('a').propose([cmd(`v${i}`)]);
  c.stabilize();
  compactLeader(c, 'a', 0);
  let dropped = 0;
  c.drop = (m) => m.type === 'snap' && dropped++ === 0; // the first one is lost, nobody reports it
  c.tick(60);
  assert.equal(dropped, 2);
  assert.equal(c.core('c').status().commit, c.core('a').status().commit);
});
