/**
 * Peer-to-peer transport: TCP, length-prefixed msgpack frames, handshake, bounded queues,
 * reconnects, streamed snapshots.
 *
 * Why an index: the runtime imports only from here.
 */
export { createTransport } from './transport.ts';
export type { Transport, NetworkTransport, TransportOptions, PeerStats, ForwardResult, PeerSecurity, SecurityStats } from './types.ts';
export { decoderBufferedBytes } from './frame.ts';
export { PROTOCOL_VERSION, encodeMessage, decodeMessage } from './codec.ts';
export { parseHostPort, type HostPort } from './addr.ts';
