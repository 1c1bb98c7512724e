/**
 * A bounded window of AppendEntries messages sent to one follower but not yet acknowledged.
 *
 * Why: pipelining (sending the next batch before the previous is acknowledged) is what makes
 * replication fast over a network with latency, but an unbounded pipeline floods a slow follower.
 * The window limits both the number of messages and their total bytes. A ring buffer of typed
 * arrays keeps the hot path free of allocations.
 */
import { assert } from '../errors.ts';

/** Ring buffer of (last index, bytes) per in-flight message, oldest first. */
export class Inflights {
  private start = 0;
  private countValue = 0;
  private bytesValue = 0;
  private readonly indexes: Float64Array;
  private readonly sizes: Float64Array;

  /**
   * @param capacity max messages in flight (≥ 1)
   * @param maxBytes max total entry bytes in flight (Infinity for no limit)
   */
  constructor(
    readonly capacity: number,
    readonly maxBytes: number,
  ) {
    assert(Number.isInteger(capacity) && capacity >= 1, `inflight capacity must be an integer ≥ 1, got ${capacity}`);
    this.indexes = new Float64Array(capacity);
    this.sizes = new Float64Array(capacity);
  }

  /** Messages currently in flight. */
  get count(): number {
    return this.countValue;
  }

  /** Entry bytes currently in flight. */
  get bytes(): number {
    return this.bytesValue;
  }

  /** Record a message whose last entry is `index`; indexes must increase. */
  add(index: number, bytes: number): void {
    assert(!this.full(), 'inflights.add on a full window');
    if (this.countValue > 0) {
      const lastSlot = (this.start + this.countValue - 1) % this.capacity;
      assert(index > (this.indexes[lastSlot] as number), `inflight index ${index} does not increase`);
    }
    const slot = (this.start + this.countValue) % this.capacity;
    this.indexes[slot] = index;
    this.sizes[slot] = bytes;
    this.countValue++;
    this.bytesValue += bytes;
  }

  /** Release every message whose last index is ≤ `index` (they were acknowledged). */
  freeLE(index: number): void {
    while (this.countValue > 0 && (this.indexes[this.start] as number) <= index) {
      this.bytesValue -= this.sizes[this.start] as number;
      this.start = (this.start + 1) % this.capacity;
      this.countValue--;
    }
    if (this.countValue === 0) {
      this.start = 0;
      this.bytesValue = 0;
    }
  }

  /** Release the oldest message (its acknowledgement was probably lost). */
  freeFirst(): void {
    if (this.countValue === 0) return;
    this.freeLE(this.indexes[this.start] as number);
  }

  /** True when no more messages may be sent. */
  full(): boolean {
    return this.countValue === this.capacity || (this.countValue > 0 && this.bytesValue >= this.maxBytes);
  }

  reset(): void {
    this.start = 0;
    this.countValue = 0;
    this.bytesValue = 0;
  }
}
