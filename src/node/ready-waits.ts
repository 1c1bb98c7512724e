/**
 * Callers of whenReady(): waiting until the node knows a leader and has applied everything it
 * knows to be committed (isReady()), each bounded by its own optional timeout.
 *
 * Why separate: the runtime only says "maybe ready now" after a Ready cycle or a tick; the waiting,
 * the timers and the bound on how many may wait live here. Embedders and tests await this instead
 * of polling status().
 */
import { GraftdError } from '../errors.ts';

/** Most whenReady() callers waiting at once; more are refused (GRAFTD_UNAVAILABLE). */
const MAX_READY_WAITERS = 1024;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout | undefined;
}

export class ReadyWaits {
  readonly #waiters = new Set<Waiter>();

  get size(): number {
    return this.#waiters.size;
  }

  /**
   * Wait for resolveAll(); after `timeoutMs` (when given) reject with GRAFTD_TIMEOUT, the message
   * completed by `describe()` (why the node is not ready yet).
   */
  add(timeoutMs: number | undefined, describe: () => string): Promise<void> {
    if (this.#waiters.size >= MAX_READY_WAITERS) {
      return Promise.reject(new GraftdError('GRAFTD_UNAVAILABLE', `too many whenReady() calls waiting (${MAX_READY_WAITERS})`));
    }
    return new Promise<void>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.#waiters.delete(w);
              reject(new GraftdError('GRAFTD_TIMEOUT', `the node was not ready within ${timeoutMs} ms (${describe()})`));
            }, timeoutMs);
      const w: Waiter = { resolve, reject, timer };
      this.#waiters.add(w);
    });
  }

  resolveAll(): void {
    for (const w of this.#take()) w.resolve();
  }

  failAll(err: Error): void {
    for (const w of this.#take()) w.reject(err);
  }

  #take(): Waiter[] {
    const ws = [...this.#waiters];
    this.#waiters.clear();
    for (const w of ws) if (w.timer !== undefined) clearTimeout(w.timer);
    return ws;
  }
}
