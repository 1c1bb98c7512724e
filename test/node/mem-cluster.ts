/**
 * Several runtimes in one process connected by an in-memory network (messages delivered on the
 * next event-loop turn, snapshots streamed through the same handlers the TCP transport calls).
 *
 * Why: membership, transfer, snapshot sending and the leader's send-before-fsync ordering can be
 * tested in milliseconds without sockets or processes. Runtimes are built by fakes.ts testNode.
 */
import type { RuntimeConfig } from '../../src/node/config.ts';
import type { TransportHandlers } from '../../src/node/runtime.ts';
import type { Message } from '../../src/raft/types.ts';
import type { PeerStats, Transport } from '../../src/transport/types.ts';
import { SpyStorage, testNode } from './fakes.ts';

/** What happened, in order, across the whole cluster (for ordering assertions). */
export type NetEvent = { kind: 'send'; from: string; m: Message } | { kind: 'save'; node: string; lastIndex: number };

export class MemNet {
  readonly handlers = new Map<string, TransportHandlers>();
  readonly events: NetEvent[] = [];

  transport(id: string, handlers: TransportHandlers): Transport {
    this.handlers.set(id, handlers);
    const peers = new Map<string, string>();
    return {
      start: async () => {},
      listenAddress: () => '',
      setPeer: (p, addr) => {
        peers.set(p, addr);
      },
      removePeer: (p) => {
        peers.delete(p);
      },
      send: (messages) => {
        for (const m of messages) {
          this.events.push({ kind: 'send', from: id, m });
          setImmediate(() => this.handlers.get(m.to)?.onMessage(m));
        }
      },
      sendSnapshot: (m, open, done) => {
        const target = this.handlers.get(m.to);
        if (target === undefined) {
          setImmediate(() => done(false));
          return;
        }
        target.onSnapshot(m, open()).then(
          () => done(true),
          () => done(false),
        );
      },
      peers: (): Record<string, PeerStats> =>
        Object.fromEntries([...peers].map(([p, addr]) => [p, { addr, connected: true, queued: 0, dropped: 0 }])),
      unknownPeerDrops: () => 0,
      close: async () => {
        this.handlers.delete(id);
      },
    };
  }
}

/** A storage that records its saves into the network's event log. */
class TracedStorage extends SpyStorage {
  constructor(
    readonly net: MemNet,
    readonly id: string,
  ) {
    super();
  }
  override save(...args: Parameters<SpyStorage['save']>): void {
    super.save(...args);
    const last = args[1][args[1].length - 1];
    if (last !== undefined) this.net.events.push({ kind: 'save', node: this.id, lastIndex: last.index });
  }
}

export const addrOf = (id: string) => ({ raftAddr: `mem:${id}`, httpAddr: `http:${id}` });

/** Start runtime `id`; `founder` bootstraps a one-node cluster, others start empty (to be joined). */
export async function startMemNode(net: MemNet, id: string, founder: boolean, config: Partial<RuntimeConfig> = {}) {
  const { node, storage, snapshots } = await testNode({
    id,
    clusterId: 'mem',
    ...addrOf(id),
    members: founder ? [{ id, ...addrOf(id) }] : [],
    storage: new TracedStorage(net, id),
    config,
    createTransport: (h) => net.transport(id, h),
    seed: id.charCodeAt(0),
  });
  return { node, storage, snapshots };
}
