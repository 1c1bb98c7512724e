/**
 * CRC-32 (IEEE, the zlib polynomial) over byte ranges.
 *
 * Why two implementations: every WAL record carries a checksum, and most records are small
 * (~100 bytes), where calling into native zlib (argument checks, a Buffer view per call) costs
 * more than a slice-by-8 table loop in JS; large ranges go to `node:zlib`'s native crc32
 * (Node ≥ 20.15; older Node 20 releases use the JS loop throughout, with identical output).
 */
import zlib from 'node:zlib';

/** Slice-by-8 tables: TABLE[k * 256 + b]. */
const TABLE = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n] as number;
    for (let k = 1; k < 8; k++) {
      c = (t[c & 0xff] as number) ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/** CRC-32 of data[start, end) in JS, continuing from `initial`. */
function crc32Js(data: Uint8Array, start: number, end: number, initial: number): number {
  const t = TABLE;
  let c = ~initial;
  let i = start;
  for (const end8 = end - 7; i < end8; i += 8) {
    const a =
      c ^ ((data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24));
    c =
      (t[1792 + (a & 0xff)] as number) ^
      (t[1536 + ((a >>> 8) & 0xff)] as number) ^
      (t[1280 + ((a >>> 16) & 0xff)] as number) ^
      (t[1024 + (a >>> 24)] as number) ^
      (t[768 + (data[i + 4] as number)] as number) ^
      (t[512 + (data[i + 5] as number)] as number) ^
      (t[256 + (data[i + 6] as number)] as number) ^
      (t[data[i + 7] as number] as number);
  }
  for (; i < end; i++) c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
/** Below this many bytes the JS loop beats the native call. */
const NATIVE_MIN_BYTES = 1024;

/** CRC-32 of data[start, end), continuing from `initial` (the CRC of the preceding bytes; 0 to start). */
export function crc32Range(data: Uint8Array, start: number, end: number, initial = 0): number {
  if (native !== undefined && end - start >= NATIVE_MIN_BYTES) return native(data.subarray(start, end), initial);
  return crc32Js(data, start, end, initial);
}

/** CRC-32 of `data`, continuing from `initial`. */
export function crc32(data: Uint8Array, initial = 0): number {
  return crc32Range(data, 0, data.length, initial);
}

/** The pure-JS implementation (exported so a test can check it against node:zlib). */
export const crc32Fallback = (data: Uint8Array, initial = 0): number => crc32Js(data, 0, data.length, initial);
