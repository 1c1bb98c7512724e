/**
 * CRC-32 (IEEE, the zlib polynomial) over byte ranges.
 *
 * Why: every WAL record, metadata file and snapshot carries a checksum. `node:zlib` has a native
 * crc32 since Node 20.15; older Node 20 releases get a table-driven fallback with identical output.
 */
import zlib from 'node:zlib';

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32Js(data: Uint8Array, initial: number): number {
  let c = ~initial >>> 0;
  for (let i = 0; i < data.length; i++) c = (TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `data`, continuing from `initial` (the CRC of the preceding bytes; 0 to start). */
export const crc32: (data: Uint8Array, initial?: number) => number =
  native !== undefined ? (data, initial = 0) => native(data, initial) : (data, initial = 0) => crc32Js(data, initial);

/** The pure-JS implementation (exported so a test can check it agrees with the native one). */
export const crc32Fallback = (data: Uint8Array, initial = 0): number => crc32Js(data, initial);
