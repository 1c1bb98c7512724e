/**
 * The key-value state machine: commands, the store, and its streamed snapshot format.
 *
 * Why an index: the runtime, the HTTP layer and tools import from here only.
 */
export { type KvCommand, type DecodedCommand, encodeCommand, decodeCommand, decodeFlat } from './command.ts';
export {
  encodeTxn,
  encodeLeaseGrant,
  encodeLeaseKeepAlive,
  encodeLeaseRevoke,
  encodeLeaseExpire,
} from './txn-command.ts';
export { KvStore, type KvApplyResult, type KeyRecord, type LeaseRecord, type StoreState, toKeyValue } from './store.ts';
export {
  writeSnapshot,
  writeStoreState,
  writeSnapshotEntries,
  restoreSnapshot,
  KV_SNAPSHOT_VERSION,
  DEFAULT_SNAPSHOT_CHUNK_BYTES,
  type WriteSnapshotOptions,
  type RestoreSnapshotOptions,
} from './snapshot-format.ts';
export * from './types.ts';
