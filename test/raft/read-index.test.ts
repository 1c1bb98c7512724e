/** ReadIndex: safe reads share a heartbeat round; not answered before a commit of the leader's term; lease reads. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster, storageWithLog } from './helpers.ts';

test('safe reads issued before the next Ready share one heartbeat round and carry the commit index', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const a = c.core('a');
  const commit = a.status().commit;
  a.readIndex('r1', 'safe');
  a.readIndex('r2', 'safe');
  const rd = a.ready();
  const hbs = rd.messages.filter((m) => m.type === 'heartbeat');
  assert.equal(hbs.length, 2, 'one heartbeat per follower for both reads');
  assert.ok(hbs.every((m) => m.context !== '' && m.context === hbs[0]?.context));
  assert.equal(rd.readStates.length, 0, 'not answered before a quorum acknowledged');
  c.node('a').storage.save(rd.hardState, rd.entries);
  a.advance(rd);
  for (const m of rd.messages) c.queue.push(m);
  c.stabilize();
  assert.deepEqual(c.node('a').readStates, [
    { ctx: 'r1', index: commit },
    { ctx: 'r2', index: commit },
  ]);
});

test('a read is not answered while a quorum does not acknowledge the round', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.isolate('a');
  c.core('a').readIndex('r', 'safe');
  c.stabilize();
  assert.equal(c.node('a').readStates.length, 0);
  c.heal();
  c.tick(1, ['a']); // the next round (periodic heartbeat) does not carry the read ctx...
  c.core('a').readIndex('r2', 'safe'); // ...but a later read's round confirms the earlier ones too
  c.stabilize();
  assert.deepEqual(
    c.node('a').readStates.map((r) => r.ctx),
    ['r', 'r2'],
  );
});

test('ReadIndex is not answered before the leader has committed an entry of its own term', () => {
  // a becomes leader of term 3 with an uncommitted entry of term 2; its no-op cannot reach anyone.
  const ids = ['a', 'b', 'c'];
  const storages = new Map([
    ['a', storageWithLog(ids, [2], 2)],
    ['b', storageWithLog(ids, [2], 2)],
    ['c', storageWithLog(ids, [], 2)],
  ]);
  const c = new Cluster(ids, {}, ids, storages);
  c.drop = (m) => m.type === 'app' && m.entries.length > 0;
  c.elect('a');
  const a = c.core('a');
  assert.equal(a.status().commit, 3);
  a.readIndex('early', 'safe');
  a.readIndex('early-lease', 'lease');
  c.tick(3);
  assert.equal(c.node('a').readStates.length, 0, 'answered before an entry of the term committed');
  c.heal();
  c.tick(2);
  const st = a.status();
  assert.equal(st.commit, 5);
  assert.deepEqual(
    c.node('a').readStates.map((r) => [r.ctx, r.index]),
    [
      ['early', 5],
      ['early-lease', 5],
    ],
  );
});

test('a single-voter cluster answers reads without a round', () => {
  const c = new Cluster(['a']);
  c.elect('a');
  c.core('a').readIndex('r', 'safe');
  const rd = c.core('a').ready();
  assert.deepEqual(rd.readStates, [{ ctx: 'r', index: c.core('a').status().commit }]);
  assert.equal(rd.messages.length, 0);
  c.core('a').advance(rd);
});

test('lease reads are answered at once after a confirmed round, and fall back to a round when the lease expired', () => {
  const c = new Cluster(['a', 'b', 'c'], { electionTicks: 10 });
  c.elect('a');
  const a = c.core('a');
  a.readIndex('confirm', 'safe');
  c.stabilize();
  a.readIndex('l1', 'lease');
  const rd = a.ready();
  assert.deepEqual(
    rd.readStates.map((r) => r.ctx),
    ['l1'],
  );
  assert.equal(rd.messages.filter((m) => m.type === 'heartbeat' && m.context !== '').length, 0, 'no round needed');
  a.advance(rd);
  // Without acknowledgements the lease runs out and a lease read needs a round again.
  c.isolate('a');
  for (let i = 0; i < 9; i++) a.tick();
  c.stabilize();
  a.readIndex('l2', 'lease');
  c.stabilize();
  assert.deepEqual(
    c.node('a').readStates.map((r) => r.ctx),
    ['confirm'],
    'l2 waits for a round once the lease expired',
  );
  c.heal();
  c.tick(1);
  assert.deepEqual(
    c.node('a').readStates.map((r) => r.ctx),
    ['confirm'],
    'plain heartbeats do not answer it either',
  );
  a.readIndex('s', 'safe');
  c.stabilize();
  assert.deepEqual(
    c.node('a').readStates.map((r) => r.ctx),
    ['confirm', 'l2', 's'],
  );
});

test('lease reads are not served from the lease while CheckQuorum is off', () => {
  const c = new Cluster(['a', 'b', 'c'], { checkQuorum: false });
  c.elect('a');
  const a = c.core('a');
  a.readIndex('confirm', 'safe');
  c.stabilize();
  c.isolate('a');
  a.readIndex('l', 'lease');
  c.stabilize();
  assert.deepEqual(
    c.node('a').readStates.map((r) => r.ctx),
    ['confirm'],
  );
});

test('the readIndexWithoutQuorum fault answers at once, even when isolated', () => {
  const c = new Cluster(['a', 'b', 'c'], { testFaults: { readIndexWithoutQuorum: true } });
  c.elect('a');
  c.isolate('a');
  c.core('a').readIndex('r', 'safe');
  c.stabilize();
  assert.equal(c.node('a').readStates.length, 1);
});

test('readIndex on a follower throws NotLeaderError', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  assert.throws(() => c.core('b').readIndex('r', 'safe'), { code: 'GRAFTD_NOT_LEADER', leader: 'a' });
});
