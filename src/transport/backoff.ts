/**
 * Bounded, jittered exponential backoff for reconnects.
 *
 * Why jitter: after a leader restarts every follower would otherwise redial in lockstep.
 */

/** Delays grow from minMs doubling up to maxMs; each is drawn uniformly from [d/2, d]. */
export class Backoff {
  #attempt = 0;
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;

  constructor(minMs: number, maxMs: number, random: () => number = Math.random) {
    this.#minMs = Math.max(1, minMs);
    this.#maxMs = Math.max(this.#minMs, maxMs);
    this.#random = random;
  }

  /** The next delay; advances the attempt counter (capped, so no overflow). */
  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#minMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt = Math.min(this.#attempt + 1, 31);
    return Math.round(ceiling / 2 + (this.#random() * ceiling) / 2);
  }

  /** Jump to the cap (after a refused handshake: retrying fast cannot help). */
  max(): void {
    this.#attempt = 31;
  }

  reset(): void {
    this.#attempt = 0;
  }
}
