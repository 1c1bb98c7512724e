/**
 * Durable storage for graftd: the WAL log store (implements the core's Storage), the hard state
 * and log metadata files it keeps beside the segments, and the snapshot store.
 *
 * Why one entry point: the runtime and the tests import only from here, so the file layout
 * behind it can change freely.
 */
export type { FsLike } from './fs-like.ts';
export { nodeFs } from './fs-like.ts';
export { openWalStorage } from './wal-storage.ts';
export { StorageBusyError, isStorageBusy, isTransientOpenError, TRANSIENT_OPEN_CODES } from './transient.ts';
export type { WalStorage, WalStorageOptions } from './wal-storage.ts';
export { openSnapshotStore } from './snapshot-store.ts';
export type { SnapshotStore, SnapshotStoreOptions, SnapshotWriter, StoredSnapshot } from './snapshot-store.ts';
