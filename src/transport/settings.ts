/**
 * Resolved transport settings (options with their defaults applied).
 *
 * Why one place: the connection, server and snapshot files share these numbers, and
 * every bound and timeout must be visible and configurable.
 */
import { assert } from '../errors.ts';
import type { TransportOptions } from './types.ts';

export interface Settings {
  readonly clusterId: string;
  readonly nodeId: string;
  readonly bindHost: string;
  /** This node's raft address as peers should dial it, sent in every hello ('' = none). */
  readonly advertiseAddr: string;
  readonly maxQueueMessages: number;
  readonly maxQueueBytes: number;
  readonly dialTimeoutMs: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly snapshotChunkBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly peerTimeoutMs: number;
  readonly snapshotTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly socketBufferBytes: number;
  readonly snapshotBufferBytes: number;
  readonly maxInboundConnections: number;
  readonly maxIncomingSnapshots: number;
  readonly maxForwardsInflight: number;
  readonly forwardTimeoutMs: number;
  readonly maxHandshakeFrameBytes: number;
  readonly maxPendingHandshakes: number;
  readonly maxPendingHandshakesPerAddress: number;
  readonly maxBufferedBytesPerConnection: number;
  readonly frameTimeoutMs: number;
}

export function resolveSettings(o: TransportOptions): Settings {
  const maxFrameBytes = o.maxFrameBytes ?? 64 * 1024 * 1024;
  const s: Settings = {
    clusterId: o.clusterId,
    nodeId: o.nodeId,
    bindHost: o.bindHost,
    advertiseAddr: o.advertiseAddr ?? '',
    maxQueueMessages: o.maxQueueMessages ?? 4096,
    maxQueueBytes: o.maxQueueBytes ?? 16 * 1024 * 1024,
    dialTimeoutMs: o.dialTimeoutMs ?? 2000,
    backoffMinMs: o.backoffMinMs ?? 50,
    backoffMaxMs: o.backoffMaxMs ?? 1000,
    snapshotChunkBytes: o.snapshotChunkBytes ?? 64 * 1024,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? 2000,
    pingIntervalMs: o.pingIntervalMs ?? 1000,
    peerTimeoutMs: o.peerTimeoutMs ?? 4000,
    snapshotTimeoutMs: o.snapshotTimeoutMs ?? 60_000,
    maxFrameBytes,
    socketBufferBytes: o.socketBufferBytes ?? 1024 * 1024,
    snapshotBufferBytes: o.snapshotBufferBytes ?? 1024 * 1024,
    maxInboundConnections: o.maxInboundConnections ?? 256,
    maxIncomingSnapshots: o.maxIncomingSnapshots ?? 2,
    maxForwardsInflight: o.maxForwardsInflight ?? 4096,
    forwardTimeoutMs: o.forwardTimeoutMs ?? 12_000,
    maxHandshakeFrameBytes: o.maxHandshakeFrameBytes ?? 4096,
    maxPendingHandshakes: o.maxPendingHandshakes ?? 32,
    maxPendingHandshakesPerAddress: o.maxPendingHandshakesPerAddress ?? 8,
    maxBufferedBytesPerConnection: o.maxBufferedBytesPerConnection ?? maxFrameBytes + 4,
    frameTimeoutMs: o.frameTimeoutMs ?? 30_000,
  };
  assert(s.nodeId !== '', 'transport nodeId must not be empty');
  assert(s.clusterId !== '', 'transport clusterId must not be empty');
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'number') assert(Number.isFinite(v) && v > 0, `transport option ${k} must be a positive number, found ${v}`);
  }
  assert(s.snapshotChunkBytes + 1 <= s.maxFrameBytes, 'snapshotChunkBytes must fit in maxFrameBytes');
  assert(
    s.maxHandshakeFrameBytes >= 256 && s.maxHandshakeFrameBytes <= s.maxFrameBytes,
    `maxHandshakeFrameBytes must be 256..maxFrameBytes, found ${s.maxHandshakeFrameBytes}`,
  );
  assert(s.maxPendingHandshakesPerAddress <= s.maxPendingHandshakes, 'maxPendingHandshakesPerAddress must not exceed maxPendingHandshakes');
  assert(
    s.maxBufferedBytesPerConnection >= s.maxHandshakeFrameBytes + 4,
    `maxBufferedBytesPerConnection must hold at least one handshake frame (${s.maxHandshakeFrameBytes + 4} bytes), found ${s.maxBufferedBytesPerConnection}`,
  );
  return s;
}
