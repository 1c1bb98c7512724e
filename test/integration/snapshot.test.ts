/**
 * Snapshots with real processes: with a small SNAPSHOT_THRESHOLD and TRAILING_LOGS, enough writes
 * make every node snapshot and compact its log; a node that joins afterwards cannot be sent the
 * log from index 1, receives the snapshot instead, and serves every key. A restart of a compacted
 * node loads its snapshot and replays the rest.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Cluster } from './cluster.ts';

const c = new Cluster({
  ips: ['127.0.0.37', '127.0.0.38', '127.0.0.39'],
  httpPortBase: 15020,
  raftPortBase: 16020,
  env: { SNAPSHOT_THRESHOLD: '40', SNAPSHOT_INTERVAL: '1', TRAILING_LOGS: '5' },
});
const KEYS = 250;

before(async () => {
  await c.startNode('s0');
  await c.waitForLeader();
  await c.startNode('s1', { join: 's0' });
  await c.waitStatus('s0', (s) => (s.members as { voter: boolean }[]).filter((m) => m.voter).length === 2);
});

after(() => c.destroy());

async function writeKeys(from: number, to: number): Promise<void> {
  const CONCURRENCY = 8;
  let next = from;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < to) {
        const i = next++;
        const r = await c.post(i % 2 === 0 ? 's0' : 's1', '/key', { [`key${i}`]: `value${i}` });
        assert.equal(r.status, 200, r.text);
      }
    }),
  );
}

test('a node joining after compaction receives the snapshot and serves every key', async () => {
  await writeKeys(0, KEYS);
  const leader = await c.waitForLeader();
  // Snapshot taken on the leader (interval 1 s, threshold 40).
  await c.waitStatus(leader, (s) => Number(s.snapshotIndex) > 100);
  await c.startNode('s2', { join: leader });
  const commit = Number((await c.status(leader))?.commitIndex);
  const s2 = await c.waitStatus('s2', (s) => Number(s.appliedIndex) >= commit && Number(s.keys) === KEYS);
  assert.ok(Number(s2.snapshotIndex) > 0, `s2 should have installed a snapshot: ${JSON.stringify(s2)}`);
  assert.match(readFileSync(c.info('s2').logFile, 'utf8'), /installed snapshot from the leader/);
  for (let i = 0; i < KEYS; i += 7) {
    const r = await c.get('s2', `/key/key${i}?level=stale`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { [`key${i}`]: `value${i}` });
  }
  // A write after the snapshot reaches the new node too.
  assert.equal((await c.post('s2', '/key', { late: 'yes' })).status, 200);
  assert.equal((await c.get('s2', '/key/late')).status, 200);
});

test('a compacted node restarts from its snapshot plus the log tail', async () => {
  await c.stop('s1');
  await c.startNode('s1');
  await c.waitForLeader();
  const s = await c.waitStatus('s1', (st) => Number(st.keys) === KEYS + 1);
  assert.ok(Number(s.snapshotIndex) > 0);
  assert.deepEqual(JSON.parse((await c.get('s1', '/key/key3?level=stale')).text), { key3: 'value3' });
});
