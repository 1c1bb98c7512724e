/**
 * The contract between the node runtime (src/node) and its front ends (src/http, src/vizor).
 *
 * Why here: the HTTP API is written against this interface, not against the runtime's
 * internals, so each side can be built and tested alone (the HTTP tests may use a fake).
 */
import type { NodeId, RaftEvent, Role } from '../raft/types.ts';
import type { KeyValue, LeaseGrant, LeaseInfo, LeaseRevokeResult, RangeRequest, RangeResult, TxnRequest, TxnResult } from '../kv/types.ts';
import type { RevisionChanges } from '../kv/history.ts';
import type { ChangeListener } from '../kv/store.ts';
import type { OpsCounters } from './ops-stats.ts';
import type { Leadership } from './state-machine.ts';

export type { Leadership };

/** graftd's per-member data kept in the raft ConfState context (JSON-encoded). */
export interface MemberAddrs {
  readonly raftAddr: string;
  /** '' when the member joined without telling its HTTP address (original graftd clients). */
  readonly httpAddr: string;
}

export interface MemberView extends MemberAddrs {
  readonly id: NodeId;
  readonly voter: boolean;
}

export interface FollowerProgress {
  readonly match: number;
  readonly next: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly recentActive: boolean;
  readonly lag: number;
}

/** The body of GET /status. */
export interface NodeStatus {
  readonly id: NodeId;
  readonly role: Role | 'learner' | 'removed';
  readonly term: number;
  /** '' when no leader is known. */
  readonly leaderId: NodeId;
  /** '' when unknown. */
  readonly leaderHttpAddr: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly members: readonly MemberView[];
  /** Leader only: per follower replication progress. Empty object elsewhere. */
  readonly progress: Readonly<Record<NodeId, FollowerProgress>>;
  /** Keys in the local state machine. */
  readonly keys: number;
  /** The local store's revision (issue 13). Optional: fakes may omit it. */
  readonly revision?: number;
  /** Non-empty when the node has stopped accepting writes (e.g. disk failure). */
  readonly fault: string;
  /**
   * Non-empty while new writes are refused for lack of disk space (507 GRAFTD_DISK_FULL): names the
   * file that could not grow. Clears by itself once space is freed. Optional: fakes may omit it.
   */
  readonly diskFull?: string;
  /** The cluster's id (a joining node adopts it from the node it joins through). Optional: fakes may omit it. */
  readonly clusterId?: string;
  /**
   * Present when this node founded a one-node cluster by mistake and another cluster then claimed it
   * as a member (src/node/foreign-cluster.ts): it serves nothing until restarted with -join.
   */
  readonly foreignCluster?: {
    readonly clusterId: string;
    readonly from: string;
    readonly at: string;
    readonly ownCommit: number;
    readonly error: string;
  };
}

/**
 * Events for the live view: the core's observer events plus what only the runtime sees
 * (entries applied to the state machine, snapshots taken/sent/installed).
 */
export type NodeEvent =
  | RaftEvent
  | { readonly kind: 'apply'; readonly index: number; readonly count: number }
  | {
      readonly kind: 'snapshot';
      readonly action: 'taken' | 'sent' | 'installed' | 'received';
      readonly index: number;
      readonly peer?: NodeId;
    };

/** Read consistency levels of GET /key. */
export type ReadLevel = 'linearizable' | 'lease' | 'stale';

export interface JoinRequest {
  readonly id: NodeId;
  readonly raftAddr: string;
  readonly httpAddr: string;
  /** false keeps the node a learner (read replica). */
  readonly voter: boolean;
  /**
   * The joining node has an empty data directory. A member with the same id is then replaced
   * (removed, then re-added as a learner) even at the same address: its old log and votes are
   * gone, and counting it as the voter it was could lose committed entries. Absent = false.
   */
  readonly fresh?: boolean;
  /**
   * Set by the HTTP layer when the join was not made by an admin (it carried a cluster-secret
   * proof instead): the runtime should check that the joiner really answers at `raftAddr` (and
   * proves the secret there) before adding it. Absent = false.
   */
  readonly verifyPeer?: boolean;
}

/**
 * What the HTTP layer may ask of a node. Methods that need the leader throw NotLeaderError
 * (src/errors.ts) on a follower; the HTTP layer then forwards the request to `status().leaderHttpAddr`.
 * Every promise settles: with the applied result, a coded GraftdError, or TimeoutError
 * (outcome unknown) after the configured request timeout.
 */
export interface GraftNode {
  readonly id: NodeId;
  /**
   * true: set() and del() on a follower forward the write to the leader themselves (over the raft
   * transport) instead of throwing NotLeaderError, so the HTTP layer calls them directly. A
   * forward that was provably not sent rejects with 503 GRAFTD_NO_LEADER, one sent without an
   * answer with 504 GRAFTD_TIMEOUT. Absent/false: leader only (fakes, older runtimes).
   */
  readonly forwardsWrites?: boolean;
  /**
   * true: get() at the linearizable and lease levels on a follower asks the leader for a read index
   * over the raft transport and serves from local state once applied, instead of throwing
   * NotLeaderError (the HTTP layer then calls it directly, like forwardsWrites). Absent/false: leader only.
   */
  readonly forwardsReads?: boolean;
  /** Set several keys atomically (one log entry, one revision). Resolves with the store's revision once applied locally. Leader only unless forwardsWrites. */
  set(pairs: Readonly<Record<string, string>>): Promise<number>;
  /** Delete keys (one log entry; one revision when any existed). Resolves with the store's revision once applied. Leader only unless forwardsWrites. */
  del(keys: readonly string[]): Promise<number>;
  /** Read one key; undefined when absent. 'linearizable' and 'lease' are leader only; 'stale' reads local state anywhere. */
  get(key: string, level: ReadLevel): Promise<string | undefined>;
  /** Read one key with its metadata and the revision it was read at (`kv` undefined when absent). Levels as for get(). */
  getMeta(key: string, level: ReadLevel): Promise<{ readonly kv: KeyValue | undefined; readonly revision: number }>;
  /** One page of a range read, from one revision. Levels as for get(). Throws GRAFTD_INVALID_BODY on a bad request (limit out of bounds). */
  range(request: RangeRequest, level: ReadLevel): Promise<RangeResult>;
  /**
   * An atomic transaction (one log entry): compares evaluated against the applied state when the entry
   * applies, then one branch's ops in order. Throws GRAFTD_LEASE_NOT_FOUND (nothing applied) when a
   * put of the executed branch names a lease that does not exist, GRAFTD_TXN_TOO_LARGE/GRAFTD_INVALID_BODY on a bad request.
   * Forwarded like set() on a follower.
   */
  txn(request: TxnRequest): Promise<TxnResult>;
  /** Grant a lease of `ttlSeconds` (raised to the minimum TTL); replicated. */
  leaseGrant(ttlSeconds: number): Promise<LeaseGrant>;
  /** Renew a lease to its full TTL; replicated. Throws GRAFTD_LEASE_NOT_FOUND. */
  leaseKeepAlive(id: string): Promise<LeaseGrant>;
  /** Revoke a lease and delete its keys in one revision. Throws GRAFTD_LEASE_NOT_FOUND. */
  leaseRevoke(id: string): Promise<LeaseRevokeResult>;
  /** One lease with its remaining time and keys, and the revision read at. Throws GRAFTD_LEASE_NOT_FOUND. */
  leaseGet(id: string, level: ReadLevel): Promise<LeaseInfo & { readonly revision: number }>;
  /** This node's applied key changes, for watch streams (served from local state on any node). Optional: fakes may omit it. */
  changes?(): ChangeSource;
  /** Every lease (keys left out: `keys` empty, `moreKeys` false), sorted by id, and the revision read at. */
  leaseList(level: ReadLevel): Promise<{ readonly revision: number; readonly leases: readonly LeaseInfo[] }>;
  /** Add or re-add a member (original duplicate rules). Leader only. */
  join(request: JoinRequest): Promise<void>;
  /** Remove a member; removing the leader transfers leadership first. Leader only. */
  remove(id: NodeId): Promise<void>;
  /** Transfer leadership to `id` (or the most caught-up voter when omitted); resolves with the new leader's id. Leader only. */
  transferLeader(id?: NodeId): Promise<NodeId>;
  /** A consistent snapshot of the key-value data as a byte stream (backup). */
  backup(): Promise<AsyncIterable<Uint8Array>>;
  status(): NodeStatus;
  /** Leader or not, and the known leader's id: status()'s `role === 'leader'` and `leaderId`, cheaply (asked on every HTTP request). */
  leadership(): Leadership;
  /** Has a leader and has applied everything it knows to be committed (GET /readyz). */
  isReady(): boolean;
  /** Observe raft events (for the live view). Returns an unsubscribe function. No cost while nobody listens. */
  onRaftEvent(listener: (event: NodeEvent) => void): () => void;
  /** What strangers and misbehaving peers tried, since start (for /metrics). Optional: fakes may omit it. */
  securityCounters?(): SecurityCounters;
  /** Disk-full episodes since start (for /metrics). Optional: fakes may omit it. */
  diskFullEvents?(): number;
  /** Leader changes and failed proposals since start (for /metrics). Optional: fakes may omit it. */
  opsCounters?(): OpsCounters;
  /** Subscribe to WAL fsync durations in seconds (for /metrics); returns the unsubscribe function. Optional. */
  onWalSync?(fn: (seconds: number) => void): () => void;
  /** Per peer: outbound connection up, bytes waiting to be sent (for /metrics). Optional. */
  peerLinks?(): Readonly<Record<NodeId, PeerLinkView>>;
  /** Bytes on disk under the data directory (for /metrics). Optional. */
  dataDirBytes?(): Promise<number>;
}

/** A node's applied changes as watch streams need them (src/kv/history.ts, src/http/watch-hub.ts). */
export interface ChangeSource {
  /** The applied revision. */
  readonly revision: number;
  /** The oldest revision a stream can start from here. */
  readonly oldest: number;
  /** The kept revisions ≥ `from`, oldest first. */
  since(from: number): Iterable<RevisionChanges>;
  /** Follow each applied revision (and jumps: an installed snapshot); returns the unsubscribe function. */
  onChange(listener: ChangeListener): () => void;
}

/** Counters behind graftd_leader_changes_total and graftd_proposals_failed_total. */
export type { OpsCounters } from './ops-stats.ts';

/** One peer's link as /metrics shows it (graftd_peer_up, graftd_peer_send_queue_bytes). */
export interface PeerLinkView {
  /** The outbound connection is up and handshaken. */
  readonly up: boolean;
  /** Bytes queued for the peer and not yet handed to the kernel. */
  readonly queuedBytes: number;
}

/** Counters behind the graftd_peer_* and graftd_raft_protocol_violations_total metrics. */
export interface SecurityCounters {
  /** Peer handshakes that failed (wrong secret or certificate, wrong ids, malformed or too slow). */
  readonly peerHandshakeFailures: number;
  /** Authenticated peer connections closed for breaking the protocol. */
  readonly peerProtocolViolations: number;
  /** Peer connections refused by a limit or the membership filter. */
  readonly peerRefusedConnections: number;
  /** Peer handshakes refused because the two nodes speak different protocol versions (optional: fakes may omit it). */
  readonly peerVersionMismatches?: number;
  /** Messages the raft core dropped as protocol violations, by reason. */
  readonly raftViolations: Readonly<Record<string, number>>;
}
