/**
 * The replicated state: a FIFO work queue where each item has at most one claimant.
 *
 * Why it looks like this: every node runs apply() on the same committed commands in the same
 * order, so this class depends on nothing but its own fields and the command — no clock, no
 * randomness, no I/O. Item ids come from a counter in the state (never from Date.now() or a UUID),
 * and the window of remembered request ids that makes retries safe is part of the state too, so
 * it is in the snapshot: a node restored from a snapshot must answer a retry exactly as a node
 * that replayed the log would.
 */
import type { QueueCommand, QueueResult } from './commands.ts';

/** Request and claim ids remembered for retries; the oldest is forgotten beyond this (deterministically: FIFO). */
export const REMEMBERED_REQUESTS = 10_000;

/** One item. Never mutated once stored (a change stores a new object), so a snapshot can copy references. */
export interface Item {
  readonly id: number;
  readonly payload: string;
  /** The claim holding it; '' while it is ready. */
  readonly claimId: string;
}

export interface QueueStats {
  readonly ready: number;
  readonly claimed: number;
  /** The id the next enqueued item gets. */
  readonly nextId: number;
}

/** A point-in-time copy of the whole state, used by the snapshot writer. */
export interface QueueImage {
  readonly nextId: number;
  readonly items: readonly Item[];
  readonly ready: readonly number[];
  /** Remembered request keys ('e:' + requestId, 'c:' + claimId) and the item each produced, oldest first. */
  readonly requests: readonly (readonly [string, number])[];
}

export class WorkQueue {
  #nextId = 1;
  readonly #items = new Map<number, Item>();
  /** Ready item ids in FIFO order (a Set keeps insertion order). */
  readonly #ready = new Set<number>();
  /** Live claims: claim id → item id. */
  readonly #claims = new Map<string, number>();
  /** Bounded memory of request ids for idempotent retries (insertion order = age). */
  readonly #requests = new Map<string, number>();

  /** Apply one committed command. Never throws: every outcome is a result, the same on every node. */
  apply(cmd: QueueCommand): QueueResult {
    switch (cmd.op) {
      case 'enqueue': {
        const key = `e:${cmd.requestId}`;
        const seen = this.#requests.get(key);
        if (seen !== undefined) return { op: 'enqueue', id: seen, duplicate: true };
        const id = this.#nextId++;
        this.#items.set(id, { id, payload: cmd.payload, claimId: '' });
        this.#ready.add(id);
        this.#remember(key, id);
        return { op: 'enqueue', id, duplicate: false };
      }
      case 'claim': {
        const key = `c:${cmd.claimId}`;
        const seen = this.#requests.get(key);
        if (seen !== undefined) {
          // A retried claim: the same item if this claim still holds it, otherwise nothing (claim ids are single use).
          const item = this.#items.get(seen);
          const held = item !== undefined && item.claimId === cmd.claimId;
          return { op: 'claim', item: held ? { id: item.id, payload: item.payload } : null, duplicate: true };
        }
        const first = this.#ready.values().next();
        if (first.done === true) return { op: 'claim', item: null, duplicate: false };
        const item = this.#items.get(first.value)!;
        this.#ready.delete(item.id);
        this.#items.set(item.id, { ...item, claimId: cmd.claimId });
        this.#claims.set(cmd.claimId, item.id);
        this.#remember(key, item.id);
        return { op: 'claim', item: { id: item.id, payload: item.payload }, duplicate: false };
      }
      case 'ack':
      case 'release': {
        const item = this.#items.get(cmd.id);
        if (item === undefined) return { op: cmd.op, outcome: 'gone' };
        if (item.claimId !== cmd.claimId) return { op: cmd.op, outcome: 'not-yours' };
        this.#claims.delete(cmd.claimId);
        if (cmd.op === 'ack') {
          this.#items.delete(item.id);
        } else {
          this.#items.set(item.id, { ...item, claimId: '' });
          this.#ready.add(item.id);
        }
        return { op: cmd.op, outcome: 'done' };
      }
    }
  }

  #remember(key: string, id: number): void {
    this.#requests.set(key, id);
    if (this.#requests.size > REMEMBERED_REQUESTS) this.#requests.delete(this.#requests.keys().next().value!);
  }

  stats(): QueueStats {
    return { ready: this.#ready.size, claimed: this.#items.size - this.#ready.size, nextId: this.#nextId };
  }

  item(id: number): Item | undefined {
    return this.#items.get(id);
  }

  /** Every live item: the ready ones in claim order, then the claimed ones. At most `limit` of each. */
  list(limit: number): { ready: Item[]; claimed: Item[] } {
    const ready: Item[] = [];
    for (const id of this.#ready) {
      if (ready.length >= limit) break;
      ready.push(this.#items.get(id)!);
    }
    const claimed: Item[] = [];
    for (const id of this.#claims.values()) {
      if (claimed.length >= limit) break;
      claimed.push(this.#items.get(id)!);
    }
    return { ready, claimed };
  }

  /** Copy the state synchronously (items are immutable, so copying references is enough). */
  image(): QueueImage {
    return {
      nextId: this.#nextId,
      items: Array.from(this.#items.values()),
      ready: Array.from(this.#ready),
      requests: Array.from(this.#requests),
    };
  }

  /** Build a queue from an image (snapshot restore). Throws on an inconsistent image. */
  static fromImage(image: QueueImage): WorkQueue {
    const q = new WorkQueue();
    q.#nextId = image.nextId;
    for (const item of image.items) {
      if (!(item.id >= 1 && item.id < image.nextId) || q.#items.has(item.id)) throw new Error(`bad or duplicate item id ${item.id}`);
      q.#items.set(item.id, item);
      if (item.claimId !== '') {
        if (q.#claims.has(item.claimId)) throw new Error(`claim ${item.claimId} holds two items`);
        q.#claims.set(item.claimId, item.id);
      }
    }
    for (const id of image.ready) {
      const item = q.#items.get(id);
      if (item === undefined || item.claimId !== '' || q.#ready.has(id)) throw new Error(`ready list names item ${id} wrongly`);
      q.#ready.add(id);
    }
    if (q.#ready.size + q.#claims.size !== q.#items.size) throw new Error('an unclaimed item is missing from the ready list');
    for (const [key, id] of image.requests) q.#requests.set(key, id);
    return q;
  }
}
