/**
 * Small files replaced atomically: the hard state and the log metadata.
 *
 * Why: these files are rewritten in place of the old version and must never be seen empty or
 * half written after a crash, so the new content goes to a temp name, is fsynced, renamed over
 * the old file and the directory is fsynced. The content is framed with a magic number and a
 * CRC, so real damage (as opposed to a torn write, which the rename rules out) is detected.
 *
 * Format: magic u32 | crc u32 (over the JSON bytes) | length u32 | JSON.
 */
import path from 'node:path';
import { CorruptionError } from '../errors.ts';
import { crc32 } from './crc.ts';
import { type FsLike, fsyncDir, readFully, writeFully } from './fs-like.ts';
import { StorageFullError, isDiskFullError } from './transient.ts';

/** Suffix of temp files; anything ending in it is deleted on open. */
export const TEMP_SUFFIX = '.tmp';
const FRAME_BYTES = 12;
/** Bound on these files' size: they hold a few numbers and a membership list. */
const MAX_SMALL_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Atomically replace `dir/name` with `value` as framed JSON. Throws the raw fs error on failure,
 * except a full disk (ENOSPC/EDQUOT) while writing or syncing the temp file: the old file is still
 * in place and the temp file is removed, so that is StorageFullError (retry once space is freed).
 */
export function writeAtomicJson(fsl: FsLike, dir: string, name: string, magic: number, value: unknown): void {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  const buf = Buffer.alloc(FRAME_BYTES + json.length);
  buf.writeUInt32LE(magic, 0);
  buf.writeUInt32LE(crc32(json), 4);
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, FRAME_BYTES);
  const finalPath = path.join(dir, name);
  const tmpPath = finalPath + TEMP_SUFFIX;
  const fd = fsl.openSync(tmpPath, 'w', 0o644);
  try {
    writeFully(fsl, fd, buf, buf.length, 0);
    fsl.fsyncSync(fd);
  } catch (err) {
    if (!isDiskFullError(err)) throw err;
    try {
      fsl.unlinkSync(tmpPath);
    } catch {
      // a leftover temp file is deleted on the next open
    }
    throw new StorageFullError(`writing ${name}`, tmpPath, (err as NodeJS.ErrnoException).code as string, err);
  } finally {
    fsl.closeSync(fd);
  }
  fsl.renameSync(tmpPath, finalPath);
  fsyncDir(fsl, dir);
}

/** Read framed JSON from `dir/name`; null when the file does not exist; CorruptionError when damaged. */
export function readAtomicJson(fsl: FsLike, dir: string, name: string, magic: number): unknown {
  const p = path.join(dir, name);
  if (!fsl.existsSync(p)) return null;
  const fd = fsl.openSync(p, 'r');
  let buf: Buffer;
  try {
    const size = fsl.fstatSync(fd).size;
    if (size < FRAME_BYTES) throw new CorruptionError(p, 0, `file is ${size} bytes, shorter than its ${FRAME_BYTES}-byte frame`);
    if (size > MAX_SMALL_FILE_BYTES)
      throw new CorruptionError(p, 0, `file is ${size} bytes, more than the ${MAX_SMALL_FILE_BYTES} allowed`);
    buf = Buffer.alloc(size);
    readFully(fsl, fd, buf, 0, size, 0);
  } finally {
    fsl.closeSync(fd);
  }
  if (buf.readUInt32LE(0) !== magic) throw new CorruptionError(p, 0, `bad magic number 0x${buf.readUInt32LE(0).toString(16)}`);
  const len = buf.readUInt32LE(8);
  if (FRAME_BYTES + len !== buf.length)
    throw new CorruptionError(p, 8, `length field says ${len} bytes, the file holds ${buf.length - FRAME_BYTES}`);
  const json = buf.subarray(FRAME_BYTES);
  if (crc32(json) !== buf.readUInt32LE(4)) throw new CorruptionError(p, FRAME_BYTES, 'checksum mismatch');
  try {
    return JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw new CorruptionError(p, FRAME_BYTES, `checksum matches but the content is not JSON (${String(err)})`);
  }
}
