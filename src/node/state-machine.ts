/**
 * The contract between the generic raft node and the state it replicates, and the generic node's
 * own interface (what an embedder builds on: `createRaftNode({ id, dataDir, raftAddr, stateMachine })`).
 *
 * Why a contract: the consensus core, the WAL, the snapshot store, the transport, membership,
 * reads and proposal forwarding do not depend on what is replicated. graftd's key-value store is
 * one implementation (src/kv/state-machine.ts); a job queue, a lock table or a counter is another.
 * Everything the node needs from the state is here, and nothing more: apply a committed command,
 * stream a point-in-time copy out, build a copy back from a stream, and answer reads by calling a
 * function against the state once it has applied far enough.
 *
 * Model: the state lives in memory. On every start the node rebuilds it from the newest snapshot
 * (restore) and then replays the committed log entries above it (apply). A state machine therefore
 * keeps no state of its own on disk, and its state is a pure function of the commands applied.
 */
import type { GraftdError } from '../errors.ts';
import type { Log } from '../log.ts';
import type { NodeId } from '../raft/types.ts';
import type { PeerSecurity } from '../transport/types.ts';
import type { JoinRequest, MemberView, NodeEvent, NodeStatus, ReadLevel } from './api.ts';
import type { FoundingMember } from './bootstrap.ts';
import type { RuntimeConfig } from './config.ts';

/**
 * A replicated state machine.
 *
 * Threading: every method is called on the event loop, never concurrently with another call of
 * the same node (the node is single-threaded); `apply` and `snapshot` are synchronous so that what
 * a snapshot captures and the applied index it is recorded at always agree.
 *
 * @typeParam R - what `apply` returns for a command; the proposer's `propose()` resolves with it.
 */
export interface StateMachine<R = void> {
  /**
   * Apply one committed command. Called exactly once per committed, non-empty command, in log order
   * (`index` strictly increasing from call to call; an installed snapshot makes it jump), on every
   * node, and again after each restart for the commands above the newest snapshot.
   *
   * Must be deterministic: its effect and result may depend only on the state and `command` (no
   * clock, no randomness, no environment, no I/O, no iteration order that differs between processes).
   * `index` is given for bookkeeping (e.g. "applied at"); using it keeps apply deterministic.
   *
   * Throwing: a command the state machine refuses (malformed, violates an invariant) may throw, but
   * then it must throw on every node and leave the state unchanged (validate before mutating). The
   * node counts the entry as applied, logs it, and rejects the proposer's promise with the error;
   * it never stops. Throwing for any other reason (a bug) makes the replicas diverge.
   *
   * `command` is only valid during the call: copy what you keep (it may be a view of a larger buffer).
   */
  apply(command: Uint8Array, index: number): R;

  /**
   * A consistent point-in-time copy of the whole state, as a byte stream.
   *
   * The copy is taken *synchronously*, before this returns (the node records it at the current
   * applied index and membership); the returned iterable is consumed later — while `apply` keeps
   * running — so it must not read live state. Cheap ways: copy the entries into an array (strings
   * and frozen objects need no deep copy), or keep a persistent/immutable structure. The iterable
   * is read at most once; it should yield chunks of tens of KiB and give the event loop a turn every
   * few chunks (`await setImmediate()` from node:timers/promises) so a large state never stalls
   * heartbeats. Used for periodic snapshots (sent to lagging followers) and for `read(level, sm =>
   * sm.snapshot())` backups.
   *
   * Include a format version in the stream: a snapshot written by one release is restored by the next.
   */
  snapshot(): AsyncIterable<Uint8Array>;

  /**
   * Parse a stream produced by `snapshot()` (possibly on another node, possibly by an older release)
   * into a *detached* state and resolve with a handle that installs it. Must not change the live
   * state: while the stream is read, the node may still apply commands to the current state; the
   * node calls `install()` synchronously at the moment the consensus core accepts the snapshot
   * (then the next `apply` has `index` above the snapshot's), or drops the handle if it never does.
   *
   * Throws (rejects) on a corrupt or unknown stream — preferably a GraftdError with code
   * GRAFTD_CORRUPT; the node then refuses the snapshot (the leader retries) or, at start, refuses
   * to start. Chunks may be split anywhere (not where `snapshot()` split them).
   */
  restore(chunks: AsyncIterable<Uint8Array>): Promise<PreparedRestore>;

  /**
   * Optional: refuse a command before it enters the log. Called on the leader for every command a
   * follower forwarded (input from the network), before it is proposed; throw a GraftdError (e.g.
   * GRAFTD_INVALID_BODY, 400) to refuse it — the proposer's promise rejects with it and nothing is
   * logged. Commands proposed on the leader itself are not validated here: validate your own input
   * before `propose()` (a command that reaches `apply` and throws is skipped on every node anyway).
   */
  validate?(command: Uint8Array): void;

  /**
   * How `apply`'s result crosses the network when a follower's `propose()` was forwarded to the
   * leader (the leader applies it, encodes the result, the follower decodes it). Required when `R`
   * carries information; absent, a forwarded proposal resolves with `undefined` (right for `void`).
   */
  readonly results?: ResultCodec<R>;

  /** Optional: a few fields describing the state for log lines and status (e.g. `{ keys: 12 }`). Cheap; called rarely. */
  describe?(): Readonly<Record<string, number | string>>;
}

/** A restored, not yet installed state (see {@link StateMachine.restore}). */
export interface PreparedRestore {
  /** Replace the live state with the restored one, synchronously. Called at most once. */
  install(): void;
}

/** Encodes `apply` results for forwarded proposals. `decode(encode(r))` must equal `r` for the caller's purposes. */
export interface ResultCodec<R> {
  encode(result: R): Uint8Array;
  decode(bytes: Uint8Array): R;
}

/** The result type of a state machine's `apply`. */
export type ResultOf<SM> = SM extends StateMachine<infer R> ? R : never;

/** A node's status without state-machine-specific fields (graftd's GET /status adds `keys`). */
export type RaftNodeStatus = Omit<NodeStatus, 'keys'> & {
  /** The state machine's own fields ({@link StateMachine.describe}); empty when it has none. */
  readonly state: Readonly<Record<string, number | string>>;
};

/** What `createRaftNode` needs. Only `id`, `dataDir`, `raftAddr` and `stateMachine` are required. */
export interface RaftNodeOptions<SM extends StateMachine<unknown>> {
  /** This node's id: unique in the cluster, stable across restarts (it is written to the data directory). */
  readonly id: NodeId;
  /** Where the WAL, snapshots and identity live. Created (durably) if missing; one node per directory. */
  readonly dataDir: string;
  /** host:port other nodes reach this node's raft port at (advertised in the membership). */
  readonly raftAddr: string;
  /** host:port to bind (e.g. 0.0.0.0:7000). Default: `raftAddr`. */
  readonly raftListenAddr?: string;
  /**
   * Address of the embedder's own client front end (an HTTP API, say), advertised in the membership
   * so that followers can point clients at the leader's (status().leaderHttpAddr). Default ''.
   */
  readonly httpAddr?: string;
  /**
   * A fresh, empty state machine. The node owns it from now on: it restores it from the newest
   * snapshot, replays the log, and from then on is the only caller of apply/snapshot/restore.
   * Read it only through `read()` (or `RaftNode.stateMachine` for stale reads in the same turn).
   */
  readonly stateMachine: SM;
  /** Timeouts, snapshot policy, etc. Missing fields take DEFAULT_RUNTIME_CONFIG (src/node/config.ts). */
  readonly config?: Partial<RuntimeConfig>;
  /** Cluster secret and/or TLS for the raft port. Absent: plaintext (loopback development only). */
  readonly peerSecurity?: PeerSecurity;
  /** Structured logger (pino-like). Default: silent. */
  readonly log?: Log;
  /**
   * When the data directory holds no state yet: 'bootstrap' founds a new cluster (alone, or with
   * `founders`), 'join' waits to be added by an existing cluster (then `clusterId` and `seedPeers`
   * are required, and a member must add this node: `join()` on the leader). Ignored when the
   * directory already holds state (a restart never bootstraps again). Default 'bootstrap'.
   */
  readonly ifEmpty?: 'bootstrap' | 'join';
  /** The cluster id being joined, or founded together with `founders`. */
  readonly clusterId?: string;
  /** With ifEmpty 'bootstrap': found a cluster of exactly these voters (each founder is given the same list and clusterId). */
  readonly founders?: readonly FoundingMember[];
  /** Members to contact before this node has applied any membership (a joining node). */
  readonly seedPeers?: readonly MemberView[];
}

/**
 * A running raft node replicating one state machine.
 *
 * Errors: every promise settles — with a result, a coded {@link GraftdError} (src/errors.ts), or a
 * TimeoutError (GRAFTD_TIMEOUT, 504: outcome unknown) after `config.requestTimeoutMs`. The codes an
 * embedder should expect: GRAFTD_NOT_LEADER (leader-only call on a follower; `.leader` names it),
 * GRAFTD_NO_LEADER / GRAFTD_UNAVAILABLE / GRAFTD_PROPOSAL_DROPPED (503: provably no effect, retry),
 * GRAFTD_TIMEOUT (504: may or may not have taken effect), GRAFTD_DISK_FULL (507), GRAFTD_REMOVED
 * (410), GRAFTD_SHUTTING_DOWN (503), GRAFTD_STORAGE_FAILED (the node stopped; restart it).
 */
/** See {@link RaftNode.leadership}. */
export interface Leadership {
  readonly isLeader: boolean;
  /** '' when no leader is known. */
  readonly leaderId: NodeId;
}

export interface RaftNode<SM extends StateMachine<unknown>> {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
  /** The state machine given in the options. Mutate it only through `propose`. */
  readonly stateMachine: SM;

  /**
   * Replicate `command` and resolve with `apply`'s result on the node that proposed it, once the
   * command is committed and applied there (so a `read('stale', …)` on this node right after sees it).
   * On a follower the command is forwarded to the leader over the raft connection (validated there,
   * see {@link StateMachine.validate}) and the promise resolves once the leader applied it, with the
   * result decoded by {@link StateMachine.results}; this node applies it shortly after.
   * Commands proposed in one event-loop turn share one log append and one fsync.
   * An empty command is refused (GRAFTD_INVALID_BODY): empty entries are the leader's no-ops.
   * A rejection with 503 (not sent / dropped / no leader) had no effect; 504 means unknown.
   */
  propose(command: Uint8Array): Promise<ResultOf<SM>>;

  /**
   * Run `fn` against the state machine, synchronously, once a read at `level` is safe, and resolve
   * with its result. `fn` must not mutate the state machine and must not keep references into it
   * beyond its call (copy or snapshot() instead).
   * - 'linearizable': reflects every command whose `propose()` resolved anywhere before `read` was
   *   called (ReadIndex: a heartbeat round confirms leadership). On a follower, the leader is asked
   *   for its read index and `fn` runs here once this node applied it.
   * - 'lease': the same without the heartbeat round, relying on the leader's lease (bounded clock
   *   drift, config.maxClockDrift).
   * - 'stale': runs now against local state on any node (may lag the leader).
   * Reads that arrive in one turn share one ReadIndex round.
   */
  read<T>(level: ReadLevel, fn: (stateMachine: SM) => T): Promise<T>;

  /**
   * Leader only: add a member as a learner (it receives the log but does not vote); with
   * `voter: true` the leader promotes it once it has caught up. A member with the same id or address
   * is replaced (removed first). `fresh: true` = the joiner's data directory is empty.
   */
  join(request: JoinRequest): Promise<void>;
  /** Leader only: remove a member. Removing the leader itself transfers leadership first and throws NotLeaderError naming the new leader (retry there). */
  remove(id: NodeId): Promise<void>;
  /** Leader only: hand leadership to `id` (default: the most caught-up voter); resolves with the new leader's id. */
  transferLeader(id?: NodeId): Promise<NodeId>;

  status(): RaftNodeStatus;
  /**
   * Whether this node leads and whom it knows as leader, as of the last Ready: what the HTTP layer
   * asks on every request, without building the whole status() (members, progress).
   */
  leadership(): Leadership;
  /** Has a leader and has applied everything it knows to be committed. */
  isReady(): boolean;
  /**
   * Resolves once isReady() holds: a leader is known and this node has applied its commit index
   * (at once if it already does). With `timeoutMs`, rejects with GRAFTD_TIMEOUT when the node is
   * not ready by then (the message says why: no leader, or applied behind commit). Rejects when
   * the node fails, is removed or closes while waiting (the same error its requests get).
   * At most 1024 callers wait at once (GRAFTD_UNAVAILABLE beyond).
   */
  whenReady(timeoutMs?: number): Promise<void>;
  /** Observe raft events (role changes, elections, applies, snapshots). Returns the unsubscribe function; free while nobody listens. */
  onEvent(listener: (event: NodeEvent) => void): () => void;
  /** Resolves once this node applied its own removal from the cluster (it then serves nothing; wipe its data directory to rejoin). */
  whenRemoved(): Promise<void>;
  /** On the leader, hand leadership to the most caught-up voter before closing (bounded by config.shutdownTransferTimeoutMs). */
  prepareShutdown(): Promise<void>;
  /** Stop: waiting calls reject with GRAFTD_SHUTTING_DOWN, the transport and the storage close. Idempotent. */
  close(): Promise<void>;
}
