/**
 * Keeps a node that joined with an empty data directory from campaigning until it has caught up.
 *
 * Why: a joining node replays the cluster's membership history from index 1. If its id is the
 * cluster's founder (removed, wiped and re-added under the same id), the first entry it applies
 * says "you are the only voter", and a single election timeout without hearing from the leader
 * (a GC pause, a partition) would let it elect itself and accept writes alone: a second leader.
 * More generally, a membership it has only half replayed is not the cluster's. So until it has
 * applied everything the leader had committed when it last heard from it, the node does not tick
 * its election timer. The guard is persisted (DATA_DIR/JOINING) so a restart mid-catch-up keeps it.
 */
import type { Message } from '../raft/types.ts';

export class JoinGuard {
  #active: boolean;
  #sawLeader = false;
  /** The highest commit index an AppendEntries from a leader has carried. */
  #barrier = 0;
  readonly #onCaughtUp: () => void;

  /** `active`: the node is joining (fresh, or restarted with the JOINING marker). `onCaughtUp` runs once, when it may campaign. */
  constructor(active: boolean, onCaughtUp: () => void) {
    this.#active = active;
    this.#onCaughtUp = onCaughtUp;
  }

  get active(): boolean {
    return this.#active;
  }

  /** The commit index the node must apply before it may campaign (0 until a leader has spoken). */
  get barrier(): number {
    return this.#barrier;
  }

  /** Note a message received from a peer. Only AppendEntries carry the leader's full commit index. */
  observe(m: Message): void {
    if (!this.#active || m.type !== 'app') return;
    this.#sawLeader = true;
    if (m.commit > this.#barrier) this.#barrier = m.commit;
  }

  /** Whether the election timer may tick now, given the index the state machine has applied. A leader (made so by a leadership transfer, which first catches its target up) always ticks. */
  mayTick(applied: number, isLeader: boolean): boolean {
    if (!this.#active) return true;
    if (!isLeader && (!this.#sawLeader || applied < this.#barrier)) return false;
    this.#active = false;
    this.#onCaughtUp();
    return true;
  }
}
