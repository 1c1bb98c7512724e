/**
 * The WAL's on-disk record format (segment header and records) and its encoder/decoders.
 *
 * Why binary and per-entry: the log is on the write hot path and is scanned in full on every
 * start, so records are fixed-layout little-endian fields (no JSON) and each entry is its own
 * record, which makes the in-memory index a plain list of offsets.
 *
 * Segment file = header (24 bytes) followed by records.
 *   header: magic u32 'GWAL' | version u32 | generation u32 | firstIndex u64 | crc u32 (over the 20 bytes before it)
 *   record: crc u32 | length u32 | type u8 | payload[length]
 *           crc covers length, type and payload (a damaged length field fails the check too).
 *   entry payload (type 1):  index u64 | term u64 | entryType u8 (0 normal, 1 conf) | data
 *   commit payload (type 2): commit u64
 * u64 fields are written as two u32 halves; values stay below 2^53.
 */
import type { Entry } from '../raft/types.ts';
import { crc32, crc32Range } from './crc.ts';

export const SEGMENT_MAGIC = 0x4c415747; // 'GWAL' little-endian
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 24;
export const RECORD_HEADER_BYTES = 9;
export const ENTRY_FIXED_BYTES = 17;
export const COMMIT_PAYLOAD_BYTES = 8;
export const RECORD_ENTRY = 1;
export const RECORD_COMMIT = 2;
/** Upper bound on one record's payload; a larger length field is damage, not data. */
export const MAX_RECORD_PAYLOAD_BYTES = 0x7fff_0000;

const TWO_32 = 0x1_0000_0000;

export function writeU64(buf: Buffer, value: number, pos: number): void {
  buf.writeUInt32LE(value % TWO_32, pos);
  buf.writeUInt32LE(Math.floor(value / TWO_32), pos + 4);
}

/** Little-endian u32 at `pos` (no bounds checks: callers stay within checked ranges; hot in recovery). */
export function readU32(buf: Uint8Array, pos: number): number {
  return (
    ((buf[pos] as number) | ((buf[pos + 1] as number) << 8) | ((buf[pos + 2] as number) << 16) | ((buf[pos + 3] as number) << 24)) >>> 0
  );
}

export function readU64(buf: Uint8Array, pos: number): number {
  return readU32(buf, pos) + readU32(buf, pos + 4) * TWO_32;
}

/** Bytes an entry occupies as a record. */
export function entryRecordBytes(dataLength: number): number {
  return RECORD_HEADER_BYTES + ENTRY_FIXED_BYTES + dataLength;
}

export const COMMIT_RECORD_BYTES = RECORD_HEADER_BYTES + COMMIT_PAYLOAD_BYTES;

/** Encode a segment header into a fresh buffer. */
export function encodeSegmentHeader(generation: number, firstIndex: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES);
  b.writeUInt32LE(SEGMENT_MAGIC, 0);
  b.writeUInt32LE(SEGMENT_VERSION, 4);
  b.writeUInt32LE(generation, 8);
  writeU64(b, firstIndex, 12);
  b.writeUInt32LE(crc32(b.subarray(0, 20)), 20);
  return b;
}

/** Decode a segment header, or return a description of what is wrong with it. */
export function decodeSegmentHeader(b: Buffer): { generation: number; firstIndex: number } | string {
  if (b.length < SEGMENT_HEADER_BYTES) return `segment header is ${b.length} bytes, expected ${SEGMENT_HEADER_BYTES}`;
  if (b.readUInt32LE(0) !== SEGMENT_MAGIC) return 'segment header magic is not GWAL';
  if (b.readUInt32LE(20) !== crc32(b.subarray(0, 20))) return 'segment header checksum mismatch';
  const version = b.readUInt32LE(4);
  if (version !== SEGMENT_VERSION) return `segment version ${version} is not supported (expected ${SEGMENT_VERSION})`;
  return { generation: b.readUInt32LE(8), firstIndex: readU64(b, 12) };
}

/** Write an entry record at `pos` of `buf` (which must have room); returns the position after it. */
export function encodeEntry(buf: Buffer, pos: number, e: Entry): number {
  const len = ENTRY_FIXED_BYTES + e.data.length;
  buf.writeUInt32LE(len, pos + 4);
  buf[pos + 8] = RECORD_ENTRY;
  writeU64(buf, e.index, pos + 9);
  writeU64(buf, e.term, pos + 17);
  buf[pos + 25] = e.type === 'conf' ? 1 : 0;
  buf.set(e.data, pos + 26);
  const end = pos + RECORD_HEADER_BYTES + len;
  buf.writeUInt32LE(crc32Range(buf, pos + 4, end), pos);
  return end;
}

/** Write a commit record at `pos`; returns the position after it. */
export function encodeCommit(buf: Buffer, pos: number, commit: number): number {
  buf.writeUInt32LE(COMMIT_PAYLOAD_BYTES, pos + 4);
  buf[pos + 8] = RECORD_COMMIT;
  writeU64(buf, commit, pos + 9);
  const end = pos + COMMIT_RECORD_BYTES;
  buf.writeUInt32LE(crc32Range(buf, pos + 4, end), pos);
  return end;
}

/**
 * Check the record at `pos` (within `buf[0, end)`): returns its total size in bytes, or a string
 * saying why it is not a valid record (partial, bad type, bad length, checksum mismatch).
 */
export function checkRecord(buf: Buffer, pos: number, end: number): number | string {
  if (pos + RECORD_HEADER_BYTES > end) return `partial record header (${end - pos} of ${RECORD_HEADER_BYTES} bytes)`;
  const len = readU32(buf, pos + 4);
  const type = buf[pos + 8];
  if (type === RECORD_ENTRY) {
    if (len < ENTRY_FIXED_BYTES) return `entry record length ${len} is below the minimum ${ENTRY_FIXED_BYTES}`;
  } else if (type === RECORD_COMMIT) {
    if (len !== COMMIT_PAYLOAD_BYTES) return `commit record length ${len}, expected ${COMMIT_PAYLOAD_BYTES}`;
  } else {
    return `unknown record type ${type}`;
  }
  if (len > MAX_RECORD_PAYLOAD_BYTES) return `record length ${len} exceeds the maximum`;
  const recEnd = pos + RECORD_HEADER_BYTES + len;
  if (recEnd > end) return `partial record (${end - pos} of ${RECORD_HEADER_BYTES + len} bytes present)`;
  if (readU32(buf, pos) !== crc32Range(buf, pos + 4, recEnd)) return 'record checksum mismatch';
  return RECORD_HEADER_BYTES + len;
}

/** Decode the entry record at `pos` (already checked). The data is a view into `buf`. */
export function decodeEntry(buf: Buffer, pos: number): Entry {
  const len = buf.readUInt32LE(pos + 4);
  const dataLen = len - ENTRY_FIXED_BYTES;
  return {
    index: readU64(buf, pos + 9),
    term: readU64(buf, pos + 17),
    type: buf[pos + 25] === 1 ? 'conf' : 'normal',
    data: new Uint8Array(buf.buffer, buf.byteOffset + pos + 26, dataLen),
  };
}
