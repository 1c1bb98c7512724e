/**
 * The lab's client load: N writes per second spread over the live nodes, so the log grows while
 * faults happen and commits visibly stall and resume.
 *
 * Why paced by a timer with an accumulator rather than one timer per write: rates up to
 * MAX_LOAD_RATE with a 50 ms tick cost one timer; fractional rates (1/s) still come out right.
 * In-flight writes are bounded; a tick that finds the bound reached skips its writes and counts
 * them as failed ("too many in flight"), so a stalled cluster never piles up requests.
 */
import type { LoadState } from './lab-protocol.ts';

export interface LabLoadOptions {
  /** Send one write (a JSON object body for POST /key) to `target`; resolves with the HTTP status. */
  readonly write: (target: string, body: string) => Promise<number>;
  /** Nodes worth writing to now (running, not stopped). */
  readonly targets: () => readonly string[];
  /** Default 64. */
  readonly maxInFlight?: number;
  /** Default 50 ms. */
  readonly tickMs?: number;
  /** Keys written: lab-0 .. lab-(keys-1). Default 32. */
  readonly keys?: number;
}

export class LabLoad {
  readonly #o: Required<LabLoadOptions>;
  #rate = 0;
  #timer: NodeJS.Timeout | null = null;
  #credit = 0;
  #seq = 0;
  #ok = 0;
  #failed = 0;
  #inFlight = 0;
  #lastError = '';
  #next = 0;

  constructor(options: LabLoadOptions) {
    this.#o = { maxInFlight: 64, tickMs: 50, keys: 32, ...options };
  }

  /** Writes per second; 0 stops. */
  setRate(rate: number): void {
    this.#rate = rate;
    this.#credit = 0;
    if (rate > 0 && this.#timer === null) {
      this.#timer = setInterval(() => this.#tick(), this.#o.tickMs);
      this.#timer.unref();
    } else if (rate === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  state(): LoadState {
    return { rate: this.#rate, ok: this.#ok, failed: this.#failed, inFlight: this.#inFlight, lastError: this.#lastError };
  }

  stop(): void {
    this.setRate(0);
  }

  #tick(): void {
    this.#credit += (this.#rate * this.#o.tickMs) / 1000;
    while (this.#credit >= 1) {
      this.#credit -= 1;
      const targets = this.#o.targets();
      if (targets.length === 0) {
        this.#fail('no running node to write to');
        continue;
      }
      if (this.#inFlight >= this.#o.maxInFlight) {
        this.#fail(`${this.#o.maxInFlight} writes already in flight`);
        continue;
      }
      const target = targets[this.#next++ % targets.length]!;
      this.#seq += 1;
      const body = JSON.stringify({ [`lab-${this.#seq % this.#o.keys}`]: String(this.#seq) });
      this.#inFlight += 1;
      this.#o.write(target, body).then(
        (status) => {
          this.#inFlight -= 1;
          if (status === 200) this.#ok += 1;
          else this.#fail(`${target} answered ${status}`);
        },
        (err: unknown) => {
          this.#inFlight -= 1;
          this.#fail(`${target}: ${(err as Error).message}`);
        },
      );
    }
  }

  #fail(why: string): void {
    this.#failed += 1;
    this.#lastError = why;
  }
}
