/**
 * The bytes a directory tree takes on disk (graftd_data_dir_bytes), read asynchronously at scrape
 * time.
 *
 * Why allocated blocks rather than file sizes: the WAL preallocates space ahead of its records, and
 * what fills a disk is what is allocated. Files vanishing during the walk (segments removed by
 * compaction, temp files) are skipped; the walk is bounded in depth and entries.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const MAX_DEPTH = 4;
const MAX_ENTRIES = 100_000;

export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  let seen = 0;
  const walk = async (path: string, depth: number): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(path);
    } catch {
      return; // removed meanwhile, or unreadable
    }
    for (const name of names) {
      if (++seen > MAX_ENTRIES) return;
      const child = join(path, name);
      try {
        const st = await lstat(child);
        total += st.blocks !== undefined && st.blocks > 0 ? st.blocks * 512 : st.size;
        if (st.isDirectory() && depth < MAX_DEPTH) await walk(child, depth + 1);
      } catch {
        // removed meanwhile
      }
    }
  };
  await walk(dir, 0);
  return total;
}
