/**
 * restoreDataDir as a local operation: what it writes, and what it refuses.
 * (The end-to-end path — start graftd on the restored dir and read every key — is in backup-restore.test.ts.)
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { restoreDataDir } from '../../src/cli/restore.ts';
import { restoreSnapshot, writeSnapshotEntries } from '../../src/kv/index.ts';
import { dataDirPaths, readIdentity } from '../../src/node/data-dir.ts';
import { decodeMemberContext } from '../../src/node/members.ts';
import { openSnapshotStore, openWalStorage } from '../../src/storage/index.ts';

const NODE = { id: 'r1', raftAddr: '127.0.0.52:19150', httpAddr: '127.0.0.52:19050' };

async function backupBytes(entries: [string, string][]): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of writeSnapshotEntries(entries, { chunkBytes: 64 })) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function withTemp(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graftd-restore-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'restore seeds a one-node cluster: snapshot at index 1 with just this voter, empty WAL past it, node.json last',
  withTemp(async (dir) => {
    const entries: [string, string][] = Array.from({ length: 300 }, (_, i) => [`key-${i}`, `value-${i}-${'x'.repeat(i % 17)}`]);
    entries.push(['', 'empty key is data too'], ['ünïcødé', '✓']);
    const file = join(dir, 'backup.bin');
    writeFileSync(file, await backupBytes(entries));
    const dataDir = join(dir, 'new-node');

    const result = await restoreDataDir(file, dataDir, NODE);
    assert.equal(result.keys, entries.length);
    assert.equal(result.index, 1);

    const identity = readIdentity(dataDir);
    assert.equal(identity?.id, 'r1');
    assert.equal(identity?.clusterId, result.clusterId);

    const paths = dataDirPaths(dataDir);
    const snapshots = openSnapshotStore(paths.snapshotDir);
    const latest = snapshots.latest();
    assert.ok(latest !== null);
    assert.equal(latest.meta.index, 1);
    assert.equal(latest.meta.term, 1);
    assert.deepEqual(latest.meta.confState.voters, ['r1']);
    assert.deepEqual(latest.meta.confState.learners, []);
    const ctx = decodeMemberContext(latest.meta.confState.context.r1);
    assert.equal(ctx.raftAddr, NODE.raftAddr);
    assert.equal(ctx.httpAddr, NODE.httpAddr);
    const store = await restoreSnapshot(snapshots.read(1));
    assert.deepEqual(
      [...store.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
      [...entries].sort(([a], [b]) => (a < b ? -1 : 1)),
    );

    const wal = openWalStorage(paths.walDir);
    try {
      const { hardState } = wal.initialState();
      assert.equal(hardState.term, 1);
      assert.equal(hardState.commit, 1);
      assert.equal(wal.snapshotMeta().index, 1);
      assert.equal(wal.lastIndex(), 1);
      assert.equal(wal.firstIndex(), 2);
      assert.equal(wal.term(1), 1);
    } finally {
      wal.close();
    }
  }),
);

test(
  'restore refuses a non-empty data dir, a missing file and a corrupt backup, writing nothing',
  withTemp(async (dir) => {
    const file = join(dir, 'backup.bin');
    const good = await backupBytes([
      ['a', '1'],
      ['b', '2'],
    ]);
    writeFileSync(file, good);

    const busy = join(dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'node.json'), '{}');
    await assert.rejects(restoreDataDir(file, busy, NODE), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'GRAFTD_BAD_CONFIG');
      assert.match(err.message, /not empty/);
      return true;
    });
    assert.equal(readFileSync(join(busy, 'node.json'), 'utf8'), '{}', 'the existing dir is left alone');

    await assert.rejects(restoreDataDir(join(dir, 'nope.bin'), join(dir, 'n1'), NODE), /does not exist/);
    assert.equal(existsSync(join(dir, 'n1')), false);

    for (const offset of [3, good.length - 2, Math.floor(good.length / 2)]) {
      const bad = Buffer.from(good);
      bad[offset] = (bad[offset] ?? 0) ^ 0x40;
      const badFile = join(dir, `bad-${offset}.bin`);
      writeFileSync(badFile, bad);
      const target = join(dir, `n-${offset}`);
      await assert.rejects(restoreDataDir(badFile, target, NODE), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'GRAFTD_CORRUPT', `flip at ${offset}`);
        return true;
      });
      assert.equal(existsSync(target) && readdirSync(target).length > 0, false, `nothing written for flip at ${offset}`);
    }
    const truncated = join(dir, 'short.bin');
    writeFileSync(truncated, good.subarray(0, good.length - 5));
    await assert.rejects(restoreDataDir(truncated, join(dir, 'n-short'), NODE), { code: 'GRAFTD_CORRUPT' });
  }),
);
