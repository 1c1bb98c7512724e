/**
 * The change history behind watch streams: the key changes of the last revisions, in memory.
 *
 * Why here, fed by apply: a watch is served by any node from its own applied state, so every node
 * records what each applied revision changed, in order, as it applies it. A watcher that resumes
 * from revision R (after a reconnect, possibly to another node) is replayed from here, then follows
 * live changes; older revisions than the history keeps are "compacted" and the watcher is told so.
 *
 * Bounds: at most `maxRevisions` revisions and about `maxBytes` of keys and values; the oldest
 * revisions are dropped first (the newest one is always kept, whatever its size). The history is
 * not replicated or persisted: after a restart it starts at the restored snapshot's revision and
 * refills as the log above it is replayed; an installed snapshot resets it.
 */

/** One change of one key (the data of a watch event). */
export interface KeyChange {
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** put: the new value. */
  readonly value?: string;
  /** put: the key's metadata after it; delete: createRevision/version 0, modRevision = the revision. */
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** The value before the change, when the key existed. */
  readonly prevValue?: string;
}

/** All changes of one revision, in the order they were applied. */
export interface RevisionChanges {
  readonly revision: number;
  readonly changes: readonly KeyChange[];
}

export interface HistoryLimits {
  /** Revisions kept (default 10 000). */
  readonly maxRevisions: number;
  /** Approximate bytes of keys and values kept (default 64 MiB). */
  readonly maxBytes: number;
}

export const DEFAULT_HISTORY_LIMITS: HistoryLimits = { maxRevisions: 10_000, maxBytes: 64 * 1024 * 1024 };

/** Rough memory of one change: strings at 2 bytes per character plus the object. */
function sizeOf(c: KeyChange): number {
  return 64 + 2 * (c.key.length + (c.value?.length ?? 0) + (c.prevValue?.length ?? 0));
}

/** A bounded ring of the most recent revisions' changes. */
export class ChangeHistory {
  readonly #limits: HistoryLimits;
  #ring: (RevisionChanges | undefined)[];
  #bytes: number[];
  /** Index in #ring of the oldest kept revision, and how many are kept. */
  #head = 0;
  #count = 0;
  #totalBytes = 0;
  /** Revisions below this are not available (never seen here, or dropped). */
  #oldest: number;

  constructor(revision = 0, limits: HistoryLimits = DEFAULT_HISTORY_LIMITS) {
    if (!Number.isSafeInteger(limits.maxRevisions) || limits.maxRevisions < 1) throw new RangeError('maxRevisions must be ≥ 1');
    this.#limits = limits;
    this.#ring = new Array(limits.maxRevisions);
    this.#bytes = new Array(limits.maxRevisions).fill(0);
    this.#oldest = revision + 1;
  }

  /** The oldest revision a watch can start from (changes of revisions ≥ this are kept or still to come). */
  get oldest(): number {
    return this.#oldest;
  }

  /** Revisions kept now. */
  get size(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#totalBytes;
  }

  /** Record the changes of `revision` (strictly above every recorded one). */
  append(entry: RevisionChanges): void {
    const cap = this.#limits.maxRevisions;
    let bytes = 0;
    for (const c of entry.changes) bytes += sizeOf(c);
    while (this.#count > 0 && (this.#count === cap || this.#totalBytes + bytes > this.#limits.maxBytes)) this.#dropOldest();
    const slot = (this.#head + this.#count) % cap;
    this.#ring[slot] = entry;
    this.#bytes[slot] = bytes;
    this.#totalBytes += bytes;
    this.#count++;
    if (this.#count === 1) this.#oldest = Math.min(this.#oldest, entry.revision);
  }

  /** Forget everything: the state jumped to `revision` (a snapshot was installed); watches may resume after it. */
  reset(revision: number): void {
    this.#ring = new Array(this.#limits.maxRevisions);
    this.#bytes.fill(0);
    this.#head = 0;
    this.#count = 0;
    this.#totalBytes = 0;
    this.#oldest = revision + 1;
  }

  /** The kept revisions ≥ `from`, oldest first (from must be ≥ oldest). */
  *since(from: number): IterableIterator<RevisionChanges> {
    const cap = this.#limits.maxRevisions;
    // Binary search the first kept revision ≥ from (revisions are increasing but may skip numbers only across a reset).
    let lo = 0;
    let hi = this.#count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#ring[(this.#head + mid) % cap]!.revision < from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.#count; i++) yield this.#ring[(this.#head + i) % cap]!;
  }

  #dropOldest(): void {
    const cap = this.#limits.maxRevisions;
    const dropped = this.#ring[this.#head]!;
    this.#totalBytes -= this.#bytes[this.#head]!;
    this.#ring[this.#head] = undefined;
    this.#bytes[this.#head] = 0;
    this.#head = (this.#head + 1) % cap;
    this.#count--;
    this.#oldest = dropped.revision + 1;
  }
}
