/**
 * The key-value snapshot format, written and read as byte streams.
 *
 * Why streams: a large map serialised as one JSON string (the original) blocks the event
 * loop and can exceed V8's string limit. Here the writer copies the map's entries at one
 * instant (cheap: strings are immutable) and then yields fixed-size chunks; the reader
 * parses chunk by chunk, never holding more than one record's bytes beyond the map itself.
 *
 * Layout (all integers big-endian):
 *   header  : 'GRAFTDKV' (8 bytes) | version u32 (= 1) | count u64
 *   record  : keyLen u32 | key UTF-8 | valueLen u32 | value UTF-8      (count times)
 *   trailer : crc32 u32 of every byte before it
 */
import { crc32 } from 'node:zlib';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { GraftdError } from '../errors.ts';
import { KvStore } from './store.ts';

const MAGIC = Buffer.from('GRAFTDKV', 'latin1');
/** Format version written by this code. */
export const KV_SNAPSHOT_VERSION = 1;
const HEADER_BYTES = MAGIC.length + 4 + 8;
const TRAILER_BYTES = 4;
/** Default size of the chunks {@link writeSnapshot} yields. */
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 64 * 1024;
/** Chunks produced or parsed between yields to the event loop, so a big snapshot never stalls timers and sockets. */
const CHUNKS_PER_LOOP_TURN = 16;

export interface WriteSnapshotOptions {
  /** Size of each yielded chunk (the last may be shorter). Default 64 KiB. */
  readonly chunkBytes?: number;
}

/** Stream a consistent copy of `store` (taken synchronously, before this returns). */
export function writeSnapshot(store: KvStore, options: WriteSnapshotOptions = {}): AsyncIterable<Uint8Array> {
  return writeSnapshotEntries(Array.from(store.entries()), options);
}

/** Stream the given entries in the snapshot format. The array must not be mutated while the stream is read. Duplicate keys are rejected on restore. */
export function writeSnapshotEntries(
  entries: readonly (readonly [string, string])[],
  options: WriteSnapshotOptions = {},
): AsyncIterable<Uint8Array> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 16)
    throw new GraftdError('GRAFTD_BAD_CONFIG', `snapshot chunkBytes must be an integer ≥ 16, found ${chunkBytes}`);
  return generate(entries, chunkBytes);
}

async function* generate(entries: readonly (readonly [string, string])[], chunkBytes: number): AsyncGenerator<Uint8Array> {
  const out = new ChunkWriter(chunkBytes);
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(KV_SNAPSHOT_VERSION, MAGIC.length);
  header.writeBigUInt64BE(BigInt(entries.length), MAGIC.length + 4);
  out.writeBytes(header);
  let sinceYield = 0;
  for (const [key, value] of entries) {
    out.writeString(key);
    out.writeString(value);
    while (out.sealed.length > 0) {
      yield out.sealed.shift()!;
      if (++sinceYield >= CHUNKS_PER_LOOP_TURN) {
        sinceYield = 0;
        await yieldToLoop();
      }
    }
  }
  out.finish();
  for (const chunk of out.sealed) yield chunk;
}

/** Fills fixed-size chunks, checksumming each byte once as its chunk is sealed. */
class ChunkWriter {
  readonly sealed: Buffer[] = [];
  #cur: Buffer;
  #pos = 0;
  #crc = 0;
  readonly #size: number;
  readonly #u32 = Buffer.allocUnsafe(4);

  constructor(size: number) {
    this.#size = size;
    this.#cur = Buffer.allocUnsafe(size);
  }

  writeString(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    this.#writeU32(len);
    if (len <= this.#size - this.#pos) {
      this.#pos += this.#cur.write(s, this.#pos, len, 'utf8');
    } else {
      this.writeBytes(Buffer.from(s, 'utf8'));
    }
  }

  writeBytes(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(bytes.length - off, this.#size - this.#pos);
      this.#cur.set(bytes.subarray(off, off + n), this.#pos);
      this.#pos += n;
      off += n;
      if (this.#pos === this.#size) this.#seal();
    }
  }

  /** Append the checksum trailer and seal the last chunk. */
  finish(): void {
    this.#crc = crc32(this.#cur.subarray(0, this.#pos), this.#crc);
    const trailer = Buffer.allocUnsafe(TRAILER_BYTES);
    trailer.writeUInt32BE(this.#crc >>> 0, 0);
    const room = this.#size - this.#pos;
    const first = Math.min(room, TRAILER_BYTES);
    trailer.copy(this.#cur, this.#pos, 0, first);
    this.#pos += first;
    this.sealed.push(this.#cur.subarray(0, this.#pos));
    if (first < TRAILER_BYTES) this.sealed.push(trailer.subarray(first));
  }

  #writeU32(n: number): void {
    if (this.#size - this.#pos >= 4) {
      this.#cur.writeUInt32BE(n, this.#pos);
      this.#pos += 4;
    } else {
      this.#u32.writeUInt32BE(n, 0);
      this.writeBytes(this.#u32);
    }
  }

  #seal(): void {
    this.#crc = crc32(this.#cur, this.#crc);
    this.sealed.push(this.#cur);
    this.#cur = Buffer.allocUnsafe(this.#size);
    this.#pos = 0;
  }
}

export interface RestoreSnapshotOptions {
  /** A key or value longer than this is treated as corruption (guards against a garbage length making the reader buffer the whole stream). Default 64 MiB. */
  readonly maxStringBytes?: number;
}

/** Parse a snapshot stream into a new store. Throws GraftdError GRAFTD_CORRUPT on a bad header, a truncated or over-long stream, a duplicate key or a checksum mismatch. */
export async function restoreSnapshot(source: AsyncIterable<Uint8Array>, options: RestoreSnapshotOptions = {}): Promise<KvStore> {
  const parser = new SnapshotParser(options.maxStringBytes ?? 64 * 1024 * 1024);
  let sinceYield = 0;
  for await (const chunk of source) {
    parser.push(chunk);
    if (++sinceYield >= CHUNKS_PER_LOOP_TURN) {
      sinceYield = 0;
      await yieldToLoop();
    }
  }
  return new KvStore(parser.end());
}

type ParseState = 'header' | 'records' | 'trailer' | 'done';

/** Incremental parser: buffers only until the next parse step (a header, a length, a record) is complete. */
class SnapshotParser {
  readonly #map = new Map<string, string>();
  readonly #maxStringBytes: number;
  #state: ParseState = 'header';
  #count = 0;
  #crc = 0;
  /** Total bytes consumed (for error messages). */
  #offset = 0;
  /** Chunks not yet parsed, and their total size. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes needed before the next parse step can run. */
  #need = HEADER_BYTES;

  constructor(maxStringBytes: number) {
    this.#maxStringBytes = maxStringBytes;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#state === 'done') throw corrupt(`unexpected data after the checksum trailer at byte offset ${this.#offset}`);
    this.#pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes >= this.#need) this.#parse();
  }

  end(): Map<string, string> {
    if (this.#state !== 'done') {
      const where =
        this.#state === 'header'
          ? 'in the header'
          : this.#state === 'records'
            ? `after ${this.#map.size} of ${this.#count} records`
            : 'before the checksum trailer';
      throw corrupt(`stream is truncated ${where} (${this.#offset + this.#pendingBytes} bytes received)`);
    }
    return this.#map;
  }

  #parse(): void {
    const buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    let pos = 0;
    let hashFrom = 0;
    for (;;) {
      const avail = buf.length - pos;
      if (this.#state === 'header') {
        if (avail < HEADER_BYTES) break;
        if (!buf.subarray(pos, pos + MAGIC.length).equals(MAGIC)) throw corrupt('bad magic: this is not a graftd key-value snapshot');
        const version = buf.readUInt32BE(pos + MAGIC.length);
        if (version !== KV_SNAPSHOT_VERSION)
          throw corrupt(`unsupported snapshot version ${version}; this build reads version ${KV_SNAPSHOT_VERSION}`);
        const count = buf.readBigUInt64BE(pos + MAGIC.length + 4);
        if (count > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`implausible record count ${count}`);
        this.#count = Number(count);
        pos += HEADER_BYTES;
        this.#state = this.#count === 0 ? 'trailer' : 'records';
        this.#need = this.#count === 0 ? TRAILER_BYTES : 4;
      } else if (this.#state === 'records') {
        if (avail < 4) {
          this.#need = 4;
          break;
        }
        const keyLen = buf.readUInt32BE(pos);
        this.#checkLen(keyLen, 'key', pos);
        if (avail < 8 + keyLen) {
          this.#need = 8 + keyLen;
          break;
        }
        const valueLen = buf.readUInt32BE(pos + 4 + keyLen);
        this.#checkLen(valueLen, 'value', pos + 4 + keyLen);
        const recordBytes = 8 + keyLen + valueLen;
        if (avail < recordBytes) {
          this.#need = recordBytes;
          break;
        }
        const key = buf.toString('utf8', pos + 4, pos + 4 + keyLen);
        const value = buf.toString('utf8', pos + 8 + keyLen, pos + recordBytes);
        if (this.#map.has(key)) throw corrupt(`duplicate key ${JSON.stringify(key.slice(0, 64))} at byte offset ${this.#offset + pos}`);
        this.#map.set(key, value);
        pos += recordBytes;
        if (this.#map.size === this.#count) {
          this.#state = 'trailer';
          this.#need = TRAILER_BYTES;
        } else {
          this.#need = 4;
        }
      } else if (this.#state === 'trailer') {
        if (avail < TRAILER_BYTES) break;
        this.#crc = crc32(buf.subarray(hashFrom, pos), this.#crc);
        hashFrom = pos;
        const expected = buf.readUInt32BE(pos);
        if (expected !== this.#crc >>> 0)
          throw corrupt(`checksum mismatch: the trailer says ${hex(expected)}, the data hashes to ${hex(this.#crc >>> 0)}`);
        pos += TRAILER_BYTES;
        hashFrom = pos;
        this.#state = 'done';
        this.#need = Number.POSITIVE_INFINITY;
      } else {
        if (avail > 0) throw corrupt(`unexpected ${avail} bytes after the checksum trailer`);
        break;
      }
    }
    if (this.#state !== 'done') this.#crc = crc32(buf.subarray(hashFrom, pos), this.#crc);
    this.#offset += pos;
    const rest = buf.subarray(pos);
    this.#pending = rest.length > 0 ? [rest] : [];
    this.#pendingBytes = rest.length;
  }

  #checkLen(len: number, what: string, at: number): void {
    if (len > this.#maxStringBytes)
      throw corrupt(`${what} length ${len} at byte offset ${this.#offset + at} exceeds the limit of ${this.#maxStringBytes} bytes`);
  }
}

function corrupt(detail: string): GraftdError {
  return new GraftdError('GRAFTD_CORRUPT', `corrupt kv snapshot: ${detail}`);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
