/**
 * Writing a backup stream to a file durably.
 *
 * Why not a plain pipe: a backup that is half written after a crash, or not fsynced, looks
 * valid until the day it is needed. Write to a temp name, fsync, rename, fsync the directory.
 */
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Write `stream` to `file` atomically; resolves with the number of bytes written. */
export async function backupToFile(stream: AsyncIterable<Uint8Array>, file: string): Promise<number> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  let bytes = 0;
  const handle = await open(temp, 'w', 0o600);
  try {
    for await (const chunk of stream) {
      // write() may write less than asked; loop until the chunk is out (bounded by its length).
      for (let offset = 0; offset < chunk.byteLength; ) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
        offset += bytesWritten;
      }
      bytes += chunk.byteLength;
    }
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  await rename(temp, file);
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return bytes;
}
