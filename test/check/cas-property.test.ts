import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { KeyTxn, Observed } from '../../src/check/cas-ops.ts';
import { checkHistory } from '../../src/check/checker.ts';
import type { Operation } from '../../src/check/history.ts';
import { pairHistory } from '../../src/check/history.ts';
import type { CasState } from '../../src/check/model.ts';
import { casModel } from '../../src/check/model.ts';
import { searchLinearizable } from '../../src/check/search.ts';
import { possibleSources, removeClosed } from '../../src/check/shrink.ts';
import type { CasSpec } from './cas-helpers.ts';
import { casEvents } from './cas-helpers.ts';

const KINDS = ['read', 'meta', 'write', 'delete', 'casValue', 'casVersion', 'casAbsent', 'txn'] as const;

const stepArb = fc.record({
  key: fc.constantFrom('x', 'y'),
  kind: fc.constantFrom(...KINDS),
  outcome: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'info', 'info-never', 'fail'),
  // Whether a conditional op expects the current state (else an off-by-one / older one).
  match: fc.boolean(),
  before: fc.integer({ min: 0, max: 30 }),
  after: fc.integer({ min: 0, max: 30 }),
  gap: fc.integer({ min: 0, max: 6 }),
});

type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

const obs = (s: CasState): Observed | null => (s.value === null ? null : { value: s.value, version: s.version });

/**
 * A history produced by a correct store: operations take effect one by one at increasing instants,
 * each inside its own window; conditional ones decide on the state at that instant; unknown
 * outcomes take effect or not, failures never do.
 */
function historyFromSequentialRun(steps: readonly Step[]): CasSpec[] {
  const state = new Map<string, CasState>();
  const ops: (Omit<CasSpec, 'p'> & { doneAt: number })[] = [];
  let t = 0;
  steps.forEach((s, i) => {
    t += s.gap;
    const applies = s.outcome === 'ok' || s.outcome === 'info';
    const status = s.outcome === 'info-never' ? 'info' : s.outcome;
    const call = t - s.before;
    const ret = t + s.after;
    const cur = state.get(s.key) ?? { value: null, version: 0 };
    const v = `v${i}`;
    const base = { k: s.key, call, ret, status, doneAt: ret } as const;
    const apply = (next: CasState): void => {
      if (applies) state.set(s.key, next);
    };
    switch (s.kind) {
      case 'read':
      case 'meta':
        if (s.outcome === 'info-never') return;
        ops.push({
          ...base,
          op: 'read',
          v: cur.value,
          ...(s.kind === 'meta' ? { version: cur.version } : {}),
          status: s.outcome === 'ok' ? 'ok' : s.outcome === 'fail' ? 'fail' : 'info',
        });
        return;
      case 'write':
        apply({ value: v, version: cur.version + 1 });
        ops.push({ ...base, op: 'write', v });
        return;
      case 'delete':
        apply({ value: null, version: 0 });
        ops.push({ ...base, op: 'delete' });
        return;
      case 'casValue':
      case 'casVersion':
      case 'casAbsent': {
        const cond =
          s.kind === 'casValue'
            ? { ifValue: s.match && cur.value !== null ? cur.value : `v${Math.max(0, i - 3)}` }
            : s.kind === 'casVersion'
              ? { ifVersion: s.match ? cur.version : cur.version + 1 }
              : { ifAbsent: true as const };
        const holds =
          s.kind === 'casValue'
            ? cur.value !== null && cur.value === cond.ifValue
            : s.kind === 'casVersion'
              ? cur.version === cond.ifVersion
              : cur.value === null;
        if (holds) apply({ value: v, version: cur.version + 1 });
        ops.push({ ...base, op: 'cas', v, cond, ok: holds, current: obs(cur) });
        return;
      }
      case 'txn': {
        const txn: KeyTxn = {
          compare: [{ target: 'version', op: s.match ? '=' : '>', value: cur.version }],
          success: [{ get: true }, { put: v }, { get: true }],
          failure: [{ get: true }, { delete: true }],
        };
        const holds = s.match;
        const after: CasState = holds ? { value: v, version: cur.version + 1 } : { value: null, version: 0 };
        apply(after);
        ops.push({ ...base, op: 'txn', txn, ok: holds, gets: holds ? [obs(cur), obs(after)] : [obs(cur)] });
        return;
      }
    }
  });
  ops.sort((a, b) => a.call - b.call);
  const busyUntil: number[] = [];
  return ops.map(({ doneAt, ...o }) => {
    let p = busyUntil.findIndex((b) => b < o.call);
    if (p < 0) p = busyUntil.push(0) - 1;
    busyUntil[p] = doneAt;
    return { ...o, p };
  });
}

test('property: histories of a correct CAS register with random concurrency are linearizable', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
      const report = checkHistory(casEvents(historyFromSequentialRun(steps)), { searchTimeoutMs: 10_000 });
      const bad = report.keys.find((k) => k.verdict !== 'pass');
      assert.equal(bad, undefined, bad?.message);
    }),
    { numRuns: 300 },
  );
});

/** Exhaustive reference: every real-time-respecting order (unknown outcomes optional) through casModel. */
function bruteForceLinearizable(ops: readonly Operation[]): boolean {
  const remaining = new Set(ops);
  const go = (state: CasState): boolean => {
    if (![...remaining].some((o) => o.status === 'ok')) return true;
    for (const x of [...remaining]) {
      if ([...remaining].some((y) => y !== x && y.ret < x.call)) continue;
      const next = casModel.step(state, x);
      if (next === undefined) continue;
      remaining.delete(x);
      const found = go(next);
      remaining.add(x);
      if (found) return true;
    }
    return false;
  };
  return go(casModel.init);
}

const valueArb = fc.constantFrom('a', 'b');
const observedArb = fc.option(fc.record({ value: valueArb, version: fc.integer({ min: 1, max: 3 }) }), { nil: null });
const smallOpArb = fc.record({
  kind: fc.constantFrom('read', 'meta', 'write', 'delete', 'casValue', 'casVersion', 'txn'),
  value: fc.option(valueArb, { nil: null }),
  version: fc.integer({ min: 0, max: 3 }),
  succeeded: fc.boolean(),
  current: observedArb,
  call: fc.integer({ min: 0, max: 5 }),
  len: fc.integer({ min: 0, max: 3 }),
  status: fc.constantFrom('ok', 'ok', 'info', 'fail'),
  final: fc.boolean(),
});

test('property: the checker agrees with exhaustive search on small arbitrary CAS histories', () => {
  fc.assert(
    fc.property(fc.array(smallOpArb, { minLength: 1, maxLength: 6 }), (raw) => {
      const specs: CasSpec[] = raw.map((o, p) => {
        const common = { p, call: o.call, ret: o.call + o.len, status: o.status } as const;
        const written = o.value ?? `w${p}`;
        switch (o.kind) {
          case 'read':
          case 'meta':
            return {
              ...common,
              op: 'read',
              v: o.value,
              final: o.final,
              ...(o.kind === 'meta' ? { version: o.value === null ? 0 : Math.max(1, o.version) } : {}),
            };
          case 'write':
            return { ...common, op: 'write', v: written };
          case 'delete':
            return { ...common, op: 'delete' };
          case 'casValue':
          case 'casVersion':
            return {
              ...common,
              op: 'cas',
              v: `c${p}`,
              cond: o.kind === 'casValue' ? { ifValue: o.value ?? 'a' } : { ifVersion: o.version },
              ok: o.succeeded,
              current: o.current,
            };
          default:
            return {
              ...common,
              op: 'txn',
              txn: { compare: [{ target: 'version', op: '<', value: o.version }], success: [{ put: `t${p}` }], failure: [{ get: true }] },
              ok: o.succeeded,
              gets: o.succeeded ? [] : [o.current],
            };
        }
      });
      const evs = casEvents(specs);
      const expected = bruteForceLinearizable(pairHistory(evs).ops);
      const key = checkHistory(evs, { searchTimeoutMs: 5_000, shrinkTimeoutMs: 1_000 }).keys[0];
      if (key === undefined) return; // every operation failed: nothing to check
      assert.equal(key.verdict, expected ? 'pass' : 'fail', key.message);
      if (!expected) assert.equal(bruteForceLinearizable(key.failing), false, 'the shrunk sub-history must itself fail');
    }),
    { numRuns: 3000 },
  );
});

test('property: shrinking cannot manufacture a failure — every closed sub-history of a linearizable CAS history is linearizable', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 40 }), fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (steps, picks) => {
      const byKey = new Map<string, Operation[]>();
      for (const o of pairHistory(casEvents(historyFromSequentialRun(steps))).ops) byKey.set(o.key, [...(byKey.get(o.key) ?? []), o]);
      for (const ops of byKey.values()) {
        const remove = new Set(picks.map((i) => ops[i % ops.length]!));
        const sub = removeClosed(ops, remove, possibleSources(ops));
        const result = searchLinearizable(sub, casModel, { timeoutMs: 5_000 });
        assert.equal(result.kind, 'ok', `removing ${[...remove].map((o) => o.id).join(',')} left a failing sub-history of ${sub.length}`);
      }
    }),
    { numRuns: 1000 },
  );
});
