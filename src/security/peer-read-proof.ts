/**
 * Read access for a node that holds the cluster secret but no user: `Authorization: GraftdPeer <proof>`.
 *
 * Why: a node started with `-join` must read `GET /status` of the member it joins through (the
 * cluster id and the members' addresses) before it can ask to be added; in a cluster with users,
 * that needs the `read` role. Requiring an operator's credentials on every joining node would
 * spread passwords around; the cluster secret already identifies a member. The proof is an HMAC
 * over a purpose label, a timestamp (±120 s) and a nonce, grants `read` only, and reveals nothing
 * about the secret. Format: `v1.<unix ms>.<nonce base64url>.<hmac base64url>`.
 */
import { randomBytes } from 'node:crypto';
import { mac, safeEqual } from './secret.ts';

const PURPOSE = 'graftd-http-peer-read-v1';
/** A proof is accepted this long before or after its timestamp. */
export const PEER_READ_PROOF_WINDOW_MS = 120_000;
const NONCE_BYTES = 16;
const MAX_PROOF_CHARS = 256;

/** The value after `GraftdPeer ` in the Authorization header. */
export function makePeerReadProof(secret: Uint8Array, nowMs: number = Date.now(), nonce: Uint8Array = randomBytes(NONCE_BYTES)): string {
  const ts = Math.floor(nowMs);
  return `v1.${ts}.${Buffer.from(nonce).toString('base64url')}.${mac(secret, PURPOSE, String(ts), nonce).toString('base64url')}`;
}

/** True when `proof` was made with `secret` within the window. Never throws. */
export function verifyPeerReadProof(secret: Uint8Array, proof: string, nowMs: number = Date.now()): boolean {
  if (proof.length > MAX_PROOF_CHARS) return false;
  const parts = proof.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1') return false;
  const [, tsText = '', nonceText = '', macText = ''] = parts;
  if (!/^\d{1,16}$/.test(tsText)) return false;
  const ts = Number(tsText);
  if (Math.abs(nowMs - ts) > PEER_READ_PROOF_WINDOW_MS) return false;
  const nonce = Buffer.from(nonceText, 'base64url');
  if (nonce.length !== NONCE_BYTES) return false;
  return safeEqual(Buffer.from(macText, 'base64url'), mac(secret, PURPOSE, String(ts), nonce));
}
