/**
 * What an operation can do to its key and what it saw of it, over every operation kind.
 *
 * Why: the pre-checks, the shrinker and the unknown-outcome pruning reason about "which
 * operations could have written the value this one saw" and "which certainly overwrote it"; with
 * conditional operations the answer depends on the branch that ran (or, for an unknown outcome,
 * either branch), so it is computed here once instead of as `op === 'write'` in every check.
 */
import { branchEffect, leadingGets } from './cas-ops.ts';
import type { Operation } from './history.ts';

/** The branch an acknowledged cas/txn ran. */
const takenBranch = (o: Operation) => (o.succeeded === true ? o.txn!.success : o.txn!.failure);

/**
 * The values `o` may leave in its key if it takes effect (null: deleted). An acknowledged cas/txn:
 * its executed branch's effect; one with an unknown outcome (or a failed request, for messages):
 * either branch's.
 */
export function possibleEffects(o: Operation): (string | null)[] {
  switch (o.op) {
    case 'read':
      return [];
    case 'write':
      return [o.input];
    case 'delete':
      return [null];
    default: {
      const branches = o.status === 'ok' && o.succeeded !== undefined ? [takenBranch(o)] : [o.txn!.success, o.txn!.failure];
      const out: (string | null)[] = [];
      for (const b of branches) {
        const e = branchEffect(b);
        if (e !== undefined && !out.includes(e)) out.push(e);
      }
      return out;
    }
  }
}

/** Whether `o` may change its key. */
export const mayMutate = (o: Operation): boolean => possibleEffects(o).length > 0;

/** The value an acknowledged operation certainly left in its key (null: deleted), or undefined when it changed nothing or its outcome is unknown. */
export function definiteEffect(o: Operation): string | null | undefined {
  if (o.status !== 'ok') return undefined;
  if (o.op === 'write') return o.input;
  if (o.op === 'delete') return null;
  if (o.op === 'read' || o.succeeded === undefined) return undefined;
  return branchEffect(takenBranch(o));
}

/**
 * The values an acknowledged operation saw of its key's state before it (null: absent): a read's
 * answer; for a cas/txn, the gets of its executed branch that come before its first put or delete
 * (later gets see the operation's own writes), and the value its value '=' compares expected when
 * they held.
 */
export function observedValues(o: Operation): (string | null)[] {
  if (o.status !== 'ok') return [];
  if (o.op === 'read') return [o.output];
  if ((o.op === 'cas' || o.op === 'txn') && o.gets !== undefined && o.succeeded !== undefined) {
    const seen = o.gets.slice(0, leadingGets(takenBranch(o))).map((g) => (g === null ? null : g.value));
    // Compares that held saw the value they expected.
    if (o.succeeded) for (const x of expectedValues(o)) if (!seen.includes(x)) seen.push(x);
    return seen;
  }
  return [];
}

/**
 * Whether the legality or the effect of `o` depends on the key's state beyond "the value is
 * exactly x": a version seen or compared, any compare other than value '=' (its outcome changes
 * when the value does), gets of a cas/txn (they report the version). Removing a write before such
 * an operation can change its verdict, so shrinking and pruning keep them apart (checker.ts, shrink.ts).
 */
export function dependsOnMoreThanValue(o: Operation): boolean {
  if (o.op === 'read') return o.outputVersion !== undefined;
  if (o.op !== 'cas' && o.op !== 'txn') return false;
  if (o.txn!.compare.some((c) => c.target !== 'value' || c.op !== '=')) return true;
  return o.status === 'ok' && (o.gets?.length ?? 0) > 0;
}

/** The values an operation's value '=' compares expect (a cas with ifValue x "reads" x when it succeeds). */
export function expectedValues(o: Operation): string[] {
  if (o.op !== 'cas' && o.op !== 'txn') return [];
  return o.txn!.compare.filter((c) => c.target === 'value' && c.op === '=').map((c) => c.value as string);
}
