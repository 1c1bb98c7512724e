/**
 * What the runtime counts and logs for operators, beside the raft loop: leader changes, failed
 * proposals, the reason of the latest role change, vote decisions, and WAL fsync timings.
 *
 * Why a separate module: these are read by /metrics and written into the log, and keeping them
 * here keeps the runtime's loop free of formatting and bookkeeping.
 */
import type { Log } from '../log.ts';
import type { NodeId, RaftEvent } from '../raft/types.ts';

type VoteEvent = Extract<RaftEvent, { kind: 'vote' }>;

/** Counters behind graftd_leader_changes_total and graftd_proposals_failed_total. */
export interface OpsCounters {
  /** Times the known leader changed to another node (a first leader counts; "no leader" does not). */
  readonly leaderChanges: number;
  /** Proposals this node made as leader that ended with an error (leadership lost, timed out, dropped, storage failure). */
  readonly proposalsFailed: number;
}

export class OpsStats {
  #leaderChanges = 0;
  #proposalsFailed = 0;
  #lastLeader: NodeId = '';
  /** The reason the core gave for its latest role change, until a soft-state change logs it. */
  roleReason = '';
  readonly #syncObservers = new Set<(seconds: number) => void>();

  counters(): OpsCounters {
    return { leaderChanges: this.#leaderChanges, proposalsFailed: this.#proposalsFailed };
  }

  /** A soft-state change: count a new leader. */
  leaderIs(leader: NodeId): void {
    if (leader !== '' && leader !== this.#lastLeader) this.#leaderChanges++;
    if (leader !== '') this.#lastLeader = leader;
  }

  /**
   * The log line for a soft-state change (role or known leader), with the core's reason for the
   * latest role event; a leader learned without a role change (its first append or heartbeat at
   * our term) says so instead of repeating an older reason.
   */
  describeChange(previous: string, role: string, leader: NodeId): { msg: string; reason: string } {
    const coreReason = this.roleReason;
    this.roleReason = '';
    let reason = coreReason;
    if (reason === '') reason = leader === '' ? 'no leader known' : `heard from leader ${leader}`;
    let what: string;
    if (role === 'leader') what = 'became leader';
    else if (previous === 'leader') what = 'stepped down';
    else if (role !== previous) what = `became ${role}`;
    else what = leader === '' ? 'leader lost' : `following leader ${leader}`;
    return { msg: `${what}: ${reason}`, reason };
  }

  proposalFailed(n = 1): void {
    this.#proposalsFailed += n;
  }

  /** Track a proposal's outcome: count it when it fails. Returns the same promise. */
  track<T>(p: Promise<T>): Promise<T> {
    return p.catch((err: unknown) => {
      this.#proposalsFailed++;
      throw err;
    });
  }

  /** Log a vote decision this node made about another candidate: real votes at info, pre-votes at debug. */
  logVote(log: Log, selfId: NodeId, e: VoteEvent): void {
    if (e.candidate === selfId) return; // our own vote: the role change says it
    const kind = e.pre ? 'pre-vote' : 'vote';
    const obj = { candidate: e.candidate, term: e.term, granted: e.granted, pre: e.pre, ...(e.granted ? {} : { reason: e.reason }) };
    const msg = e.granted
      ? `granted ${kind} to ${e.candidate} for term ${e.term}`
      : `refused ${kind} to ${e.candidate} for term ${e.term}: ${e.reason}`;
    if (e.pre) log.debug(obj, msg);
    else log.info(obj, msg);
  }

  /** Subscribe to WAL fsync durations (seconds); returns the unsubscribe function. */
  onWalSync(fn: (seconds: number) => void): () => void {
    this.#syncObservers.add(fn);
    return () => this.#syncObservers.delete(fn);
  }

  /** The WAL finished an fdatasync that took `ms`. */
  walSynced(ms: number): void {
    for (const fn of this.#syncObservers) fn(ms / 1000);
  }
}
