/**
 * Greedy minimization of a non-linearizable sub-history.
 *
 * Why closure under sources: dropping a write can by itself make a read unexplainable, which
 * would "shrink" a history into a failure of our own making. We therefore drop a read whenever
 * one of the operations it could have read from is dropped. A sub-history closed this way is
 * linearizable whenever the original is (restrict the original linearization to it: every kept
 * read still has the write it read from, and nothing kept comes between them), so a failing
 * sub-history is a real witness. With versions (the CAS register) a dropped write also shifts
 * every later version, so an operation that sees or compares versions goes too when it could
 * come after a dropped mutation.
 */
import { definiteEffect, dependsOnMoreThanValue, expectedValues, mayMutate, observedValues, possibleEffects } from './effects.ts';
import type { Operation } from './history.ts';
import type { Model } from './model.ts';
import { searchLinearizable } from './search.ts';

/** Bounds for shrinking. */
export interface ShrinkOptions {
  /** Total time for shrinking; the best result so far is returned when it runs out. */
  readonly timeoutMs: number;
  /** Search time per candidate; a candidate whose search times out is treated as passing (kept). */
  readonly attemptTimeoutMs: number;
}

/**
 * For every operation that saw values of its key (a read, a cas/txn's gets and held compares,
 * effects.ts) or that can take effect only when the key holds a given value (a cas/txn with an
 * unknown outcome and value '=' compares), the operations it could have read from: mutations that
 * may leave that value, invoked before it returned, minus those that certainly came before an
 * acknowledged overwrite that itself completed before it began (such a write cannot be the last
 * one before it in any linearization).
 */
export function possibleSources(ops: readonly Operation[]): Map<Operation, Set<Operation>> {
  const out = new Map<Operation, Set<Operation>>();
  const mutations = ops.filter(mayMutate);
  for (const r of ops) {
    const values = r.status === 'ok' ? observedValues(r) : expectedValues(r);
    if (values.length === 0) continue;
    const set = new Set<Operation>();
    for (const value of values) {
      let lastOverwriteCall = Number.NEGATIVE_INFINITY;
      for (const m of mutations) {
        const effect = definiteEffect(m);
        if (m !== r && effect !== undefined && effect !== value && m.ret < r.call) lastOverwriteCall = Math.max(lastOverwriteCall, m.call);
      }
      let found = false;
      for (const c of mutations) {
        if (c !== r && possibleEffects(c).includes(value) && c.call <= r.ret && c.ret >= lastOverwriteCall) {
          set.add(c);
          found = true;
        }
      }
      // No possible source means the read is itself the violation (e.g. stale); keep every write of its
      // value with it anyway, so the shrunk history still shows where the value came from ("absent"
      // needs none: the initial state is always there).
      if (!found && value !== null) for (const c of mutations) if (c !== r && possibleEffects(c).includes(value)) set.add(c);
    }
    out.set(r, set);
  }
  return out;
}

/**
 * `ops` minus `remove`, closed: minus every operation one of whose possible sources (see
 * `possibleSources`) is gone, and every operation that depends on more than the value
 * (`dependsOnMoreThanValue`: versions, other compares) and could come after a removed mutation —
 * repeated until nothing more goes, since a dropped cas/txn is itself a mutation.
 */
export function removeClosed(
  ops: readonly Operation[],
  remove: ReadonlySet<Operation>,
  sources: ReadonlyMap<Operation, ReadonlySet<Operation>>,
): Operation[] {
  const readers = readersOf(sources);
  const gone = new Set(remove);
  const queue = [...remove];
  let firstMutationCall = Number.POSITIVE_INFINITY;
  for (;;) {
    while (queue.length > 0) {
      const o = queue.pop()!;
      if (mayMutate(o)) firstMutationCall = Math.min(firstMutationCall, o.call);
      for (const r of readers.get(o) ?? []) {
        if (!gone.has(r)) {
          gone.add(r);
          queue.push(r);
        }
      }
    }
    for (const o of ops) {
      if (!gone.has(o) && dependsOnMoreThanValue(o) && o.ret >= firstMutationCall) {
        gone.add(o);
        queue.push(o);
      }
    }
    if (queue.length === 0) return ops.filter((o) => !gone.has(o));
  }
}

const readersCache = new WeakMap<ReadonlyMap<Operation, ReadonlySet<Operation>>, Map<Operation, Operation[]>>();

/** The inverse of `sources`: for each mutation, the operations that may have read from it (cached per map). */
function readersOf(sources: ReadonlyMap<Operation, ReadonlySet<Operation>>): Map<Operation, Operation[]> {
  let readers = readersCache.get(sources);
  if (readers === undefined) {
    readers = new Map();
    for (const [r, set] of sources) {
      for (const c of set) {
        const list = readers.get(c);
        if (list === undefined) readers.set(c, [r]);
        else list.push(r);
      }
    }
    readersCache.set(sources, readers);
  }
  return readers;
}

/**
 * Shrink `ops` (which must fail the search) to a smaller failing sub-history: try removing
 * chunks of halving size, keep every removal after which the search still fails.
 */
export function shrinkFailing<S>(ops: readonly Operation[], model: Model<S>, options: ShrinkOptions): Operation[] {
  const deadline = performance.now() + options.timeoutMs;
  const fails = (candidate: readonly Operation[]): boolean =>
    searchLinearizable(candidate, model, { timeoutMs: Math.min(options.attemptTimeoutMs, Math.max(1, deadline - performance.now())) })
      .kind === 'fail';
  const sources = possibleSources(ops);
  let current = [...ops];
  let chunk = Math.max(1, Math.ceil(current.length / 2));
  for (;;) {
    let i = 0;
    while (i < current.length) {
      if (performance.now() > deadline) return current;
      const candidate = removeClosed(current, new Set(current.slice(i, i + chunk)), sources);
      if (candidate.length < current.length && candidate.length > 0 && fails(candidate)) current = candidate;
      else i += chunk;
    }
    if (chunk === 1) break;
    chunk = Math.ceil(chunk / 2);
  }
  return current;
}
