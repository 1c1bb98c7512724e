/**
 * The key-value snapshot format, written and read as byte streams.
 *
 * Why streams: a large map serialised as one JSON string (the original) blocks the event
 * loop and can exceed V8's string limit. Here the writer takes a point-in-time view of the
 * store (an O(1) copy-on-write clone of its key tree) and then yields fixed-size chunks while
 * writes continue; the reader parses chunk by chunk, never holding more than one record's bytes
 * beyond the store itself.
 *
 * Layout, version 2 (integers big-endian; "f64" = an IEEE double holding a safe non-negative integer):
 *   header  : 'GRAFTDKV' (8) | version u32 (= 2) | count u64 | revision f64 | nextLeaseId f64 | leaseCount u32
 *   lease   : id f64 | ttl f64 | renewedAt f64                                         (leaseCount times)
 *   record  : keyLen u32 | key UTF-8 | valueLen u32 | value UTF-8
 *             | createRevision f64 | modRevision f64 | version f64 | lease f64          (count times)
 *   trailer : crc32 u32 of every byte before it
 *
 * Version 1 (graftd 0.1.0: no revisions or leases) is still read — a backup taken by 0.1.0
 * restores into this release: header 'GRAFTDKV' | 1 | count u64, records keyLen | key | valueLen |
 * value. Its keys come back at createRevision = modRevision = 1, version 1, no lease, and the store
 * at revision 1 (0 when empty): the same on every node restored from the same file.
 */
import { crc32 } from 'node:zlib';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { GraftdError } from '../errors.ts';
import { type KeyRecord, KvStore, type StoreState, keyTreeFromSorted, newKeyTree } from './store.ts';

const MAGIC = Buffer.from('GRAFTDKV', 'latin1');
/** Format version written by this code. */
export const KV_SNAPSHOT_VERSION = 2;
/** Versions this code reads. */
const READABLE_VERSIONS = [1, 2];
const PREFIX_BYTES = MAGIC.length + 4;
const V1_HEADER_REST = 8;
const V2_HEADER_REST = 8 + 8 + 8 + 4;
const LEASE_BYTES = 24;
const V2_RECORD_TAIL = 32;
const TRAILER_BYTES = 4;
/** Default size of the chunks {@link writeSnapshot} yields. */
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 64 * 1024;
/** Chunks produced between yields to the event loop, so a big snapshot never stalls timers and sockets. */
const CHUNKS_PER_LOOP_TURN = 16;
/** Bytes parsed between yields to the event loop while restoring (~4 ms of parsing here). */
const RESTORE_BYTES_PER_LOOP_TURN = 512 * 1024;

export interface WriteSnapshotOptions {
  /** Size of each yielded chunk (the last may be shorter). Default 64 KiB. */
  readonly chunkBytes?: number;
}

/** Stream a consistent copy of `store` (the view is taken synchronously, before this returns). */
export function writeSnapshot(store: KvStore, options: WriteSnapshotOptions = {}): AsyncIterable<Uint8Array> {
  return writeStoreState(store.view(), options);
}

/** Stream a store view (KvStore.view()). The view must not be mutated while the stream is read. */
export function writeStoreState(state: StoreState, options: WriteSnapshotOptions = {}): AsyncIterable<Uint8Array> {
  return generate(state.tree.size, state, state.tree.entries(), chunkSize(options));
}

/**
 * Stream the given key/value pairs as a snapshot of a store at revision 1 (0 when empty), every key at
 * version 1 with no lease — for tools and tests. The array must not be mutated while the stream is
 * read. Duplicate keys are written as given (and rejected on restore).
 */
export function writeSnapshotEntries(
  entries: readonly (readonly [string, string])[],
  options: WriteSnapshotOptions = {},
): AsyncIterable<Uint8Array> {
  const records = entries
    .map(([key, value]): [string, KeyRecord] => [key, legacyRecord(value)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const state = { revision: entries.length > 0 ? 1 : 0, nextLeaseId: 1, leases: [] };
  return generate(entries.length, state, records, chunkSize(options));
}

function chunkSize(options: WriteSnapshotOptions): number {
  const chunkBytes = options.chunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 16)
    throw new GraftdError('GRAFTD_BAD_CONFIG', `snapshot chunkBytes must be an integer ≥ 16, found ${chunkBytes}`);
  return chunkBytes;
}

/** A key restored from a version-1 snapshot (or written by writeSnapshotEntries). */
function legacyRecord(value: string): KeyRecord {
  return { value, createRevision: 1, modRevision: 1, version: 1, lease: 0 };
}

async function* generate(
  count: number,
  state: Omit<StoreState, 'tree'>,
  records: Iterable<[string, KeyRecord]>,
  chunkBytes: number,
): AsyncGenerator<Uint8Array> {
  const out = new ChunkWriter(chunkBytes);
  const header = Buffer.allocUnsafe(PREFIX_BYTES + V2_HEADER_REST);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(KV_SNAPSHOT_VERSION, MAGIC.length);
  header.writeBigUInt64BE(BigInt(count), PREFIX_BYTES);
  header.writeDoubleBE(state.revision, PREFIX_BYTES + 8);
  header.writeDoubleBE(state.nextLeaseId, PREFIX_BYTES + 16);
  header.writeUInt32BE(state.leases.length, PREFIX_BYTES + 24);
  out.writeBytes(header);
  for (const [id, ttl, renewedAt] of state.leases) {
    out.writeF64(id);
    out.writeF64(ttl);
    out.writeF64(renewedAt);
  }
  let sinceYield = 0;
  for (const [key, rec] of records) {
    out.writeString(key);
    out.writeString(rec.value);
    out.writeF64(rec.createRevision);
    out.writeF64(rec.modRevision);
    out.writeF64(rec.version);
    out.writeF64(rec.lease);
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
  readonly #f64 = Buffer.allocUnsafe(8);

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

  writeF64(n: number): void {
    if (this.#size - this.#pos >= 8) {
      this.#cur.writeDoubleBE(n, this.#pos);
      this.#pos += 8;
    } else {
      this.#f64.writeDoubleBE(n, 0);
      this.writeBytes(this.#f64);
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

/**
 * Parse a snapshot stream (version 1 or 2) into a new store. Throws GraftdError GRAFTD_CORRUPT on a bad
 * header, an unknown version, a truncated or over-long stream, a duplicate or out-of-order key, an
 * implausible number, a key naming a lease the snapshot does not hold, or a checksum mismatch.
 */
export async function restoreSnapshot(source: AsyncIterable<Uint8Array>, options: RestoreSnapshotOptions = {}): Promise<KvStore> {
  const parser = new SnapshotParser(options.maxStringBytes ?? 64 * 1024 * 1024);
  let sinceYield = 0;
  for await (const chunk of source) {
    parser.push(chunk);
    sinceYield += chunk.length;
    if (sinceYield >= RESTORE_BYTES_PER_LOOP_TURN) {
      sinceYield = 0;
      await yieldToLoop();
    }
  }
  return new KvStore(parser.end());
}

type ParseState = 'prefix' | 'header' | 'leases' | 'records' | 'trailer' | 'done';

/** Incremental parser: buffers only until the next parse step (a header, a length, a record) is complete. */
class SnapshotParser {
  /** Version 1: keys in any order, inserted one by one. */
  readonly #tree = newKeyTree();
  /** Version 2: keys arrive in order and are collected, then bulk-loaded into full tree nodes (faster, smaller). */
  readonly #keys: string[] = [];
  readonly #values: KeyRecord[] = [];
  readonly #leases: [number, number, number][] = [];
  readonly #leaseIds = new Set<number>();
  readonly #maxStringBytes: number;
  #version = 0;
  #revision = 0;
  #nextLeaseId = 1;
  #leaseCount = 0;
  #state: ParseState = 'prefix';
  #count = 0;
  #records = 0;
  #lastKey: string | undefined;
  #crc = 0;
  /** Total bytes consumed (for error messages). */
  #offset = 0;
  /** Chunks not yet parsed, and their total size. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes needed before the next parse step can run. */
  #need = PREFIX_BYTES;

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

  end(): StoreState {
    if (this.#state !== 'done') {
      const where =
        this.#state === 'prefix' || this.#state === 'header'
          ? 'in the header'
          : this.#state === 'leases'
            ? `after ${this.#leases.length} of ${this.#leaseCount} leases`
            : this.#state === 'records'
              ? `after ${this.#records} of ${this.#count} records`
              : 'before the checksum trailer';
      throw corrupt(`stream is truncated ${where} (${this.#offset + this.#pendingBytes} bytes received)`);
    }
    const tree = this.#version === 1 ? this.#tree : keyTreeFromSorted(this.#keys, this.#values);
    return { tree, revision: this.#revision, nextLeaseId: this.#nextLeaseId, leases: this.#leases };
  }

  #afterLeases(): void {
    this.#state = this.#count === 0 ? 'trailer' : 'records';
    this.#need = this.#count === 0 ? TRAILER_BYTES : 4;
  }

  #parse(): void {
    const buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    // Numbers are read through a DataView (big-endian by default): its getters are compiled inline, Buffer's are not.
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let pos = 0;
    let hashFrom = 0;
    for (;;) {
      const avail = buf.length - pos;
      if (this.#state === 'prefix') {
        if (avail < PREFIX_BYTES) break;
        if (!buf.subarray(pos, pos + MAGIC.length).equals(MAGIC)) throw corrupt('bad magic: this is not a graftd key-value snapshot');
        const version = buf.readUInt32BE(pos + MAGIC.length);
        if (!READABLE_VERSIONS.includes(version))
          throw corrupt(`unsupported snapshot version ${version}; this build reads versions ${READABLE_VERSIONS.join(' and ')}`);
        this.#version = version;
        pos += PREFIX_BYTES;
        this.#state = 'header';
        this.#need = version === 1 ? V1_HEADER_REST : V2_HEADER_REST;
      } else if (this.#state === 'header') {
        if (avail < this.#need) break;
        const count = buf.readBigUInt64BE(pos);
        if (count > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`implausible record count ${count}`);
        this.#count = Number(count);
        if (this.#version === 1) {
          this.#revision = this.#count > 0 ? 1 : 0;
          pos += V1_HEADER_REST;
          this.#afterLeases();
        } else {
          this.#revision = this.#int(buf.readDoubleBE(pos + 8), 'revision', pos + 8);
          this.#nextLeaseId = this.#int(buf.readDoubleBE(pos + 16), 'next lease id', pos + 16);
          this.#leaseCount = buf.readUInt32BE(pos + 24);
          pos += V2_HEADER_REST;
          if (this.#leaseCount > 0) {
            this.#state = 'leases';
            this.#need = LEASE_BYTES;
          } else this.#afterLeases();
        }
      } else if (this.#state === 'leases') {
        if (avail < LEASE_BYTES) break;
        const id = this.#int(buf.readDoubleBE(pos), 'lease id', pos);
        const ttl = this.#int(buf.readDoubleBE(pos + 8), 'lease ttl', pos + 8);
        const renewedAt = this.#int(buf.readDoubleBE(pos + 16), 'lease renewal index', pos + 16);
        if (id === 0 || id >= this.#nextLeaseId || this.#leaseIds.has(id))
          throw corrupt(
            `lease id ${id} at byte offset ${this.#offset + pos} is zero, repeated or not below the next id ${this.#nextLeaseId}`,
          );
        this.#leaseIds.add(id);
        this.#leases.push([id, ttl, renewedAt]);
        pos += LEASE_BYTES;
        if (this.#leases.length === this.#leaseCount) this.#afterLeases();
      } else if (this.#state === 'records') {
        if (avail < 4) {
          this.#need = 4;
          break;
        }
        const keyLen = view.getUint32(pos);
        this.#checkLen(keyLen, 'key', pos);
        if (avail < 8 + keyLen) {
          this.#need = 8 + keyLen;
          break;
        }
        const valueLen = view.getUint32(pos + 4 + keyLen);
        this.#checkLen(valueLen, 'value', pos + 4 + keyLen);
        const stringBytes = 8 + keyLen + valueLen;
        const recordBytes = stringBytes + (this.#version === 1 ? 0 : V2_RECORD_TAIL);
        if (avail < recordBytes) {
          this.#need = recordBytes;
          break;
        }
        const key = buf.toString('utf8', pos + 4, pos + 4 + keyLen);
        const value = buf.toString('utf8', pos + 8 + keyLen, pos + stringBytes);
        // Version 2 is written in key order (checked: cheap, and it catches a reordered stream); version 1
        // in the insertion order of 0.1.0's Map, so there only duplicates are looked for.
        const misplaced = this.#version === 1 ? this.#tree.has(key) : this.#lastKey !== undefined && key <= this.#lastKey;
        if (misplaced) {
          const what = key === this.#lastKey || this.#tree.has(key) || this.#keys.includes(key) ? 'duplicate' : 'out-of-order';
          throw corrupt(`${what} key ${JSON.stringify(key.slice(0, 64))} at byte offset ${this.#offset + pos}`);
        }
        this.#lastKey = key;
        if (this.#version === 1) this.#tree.set(key, legacyRecord(value));
        else {
          this.#keys.push(key);
          this.#values.push(this.#record(value, view, pos + stringBytes));
        }
        this.#records++;
        pos += recordBytes;
        if (this.#records === this.#count) {
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

  #record(value: string, view: DataView, at: number): KeyRecord {
    const createRevision = this.#int(view.getFloat64(at), 'createRevision', at);
    const modRevision = this.#int(view.getFloat64(at + 8), 'modRevision', at + 8);
    const version = this.#int(view.getFloat64(at + 16), 'version', at + 16);
    const lease = this.#int(view.getFloat64(at + 24), 'lease', at + 24);
    if (createRevision < 1 || createRevision > modRevision || modRevision > this.#revision || version < 1)
      throw corrupt(
        `inconsistent key metadata at byte offset ${this.#offset + at} (create ${createRevision}, mod ${modRevision}, version ${version}, store revision ${this.#revision})`,
      );
    if (lease !== 0 && !this.#leaseIds.has(lease)) throw corrupt(`a key names lease ${lease}, which the snapshot does not hold`);
    return { value, createRevision, modRevision, version, lease };
  }

  #int(n: number, what: string, at: number): number {
    if (!Number.isSafeInteger(n) || n < 0)
      throw corrupt(`${what} at byte offset ${this.#offset + at} is not a non-negative integer (${n})`);
    return n;
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
