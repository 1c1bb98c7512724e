/** Apply waiters, read batching and the join duplicate rules. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraftdError } from '../../src/errors.ts';
import { Farewells } from '../../src/node/farewells.ts';
import { encodeMemberContext, planJoin } from '../../src/node/members.ts';
import { ReadBatcher } from '../../src/node/reads.ts';
import { TransferWaiters } from '../../src/node/transfers.ts';
import { ApplyWaiters } from '../../src/node/waiters.ts';
import { encodeConfChange } from '../../src/raft/index.ts';

const code = (c: string) => (e: GraftdError) => e.code === c;

test('a waiter resolves when its (index, term) is applied; another term at the index means dropped', async () => {
  const w = new ApplyWaiters({ max: 10, timeoutMs: 100, what: 'the write' });
  const ok = w.add(5, 2, 0);
  const dropped = w.add(6, 2, 0);
  w.applied(5, 2);
  w.applied(6, 3);
  await ok;
  await assert.rejects(dropped, code('GRAFTD_PROPOSAL_DROPPED'));
  assert.equal(w.size, 0);
});

test('waiters past the deadline time out (outcome unknown); the map is bounded', async () => {
  const w = new ApplyWaiters({ max: 2, timeoutMs: 100, what: 'the write' });
  const a = w.add(1, 1, 0);
  const b = w.add(2, 1, 50);
  assert.equal(w.hasRoom(1), false);
  w.expire(120);
  await assert.rejects(a, (e: GraftdError) => e.code === 'GRAFTD_TIMEOUT' && e.httpStatus === 504);
  assert.equal(w.size, 1);
  w.applied(2, 1);
  await b;
});

test('re-using an index in a later term drops the old waiter', async () => {
  const w = new ApplyWaiters({ max: 10, timeoutMs: 100, what: 'the write' });
  const old = w.add(3, 1, 0);
  const fresh = w.add(3, 2, 0);
  await assert.rejects(old, code('GRAFTD_PROPOSAL_DROPPED'));
  w.applied(3, 2);
  await fresh;
});

test('reads of one turn share one ReadIndex request and are served once applied reaches the read index', async () => {
  const r = new ReadBatcher({ max: 100, timeoutMs: 1000, ctxPrefix: 'n:' });
  let value = 'old';
  const reads = [r.add('safe', () => value), r.add('safe', () => value), r.add('lease', () => 'lease')];
  const issued: [string, string][] = [];
  r.flush(0, (ctx, mode) => issued.push([ctx, mode]));
  assert.equal(issued.length, 2);
  const safeCtx = issued.find(([, m]) => m === 'safe')![0];
  const leaseCtx = issued.find(([, m]) => m === 'lease')![0];
  r.readState(leaseCtx, 3, 3);
  r.readState(safeCtx, 7, 5);
  value = 'new';
  r.appliedTo(7);
  assert.deepEqual(await Promise.all(reads), ['new', 'new', 'lease']);
  assert.equal(r.size, 0);
});

test('a failed ReadIndex rejects its batch; losing leadership abandons in-flight reads', async () => {
  const r = new ReadBatcher({ max: 100, timeoutMs: 1000, ctxPrefix: 'n:' });
  const a = r.add('safe', () => 1);
  r.flush(0, () => {
    throw new GraftdError('GRAFTD_NOT_LEADER', 'no');
  });
  await assert.rejects(a, code('GRAFTD_NOT_LEADER'));
  const b = r.add('safe', () => 1);
  r.flush(0, () => {});
  r.abandonInFlight(new GraftdError('GRAFTD_NOT_LEADER', 'lost'));
  await assert.rejects(b, code('GRAFTD_NOT_LEADER'));
});

test('join duplicate rules of the original', () => {
  const ctx = (raftAddr: string) => encodeMemberContext({ raftAddr, httpAddr: '', voter: true });
  const cs = { voters: ['a', 'b'], learners: [], context: { a: ctx('h:1'), b: ctx('h:2') } };
  assert.deepEqual(planJoin(cs, 'b', 'h:2'), { noop: true, remove: [] });
  assert.deepEqual(planJoin(cs, 'b', 'h:9'), { noop: false, remove: ['b'] });
  assert.deepEqual(planJoin(cs, 'c', 'h:2'), { noop: false, remove: ['b'] });
  assert.deepEqual(planJoin(cs, 'c', 'h:3'), { noop: false, remove: [] });
  // A joiner with an empty data directory replaces the member even at the same address.
  assert.deepEqual(planJoin(cs, 'b', 'h:2', true), { noop: false, remove: ['b'] });
});

test('farewells: a removed member gets appends anchored at its removal entry until the TTL, unless re-added', () => {
  const f = new Farewells('a', 100);
  const removal = { index: 9, term: 3, type: 'conf' as const, data: encodeConfChange({ type: 'removeNode', nodeId: 'b', context: '' }) };
  const other = { index: 10, term: 3, type: 'conf' as const, data: encodeConfChange({ type: 'addLearner', nodeId: 'c', context: '' }) };
  f.note(removal, () => 'h:2', 0);
  f.note(other, () => 'h:3', 0);
  assert.deepEqual(f.peers(), [['b', 'h:2']]);
  const { messages } = f.due(50, 4, true, () => false);
  assert.equal(messages.length, 1);
  assert.deepEqual(
    {
      type: messages[0]!.type,
      to: messages[0]!.to,
      term: messages[0]!.term,
      index: messages[0]!.index,
      logTerm: messages[0]!.logTerm,
      commit: messages[0]!.commit,
    },
    { type: 'app', to: 'b', term: 4, index: 9, logTerm: 3, commit: 9 },
  );
  assert.deepEqual(
    f.due(60, 4, true, (id) => id === 'b'),
    { messages: [], dropped: true },
  );
  f.note(removal, () => 'h:2', 0);
  assert.equal(f.due(100, 4, true, () => false).dropped, true);
  assert.equal(f.size, 0);
});

test('transfer waiters resolve with the new leader, time out, and are bounded', async () => {
  const t = new TransferWaiters(2);
  const a = t.add(0, 100);
  const b = t.add(0, 100);
  await assert.rejects(t.add(0, 100), code('GRAFTD_PROPOSAL_DROPPED'));
  t.moved('n2');
  assert.deepEqual(await Promise.all([a, b]), ['n2', 'n2']);
  const c = t.add(0, 100);
  t.expire(100);
  await assert.rejects(c, code('GRAFTD_TIMEOUT'));
});
