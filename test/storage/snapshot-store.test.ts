/**
 * The snapshot store: streamed write and read, retention, a damaged snapshot is reported and
 * the previous one used, and nothing half written is ever visible.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CorruptionError } from '../../src/errors.ts';
import { recordingLog, silentLog } from '../../src/log.ts';
import type { SnapshotMeta } from '../../src/raft/types.ts';
import { type SnapshotStore, openSnapshotStore } from '../../src/storage/index.ts';
import { type SnapshotFs, nodeSnapshotFs } from '../../src/storage/fs-like.ts';
import { dataFor, tempDir } from './helpers.ts';

const meta = (index: number): SnapshotMeta => ({
  index,
  term: 3,
  confState: { voters: ['a', 'b', 'c'], learners: ['d'], context: { a: '{"raft":"127.0.0.1:1"}' } },
});

async function writeSnapshot(store: SnapshotStore, index: number, bytes: number, chunk = 10_000) {
  const w = store.create(meta(index));
  const data = dataFor(index, 7, bytes);
  for (let pos = 0; pos < bytes; pos += chunk) await w.write(data.subarray(pos, Math.min(bytes, pos + chunk)));
  return { stored: await w.commit(), data };
}

async function readAll(store: SnapshotStore, index: number): Promise<{ data: Buffer; chunks: number }> {
  const parts: Uint8Array[] = [];
  for await (const c of store.read(index)) parts.push(c);
  return { data: Buffer.concat(parts), chunks: parts.length };
}

test('a snapshot is streamed in, committed, listed and streamed back in chunks; the last N are kept', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const store = openSnapshotStore(dir, { retain: 2, log: silentLog, chunkBytes: 64 * 1024 });
    assert.equal(store.latest(), null);
    const { stored, data } = await writeSnapshot(store, 10, 200_000);
    assert.deepEqual(stored.meta, meta(10));
    assert.equal(stored.size, 200_000);
    const back = await readAll(store, 10);
    assert.ok(back.data.equals(Buffer.from(data)));
    assert.equal(back.chunks, 4, '200 kB in 64 KiB chunks');
    await writeSnapshot(store, 20, 1000);
    await writeSnapshot(store, 30, 0);
    assert.deepEqual(
      store.list().map((s) => s.meta.index),
      [20, 30],
    );
    const reopened = openSnapshotStore(dir, { log: silentLog });
    const latest = reopened.latest();
    assert.equal(latest?.meta.index, 30);
    assert.equal(latest?.size, 0);
    assert.deepEqual(latest?.meta.confState, meta(30).confState);
    assert.equal((await readAll(reopened, 30)).data.length, 0);
    await assert.rejects(async () => readAll(reopened, 10), /no snapshot at index 10/);
  } finally {
    cleanup();
  }
});

test('a damaged snapshot is reported and the previous one is used; reading it fails at the end', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const log = recordingLog();
    const store = openSnapshotStore(dir, { retain: 3, log });
    await writeSnapshot(store, 1, 5000);
    const { stored } = await writeSnapshot(store, 2, 5000);
    const bytes = fs.readFileSync(stored.path);
    bytes[1234] = (bytes[1234] as number) ^ 0x40;
    fs.writeFileSync(stored.path, bytes);
    const fresh = openSnapshotStore(dir, { retain: 3, log });
    assert.equal(fresh.latest()?.meta.index, 1);
    assert.ok(log.records.some((r) => r.level === 'error' && (r.obj as { file: string }).file === stored.path));
    await assert.rejects(async () => readAll(fresh, 2), CorruptionError);
    // A damaged footer is skipped the same way.
    const p1 = path.join(dir, '0000000000000001.snap');
    const b1 = fs.readFileSync(p1);
    b1[b1.length - 20] = (b1[b1.length - 20] as number) ^ 1;
    fs.writeFileSync(p1, b1);
    assert.equal(openSnapshotStore(dir, { log: silentLog }).latest(), null);
  } finally {
    cleanup();
  }
});

test('a snapshot is invisible until committed; abort and leftover temp files leave nothing behind', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const store = openSnapshotStore(dir, { log: silentLog });
    await writeSnapshot(store, 5, 100);
    const w = store.create(meta(9));
    await w.write(dataFor(9, 1, 50_000));
    assert.equal(store.latest()?.meta.index, 5, 'an uncommitted snapshot is not visible');
    assert.deepEqual(
      store.list().map((s) => s.meta.index),
      [5],
    );
    assert.ok(fs.readdirSync(dir).some((n) => n.endsWith('.tmp')));
    // A crash now leaves the temp file; opening the store removes it.
    openSnapshotStore(dir, { log: silentLog });
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
    );
    const w2 = store.create(meta(11));
    await w2.write(dataFor(11, 1, 100));
    await w2.abort();
    assert.deepEqual(fs.readdirSync(dir), ['0000000000000005.snap']);
    await assert.rejects(w2.write(new Uint8Array(1)), /after the writer was aborted/);
  } finally {
    cleanup();
  }
});

test('a large snapshot is fsynced as it is written (every syncEveryBytes), not only once at commit', async () => {
  // Why: 150 MB synced once at the end held up the WAL's fdatasync on the same disk for tens of ms.
  const syncsPerFile = new Map<string, number>();
  const counting: SnapshotFs = {
    ...nodeSnapshotFs,
    open: async (p, flags, mode) => {
      const h = await nodeSnapshotFs.open(p, flags, mode);
      return {
        read: (b, o, l, pos) => h.read(b, o, l, pos),
        write: (b, o, l, pos) => h.write(b, o, l, pos),
        sync: () => {
          syncsPerFile.set(p, (syncsPerFile.get(p) ?? 0) + 1);
          return h.sync();
        },
        close: () => h.close(),
      };
    },
  };
  const { dir, cleanup } = tempDir();
  try {
    const every = openSnapshotStore(path.join(dir, 'every'), { fs: counting, syncEveryBytes: 100_000 });
    await writeSnapshot(every, 1, 1_000_000);
    const once = openSnapshotStore(path.join(dir, 'once'), { fs: counting, syncEveryBytes: 0 });
    await writeSnapshot(once, 1, 1_000_000);
    const count = (sub: string): number =>
      [...syncsPerFile].filter(([p]) => p.includes(`${path.sep}${sub}${path.sep}`)).reduce((n, [, c]) => n + c, 0);
    assert.equal(count('every'), 10 + 1, '10 syncs of 100 000 bytes while writing, one at commit');
    assert.equal(count('once'), 1, 'syncEveryBytes 0: only the commit syncs');
    assert.ok((await readAll(every, 1)).data.equals(dataFor(1, 7, 1_000_000)));
    assert.throws(() => openSnapshotStore(path.join(dir, 'bad'), { syncEveryBytes: -1 }), /syncEveryBytes/);
  } finally {
    cleanup();
  }
});
