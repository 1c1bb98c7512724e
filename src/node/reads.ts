/**
 * Linearizable reads: batching into ReadIndex rounds and waiting for the apply index.
 *
 * Why batched: every read that arrives in one event-loop turn shares one ReadIndex request
 * (one heartbeat round for 'safe', none for 'lease'); when its ReadState arrives, the whole
 * batch is served as soon as the state machine has applied the read index. Bounded: beyond
 * `max` waiting reads new ones are refused (503, no effect).
 */
import { type GraftdError, ProposalDroppedError, TimeoutError } from '../errors.ts';

/** One read waiting for a barrier; `serve` runs once applied ≥ the read index. */
interface PendingRead {
  readonly serve: () => void;
  readonly reject: (err: Error) => void;
}

interface Batch {
  readonly reads: PendingRead[];
  readonly deadlineMs: number;
  /** Read index, known once the ReadState arrived; -1 before. */
  index: number;
}

export type ReadMode = 'safe' | 'lease';

/** Collects reads per turn, issues one ReadIndex per mode, serves batches as the apply index advances. */
export class ReadBatcher {
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #prefix: string;
  #seq = 0;
  #count = 0;
  readonly #collecting: Record<ReadMode, PendingRead[]> = { safe: [], lease: [] };
  /** Batches sent to the core, by ctx, waiting for their ReadState. */
  readonly #inFlight = new Map<string, Batch>();
  /** Batches with a known read index waiting for the apply index. */
  #waitingApply: Batch[] = [];

  constructor(options: { max: number; timeoutMs: number; ctxPrefix: string }) {
    this.#max = options.max;
    this.#timeoutMs = options.timeoutMs;
    this.#prefix = options.ctxPrefix;
  }

  /** Reads not yet answered. */
  get size(): number {
    return this.#count;
  }

  /** Queue a read for the next ReadIndex round of `mode`; `serve` is called once safe. */
  add<T>(mode: ReadMode, serve: () => T): Promise<T> {
    if (this.#count >= this.#max) return Promise.reject(new ProposalDroppedError(`too many reads waiting (${this.#max})`));
    return new Promise<T>((resolve, reject) => {
      this.#count++;
      this.#collecting[mode].push({
        serve: () => {
          try {
            resolve(serve());
          } catch (err) {
            reject(err);
          }
        },
        reject,
      });
    });
  }

  /** True when reads are waiting to be sent as a ReadIndex request. */
  hasCollected(): boolean {
    return this.#collecting.safe.length > 0 || this.#collecting.lease.length > 0;
  }

  /** Send collected reads: `issue(ctx, mode)` calls core.readIndex; if it throws, that batch is rejected with the error. */
  flush(nowMs: number, issue: (ctx: string, mode: ReadMode) => void): void {
    for (const mode of ['safe', 'lease'] as const) {
      const reads = this.#collecting[mode];
      if (reads.length === 0) continue;
      this.#collecting[mode] = [];
      const ctx = `${this.#prefix}${++this.#seq}`;
      try {
        issue(ctx, mode);
      } catch (err) {
        this.#settle(reads, err as Error);
        continue;
      }
      this.#inFlight.set(ctx, { reads, deadlineMs: nowMs + this.#timeoutMs, index: -1 });
    }
  }

  /** A ReadState arrived. */
  readState(ctx: string, index: number, applied: number): void {
    const batch = this.#inFlight.get(ctx);
    if (batch === undefined) return;
    this.#inFlight.delete(ctx);
    batch.index = index;
    if (index <= applied) this.#settle(batch.reads);
    else this.#waitingApply.push(batch);
  }

  /** The apply index advanced: serve batches whose read index is reached. */
  appliedTo(applied: number): void {
    if (this.#waitingApply.length === 0) return;
    const still: Batch[] = [];
    for (const b of this.#waitingApply) {
      if (b.index <= applied) this.#settle(b.reads);
      else still.push(b);
    }
    this.#waitingApply = still;
  }

  /** Leadership was lost: reads waiting for a ReadState will never get one. Reads already past the barrier stay. */
  abandonInFlight(err: GraftdError): void {
    for (const b of this.#inFlight.values()) this.#settle(b.reads, err);
    this.#inFlight.clear();
    for (const mode of ['safe', 'lease'] as const) {
      this.#settle(this.#collecting[mode], err);
      this.#collecting[mode] = [];
    }
  }

  /** Time out batches whose deadline passed. */
  expire(nowMs: number): void {
    const what = 'linearizable read';
    for (const [ctx, b] of this.#inFlight) {
      if (b.deadlineMs > nowMs) break;
      this.#inFlight.delete(ctx);
      this.#settle(b.reads, new TimeoutError(what, this.#timeoutMs));
    }
    if (this.#waitingApply.some((b) => b.deadlineMs <= nowMs)) {
      const still: Batch[] = [];
      for (const b of this.#waitingApply) {
        if (b.deadlineMs <= nowMs) this.#settle(b.reads, new TimeoutError(what, this.#timeoutMs));
        else still.push(b);
      }
      this.#waitingApply = still;
    }
  }

  /** Reject everything (shutdown, failure). */
  failAll(err: GraftdError): void {
    this.abandonInFlight(err);
    for (const b of this.#waitingApply) this.#settle(b.reads, err);
    this.#waitingApply = [];
  }

  #settle(reads: readonly PendingRead[], err?: Error): void {
    this.#count -= reads.length;
    for (const r of reads) {
      if (err === undefined) r.serve();
      else r.reject(err);
    }
  }
}
