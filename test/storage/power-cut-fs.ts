/**
 * An in-memory file system (the WAL's `FsLike`, the snapshot store's {@link SnapshotFs})
 * that models what survives a power cut.
 *
 * Why: kill -9 keeps the page cache, so a crash test over the real file system cannot tell a
 * missing fsync from a present one. Here every write that no fsync has made durable stays
 * volatile, and {@link PowerCutFs.reboot} computes what a disk would hold after the power died:
 *
 * - File data and size become durable by fsync/fdatasync of that file (the asynchronous
 *   fdatasync too, when its callback runs). write, ftruncate and an open with 'w' (truncation)
 *   are volatile until then.
 * - A directory entry (a create, a rename, an unlink, a mkdir) becomes durable only by fsync of the
 *   directory holding it (fsyncDir opens the directory and fsyncs that descriptor). fsync of a file
 *   does not make its own name durable (POSIX; ext4 often does it anyway, we do not count on it).
 * - At the cut, by default ('drop') all of that is lost. Seeded modes keep some of it instead:
 *   'prefix' keeps a random prefix of each file's unsynced writes, the last kept one torn at a
 *   512-byte sector boundary, and a random prefix of each directory's unsynced entry changes
 *   (a journaling file system keeps metadata in order); 'reorder' keeps a random subset of each
 *   file's unsynced sectors and truncations (the disk wrote them back out of order).
 *
 * Bug detection: `skipSync` turns matching fsync/fdatasync calls into no-ops (exactly "this fsync
 * was removed from the code"), told apart by path and by the calling function (the stack), and
 * `lateAsyncSync` runs the callback of the asynchronous fdatasync before the data is durable
 * (a saveAsync that resolves before its fdatasync). `armCut(n)` kills the "process" at its n-th
 * file-system call: that call and every later one throws {@link PowerCutError} until reboot().
 *
 * The asynchronous calls of SnapshotFs (open, a handle's read/write/sync/close, rename, unlink)
 * count as one call each and take effect when made (as if the thread pool ran them at once); the
 * caller hears a macrotask later, or gets PowerCutError if the power went in between.
 */
import path from 'node:path';
import type { SnapshotFileHandle, SnapshotFs } from '../../src/storage/fs-like.ts';
import { Prng } from '../sim/prng.ts';

export const SECTOR_BYTES = 512;

/** What survives of the writes no fsync made durable. */
export type CutMode = 'drop' | 'prefix' | 'reorder';

/** A sync call the test may turn into a no-op. */
export interface SyncCall {
  readonly call: 'fsync' | 'fdatasync' | 'fdatasync-async';
  /** Absolute path the descriptor was opened with. */
  readonly path: string;
  readonly dir: boolean;
  /** The JavaScript stack of the call (computed lazily: only when skipSync is set). */
  readonly stack: string;
}

export interface PowerCutFsOptions {
  /** Seed of the random choices of 'prefix' and 'reorder' cuts. Default 1. */
  readonly seed?: number;
  /** Default mode of reboot(). Default 'drop'. */
  readonly mode?: CutMode;
  /** True: this sync does nothing (the fsync was removed). */
  readonly skipSync?: (s: SyncCall) => boolean;
  /** The asynchronous fdatasync calls back first and makes the data durable only a macrotask later. */
  readonly lateAsyncSync?: boolean;
  /** Directories created durably up front (parents included). */
  readonly dirs?: readonly string[];
}

/** Thrown by every call once the power is cut (the process is dead). */
export class PowerCutError extends Error {
  readonly code = 'EPOWERCUT';
  constructor(what: string) {
    super(`power cut (during ${what})`);
    this.name = 'PowerCutError';
  }
}

type FileOp =
  | { readonly kind: 'write'; readonly pos: number; readonly bytes: Buffer }
  | { readonly kind: 'truncate'; readonly len: number };
/** One atomic change of a directory: names set to an inode or removed (null). */
type DirOp = ReadonlyArray<readonly [string, number | null]>;

interface Inode {
  readonly ino: number;
  readonly dir: boolean;
  // Files: the page cache view, and what the disk holds.
  data: Buffer;
  size: number;
  durData: Buffer;
  pending: FileOp[];
  // Directories.
  entries: Map<string, number>;
  durEntries: Map<string, number>;
  pendingDir: DirOp[];
  /** Bumped by every change of a file's content or size (statSync's mtimeMs). */
  version: number;
}

interface Handle {
  readonly ino: number;
  readonly path: string;
  readonly read: boolean;
  readonly write: boolean;
  readonly append: boolean;
}

const FS_METHODS = [
  'openSync',
  'closeSync',
  'readSync',
  'writeSync',
  'fsyncSync',
  'fdatasyncSync',
  'fdatasync',
  'ftruncateSync',
  'fstatSync',
  'renameSync',
  'unlinkSync',
  'readdirSync',
  'mkdirSync',
  'existsSync',
  'statSync',
  'open',
  'rename',
  'unlink',
] as const satisfies readonly (keyof SnapshotFs)[];

function errno(code: string, syscall: string, p?: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: ${syscall}${p === undefined ? '' : ` '${p}'`} (power-cut fs)`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  if (p !== undefined) err.path = p;
  return err;
}

/** Counters of a run, for tests that must see the model at work. */
export interface PowerCutStats {
  cuts: number;
  /** Bytes written that a cut discarded (never made durable). */
  bytesLost: number;
  /** Directory changes a cut discarded. */
  dirOpsLost: number;
  /** Sync calls skipped by skipSync. */
  syncsSkipped: number;
  syncs: number;
}

export class PowerCutFs implements SnapshotFs {
  private readonly inodes = new Map<number, Inode>();
  private readonly handles = new Map<number, Handle>();
  private nextIno = 1;
  /** Descriptor numbers are never reused, so a stale one from before a cut cannot reach a new file. */
  private nextFd = 1000;
  private readonly rng: Prng;
  private readonly opts: PowerCutFsOptions;
  private dead = false;
  /** Incremented by every reboot: an asynchronous reply from before it is never delivered as a success. */
  private boot = 0;
  private cutAt = -1;
  /** File-system calls since construction (armCut counts from here). */
  calls = 0;
  /** Asynchronous syncs in flight: failed with PowerCutError at the cut so no caller waits forever. */
  private readonly inflight = new Set<(err: Error) => void>();
  readonly stats: PowerCutStats = { cuts: 0, bytesLost: 0, dirOpsLost: 0, syncsSkipped: 0, syncs: 0 };

  constructor(opts: PowerCutFsOptions = {}) {
    this.opts = opts;
    this.rng = new Prng(opts.seed ?? 1);
    this.inodes.set(0, this.newInode(0, true));
    for (const d of opts.dirs ?? []) this.mkdirDurable(d);
    // The WAL wraps its fs with Object.create (transient.ts): bound methods keep `this` the real instance.
    for (const k of FS_METHODS) {
      const self = this as unknown as Record<string, (...a: unknown[]) => unknown>;
      self[k] = (self[k] as (...a: unknown[]) => unknown).bind(this);
    }
  }

  private newInode(ino: number, dir: boolean): Inode {
    return {
      ino,
      dir,
      data: Buffer.alloc(0),
      size: 0,
      durData: Buffer.alloc(0),
      pending: [],
      entries: new Map(),
      durEntries: new Map(),
      pendingDir: [],
      version: 0,
    };
  }

  // ---- power ------------------------------------------------------------------------------------

  /** True between the cut and reboot(). */
  get isDead(): boolean {
    return this.dead;
  }

  /** Cut the power at the n-th file-system call from now (n ≥ 1): that call does not happen. */
  armCut(n: number): void {
    this.cutAt = this.calls + Math.max(1, n);
  }

  /** Forget an armed cut. */
  disarm(): void {
    this.cutAt = -1;
  }

  /** Cut the power now (no further call succeeds until reboot()). */
  die(what = 'an explicit cut'): void {
    if (this.dead) return;
    this.dead = true;
    this.cutAt = -1;
    const waiting = [...this.inflight];
    this.inflight.clear();
    for (const fail of waiting) fail(new PowerCutError(what));
  }

  /** Cut the power now and boot again: only what was durable (plus what the mode keeps) remains. */
  powerCut(mode?: CutMode): void {
    this.die();
    this.reboot(mode);
  }

  /** Boot after a cut: apply the loss model, forget every descriptor. */
  reboot(mode: CutMode = this.opts.mode ?? 'drop'): void {
    this.die('reboot');
    this.stats.cuts++;
    this.boot++;
    this.handles.clear();
    this.inflight.clear();
    for (const node of this.inodes.values()) {
      if (node.dir) this.settleDir(node, mode);
      else this.settleFile(node, mode);
    }
    // Keep only what the durable directory tree reaches.
    const reachable = new Set<number>([0]);
    const stack = [0];
    while (stack.length > 0) {
      const node = this.inodes.get(stack.pop() as number) as Inode;
      if (!node.dir) continue;
      for (const ino of node.entries.values()) {
        if (!reachable.has(ino) && this.inodes.has(ino)) {
          reachable.add(ino);
          stack.push(ino);
        }
      }
    }
    for (const ino of [...this.inodes.keys()]) if (!reachable.has(ino)) this.inodes.delete(ino);
    for (const node of this.inodes.values()) {
      if (!node.dir) continue;
      for (const [name, ino] of [...node.entries]) if (!this.inodes.has(ino)) node.entries.delete(name);
      node.durEntries = new Map(node.entries);
    }
    this.dead = false;
  }

  private settleDir(node: Inode, mode: CutMode): void {
    const keep = mode === 'drop' ? 0 : this.rng.int(node.pendingDir.length + 1);
    const entries = new Map(node.durEntries);
    node.pendingDir.forEach((op, k) => {
      if (k >= keep) {
        this.stats.dirOpsLost++;
        return;
      }
      for (const [name, ino] of op) {
        if (ino === null) entries.delete(name);
        else entries.set(name, ino);
      }
    });
    node.entries = entries;
    node.pendingDir = [];
  }

  private settleFile(node: Inode, mode: CutMode): void {
    let data: Buffer = Buffer.from(node.durData);
    const apply = (op: FileOp, from = 0, to = Number.POSITIVE_INFINITY): void => {
      if (op.kind === 'truncate') {
        data = resize(data, op.len);
        return;
      }
      const lo = Math.max(op.pos, from);
      const hi = Math.min(op.pos + op.bytes.length, to);
      if (hi <= lo) return;
      if (data.length < hi) data = resize(data, hi);
      op.bytes.copy(data, lo, lo - op.pos, hi - op.pos);
    };
    const ops = node.pending;
    if (mode === 'prefix' && ops.length > 0) {
      const keep = this.rng.int(ops.length + 1);
      for (let k = 0; k < keep; k++) apply(ops[k] as FileOp);
      const torn = ops[keep];
      if (torn !== undefined && torn.kind === 'write') {
        // Sector boundaries inside the write; keep the bytes up to one of them.
        const cuts = sectorCuts(torn.pos, torn.pos + torn.bytes.length);
        apply(torn, torn.pos, cuts[this.rng.int(cuts.length)] as number);
      }
    } else if (mode === 'reorder') {
      for (const op of ops) {
        if (op.kind === 'truncate') {
          if (this.rng.chance(0.5)) apply(op);
          continue;
        }
        const cuts = sectorCuts(op.pos, op.pos + op.bytes.length);
        for (let k = 0; k + 1 < cuts.length; k++) if (this.rng.chance(0.5)) apply(op, cuts[k], cuts[k + 1]);
      }
    }
    for (const op of ops) if (op.kind === 'write') this.stats.bytesLost += op.bytes.length;
    node.data = data;
    node.size = data.length;
    node.durData = Buffer.from(data);
    node.pending = [];
    node.version++;
  }

  private enter(what: string): void {
    if (this.dead) throw new PowerCutError(what);
    this.calls++;
    if (this.cutAt >= 0 && this.calls >= this.cutAt) {
      this.die(what);
      throw new PowerCutError(what);
    }
  }

  // ---- paths ------------------------------------------------------------------------------------

  private parts(p: string): string[] {
    return path
      .resolve(p)
      .split('/')
      .filter((s) => s !== '');
  }

  /** Inode of `p`, or undefined. */
  private lookup(p: string): Inode | undefined {
    let node = this.inodes.get(0) as Inode;
    for (const name of this.parts(p)) {
      if (!node.dir) return undefined;
      const ino = node.entries.get(name);
      if (ino === undefined) return undefined;
      node = this.inodes.get(ino) as Inode;
    }
    return node;
  }

  /** Parent directory inode and base name of `p`. */
  private parentOf(p: string, syscall: string): [Inode, string] {
    const abs = path.resolve(p);
    const parent = this.lookup(path.dirname(abs));
    if (parent === undefined) throw errno('ENOENT', syscall, p);
    if (!parent.dir) throw errno('ENOTDIR', syscall, p);
    return [parent, path.basename(abs)];
  }

  private changeDir(dir: Inode, op: DirOp): void {
    for (const [name, ino] of op) {
      if (ino === null) dir.entries.delete(name);
      else dir.entries.set(name, ino);
    }
    dir.pendingDir.push(op);
  }

  private handle(fd: number, syscall: string): Handle {
    const h = this.handles.get(fd);
    if (h === undefined) throw errno('EBADF', syscall);
    return h;
  }

  private file(h: Handle): Inode {
    return this.inodes.get(h.ino) as Inode;
  }

  /** Create `p` and its parents and make them durable at once (test setup, not the code under test). */
  mkdirDurable(p: string): void {
    let node = this.inodes.get(0) as Inode;
    for (const name of this.parts(p)) {
      let ino = node.entries.get(name);
      if (ino === undefined) {
        ino = this.nextIno++;
        this.inodes.set(ino, this.newInode(ino, true));
        node.entries.set(name, ino);
        node.durEntries.set(name, ino);
      }
      node = this.inodes.get(ino) as Inode;
    }
  }

  /** The current (page cache) content of a file, or null: for test assertions. */
  peek(p: string): Buffer | null {
    const node = this.lookup(p);
    return node === undefined || node.dir ? null : Buffer.from(node.data.subarray(0, node.size));
  }

  /** Open descriptors (leak checks). */
  get openFds(): number {
    return this.handles.size;
  }

  // ---- FsLike -----------------------------------------------------------------------------------

  openSync(p: string, flags: string, _mode?: number): number {
    this.enter(`open ${p}`);
    const f = flags.replace('s', '');
    const create = /[wax]/.test(f);
    const excl = f.includes('x');
    const trunc = f.includes('w');
    const append = f.includes('a');
    const read = f.includes('r') || f.includes('+');
    const write = f !== 'r';
    let node = this.lookup(p);
    if (node !== undefined && excl) throw errno('EEXIST', 'open', p);
    if (node === undefined) {
      if (!create) throw errno('ENOENT', 'open', p);
      const [parent, name] = this.parentOf(p, 'open');
      node = this.newInode(this.nextIno++, false);
      this.inodes.set(node.ino, node);
      this.changeDir(parent, [[name, node.ino]]);
    } else if (node.dir && write) {
      throw errno('EISDIR', 'open', p);
    } else if (trunc && node.size > 0) {
      node.size = 0;
      node.version++;
      node.pending.push({ kind: 'truncate', len: 0 });
    }
    const fd = this.nextFd++;
    this.handles.set(fd, { ino: node.ino, path: path.resolve(p), read, write, append });
    return fd;
  }

  closeSync(fd: number): void {
    this.enter('close');
    this.handle(fd, 'close');
    this.handles.delete(fd);
  }

  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    this.enter('read');
    const h = this.handle(fd, 'read');
    const node = this.file(h);
    if (node.dir) throw errno('EISDIR', 'read', h.path);
    if (!h.read) throw errno('EBADF', 'read', h.path);
    const n = Math.max(0, Math.min(length, node.size - position));
    if (n > 0) node.data.copy(buffer, offset, position, position + n);
    return n;
  }

  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    this.enter('write');
    const h = this.handle(fd, 'write');
    const node = this.file(h);
    if (node.dir || !h.write) throw errno('EBADF', 'write', h.path);
    const pos = h.append ? node.size : position;
    const bytes = Buffer.from(buffer.subarray(offset, offset + length));
    const end = pos + length;
    if (node.data.length < end) node.data = resize(node.data, Math.max(end, node.data.length * 2), node.size);
    bytes.copy(node.data, pos);
    if (end > node.size) node.size = end;
    node.version++;
    node.pending.push({ kind: 'write', pos, bytes });
    return length;
  }

  ftruncateSync(fd: number, len: number): void {
    this.enter('ftruncate');
    const h = this.handle(fd, 'ftruncate');
    const node = this.file(h);
    if (node.dir || !h.write) throw errno('EBADF', 'ftruncate', h.path);
    if (len < node.size) node.data.fill(0, len, node.size);
    if (node.data.length < len) node.data = resize(node.data, len, node.size);
    node.size = len;
    node.version++;
    node.pending.push({ kind: 'truncate', len });
  }

  fstatSync(fd: number): { size: number } {
    this.enter('fstat');
    const node = this.file(this.handle(fd, 'fstat'));
    return { size: node.dir ? 4096 : node.size };
  }

  fsyncSync(fd: number): void {
    this.enter('fsync');
    this.sync(this.handle(fd, 'fsync'), 'fsync');
  }

  fdatasyncSync(fd: number): void {
    this.enter('fdatasync');
    this.sync(this.handle(fd, 'fdatasync'), 'fdatasync');
  }

  fdatasync(fd: number, callback: (err: NodeJS.ErrnoException | null) => void): void {
    this.enter('fdatasync (async)');
    const h = this.handles.get(fd);
    const skip = h !== undefined && this.skipped(h, 'fdatasync-async');
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      this.inflight.delete(finish);
      callback(err as NodeJS.ErrnoException | null);
    };
    this.inflight.add(finish);
    // The thread pool runs the sync later; a cut before then loses it (and the caller hears of the cut).
    setImmediate(() => {
      if (done || this.dead) return;
      try {
        this.enter('fdatasync (async) completing');
      } catch {
        return; // the cut struck while the thread pool synced: die() failed the callback
      }
      const cur = this.handles.get(fd);
      if (cur === undefined || cur !== h) {
        finish(errno('EBADF', 'fdatasync'));
        return;
      }
      if (this.opts.lateAsyncSync === true) {
        finish(null);
        setImmediate(() => {
          if (!this.dead && this.handles.get(fd) === h && !skip) this.makeDurable(this.file(h));
        });
        return;
      }
      if (!skip) this.makeDurable(this.file(h));
      this.stats.syncs++;
      finish(null);
    });
  }

  private skipped(h: Handle, call: SyncCall['call']): boolean {
    const skip = this.opts.skipSync;
    if (skip === undefined) return false;
    const node = this.file(h);
    const s: SyncCall = {
      call,
      path: h.path,
      dir: node.dir,
      get stack() {
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 64;
        try {
          return new Error().stack ?? '';
        } finally {
          Error.stackTraceLimit = limit;
        }
      },
    };
    if (!skip(s)) return false;
    this.stats.syncsSkipped++;
    return true;
  }

  private sync(h: Handle, call: 'fsync' | 'fdatasync'): void {
    if (this.skipped(h, call)) return;
    this.stats.syncs++;
    this.makeDurable(this.file(h));
  }

  private makeDurable(node: Inode): void {
    if (node.dir) {
      node.durEntries = new Map(node.entries);
      node.pendingDir = [];
    } else {
      node.durData = Buffer.from(node.data.subarray(0, node.size));
      node.pending = [];
    }
  }

  renameSync(from: string, to: string): void {
    this.enter(`rename ${from}`);
    const node = this.lookup(from);
    if (node === undefined) throw errno('ENOENT', 'rename', from);
    const target = this.lookup(to);
    if (target?.dir === true) throw errno('EISDIR', 'rename', to);
    const [pa, na] = this.parentOf(from, 'rename');
    const [pb, nb] = this.parentOf(to, 'rename');
    if (pa === pb) {
      this.changeDir(pa, [
        [na, null],
        [nb, node.ino],
      ]);
    } else {
      this.changeDir(pa, [[na, null]]);
      this.changeDir(pb, [[nb, node.ino]]);
    }
  }

  unlinkSync(p: string): void {
    this.enter(`unlink ${p}`);
    const node = this.lookup(p);
    if (node === undefined) throw errno('ENOENT', 'unlink', p);
    if (node.dir) throw errno('EISDIR', 'unlink', p);
    const [parent, name] = this.parentOf(p, 'unlink');
    this.changeDir(parent, [[name, null]]);
  }

  readdirSync(p: string): string[] {
    this.enter(`readdir ${p}`);
    const node = this.lookup(p);
    if (node === undefined) throw errno('ENOENT', 'scandir', p);
    if (!node.dir) throw errno('ENOTDIR', 'scandir', p);
    return [...node.entries.keys()].sort();
  }

  mkdirSync(p: string, options: { recursive: boolean }): unknown {
    this.enter(`mkdir ${p}`);
    const parts = this.parts(p);
    let node = this.inodes.get(0) as Inode;
    let created: string | undefined;
    for (let k = 0; k < parts.length; k++) {
      const name = parts[k] as string;
      const ino = node.entries.get(name);
      if (ino !== undefined) {
        node = this.inodes.get(ino) as Inode;
        if (!node.dir) throw errno('ENOTDIR', 'mkdir', p);
        if (k === parts.length - 1 && !options.recursive) throw errno('EEXIST', 'mkdir', p);
        continue;
      }
      if (!options.recursive && k < parts.length - 1) throw errno('ENOENT', 'mkdir', p);
      const child = this.newInode(this.nextIno++, true);
      this.inodes.set(child.ino, child);
      this.changeDir(node, [[name, child.ino]]);
      created ??= `/${parts.slice(0, k + 1).join('/')}`;
      node = child;
    }
    return options.recursive ? created : undefined;
  }

  existsSync(p: string): boolean {
    this.enter(`exists ${p}`);
    return this.lookup(p) !== undefined;
  }

  // ---- SnapshotFs (asynchronous calls) ----------------------------------------------------------

  statSync(p: string): { ino: number; size: number; mtimeMs: number } {
    this.enter(`stat ${p}`);
    const node = this.lookup(p);
    if (node === undefined) throw errno('ENOENT', 'stat', p);
    return { ino: node.ino, size: node.dir ? 4096 : node.size, mtimeMs: node.version };
  }

  open(p: string, flags: string, mode?: number): Promise<SnapshotFileHandle> {
    try {
      return this.reply(`open ${p}`, new PowerCutFile(this, this.openSync(p, flags, mode)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  rename(from: string, to: string): Promise<void> {
    try {
      this.renameSync(from, to);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.reply(`rename ${from}`, undefined);
  }

  unlink(p: string): Promise<void> {
    try {
      this.unlinkSync(p);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.reply(`unlink ${p}`, undefined);
  }

  /** The answer of an asynchronous call whose effect already happened: delivered a macrotask later, unless the power went meanwhile. */
  reply<T>(what: string, value: T): Promise<T> {
    const boot = this.boot;
    return new Promise<T>((resolve, reject) => {
      setImmediate(() => {
        if (this.dead || this.boot !== boot) reject(new PowerCutError(what));
        else resolve(value);
      });
    });
  }
}

/** An open file of {@link PowerCutFs} for its asynchronous API (`fs/promises`' FileHandle). */
class PowerCutFile implements SnapshotFileHandle {
  private readonly pcfs: PowerCutFs;
  private readonly fd: number;

  constructor(pcfs: PowerCutFs, fd: number) {
    this.pcfs = pcfs;
    this.fd = fd;
  }

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    let bytesRead: number;
    try {
      bytesRead = this.pcfs.readSync(this.fd, buffer, offset, length, position);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.pcfs.reply('read', { bytesRead });
  }

  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    let bytesWritten: number;
    try {
      bytesWritten = this.pcfs.writeSync(this.fd, buffer, offset, length, position);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.pcfs.reply('write', { bytesWritten });
  }

  sync(): Promise<void> {
    try {
      this.pcfs.fsyncSync(this.fd);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.pcfs.reply('fsync', undefined);
  }

  close(): Promise<void> {
    try {
      this.pcfs.closeSync(this.fd);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.pcfs.reply('close', undefined);
  }
}

/** A copy of `buf` with length `len` (zero-filled when growing); only the first `keep` bytes are copied. */
function resize(buf: Buffer, len: number, keep = buf.length): Buffer {
  const out = Buffer.alloc(len);
  buf.copy(out, 0, 0, Math.min(keep, len, buf.length));
  return out;
}

/** The possible ends of a write [lo, hi) torn at sector boundaries: lo, every boundary inside, hi. */
function sectorCuts(lo: number, hi: number): number[] {
  const out = [lo];
  for (let b = (Math.floor(lo / SECTOR_BYTES) + 1) * SECTOR_BYTES; b < hi; b += SECTOR_BYTES) out.push(b);
  out.push(hi);
  return out;
}
