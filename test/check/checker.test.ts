import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkHistory } from '../../src/check/checker.ts';
import { pairHistory } from '../../src/check/history.ts';
import { registerModel } from '../../src/check/model.ts';
import { searchLinearizable } from '../../src/check/search.ts';
import { events } from './helpers.ts';

const verdictOf = (specs: Parameters<typeof events>[0]) => {
  const report = checkHistory(events(specs), { searchTimeoutMs: 5_000, shrinkTimeoutMs: 2_000 });
  assert.equal(report.keys.length, 1);
  return report.keys[0]!;
};

test('sequential write, read, delete, read is linearizable', () => {
  const r = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 0, op: 'read', v: 'a', call: 2, ret: 3 },
    { p: 0, op: 'delete', call: 4, ret: 5 },
    { p: 0, op: 'read', v: null, call: 6, ret: 7 },
  ]);
  assert.equal(r.verdict, 'pass', r.message);
});

test('a read concurrent with a write may see the old or the new value', () => {
  for (const seen of [null, 'a']) {
    const r = verdictOf([
      { p: 0, op: 'write', v: 'a', call: 0, ret: 10 },
      { p: 1, op: 'read', v: seen, call: 2, ret: 5 },
    ]);
    assert.equal(r.verdict, 'pass', `${seen}: ${r.message}`);
  }
});

test('concurrent writes may be ordered either way, but reads must agree on one order', () => {
  const ok = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 100 },
    { p: 1, op: 'write', v: 'b', call: 0, ret: 100 },
    { p: 2, op: 'read', v: 'b', call: 10, ret: 20 },
    { p: 2, op: 'read', v: 'a', call: 30, ret: 40 },
  ]);
  assert.equal(ok.verdict, 'pass', ok.message);
  // a, then b, then a again: a was written once, so it cannot come back. No pre-check sees this; the search must.
  const bad = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 100 },
    { p: 1, op: 'write', v: 'b', call: 0, ret: 100 },
    { p: 2, op: 'read', v: 'a', call: 10, ret: 20 },
    { p: 2, op: 'read', v: 'b', call: 30, ret: 40 },
    { p: 2, op: 'read', v: 'a', call: 50, ret: 60 },
  ]);
  assert.equal(bad.verdict, 'fail');
  assert.equal(bad.problems[0]!.kind, 'not-linearizable');
  assert.equal(bad.failing.length, 5, bad.message);
});

test('two readers that disagree on the order of two writes are not linearizable', () => {
  const r = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 100 },
    { p: 1, op: 'write', v: 'b', call: 0, ret: 100 },
    { p: 2, op: 'read', v: 'a', call: 10, ret: 20 },
    { p: 3, op: 'read', v: 'b', call: 10, ret: 20 },
    { p: 2, op: 'read', v: 'b', call: 30, ret: 40 },
    { p: 3, op: 'read', v: 'a', call: 30, ret: 40 },
  ]);
  assert.equal(r.verdict, 'fail');
});

test('an unknown-outcome write may have taken effect', () => {
  const r = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 5, status: 'info' },
    { p: 1, op: 'read', v: 'a', call: 50, ret: 60 },
  ]);
  assert.equal(r.verdict, 'pass', r.message);
});

test('an unknown-outcome write may never take effect, or take effect long after it timed out', () => {
  const never = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 5, status: 'info' },
    { p: 1, op: 'read', v: null, call: 50, ret: 60 },
  ]);
  assert.equal(never.verdict, 'pass', never.message);
  const late = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 5, status: 'info' },
    { p: 1, op: 'write', v: 'b', call: 10, ret: 20 },
    { p: 1, op: 'read', v: 'b', call: 30, ret: 40 },
    { p: 1, op: 'read', v: 'a', call: 50, ret: 60 },
  ]);
  assert.equal(late.verdict, 'pass', late.message);
  // An invocation that never completed (the history ended) counts as unknown too.
  const open = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0 },
    { p: 1, op: 'read', v: 'a', call: 50, ret: 60 },
  ]);
  assert.equal(open.verdict, 'pass', open.message);
});

test('an unknown-outcome write that was seen cannot be unseen without another write', () => {
  const r = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 5, status: 'info' },
    { p: 1, op: 'read', v: 'a', call: 10, ret: 20 },
    { p: 1, op: 'read', v: null, call: 30, ret: 40 },
  ]);
  assert.equal(r.verdict, 'fail');
  assert.equal(r.problems[0]!.kind, 'not-linearizable');
  // With a concurrent unknown delete it becomes possible again.
  const withDelete = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 5, status: 'info' },
    { p: 2, op: 'delete', call: 1, ret: 6, status: 'info' },
    { p: 1, op: 'read', v: 'a', call: 10, ret: 20 },
    { p: 1, op: 'read', v: null, call: 30, ret: 40 },
  ]);
  assert.equal(withDelete.verdict, 'pass', withDelete.message);
});

test('failed operations have no effect', () => {
  const r = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 0, op: 'delete', call: 2, ret: 3, status: 'fail' },
    { p: 1, op: 'read', v: 'a', call: 4, ret: 5 },
    { p: 1, op: 'read', v: 'x', call: 6, ret: 7, status: 'fail' },
  ]);
  assert.equal(r.verdict, 'pass', r.message);
});

test('keys are checked independently and the report counts outcomes', () => {
  const report = checkHistory(
    events([
      { p: 0, op: 'write', k: 'x', v: 'a', call: 0, ret: 1 },
      { p: 1, op: 'write', k: 'y', v: 'b', call: 0, ret: 1 },
      { p: 0, op: 'read', k: 'y', v: null, call: 2, ret: 3 },
      { p: 1, op: 'read', k: 'x', v: 'a', call: 2, ret: 3 },
      { p: 1, op: 'write', k: 'z', v: 'c', call: 4, ret: 9, status: 'info' },
      { p: 0, op: 'write', k: 'z', v: 'd', call: 4, ret: 5, status: 'fail' },
    ]),
  );
  assert.deepEqual(
    report.keys.map((k) => [k.key, k.verdict]),
    [
      ['x', 'pass'],
      ['y', 'fail'],
      ['z', 'pass'],
    ],
  );
  assert.deepEqual(report.counts, { ok: 4, fail: 1, info: 1 });
  assert.equal(report.violations, 1);
  assert.equal(report.valid, false);
});

test('a search that runs out of time is unknown, never pass', () => {
  // 40 concurrent writes, then reads that disagree: refuting this needs to try every subset of the writes.
  const specs: Parameters<typeof events>[0][number][] = [];
  for (let i = 0; i < 40; i++) specs.push({ p: i, op: 'write', v: `v${i}`, call: 0, ret: 1000 });
  specs.push({ p: 100, op: 'read', v: 'v1', call: 2000, ret: 2001 });
  specs.push({ p: 100, op: 'read', v: 'v2', call: 2002, ret: 2003 });
  const report = checkHistory(events(specs), { searchTimeoutMs: 50 });
  assert.equal(report.keys[0]!.verdict, 'unknown', report.keys[0]!.message);
  assert.equal(report.unknown, 1);
  assert.equal(report.valid, 'unknown');
  // The cache bound is a limit too.
  const bounded = checkHistory(events(specs), { searchTimeoutMs: 60_000, maxCacheEntries: 5_000 });
  assert.equal(bounded.keys[0]!.verdict, 'unknown');
});

test('the search returns an order that replays through the model', () => {
  const paired = pairHistory(
    events([
      { p: 0, op: 'write', v: 'a', call: 0, ret: 10 },
      { p: 1, op: 'read', v: 'a', call: 1, ret: 11 },
      { p: 2, op: 'write', v: 'b', call: 2, ret: 12 },
      { p: 3, op: 'read', v: 'b', call: 13, ret: 14 },
      { p: 4, op: 'delete', call: 3, ret: 4, status: 'info' },
    ]),
  );
  const result = searchLinearizable(paired.ops, registerModel, { timeoutMs: 1_000 });
  assert.equal(result.kind, 'ok');
  if (result.kind !== 'ok') return;
  let state = registerModel.init;
  for (const op of result.order) {
    const next = registerModel.step(state, op);
    assert.notEqual(next, undefined, `op ${op.id} is illegal in state ${state}`);
    state = next as string | null;
  }
  for (const op of paired.ops) if (op.status === 'ok') assert.ok(result.order.includes(op), `op ${op.id} missing from the order`);
});

test('unknown-outcome writes nobody observed do not blow up the search', () => {
  const specs: Parameters<typeof events>[0][number][] = [];
  // 40 writes that timed out and were never seen, then acknowledged operations ending in
  // a violation only the search can find (a, b, a again): refuting it must not try every subset of the 40.
  for (let i = 0; i < 40; i++) specs.push({ p: i, op: 'write', v: `lost${i}`, call: i, ret: 100 + i, status: 'info' });
  for (let i = 0; i < 30; i++) {
    specs.push({ p: 100, op: 'write', v: `v${i}`, call: 200 + 4 * i, ret: 201 + 4 * i });
    specs.push({ p: 100, op: 'read', v: `v${i}`, call: 202 + 4 * i, ret: 203 + 4 * i });
  }
  specs.push({ p: 101, op: 'write', v: 'a', call: 500, ret: 600 }, { p: 102, op: 'write', v: 'b', call: 500, ret: 600 });
  specs.push({ p: 100, op: 'read', v: 'a', call: 510, ret: 520 }, { p: 100, op: 'read', v: 'b', call: 530, ret: 540 });
  specs.push({ p: 100, op: 'read', v: 'a', call: 550, ret: 560 });
  const report = checkHistory(events(specs), { searchTimeoutMs: 2_000 });
  const key = report.keys[0]!;
  assert.equal(key.verdict, 'fail', key.message);
  assert.equal(key.problems[0]!.kind, 'not-linearizable');
  assert.ok(key.failing.length <= 6, `${key.failing.length} operations in the minimal sub-history`);
});
