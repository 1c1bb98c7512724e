/**
 * Snapshots of the state machine: taking them periodically, receiving them from the leader.
 *
 * Why here and not in the core: the core only knows snapshot metadata; the bytes are the
 * state machine's (StateMachine.snapshot/restore), written to the snapshot store as a stream so
 * a large state never has to fit in one buffer. Taking one: every SNAPSHOT_INTERVAL, if more than
 * SNAPSHOT_THRESHOLD entries were applied since the last, capture the state (synchronously, so
 * it matches the applied index and membership exactly), stream it to the store, record it in
 * the log storage and compact the log, keeping TRAILING_LOGS entries for slow followers.
 */
import { GraftdError, assert } from '../errors.ts';
import { type Log, errFields } from '../log.ts';
import type { ConfState, NodeId, SnapshotMeta } from '../raft/types.ts';
import type { NodeSnapshotStore, NodeStorage } from './deps.ts';
import type { PreparedRestore, StateMachine } from './state-machine.ts';

export interface SnapshotKeeperOptions {
  readonly id: NodeId;
  readonly log: Log;
  readonly storage: NodeStorage;
  readonly store: NodeSnapshotStore;
  readonly threshold: number;
  readonly trailingLogs: number;
  readonly intervalMs: number;
  /** Index of the newest snapshot already taken or installed. */
  readonly lastIndex: number;
  /** The state to snapshot, read synchronously at the moment a snapshot starts. */
  readonly current: () => { applied: number; stateMachine: StateMachine<unknown>; confState: ConfState; active: boolean };
  readonly emit: (action: 'taken' | 'received', index: number, peer?: NodeId) => void;
}

/** Stream `data` into a new snapshot in `store`; nothing is visible unless every chunk was written. */
export async function writeToStore(store: NodeSnapshotStore, meta: SnapshotMeta, data: AsyncIterable<Uint8Array>): Promise<void> {
  const writer = await store.create(meta);
  try {
    for await (const chunk of data) await writer.write(chunk);
    await writer.commit();
  } catch (err) {
    try {
      await writer.abort();
    } catch {
      // the original error is the one worth reporting
    }
    throw err;
  }
}

/** Periodic snapshotting and snapshot reception for one node. */
export class SnapshotKeeper {
  #lastIndex: number;
  readonly #o: SnapshotKeeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #taking: Promise<void> | undefined;
  #receiving = false;
  #received: { index: number; restored: PreparedRestore } | undefined;

  constructor(options: SnapshotKeeperOptions) {
    this.#o = options;
    this.#lastIndex = options.lastIndex;
  }

  /** Index of the newest snapshot taken or installed. */
  get lastIndex(): number {
    return this.#lastIndex;
  }

  start(): void {
    this.#timer = setInterval(() => void this.maybeTake(), this.#o.intervalMs);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stop and wait for a snapshot being taken. */
  async close(): Promise<void> {
    this.stop();
    await this.#taking;
  }

  /** Take a snapshot now if more than `threshold` entries were applied since the last one. */
  maybeTake(): Promise<void> {
    if (this.#taking !== undefined) return this.#taking;
    const cur = this.#o.current();
    if (!cur.active || cur.applied - this.#lastIndex <= this.#o.threshold) return Promise.resolve();
    this.#taking = this.#take(cur).finally(() => {
      this.#taking = undefined;
    });
    return this.#taking;
  }

  async #take(cur: { applied: number; stateMachine: StateMachine<unknown>; confState: ConfState }): Promise<void> {
    const { storage, store, log } = this.#o;
    const started = performance.now();
    // Everything below up to the first await happens in one turn: the copy, the index and the membership agree.
    const meta: SnapshotMeta = { index: cur.applied, term: storage.term(cur.applied), confState: cur.confState };
    const described = cur.stateMachine.describe?.();
    const data = cur.stateMachine.snapshot();
    try {
      await writeToStore(store, meta, data);
    } catch (err) {
      log.error({ index: meta.index, ...errFields(err) }, 'taking a snapshot failed');
      return;
    }
    if (!this.#o.current().active) return;
    try {
      if (meta.index > storage.snapshotMeta().index) storage.createSnapshot(meta);
      this.#lastIndex = Math.max(this.#lastIndex, meta.index);
      const compactTo = meta.index - this.#o.trailingLogs;
      if (compactTo >= storage.firstIndex()) storage.compact(compactTo);
    } catch (err) {
      // The snapshot file is in place (as after a crash at this point); the log records it at the next
      // snapshot. A full disk or busy storage changed nothing; any other error failed the storage, which
      // the runtime sees on its next tick. Never an unhandled rejection (that would end the process).
      log.error({ index: meta.index, ...errFields(err) }, 'recording a snapshot in the log failed');
      return;
    }
    log.info(
      {
        index: meta.index,
        term: meta.term,
        ...described,
        firstIndex: storage.firstIndex(),
        ms: Math.round(performance.now() - started),
      },
      'snapshot taken',
    );
    this.#o.emit('taken', meta.index);
  }

  /** Receive a snapshot streamed by the leader: store it, then restore a detached state from it (installed when the core accepts it). */
  async receive(meta: SnapshotMeta, data: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.#receiving) throw new GraftdError('GRAFTD_UNAVAILABLE', `node ${this.#o.id} is already receiving a snapshot`);
    this.#receiving = true;
    try {
      await writeToStore(this.#o.store, meta, data);
      const restored = await this.#o.current().stateMachine.restore(this.#o.store.read(meta.index));
      this.#received = { index: meta.index, restored };
      this.#o.log.info({ index: meta.index, term: meta.term }, 'received snapshot');
      this.#o.emit('received', meta.index);
    } finally {
      this.#receiving = false;
    }
  }

  /** The state restored from the received snapshot at `index` (the core just accepted it): the caller installs it. */
  takeReceived(index: number): PreparedRestore {
    const r = this.#received;
    assert(r !== undefined && r.index === index, `the core installs snapshot ${index} but the received one is ${r?.index ?? 'none'}`);
    this.#received = undefined;
    this.#lastIndex = Math.max(this.#lastIndex, index);
    return r.restored;
  }
}
