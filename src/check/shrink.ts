/**
 * Greedy minimization of a non-linearizable sub-history.
 *
 * Why closure under sources: dropping a write can by itself make a read unexplainable, which
 * would "shrink" a history into a failure of our own making. We therefore drop a read whenever
 * one of the operations it could have read from is dropped (for a value, every write of it; for
 * "absent", every delete). A sub-history closed this way is linearizable whenever the original
 * is (restrict the original linearization to it), so a failing sub-history is a real witness.
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

/** `ops` minus `remove`, plus every read that could only have read from a removed operation. */
export function removeClosed(ops: readonly Operation[], remove: ReadonlySet<Operation>): Operation[] {
  const removedValues = new Set<string>();
  let removedDelete = false;
  for (const o of remove) {
    if (o.op === 'write' && o.input !== null) removedValues.add(o.input);
    if (o.op === 'delete') removedDelete = true;
  }
  return ops.filter((o) => {
    if (remove.has(o)) return false;
    if (o.op !== 'read') return true;
    return o.output === null ? !removedDelete : !removedValues.has(o.output);
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
  let current = [...ops];
  let chunk = Math.max(1, Math.ceil(current.length / 2));
  for (;;) {
    let i = 0;
    while (i < current.length) {
      if (performance.now() > deadline) return current;
      const candidate = removeClosed(current, new Set(current.slice(i, i + chunk)));
      if (candidate.length < current.length && candidate.length > 0 && fails(candidate)) current = candidate;
      else i += chunk;
    }
    if (chunk === 1) break;
    chunk = Math.ceil(chunk / 2);
  }
  return current;
}
