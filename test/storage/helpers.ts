/**
 * Shared helpers for the storage tests: temp directories, deterministic entries, and a
 * file system whose calls can be made to fail on demand.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Entry } from '../../src/raft/types.ts';
import { type FsLike, nodeFs } from '../../src/storage/index.ts';

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(prefix = 'graftd-storage-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Deterministic data for entry `index` written with `salt`, `len` bytes long. */
export function dataFor(index: number, salt: number, len: number): Uint8Array {
  const d = new Uint8Array(len);
  let x = (index * 2654435761 + salt * 40503) >>> 0;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    d[i] = x >>> 24;
  }
  return d;
}

export function entry(index: number, term: number, len = 8, salt = 0): Entry {
  return { index, term, type: index % 7 === 0 ? 'conf' : 'normal', data: dataFor(index, salt, len) };
}

/** Entries [from, to] with the given term. */
export function entries(from: number, to: number, term: number, len = 8, salt = 0): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, len, salt));
  return out;
}

/** Compare entries by value (index, term, type, bytes). */
export function sameEntries(a: readonly Entry[], b: readonly Entry[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) {
    const x = a[k] as Entry;
    const y = b[k] as Entry;
    if (x.index !== y.index || x.term !== y.term || x.type !== y.type) return false;
    if (Buffer.compare(Buffer.from(x.data), Buffer.from(y.data)) !== 0) return false;
  }
  return true;
}

/** A node:fs wrapper whose `failOn` predicate decides, per call, whether to throw an errno error instead. */
export function faultyFs(failOn: (call: keyof FsLike, args: unknown[]) => string | null): FsLike & { calls: number } {
  const wrapped = { calls: 0 } as FsLike & { calls: number };
  for (const key of Object.keys(nodeFs) as (keyof FsLike)[]) {
    const real = nodeFs[key] as (...a: unknown[]) => unknown;
    (wrapped as unknown as Record<string, unknown>)[key] = (...args: unknown[]) => {
      wrapped.calls++;
      const code = failOn(key, args);
      if (code !== null) {
        const err = new Error(`${code}: injected fault in ${key}`) as NodeJS.ErrnoException;
        err.code = code;
        throw err;
      }
      return real(...args);
    };
  }
  return wrapped;
}
