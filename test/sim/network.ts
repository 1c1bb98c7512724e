/**
 * The simulated network: per-message random delay, drops, duplicates, reordering, and
 * symmetric or one-way partitions, all in virtual time.
 *
 * Why a model instead of real sockets: the interleavings that break Raft need messages that
 * arrive late, twice, out of order or not at all, at exactly reproducible moments. Reordering
 * falls out of independent random delays; partitions are a matrix of blocked directed links
 * checked both when a message is sent and when it would be delivered.
 */
import type { Message, NodeId } from '../../src/raft/types.ts';
import type { Prng } from './prng.ts';

/** Knobs of the network model; the simulator changes them during a run. */
export interface NetworkConfig {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice (with independent delays). */
  dupRate: number;
  /** Usual one-way delay range, in virtual ms. */
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability that a message takes the slow path instead, up to slowMaxDelayMs. */
  slowRate: number;
  slowMaxDelayMs: number;
}

/** A calm network: no loss, short delays (still reordering). */
export const CALM_NETWORK: NetworkConfig = {
  dropRate: 0,
  dupRate: 0,
  minDelayMs: 1,
  maxDelayMs: 8,
  slowRate: 0,
  slowMaxDelayMs: 8,
};

/** Messages in flight beyond this are dropped (a bounded queue, like a real socket buffer). */
export const MAX_IN_FLIGHT = 50_000;

interface InFlight {
  readonly at: number;
  readonly seq: number;
  readonly msg: Message;
}

/** Counters for the run report. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
}

/** A network of `ids.length` nodes with a min-heap of in-flight messages ordered by delivery time. */
export class SimNetwork {
  config: NetworkConfig = { ...CALM_NETWORK };
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };
  private readonly heap: InFlight[] = [];
  private seq = 0;
  private readonly index = new Map<NodeId, number>();
  /** blocked[from * n + to] === 1 when messages from → to are lost. */
  private readonly blocked: Uint8Array;
  private readonly n: number;

  /**
   * @param onDrop called for every lost message; `cut` is true when a partition lost it (the
   *   simulator reports failed snapshot sends and unreachable peers).
   */
  constructor(
    ids: readonly NodeId[],
    private readonly rng: Prng,
    private readonly onDrop: (msg: Message, cut: boolean) => void,
  ) {
    this.n = ids.length;
    for (const [i, id] of ids.entries()) this.index.set(id, i);
    this.blocked = new Uint8Array(this.n * this.n);
  }

  /** Number of messages in flight. */
  get inFlight(): number {
    return this.heap.length;
  }

  /** Whether any link is currently cut. */
  get partitioned(): boolean {
    return this.blocked.some((b) => b === 1);
  }

  /** Cut or restore the directed link from → to. */
  setLink(from: NodeId, to: NodeId, cut: boolean): void {
    const f = this.index.get(from);
    const t = this.index.get(to);
    if (f === undefined || t === undefined) throw new Error(`unknown link ${from} -> ${to}`);
    this.blocked[f * this.n + t] = cut ? 1 : 0;
  }

  /** Symmetric partition: no message crosses between `side` and the rest. */
  partition(side: ReadonlySet<NodeId>): void {
    for (const [a, ai] of this.index) {
      for (const [b, bi] of this.index) {
        if (side.has(a) !== side.has(b)) this.blocked[ai * this.n + bi] = 1;
      }
    }
  }

  /** Restore every link. */
  heal(): void {
    this.blocked.fill(0);
  }

  /** Describe the cut links, e.g. "n1>n2 n2>n1" (for traces). */
  describeCuts(): string {
    const ids = [...this.index.keys()];
    const cuts: string[] = [];
    for (let f = 0; f < this.n; f++) {
      for (let t = 0; t < this.n; t++) if (this.blocked[f * this.n + t] === 1) cuts.push(`${ids[f]}>${ids[t]}`);
    }
    return cuts.length === 0 ? 'none' : cuts.join(' ');
  }

  private isBlocked(msg: Message): boolean {
    const f = this.index.get(msg.from);
    const t = this.index.get(msg.to);
    if (f === undefined || t === undefined) return true;
    return this.blocked[f * this.n + t] === 1;
  }

  private delay(): number {
    const c = this.config;
    if (c.slowRate > 0 && this.rng.chance(c.slowRate)) return this.rng.range(c.maxDelayMs, Math.max(c.maxDelayMs, c.slowMaxDelayMs));
    return this.rng.range(c.minDelayMs, c.maxDelayMs);
  }

  /** Hand a message to the network at virtual time `now`. */
  send(msg: Message, now: number): void {
    this.stats.sent++;
    const cut = this.isBlocked(msg);
    if (cut || this.heap.length >= MAX_IN_FLIGHT || (this.config.dropRate > 0 && this.rng.chance(this.config.dropRate))) {
      this.stats.dropped++;
      this.onDrop(msg, cut);
      return;
    }
    this.push({ at: now + this.delay(), seq: this.seq++, msg });
    if (this.config.dupRate > 0 && this.rng.chance(this.config.dupRate)) {
      this.stats.duplicated++;
      this.push({ at: now + this.delay(), seq: this.seq++, msg });
    }
  }

  /**
   * Lose every message in flight from or to `id`: a wiped node comes back as a new process, and
   * nothing its previous incarnation sent (or was sent) can reach the new one over fresh connections.
   */
  purge(id: NodeId): void {
    const keep = this.heap.filter((f) => f.msg.from !== id && f.msg.to !== id);
    const lost = this.heap.filter((f) => f.msg.from === id || f.msg.to === id);
    this.heap.length = 0;
    for (const f of keep) this.push(f);
    for (const f of lost) {
      this.stats.dropped++;
      this.onDrop(f.msg, true);
    }
  }

  /** Delivery time of the earliest message in flight, or Infinity. */
  nextAt(): number {
    return this.heap[0]?.at ?? Number.POSITIVE_INFINITY;
  }

  /** Take the next message due at or before `now` that survives the partitions; undefined when none is due. */
  poll(now: number): Message | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > now) return undefined;
      this.pop();
      if (this.isBlocked(top.msg)) {
        this.stats.dropped++;
        this.onDrop(top.msg, true);
        continue;
      }
      this.stats.delivered++;
      return top.msg;
    }
  }

  private push(item: InFlight): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!less(item, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = item;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && less(h[r]!, h[l]!) ? r : l;
      if (!less(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}

function less(a: InFlight, b: InFlight): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
