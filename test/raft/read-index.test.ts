/** ReadIndex: safe reads share a heartbeat round; not answered before a commit of the leader's term; lease reads. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster, type NodeOptions, msg, storageWithLog } from './helpers.ts';

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
  a.readIndex('s', 'safe');
  c.stabilize();
  assert.deepEqual(
    c.node('a').readStates.map((r) => r.ctx),
    ['confirm', 'l2', 's'],
  );
});

test('periodic heartbeats are rounds: their acknowledgements answer waiting reads and renew the lease', () => {
  const c = new Cluster(['a', 'b', 'c'], { electionTicks: 10 });
  c.elect('a');
  const a = c.core('a');
  a.readIndex('confirm', 'safe');
  c.stabilize();
  // Well past one lease (8.5 ticks) with heartbeats answered: the lease was renewed all along.
  c.tick(20, ['a']);
  a.readIndex('l', 'lease');
  const rd = a.ready();
  assert.deepEqual(
    rd.readStates.map((r) => r.ctx),
    ['l'],
  );
  a.advance(rd);
  // A read waiting for its round is answered by the next periodic heartbeat's acknowledgements.
  c.drop = (m) => m.type === 'heartbeatResp';
  a.readIndex('w', 'safe');
  c.stabilize();
  assert.deepEqual(
    c.node('a').readStates.map((r) => r.ctx),
    ['confirm'],
  );
  c.heal();
  c.tick(1, ['a']);
  assert.deepEqual(
    c.node('a').readStates.map((r) => r.ctx),
    ['confirm', 'w'],
  );
});

/** A cluster on one shared clock that tests move by hand (ticks no longer imply elapsed time). */
function clockedCluster(extra: NodeOptions = {}): { c: Cluster; time: { now: number } } {
  const time = { now: 0 };
  const c = new Cluster(['a', 'b', 'c'], { electionTicks: 10, tickMs: 100, clock: () => time.now, ...extra });
  return { c, time };
}

function tickOnTime(c: Cluster, time: { now: number }, n: number, ids?: readonly string[]): void {
  for (let i = 0; i < n; i++) {
    time.now += 100;
    c.tick(1, ids);
  }
}

test('a leader resumed from a stall does not serve lease reads from its old lease, though only one tick fired', () => {
  const { c, time } = clockedCluster();
  c.elect('a');
  const a = c.core('a');
  a.readIndex('confirm', 'safe');
  c.stabilize();
  a.readIndex('l1', 'lease');
  c.stabilize();
  assert.deepEqual(
    c.node('a').readStates.map((r) => r.ctx),
    ['confirm', 'l1'],
  );
  // The process was stopped for 7 s: the clock moved, ticks did not.
  c.isolate('a');
  time.now += 7000;
  a.readIndex('l2', 'lease');
  c.stabilize();
  assert.deepEqual(
    c.node('a').readStates.map((r) => r.ctx),
    ['confirm', 'l1'],
    'the stalled lease is not used: l2 waits for a round',
  );
  // The tick-counted lease (the old behaviour) would have answered it at once.
  const old = clockedCluster({ testFaults: { tickLeases: true } });
  old.c.elect('a');
  old.c.core('a').readIndex('confirm', 'safe');
  old.c.stabilize();
  old.time.now += 7000;
  old.c.isolate('a');
  old.c.core('a').readIndex('l2', 'lease');
  old.c.stabilize();
  assert.deepEqual(
    old.c.node('a').readStates.map((r) => r.ctx),
    ['confirm', 'l2'],
  );
});

test("the lease lasts electionTimeout × (1 − maxClockDrift) − margin from the confirmed round's send time", () => {
  const { c, time } = clockedCluster({ maxClockDrift: 0.1, leaseMarginMs: 50 }); // lease = 1000 × 0.9 − 50 = 850 ms
  c.elect('a');
  const a = c.core('a');
  a.readIndex('confirm', 'safe'); // round sent at t = now
  c.stabilize();
  const sent = time.now;
  c.isolate('a');
  time.now = sent + 849;
  a.readIndex('in', 'lease');
  c.stabilize();
  time.now = sent + 850;
  a.readIndex('out', 'lease');
  c.stabilize();
  assert.deepEqual(
    c.node('a').readStates.map((r) => r.ctx),
    ['confirm', 'in'],
  );
});

test('a leader steps down when no quorum answered within checkQuorumMs on the clock, and a stall first gets a fresh window', () => {
  const { c, time } = clockedCluster({ checkQuorumMs: 500 });
  c.elect('a');
  const a = c.core('a');
  c.isolate('a');
  tickOnTime(c, time, 4, ['a']);
  assert.equal(a.status().role, 'leader', '400 ms without answers');
  tickOnTime(c, time, 1, ['a']);
  assert.equal(a.status().role, 'follower', '500 ms without answers: steps down');

  const s = clockedCluster({ checkQuorumMs: 500 });
  s.c.elect('a');
  // A 5 s stall: the first tick after it must not step down (answers may be unread), the leader
  // re-confirms; with the followers answering it stays leader.
  s.time.now += 5000;
  s.c.tick(1, ['a']);
  assert.equal(s.c.core('a').status().role, 'leader');
  tickOnTime(s.c, s.time, 10, ['a']);
  assert.equal(s.c.core('a').status().role, 'leader', 'answers arrived: still leader');
  // Isolated after the stall: it steps down within the window.
  s.c.isolate('a');
  s.time.now += 5000;
  s.c.tick(1, ['a']);
  tickOnTime(s.c, s.time, 5, ['a']);
  assert.equal(s.c.core('a').status().role, 'follower');
});

test('a follower keeps its promise not to vote for an election timeout on its clock, even when its ticks ran fast', () => {
  for (const tickLeases of [false, true]) {
    const { c, time } = clockedCluster({ testFaults: { tickLeases } });
    c.elect('a');
    c.isolate('a');
    const b = c.core('b');
    const term = b.status().term;
    const last = b.status().lastIndex;
    const lastTerm = term;
    // b's timer ran fast: 12 ticks (past electionTicks) while its clock moved 500 ms since a's last message.
    time.now += 500;
    for (let i = 0; i < 12; i++) c.core('b').tick();
    c.queue = [];
    b.step(msg('vote', 'c', 'b', term + 1, { index: last + 5, logTerm: lastTerm }));
    if (tickLeases) {
      assert.equal(b.status().term, term + 1, 'tick-counted: the promise ended with the ticks, the vote is considered');
      continue;
    }
    assert.equal(b.status().term, term, 'within the promise on the clock: the vote request is ignored');
    assert.equal(b.status().role, 'follower', 'and b does not campaign itself');
    time.now += 600; // 1.1 s since a's last message
    b.step(msg('vote', 'c', 'b', term + 1, { index: last + 5, logTerm: lastTerm }));
    assert.equal(b.status().term, term + 1, 'the promise has run out');
  }
});
