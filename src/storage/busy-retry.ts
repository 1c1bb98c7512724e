/**
 * Retrying a storage call that failed transiently (StorageBusyError, see transient.ts), with a
 * bounded exponential backoff.
 *
 * Why here: the storage promises that such a call changed nothing and may be repeated as is; this
 * is the other half of that promise, used by the node runtime around its save path. The first try
 * runs synchronously (no extra event-loop turn on the hot path); only a busy store waits.
 */
import { isStorageBusy, type StorageBusyError } from './transient.ts';

export interface BusyRetryOptions {
  /** First wait after a busy attempt. Default 10 ms. */
  readonly minMs?: number;
  /** The wait doubles up to this. Default 1000 ms. */
  readonly maxMs?: number;
}

export const DEFAULT_BUSY_RETRY_MIN_MS = 10;
export const DEFAULT_BUSY_RETRY_MAX_MS = 1000;

export interface BusyRetryHooks {
  /** Called before each wait (attempt counts from 1). */
  readonly onBusy: (err: StorageBusyError, attempt: number, delayMs: number) => void;
  /** Called once a retried attempt has succeeded (not after a first-try success). */
  readonly onRecovered: (attempts: number) => void;
  /** False stops the retries (e.g. the node is closing): the promise rejects with the last error. */
  readonly active: () => boolean;
}

/**
 * Run `attempt` now; if it throws StorageBusyError, again after minMs, 2·minMs, … capped at maxMs,
 * until it succeeds, throws anything else (rejected), or `hooks.active()` turns false. Returns
 * attempt's own result when the first try succeeds, else a promise of its eventual (awaited) result.
 * Any other error from the first try is thrown synchronously. There is no bound on the number of
 * attempts: running out of descriptors may last; each attempt costs one failed open.
 */
export function retryWhileBusy(
  attempt: () => Promise<void> | null,
  hooks: BusyRetryHooks,
  options: BusyRetryOptions = {},
): Promise<void> | null {
  const minMs = options.minMs ?? DEFAULT_BUSY_RETRY_MIN_MS;
  const maxMs = Math.max(minMs, options.maxMs ?? DEFAULT_BUSY_RETRY_MAX_MS);
  try {
    return attempt();
  } catch (err) {
    if (!isStorageBusy(err)) throw err;
    return new Promise<void>((resolve, reject) => {
      let tries = 1;
      let delay = minMs;
      const wait = (e: StorageBusyError): void => {
        hooks.onBusy(e, tries, delay);
        const timer = setTimeout(() => {
          if (!hooks.active()) {
            reject(e);
            return;
          }
          tries++;
          let p: Promise<void> | null;
          try {
            p = attempt();
          } catch (again) {
            if (!isStorageBusy(again)) {
              reject(again);
              return;
            }
            delay = Math.min(delay * 2, maxMs);
            wait(again);
            return;
          }
          hooks.onRecovered(tries);
          if (p === null) resolve();
          else p.then(resolve, reject);
        }, delay);
        // A closing process is not held up by a storage retry (active() stops it at the next tick).
        timer.unref();
      };
      wait(err);
    });
  }
}
