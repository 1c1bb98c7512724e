/**
 * Latency samples and percentiles for the load generator.
 *
 * Why bounded: a long run at high rate must not grow memory without limit, so past
 * `capacity` samples we keep a uniform reservoir (Vitter's algorithm R).
 */

/** Collects latencies (ms) and counts requests and errors. */
export class LatencyRecorder {
  readonly #capacity: number;
  readonly #samples: number[] = [];
  #seen = 0;
  ok = 0;
  errors = 0;
  /** First few distinct error descriptions, for the report. */
  readonly errorKinds = new Map<string, number>();

  constructor(capacity = 1_000_000) {
    this.#capacity = capacity;
  }

  record(latencyMs: number): void {
    this.#seen++;
    if (this.#samples.length < this.#capacity) {
      this.#samples.push(latencyMs);
      return;
    }
    const j = Math.floor(Math.random() * this.#seen);
    if (j < this.#capacity) this.#samples[j] = latencyMs;
  }

  /** Samples held now (at most the capacity, however many were recorded). */
  get sampleCount(): number {
    return this.#samples.length;
  }

  error(kind: string): void {
    this.errors++;
    if (this.errorKinds.size < 8 || this.errorKinds.has(kind)) this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
  }

  /** The p-th percentile (0..100) of successful requests' latency, NaN when none. */
  percentile(p: number): number {
    if (this.#samples.length === 0) return Number.NaN;
    const sorted = Float64Array.from(this.#samples).sort();
    const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[idx]!;
  }
}
