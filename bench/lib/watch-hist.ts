/**
 * A log-bucketed latency histogram for the watch benchmark (issue 14).
 *
 * Why not the sample reservoir of stats.ts: 1,000 watchers × 10,000 writes is 10 M deliveries;
 * a histogram with 1 % buckets counts every one of them in ~2,100 numbers, and the watcher
 * threads can merge theirs by adding arrays. Percentiles are the upper bound of their bucket
 * (at most 1 % high); the maximum is kept exactly.
 */

/** Bucket ratio: each bucket's upper bound is 1 % above the previous one's. */
const RATIO = 1.01;
const LOG_RATIO = Math.log(RATIO);
/** Bucket 0 holds everything ≤ 1 µs; the last one everything ≥ ~1000 s. */
export const HIST_BUCKETS = Math.ceil(Math.log(1e9) / LOG_RATIO) + 2;

export class WatchHistogram {
  readonly counts: Float64Array;
  max = 0;
  total = 0;

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(HIST_BUCKETS);
  }

  record(ms: number): void {
    const us = ms * 1000;
    const i = us <= 1 ? 0 : Math.min(HIST_BUCKETS - 1, Math.ceil(Math.log(us) / LOG_RATIO));
    this.counts[i]! += 1;
    this.total++;
    if (ms > this.max) this.max = ms;
  }

  /** Add another histogram's counts (a watcher thread's). */
  merge(counts: Float64Array, max: number): void {
    for (let i = 0; i < HIST_BUCKETS; i++) {
      const c = counts[i]!;
      if (c === 0) continue;
      this.counts[i]! += c;
      this.total += c;
    }
    if (max > this.max) this.max = max;
  }

  /** The p-th percentile (0..100) in ms: the upper bound of its bucket, NaN when empty. */
  percentile(p: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < HIST_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, RATIO ** i / 1000);
    }
    return this.max;
  }
}
