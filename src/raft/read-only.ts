/**
 * ReadIndex bookkeeping on the leader: linearizable reads confirmed by one heartbeat round.
 *
 * Why rounds: confirming leadership costs a round trip to a quorum; every read requested before
 * the next Ready shares one round (one heartbeat per follower carrying the round id), and a quorum
 * acknowledging a round also confirms every earlier round (they were sent before it). Periodic
 * heartbeats are rounds too (without reads): their acknowledgements renew the leader lease, which
 * starts at the confirmed round's send time on the leader's monotonic clock.
 */
import { ProposalDroppedError } from '../errors.ts';
import type { NodeId, ReadState } from './types.ts';

/** Bound on reads waiting for confirmation (TigerBeetle style: every queue has a limit). */
export const MAX_PENDING_READS = 1 << 16;
/** Rounds without reads (periodic heartbeats) kept waiting for acknowledgement; older ones are forgotten. */
export const MAX_EMPTY_ROUNDS = 64;
/** Round ids of rounds that carry reads start with this (observers tell read rounds from plain heartbeats). */
const READ_ROUND_PREFIX = 'r';

/** Whether a heartbeat's context names a round that confirms reads (not just a periodic heartbeat). */
export function isReadRound(context: string): boolean {
  return context.startsWith(READ_ROUND_PREFIX);
}

interface Read {
  readonly ctx: string;
  /** Commit index when the read was issued (or released, if it waited for the leader's first commit). */
  readonly index: number;
}

interface Round {
  readonly id: string;
  /** Leader tick when the round's heartbeats were sent (only for the tick-counted lease test fault). */
  readonly startTick: number;
  /** Leader clock (ms) when the round's heartbeats were sent: a lease confirmed by this round starts here. */
  readonly sentAt: number;
  readonly reads: Read[];
  readonly acks: Set<NodeId>;
}

export class ReadOnly {
  /** Reads waiting for the leader to commit an entry of its term. */
  private waiting: string[] = [];
  /** Reads requested since the last round was started. */
  private batch: Read[] = [];
  /** Rounds sent, oldest first. */
  private rounds: Round[] = [];
  private seq = 0;
  private total = 0;

  /** Count of reads not yet answered. */
  get pending(): number {
    return this.total;
  }

  private reserve(): void {
    if (this.total >= MAX_PENDING_READS) throw new ProposalDroppedError(`${MAX_PENDING_READS} reads are already waiting for confirmation`);
    this.total++;
  }

  /** Queue a read until the leader has committed an entry of its own term. */
  wait(ctx: string): void {
    this.reserve();
    this.waiting.push(ctx);
  }

  /** Reads queued by {@link wait}, now released (the caller re-adds them). */
  takeWaiting(): string[] {
    const w = this.waiting;
    this.waiting = [];
    this.total -= w.length;
    return w;
  }

  /** Add a read to the next round. */
  add(ctx: string, index: number): void {
    this.reserve();
    this.batch.push({ ctx, index });
  }

  hasBatch(): boolean {
    return this.batch.length > 0;
  }

  /** Start a round for the batched reads (possibly none: a periodic heartbeat); returns its id (to put in the heartbeats). */
  startRound(term: number, self: NodeId, tick: number, sentAt: number): string {
    this.seq++;
    const id = `${this.batch.length > 0 ? READ_ROUND_PREFIX : ''}${term}.${this.seq}`;
    this.rounds.push({ id, startTick: tick, sentAt, reads: this.batch, acks: new Set([self]) });
    this.batch = [];
    if (this.rounds.length > MAX_EMPTY_ROUNDS) this.forgetOldEmptyRounds();
    return id;
  }

  /** Unacknowledged heartbeat rounds pile up while followers are unreachable: keep the newest few and every round with reads. */
  private forgetOldEmptyRounds(): void {
    let empties = 0;
    for (const r of this.rounds) if (r.reads.length === 0) empties++;
    if (empties <= MAX_EMPTY_ROUNDS) return;
    let drop = empties - MAX_EMPTY_ROUNDS;
    this.rounds = this.rounds.filter((r) => r.reads.length > 0 || drop-- <= 0);
  }

  /**
   * Record `from`'s ack of round `id`; when `confirmed(acks)` says a quorum acked, answer that round and
   * every earlier one into `out`. Returns the confirmed round (its send tick and time), or null when nothing was confirmed.
   */
  recvAck(
    id: string,
    from: NodeId,
    confirmed: (acks: ReadonlySet<NodeId>) => boolean,
    out: ReadState[],
  ): { readonly startTick: number; readonly sentAt: number } | null {
    let at = -1;
    for (let i = 0; i < this.rounds.length; i++) {
      if ((this.rounds[i] as Round).id === id) {
        at = i;
        break;
      }
    }
    if (at < 0) return null;
    const round = this.rounds[at] as Round;
    round.acks.add(from);
    if (!confirmed(round.acks)) return null;
    for (let i = 0; i <= at; i++) {
      for (const r of (this.rounds[i] as Round).reads) {
        out.push({ ctx: r.ctx, index: r.index });
        this.total--;
      }
    }
    this.rounds = this.rounds.slice(at + 1);
    return round;
  }

  /** Answer every batched read at once (single-voter cluster: no one else to ask). */
  answerBatch(out: ReadState[]): void {
    for (const r of this.batch) out.push({ ctx: r.ctx, index: r.index });
    this.total -= this.batch.length;
    this.batch = [];
  }

  /** Drop everything (leadership lost). */
  reset(): void {
    this.waiting = [];
    this.batch = [];
    this.rounds = [];
    this.total = 0;
  }
}
