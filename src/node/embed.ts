/**
 * Everything an embedder needs to replicate its own state with graftd's raft node (the
 * `graftd/raft` entry point re-exports this).
 *
 * Why one file: the package entry stays a one-line re-export, and what is public API for
 * embedders is listed in one place (the rest of src/node is graftd's server).
 */
export { createRaftNode } from './raft-node.ts';
export { RaftRuntime } from './runtime.ts';
export type {
  StateMachine,
  PreparedRestore,
  ResultCodec,
  ResultOf,
  RaftNode,
  RaftNodeOptions,
  RaftNodeStatus,
} from './state-machine.ts';
export type { FollowerProgress, JoinRequest, MemberView, NodeEvent, ReadLevel } from './api.ts';
export type { FoundingMember } from './bootstrap.ts';
export { DEFAULT_RUNTIME_CONFIG, type RuntimeConfig } from './config.ts';
export { hasState } from './open.ts';
export { GraftdError, NotLeaderError, TimeoutError, ProposalDroppedError, type ErrorCode } from '../errors.ts';
export { type Log, silentLog, createLogger } from '../log.ts';
export type { NodeId, RaftEvent, Role } from '../raft/types.ts';
export type { PeerSecurity } from '../transport/types.ts';
