/**
 * The key-value store as a raft state machine (src/node/state-machine.ts): graftd's server is the
 * generic raft node running this.
 *
 * Why a wrapper and not the store itself: the store stays a plain map with apply (used by tools
 * and tests); this adds the contract's snapshot/restore/validate in the store's streamed format
 * (snapshot-format.ts), and keeps one store object for the node's lifetime — an installed snapshot
 * replaces the map inside it, so readers holding `store` always see the live state.
 */
import type { PreparedRestore, StateMachine } from '../node/state-machine.ts';
import { decodeFlat } from './command.ts';
import { restoreSnapshot, writeSnapshot } from './snapshot-format.ts';
import { KvStore } from './store.ts';

/** graftd's replicated key-value state. Commands are encodeCommand() bytes; apply returns nothing. */
export class KvStateMachine implements StateMachine<void> {
  readonly store: KvStore;

  /** `store`: the initial state (default: empty). */
  constructor(store: KvStore = new KvStore()) {
    this.store = store;
  }

  /** Apply a set/del command. Throws GRAFTD_CORRUPT (nothing changed) on a malformed one. */
  apply(command: Uint8Array): void {
    this.store.apply(command);
  }

  snapshot(): AsyncIterable<Uint8Array> {
    return writeSnapshot(this.store);
  }

  async restore(chunks: AsyncIterable<Uint8Array>): Promise<PreparedRestore> {
    const restored = await restoreSnapshot(chunks);
    return { install: () => this.store.replaceWith(restored) };
  }

  /** A malformed command forwarded by a follower never reaches the log (every node would fail to apply it). */
  validate(command: Uint8Array): void {
    decodeFlat(command);
  }

  describe(): Readonly<Record<string, number>> {
    return { keys: this.store.size };
  }
}
