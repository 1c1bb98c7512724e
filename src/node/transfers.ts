/**
 * Callers waiting for a leadership transfer to finish.
 *
 * Why separate: the transfer is asked of the core and finishes when a Ready reports another
 * leader; every waiter then learns the new leader's id, or times out (the core aborts a transfer
 * after an election timeout). Bounded.
 */
import { ProposalDroppedError, TimeoutError } from '../errors.ts';
import type { NodeId, ProgressView } from '../raft/types.ts';

interface Waiter {
  readonly deadlineMs: number;
  readonly timeoutMs: number;
  readonly resolve: (leader: NodeId) => void;
  readonly reject: (err: Error) => void;
}

export class TransferWaiters {
  #waiters: Waiter[] = [];
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#waiters.length;
  }

  /** Wait until leadership moved; throws when `max` callers already wait. */
  add(nowMs: number, timeoutMs: number): Promise<NodeId> {
    if (this.#waiters.length >= this.#max) return Promise.reject(new ProposalDroppedError('too many leadership transfers waiting'));
    return new Promise<NodeId>((resolve, reject) => {
      this.#waiters.push({ deadlineMs: nowMs + timeoutMs, timeoutMs, resolve, reject });
    });
  }

  /** Leadership moved to `leader`. */
  moved(leader: NodeId): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w.resolve(leader);
  }

  expire(nowMs: number): void {
    if (!this.#waiters.some((w) => w.deadlineMs <= nowMs)) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.deadlineMs <= nowMs) w.reject(new TimeoutError('the leadership transfer', w.timeoutMs));
      else still.push(w);
    }
    this.#waiters = still;
  }

  failAll(err: Error): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w.reject(err);
  }
}

/** The voter (not `self`) with the highest match index, preferring recently active ones; undefined when there is none. */
export function bestTransferTarget(
  st: { readonly confState: { readonly voters: readonly NodeId[] }; readonly progress: Readonly<Record<NodeId, ProgressView>> },
  self: NodeId,
): NodeId | undefined {
  let best: NodeId | undefined;
  let bestMatch = -1;
  for (const id of st.confState.voters) {
    if (id === self) continue;
    const pv = st.progress[id];
    if (pv === undefined) continue;
    const score = pv.match + (pv.recentActive ? 0.5 : 0);
    if (score > bestMatch) {
      best = id;
      bestMatch = score;
    }
  }
  return best;
}
