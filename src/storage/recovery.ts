/**
 * Rebuilding the in-memory index from the segment files when the WAL is opened.
 *
 * Why this is strict: the only damage a crash can cause is a torn tail — the last, unfinished
 * write at the end of the last segment — and only that may be cut off (with a warning). A bad
 * record followed by any valid record, damage in an earlier segment, or a gap between segments
 * cannot come from a crash, so it is reported as CorruptionError (file, byte offset, how to
 * recover) instead of silently dropping acknowledged entries.
 */
import path from 'node:path';
import { CorruptionError } from '../errors.ts';
import type { Log } from '../log.ts';
import { TEMP_SUFFIX } from './atomic-file.ts';
import { type FsLike, readFully } from './fs-like.ts';
import type { LogMeta } from './meta-files.ts';
import {
  ENTRY_FIXED_BYTES,
  RECORD_COMMIT,
  RECORD_ENTRY,
  SEGMENT_HEADER_BYTES,
  checkRecord,
  decodeSegmentHeader,
  encodeSegmentHeader,
  readU64,
} from './record.ts';
import { Segment, parseSegmentFileName } from './segment.ts';

export interface Recovered {
  /** Live segments in log order; the last one has an open descriptor. May be empty. */
  readonly segments: Segment[];
  /** The highest commit index found in commit records (0 if none). */
  readonly maxCommit: number;
}

/** Offset of the first valid record at or after `from`, or -1. */
function findValidRecord(buf: Buffer, from: number, end: number): number {
  for (let y = from; y + 9 <= end; y++) {
    const type = buf[y + 8];
    if (type !== RECORD_ENTRY && type !== RECORD_COMMIT) continue;
    if (typeof checkRecord(buf, y, end) === 'number') return y;
  }
  return -1;
}

const ZEROS = Buffer.alloc(64 * 1024);

/** Whether buf[from, end) is all zero bytes. */
function isZero(buf: Buffer, from: number, end: number): boolean {
  for (let p = from; p < end; p += ZEROS.length) {
    const n = Math.min(ZEROS.length, end - p);
    if (buf.compare(ZEROS, 0, n, p, p + n) !== 0) return false;
  }
  return true;
}

interface FileInfo {
  readonly name: string;
  readonly path: string;
  readonly firstIndex: number;
  readonly fd: number;
  readonly size: number;
  /** Header, or null when the header itself is damaged. */
  readonly header: { generation: number; firstIndex: number } | null;
  readonly headerProblem: string;
}

/** Scan `dir` and rebuild the segments. Opens descriptors on the last segment only. */
export function recoverSegments(fsl: FsLike, dir: string, meta: LogMeta, log: Log): Recovered {
  const names = fsl.readdirSync(dir).sort();
  for (const n of names) {
    if (n.endsWith(TEMP_SUFFIX)) {
      fsl.unlinkSync(path.join(dir, n));
      log.info({ file: n }, 'removed a leftover temp file');
    }
  }
  const files: FileInfo[] = [];
  const headerBuf = Buffer.alloc(SEGMENT_HEADER_BYTES);
  try {
    for (const name of names) {
      const firstIndex = parseSegmentFileName(name);
      if (firstIndex === null) continue;
      const p = path.join(dir, name);
      const fd = fsl.openSync(p, 'r+');
      const size = fsl.fstatSync(fd).size;
      const got = readFully(fsl, fd, headerBuf, 0, SEGMENT_HEADER_BYTES, 0);
      const h = decodeSegmentHeader(headerBuf.subarray(0, got));
      const info: FileInfo =
        typeof h === 'string'
          ? { name, path: p, firstIndex, fd, size, header: null, headerProblem: h }
          : { name, path: p, firstIndex, fd, size, header: h, headerProblem: '' };
      if (info.header !== null) {
        if (info.header.firstIndex !== firstIndex) {
          fsl.closeSync(fd);
          throw new CorruptionError(p, 12, `header says the first index is ${info.header.firstIndex}, the file name says ${firstIndex}`);
        }
        if (info.header.generation < meta.generation) {
          // Written before a snapshot replaced the whole log (applySnapshot); its entries are void.
          fsl.closeSync(fd);
          fsl.unlinkSync(p);
          log.info(
            { file: p, generation: info.header.generation, current: meta.generation },
            'removed a segment that predates the installed snapshot',
          );
          continue;
        }
        if (info.header.generation > meta.generation) {
          fsl.closeSync(fd);
          throw new CorruptionError(
            p,
            8,
            `segment generation ${info.header.generation} is newer than the log metadata's ${meta.generation}`,
          );
        }
      }
      files.push(info);
    }
  } catch (err) {
    for (const f of files) fsl.closeSync(f.fd);
    throw err;
  }

  const segments: Segment[] = [];
  let maxCommit = 0;
  let scratch = Buffer.alloc(0);
  try {
    for (let i = 0; i < files.length; i++) {
      const f = files[i] as FileInfo;
      const isLast = i === files.length - 1;
      if (scratch.length < f.size) scratch = Buffer.allocUnsafe(Math.max(f.size, scratch.length * 2));
      const buf = scratch;
      readFully(fsl, f.fd, buf, 0, f.size, 0);
      if (f.header === null) {
        if (!isLast || findValidRecord(buf, 0, f.size) !== -1) throw new CorruptionError(f.path, 0, f.headerProblem);
        // A segment whose creation was cut short: start it afresh.
        const header = encodeSegmentHeader(meta.generation, f.firstIndex);
        fsl.ftruncateSync(f.fd, 0);
        fsl.writeSync(f.fd, header, 0, header.length, 0);
        fsl.fsyncSync(f.fd);
        log.warn({ file: f.path, detail: f.headerProblem, droppedBytes: f.size }, 'WAL: rewrote the torn header of the last segment');
        const seg = new Segment(dir, f.firstIndex, meta.generation, SEGMENT_HEADER_BYTES);
        seg.fd = f.fd;
        segments.push(seg);
        continue;
      }
      // Capacity guess: ~100-byte entries; trimmed below once the segment is known to be sealed.
      const seg = new Segment(dir, f.firstIndex, f.header.generation, f.size, Math.ceil(f.size / 128));
      seg.fd = f.fd;
      segments.push(seg);
      let pos = SEGMENT_HEADER_BYTES;
      let bad = '';
      while (pos < f.size) {
        const r = checkRecord(buf, pos, f.size);
        if (typeof r === 'string') {
          bad = r;
          break;
        }
        if (buf[pos + 8] === RECORD_ENTRY) {
          const index = readU64(buf, pos + 9);
          const expected = seg.firstIndex + seg.count;
          if (index !== expected) {
            throw new CorruptionError(f.path, pos, `entry record has index ${index}, expected ${expected} (records out of sequence)`);
          }
          seg.push(pos, readU64(buf, pos + 17), r - 9 - ENTRY_FIXED_BYTES);
        } else {
          const c = readU64(buf, pos + 9);
          if (c > maxCommit) maxCommit = c;
        }
        pos += r;
      }
      seg.size = pos;
      seg.fileSize = f.size;
      if (bad !== '' && isZero(buf, pos, f.size)) bad = ''; // the preallocated, never written end of the file
      if (bad !== '') {
        if (!isLast) throw new CorruptionError(f.path, pos, `${bad} in a segment that is not the last one`);
        const next = findValidRecord(buf, pos + 1, f.size);
        if (next !== -1) throw new CorruptionError(f.path, pos, `${bad}, and a valid record follows at offset ${next}`);
        fsl.ftruncateSync(f.fd, pos);
        fsl.fsyncSync(f.fd);
        log.warn(
          { file: f.path, offset: pos, droppedBytes: f.size - pos, detail: bad },
          'WAL: truncated a torn tail (an unfinished write at the end of the last segment)',
        );
        seg.fileSize = pos;
      }
      if (!isLast) {
        fsl.closeSync(f.fd);
        seg.fd = -1;
        seg.trim();
      }
    }
  } catch (err) {
    for (const s of segments) if (s.fd >= 0) fsl.closeSync(s.fd);
    for (const f of files.slice(segments.length)) fsl.closeSync(f.fd);
    throw err;
  }

  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1] as Segment;
    const s = segments[i] as Segment;
    if (s.firstIndex !== prev.lastIndex + 1) {
      for (const x of segments) if (x.fd >= 0) fsl.closeSync(x.fd);
      throw new CorruptionError(
        s.path,
        0,
        `segment starts at index ${s.firstIndex} but the previous one (${prev.path}) ends at ${prev.lastIndex}`,
      );
    }
  }
  return { segments, maxCommit };
}
