/**
 * The file-system calls the WAL uses (synchronous, plus one asynchronous fdatasync), as an interface.
 *
 * Why: failure handling ("disk full → the store stops accepting writes") must be tested, and real
 * disks do not fail on demand. Tests pass a wrapper of `node:fs` that throws on chosen calls;
 * production passes `node:fs` itself.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** The subset of `node:fs` (sync API) that the WAL, hard state and log metadata files use. */
export interface FsLike {
  openSync(path: string, flags: string, mode?: number): number;
  closeSync(fd: number): void;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  fsyncSync(fd: number): void;
  fdatasyncSync(fd: number): void;
  /** Asynchronous fdatasync (runs on the libuv thread pool). When absent the WAL falls back to fdatasyncSync. */
  fdatasync?(fd: number, callback: (err: NodeJS.ErrnoException | null) => void): void;
  ftruncateSync(fd: number, len: number): void;
  fstatSync(fd: number): { size: number };
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  readdirSync(path: string): string[];
  mkdirSync(path: string, options: { recursive: boolean }): unknown;
  existsSync(path: string): boolean;
}

/** The real file system. */
export const nodeFs: FsLike = {
  openSync: (path, flags, mode) => fs.openSync(path, flags, mode),
  closeSync: (fd) => fs.closeSync(fd),
  readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
  fdatasync: (fd, callback) => fs.fdatasync(fd, callback),
  ftruncateSync: (fd, len) => fs.ftruncateSync(fd, len),
  fstatSync: (fd) => fs.fstatSync(fd),
  renameSync: (from, to) => fs.renameSync(from, to),
  unlinkSync: (path) => fs.unlinkSync(path),
  readdirSync: (path) => fs.readdirSync(path),
  mkdirSync: (path, options) => fs.mkdirSync(path, options),
  existsSync: (path) => fs.existsSync(path),
};

/** Write all of `buf[0, length)` at `position`, looping over short writes (bounded: a write of 0 bytes is an error). */
export function writeFully(fsl: FsLike, fd: number, buf: Uint8Array, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = fsl.writeSync(fd, buf, done, length - done, position + done);
    if (n <= 0) throw new Error(`short write: wrote ${done} of ${length} bytes and the next write returned ${n}`);
    done += n;
  }
}

/** Read exactly `length` bytes at `position` into `buf[offset...]`; returns the number read (less only at end of file). */
export function readFully(fsl: FsLike, fd: number, buf: Uint8Array, offset: number, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = fsl.readSync(fd, buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** fsync a directory so that creates, renames and unlinks in it are durable. */
export function fsyncDir(fsl: FsLike, dir: string): void {
  const fd = fsl.openSync(dir, 'r');
  try {
    fsl.fsyncSync(fd);
  } finally {
    fsl.closeSync(fd);
  }
}

/** An open file of {@link SnapshotFs}: the part of `fs/promises`' FileHandle the snapshot store uses. */
export interface SnapshotFileHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  /** fsync (data and metadata; on a directory: its entries). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file-system calls of the snapshot store: {@link FsLike} plus the asynchronous calls that
 * stream snapshots in and out without blocking the event loop. Tests pass a power-cut model
 * (test/storage/power-cut-fs.ts) so a missing fsync of a snapshot is seen; production passes
 * {@link nodeSnapshotFs}.
 */
export interface SnapshotFs extends FsLike {
  statSync(path: string): { ino: number; size: number; mtimeMs: number };
  open(path: string, flags: string, mode?: number): Promise<SnapshotFileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

/** The real file system for the snapshot store (`fs/promises` looked up at each call, so tests may mock it). */
export const nodeSnapshotFs: SnapshotFs = {
  ...nodeFs,
  statSync: (path) => fs.statSync(path),
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
};

/**
 * `mkdir -p dir`, then fsync the parent of every level it created, so each new entry is durable
 * (a power cut after an fsync of `dir`'s contents must not lose `dir` itself).
 */
export function mkdirDurable(fsl: FsLike, dir: string): void {
  const created: string[] = [];
  for (let d = dir; !fsl.existsSync(d) && path.dirname(d) !== d; d = path.dirname(d)) created.push(d);
  if (created.length === 0) return;
  fsl.mkdirSync(dir, { recursive: true });
  for (const d of created) fsyncDir(fsl, path.dirname(d));
}
