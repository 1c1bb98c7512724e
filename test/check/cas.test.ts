import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkHistory, withoutUnobservedUnknowns } from '../../src/check/checker.ts';
import { describeOp } from '../../src/check/format.ts';
import { formatHistory, operationsToEvents, pairHistory, parseHistory } from '../../src/check/history.ts';
import { casModel } from '../../src/check/model.ts';
import { searchLinearizable } from '../../src/check/search.ts';
import type { CasSpec } from './cas-helpers.ts';
import { casEvents, seen } from './cas-helpers.ts';

const verdictOf = (specs: readonly CasSpec[]) => {
  const report = checkHistory(casEvents(specs), { searchTimeoutMs: 5_000, shrinkTimeoutMs: 2_000 });
  assert.equal(report.keys.length, 1);
  return report.keys[0]!;
};

const casIfValue = (p: number, expected: string, v: string, call: number, ret?: number, more: Partial<CasSpec> = {}): CasSpec => ({
  p,
  op: 'cas',
  v,
  cond: { ifValue: expected },
  call,
  ...(ret === undefined ? {} : { ret }),
  ...more,
});

test('two CAS from the same expected value cannot both succeed (sequential or concurrent)', () => {
  for (const [c1, r1, c2, r2] of [
    [2, 3, 4, 5],
    [2, 10, 3, 9],
  ] as const) {
    const r = verdictOf([{ p: 0, op: 'write', v: 'a', call: 0, ret: 1 }, casIfValue(1, 'a', 'b', c1, r1), casIfValue(2, 'a', 'c', c2, r2)]);
    assert.equal(r.verdict, 'fail', r.message);
    assert.equal(searchLinearizable(r.failing, casModel, { timeoutMs: 1000 }).kind, 'fail', 'the shrunk history fails alone');
    assert.ok(r.failing.filter((o) => o.op === 'cas').length === 2, r.message);
  }
});

test('two concurrent CAS from one value: one wins, the loser sees the winner (value and version)', () => {
  const r = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    casIfValue(1, 'a', 'b', 2, 10),
    casIfValue(2, 'a', 'c', 3, 9, { ok: false, current: seen('b', 2) }),
    { p: 3, op: 'read', v: 'b', call: 11, ret: 12 },
  ]);
  assert.equal(r.verdict, 'pass', r.message);
  // The loser claiming the key was still at version 1 (the winner not yet applied) contradicts its own failure.
  const bad = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    casIfValue(1, 'a', 'b', 2, 10),
    casIfValue(2, 'a', 'c', 3, 9, { ok: false, current: seen('a', 1) }),
  ]);
  assert.equal(bad.verdict, 'fail', bad.message);
});

test('a failed CAS must report a state the condition fails on, and the version as counted', () => {
  const wrongVersion = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 0, op: 'write', v: 'b', call: 2, ret: 3 },
    casIfValue(1, 'a', 'c', 4, 5, { ok: false, current: seen('b', 1) }),
  ]);
  assert.equal(wrongVersion.verdict, 'fail', wrongVersion.message);
  const right = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 0, op: 'write', v: 'b', call: 2, ret: 3 },
    casIfValue(1, 'a', 'c', 4, 5, { ok: false, current: seen('b', 2) }),
  ]);
  assert.equal(right.verdict, 'pass', right.message);
  // ifValue on an absent key fails whatever the value; current is then null.
  const absent = verdictOf([casIfValue(1, 'a', 'c', 0, 1, { ok: false, current: null })]);
  assert.equal(absent.verdict, 'pass', absent.message);
  const succeededOnAbsent = verdictOf([casIfValue(1, 'a', 'c', 0, 1)]);
  assert.equal(succeededOnAbsent.verdict, 'fail', succeededOnAbsent.message);
});

test('ifVersion and ifAbsent follow the version count (a delete starts it again)', () => {
  const base: CasSpec[] = [
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 0, op: 'write', v: 'b', call: 2, ret: 3 },
  ];
  assert.equal(verdictOf([...base, { p: 1, op: 'cas', v: 'c', cond: { ifVersion: 2 }, call: 4, ret: 5 }]).verdict, 'pass');
  assert.equal(verdictOf([...base, { p: 1, op: 'cas', v: 'c', cond: { ifVersion: 1 }, call: 4, ret: 5 }]).verdict, 'fail');
  const afterDelete: CasSpec[] = [...base, { p: 0, op: 'delete', call: 4, ret: 5 }, { p: 0, op: 'write', v: 'd', call: 6, ret: 7 }];
  assert.equal(verdictOf([...afterDelete, { p: 1, op: 'read', v: 'd', version: 1, call: 8, ret: 9 }]).verdict, 'pass');
  assert.equal(verdictOf([...afterDelete, { p: 1, op: 'read', v: 'd', version: 3, call: 8, ret: 9 }]).verdict, 'fail');
  // Two lock acquisitions with ifAbsent: the second must fail while the first holds the key.
  const lock = (p: number, v: string, call: number, ret: number, more: Partial<CasSpec> = {}): CasSpec => ({
    p,
    op: 'cas',
    v,
    cond: { ifAbsent: true },
    call,
    ret,
    ...more,
  });
  assert.equal(verdictOf([lock(1, 'me', 0, 5), lock(2, 'you', 1, 4)]).verdict, 'fail');
  assert.equal(verdictOf([lock(1, 'me', 0, 5), lock(2, 'you', 1, 4, { ok: false, current: seen('me', 1) })]).verdict, 'pass');
});

test('a CAS with an unknown outcome may take effect (once, only if its condition holds) or not', () => {
  const took = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    casIfValue(1, 'a', 'b', 2, 3, { status: 'info' }),
    { p: 2, op: 'read', v: 'a', call: 4, ret: 5 },
    { p: 2, op: 'read', v: 'b', call: 6, ret: 7 },
  ]);
  assert.equal(took.verdict, 'pass', took.message);
  const never = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    casIfValue(1, 'a', 'b', 2, 3, { status: 'info' }),
    { p: 2, op: 'read', v: 'a', call: 4, ret: 5 },
  ]);
  assert.equal(never.verdict, 'pass', never.message);
  // Its condition can never hold (nobody wrote "z"), so its value cannot appear.
  const impossible = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    casIfValue(1, 'z', 'b', 2, 3, { status: 'info' }),
    { p: 2, op: 'read', v: 'b', call: 4, ret: 5 },
  ]);
  assert.equal(impossible.verdict, 'fail', impossible.message);
  // A 412 is an answer (ok, no effect): a read of the value it did not write is a violation.
  const refused = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    casIfValue(1, 'x', 'b', 2, 3, { ok: false, current: seen('a', 1) }),
    { p: 2, op: 'read', v: 'b', call: 4, ret: 5 },
  ]);
  assert.equal(refused.verdict, 'fail', refused.message);
  assert.match(refused.message, /never written/);
});

test('an unknown write no read saw is kept when a later operation depends on the version', () => {
  // Only "b took effect" explains ifVersion 2 succeeding; pruning b (its value is never read) would be wrong.
  const specs: CasSpec[] = [
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 1, op: 'write', v: 'b', call: 2, ret: 3, status: 'info' },
    { p: 2, op: 'cas', v: 'c', cond: { ifVersion: 2 }, call: 5, ret: 6 },
  ];
  assert.equal(verdictOf(specs).verdict, 'pass');
  const ops = pairHistory(casEvents(specs)).ops;
  assert.equal(withoutUnobservedUnknowns(ops).length, 3);
  // Without the version-dependent operation it may go.
  assert.equal(withoutUnobservedUnknowns(ops.slice(0, 2)).length, 1);
});

test('single-key transactions: branch by compare, gets see the state (and the txn own earlier ops)', () => {
  const txn = {
    compare: [{ target: 'version' as const, op: '=' as const, value: 0 }],
    success: [{ put: 'a' }, { get: true as const }],
    failure: [{ get: true as const }],
  };
  assert.equal(verdictOf([{ p: 0, op: 'txn', txn, ok: true, gets: [seen('a', 1)], call: 0, ret: 1 }]).verdict, 'pass');
  assert.equal(verdictOf([{ p: 0, op: 'txn', txn, ok: true, gets: [seen('a', 2)], call: 0, ret: 1 }]).verdict, 'fail');
  const second: CasSpec[] = [
    { p: 0, op: 'txn', txn, ok: true, gets: [seen('a', 1)], call: 0, ret: 1 },
    { p: 1, op: 'txn', txn, ok: false, gets: [seen('a', 1)], call: 2, ret: 3 },
  ];
  assert.equal(verdictOf(second).verdict, 'pass');
  // The stale-compare bug: both see version 0 and both run the success branch.
  const both = verdictOf([
    { p: 0, op: 'txn', txn, ok: true, gets: [seen('a', 1)], call: 0, ret: 5 },
    { p: 1, op: 'txn', txn, ok: true, gets: [seen('a', 1)], call: 1, ret: 6 },
  ]);
  assert.equal(both.verdict, 'fail', both.message);
  // value compares: '!=' and '>' follow string order; an absent key fails every value compare.
  const gt = { compare: [{ target: 'value' as const, op: '>' as const, value: 'm' }], success: [{ delete: true as const }], failure: [] };
  assert.equal(verdictOf([{ p: 0, op: 'txn', txn: gt, ok: false, call: 0, ret: 1 }]).verdict, 'pass');
  assert.equal(verdictOf([{ p: 0, op: 'txn', txn: gt, ok: true, call: 0, ret: 1 }]).verdict, 'fail');
  assert.equal(
    verdictOf([
      { p: 0, op: 'write', v: 'z', call: 0, ret: 1 },
      { p: 1, op: 'txn', txn: gt, ok: true, call: 2, ret: 3 },
      { p: 2, op: 'read', v: null, call: 4, ret: 5 },
    ]).verdict,
    'pass',
  );
});

test('pre-checks see through CAS: a stale read of a value a successful CAS replaced, a lost CAS', () => {
  const stale = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    casIfValue(1, 'a', 'b', 2, 3),
    { p: 2, op: 'read', v: 'a', call: 4, ret: 5 },
  ]);
  assert.equal(stale.verdict, 'fail');
  assert.equal(stale.problems[0]?.kind, 'stale-read', stale.message);
  const lost = verdictOf([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    casIfValue(1, 'a', 'b', 2, 3),
    { p: 9, op: 'read', v: 'a', call: 10, ret: 11, final: true },
  ]);
  assert.equal(lost.problems.filter((p) => p.kind === 'lost-write').length, 1, lost.message);
});

test('cas and txn events survive JSONL and re-pairing; malformed ones are refused', () => {
  const specs: CasSpec[] = [
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    casIfValue(1, 'a', 'b', 2, 3, { ok: false, current: seen('x', 4) }),
    {
      p: 2,
      op: 'txn',
      txn: { compare: [{ target: 'exists', op: '=', value: true }], success: [{ get: true }], failure: [] },
      ok: true,
      gets: [null],
      call: 4,
      ret: 5,
    },
    { p: 3, op: 'read', v: 'a', version: 1, call: 6, ret: 7 },
    { p: 4, op: 'cas', v: 'q', cond: { ifVersion: 3, ifAbsent: true }, call: 8 },
  ];
  const evs = casEvents(specs);
  const again = parseHistory(formatHistory(evs));
  assert.deepEqual(again, evs);
  const paired = pairHistory(again);
  assert.deepEqual(pairHistory(operationsToEvents(paired.ops)).ops, paired.ops);
  assert.match(describeOp(paired.ops[1]!), /cas\(k, "b" if value="a"\) → failed, current "x" \(version 4\)/);
  assert.match(describeOp(paired.ops[2]!), /txn\(k, if exists = true then \[get\] else \[\]\) → succeeded, got \[absent\]/);
  assert.match(describeOp(paired.ops[4]!), /if version=3 and absent\).*outcome unknown/);

  const bad = (lines: object[], message: RegExp) =>
    assert.throws(() => pairHistory(parseHistory(lines.map((l) => JSON.stringify(l)).join('\n'))), {
      code: 'GRAFTD_INVALID_HISTORY',
      message,
    });
  const inv = { type: 'invoke', process: 0, op: 'cas', key: 'k', value: 'v', time: 0 };
  bad([inv], /cas invoke must carry cond/);
  bad([{ ...inv, cond: {} }], /at least one condition/);
  bad([{ ...inv, cond: { ifValeu: 'x' } }], /unknown condition "ifValeu"/);
  bad(
    [
      { ...inv, cond: { ifValue: 'a' } },
      { type: 'ok', process: 0, op: 'cas', key: 'k', value: 'v', time: 1 },
    ],
    /must carry succeeded/,
  );
  bad(
    [
      { ...inv, cond: { ifValue: 'a' } },
      { type: 'ok', process: 0, op: 'cas', key: 'k', value: 'v', time: 1, succeeded: false },
    ],
    /must carry current/,
  );
  const tinv = { type: 'invoke', process: 0, op: 'txn', key: 'k', value: null, time: 0, txn: { compare: [], success: [{ get: true }] } };
  bad([tinv, { type: 'ok', process: 0, op: 'txn', key: 'k', value: null, time: 1, succeeded: true, gets: [] }], /one entry per get/);
  bad([{ ...tinv, txn: { compare: [{ target: 'modRevision', op: '=', value: 1 }] } }], /target must be value\|version\|exists/);
  bad([{ ...tinv, txn: { success: [{ put: 1 }] } }], /expected \{"put"/);
});
