/**
 * Every fsync/fdatasync call site of src/storage that goes through FsLike, as a predicate over a
 * {@link SyncCall}: the bug-detection tests switch one site off at a time (the sync was
 * "removed") and require the power-cut checks to report the loss.
 *
 * Why by the calling function's name: the same call (fsyncSync on a segment descriptor) is made
 * by several sites; the stack tells them apart without touching production code. Each test also
 * requires that its predicate matched at least one call, so a renamed function fails loudly
 * instead of silently testing nothing.
 */
import type { SyncCall } from './power-cut-fs.ts';

/** Frames that say nothing about the site (wrappers, the fs itself). */
const IGNORED = new Set(['io', 'fsyncDir', 'wrapIo']);

/** Names of the calling functions, innermost first, class prefixes removed (e.g. ['save', 'runOp']). */
export function callers(s: SyncCall): string[] {
  const out: string[] = [];
  const lines = s.stack.split('\n');
  // Everything up to the fs's own frames is the predicate asking; the callers come after.
  let from = 1;
  lines.forEach((line, k) => {
    if (line.includes('PowerCutFs.') || line.includes('PowerCutFile.')) from = k + 1;
  });
  for (const line of lines.slice(from)) {
    const m = /^\s*at (?:async )?(?:new )?([^\s(]+(?: [^\s(]+)?) \(/.exec(line) ?? /^\s*at (?:async )?([^\s(]+)\s*$/.exec(line);
    if (m === null) continue;
    const full = m[1] as string;
    if (full.startsWith('PowerCutFs.') || full.startsWith('PowerCutFile.') || full === '<anonymous>' || full === 'Promise') continue;
    const name = full.includes('.') ? full.slice(full.lastIndexOf('.') + 1) : full;
    if (IGNORED.has(name) || IGNORED.has(full)) continue;
    out.push(name);
  }
  return out;
}

export interface SyncSite {
  readonly name: string;
  /** Where it is (file: function). */
  readonly where: string;
  readonly matches: (s: SyncCall) => boolean;
}

const first = (s: SyncCall): string => callers(s)[0] ?? '';
const second = (s: SyncCall): string => callers(s)[1] ?? '';

/** The sync sites whose removal must be caught (see src/storage/README.md, "Power cuts"). */
export const LOAD_BEARING_SITES: readonly SyncSite[] = [
  {
    name: 'hardstate temp file fsync',
    where: 'atomic-file.ts: writeAtomicJson (writeHardState)',
    matches: (s) => !s.dir && s.call === 'fsync' && first(s) === 'writeAtomicJson' && second(s) === 'writeHardState',
  },
  {
    name: 'hardstate rename directory fsync',
    where: 'atomic-file.ts: writeAtomicJson → fsyncDir (writeHardState)',
    matches: (s) => s.dir && first(s) === 'writeAtomicJson' && second(s) === 'writeHardState',
  },
  {
    name: 'logmeta temp file fsync',
    where: 'atomic-file.ts: writeAtomicJson (writeLogMeta)',
    matches: (s) => !s.dir && s.call === 'fsync' && first(s) === 'writeAtomicJson' && second(s) === 'writeLogMeta',
  },
  {
    name: 'logmeta rename directory fsync',
    where: 'atomic-file.ts: writeAtomicJson → fsyncDir (writeLogMeta)',
    matches: (s) => s.dir && first(s) === 'writeAtomicJson' && second(s) === 'writeLogMeta',
  },
  {
    name: 'save() fdatasync',
    where: 'wal-storage.ts: save',
    matches: (s) => !s.dir && s.call === 'fdatasync' && first(s) === 'save',
  },
  {
    name: 'saveAsync() fdatasync on the thread pool',
    where: 'wal-storage.ts: saveAsync',
    matches: (s) => s.call === 'fdatasync-async',
  },
  {
    name: 'saveAsync() inline fdatasync',
    where: 'wal-storage.ts: saveAsync (inlineSyncBelowMs)',
    matches: (s) => !s.dir && s.call === 'fdatasync' && first(s) === 'saveAsync',
  },
  {
    name: 'new segment directory fsync',
    where: 'wal-storage.ts: createSegment → fsyncDir',
    matches: (s) => s.dir && first(s) === 'createSegment',
  },
  {
    name: 'truncated segment fsync',
    where: 'wal-storage.ts: truncateSuffix',
    matches: (s) => !s.dir && first(s) === 'truncateSuffix',
  },
  {
    name: 'directory fsync after a truncation removed segments',
    where: 'wal-storage.ts: truncateSuffix → fsyncDir',
    matches: (s) => s.dir && first(s) === 'truncateSuffix',
  },
  {
    name: 'parent directory fsync after creating the WAL directory',
    where: 'wal-storage.ts: open → mkdirDurable (fs-like.ts)',
    matches: (s) => s.dir && first(s) === 'mkdirDurable' && second(s) === 'open',
  },
];

/**
 * The sync sites of the snapshot store (snapshot-store.ts), each load-bearing: a snapshot whose
 * commit() resolved is lost at a power cut without it (power-cut-snapshots.test.ts).
 */
export const SNAPSHOT_STORE_SITES: readonly SyncSite[] = [
  {
    name: 'snapshot temp file fsync before the rename',
    where: 'snapshot-store.ts: FileSnapshotWriter.commit',
    matches: (s) => !s.dir && s.call === 'fsync' && s.path.endsWith('.tmp') && first(s) === 'commit',
  },
  {
    name: 'snapshot directory fsync after the rename',
    where: 'snapshot-store.ts: FileSnapshotWriter.commit → syncDir',
    matches: (s) => s.dir && first(s) === 'syncDir' && second(s) === 'commit',
  },
  {
    name: 'parent directory fsync after creating the snapshot directory',
    where: 'snapshot-store.ts: new FileSnapshotStore → mkdirDurable (fs-like.ts)',
    matches: (s) => s.dir && first(s) === 'mkdirDurable' && second(s) === 'FileSnapshotStore',
  },
];
