/**
 * Writing a backup stream to a file durably.
 *
 * Why not a plain pipe: a backup that is half written after a crash, or not fsynced, looks
 * valid until the day it is needed. Write to a temp name, fsync, rename, fsync the directory;
 * on any failure remove the temp file and cancel the download (an unread HTTP body would keep
 * the connection — and the process — waiting).
 */
import { existsSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The target of a backup cannot be written (missing directory, a directory given as the file, no permission, disk full). */
export class BackupFileError extends Error {
  readonly code = 'GRAFTD_BACKUP_FILE';
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'BackupFileError';
  }
}

/** Stop a download we will not read to the end. */
async function cancel(stream: AsyncIterable<Uint8Array>): Promise<void> {
  const destroyable = stream as { destroy?: (err?: Error) => void };
  try {
    if (typeof destroyable.destroy === 'function') destroyable.destroy();
    else await stream[Symbol.asyncIterator]().return?.();
  } catch {
    // already failed or finished: nothing more to stop
  }
}

function why(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === undefined ? String((err as Error).message ?? err) : code;
}

/** Check `file` can be the target of a backup before anything is downloaded. Throws BackupFileError. */
export function checkBackupTarget(file: string): void {
  if (file === '' || file.endsWith('/')) throw new BackupFileError(`backup target "${file}" is not a file name`);
  if (existsSync(file) && statSync(file).isDirectory()) {
    throw new BackupFileError(`${file} is a directory; give the backup a file name, e.g. ${join(file, 'graftd-backup.bin')}`);
  }
  const dir = dirname(file);
  if (!existsSync(dir)) throw new BackupFileError(`cannot write ${file}: directory ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new BackupFileError(`cannot write ${file}: ${dir} is not a directory`);
}

/**
 * Write `header` (if any) then `stream` to `file` atomically; resolves with the number of bytes
 * written. Throws BackupFileError when the file cannot be written (no temp file is left behind),
 * or the stream's error when the download fails.
 */
export async function backupToFile(stream: AsyncIterable<Uint8Array>, file: string, header?: Uint8Array): Promise<number> {
  try {
    checkBackupTarget(file);
  } catch (err) {
    await cancel(stream);
    throw err;
  }
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(temp, 'wx', 0o600);
  } catch (err) {
    await cancel(stream);
    throw new BackupFileError(`cannot write ${file}: ${why(err)} creating ${temp}`, err);
  }
  let bytes = 0;
  const writeAll = async (chunk: Uint8Array): Promise<void> => {
    // write() may write less than asked; loop until the chunk is out (bounded by its length).
    for (let offset = 0; offset < chunk.byteLength; ) {
      const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
      offset += bytesWritten;
    }
    bytes += chunk.byteLength;
  };
  let stage = 'writing';
  try {
    if (header !== undefined) await writeAll(header);
    for await (const chunk of stream) await writeAll(chunk);
    stage = 'syncing';
    await handle.sync();
    await handle.close();
    stage = 'renaming';
    await rename(temp, file);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    await cancel(stream);
    if ((err as NodeJS.ErrnoException).syscall !== undefined) {
      throw new BackupFileError(`cannot write ${file}: ${why(err)} while ${stage}`, err);
    }
    throw err;
  }
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return bytes;
}
