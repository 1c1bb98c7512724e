/**
 * Peer-to-peer transport: TCP, length-prefixed msgpack frames, handshake, bounded queues,
 * reconnects, streamed snapshots.
 *
 * Why an index: the runtime imports only from here.
 */
export { createTransport } from './transport.ts';
export type { Transport, TransportOptions, PeerStats, ForwardResult } from './types.ts';
export { PROTOCOL_VERSION, encodeMessage, decodeMessage } from './codec.ts';
export { parseHostPort, type HostPort } from './addr.ts';
