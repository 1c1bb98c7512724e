/**
 * Read access for a node that holds the cluster secret but no user: `Authorization: GraftdPeer <proof>`.
 *
 * Why: a node started with `-join` must read `GET /status` of the member it joins through (the
 * cluster id and the members' addresses) before it can ask to be added; in a cluster with users,
 * that needs the `read` role. Requiring an operator's credentials on every joining node would
 * spread passwords around; the cluster secret already identifies a member. The proof is an HMAC
 * over a purpose label, a timestamp (±120 s) and a nonce, grants `read` only, and reveals nothing
 * about the secret. Format: src/security/stamped-proof.ts.
 */
import { checkStampedProof, makeStampedProof } from './stamped-proof.ts';

const PURPOSE = 'graftd-http-peer-read-v1';
/** A proof is accepted this long before or after its timestamp. */
export const PEER_READ_PROOF_WINDOW_MS = 120_000;

/** The value after `GraftdPeer ` in the Authorization header. */
export function makePeerReadProof(secret: Uint8Array, nowMs: number = Date.now()): string {
  return makeStampedProof(secret, PURPOSE, [], nowMs);
}

/** True when `proof` was made with `secret` within the window. Never throws. */
export function verifyPeerReadProof(secret: Uint8Array, proof: string, nowMs: number = Date.now()): boolean {
  return checkStampedProof(secret, PURPOSE, [], proof, nowMs, PEER_READ_PROOF_WINDOW_MS).ok;
}
