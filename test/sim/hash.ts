/**
 * Cheap non-cryptographic hashes for the invariant checker.
 *
 * Why: comparing whole logs between nodes after every step would be quadratic. Instead each
 * log position carries a hash of the entire prefix up to it (a hash chain), so "the logs agree
 * up to index i" is one number comparison. Collisions can only hide a violation, never invent one.
 */
import type { Entry } from '../../src/raft/types.ts';

/** Mix two 32-bit values into one (murmur3-style finalizer). */
export function mix32(h: number, v: number): number {
  let x = Math.imul((h ^ v) >>> 0, 0xcc9e2d51);
  x = (x << 15) | (x >>> 17);
  x = Math.imul(x, 0x1b873593);
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  return x >>> 0;
}

/** A 32-bit hash of a byte string. */
export function hashBytes(data: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ (data[i] ?? 0), 0x01000193) >>> 0;
  return mix32(h, data.length);
}

/** Identity of one entry: its index, term, type and payload. */
export function entryHash(entry: Entry): number {
  return mix32(mix32(mix32(hashBytes(entry.data), entry.term), entry.index), entry.type === 'conf' ? 1 : 2);
}

/** Extend a prefix hash by one entry. */
export function chainHash(prev: number, entry: Entry): number {
  return mix32(prev, entryHash(entry));
}
