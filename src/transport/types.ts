/**
 * The transport's public shapes: options, the Transport interface, per-peer stats.
 *
 * Why separate: the runtime programs against this interface; the implementation files
 * (connections, snapshot streams, server) stay private to src/transport.
 */
import type { Log } from '../log.ts';
import type { Message, NodeId } from '../raft/types.ts';

export interface TransportOptions {
  /** Both ends must agree; a peer with another cluster id is refused during the handshake. */
  readonly clusterId: string;
  readonly nodeId: NodeId;
  /** host:port the server binds (e.g. "127.0.0.21:17000", "0.0.0.0:12000", "[::1]:12000"). */
  readonly listenAddr: string;
  /** Local address for OUTGOING sockets (the node's own raft host, so per-address firewall rules match); '' lets the OS choose. */
  readonly bindHost: string;
  /**
   * This node's raft address as peers dial it (the advertised address), sent in every hello so that
   * a node that does not know this one yet (it missed the membership change that added it) can
   * answer. Default '' (not sent).
   */
  readonly advertiseAddr?: string;
  /** Called for every message received from a peer, in arrival order per peer. Exceptions are logged, never propagated. */
  readonly onMessage: (m: Message) => void;
  /** Called for an incoming snapshot: `m` is the 'snap' message, `data` its bytes. Resolve once installed (the sender then learns ok), reject to refuse. */
  readonly onSnapshot: (m: Message, data: AsyncIterable<Uint8Array>) => Promise<void>;
  /** Called when sending to a peer failed (connection lost, dial failed, messages dropped); the runtime forwards it to core.reportUnreachable. */
  readonly onUnreachable?: (id: NodeId) => void;
  /**
   * Leader side: called for a write forwarded by peer `from` (`data` is an encoded command).
   * Resolve once it is applied, or with a definite error; the answer goes back on the connection
   * the request came on. Absent: forwarded writes are answered GRAFTD_NO_LEADER.
   */
  readonly onForward?: (from: NodeId, data: Uint8Array) => Promise<ForwardResult>;
  readonly log: Log;
  /** Per peer: forwarded writes awaiting an answer at once (beyond: ProposalDropped, not sent). Default 4096. */
  readonly maxForwardsInflight?: number;
  /** A forwarded write with no answer after this long fails with TimeoutError (outcome unknown). Default 12000. */
  readonly forwardTimeoutMs?: number;
  /** Per peer bound on queued messages; beyond it messages are dropped and counted. Default 4096. */
  readonly maxQueueMessages?: number;
  /** Per-peer bound on queued encoded bytes. Default 16 MiB. */
  readonly maxQueueBytes?: number;
  /** Give up on a TCP connect after this long. Default 2000. */
  readonly dialTimeoutMs?: number;
  /** Reconnect backoff: first delay (jittered) and cap. Defaults 50 and 1000. */
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  /** Max size of a snapshot data frame; larger chunks from `open()` are split. Default 64 KiB. */
  readonly snapshotChunkBytes?: number;
  /** Both sides: the handshake must complete within this. Default 2000. */
  readonly handshakeTimeoutMs?: number;
  /** Outbound connections ping this often so that a silent peer (SIGSTOP, dropped packets) is noticed. Default 1000. */
  readonly pingIntervalMs?: number;
  /** A connection that received nothing for this long is closed and redialled. Default 4000. */
  readonly peerTimeoutMs?: number;
  /** A snapshot transfer that makes no progress for this long fails (both sides). Default 60000. */
  readonly snapshotTimeoutMs?: number;
  /** Frames larger than this are refused (connection closed). Default 64 MiB. */
  readonly maxFrameBytes?: number;
  /** Stop writing to a socket while its kernel-side buffer holds more than this. Default 1 MiB. */
  readonly socketBufferBytes?: number;
  /** Receiver: pause reading a snapshot while this many bytes wait for the consumer. Default 1 MiB. */
  readonly snapshotBufferBytes?: number;
  /** Bounds on inbound connections and on concurrent incoming snapshots. Defaults 256 and 2. */
  readonly maxInboundConnections?: number;
  readonly maxIncomingSnapshots?: number;
  /** Cluster secret and/or TLS material for the raft port; absent: plaintext, unauthenticated (loopback development). */
  readonly security?: PeerSecurity | undefined;
  /**
   * Which node ids may open message and snapshot connections to this node. Default: the ids
   * given to setPeer and not removed. Probe connections are accepted from any id that authenticates.
   */
  readonly isPeerAllowed?: ((id: NodeId) => boolean) | undefined;
  /**
   * Asked when a hello comes from an id that isPeerAllowed refuses: true admits it anyway. The
   * runtime answers true while it follows no live leader — it may have missed the membership
   * change that added the member now leading, and only that member's appends would tell it.
   * The core still drops each message a stranger may not send. Default: never.
   */
  readonly admitUnknownPeers?: (() => boolean) | undefined;
  /**
   * A node of another cluster that lists this node (by id) as a member tried to connect: with a
   * cluster secret it proved the secret. The connection is refused either way; the runtime decides
   * whether this node was started by mistake without -join (src/node/foreign-cluster.ts).
   */
  readonly onForeignCluster?: ((claim: { readonly clusterId: string; readonly from: NodeId }) => void) | undefined;
  /** Largest frame accepted before the handshake completed (both sides). Default 4096. */
  readonly maxHandshakeFrameBytes?: number;
  /** Inbound connections that have not completed the handshake yet, in total and per remote address. Defaults 32 and 8. */
  readonly maxPendingHandshakes?: number;
  readonly maxPendingHandshakesPerAddress?: number;
  /** Bytes one connection may hold for a partial frame. Default maxFrameBytes + 4 (one largest frame). */
  readonly maxBufferedBytesPerConnection?: number;
  /** An authenticated peer's frame must be complete this long after its first byte arrived, or the connection is closed. Default 30000. */
  readonly frameTimeoutMs?: number;
}

/**
 * Peer authentication for the raft port. `secret`: every connection proves knowledge of it
 * both ways (HMAC challenge–response, the secret never crosses the wire). `tls`: the port
 * speaks TLS with mutual certificate verification against `ca` (PEM contents, not paths;
 * the CA must be dedicated to this cluster: peer names are not checked, see
 * src/security/peer-tls.ts). Both together are the recommended production setup.
 */
export interface PeerSecurity {
  readonly secret?: Uint8Array | undefined;
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer; readonly ca: string | Buffer } | undefined;
}

/** Counters for metrics: what strangers and misbehaving peers tried. */
export interface SecurityStats {
  /** Handshakes (TLS or ours) that failed: wrong secret, wrong certificate, wrong cluster/node id, malformed or too slow. */
  readonly handshakeFailures: number;
  /** Authenticated connections closed for breaking the protocol (malformed or misaddressed frames, stalled frames). */
  readonly protocolViolations: number;
  /** Connections refused by a limit or by the membership filter. */
  readonly refusedConnections: number;
  /** Handshakes (either side) that failed because the peer speaks another protocol version; also in handshakeFailures. */
  readonly versionMismatches: number;
}

/** The TCP/TLS transport made by createTransport: every optional Transport method is present. */
export type NetworkTransport = Transport & Required<Pick<Transport, 'forward' | 'updateSecurity' | 'probe' | 'securityStats'>>;

/** What `peers()` reports per peer. */
export interface PeerStats {
  readonly addr: string;
  /** The outbound connection is up and handshaken. */
  readonly connected: boolean;
  /** Messages waiting to be written. */
  readonly queued: number;
  /** Bytes waiting to be sent: the queued frames plus what the socket has buffered. Optional: in-memory transports may omit it. */
  readonly queuedBytes?: number;
  /** Messages dropped because the queue was full (since setPeer). */
  readonly dropped: number;
}

/** The leader's answer to a forwarded write: applied, or a coded error (httpStatus and, for GRAFTD_NOT_LEADER, the leader it knows). */
export type ForwardResult =
  /**
   * Done; `index` is the leader's read index when the request was a read-index request; `result`
   * the state machine's encoded apply result of a forwarded command, when it has one (never for graftd's kv).
   */
  | { readonly ok: true; readonly index?: number; readonly result?: Uint8Array }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly httpStatus: number; readonly leader: string };

/** Peer-to-peer message and snapshot transport. */
export interface Transport {
  /** Listen on `listenAddr`. Rejects with GRAFTD_BAD_CONFIG when the address is invalid, in use or not local. */
  start(): Promise<void>;
  /** The address actually bound (useful with port 0); '' before start. */
  listenAddress(): string;
  /** Add a peer or change its address (the connection is redialled). */
  setPeer(id: NodeId, raftAddr: string): void;
  /** Forget a peer: its connection closes and its queue is discarded. */
  removePeer(id: NodeId): void;
  /** Queue messages to their `to` peers. Never throws, never blocks; drops (and counts) when a peer's queue is full or the peer is unknown. */
  send(messages: readonly Message[]): void;
  /** Stream a snapshot to `m.to` over a dedicated connection; `done(ok)` is called exactly once: true after the receiver acknowledged installing it. */
  sendSnapshot(m: Message, open: () => AsyncIterable<Uint8Array>, done: (ok: boolean) => void): void;
  /**
   * Send a write to peer `to` (the leader) on the message connection and wait for its answer.
   * Rejects with GRAFTD_NO_LEADER (503) when the frame was never handed to a connected socket
   * (no effect), ProposalDroppedError when too many forwards are in flight to `to` (not sent),
   * TimeoutError (504, outcome unknown) when it was sent but no answer came in time or the
   * connection was lost. Optional so that in-memory test transports need not implement it.
   */
  forward?(to: NodeId, data: Uint8Array): Promise<ForwardResult>;
  peers(): Record<NodeId, PeerStats>;
  /** Messages dropped because their destination was not a known peer. */
  unknownPeerDrops(): number;
  /**
   * Replace the secret and/or certificates for new connections (SIGHUP reload); established
   * connections stay. Throws GRAFTD_BAD_CONFIG when switching between TLS and plaintext or
   * when the TLS material is unusable (the old settings then stay in force).
   */
  updateSecurity?(sec: PeerSecurity): void;
  /**
   * Dial `raftAddr` and complete the authenticated handshake with node `id` (purpose 'probe'),
   * then close. Rejects with GRAFTD_PEER_UNREACHABLE (503) when it cannot be reached in
   * `timeoutMs` (default dialTimeoutMs + handshakeTimeoutMs), GRAFTD_FORBIDDEN (403) when it
   * fails authentication or is not node `id`.
   *
   * updateSecurity, probe and securityStats are optional (like forward) only so that in-memory
   * test transports need not implement them; createTransport always provides them.
   */
  probe?(id: NodeId, raftAddr: string, timeoutMs?: number): Promise<void>;
  securityStats?(): SecurityStats;
  /** Close the server and every connection; pending snapshot sends finish with done(false). */
  close(): Promise<void>;
}
