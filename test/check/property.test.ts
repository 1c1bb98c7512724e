import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkHistory } from '../../src/check/checker.ts';
import type { Operation } from '../../src/check/history.ts';
import { pairHistory } from '../../src/check/history.ts';
import { registerModel } from '../../src/check/model.ts';
import type { OpSpec } from './helpers.ts';
import { events } from './helpers.ts';

const stepArb = fc.record({
  key: fc.constantFrom('x', 'y', 'z'),
  kind: fc.constantFrom('read', 'read', 'write', 'write', 'delete'),
  outcome: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'info', 'info-never', 'fail'),
  before: fc.integer({ min: 0, max: 30 }),
  after: fc.integer({ min: 0, max: 30 }),
  gap: fc.integer({ min: 0, max: 6 }),
  final: fc.boolean(),
});

type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * A history produced by a correct register: operations take effect one by one at increasing
 * instants, each inside its own [call, ret] window; unknown outcomes take effect or not, failures never do.
 */
function historyFromSequentialRun(steps: readonly Step[]): OpSpec[] {
  const state = new Map<string, string | null>();
  const ops: (Omit<OpSpec, 'p'> & { doneAt: number })[] = [];
  let t = 0;
  steps.forEach((s, i) => {
    t += s.gap;
    const applies = s.outcome === 'ok' || s.outcome === 'info';
    const call = t - s.before;
    const ret = t + s.after;
    if (s.kind === 'write') {
      if (applies) state.set(s.key, `v${i}`);
      ops.push({ op: 'write', k: s.key, v: `v${i}`, call, ret, status: s.outcome === 'info-never' ? 'info' : s.outcome, doneAt: ret });
    } else if (s.kind === 'delete') {
      if (applies) state.set(s.key, null);
      ops.push({ op: 'delete', k: s.key, call, ret, status: s.outcome === 'info-never' ? 'info' : s.outcome, doneAt: ret });
    } else {
      const status = s.outcome === 'ok' ? 'ok' : s.outcome === 'fail' ? 'fail' : 'info';
      // A "final" read in a run with later writes is still just a read; mark some to exercise the lost-write check.
      ops.push({ op: 'read', k: s.key, v: state.get(s.key) ?? null, call, ret, status, doneAt: ret, final: s.final });
    }
  });
  // Give each operation a process that is idle at its call (a process runs one operation at a time).
  ops.sort((a, b) => a.call - b.call);
  const busyUntil: number[] = [];
  return ops.map(({ doneAt, ...o }) => {
    let p = busyUntil.findIndex((b) => b < o.call);
    if (p < 0) p = busyUntil.push(0) - 1;
    busyUntil[p] = doneAt;
    return { ...o, p };
  });
}

test('property: histories of a correct register with random concurrency are linearizable', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
      const report = checkHistory(events(historyFromSequentialRun(steps)), { searchTimeoutMs: 10_000 });
      const bad = report.keys.find((k) => k.verdict !== 'pass');
      assert.equal(bad, undefined, bad?.message);
    }),
    { numRuns: 300 },
  );
});

/** Exhaustive reference: try every real-time-respecting order (unknown outcomes optional). */
function bruteForceLinearizable(ops: readonly Operation[]): boolean {
  const remaining = new Set(ops);
  const go = (state: string | null): boolean => {
    if (![...remaining].some((o) => o.status === 'ok')) return true;
    for (const x of [...remaining]) {
      if ([...remaining].some((y) => y !== x && y.ret < x.call)) continue;
      const next = registerModel.step(state, x);
      if (next === undefined) continue;
      remaining.delete(x);
      const found = go(next);
      remaining.add(x);
      if (found) return true;
    }
    return false;
  };
  return go(null);
}

const smallOpArb = fc.record({
  kind: fc.constantFrom('read', 'write', 'delete'),
  value: fc.constantFrom('a', 'b', null),
  // Small time ranges make touching intervals (ties) common: they are where off-by-one bugs hide.
  call: fc.integer({ min: 0, max: 5 }),
  len: fc.integer({ min: 0, max: 3 }),
  status: fc.constantFrom('ok', 'ok', 'info', 'fail'),
  final: fc.boolean(),
});

test('property: the checker agrees with exhaustive search on small arbitrary histories', () => {
  fc.assert(
    fc.property(fc.array(smallOpArb, { minLength: 1, maxLength: 7 }), (raw) => {
      const specs: OpSpec[] = raw.map((o, p) => ({
        p,
        op: o.kind,
        v: o.kind === 'write' ? (o.value ?? `w${p}`) : o.kind === 'read' ? o.value : null,
        call: o.call,
        ret: o.call + o.len,
        status: o.status,
        final: o.kind === 'read' && o.final,
      }));
      const evs = events(specs);
      const expected = bruteForceLinearizable(pairHistory(evs).ops);
      const key = checkHistory(evs, { searchTimeoutMs: 5_000, shrinkTimeoutMs: 1_000 }).keys[0];
      if (key === undefined) return; // every operation failed: nothing to check
      assert.equal(key.verdict, expected ? 'pass' : 'fail', key.message);
      if (!expected) assert.equal(bruteForceLinearizable(key.failing), false, 'the shrunk sub-history must itself fail');
    }),
    { numRuns: 3000 },
  );
});
