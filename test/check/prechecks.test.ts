import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkHistory } from '../../src/check/checker.ts';
import { events } from './helpers.ts';

const check = (specs: Parameters<typeof events>[0]) => checkHistory(events(specs), { searchTimeoutMs: 2_000, shrinkTimeoutMs: 1_000 });

test('a read of a value never written is reported as such', () => {
  const report = check([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 1, op: 'read', v: 'zzz', call: 2, ret: 3 },
  ]);
  const key = report.keys[0]!;
  assert.equal(key.verdict, 'fail');
  assert.equal(key.problems[0]!.kind, 'never-written');
  assert.match(key.message, /never written.*"zzz".*no write of that value was ever invoked/);
  assert.equal(key.failing.length, 1);
});

test('a read of a value written only by a failed write, or only later, is never-written', () => {
  const failed = check([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1, status: 'fail' },
    { p: 1, op: 'read', v: 'a', call: 2, ret: 3 },
  ]).keys[0]!;
  assert.equal(failed.problems[0]!.kind, 'never-written');
  assert.match(failed.message, /failed, which provably had no effect/);
  const future = check([
    { p: 1, op: 'read', v: 'a', call: 0, ret: 1 },
    { p: 0, op: 'write', v: 'a', call: 2, ret: 3 },
  ]).keys[0]!;
  assert.equal(future.problems[0]!.kind, 'never-written');
  assert.match(future.message, /invoked later/);
});

test('a stale read is reported with the overwrite that made it stale', () => {
  const report = check([
    { p: 0, op: 'write', v: 'old', call: 0, ret: 1 },
    { p: 0, op: 'write', v: 'new', call: 2, ret: 3 },
    { p: 1, op: 'read', v: 'old', call: 4, ret: 5 },
  ]);
  const key = report.keys[0]!;
  assert.equal(key.verdict, 'fail');
  assert.equal(key.problems[0]!.kind, 'stale-read');
  assert.match(key.message, /stale read: .*"old".*write\(k, "new"\).*already overwritten/);
  assert.equal(key.failing.length, 3);
  assert.equal(report.lostWrites, 0);
});

test('reading absent after an acknowledged write (and no delete) is stale; after a delete it is not', () => {
  const stale = check([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 1, op: 'read', v: null, call: 2, ret: 3 },
  ]).keys[0]!;
  assert.equal(stale.problems[0]!.kind, 'stale-read');
  assert.match(stale.message, /initial empty state/);
  const fine = check([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 0, op: 'delete', call: 2, ret: 3 },
    { p: 1, op: 'read', v: null, call: 4, ret: 5 },
  ]).keys[0]!;
  assert.equal(fine.verdict, 'pass', fine.message);
  const staleAfterDelete = check([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 0, op: 'delete', call: 2, ret: 3 },
    { p: 1, op: 'read', v: 'a', call: 4, ret: 5 },
  ]).keys[0]!;
  assert.equal(staleAfterDelete.problems[0]!.kind, 'stale-read');
});

test('an overwrite concurrent with the source does not make a read stale', () => {
  const key = check([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 10 },
    { p: 1, op: 'write', v: 'b', call: 5, ret: 6 },
    { p: 2, op: 'read', v: 'a', call: 20, ret: 21 },
  ]).keys[0]!;
  assert.equal(key.verdict, 'pass', key.message);
});

test('an acknowledged write missing from the final reads is a lost write', () => {
  const report = check([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 0, op: 'write', v: 'b', call: 2, ret: 3 },
    { p: 1, op: 'read', v: 'a', call: 10, ret: 11, final: true },
  ]);
  const key = report.keys[0]!;
  assert.equal(key.verdict, 'fail');
  assert.equal(key.problems[0]!.kind, 'lost-write');
  assert.match(key.message, /acknowledged write lost: p0 write\(k, "b"\).*final.*returned "a"/);
  assert.equal(report.lostWrites, 1);
  assert.equal(report.violations, 1);
  // The same read is not reported a second time as stale.
  assert.equal(key.problems.length, 1);
});

test('a later unknown-outcome write explains a final read that misses an acknowledged write', () => {
  const report = check([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 0, op: 'write', v: 'b', call: 2, ret: 3, status: 'info' },
    { p: 1, op: 'read', v: 'b', call: 10, ret: 11, final: true },
  ]);
  assert.equal(report.keys[0]!.verdict, 'pass', report.keys[0]!.message);
  assert.equal(report.lostWrites, 0);
  const absent = check([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 2, op: 'delete', call: 2, ret: 3, status: 'info' },
    { p: 1, op: 'read', v: null, call: 10, ret: 11, final: true },
  ]);
  assert.equal(absent.keys[0]!.verdict, 'pass', absent.keys[0]!.message);
});

test('a lost write with no final read at all is not invented', () => {
  const report = check([{ p: 0, op: 'write', v: 'a', call: 0, ret: 1 }]);
  assert.equal(report.keys[0]!.verdict, 'pass');
  assert.equal(report.lostWrites, 0);
});
