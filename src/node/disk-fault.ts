/**
 * Which new writes the node turns away while its storage is short of something, and with what.
 *
 * Why here and not in the runtime: a full disk is a condition of the storage that comes and goes
 * (an operator frees space), not a failure of the node. The WAL finds it before any record is
 * written and keeps a reserve of preallocated space, so the raft loop goes on (heartbeats, reads,
 * entries already accepted) while this gate refuses *new* client writes with 507 GRAFTD_DISK_FULL
 * instead of letting them pile up into a save that cannot complete. The gate also notices when
 * space is back: while the storage reports a full disk it asks it to allocate its reserve again, at
 * most once per backoff step (doubling from minMs to maxMs), on the path of a write that would
 * otherwise be refused — so the first write after space is freed (within maxMs) is accepted,
 * without a restart and without a timer. A save that is being retried (StorageBusyError, or a
 * StorageFullError for a batch that did not fit in the reserve) refuses new writes too.
 */
import { GraftdError } from '../errors.ts';
import { DEFAULT_BUSY_RETRY_MAX_MS, DEFAULT_BUSY_RETRY_MIN_MS } from '../storage/busy-retry.ts';
import { type StorageBusyError, type StorageFullError, isStorageFull } from '../storage/transient.ts';

/** The storage's view of free space (optional: in-memory stores have none). */
export interface SpaceAwareStorage {
  diskFull?(): StorageFullError | null;
  retrySpace?(): StorageFullError | null;
  diskFullEvents?(): number;
}

export interface DiskGateOptions {
  /** First wait before asking the storage again whether space is back. Default 10 ms. */
  readonly minMs?: number;
  /** The wait doubles up to this. Default 1000 ms. */
  readonly maxMs?: number;
}

/** 507 GRAFTD_DISK_FULL for a write refused because `err` (the storage's condition) holds. */
export function diskFullRefusal(nodeId: string, err: StorageFullError): GraftdError {
  return new GraftdError('GRAFTD_DISK_FULL', `node ${nodeId}: ${err.message}`, { cause: err });
}

export class DiskFullGate {
  readonly #storage: SpaceAwareStorage;
  readonly #nodeId: string;
  readonly #minMs: number;
  readonly #maxMs: number;
  #delayMs: number;
  #nextProbeMs = Number.NEGATIVE_INFINITY;

  constructor(nodeId: string, storage: SpaceAwareStorage, options: DiskGateOptions = {}) {
    this.#nodeId = nodeId;
    this.#storage = storage;
    this.#minMs = options.minMs ?? DEFAULT_BUSY_RETRY_MIN_MS;
    this.#maxMs = Math.max(this.#minMs, options.maxMs ?? DEFAULT_BUSY_RETRY_MAX_MS);
    this.#delayMs = this.#minMs;
  }

  /**
   * The error to answer a new write with, or undefined to accept it. `busy` is the error of a save
   * being retried, if any; `nowMs` a monotonic time (performance.now()).
   */
  refusal(busy: StorageBusyError | undefined, nowMs: number): GraftdError | undefined {
    if (busy !== undefined) {
      if (isStorageFull(busy)) return diskFullRefusal(this.#nodeId, busy);
      return new GraftdError('GRAFTD_UNAVAILABLE', `node ${this.#nodeId}: ${busy.message}; try again shortly`, { cause: busy });
    }
    let full = this.#storage.diskFull?.() ?? null;
    if (full === null) return undefined;
    if (nowMs >= this.#nextProbeMs) {
      full = this.#storage.retrySpace?.() ?? null;
      if (full === null) {
        this.#delayMs = this.#minMs;
        this.#nextProbeMs = Number.NEGATIVE_INFINITY;
        return undefined;
      }
      this.#nextProbeMs = nowMs + this.#delayMs;
      this.#delayMs = Math.min(this.#delayMs * 2, this.#maxMs);
    }
    return diskFullRefusal(this.#nodeId, full);
  }

  /** For /status: why writes are refused for lack of space ('' when they are not). */
  describe(busy: StorageBusyError | undefined): string {
    if (busy !== undefined && isStorageFull(busy)) return busy.message;
    return this.#storage.diskFull?.()?.message ?? '';
  }

  /** Disk-full episodes since start (the storage logs each once, with the path). */
  events(): number {
    return this.#storage.diskFullEvents?.() ?? 0;
  }
}
