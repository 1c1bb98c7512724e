/**
 * Fast, sound checks run before the search, each naming the operations that prove the violation.
 *
 * Why: the search answers only "not linearizable"; these say *what* went wrong in terms an
 * operator understands (a read of a value nobody wrote, a stale read, a lost acknowledged write),
 * and they run in polynomial time, so they still find these bugs on keys where the search times
 * out. Each check is sound: whatever it reports cannot be part of any linearizable history.
 */
import { definiteEffect, mayMutate, observedValues, possibleEffects } from './effects.ts';
import { describeOp } from './format.ts';
import type { Operation } from './history.ts';

/** What kind of violation a problem is. */
export type ProblemKind = 'never-written' | 'stale-read' | 'lost-write' | 'not-linearizable';

/** One violation found on one key, with the operations that demonstrate it. */
export interface Problem {
  readonly kind: ProblemKind;
  readonly key: string;
  readonly message: string;
  readonly ops: readonly Operation[];
}

/** The operations whose effect a read of `value` could have observed (for null: deletes; the initial state is implicit). */
export function sourcesOf(ops: readonly Operation[], value: string | null): Operation[] {
  return ops.filter((o) => possibleEffects(o).includes(value));
}

/** One value an acknowledged operation saw (a read's answer, a cas/txn's get or held compare). */
interface Observation {
  readonly op: Operation;
  readonly value: string | null;
}

function observations(ops: readonly Operation[]): Observation[] {
  const out: Observation[] = [];
  for (const o of ops) for (const value of observedValues(o)) out.push({ op: o, value });
  return out;
}

const shown = (v: string | null): string => (v === null ? 'absent' : JSON.stringify(v));

/**
 * Reads (and cas/txn observations, effects.ts) that returned a value no write could have produced: never written at all, written only
 * by writes that failed (provably no effect), or written only by writes invoked after the read returned.
 */
export function findNeverWritten(ops: readonly Operation[], failed: readonly Operation[]): Problem[] {
  const problems: Problem[] = [];
  for (const { op: r, value } of observations(ops)) {
    if (value === null) continue;
    const sources = sourcesOf(ops, value).filter((w) => w !== r);
    if (sources.some((w) => w.call <= r.ret)) continue;
    let why: string;
    let witness: Operation[] = [r];
    if (sources.length > 0) {
      why = `the only write of that value was invoked later (${describeOp(sources[0]!)})`;
      witness = [...sources, r];
    } else {
      const failedWrite = failed.find((w) => possibleEffects(w).includes(value));
      why =
        failedWrite === undefined
          ? 'no write of that value was ever invoked'
          : `it was written only by a write that failed, which provably had no effect (${describeOp(failedWrite)})`;
    }
    const saw = r.op === 'read' ? 'returned' : 'saw';
    problems.push({
      kind: 'never-written',
      key: r.key,
      message: `read of a value never written: ${describeOp(r)} ${saw} ${JSON.stringify(value)}, but ${why}`,
      ops: witness,
    });
  }
  return problems;
}

/**
 * Stale reads: a read returned value v although an acknowledged write or delete of something else,
 * which started only after every write of v had completed, completed before the read began. "Read"
 * and "write" include what a cas/txn saw and certainly wrote (effects.ts).
 * Reads listed in `skip` (already reported as evidence of a lost write) are not reported again.
 */
export function findStaleReads(ops: readonly Operation[], skip: ReadonlySet<number> = new Set()): Problem[] {
  const problems: Problem[] = [];
  for (const { op: r, value } of observations(ops)) {
    if (skip.has(r.id)) continue;
    const sources = sourcesOf(ops, value).filter((w) => w !== r);
    if (value !== null && sources.length === 0) continue; // never-written covers it
    // The latest moment by which every possible source of the value read had taken effect.
    let sourcesDoneBy = Number.NEGATIVE_INFINITY; // the initial (absent) state is there from the start
    for (const c of sources) sourcesDoneBy = Math.max(sourcesDoneBy, c.ret);
    if (sourcesDoneBy === Number.POSITIVE_INFINITY) continue;
    let overwrite: Operation | undefined;
    for (const m of ops) {
      if (m === r || m.ret >= r.call || m.call <= sourcesDoneBy) continue;
      const effect = definiteEffect(m);
      if (effect === undefined || effect === value) continue;
      if (overwrite === undefined || m.ret > overwrite.ret) overwrite = m;
    }
    if (overwrite === undefined) continue;
    const lastSource = sources.reduce<Operation | undefined>((a, c) => (a === undefined || c.ret > a.ret ? c : a), undefined);
    const from = lastSource === undefined ? 'the initial empty state' : describeOp(lastSource);
    problems.push({
      kind: 'stale-read',
      key: r.key,
      message: `stale read: ${describeOp(r)} ${r.op === 'read' ? 'returned' : 'saw'} ${shown(value)} (from ${from}), but ${describeOp(overwrite)} had already overwritten it before the read began`,
      ops: [...sources, overwrite, r],
    });
  }
  return problems;
}

/**
 * Lost acknowledged writes: a write was acknowledged, a final read (after healing) began after
 * it returned and did not see its value, and no other write or delete could have taken effect
 * between the two. Returns the problems and the ids of the reads used as evidence.
 */
export function findLostWrites(ops: readonly Operation[]): { problems: Problem[]; evidence: Set<number> } {
  const problems: Problem[] = [];
  const evidence = new Set<number>();
  const finals = ops.filter((o) => o.op === 'read' && o.status === 'ok' && o.final);
  if (finals.length === 0) return { problems, evidence };
  for (const w of ops) {
    const written = definiteEffect(w);
    if (typeof written !== 'string') continue;
    for (const r of finals) {
      if (r.call <= w.ret || r.output === written) continue;
      // Touching intervals count as concurrent, as everywhere in the checker.
      const explained = ops.some((m) => m !== w && mayMutate(m) && m.call <= r.ret && m.ret >= w.call);
      if (explained) continue;
      problems.push({
        kind: 'lost-write',
        key: w.key,
        message: `acknowledged write lost: ${describeOp(w)} was acknowledged, but the final ${describeOp(r)} returned ${shown(r.output)}, and no other write or delete could have come in between`,
        ops: [...sourcesOf(ops, r.output).filter((c) => c !== w), w, r],
      });
      evidence.add(r.id);
      break;
    }
  }
  return { problems, evidence };
}
