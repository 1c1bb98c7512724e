/**
 * Retry delays: exponential with full jitter, capped.
 *
 * Why jitter: after a leader change every client retries at once; spreading the retries keeps
 * the new leader from being hit by a synchronized wave.
 */

/** Delay before retry number `retry` (0-based): uniform in [base·2^retry / 2, base·2^retry], capped at `maxMs`. */
export function backoffMs(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(retry, 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
