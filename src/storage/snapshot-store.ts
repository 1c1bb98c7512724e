/**
 * The snapshot store: whole state-machine snapshots as files, written as a stream, checksummed,
 * kept N deep, read back as a stream.
 *
 * Why files with a footer: a snapshot can be large, so it is streamed to a temp name and only
 * renamed into place after the data and its metadata footer are fsynced; the rename (followed by
 * a directory fsync) is the single atomic step that makes it visible, so a half-written snapshot
 * is never seen. The footer (at the end, because size and checksum are only known then) holds
 * the index, term, membership, data size and CRC-32 of the data.
 *
 * Creating the directory fsyncs the parent of every level created, so the directory itself cannot
 * vanish at a power cut after a snapshot in it was reported durable. All file-system calls go
 * through {@link SnapshotFs} (tests cut the power under it: test/storage/power-cut-snapshots.test.ts).
 *
 * File layout `<index, 16 digits>.snap`: data | footer JSON | jsonLength u32 | jsonCrc u32 | magic u32 'GSNP'.
 */
import path from 'node:path';
import { CorruptionError, GraftdError, StorageFailedError, assert } from '../errors.ts';
import type { Log } from '../log.ts';
import { nullLog } from './null-log.ts';
import type { SnapshotMeta } from '../raft/types.ts';
import { crc32 } from './crc.ts';
import { type SnapshotFileHandle, type SnapshotFs, mkdirDurable, nodeSnapshotFs } from './fs-like.ts';
import { StorageBusyError, isTransientOpenError } from './transient.ts';

/** A committed snapshot on disk. `checksum` is the CRC-32 of its `size` data bytes. */
export interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  readonly size: number;
  readonly checksum: number;
  readonly path: string;
}

/** Streams one snapshot to disk; nothing is visible until commit() resolves. */
export interface SnapshotWriter {
  /** Append a chunk; resolves once it is written (await it: that is the backpressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** fsync, atomically publish, prune old snapshots; resolves with the stored snapshot. */
  commit(): Promise<StoredSnapshot>;
  /** Discard the partial snapshot. Safe to call after a failed write. */
  abort(): Promise<void>;
}

export interface SnapshotStore {
  /** Start writing a snapshot described by `meta` (size and checksum are computed from the data). */
  create(meta: SnapshotMeta): SnapshotWriter;
  /** The newest snapshot whose checksum verifies (damaged ones are reported and skipped), or null. */
  latest(): StoredSnapshot | null;
  /** The data of the snapshot at `index`, streamed in chunks; throws CorruptionError at the end if the checksum does not match. */
  read(index: number): AsyncIterable<Uint8Array>;
  /** Every committed snapshot whose footer is readable, oldest first (checksums are not verified here). */
  list(): StoredSnapshot[];
}

export interface SnapshotStoreOptions {
  /** How many snapshots to keep. Default 2 (as the original). */
  readonly retain?: number;
  readonly log?: Log;
  /** Chunk size of read(). Default 1 MiB: each chunk is one round trip through the thread pool, and 64 KiB chunks left a 150 MB restore idle for ~0.8 s. */
  readonly chunkBytes?: number;
  /** The file system. Default: node:fs ({@link nodeSnapshotFs}). */
  readonly fs?: SnapshotFs;
  /**
   * fsync the file being written after every this many bytes (default 4 MiB; 0: only at commit).
   * Why: a large snapshot written into the page cache and synced once at the end leaves hundreds of
   * MB dirty; that final flush holds up the WAL's fdatasync on the same disk (one journal) for tens
   * of ms, which is every write's latency. Syncing as it goes keeps the dirty data small.
   */
  readonly syncEveryBytes?: number;
}

/** Default of {@link SnapshotStoreOptions.syncEveryBytes}. */
export const DEFAULT_SNAPSHOT_SYNC_EVERY_BYTES = 4 * 1024 * 1024;

const MAGIC = 0x504e5347; // 'GSNP'
const TRAILER_BYTES = 12;
const NAME_RE = /^(\d{16})\.snap$/;
const TEMP_SUFFIX = '.tmp';
/** A writer refuses more than this many writes in flight (callers must await write()). */
const MAX_PENDING_WRITES = 64;
const VERIFY_CHUNK_BYTES = 1024 * 1024;
const MAX_FOOTER_BYTES = 16 * 1024 * 1024;

function fileName(index: number): string {
  return String(index).padStart(16, '0') + '.snap';
}

/** Open the snapshot store in `dir` (created if missing); leftover temp files are removed. */
export function openSnapshotStore(dir: string, opts: SnapshotStoreOptions = {}): SnapshotStore {
  return new FileSnapshotStore(path.resolve(dir), opts);
}

class FileSnapshotStore implements SnapshotStore {
  private readonly dir: string;
  private readonly retain: number;
  private readonly log: Log;
  private readonly chunkBytes: number;
  readonly fs: SnapshotFs;
  readonly syncEveryBytes: number;
  private tempCounter = 0;
  /** Files whose checksum was verified, keyed by path, valid while inode, size and mtime match. */
  private readonly verified = new Map<string, { ino: number; size: number; mtimeMs: number }>();

  constructor(dir: string, opts: SnapshotStoreOptions) {
    this.dir = dir;
    this.retain = opts.retain ?? 2;
    this.log = opts.log ?? nullLog;
    this.chunkBytes = opts.chunkBytes ?? 1024 * 1024;
    this.fs = opts.fs ?? nodeSnapshotFs;
    this.syncEveryBytes = opts.syncEveryBytes ?? DEFAULT_SNAPSHOT_SYNC_EVERY_BYTES;
    assert(
      Number.isSafeInteger(this.syncEveryBytes) && this.syncEveryBytes >= 0,
      `syncEveryBytes must be a non-negative integer, got ${this.syncEveryBytes}`,
    );
    assert(Number.isInteger(this.retain) && this.retain >= 1, `retain must be a positive integer, got ${this.retain}`);
    assert(this.chunkBytes >= 1, `chunkBytes must be positive, got ${this.chunkBytes}`);
    try {
      mkdirDurable(this.fs, dir);
      for (const n of this.fs.readdirSync(dir)) {
        if (n.endsWith(TEMP_SUFFIX)) {
          this.fs.unlinkSync(path.join(dir, n));
          this.log.info({ file: n }, 'snapshot store: removed a half-written snapshot');
        }
      }
    } catch (err) {
      throw new StorageFailedError(`opening the snapshot store in ${dir}`, err);
    }
  }

  create(meta: SnapshotMeta): SnapshotWriter {
    const finalPath = path.join(this.dir, fileName(meta.index));
    const tmpPath = `${finalPath}.${process.pid}-${++this.tempCounter}${TEMP_SUFFIX}`;
    return new FileSnapshotWriter(this, meta, tmpPath, finalPath);
  }

  list(): StoredSnapshot[] {
    const out: StoredSnapshot[] = [];
    for (const n of this.snapshotFiles()) {
      const s = this.readFooter(path.join(this.dir, n));
      if (typeof s !== 'string') out.push(s);
    }
    return out;
  }

  latest(): StoredSnapshot | null {
    const files = this.snapshotFiles();
    for (let k = files.length - 1; k >= 0; k--) {
      const p = path.join(this.dir, files[k] as string);
      const s = this.readFooter(p);
      const problem = typeof s === 'string' ? s : this.verify(s);
      if (problem === '' && typeof s !== 'string') return s;
      this.log.error({ file: p, problem }, 'snapshot store: a snapshot failed verification; falling back to the previous one');
    }
    return null;
  }

  async *read(index: number): AsyncIterable<Uint8Array> {
    const p = path.join(this.dir, fileName(index));
    const s = this.readFooter(p);
    if (typeof s === 'string') {
      if (!this.fs.existsSync(p)) throw new GraftdError('GRAFTD_UNAVAILABLE', `no snapshot at index ${index} in ${this.dir}`);
      throw new CorruptionError(p, 0, s);
    }
    const handle = await this.fs.open(p, 'r');
    try {
      let pos = 0;
      let crc = 0;
      while (pos < s.size) {
        const n = Math.min(this.chunkBytes, s.size - pos);
        const chunk = new Uint8Array(n);
        let got = 0;
        while (got < n) {
          const r = await handle.read(chunk, got, n - got, pos + got);
          if (r.bytesRead === 0) throw new CorruptionError(p, pos + got, `file ends before the ${s.size} data bytes its footer promises`);
          got += r.bytesRead;
        }
        crc = crc32(chunk, crc);
        pos += n;
        yield chunk;
      }
      if (crc !== s.checksum) throw new CorruptionError(p, 0, `data checksum ${crc} does not match the footer's ${s.checksum}`);
    } finally {
      await handle.close();
    }
  }

  /** Committed snapshot file names, oldest first. */
  snapshotFiles(): string[] {
    return this.fs
      .readdirSync(this.dir)
      .filter((n) => NAME_RE.test(n))
      .sort();
  }

  /** Keep the newest `retain` snapshots. */
  prune(): void {
    const files = this.snapshotFiles();
    for (const n of files.slice(0, Math.max(0, files.length - this.retain))) {
      const p = path.join(this.dir, n);
      try {
        this.fs.unlinkSync(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      this.verified.delete(p);
      this.log.debug({ file: p }, 'snapshot store: pruned an old snapshot');
    }
  }

  /** Parse a snapshot's footer, or describe why it cannot be. */
  readFooter(p: string): StoredSnapshot | string {
    let fd: number;
    try {
      fd = this.fs.openSync(p, 'r');
    } catch (err) {
      return `cannot open: ${String(err)}`;
    }
    try {
      const size = this.fs.fstatSync(fd).size;
      if (size < TRAILER_BYTES) return `file is ${size} bytes, shorter than the ${TRAILER_BYTES}-byte trailer`;
      const trailer = Buffer.alloc(TRAILER_BYTES);
      this.fs.readSync(fd, trailer, 0, TRAILER_BYTES, size - TRAILER_BYTES);
      if (trailer.readUInt32LE(8) !== MAGIC) return 'trailer magic is not GSNP';
      const jsonLen = trailer.readUInt32LE(0);
      if (jsonLen > MAX_FOOTER_BYTES || jsonLen + TRAILER_BYTES > size)
        return `footer length ${jsonLen} does not fit in a ${size}-byte file`;
      const json = Buffer.alloc(jsonLen);
      this.fs.readSync(fd, json, 0, jsonLen, size - TRAILER_BYTES - jsonLen);
      if (crc32(json) !== trailer.readUInt32LE(4)) return 'footer checksum mismatch';
      const f = JSON.parse(json.toString('utf8')) as { meta?: SnapshotMeta; size?: number; checksum?: number };
      if (f.meta === undefined || typeof f.size !== 'number' || typeof f.checksum !== 'number')
        return 'footer lacks meta, size or checksum';
      if (f.size + jsonLen + TRAILER_BYTES !== size)
        return `footer says ${f.size} data bytes, the file holds ${size - jsonLen - TRAILER_BYTES}`;
      return { meta: f.meta, size: f.size, checksum: f.checksum, path: p };
    } catch (err) {
      return `cannot read the footer: ${String(err)}`;
    } finally {
      this.fs.closeSync(fd);
    }
  }

  /** '' when the data matches its checksum, otherwise what is wrong. Reads the data synchronously (once per file version). */
  private verify(s: StoredSnapshot): string {
    const st = this.fs.statSync(s.path);
    const known = this.verified.get(s.path);
    if (known !== undefined && known.ino === st.ino && known.size === st.size && known.mtimeMs === st.mtimeMs) return '';
    const fd = this.fs.openSync(s.path, 'r');
    try {
      const buf = Buffer.allocUnsafe(Math.min(VERIFY_CHUNK_BYTES, Math.max(1, s.size)));
      let crc = 0;
      let pos = 0;
      while (pos < s.size) {
        const n = this.fs.readSync(fd, buf, 0, Math.min(buf.length, s.size - pos), pos);
        if (n === 0) return `file ends at ${pos} of ${s.size} data bytes`;
        crc = crc32(buf.subarray(0, n), crc);
        pos += n;
      }
      if (crc !== s.checksum) return `data checksum ${crc} does not match the footer's ${s.checksum}`;
    } finally {
      this.fs.closeSync(fd);
    }
    this.verified.set(s.path, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs });
    return '';
  }

  /** fsync the directory (makes the rename durable). */
  async syncDir(): Promise<void> {
    const h = await this.fs.open(this.dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  }

  get logger(): Log {
    return this.log;
  }
}

type WriterState = 'open' | 'committing' | 'committed' | 'aborted' | 'failed';

class FileSnapshotWriter implements SnapshotWriter {
  private readonly store: FileSnapshotStore;
  private readonly meta: SnapshotMeta;
  private readonly tmpPath: string;
  private readonly finalPath: string;
  private readonly handle: Promise<SnapshotFileHandle>;
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private size = 0;
  /** Bytes written since the last fsync (see SnapshotStoreOptions.syncEveryBytes). */
  private unsynced = 0;
  private crc = 0;
  private state: WriterState = 'open';
  private error: unknown = null;

  constructor(store: FileSnapshotStore, meta: SnapshotMeta, tmpPath: string, finalPath: string) {
    this.store = store;
    this.meta = meta;
    this.tmpPath = tmpPath;
    this.finalPath = finalPath;
    this.handle = store.fs.open(tmpPath, 'wx', 0o644);
    // Surface an open failure on the first write/commit, not as an unhandled rejection.
    this.handle.catch(() => {});
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.stateError('write'));
    if (this.pending >= MAX_PENDING_WRITES) {
      return Promise.reject(
        new GraftdError('GRAFTD_INTERNAL', `snapshot writer: more than ${MAX_PENDING_WRITES} writes in flight; await write()`),
      );
    }
    const position = this.size;
    this.size += chunk.length;
    this.crc = crc32(chunk, this.crc);
    this.pending++;
    const p = this.chain.then(async () => {
      try {
        if (this.error !== null) throw this.error;
        const h = await this.openedHandle();
        let done = 0;
        while (done < chunk.length) {
          const r = await h.write(chunk, done, chunk.length - done, position + done);
          done += r.bytesWritten;
        }
        this.unsynced += chunk.length;
        const every = this.store.syncEveryBytes;
        if (every > 0 && this.unsynced >= every) {
          this.unsynced = 0;
          await h.sync();
        }
      } catch (err) {
        if (this.error === null) this.error = err;
        this.state = this.state === 'open' ? 'failed' : this.state;
        if (err instanceof StorageBusyError) throw err;
        throw new StorageFailedError(`writing snapshot ${this.tmpPath}`, err);
      } finally {
        this.pending--;
      }
    });
    this.chain = p.catch(() => {});
    return p;
  }

  async commit(): Promise<StoredSnapshot> {
    if (this.state !== 'open') throw this.stateError('commit');
    this.state = 'committing';
    await this.chain;
    try {
      if (this.error !== null) throw this.error;
      const h = await this.openedHandle();
      const json = Buffer.from(JSON.stringify({ meta: this.meta, size: this.size, checksum: this.crc }), 'utf8');
      const trailer = Buffer.alloc(TRAILER_BYTES);
      trailer.writeUInt32LE(json.length, 0);
      trailer.writeUInt32LE(crc32(json), 4);
      trailer.writeUInt32LE(MAGIC, 8);
      const footer = Buffer.concat([json, trailer]);
      let done = 0;
      while (done < footer.length) {
        const r = await h.write(footer, done, footer.length - done, this.size + done);
        done += r.bytesWritten;
      }
      await h.sync();
      await h.close();
      await this.store.fs.rename(this.tmpPath, this.finalPath);
      await this.store.syncDir();
    } catch (err) {
      this.state = 'failed';
      await this.cleanup();
      if (err instanceof StorageBusyError) throw err;
      throw new StorageFailedError(`committing snapshot ${this.finalPath}`, err);
    }
    this.state = 'committed';
    this.store.logger.info({ file: this.finalPath, index: this.meta.index, size: this.size }, 'snapshot stored');
    this.store.prune();
    return { meta: this.meta, size: this.size, checksum: this.crc, path: this.finalPath };
  }

  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    this.state = 'aborted';
    await this.chain;
    await this.cleanup();
  }

  /**
   * The temp file's handle. A transient open failure (EMFILE, ...: transient.ts) is a StorageBusyError:
   * nothing was created, the store is unaffected and the snapshot may simply be tried again.
   */
  private async openedHandle(): Promise<SnapshotFileHandle> {
    try {
      return await this.handle;
    } catch (err) {
      if (isTransientOpenError(err)) {
        throw new StorageBusyError(`opening ${this.tmpPath}`, (err as NodeJS.ErrnoException).code as string, err);
      }
      throw err;
    }
  }

  private async cleanup(): Promise<void> {
    try {
      const h = await this.handle;
      await h.close().catch(() => {});
    } catch {
      // The temp file was never opened.
    }
    try {
      await this.store.fs.unlink(this.tmpPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  private stateError(op: string): Error {
    if (this.state === 'failed' && this.error instanceof StorageBusyError) return this.error;
    if (this.state === 'failed' && this.error !== null) return new StorageFailedError(`writing snapshot ${this.tmpPath}`, this.error);
    return new GraftdError('GRAFTD_INTERNAL', `snapshot writer: ${op}() called after the writer was ${this.state}`);
  }
}
