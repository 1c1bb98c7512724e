/**
 * The leadership-transfer flow on the leader: choose the target (the most caught-up voter unless
 * one is named), refuse what cannot work (no other voter, a learner, a stranger, a transfer already
 * under way), ask the core, keep asking while callers wait (the core gives up after an election
 * timeout), and hand the callers the new leader once a Ready reports it. Also the hand-over before
 * a clean shutdown.
 *
 * Why separate: it is a policy with its own state (the target, the waiting callers) on top of one
 * core call; the runtime only feeds it ticks and soft-state changes.
 */
import { GraftdError, ProposalDroppedError } from '../errors.ts';
import type { Log } from '../log.ts';
import type { RaftCore } from '../raft/api.ts';
import type { NodeId } from '../raft/types.ts';
import type { RuntimeConfig } from './config.ts';
import { TransferWaiters, bestTransferTarget } from './transfers.ts';

/** Most transfer-leadership calls waiting at once. */
const MAX_TRANSFER_WAITERS = 1024;

export interface LeadershipTransferParts {
  readonly id: NodeId;
  readonly log: Log;
  readonly core: RaftCore;
  readonly config: RuntimeConfig;
  /** Throws NotLeaderError unless this node leads. */
  readonly checkLeader: () => void;
  /** Run a Ready cycle soon (the core has a message to send). */
  readonly schedule: () => void;
  /** Monotonic clock in ms. */
  readonly now: () => number;
}

export class LeadershipTransfer {
  readonly #p: LeadershipTransferParts;
  readonly #waiters = new TransferWaiters(MAX_TRANSFER_WAITERS);
  /** Target of the transfer callers wait for ('' when none). */
  #target: NodeId = '';

  constructor(parts: LeadershipTransferParts) {
    this.#p = parts;
  }

  /** How long a caller of transferLeader (or a leader removing itself) waits. */
  timeoutMs(): number {
    const cfg = this.#p.config;
    return Math.min(cfg.requestTimeoutMs, 3 * cfg.electionTimeoutMs + 1000);
  }

  /** Hand leadership to `target` (default: the most caught-up voter); resolves with the new leader. */
  async transfer(target: NodeId | undefined, timeoutMs: number): Promise<NodeId> {
    const { core, id } = this.#p;
    this.#p.checkLeader();
    const cs = core.confState();
    const to = target ?? bestTransferTarget(core.status(), id);
    if (to === undefined) throw new GraftdError('GRAFTD_INVALID_CONF_CHANGE', `no other voter to transfer leadership to`);
    if (to === id) return id;
    if (!cs.voters.includes(to)) {
      if (cs.learners.includes(to)) throw new GraftdError('GRAFTD_INVALID_CONF_CHANGE', `${to} is a learner; only a voter can lead`);
      throw new GraftdError('GRAFTD_UNKNOWN_MEMBER', `${to} is not a member of the cluster`);
    }
    if (core.status().leadTransferee !== '') {
      throw new GraftdError('GRAFTD_TRANSFER_IN_PROGRESS', `a leadership transfer to ${core.status().leadTransferee} is in progress`);
    }
    if (this.#waiters.size >= MAX_TRANSFER_WAITERS) throw new ProposalDroppedError('too many leadership transfers waiting');
    this.#p.log.info({ to }, 'transferring leadership');
    core.transferLeader(to);
    this.#target = to;
    this.#p.schedule();
    return this.#waiters.add(this.#p.now(), timeoutMs);
  }

  /** Before a clean exit, on the leader: hand over to the most caught-up voter, bounded; a failure is logged, not thrown. */
  async beforeShutdown(): Promise<void> {
    const timeoutMs = this.#p.config.shutdownTransferTimeoutMs;
    if (bestTransferTarget(this.#p.core.status(), this.#p.id) === undefined || timeoutMs <= 0) return;
    try {
      const to = await this.transfer(undefined, timeoutMs);
      this.#p.log.info({ to }, 'leadership transferred before shutdown');
    } catch (err) {
      this.#p.log.warn({ err: (err as Error).message }, 'leadership transfer before shutdown failed; exiting anyway');
    }
  }

  /** A tick: time out callers; the core gives up a transfer after an election timeout (e.g. a slow target), so while callers still wait, ask again. */
  tick(nowMs: number, isLeader: boolean): void {
    this.#waiters.expire(nowMs);
    if (this.#waiters.size === 0 || !isLeader || this.#target === '') return;
    const st = this.#p.core.status();
    if (st.role !== 'leader' || st.leadTransferee !== '' || !st.confState.voters.includes(this.#target)) return;
    this.#p.log.info({ to: this.#target }, 'leadership transfer aborted by the core; retrying');
    this.#p.core.transferLeader(this.#target);
  }

  /** Another node leads now: every caller learns which. */
  moved(leader: NodeId): void {
    this.#waiters.moved(leader);
  }

  failAll(err: Error): void {
    this.#waiters.failAll(err);
  }
}
