/**
 * Opening a node from a data directory (real WAL, snapshot store and transport on 127.0.0.31):
 * bootstrap, restart with data, refusal of a removed node, of another node's directory, and of a
 * log compacted past every snapshot.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { GraftdError } from '../../src/errors.ts';
import { silentLog } from '../../src/log.ts';
import { DEFAULT_RUNTIME_CONFIG, type RuntimeConfig } from '../../src/node/config.ts';
import { dataDirPaths, readIdentity, writeRemovedMarker } from '../../src/node/data-dir.ts';
import { openNode } from '../../src/node/open.ts';
import { until } from './fakes.ts';

const root = mkdtempSync(join(tmpdir(), 'graftd-open-'));
after(() => rmSync(root, { recursive: true, force: true }));

const config: RuntimeConfig = {
  ...DEFAULT_RUNTIME_CONFIG,
  heartbeatTimeoutMs: 10,
  electionTimeoutMs: 60,
  snapshotIntervalMs: 20,
  snapshotThreshold: 10,
  trailingLogs: 2,
};

function open(dataDir: string, id = 'n0', port = 16090) {
  const addr = `127.0.0.31:${port}`;
  return openNode({
    id,
    dataDir,
    raftListenAddr: addr,
    raftAddr: addr,
    httpAddr: '127.0.0.31:15090',
    config,
    log: silentLog,
    ifEmpty: 'bootstrap',
  });
}

test('bootstrap, write, snapshot, restart: the data and the identity survive; a log compacted past every snapshot is refused', async () => {
  const dir = join(root, 'a');
  const node = await open(dir);
  await node.start();
  await until(() => node.status().role === 'leader' && node.status().appliedIndex >= 2);
  for (let i = 0; i < 30; i++) await node.set({ [`k${i}`]: String(i) });
  await until(() => node.status().snapshotIndex > 10);
  await node.close();
  const identity = readIdentity(dir);
  assert.equal(identity?.id, 'n0');

  const again = await open(dir);
  await again.start();
  await until(() => again.status().role === 'leader');
  assert.equal(again.clusterId, identity?.clusterId);
  for (let i = 0; i < 30; i++) assert.equal(await again.get(`k${i}`, 'linearizable'), String(i));
  await again.close();

  const { snapshotDir } = dataDirPaths(dir);
  for (const f of readdirSync(snapshotDir)) rmSync(join(snapshotDir, f));
  await assert.rejects(open(dir), (e: GraftdError) => e.code === 'GRAFTD_CORRUPT' && /no valid snapshot/.test(e.message));
});

test('a removed node and a directory of another node are refused', async () => {
  const dir = join(root, 'b');
  const node = await open(dir, 'n1', 16091);
  await node.close();
  await assert.rejects(
    open(dir, 'other', 16091),
    (e: GraftdError) => e.code === 'GRAFTD_BAD_CONFIG' && /belongs to node "n1"/.test(e.message),
  );
  writeRemovedMarker(dir, { id: 'n1', index: 3 });
  await assert.rejects(open(dir, 'n1', 16091), (e: GraftdError) => e.code === 'GRAFTD_REMOVED' && /wipe/.test(e.message));
});

test('revisions, key metadata and leases survive a restart through snapshot + log; a lease expires on its TTL unless kept alive; a 0.1.0 directory is refused', async () => {
  const dir = join(root, 'coord');
  const node = await open(dir, 'n0', 16091);
  await node.start();
  await until(() => node.status().role === 'leader' && node.status().appliedIndex >= 2);
  const kept = await node.leaseGrant(1);
  assert.equal(kept.ttl, 2, 'raised to the minimum TTL (3 election timeouts, at least 2 s)');
  const dropped = await node.leaseGrant(2);
  await node.txn({
    compare: [],
    success: [{ put: { key: 'svc/kept', value: 'a', lease: kept.id } }, { put: { key: 'svc/dropped', value: 'b', lease: dropped.id } }],
    failure: [],
  });
  for (let i = 0; i < 20; i++) await node.set({ [`k${i % 3}`]: String(i) });
  await until(() => node.status().snapshotIndex > 10);
  const rev = await node.set({ tail: 'after the snapshot' });
  const metaBefore = await node.getMeta('k1', 'linearizable');
  await node.close();

  const again = await open(dir, 'n0', 16091);
  await again.start();
  await until(() => again.status().role === 'leader');
  const metaAfter = await again.getMeta('k1', 'linearizable');
  assert.deepEqual(metaAfter, metaBefore);
  assert.equal(metaAfter.revision, rev);
  assert.deepEqual(
    (await again.leaseList('linearizable')).leases.map((l) => l.id),
    [kept.id, dropped.id],
  );
  // Keep one lease alive past its TTL; the other expires (the lessor on the new leader renewed both at election).
  const t0 = performance.now();
  while (performance.now() - t0 < 3500) {
    await again.leaseKeepAlive(kept.id);
    await new Promise((r) => setTimeout(r, 400));
  }
  assert.equal(await again.get('svc/kept', 'linearizable'), 'a');
  assert.equal(await again.get('svc/dropped', 'linearizable'), undefined);
  await assert.rejects(again.leaseGet(dropped.id, 'linearizable'), (e: GraftdError) => e.code === 'GRAFTD_LEASE_NOT_FOUND');
  const info = await again.leaseGet(kept.id, 'linearizable');
  assert.deepEqual(info.keys, ['svc/kept']);
  assert.ok(info.remaining > 0 && info.remaining <= 2, `remaining ${info.remaining}`);
  await again.close();

  const { nodeFile } = dataDirPaths(dir);
  assert.equal(JSON.parse(readFileSync(nodeFile, 'utf8')).version, 2);
  writeFileSync(nodeFile, JSON.stringify({ ...JSON.parse(readFileSync(nodeFile, 'utf8')), version: 1 }));
  await assert.rejects(
    open(dir, 'n0', 16091),
    (e: GraftdError) => e.code === 'GRAFTD_BAD_CONFIG' && /written by graftd 0\.1\.0/.test(e.message),
  );
});
