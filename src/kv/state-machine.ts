/**
 * The key-value store as a raft state machine (src/node/state-machine.ts): graftd's server is the
 * generic raft node running this.
 *
 * Why a wrapper and not the store itself: the store stays a plain structure with apply (used by
 * tools and tests); this adds the contract's snapshot/restore/validate in the store's streamed
 * format (snapshot-format.ts) and the codec that carries apply results back to a follower that
 * forwarded the proposal, and keeps one store object for the node's lifetime — an installed
 * snapshot replaces the contents inside it, so readers holding `store` always see the live state.
 */
import type { PreparedRestore, ResultCodec, StateMachine } from '../node/state-machine.ts';
import { packr } from './command.ts';
import { restoreSnapshot, writeSnapshot } from './snapshot-format.ts';
import { type KvApplyResult, KvStore } from './store.ts';
import { decodeAnyCommand } from './txn-command.ts';

/** Apply results cross the peer link as msgpack (plain objects of strings, numbers, booleans, arrays). */
const resultCodec: ResultCodec<KvApplyResult> = {
  encode: (result) => Uint8Array.prototype.slice.call(packr.pack(result)),
  decode: (bytes) => packr.unpack(bytes) as KvApplyResult,
};

/** graftd's replicated key-value state. Commands are the encodings of command.ts and txn-command.ts. */
export class KvStateMachine implements StateMachine<KvApplyResult> {
  readonly store: KvStore;
  readonly results = resultCodec;

  /** `store`: the initial state (default: empty). */
  constructor(store: KvStore = new KvStore()) {
    this.store = store;
  }

  /** Apply a command at log `index`. Throws GRAFTD_CORRUPT (nothing changed) on a malformed one. */
  apply(command: Uint8Array, index: number): KvApplyResult {
    return this.store.apply(command, index);
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
    decodeAnyCommand(command);
  }

  describe(): Readonly<Record<string, number>> {
    return { keys: this.store.size, revision: this.store.revision, leases: this.store.leases.size };
  }
}
