/**
 * What a RaftRuntime is built from: its identity and addresses, configuration, storage, the state
 * machine, factories for the core and the transport, and the start-up circumstances (joining,
 * seed peers, founding quiet period, storage retry).
 *
 * Why separate: open.ts (a real data directory), createRaftNode and the tests' in-memory factory
 * all build these; they need the shape, not the runtime's code.
 */
import type { Log } from '../log.ts';
import type { CreateRaft } from '../raft/api.ts';
import type { Message, NodeId } from '../raft/types.ts';
import type { BusyRetryOptions } from '../storage/busy-retry.ts';
import type { ForwardResult, Transport } from '../transport/types.ts';
import type { MemberView } from './api.ts';
import type { RuntimeConfig } from './config.ts';
import type { NodeSnapshotStore, NodeStorage } from './deps.ts';
import type { StateMachine } from './state-machine.ts';

/** Handlers the runtime gives the transport it creates. */
export interface TransportHandlers {
  readonly onMessage: (m: Message) => void;
  readonly onSnapshot: (m: Message, data: AsyncIterable<Uint8Array>) => Promise<void>;
  readonly onUnreachable: (id: NodeId) => void;
  /** A proposal or read-index request forwarded by a follower (src/node/forwarder.ts). */
  readonly onForward: (from: NodeId, data: Uint8Array) => Promise<ForwardResult>;
  /** Admit a peer connection from an id that is not a known member (TransportOptions.admitUnknownPeers). */
  readonly admitUnknownPeers: () => boolean;
  /** Another cluster's node addressed this node as a member (TransportOptions.onForeignCluster). */
  readonly onForeignCluster: (claim: { readonly clusterId: string; readonly from: NodeId }) => void;
}

/** Everything a runtime is built from (src/node/open.ts builds these from a data directory). */
export interface RuntimeParts<SM extends StateMachine<unknown> = StateMachine<unknown>> {
  readonly id: NodeId;
  readonly clusterId: string;
  /** For the REMOVED marker; '' (tests) writes none. */
  readonly dataDir: string;
  /** Advertised addresses of this node. */
  readonly raftAddr: string;
  readonly httpAddr: string;
  readonly config: RuntimeConfig;
  readonly log: Log;
  readonly storage: NodeStorage;
  readonly snapshots: NodeSnapshotStore;
  /** The state machine, restored from the snapshot at `applied`. */
  readonly stateMachine: SM;
  /** Index the state machine already reflects (its snapshot's index, 0 when none). */
  readonly applied: number;
  readonly createRaft: CreateRaft;
  readonly createTransport: (handlers: TransportHandlers) => Transport;
  readonly random: () => number;
  /** Members to talk to before this node has applied any configuration (a joining node). */
  readonly seedPeers?: readonly MemberView[];
  /** The node joined with an empty data directory and has not caught up yet (JOINING marker): it must not campaign (join-guard.ts). */
  readonly joining?: boolean;
  /** The transport authenticates peers (cluster secret or TLS): joins not made by an admin are probed first (JoinRequest.verifyPeer). */
  readonly peerSecured?: boolean;
  /**
   * Backoff of the save path when the storage is transiently unavailable (StorageBusyError: e.g. out
   * of file descriptors): retried after minMs (default 10), doubling up to maxMs (default 1000), until
   * it succeeds or the node closes. Meanwhile new writes get 503 GRAFTD_UNAVAILABLE (507
   * GRAFTD_DISK_FULL for a full disk). The same steps pace the checks whether space is back while the
   * storage reports a full disk (disk-fault.ts).
   */
  readonly storageRetry?: BusyRetryOptions;
  /**
   * This process just founded a one-node cluster (no -join, empty data directory): do not campaign
   * for this long, so that another cluster which already lists this node can reach it first
   * (foreign-cluster.ts; FOUNDING_QUIET). 0 or absent: campaign as usual.
   */
  readonly foundingQuietMs?: number;
}
