/**
 * A bounded cache of the most recent log entries.
 *
 * Why: the leader reads back what it just appended to send it to followers, and followers that
 * keep up read only the tail, so caching a contiguous suffix of the log serves almost every read
 * from memory; older reads go to disk. Bounded by entry count and by data bytes.
 */
import type { Entry } from '../raft/types.ts';

export class EntryCache {
  private readonly ring: (Entry | undefined)[];
  private readonly maxBytes: number;
  /** The cache holds the contiguous range [lo, hi]; empty when lo > hi. */
  private lo = 1;
  private hi = 0;
  private bytes = 0;

  constructor(maxEntries: number, maxBytes: number) {
    this.ring = new Array(Math.max(1, maxEntries));
    this.maxBytes = maxBytes;
  }

  get(index: number): Entry | undefined {
    if (index < this.lo || index > this.hi) return undefined;
    return this.ring[index % this.ring.length];
  }

  /** Add entries that continue the log (index hi + 1, ...); any other start resets the cache there. */
  append(entries: readonly Entry[]): void {
    const cap = this.ring.length;
    for (const e of entries) {
      if (e.index !== this.hi + 1) this.reset(e.index);
      if (this.hi - this.lo + 1 === cap) this.evictLow();
      this.ring[e.index % cap] = e;
      this.hi = e.index;
      this.bytes += e.data.length;
      while (this.bytes > this.maxBytes && this.lo < this.hi) this.evictLow();
    }
  }

  /** Drop entries ≥ index (suffix truncation). */
  truncateFrom(index: number): void {
    while (this.hi >= index && this.hi >= this.lo) {
      const slot = this.hi % this.ring.length;
      this.bytes -= this.ring[slot]?.data.length ?? 0;
      this.ring[slot] = undefined;
      this.hi--;
    }
    if (this.hi < this.lo) this.reset(index);
  }

  /** Drop entries ≤ index (compaction). */
  dropThrough(index: number): void {
    while (this.lo <= index && this.lo <= this.hi) this.evictLow();
    if (this.hi < this.lo) this.reset(index + 1);
  }

  /** Empty the cache; the next append is expected at `nextIndex`. */
  reset(nextIndex: number): void {
    this.ring.fill(undefined);
    this.lo = nextIndex;
    this.hi = nextIndex - 1;
    this.bytes = 0;
  }

  private evictLow(): void {
    const slot = this.lo % this.ring.length;
    this.bytes -= this.ring[slot]?.data.length ?? 0;
    this.ring[slot] = undefined;
    this.lo++;
  }
}
