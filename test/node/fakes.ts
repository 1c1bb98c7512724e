/**
 * In-memory stand-ins for the runtime's I/O (snapshot store, transport) used by the runtime's
 * unit tests, and the one factory every test/node test builds a runtime with (testNode; oneNode
 * is its common case).
 */
import { KvStore } from '../../src/kv/index.ts';
import { type Log, silentLog } from '../../src/log.ts';
import { type RuntimeConfig, DEFAULT_RUNTIME_CONFIG } from '../../src/node/config.ts';
import type { NodeSnapshotStore, NodeStorage, SnapshotWriter } from '../../src/node/deps.ts';
import type { TransportHandlers } from '../../src/node/runtime-parts.ts';
import type { BusyRetryOptions } from '../../src/storage/busy-retry.ts';
import { encodeMemberContext } from '../../src/node/members.ts';
import { seededRandom } from '../../src/node/random.ts';
import { GraftdRuntime } from '../../src/node/graftd-node.ts';
import { MemoryStorage, bootstrap, createRaft } from '../../src/raft/index.ts';
import type { Message, SnapshotMeta } from '../../src/raft/types.ts';
import type { PeerStats, Transport } from '../../src/transport/types.ts';

/** A snapshot store in memory. */
export class MemorySnapshotStore implements NodeSnapshotStore {
  readonly snaps = new Map<number, { meta: SnapshotMeta; data: Uint8Array[] }>();
  create(meta: SnapshotMeta): SnapshotWriter {
    const data: Uint8Array[] = [];
    return {
      write: async (chunk) => {
        data.push(chunk);
      },
      commit: async () => {
        this.snaps.set(meta.index, { meta, data });
      },
      abort: async () => {},
    };
  }
  latest(): { meta: SnapshotMeta } | null {
    const all = this.list();
    return all[all.length - 1] ?? null;
  }
  list(): { meta: SnapshotMeta }[] {
    return [...this.snaps.values()].sort((a, b) => a.meta.index - b.meta.index);
  }
  async *read(index: number): AsyncIterable<Uint8Array> {
    const s = this.snaps.get(index);
    if (s === undefined) throw new Error(`no snapshot ${index}`);
    yield* s.data;
  }
}

/** A transport that records what it was asked to send. */
export class FakeTransport implements Transport {
  readonly sent: Message[] = [];
  readonly peerMap = new Map<string, string>();
  async start(): Promise<void> {}
  listenAddress(): string {
    return '';
  }
  setPeer(id: string, addr: string): void {
    this.peerMap.set(id, addr);
  }
  removePeer(id: string): void {
    this.peerMap.delete(id);
  }
  send(messages: readonly Message[]): void {
    this.sent.push(...messages);
  }
  sendSnapshot(_m: Message, _open: () => AsyncIterable<Uint8Array>, done: (ok: boolean) => void): void {
    done(false);
  }
  peers(): Record<string, PeerStats> {
    return Object.fromEntries([...this.peerMap].map(([id, addr]) => [id, { addr, connected: true, queued: 0, dropped: 0 }]));
  }
  unknownPeerDrops(): number {
    return 0;
  }
  async close(): Promise<void> {}
}

/** MemoryStorage with the runtime's extra methods and a save() spy / fault switch. */
export class SpyStorage extends MemoryStorage implements NodeStorage {
  saves: number[] = [];
  failWith: Error | undefined;
  override save(...args: Parameters<MemoryStorage['save']>): void {
    if (this.failWith !== undefined) throw this.failWith;
    if (args[1].length > 0) this.saves.push(args[1].length);
    super.save(...args);
  }
  close(): void {}
  failed(): unknown {
    return null;
  }
}

export const FAST_CONFIG: RuntimeConfig = {
  ...DEFAULT_RUNTIME_CONFIG,
  heartbeatTimeoutMs: 5,
  electionTimeoutMs: 30,
  requestTimeoutMs: 2000,
};

/** A member written into the first configuration. */
export interface TestMember {
  readonly id: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
}

/** How testNode builds a runtime; everything has a default. */
export interface TestNodeOptions<S extends NodeStorage> {
  /** Default 'a'. */
  readonly id?: string;
  /** Default 'test'. */
  readonly clusterId?: string;
  /** This node's advertised addresses. Default 127.0.0.1:16000 (raft), 127.0.0.1:15000 (http). */
  readonly raftAddr?: string;
  readonly httpAddr?: string;
  /** The first configuration, bootstrapped into the storage (all voters); [] = none (a node to be joined). Default: this node alone. */
  readonly members?: readonly TestMember[];
  /** Default: a new SpyStorage. */
  readonly storage?: S;
  /** Merged over FAST_CONFIG. */
  readonly config?: Partial<RuntimeConfig>;
  readonly log?: Log;
  /** Default: a FakeTransport, returned as `transport`. */
  readonly createTransport?: (handlers: TransportHandlers) => Transport;
  readonly storageRetry?: BusyRetryOptions;
  /** Seed of the election jitter. Default 1. */
  readonly seed?: number;
}

/** Build a runtime (GraftdRuntime over in-memory or given storage, fake transport) and start it. */
export async function testNode<S extends NodeStorage = SpyStorage>(o: TestNodeOptions<S> = {}) {
  const id = o.id ?? 'a';
  const raftAddr = o.raftAddr ?? '127.0.0.1:16000';
  const httpAddr = o.httpAddr ?? '127.0.0.1:15000';
  const storage = o.storage ?? (new SpyStorage() as NodeStorage as S);
  const members = o.members ?? [{ id, raftAddr, httpAddr }];
  if (members.length > 0) {
    bootstrap(
      storage,
      members.map((m) => ({ id: m.id, context: encodeMemberContext({ raftAddr: m.raftAddr, httpAddr: m.httpAddr, voter: true }) })),
    );
  }
  const snapshots = new MemorySnapshotStore();
  const transport = new FakeTransport();
  const node = new GraftdRuntime({
    id,
    clusterId: o.clusterId ?? 'test',
    dataDir: '',
    raftAddr,
    httpAddr,
    config: { ...FAST_CONFIG, ...o.config },
    log: o.log ?? silentLog,
    storage,
    snapshots,
    kv: new KvStore(),
    applied: 0,
    createRaft,
    createTransport: o.createTransport ?? (() => transport),
    random: seededRandom(o.seed ?? 1),
    ...(o.storageRetry === undefined ? {} : { storageRetry: o.storageRetry }),
  });
  await node.start();
  return { node, storage, snapshots, transport };
}

/** A started one-node runtime (bootstrapped with `voters`, this node 'a' first) and its fakes. */
export function oneNode(config: Partial<RuntimeConfig> = {}, voters: readonly string[] = ['a']) {
  return testNode({
    config,
    members: voters.map((id, i) => ({ id, raftAddr: `127.0.0.1:${16000 + i}`, httpAddr: `127.0.0.1:${15000 + i}` })),
  });
}

/** Wait until `pred` holds (polling every 5 ms, at most `timeoutMs`). */
export async function until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
