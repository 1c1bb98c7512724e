/**
 * Join proofs: a joining node shows that it knows the cluster secret without sending it.
 *
 * Why: with a cluster secret configured, `POST /join` from a caller that is not an admin must
 * come from a node that holds the secret, or anybody who can reach the HTTP port could add a
 * member (and, repeating it, hand itself the majority). The proof is an HMAC over every field
 * of the join (so it cannot be reused for another id or address), a timestamp (so it expires)
 * and a random nonce (so it cannot be replayed within its window; the replay cache is bounded
 * and fails closed when full — only valid proofs ever enter it).
 *
 * Format: `v1.<unix ms>.<nonce base64url>.<hmac base64url>` (src/security/stamped-proof.ts).
 */
import { checkStampedProof, makeStampedProof } from './stamped-proof.ts';

/** The join fields a proof binds. */
export interface JoinProofFields {
  readonly id: string;
  readonly raftAddr: string;
  readonly httpAddr: string;
  readonly voter: boolean;
  readonly fresh?: boolean;
}

/** A proof is accepted this long before or after its timestamp. */
export const JOIN_PROOF_WINDOW_MS = 120_000;
const PURPOSE = 'graftd-join-v1';

function boundFields(join: JoinProofFields): string[] {
  return [join.id, join.raftAddr, join.httpAddr, join.voter ? '1' : '0', join.fresh === true ? '1' : '0'];
}

/** Make the `proof` field of a join request (`nonce` is given only by tests). */
export function makeJoinProof(secret: Uint8Array, join: JoinProofFields, nowMs: number = Date.now(), nonce?: Uint8Array): string {
  return makeStampedProof(secret, PURPOSE, boundFields(join), nowMs, nonce);
}

/**
 * Nonces of accepted proofs, kept until their proof expires. Bounded: when full of unexpired
 * entries it refuses new proofs (fails closed) instead of forgetting one that could be replayed.
 */
export class JoinReplayCache {
  readonly #maxEntries: number;
  /** nonce → expiry (ms); insertion order = expiry order for equal windows, close enough to sweep from the front. */
  readonly #seen = new Map<string, number>();

  constructor(maxEntries = 4096) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#seen.size;
  }

  /** Record `nonce` valid until `expiresMs`; false when it was already seen or the cache is full. */
  add(nonce: string, expiresMs: number, nowMs: number): boolean {
    this.#sweep(nowMs);
    const known = this.#seen.get(nonce);
    if (known !== undefined && known > nowMs) return false;
    if (this.#seen.size >= this.#maxEntries) return false;
    this.#seen.set(nonce, expiresMs);
    return true;
  }

  #sweep(nowMs: number): void {
    for (const [nonce, expires] of this.#seen) {
      if (expires > nowMs) continue;
      this.#seen.delete(nonce);
    }
  }
}

/**
 * Check `proof` for `join`. Returns true, or the reason it was refused (safe to show the caller:
 * it reveals nothing about the secret).
 */
export function verifyJoinProof(
  secret: Uint8Array,
  join: JoinProofFields,
  proof: string,
  nowMs: number,
  replay: JoinReplayCache,
): true | string {
  const checked = checkStampedProof(secret, PURPOSE, boundFields(join), proof, nowMs, JOIN_PROOF_WINDOW_MS);
  if (!checked.ok)
    return `the join proof ${checked.reason}${checked.reason === 'does not match' ? ' (wrong cluster secret, or the join fields were changed)' : ''}`;
  if (!replay.add(checked.nonce, checked.ts + JOIN_PROOF_WINDOW_MS + 1, nowMs))
    return 'the join proof was already used (replay), or too many joins are pending';
  return true;
}
