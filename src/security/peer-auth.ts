/**
 * The proofs of the peer handshake's mutual challenge–response on the cluster secret.
 *
 * Why two labels: the dialler's and the acceptor's proofs cover the same transcript; with the
 * same label an attacker could reflect one side's proof back as the other's. Why bind both
 * nonces, ids, purpose, version and cluster id: a proof is then good for exactly one
 * connection attempt between two named nodes, for one purpose, and cannot be replayed.
 * The secret itself never crosses the wire.
 */
import { randomBytes } from 'node:crypto';
import { mac, safeEqual } from './secret.ts';

/** Bytes of each side's fresh nonce. */
export const PEER_NONCE_BYTES = 32;

const DIALLER_LABEL = 'graftd peer handshake: dialler proof';
const ACCEPTOR_LABEL = 'graftd peer handshake: acceptor proof';

/** Everything a handshake proof covers. */
export interface PeerTranscript {
  readonly version: number;
  readonly clusterId: string;
  /** The acceptor's challenge nonce. */
  readonly acceptorNonce: Uint8Array;
  /** The dialler's nonce (sent in its hello). */
  readonly diallerNonce: Uint8Array;
  readonly from: string;
  readonly to: string;
  readonly purpose: string;
  /** The dialler's advertised raft address ('' when it gave none). */
  readonly addr: string;
}

export function peerNonce(): Buffer {
  return randomBytes(PEER_NONCE_BYTES);
}

function transcriptMac(secret: Uint8Array, label: string, t: PeerTranscript): Buffer {
  return mac(secret, label, String(t.version), t.clusterId, t.acceptorNonce, t.diallerNonce, t.from, t.to, t.purpose, t.addr);
}

/** The dialler's proof, sent first. */
export function diallerProof(secret: Uint8Array, t: PeerTranscript): Buffer {
  return transcriptMac(secret, DIALLER_LABEL, t);
}

/** The acceptor's proof, sent only after the dialler's proof checked out. */
export function acceptorProof(secret: Uint8Array, t: PeerTranscript): Buffer {
  return transcriptMac(secret, ACCEPTOR_LABEL, t);
}

/** Constant-time check of a received dialler proof. */
export function checkDiallerProof(secret: Uint8Array, t: PeerTranscript, proof: Uint8Array): boolean {
  return safeEqual(diallerProof(secret, t), proof);
}

/** Constant-time check of a received acceptor proof. */
export function checkAcceptorProof(secret: Uint8Array, t: PeerTranscript, proof: Uint8Array): boolean {
  return safeEqual(acceptorProof(secret, t), proof);
}
