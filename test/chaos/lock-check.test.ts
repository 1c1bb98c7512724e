/**
 * The lock checker on hand-made holders and writes: a clean history (with a stale holder whose
 * write is rejected) passes; overlapping sections, a stale write accepted (by revision order and
 * by real time), a rejection without a higher fence and a write outside its section are reported.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FencedWrite, HolderRecord } from './lock-check.ts';
import { checkLocks } from './lock-check.ts';

const h = (worker: number, token: number, acquiredAt: number, endAt: number, endReason = 'release'): HolderRecord => ({
  worker,
  lease: `l${worker}`,
  token,
  acquiredAt,
  endAt,
  endReason,
});
const acc = (worker: number, token: number, call: number, ret: number, revision: number): FencedWrite => ({
  worker,
  token,
  call,
  ret,
  outcome: 'accepted',
  revision,
});

const holders = [h(1, 10, 0, 100), h(2, 20, 150, 300, 'lease'), h(3, 30, 320, 400)];
const writes: FencedWrite[] = [
  acc(1, 10, 10, 20, 11),
  acc(1, 10, 50, 60, 12),
  acc(2, 20, 160, 170, 21),
  // worker 2 lost its lease at 300 but its last write (invoked at 290) arrives after worker 3's: rejected.
  { worker: 2, token: 20, call: 290, ret: 360, outcome: 'rejected', revision: 31, fenceSeen: '000000000000030' },
  acc(3, 30, 330, 340, 31),
];

test('a clean history passes', () => {
  const r = checkLocks(holders, writes);
  assert.deepEqual(r.violations, []);
  assert.equal(r.stats.accepted, 4);
  assert.equal(r.stats.rejected, 1);
  assert.equal(r.stats.leaseLost, 1);
});

test('overlapping critical sections are reported', () => {
  const r = checkLocks([h(1, 10, 0, 200), h(2, 20, 150, 300)], []);
  assert.ok(
    r.violations.some((v) => v.includes('overlap')),
    r.violations.join('\n'),
  );
  // Order by token, not by acquisition: a younger token that acquired first overlaps too.
  const r2 = checkLocks([h(1, 20, 0, 100), h(2, 10, 50, 60)], []);
  assert.ok(
    r2.violations.some((v) => v.includes('overlap')),
    r2.violations.join('\n'),
  );
});

test('a stale write accepted after a higher token is reported (revision order and real time)', () => {
  const stale = writes.map((w) => (w.outcome === 'rejected' ? acc(2, 20, 290, 360, 32) : w));
  const r = checkLocks(holders, stale);
  assert.ok(
    r.violations.some((v) => v.includes('stale write accepted: token 20') && v.includes('revision 32')),
    r.violations.join('\n'),
  );
  // Revisions in order but the stale write was invoked after token 30 was acknowledged.
  const late = [h(1, 10, 0, 400), h(3, 30, 100, 200)];
  const r2 = checkLocks(late, [acc(3, 30, 110, 120, 31), acc(1, 10, 150, 160, 32)]);
  assert.ok(
    r2.violations.some((v) => v.includes('after token 30 was acknowledged')),
    r2.violations.join('\n'),
  );
});

test('a rejection without a higher fence, duplicate tokens and writes outside their section are reported', () => {
  const r = checkLocks(holders, [
    ...writes,
    { worker: 3, token: 30, call: 350, ret: 360, outcome: 'rejected', revision: 31, fenceSeen: '000000000000030' },
  ]);
  assert.ok(
    r.violations.some((v) => v.includes('rejected although the fence read')),
    r.violations.join('\n'),
  );
  const r2 = checkLocks([h(1, 10, 0, 100), h(2, 10, 200, 300)], []);
  assert.ok(
    r2.violations.some((v) => v.includes('two holders with token 10')),
    r2.violations.join('\n'),
  );
  const r3 = checkLocks(holders, [acc(1, 10, 120, 130, 13)]);
  assert.ok(
    r3.violations.some((v) => v.includes('outside its section')),
    r3.violations.join('\n'),
  );
  const r4 = checkLocks(holders, [acc(1, 10, 10, 20, 11), acc(2, 20, 160, 170, 11)]);
  assert.ok(
    r4.violations.some((v) => v.includes('two accepted writes at revision 11')),
    r4.violations.join('\n'),
  );
});

test('a paused holder: its late write is judged by the fence like any other', () => {
  const paused = [h(1, 10, 0, 100, 'paused'), h(2, 20, 150, 300)];
  const late = (outcome: FencedWrite['outcome'], revision: number): FencedWrite => ({
    worker: 1,
    token: 10,
    call: 2500,
    ret: 2510,
    outcome,
    revision,
    late: true,
  });
  // Rejected after token 20 was accepted: clean.
  const clean = checkLocks(paused, [
    acc(1, 10, 10, 20, 11),
    acc(2, 20, 160, 170, 21),
    { ...late('rejected', 22), fenceSeen: '000000000000020' },
  ]);
  assert.deepEqual(clean.violations, []);
  assert.equal(clean.stats.late, 1);
  // Accepted after token 20 was accepted: the stale holder got through.
  const r = checkLocks(paused, [acc(1, 10, 10, 20, 11), acc(2, 20, 160, 170, 21), late('accepted', 22)]);
  assert.ok(
    r.violations.some((v) => v.includes('stale write accepted: token 10')),
    r.violations.join('\n'),
  );
  // A late write inside the section is a harness error.
  const r2 = checkLocks(paused, [{ ...late('accepted', 11), call: 50, ret: 60 }]);
  assert.ok(
    r2.violations.some((v) => v.includes('late write') && v.includes('inside')),
    r2.violations.join('\n'),
  );
});
