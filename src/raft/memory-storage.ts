/**
 * An in-memory implementation of the core's {@link Storage} contract.
 *
 * Why: the simulator, the core's unit tests, the runtime's tests and the core benchmark all need a
 * storage with the exact semantics of the durable one (suffix truncation, snapshots, compaction with a
 * trailing tail) but without disks. "Durable" here means "survives as long as this object does": the
 * simulator models a crash by keeping the MemoryStorage and dropping the core.
 *
 * Layout (etcd style): `ents[0]` is a dummy entry that stands for the entry just before the first held
 * one (index firstIndex - 1), so that its term stays known after compaction.
 */
import { CompactedError, UnavailableError, assert } from '../errors.ts';
import type { ConfState, Entry, HardState, SnapshotMeta, Storage } from './types.ts';

const EMPTY_DATA = new Uint8Array(0);

/** The empty membership (a fresh node that has not joined any cluster yet). */
export const EMPTY_CONF_STATE: ConfState = Object.freeze({ voters: [], learners: [], context: {} });

function dummyEntry(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: EMPTY_DATA };
}

/** Options for {@link MemoryStorage}; everything defaults to a fresh, empty node. */
export interface MemoryStorageOptions {
  /** Initial hard state (default term 0, no vote, commit 0). */
  readonly hardState?: HardState;
  /** Membership recorded in an index-0 snapshot (default: empty). Prefer {@link bootstrap} for new clusters. */
  readonly confState?: ConfState;
}

/** In-memory {@link Storage}. Not thread-safe; every method is synchronous. */
export class MemoryStorage implements Storage {
  private hardState: HardState;
  private snapshot: SnapshotMeta;
  /** ents[0] is the dummy at firstIndex - 1; ents[i] has index ents[0].index + i. */
  private ents: Entry[];

  constructor(options: MemoryStorageOptions = {}) {
    this.hardState = options.hardState ?? { term: 0, vote: '', commit: 0 };
    this.snapshot = { index: 0, term: 0, confState: options.confState ?? EMPTY_CONF_STATE };
    this.ents = [dummyEntry(0, 0)];
  }

  private get offset(): number {
    return (this.ents[0] as Entry).index;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snapshot.confState };
  }

  /** The hard state last saved (tests and the simulator inspect it). */
  savedHardState(): HardState {
    return this.hardState;
  }

  entries(lo: number, hi: number, maxBytes: number = Number.POSITIVE_INFINITY): Entry[] {
    const offset = this.offset;
    if (lo <= offset) throw new CompactedError(lo, offset + 1);
    const last = offset + this.ents.length - 1;
    if (hi > last + 1) throw new UnavailableError(hi - 1, last);
    assert(lo <= hi, `entries(lo=${lo}, hi=${hi}): expected lo <= hi`);
    if (lo === hi) return [];
    const start = lo - offset;
    const end = hi - offset;
    if (maxBytes === Number.POSITIVE_INFINITY) return this.ents.slice(start, end);
    let bytes = (this.ents[start] as Entry).data.length;
    let stop = start + 1;
    while (stop < end) {
      bytes += (this.ents[stop] as Entry).data.length;
      if (bytes > maxBytes) break;
      stop++;
    }
    return this.ents.slice(start, stop);
  }

  term(index: number): number {
    const offset = this.offset;
    if (index < offset) {
      if (index === 0) return 0;
      throw new CompactedError(index, offset + 1);
    }
    const e = this.ents[index - offset];
    if (e === undefined) throw new UnavailableError(index, offset + this.ents.length - 1);
    return e.term;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  snapshotMeta(): SnapshotMeta {
    return this.snapshot;
  }

  save(hardState: HardState | null, entries: readonly Entry[]): void {
    if (hardState !== null) {
      assert(hardState.term >= this.hardState.term, `hard state term went back from ${this.hardState.term} to ${hardState.term}`);
      this.hardState = hardState;
    }
    if (entries.length === 0) return;
    const offset = this.offset;
    const first = (entries[0] as Entry).index;
    const last = offset + this.ents.length - 1;
    assert(first <= last + 1, `save: entries start at ${first} but the log ends at ${last} (gap)`);
    let skip = 0;
    if (first <= offset) {
      // The prefix is already compacted (covered by the snapshot): keep only what lies beyond it.
      skip = offset + 1 - first;
      if (skip >= entries.length) return;
    }
    const from = first + skip;
    if (from <= last) this.ents.length = from - offset; // truncate the conflicting suffix
    for (let i = skip; i < entries.length; i++) {
      const e = entries[i] as Entry;
      assert(e.index === offset + this.ents.length, `save: entry index ${e.index} is not contiguous`);
      this.ents.push(e);
    }
  }

  applySnapshot(meta: SnapshotMeta): void {
    assert(
      meta.index >= this.snapshot.index,
      `applySnapshot: index ${meta.index} is older than the current snapshot ${this.snapshot.index}`,
    );
    this.snapshot = meta;
    this.ents = [dummyEntry(meta.index, meta.term)];
  }

  createSnapshot(meta: SnapshotMeta): void {
    if (meta.index <= this.snapshot.index) return; // an older or equal snapshot adds nothing
    assert(meta.index <= this.lastIndex(), `createSnapshot: index ${meta.index} is beyond the last index ${this.lastIndex()}`);
    if (meta.index >= this.offset) {
      const t = this.term(meta.index);
      assert(t === meta.term, `createSnapshot: term ${meta.term} at index ${meta.index} does not match the log's term ${t}`);
    }
    this.snapshot = meta;
  }

  compact(index: number): void {
    const offset = this.offset;
    if (index <= offset) return; // already compacted that far
    assert(index <= this.snapshot.index, `compact: index ${index} is beyond the snapshot index ${this.snapshot.index}`);
    assert(index <= this.lastIndex(), `compact: index ${index} is beyond the last index ${this.lastIndex()}`);
    const e = this.ents[index - offset] as Entry;
    const rest = this.ents.slice(index - offset + 1);
    rest.unshift(dummyEntry(e.index, e.term));
    this.ents = rest;
  }
}
