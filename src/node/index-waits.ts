/**
 * Follower reads waiting for the local apply index to reach the read index the leader gave them.
 *
 * Why separate from ReadBatcher: that one drives the core's ReadIndex on the leader; a follower
 * only has an index to wait for. Bounded in number, each wait has the request timeout, and all
 * are rejected when the node fails or closes.
 */
import { type GraftdError, ProposalDroppedError, TimeoutError } from '../errors.ts';

interface Wait {
  readonly index: number;
  readonly deadlineMs: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class IndexWaits {
  #waits: Wait[] = [];
  readonly #max: number;
  readonly #timeoutMs: number;

  constructor(options: { max: number; timeoutMs: number }) {
    this.#max = options.max;
    this.#timeoutMs = options.timeoutMs;
  }

  get size(): number {
    return this.#waits.length;
  }

  /** Resolve once the apply index reaches `index` (at once when `applied` already has). */
  wait(index: number, applied: number, nowMs: number): Promise<void> {
    if (index <= applied) return Promise.resolve();
    if (this.#waits.length >= this.#max) return Promise.reject(new ProposalDroppedError(`too many reads waiting to apply (${this.#max})`));
    return new Promise<void>((resolve, reject) => {
      this.#waits.push({ index, deadlineMs: nowMs + this.#timeoutMs, resolve, reject });
    });
  }

  /** The apply index advanced. */
  appliedTo(applied: number): void {
    if (this.#waits.length === 0) return;
    const still: Wait[] = [];
    for (const w of this.#waits) {
      if (w.index <= applied) w.resolve();
      else still.push(w);
    }
    this.#waits = still;
  }

  /** Time out waits whose deadline passed. */
  expire(nowMs: number): void {
    if (!this.#waits.some((w) => w.deadlineMs <= nowMs)) return;
    const still: Wait[] = [];
    for (const w of this.#waits) {
      if (w.deadlineMs <= nowMs) w.reject(new TimeoutError('linearizable read (waiting to apply the read index)', this.#timeoutMs));
      else still.push(w);
    }
    this.#waits = still;
  }

  failAll(err: GraftdError): void {
    const all = this.#waits;
    this.#waits = [];
    for (const w of all) w.reject(err);
  }
}
