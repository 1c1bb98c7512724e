/**
 * Log entries (and at most one incoming snapshot) that the core has accepted but the runtime has
 * not yet confirmed durable.
 *
 * Why: the core never writes storage itself. New entries live here until a Ready hands them out
 * and advance() confirms they were persisted; only then are they read back from the storage.
 */
import { assert } from '../errors.ts';
import type { Entry, SnapshotMeta } from './types.ts';

export class Unstable {
  /** A snapshot received from the leader, not yet installed by the runtime. */
  snapshot: SnapshotMeta | null = null;
  /** Handed out in a Ready, waiting for advance(). */
  snapshotInProgress = false;
  /** entries[i] has index offset + i. */
  entries: Entry[] = [];
  offset: number;
  /** entries[0, inProgress) were handed out in a Ready and are being persisted. */
  inProgress = 0;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** Index of the last unstable entry, or of the unstable snapshot, or -1 when neither. */
  maybeLastIndex(): number {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== null) return this.snapshot.index;
    return -1;
  }

  /** Term at `i` if held here, else -1. */
  maybeTerm(i: number): number {
    if (i >= this.offset) {
      const e = this.entries[i - this.offset];
      return e === undefined ? -1 : e.term;
    }
    if (this.snapshot !== null && this.snapshot.index === i) return this.snapshot.term;
    return -1;
  }

  /** Entries not yet handed out in a Ready (marks them as handed out). */
  takeForReady(): Entry[] {
    if (this.inProgress === this.entries.length) return [];
    const out = this.inProgress === 0 ? this.entries.slice() : this.entries.slice(this.inProgress);
    this.inProgress = this.entries.length;
    return out;
  }

  /** The runtime persisted entries up to `index` (with term `term`): drop them from here. */
  stableTo(index: number, term: number): boolean {
    if (index < this.offset) return false;
    const e = this.entries[index - this.offset];
    if (e === undefined || e.term !== term) return false; // truncated and replaced meanwhile
    const n = index + 1 - this.offset;
    this.entries = n === this.entries.length ? [] : this.entries.slice(n);
    this.offset = index + 1;
    this.inProgress = Math.max(0, this.inProgress - n);
    return true;
  }

  stableSnapTo(index: number): void {
    if (this.snapshot !== null && this.snapshot.index === index) {
      this.snapshot = null;
      this.snapshotInProgress = false;
    }
  }

  restore(meta: SnapshotMeta): void {
    this.offset = meta.index + 1;
    this.entries = [];
    this.inProgress = 0;
    this.snapshot = meta;
    this.snapshotInProgress = false;
  }

  /** Append `ents` (contiguous), truncating any conflicting suffix first. */
  truncateAndAppend(ents: readonly Entry[]): void {
    const first = (ents[0] as Entry).index;
    const end = this.offset + this.entries.length;
    if (first === end) {
      for (let i = 0; i < ents.length; i++) this.entries.push(ents[i] as Entry);
    } else if (first <= this.offset) {
      // Replace everything unstable; storage's conflicting suffix is truncated when these are saved.
      this.offset = first;
      this.entries = ents.slice();
      this.inProgress = 0;
    } else {
      assert(first < end, `unstable append at ${first} leaves a gap after ${end - 1}`);
      const keep = first - this.offset;
      this.entries = this.entries.slice(0, keep);
      for (let i = 0; i < ents.length; i++) this.entries.push(ents[i] as Entry);
      this.inProgress = Math.min(this.inProgress, keep);
    }
  }

  /** Entries in [lo, hi); the caller checked the bounds. */
  slice(lo: number, hi: number): Entry[] {
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
