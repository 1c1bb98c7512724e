/**
 * The keys and values the scale run loads, the same for graftd and etcd.
 *
 * Why distinct values: a value per key that differs from every other, so neither store (nor V8's
 * string handling) can share them and the bytes per key are honest.
 */

export const scaleKey = (i: number): string => `key-${String(i).padStart(7, '0')}`;

/** A value of `bytes` bytes that differs per key (so no two are the same string). */
export function scaleValue(i: number, bytes: number): string {
  const head = `${i}:`;
  return head.length >= bytes ? head.slice(0, bytes) : head + 'x'.repeat(bytes - head.length);
}

/** Pairs per batch so that one body stays under `limitBytes` (JSON: quotes, colon, comma). */
export function batchSize(wanted: number, keyBytes: number, valueBytes: number, limitBytes = 1_000_000): number {
  return Math.max(1, Math.min(wanted, Math.floor(limitBytes / (keyBytes + valueBytes + 6))));
}
