/**
 * The Raft log as the core sees it: durable entries in Storage followed by unstable ones.
 *
 * Why: every rule that reads the log (matching, conflicts, up-to-date checks, what to send, what
 * to apply) goes through this one view, so the boundary between "persisted" and "not yet" is
 * handled in one place. Term lookups avoid exceptions on the hot path by checking bounds first.
 */
import { CompactedError, UnavailableError, assert } from '../errors.ts';
import { Unstable } from './unstable.ts';
import type { Entry, SnapshotMeta, Storage } from './types.ts';

/** Returned by {@link RaftLog.termOrNeg} for an index below the retained log. */
export const TERM_COMPACTED = -1;
/** Returned by {@link RaftLog.termOrNeg} for an index past the end of the log. */
export const TERM_UNAVAILABLE = -2;

/** Sum of the data bytes of `ents`. */
export function entriesBytes(ents: readonly Entry[]): number {
  let n = 0;
  for (let i = 0; i < ents.length; i++) n += (ents[i] as Entry).data.length;
  return n;
}

export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known committed. */
  committed: number;
  /** Highest index the state machine confirmed applied (via advance). */
  applied: number;
  /** Highest index handed out for applying (≥ applied). */
  applying: number;

  constructor(
    readonly storage: Storage,
    committed: number,
    applied: number,
  ) {
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.committed = committed;
    this.applied = applied;
    this.applying = applied;
  }

  firstIndex(): number {
    const snap = this.unstable.snapshot;
    return snap !== null ? snap.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.offset + this.unstable.entries.length - 1;
  }

  lastTerm(): number {
    const t = this.termOrNeg(this.lastIndex());
    assert(t >= 0, `term of the last index ${this.lastIndex()} is unknown`);
    return t;
  }

  /** Term at `i`, or TERM_COMPACTED / TERM_UNAVAILABLE. */
  termOrNeg(i: number): number {
    const u = this.unstable;
    if (i >= u.offset) {
      const e = u.entries[i - u.offset];
      return e === undefined ? TERM_UNAVAILABLE : e.term;
    }
    if (u.snapshot !== null) {
      if (i === u.snapshot.index) return u.snapshot.term;
      return i < u.snapshot.index ? TERM_COMPACTED : TERM_UNAVAILABLE;
    }
    if (i === 0) return 0;
    if (i < this.storage.firstIndex() - 1) return TERM_COMPACTED;
    return this.storage.term(i);
  }

  /** Term at `i`; throws CompactedError / UnavailableError. */
  term(i: number): number {
    const t = this.termOrNeg(i);
    if (t === TERM_COMPACTED) throw new CompactedError(i, this.firstIndex());
    if (t === TERM_UNAVAILABLE) throw new UnavailableError(i, this.lastIndex());
    return t;
  }

  matchTerm(i: number, term: number): boolean {
    return this.termOrNeg(i) === term;
  }

  /** Raft §5.4.1: is a log ending at (index, term) at least as up to date as ours? */
  isUpToDate(index: number, term: number): boolean {
    const lastTerm = this.lastTerm();
    return term > lastTerm || (term === lastTerm && index >= this.lastIndex());
  }

  /**
   * Follower side of AppendEntries: if our log matches (index, logTerm), append `ents` (truncating a
   * conflicting suffix), advance commit to min(commit, last new index) and return the last new index;
   * otherwise return -1. `allowCommittedTruncation` only for test faults (a bug being simulated).
   */
  maybeAppend(index: number, logTerm: number, commit: number, ents: readonly Entry[], allowCommittedTruncation: boolean): number {
    if (!this.matchTerm(index, logTerm)) return -1;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(
        ci > this.committed || allowCommittedTruncation,
        `conflict at ${ci} would truncate committed entries (commit ${this.committed})`,
      );
      const off = ci - (index + 1);
      this.append(off === 0 ? ents : ents.slice(off));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Index of the first entry of `ents` that is new or conflicts with ours (0 when all match). */
  findConflict(ents: readonly Entry[]): number {
    const last = this.lastIndex();
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i] as Entry;
      if (e.index > last) return e.index;
      const t = this.termOrNeg(e.index);
      if (t === TERM_COMPACTED) continue; // covered by our snapshot, hence committed and matching
      if (t !== e.term) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking: the largest index ≤ `index` whose term is ≤ `term` (and that term), so the
   * leader can skip a whole term of conflicting entries per round trip. Stops at the compaction point.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    const floor = this.firstIndex() - 1;
    let i = index;
    for (; i > floor; i--) {
      const t = this.termOrNeg(i);
      if (t < 0) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    const t = this.termOrNeg(i);
    return { index: i, term: Math.max(t, 0) };
  }

  /** Append entries (the caller ensured they follow or overwrite a non-committed suffix). Returns the new last index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), `commit ${index} is beyond the last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /**
   * Entries in [lo, hi) limited to `maxBytes` (at least one). Throws CompactedError below the first
   * index; the caller must not ask past the last index.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(lo, first);
    assert(hi <= this.lastIndex() + 1, `entries up to ${hi - 1} requested but the last index is ${this.lastIndex()}`);
    const u = this.unstable;
    let out: Entry[];
    let bytes = 0;
    if (lo < u.offset) {
      const stored = this.storage.entries(lo, Math.min(hi, u.offset), maxBytes);
      if (hi <= u.offset || stored.length < u.offset - lo) return stored;
      out = stored;
      bytes = entriesBytes(stored);
    } else {
      out = [];
    }
    const from = Math.max(lo, u.offset) - u.offset;
    const to = hi - u.offset;
    if (maxBytes === Number.POSITIVE_INFINITY) {
      if (out.length === 0) return u.entries.slice(from, to);
      for (let i = from; i < to; i++) out.push(u.entries[i] as Entry);
      return out;
    }
    for (let i = from; i < to; i++) {
      const e = u.entries[i] as Entry;
      bytes += e.data.length;
      if (bytes > maxBytes && out.length > 0) break;
      out.push(e);
    }
    return out;
  }

  /** True when committed entries wait to be handed out for applying. */
  hasNextCommittedEntries(): boolean {
    return this.committed > this.applying;
  }

  /** Committed entries not yet handed out, up to `maxBytes`; marks them as being applied. */
  takeCommittedEntries(maxBytes: number): Entry[] {
    if (this.committed <= this.applying) return [];
    const ents = this.entries(this.applying + 1, this.committed + 1, maxBytes);
    if (ents.length > 0) this.applying = (ents[ents.length - 1] as Entry).index;
    return ents;
  }

  appliedTo(index: number): void {
    if (index > this.applied) {
      assert(index <= this.committed, `applied ${index} is beyond commit ${this.committed}`);
      this.applied = index;
    }
    if (this.applying < this.applied) this.applying = this.applied;
  }

  /** Install a snapshot received from the leader: the whole log is replaced. */
  restore(meta: SnapshotMeta): void {
    this.unstable.restore(meta);
    this.committed = meta.index;
    this.applied = meta.index;
    this.applying = meta.index;
  }
}
