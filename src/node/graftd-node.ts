/**
 * graftd's server node: the generic raft node (runtime.ts) running the key-value state machine
 * (src/kv/state-machine.ts), seen through the HTTP layer's GraftNode contract (api.ts).
 *
 * Why an adapter: the HTTP API speaks keys and values; the raft node speaks command bytes and
 * read functions. This file is the whole translation — set/del encode a command, get/backup are
 * reads against the store — and passes lifecycle and metrics calls through for the command line.
 */
import { KvStore, encodeCommand, writeSnapshot } from '../kv/index.ts';
import { KvStateMachine } from '../kv/state-machine.ts';
import type { ViolationReason } from '../raft/admission.ts';
import type { NodeId } from '../raft/types.ts';
import type { PeerSecurity } from '../transport/types.ts';
import type {
  GraftNode,
  JoinRequest,
  MemberView,
  NodeEvent,
  NodeStatus,
  OpsCounters,
  PeerLinkView,
  ReadLevel,
  SecurityCounters,
} from './api.ts';
import { RaftRuntime, type RuntimeParts } from './runtime.ts';

/** Runtime parts with the key-value store as the state (tests build a node from these). */
export type GraftdParts = Omit<RuntimeParts<KvStateMachine>, 'stateMachine'> & {
  /** The store, restored from the snapshot at `applied` (default: empty). */
  readonly kv?: KvStore;
};

/** A graftd node: implements {@link GraftNode} for the HTTP layer, plus lifecycle methods for the command line. */
export class GraftdRuntime implements GraftNode {
  /** The generic node underneath. */
  readonly raft: RaftRuntime<KvStateMachine>;
  readonly id: NodeId;
  readonly clusterId: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
  /** set()/del() on a follower forward to the leader over the raft transport (see GraftNode). */
  readonly forwardsWrites = true;
  /** Linearizable and lease reads on a follower ask the leader for a read index over the raft transport (see GraftNode). */
  readonly forwardsReads = true;
  readonly #store: KvStore;

  /** Wrap an opened raft node (open.ts), or build one from `parts` (tests). */
  constructor(from: RaftRuntime<KvStateMachine> | GraftdParts) {
    this.raft =
      from instanceof RaftRuntime
        ? from
        : (() => {
            const { kv, ...rest } = from;
            return new RaftRuntime<KvStateMachine>({ ...rest, stateMachine: new KvStateMachine(kv ?? new KvStore()) });
          })();
    this.#store = this.raft.stateMachine.store;
    this.id = this.raft.id;
    this.clusterId = this.raft.clusterId;
    this.raftAddr = this.raft.raftAddr;
    this.httpAddr = this.raft.httpAddr;
  }

  // ---------------------------------------------------------------- GraftNode

  set(pairs: Readonly<Record<string, string>>): Promise<void> {
    return this.#propose(() => encodeCommand({ op: 'set', pairs }));
  }

  del(keys: readonly string[]): Promise<void> {
    return this.#propose(() => encodeCommand({ op: 'del', keys }));
  }

  async #propose(encode: () => Uint8Array): Promise<void> {
    await this.raft.propose(encode());
  }

  get(key: string, level: ReadLevel): Promise<string | undefined> {
    return this.raft.read(level, (sm) => sm.store.get(key));
  }

  /** A linearizable copy of the store (leader only), in the kv snapshot format. */
  backup(): Promise<AsyncIterable<Uint8Array>> {
    return this.raft.readOnLeader((sm) => writeSnapshot(sm.store));
  }

  join(request: JoinRequest): Promise<void> {
    return this.raft.join(request);
  }

  remove(id: NodeId): Promise<void> {
    return this.raft.remove(id);
  }

  transferLeader(id?: NodeId): Promise<NodeId> {
    return this.raft.transferLeader(id);
  }

  status(): NodeStatus {
    const { state: _state, ...st } = this.raft.status();
    return { ...st, keys: this.#store.size };
  }

  isReady(): boolean {
    return this.raft.isReady();
  }

  /** Resolves once isReady() holds (RaftNode.whenReady). */
  whenReady(timeoutMs?: number): Promise<void> {
    return this.raft.whenReady(timeoutMs);
  }

  onRaftEvent(listener: (event: NodeEvent) => void): () => void {
    return this.raft.onEvent(listener);
  }

  securityCounters(): SecurityCounters {
    return this.raft.metrics.securityCounters();
  }

  diskFullEvents(): number {
    return this.raft.metrics.diskFullEvents();
  }

  opsCounters(): OpsCounters {
    return this.raft.metrics.opsCounters();
  }

  onWalSync(fn: (seconds: number) => void): () => void {
    return this.raft.metrics.onWalSync(fn);
  }

  peerLinks(): Record<NodeId, PeerLinkView> {
    return this.raft.metrics.peerLinks();
  }

  dataDirBytes(): Promise<number> {
    return this.raft.metrics.dataDirBytes();
  }

  // ---------------------------------------------------------------- lifecycle (command line)

  start(): Promise<void> {
    return this.raft.start();
  }

  setSeedPeers(members: readonly MemberView[]): void {
    this.raft.setSeedPeers(members);
  }

  whenRemoved(): Promise<void> {
    return this.raft.whenRemoved();
  }

  get removed(): boolean {
    return this.raft.removed;
  }

  prepareShutdown(): Promise<void> {
    return this.raft.prepareShutdown();
  }

  close(): Promise<void> {
    return this.raft.close();
  }

  updatePeerSecurity(security: PeerSecurity): void {
    this.raft.updatePeerSecurity(security);
  }

  protocolViolations(): Readonly<Partial<Record<ViolationReason, number>>> {
    return this.raft.metrics.protocolViolations();
  }
}
