/**
 * Mirrors one node's persisted log as a chain of prefix hashes.
 *
 * Why: the checker must compare logs across nodes after every step. The tracker sees exactly
 * what the simulator hands to `storage.save` / `applySnapshot`, so it models the durable log
 * (what survives a crash) and lets the checker compare "everything up to index i" in O(1).
 */
import type { Entry } from '../../src/raft/types.ts';
import { chainHash } from './hash.ts';

/** Prefix hashes of a node's durable log, from its snapshot index to its last index. */
export class LogTracker {
  /** Index of the first tracked position (the latest installed snapshot's index, 0 initially). */
  private base = 0;
  /** hashes[i - base] = hash of entries 1..i; hashes[0] is the snapshot's prefix hash (0 for an empty log). */
  private hashes: number[] = [0];
  private terms: number[] = [0];

  /** Last index of the durable log. */
  get lastIndex(): number {
    return this.base + this.hashes.length - 1;
  }

  /** The lowest index whose prefix hash is known (the snapshot index). */
  get firstKnown(): number {
    return this.base;
  }

  /** Prefix hash at `index`, or undefined outside [firstKnown, lastIndex]. */
  hashAt(index: number): number | undefined {
    return this.hashes[index - this.base];
  }

  /** Term of the entry at `index`, or undefined outside [firstKnown, lastIndex]. */
  termAt(index: number): number | undefined {
    return this.terms[index - this.base];
  }

  /**
   * Record an append (with truncation of a conflicting suffix). Calls `onEntry` with each new
   * entry and its prefix hash. Returns an error text when the batch does not fit the log.
   */
  append(batch: readonly Entry[], onEntry: (entry: Entry, prefix: number) => void): string | null {
    // Entries at or below the snapshot are already covered by it (the storage skips them too).
    let entries = batch;
    let skip = 0;
    while (skip < entries.length && (entries[skip] as Entry).index <= this.base) skip++;
    if (skip > 0) entries = entries.slice(skip);
    const first = entries[0];
    if (first === undefined) return null;
    if (first.index > this.lastIndex + 1) return `append at index ${first.index} leaves a gap after last index ${this.lastIndex}`;
    const keep = first.index - this.base;
    this.hashes.length = keep;
    this.terms.length = keep;
    let prev = this.hashes[keep - 1] ?? 0;
    let expect = first.index;
    for (const e of entries) {
      if (e.index !== expect) return `entries not contiguous: expected index ${expect}, found ${e.index}`;
      prev = chainHash(prev, e);
      this.hashes.push(prev);
      this.terms.push(e.term);
      onEntry(e, prev);
      expect++;
    }
    return null;
  }

  /** Replace the log by a snapshot at `index` whose prefix hash is `prefix`. */
  installSnapshot(index: number, term: number, prefix: number): void {
    this.base = index;
    this.hashes = [prefix];
    this.terms = [term];
  }
}
