/**
 * Greedy minimization of a non-linearizable sub-history.
 *
 * Why closure under sources: dropping a write can by itself make a read unexplainable, which
 * would "shrink" a history into a failure of our own making. We therefore drop a read whenever
 * one of the operations it could have read from is dropped. A sub-history closed this way is
 * linearizable whenever the original is (restrict the original linearization to it: every kept
 * read still has the write it read from, and nothing kept comes between them), so a failing
 * sub-history is a real witness.
 */
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
 * For every acknowledged read, the operations it could have read from: mutations writing the value
 * it returned that were invoked before it returned, minus those that certainly came before an
 * acknowledged overwrite that itself completed before the read began (such a write cannot be the
 * last one before the read in any linearization).
 */
export function possibleSources(ops: readonly Operation[]): Map<Operation, Set<Operation>> {
  const out = new Map<Operation, Set<Operation>>();
  const mutations = ops.filter((o) => o.op !== 'read');
  const writes = (o: Operation): string | null => (o.op === 'write' ? o.input : null);
  for (const r of ops) {
    if (r.op !== 'read' || r.status !== 'ok') continue;
    let lastOverwriteCall = Number.NEGATIVE_INFINITY;
    for (const m of mutations) {
      if (m.status === 'ok' && m.ret < r.call && writes(m) !== r.output) lastOverwriteCall = Math.max(lastOverwriteCall, m.call);
    }
    const set = new Set<Operation>();
    for (const c of mutations) if (writes(c) === r.output && c.call <= r.ret && c.ret >= lastOverwriteCall) set.add(c);
    // No possible source means the read is itself the violation (e.g. stale); keep every write of its
    // value with it anyway, so the shrunk history still shows where the value came from.
    if (set.size === 0) for (const c of mutations) if (writes(c) === r.output) set.add(c);
    out.set(r, set);
  }
  return out;
}

/** `ops` minus `remove`, minus every read one of whose possible sources (see `possibleSources`) is removed. */
export function removeClosed(
  ops: readonly Operation[],
  remove: ReadonlySet<Operation>,
  sources: ReadonlyMap<Operation, ReadonlySet<Operation>>,
): Operation[] {
  return ops.filter((o) => {
    if (remove.has(o)) return false;
    const src = sources.get(o);
    if (src === undefined) return true;
    for (const c of src) if (remove.has(c)) return false;
    return true;
  });
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
