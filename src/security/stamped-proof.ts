/**
 * Time-stamped proofs of the cluster secret: `v1.<unix ms>.<nonce base64url>.<hmac base64url>`,
 * the HMAC over a purpose label, the fields the proof binds, the timestamp and the nonce.
 *
 * Why one format: the join proof (src/security/join-proof.ts) and the read-only peer proof
 * (src/security/peer-read-proof.ts) are the same construction with different purposes and fields;
 * parsing, the time window and the constant-time compare are written once.
 */
import { randomBytes } from 'node:crypto';
import { mac, safeEqual } from './secret.ts';

const NONCE_BYTES = 16;
const MAX_PROOF_CHARS = 256;

function proofMac(secret: Uint8Array, purpose: string, fields: readonly string[], ts: number, nonce: Uint8Array): Buffer {
  return mac(secret, purpose, ...fields, String(ts), nonce);
}

/** A proof for `purpose` binding `fields`, stamped `nowMs` with a fresh random nonce. */
export function makeStampedProof(
  secret: Uint8Array,
  purpose: string,
  fields: readonly string[],
  nowMs: number = Date.now(),
  nonce: Uint8Array = randomBytes(NONCE_BYTES),
): string {
  const ts = Math.floor(nowMs);
  return `v1.${ts}.${Buffer.from(nonce).toString('base64url')}.${proofMac(secret, purpose, fields, ts, nonce).toString('base64url')}`;
}

/** A checked proof: its timestamp and nonce (for a replay cache), or why it was refused (safe to show; reveals nothing of the secret). */
export type StampedProofCheck =
  | { readonly ok: true; readonly ts: number; readonly nonce: string }
  | { readonly ok: false; readonly reason: string };

/** Check `proof` for `purpose` and `fields` at `nowMs`, accepting timestamps within ±`windowMs`. Never throws. */
export function checkStampedProof(
  secret: Uint8Array,
  purpose: string,
  fields: readonly string[],
  proof: string,
  nowMs: number,
  windowMs: number,
): StampedProofCheck {
  const refuse = (reason: string): StampedProofCheck => ({ ok: false, reason });
  if (proof.length > MAX_PROOF_CHARS) return refuse(`is longer than ${MAX_PROOF_CHARS} characters`);
  const parts = proof.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1') return refuse('is not in the format v1.<ms>.<nonce>.<mac>');
  const [, tsText = '', nonceText = '', macText = ''] = parts;
  if (!/^\d{1,16}$/.test(tsText)) return refuse('has no valid timestamp');
  const ts = Number(tsText);
  if (Math.abs(nowMs - ts) > windowMs)
    return refuse(`is from ${new Date(ts).toISOString()}, outside the ±${windowMs / 1000} s window (check the clocks)`);
  const nonce = Buffer.from(nonceText, 'base64url');
  if (nonce.length !== NONCE_BYTES || nonce.toString('base64url') !== nonceText) return refuse('has no valid nonce');
  if (!safeEqual(Buffer.from(macText, 'base64url'), proofMac(secret, purpose, fields, ts, nonce))) return refuse('does not match');
  return { ok: true, ts, nonce: nonceText };
}
