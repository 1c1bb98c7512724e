/**
 * The linearizability checker: pairs a history, splits it by key, runs the sound pre-checks,
 * then the bounded Wing & Gong / Lowe search on each key, and shrinks every failure.
 *
 * Why per key: a register per key is independent of every other key, and linearizability is
 * compositional (Herlihy & Wing), so the whole history is linearizable iff every key's is, and
 * the search stays small. A key whose search runs out of time is `unknown`, never `pass`. Every
 * operation names one key (a cas or txn too), so this holds for conditional operations as well;
 * a key with any of them is checked against the CAS register (value and version), the others
 * against the plain register.
 */

import { dependsOnMoreThanValue, expectedValues, observedValues, possibleEffects } from './effects.ts';
import { describeOps } from './format.ts';
import type { HistoryEvent, Operation } from './history.ts';
import { pairHistory, partitionByKey } from './history.ts';
import type { Model } from './model.ts';
import { casModel, needsCasModel, registerModel } from './model.ts';
import type { Problem } from './prechecks.ts';
import { findLostWrites, findNeverWritten, findStaleReads } from './prechecks.ts';
import { searchLinearizable } from './search.ts';
import { shrinkFailing } from './shrink.ts';

/** Tuning for one check. */
export interface CheckOptions {
  /** Search time per key before the key is reported `unknown` (default 10 000 ms). */
  readonly searchTimeoutMs?: number;
  /** Time to shrink each failing key's history (default 5 000 ms). */
  readonly shrinkTimeoutMs?: number;
  /** Memo cache bound per key search (default 4 000 000 configurations). */
  readonly maxCacheEntries?: number;
}

export type Verdict = 'pass' | 'fail' | 'unknown';

/** The result for one key. */
export interface KeyResult {
  readonly key: string;
  readonly verdict: Verdict;
  /** Operations on this key that count (acknowledged or unknown outcome). */
  readonly ops: number;
  /** Violations found (empty on pass/unknown). The first is the headline. */
  readonly problems: readonly Problem[];
  /** A minimal failing sub-history (fail only). */
  readonly failing: readonly Operation[];
  /** One line: what happened. */
  readonly message: string;
  readonly elapsedMs: number;
}

/** The result for a whole history. */
export interface CheckReport {
  readonly keys: readonly KeyResult[];
  /** Completions by type, over the whole history. */
  readonly counts: { readonly ok: number; readonly fail: number; readonly info: number };
  /** Keys whose verdict is fail. */
  readonly violations: number;
  /** Acknowledged writes reported lost. */
  readonly lostWrites: number;
  /** Keys whose verdict is unknown. */
  readonly unknown: number;
  /** true: linearizable; false: not; 'unknown': no violation found but some key was not decided. */
  readonly valid: boolean | 'unknown';
}

/**
 * Drop unknown-outcome mutations that no read could have observed: a write whose value no read
 * returned, a delete when no read returned "absent" (for cas/txn: none of the values either branch
 * leaves was seen or expected by a compare). Such an operation can always be taken to have never
 * happened, and a linearization without it stays one with it (no read reads from it), so the
 * verdict is unchanged — but each one left in would multiply the search space, and timeouts during
 * faults produce many of them. With versions the argument needs one more condition: no operation
 * that sees or compares versions (`dependsOnMoreThanValue`) may come after it, since dropping a put
 * shifts the versions after it. An unknown operation that can change nothing goes in any case.
 */
export function withoutUnobservedUnknowns(ops: readonly Operation[]): Operation[] {
  const seen = new Set<string | null>();
  let lastDependentRet = Number.NEGATIVE_INFINITY;
  for (const o of ops) {
    for (const v of observedValues(o)) seen.add(v);
    for (const v of expectedValues(o)) seen.add(v);
    if (dependsOnMoreThanValue(o)) lastDependentRet = Math.max(lastDependentRet, o.ret);
  }
  return ops.filter((o) => {
    if (o.status === 'ok' || o.op === 'read') return true;
    const effects = possibleEffects(o);
    if (effects.length === 0) return false;
    return effects.some((v) => seen.has(v)) || o.call <= lastDependentRet;
  });
}

/** The model a key's operations are checked against: the CAS register when any needs it. */
export function modelFor(ops: readonly Operation[]): Model<unknown> {
  return (ops.some(needsCasModel) ? casModel : registerModel) as Model<unknown>;
}

/** Check one key's operations (`failed` are that key's provably-ineffective operations, for messages). */
export function checkKey(key: string, ops: readonly Operation[], failed: readonly Operation[], options: CheckOptions = {}): KeyResult {
  const started = performance.now();
  const searchTimeoutMs = options.searchTimeoutMs ?? 10_000;
  const shrinkTimeoutMs = options.shrinkTimeoutMs ?? 5_000;
  const searchOptions = {
    timeoutMs: searchTimeoutMs,
    ...(options.maxCacheEntries === undefined ? {} : { maxCacheEntries: options.maxCacheEntries }),
  };
  const shrinkOptions = { timeoutMs: shrinkTimeoutMs, attemptTimeoutMs: Math.min(1_000, searchTimeoutMs) };
  const elapsed = (): number => performance.now() - started;
  const model = modelFor(ops);

  const lost = findLostWrites(ops);
  const problems: Problem[] = [...findNeverWritten(ops, failed), ...lost.problems, ...findStaleReads(ops, lost.evidence)];
  if (problems.length > 0) {
    const first = problems[0]!;
    // The witness operations fail on their own; shrinking them further is cheap and sometimes helps.
    const witnessFails = searchLinearizable(first.ops, model, { timeoutMs: shrinkOptions.attemptTimeoutMs }).kind === 'fail';
    const failing = witnessFails ? shrinkFailing(first.ops, model, shrinkOptions) : first.ops;
    const more = problems.length > 1 ? ` (+${problems.length - 1} more)` : '';
    return { key, verdict: 'fail', ops: ops.length, problems, failing, message: first.message + more, elapsedMs: elapsed() };
  }

  const searchOps = withoutUnobservedUnknowns(ops);
  const result = searchLinearizable(searchOps, model, searchOptions);
  if (result.kind === 'ok') {
    return { key, verdict: 'pass', ops: ops.length, problems: [], failing: [], message: 'linearizable', elapsedMs: elapsed() };
  }
  if (result.kind === 'timeout') {
    const message = `unknown: the search did not finish within ${searchTimeoutMs} ms (${result.explored} configurations explored, ${ops.length} operations)`;
    return { key, verdict: 'unknown', ops: ops.length, problems: [], failing: [], message, elapsedMs: elapsed() };
  }
  const failing = shrinkFailing(searchOps, model, shrinkOptions);
  const message =
    `not linearizable: no order of the ${ops.length} operations fits (the search placed at most ${result.longestPrefix.length}); ` +
    `a minimal failing sub-history has ${failing.length} operations:\n${describeOps(failing)}`;
  const problem: Problem = { kind: 'not-linearizable', key, message, ops: failing };
  return { key, verdict: 'fail', ops: ops.length, problems: [problem], failing, message, elapsedMs: elapsed() };
}

/** Check a whole history of events. Throws GRAFTD_INVALID_HISTORY when it is malformed. */
export function checkHistory(events: readonly HistoryEvent[], options: CheckOptions = {}): CheckReport {
  const counts = { ok: 0, fail: 0, info: 0 };
  for (const e of events) if (e.type !== 'invoke') counts[e.type]++;
  const paired = pairHistory(events);
  const byKey = partitionByKey(paired.ops);
  const failedByKey = partitionByKey(paired.failed);
  for (const key of failedByKey.keys()) if (!byKey.has(key)) byKey.set(key, []);
  const keys: KeyResult[] = [];
  for (const key of [...byKey.keys()].sort()) keys.push(checkKey(key, byKey.get(key)!, failedByKey.get(key) ?? [], options));
  const violations = keys.filter((k) => k.verdict === 'fail').length;
  const unknown = keys.filter((k) => k.verdict === 'unknown').length;
  const lostWrites = keys.reduce((n, k) => n + k.problems.filter((p) => p.kind === 'lost-write').length, 0);
  return { keys, counts, violations, lostWrites, unknown, valid: violations > 0 ? false : unknown > 0 ? 'unknown' : true };
}
