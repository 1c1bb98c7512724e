/**
 * The public contract of the consensus core: its configuration and its inputs/outputs.
 *
 * Why separate from the implementation: the runtime, the simulator and the tests program
 * against this interface, and test-only fault switches (used to prove that the simulator
 * catches bugs) live here in plain sight instead of hidden in the implementation.
 */
import type { ConfChange, ConfState, NodeId, RaftEvent, RaftStatus, Ready, Message, Storage } from './types.ts';

/** Deliberately wrong rules, only for tests that prove the simulator and chaos checks catch bugs. Never set in production. */
export interface RaftTestFaults {
  /** Commit entries of previous terms by counting replicas (violates the Figure 8 rule). */
  readonly commitPreviousTermByCounting?: boolean;
  /** Grant a vote even when one was already given to another candidate in this term. */
  readonly voteTwice?: boolean;
  /** Answer ReadIndex immediately without confirming leadership. */
  readonly readIndexWithoutQuorum?: boolean;
  /** Count leases and the followers' vote promise in ticks instead of on the clock (blind to stalls and drift). */
  readonly tickLeases?: boolean;
}

export interface RaftConfig {
  readonly id: NodeId;
  /** Ticks without hearing from a leader before campaigning; the actual timeout is random in [electionTicks, 2*electionTicks). Default 10. */
  readonly electionTicks?: number;
  /** Ticks between leader heartbeats. Must be < electionTicks. Default 1. */
  readonly heartbeatTicks?: number;
  /** Seeded random source returning a float in [0, 1). Required: the core has no randomness of its own. */
  readonly random: () => number;
  /** Default true. */
  readonly preVote?: boolean;
  /** Default true. A leader that has not heard from a quorum within an election timeout steps down. */
  readonly checkQuorum?: boolean;
  /** Max entries bytes per AppendEntries message. Default 1 MiB. */
  readonly maxMsgBytes?: number;
  /** Max un-acknowledged AppendEntries messages per follower in replicate state. Default 256. */
  readonly maxInflight?: number;
  /** Max bytes of proposals waiting uncommitted on the leader before propose() throws GRAFTD_PROPOSAL_DROPPED (backpressure). Default 64 MiB. */
  readonly maxUncommittedBytes?: number;
  /** Index already applied by the state machine (the runtime restores its snapshot, then passes its index). Default: the storage snapshot's index. */
  readonly applied?: number;
  /**
   * With checkQuorum on, a (re)started node ignores vote requests (except leadership transfers) for this many
   * ticks: before it crashed it may have promised a leader not to vote within an election timeout, and lease
   * reads rely on that promise. Default electionTicks; 0 turns it off (unit tests that tick one node only).
   */
  readonly startupQuietTicks?: number;
  /**
   * Monotonic clock in milliseconds (the runtime passes `performance.now`). Leases, the followers'
   * promise not to vote within an election timeout, and CheckQuorum are measured on it at the moment
   * of deciding, so a stall is seen (ticks do not catch up after one). Default: ticks × tickMs, which
   * makes a core driven only by tick() behave as if every tick were on time.
   */
  readonly clock?: () => number;
  /** Nominal clock milliseconds per tick (the heartbeat interval). Default 100. */
  readonly tickMs?: number;
  /**
   * Bound on how much two nodes' clocks may disagree on the length of an interval (0.05 = 5 %).
   * Lease reads are served for electionTicks × tickMs × (1 − maxClockDrift) − leaseMarginMs after a
   * quorum acknowledged a heartbeat round (from the round's send time). Default 0.05.
   */
  readonly maxClockDrift?: number;
  /** Safety margin subtracted from the lease. Default one tick (tickMs). */
  readonly leaseMarginMs?: number;
  /** With checkQuorum, a leader that has heard from no quorum for this long steps down (LEADER_LEASE_TIMEOUT). Default electionTicks × tickMs. */
  readonly checkQuorumMs?: number;
  /** Observer; when absent no event objects are built. */
  readonly onEvent?: (event: RaftEvent) => void;
  readonly testFaults?: RaftTestFaults;
}

export interface ProposeResult {
  /** Index of the first proposed entry; entry i of the batch lands at index + i. */
  readonly index: number;
  readonly term: number;
}

/** The consensus core. Pure: no I/O, no time source except `config.clock`, no randomness except `config.random`. */
export interface RaftCore {
  /** Advance logical time by one tick. */
  tick(): void;
  /**
   * Feed a message received from a peer. Messages from stale terms are ignored/answered per the rules.
   * A message that contradicts the protocol (term beyond MAX_TERM, malformed, from a non-member, a
   * leader message at the current term from another id than that term's leader) is dropped, counted in violations() and reported as a
   * `violation` event; it never throws and never changes state.
   */
  step(message: Message): void;
  /** Whether step(message) would act on `message` now (false: it would be dropped as a violation or as stale). Pure; the runtime asks before receiving a snapshot's bytes. */
  admits(message: Message): boolean;
  /** Messages dropped as protocol violations since this core was created. */
  violations(): number;
  /** This node would act on a leader's or candidate's message from a non-member now: it is not a leader and follows no live leader. */
  admitsStrangers(): boolean;
  /** Append commands to the leader's log (one entry each). Throws NotLeaderError (with the known leader id) on a non-leader, ProposalDroppedError during a leadership transfer or when over maxUncommittedBytes. */
  propose(commands: readonly Uint8Array[]): ProposeResult;
  /** Propose a membership change. Throws ConfChangeInProgressError if one is pending (not yet applied), NotLeaderError on a non-leader, InvalidConfChangeError if it is not valid against the current configuration (e.g. removing the last voter, promoting a non-learner). */
  proposeConfChange(change: ConfChange): ProposeResult;
  /**
   * Request a linearizable read. `mode` 'safe' confirms leadership with a heartbeat round (shared by every read
   * waiting for the same round); 'lease' answers from the leader lease (requires checkQuorum). The answer arrives
   * as a ReadState with the same ctx in a later Ready. Throws NotLeaderError on a non-leader.
   * Not answered before the leader has committed an entry of its own term.
   */
  readIndex(ctx: string, mode: 'safe' | 'lease'): void;
  /** Ask the leader to hand leadership to `target` (catch it up, then TimeoutNow). Throws NotLeaderError on a non-leader. Aborted after an election timeout. */
  transferLeader(target: NodeId): void;
  /** Tell the leader that sending to `id` failed (connection down): the follower goes back to probe. */
  reportUnreachable(id: NodeId): void;
  /** Tell the leader whether streaming a snapshot to `id` finished (the follower still has to acknowledge it) or failed. */
  reportSnapshot(id: NodeId, ok: boolean): void;
  hasReady(): boolean;
  /** Take the next batch of work. Must be followed by advance(ready) once it is done. */
  ready(): Ready;
  /** Acknowledge that `ready` was persisted, sent and applied. Conf changes among its committed entries take effect here. */
  advance(ready: Ready): void;
  status(): RaftStatus;
  /** Membership as of the applied index (what a local snapshot taken now must record). */
  confState(): ConfState;
}

export type CreateRaft = (config: RaftConfig, storage: Storage) => RaftCore;
