/**
 * `graftd/raft`: the parts of graftd for embedders who replicate their own state — the consensus
 * core (createRaft, message and log types, MemoryStorage, membership helpers), the crash-safe
 * write-ahead log and snapshot store, and the peer transport.
 *
 * Why one file for the entry point: the generic node (`createRaftNode` and the state machine
 * contract, src/node/embed.ts) is added here with one `export *` line, and whatever is public
 * for embedders is listed in one place. Only names that do not clash across these modules are
 * exported; add new ones explicitly when they would.
 */
export * from './raft/index.ts';
export * from './storage/index.ts';
export * from './transport/index.ts';
export * from './node/embed.ts';
export { GraftdError, type ErrorCode } from './errors.ts';
export { type Log, createLogger, silentLog } from './log.ts';
export { VERSION } from './version.ts';
