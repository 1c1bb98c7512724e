/**
 * The shapes of the storage pieces the runtime drives, as the runtime uses them.
 *
 * Why structural types here: the runtime only needs these few methods, so it (and its unit
 * tests, with in-memory stand-ins) does not depend on the WAL's or snapshot store's internals.
 */
import type { Entry, HardState, SnapshotMeta, Storage } from '../raft/types.ts';
import type { StorageFullError } from '../storage/transient.ts';

/** The raft log storage plus lifecycle (src/storage WalStorage). */
export interface NodeStorage extends Storage {
  close(): void | Promise<void>;
  /** The error that made the storage stop accepting writes, if any (falsy when healthy). */
  failed(): unknown;
  /**
   * Optional asynchronous save (the WAL): writes at once, term and vote durable on return; the
   * promise resolves once the entries are durable, null when nothing needed a sync. Without it the
   * runtime uses the synchronous save().
   */
  saveAsync?(hardState: HardState | null, entries: readonly Entry[]): Promise<void> | null;
  /** Optional (the WAL): the disk-full condition, a fresh check whether space is back, episodes since open (disk-fault.ts). */
  diskFull?(): StorageFullError | null;
  retrySpace?(): StorageFullError | null;
  diskFullEvents?(): number;
  /** Optional (the WAL): observe the duration (ms) of each log fdatasync (metrics). */
  setSyncObserver?(fn: ((ms: number) => void) | null): void;
}

/** Writes one snapshot; nothing is visible until commit() resolves. */
export interface SnapshotWriter {
  write(chunk: Uint8Array): void | Promise<void>;
  commit(): unknown;
  abort(): unknown;
}

/** The state-machine snapshot store (src/storage SnapshotStore). */
export interface NodeSnapshotStore {
  create(meta: SnapshotMeta): SnapshotWriter;
  /** The newest snapshot whose checksum verifies, or null when none. */
  latest(): { readonly meta: SnapshotMeta } | null;
  /** Every committed snapshot, oldest first (checksums not verified). */
  list(): readonly { readonly meta: SnapshotMeta }[];
  read(index: number): AsyncIterable<Uint8Array>;
  close?(): void | Promise<void>;
}
