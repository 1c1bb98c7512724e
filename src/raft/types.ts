/**
 * The data types shared by the consensus core, its storage and its drivers.
 *
 * Why a file of its own: the core (src/raft), the storage (src/storage), the runtime
 * (src/node), the transport (src/transport) and the simulator (test/sim) are written
 * against these shapes. Keeping them here, free of behaviour, lets each of those be
 * built and tested without the others.
 */

import type { ViolationReason } from './admission.ts';

/** A node's identity, e.g. "node0". Stable for the node's lifetime; never empty. */
export type NodeId = string;

/** `normal` entries carry application commands (possibly empty: the leader's no-op); `conf` entries carry an encoded {@link ConfChange}. */
export type EntryType = 'normal' | 'conf';

/** One log entry. `index` starts at 1; index 0 / term 0 denote "before the log". */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be durable before any message depending on it leaves the node. */
export interface HardState {
  readonly term: number;
  /** The candidate voted for in `term`, or '' for none. */
  readonly vote: NodeId;
  readonly commit: number;
}

/**
 * The cluster membership. `context` maps every member (voter or learner) to an opaque
 * string the runtime attaches when it proposes the change (graftd stores a JSON object
 * with the member's raft and HTTP addresses there). The core never interprets it.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly context: Readonly<Record<NodeId, string>>;
}

/** Single-server membership changes; one may be pending at a time. */
export type ConfChangeType = 'addVoter' | 'addLearner' | 'promoteLearner' | 'removeNode';

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  /** Stored in {@link ConfState.context} for add/promote; ignored for remove. */
  readonly context: string;
}

/** Describes a snapshot; the snapshot's bytes live outside the core (snapshot store / app). */
export interface SnapshotMeta {
  /** Last index covered by the snapshot (0 = no snapshot). */
  readonly index: number;
  readonly term: number;
  /** Membership as of `index`. */
  readonly confState: ConfState;
}

export type MessageType =
  | 'preVote'
  | 'preVoteResp'
  | 'vote'
  | 'voteResp'
  | 'app' // AppendEntries
  | 'appResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'snap' // InstallSnapshot (meta only; the runtime streams the bytes beside it)
  | 'timeoutNow';

/**
 * A message between cores. Unused fields are 0 / '' / [] / false so that every message has
 * the same shape (cheap to encode, no optional-field juggling).
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  /** Sender's term. For preVote: the term the sender would campaign in. */
  readonly term: number;
  /** app: term of the entry before `entries`; vote/preVote: candidate's last log term; appResp reject: hint term. */
  readonly logTerm: number;
  /** app: index of the entry before `entries`; vote/preVote: candidate's last log index; appResp: match index (or rejected index). */
  readonly index: number;
  readonly entries: readonly Entry[];
  /** Leader's commit index (app, heartbeat). */
  readonly commit: number;
  /** Responses: true when refused (vote not granted, append rejected). */
  readonly reject: boolean;
  /** appResp reject: the follower's suggested next probe index (fast backtracking). */
  readonly rejectHint: number;
  /** heartbeat / heartbeatResp: ReadIndex round id ('' when none); vote: 'transfer' when forced by a leadership transfer. */
  readonly context: string;
  /** snap only. */
  readonly snapshot: SnapshotMeta | null;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** A linearizable read became safe: serve it once the state machine has applied `index`. */
export interface ReadState {
  readonly ctx: string;
  readonly index: number;
}

/** Volatile state the runtime may want to display; null in Ready when unchanged. */
export interface SoftState {
  readonly role: Role;
  /** '' when unknown. */
  readonly leader: NodeId;
  readonly term: number;
}

/**
 * Everything the runtime must do, in order: persist `hardState` and `entries` (and install
 * `snapshot` if set) durably; then send `messages`; then apply `committedEntries` and serve
 * `readStates`; then call `advance()`.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: SnapshotMeta | null;
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** Replication state of one follower as the leader sees it. */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export interface ProgressView {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly isLearner: boolean;
  readonly inflight: number;
}

/** Snapshot of the core's state for /status, metrics and the live view. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly firstIndex: number;
  readonly snapshotIndex: number;
  readonly confState: ConfState;
  /** Non-empty on the leader only. */
  readonly progress: Readonly<Record<NodeId, ProgressView>>;
  readonly leadTransferee: NodeId;
  readonly pendingConfIndex: number;
}

/** Observer events (cheap when nobody listens: the core checks for a listener first). */
export type RaftEvent =
  /** `reason`: why the role (or the term) changed, for a log line, e.g. 'election timeout', 'higher term 7 from n2 (vote)'. */
  | { readonly kind: 'role'; readonly role: Role; readonly term: number; readonly leader: NodeId; readonly reason: string }
  | { readonly kind: 'send'; readonly message: Message }
  | { readonly kind: 'recv'; readonly message: Message }
  | { readonly kind: 'commit'; readonly index: number }
  /** `reason`: why a vote was refused ('' when granted), for a log line. */
  | {
      readonly kind: 'vote';
      readonly term: number;
      readonly candidate: NodeId;
      readonly granted: boolean;
      readonly pre: boolean;
      readonly reason: string;
    }
  | { readonly kind: 'confChange'; readonly change: ConfChange; readonly index: number }
  /**
   * A received message was dropped because it contradicts the protocol (see ViolationReason in
   * admission.ts): nothing of it was adopted. `detail` says what was wrong, for a log line.
   */
  | {
      readonly kind: 'violation';
      readonly from: NodeId;
      readonly type: MessageType;
      readonly term: number;
      readonly reason: ViolationReason;
      readonly detail: string;
    };

/**
 * The log storage the core reads. All reads are synchronous (an in-memory index backs them).
 * Writes are done by the runtime (not the core) and are durable when they return.
 */
export interface Storage {
  /** Persisted hard state and the membership of the latest snapshot. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one if lo < hi, stopping before `maxBytes` of data is exceeded. Throws CompactedError below firstIndex, UnavailableError past lastIndex. */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** Term of the entry at `index`; valid for firstIndex - 1 ≤ index ≤ lastIndex (the entry just before firstIndex, i.e. the compaction point, still answers its term; 0 answers 0). Throws CompactedError / UnavailableError otherwise. */
  term(index: number): number;
  /** Index of the first entry still held (snapshot.index + 1 when compacted). */
  firstIndex(): number;
  /** Index of the last entry held (snapshot.index when the log is empty). */
  lastIndex(): number;
  /** The latest snapshot's metadata (index 0 when none). */
  snapshotMeta(): SnapshotMeta;

  /** Durably store the hard state (if not null) and append entries (truncating any conflicting suffix first: entries[0].index may be ≤ lastIndex). One fsync per call at most. */
  save(hardState: HardState | null, entries: readonly Entry[]): void;
  /** Replace the whole log with a snapshot received from the leader: afterwards firstIndex = meta.index + 1, lastIndex = meta.index. */
  applySnapshot(meta: SnapshotMeta): void;
  /** Record that a local snapshot exists at `meta.index` (≤ applied), without discarding entries. */
  createSnapshot(meta: SnapshotMeta): void;
  /** Discard entries ≤ `index` (requires a snapshot at or beyond `index`); the term of `index` stays known. Keeping a tail (TRAILING_LOGS) behind the snapshot is allowed: firstIndex may be ≤ snapshotMeta().index. */
  compact(index: number): void;
}
