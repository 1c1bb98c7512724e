/**
 * Requests waiting for their log entry to be applied.
 *
 * Why keyed by (index, term): a leader that loses its term can see another leader's entry
 * land at the same index; that request then provably did not take effect (ProposalDropped),
 * while a request that merely waits too long has an unknown outcome (Timeout). The map is
 * bounded; insertion order is deadline order (one fixed timeout), so expiry is a prefix scan.
 */
import { type GraftdError, ProposalDroppedError, TimeoutError, assert } from '../errors.ts';

interface Waiter {
  readonly term: number;
  readonly deadlineMs: number;
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: Error) => void;
}

/** Waiters for applied entries, one per log index. */
export class ApplyWaiters {
  readonly #byIndex = new Map<number, Waiter>();
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #what: string;

  constructor(options: { max: number; timeoutMs: number; what: string }) {
    this.#max = options.max;
    this.#timeoutMs = options.timeoutMs;
    this.#what = options.what;
  }

  get size(): number {
    return this.#byIndex.size;
  }

  /** Room for `n` more waiters? */
  hasRoom(n: number): boolean {
    return this.#byIndex.size + n <= this.#max;
  }

  /** Wait for the entry (index, term) to be applied; resolves with the state machine's result. */
  add(index: number, term: number, nowMs: number): Promise<unknown> {
    const old = this.#byIndex.get(index);
    if (old !== undefined) {
      // This node leads again and re-used the index: its log no longer holds the old entry, and a
      // leader's log holds every committed entry, so the old one was never committed.
      assert(old.term < term, `two waiters for log index ${index} in term ${term}`);
      this.#byIndex.delete(index);
      old.reject(new ProposalDroppedError(`log index ${index} was overwritten by term ${term} before it was committed`));
    }
    return new Promise<unknown>((resolve, reject) => {
      this.#byIndex.set(index, { term, deadlineMs: nowMs + this.#timeoutMs, resolve, reject });
    });
  }

  /** The entry at `index` with `term` was applied: resolve its waiter, or reject it if another term's entry took the slot. */
  applied(index: number, term: number, error?: Error, result?: unknown): void {
    const w = this.#byIndex.get(index);
    if (w === undefined) return;
    this.#byIndex.delete(index);
    if (w.term !== term) w.reject(new ProposalDroppedError(`another leader's entry (term ${term}) was committed at log index ${index}`));
    else if (error !== undefined) w.reject(error);
    else w.resolve(result);
  }

  /** Reject every waiter at or below `index` whose fate is unknown (the entries were replaced by an installed snapshot). */
  unknownUpTo(index: number): void {
    for (const [i, w] of this.#byIndex) {
      if (i > index) continue;
      this.#byIndex.delete(i);
      w.reject(new TimeoutError(this.#what, this.#timeoutMs));
    }
  }

  /** Reject waiters whose deadline passed with TimeoutError (outcome unknown). */
  expire(nowMs: number): void {
    for (const [i, w] of this.#byIndex) {
      if (w.deadlineMs > nowMs) break;
      this.#byIndex.delete(i);
      w.reject(new TimeoutError(this.#what, this.#timeoutMs));
    }
  }

  /** Reject everything with `err` (shutdown, storage failure). */
  failAll(err: GraftdError): void {
    for (const w of this.#byIndex.values()) w.reject(err);
    this.#byIndex.clear();
  }
}
