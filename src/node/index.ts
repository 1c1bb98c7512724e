/**
 * The node runtime: what the command line and tests import.
 *
 * Why an index: the file layout inside src/node can change without touching callers.
 */
export type * from './api.ts';
export { RaftRuntime, type RuntimeParts, type TransportHandlers } from './runtime.ts';
export { GraftdRuntime, type GraftdParts } from './graftd-node.ts';
export type * from './state-machine.ts';
export { openNode, openRaftNode, hasState, removedMessage, type OpenNodeOptions } from './open.ts';
export { bootstrapDataDir, type FoundingMember } from './bootstrap.ts';
export { parseRuntimeConfig, DEFAULT_RUNTIME_CONFIG, electionTicks, type RuntimeConfig, type TestFault } from './config.ts';
export {
  dataDirPaths,
  readIdentity,
  writeIdentity,
  newClusterId,
  readRemovedMarker,
  writeRemovedMarker,
  hasOrphanData,
  ensureDataDir,
  type NodeIdentity,
} from './data-dir.ts';
export { encodeMemberContext, decodeMemberContext, memberViews, planJoin, type MemberContext } from './members.ts';
