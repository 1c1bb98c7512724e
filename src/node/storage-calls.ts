/**
 * The save path's calls into the storage, retried while the storage is transiently unavailable
 * (StorageBusyError: e.g. out of file descriptors, or a full disk that may get space back), with
 * bounded exponential backoff, instead of failing the node. While a call is being retried, `busy`
 * holds the error (disk-fault.ts turns new writes away with it: 503, or 507 for a full disk).
 *
 * Why separate: the runtime decides *when* to persist; how a busy storage is waited out, logged
 * and reported is a policy of its own (storage/busy-retry.ts has the backoff itself).
 */
import type { Log } from '../log.ts';
import { type BusyRetryOptions, retryWhileBusy } from '../storage/busy-retry.ts';
import { type StorageBusyError, isStorageFull } from '../storage/transient.ts';

/** While the storage stays busy, the retry is logged again every this many attempts. */
const STORAGE_BUSY_LOG_EVERY = 20;

export class StorageCalls {
  readonly #log: Log;
  readonly #retry: BusyRetryOptions | undefined;
  readonly #active: () => boolean;
  /** Set while a storage call is being retried after a transient error (new writes get 503). */
  busy: StorageBusyError | undefined;

  /** `active`: false once the node stopped (the retry then ends). */
  constructor(log: Log, retry: BusyRetryOptions | undefined, active: () => boolean) {
    this.#log = log;
    this.#retry = retry;
    this.#active = active;
  }

  /**
   * Run a storage call of the save path; while it throws StorageBusyError (nothing changed) retry
   * it with bounded exponential backoff. Returns the call's own result when the first try succeeds.
   */
  call(call: () => Promise<void> | null): Promise<void> | null {
    return retryWhileBusy(
      call,
      {
        onBusy: (err, attempt, delayMs) => {
          this.busy = err;
          // A full disk is logged once per episode by the storage, with the path.
          if (!isStorageFull(err) && (attempt === 1 || attempt % STORAGE_BUSY_LOG_EVERY === 0)) {
            this.#log.warn(
              { err: err.message, attempt, retryInMs: delayMs },
              'storage temporarily unavailable; retrying (writes get 503 meanwhile)',
            );
          }
        },
        onRecovered: (attempts) => {
          this.busy = undefined;
          this.#log.info({ attempts }, 'storage usable again; continuing');
        },
        active: this.#active,
      },
      this.#retry,
    );
  }
}
