/**
 * Crash and restart with real processes: kill -9 the leader while writes are acknowledged; a new
 * leader is elected, no acknowledged write is lost, writes go on through every survivor, the killed
 * node restarts without -join and catches up; then the whole cluster restarts with all data.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Cluster } from './cluster.ts';

const c = new Cluster({ ips: ['127.0.0.34', '127.0.0.35', '127.0.0.36'], httpPortBase: 15010, raftPortBase: 16010 });
const ids = ['f0', 'f1', 'f2'];
/** Every write that got a 200, key → value. */
const acked = new Map<string, string>();

async function write(via: string, key: string, value: string): Promise<number> {
  const r = await c.post(via, '/key', { [key]: value });
  if (r.status === 200) acked.set(key, value);
  return r.status;
}

async function assertAllAcked(id: string, level: 'linearizable' | 'stale'): Promise<void> {
  for (const [k, v] of acked) {
    const r = await c.get(id, `/key/${k}?level=${level}`);
    assert.equal(r.status, 200, `${id} ${k}: ${r.text}`);
    assert.deepEqual(JSON.parse(r.text), { [k]: v });
  }
}

before(async () => {
  await c.startVoters(['f0', 'f1', 'f2']);
});

after(() => c.destroy());

test('kill -9 the leader: new leader, no acknowledged write lost, writes go on, the old leader catches up', async () => {
  const leader = await c.waitForLeader();
  for (let i = 0; i < 30; i++) assert.equal(await write(ids[i % 3]!, `k${i}`, `v${i}`), 200);
  await c.kill(leader);
  const survivors = ids.filter((id) => id !== leader);
  const next = await c.waitForLeader({ among: survivors, not: leader });
  assert.notEqual(next, leader);
  for (const id of survivors) await assertAllAcked(id, 'linearizable');
  // Writes through each survivor (the follower forwards).
  for (let i = 30; i < 40; i++) assert.equal(await write(survivors[i % 2]!, `k${i}`, `v${i}`), 200);
  // The killed node restarts without -join and catches up.
  await c.startNode(leader);
  const target = Number((await c.status(next))?.commitIndex);
  await c.waitStatus(leader, (s) => Number(s.appliedIndex) >= target);
  await assertAllAcked(leader, 'stale');
  await assertAllAcked(leader, 'linearizable');
});

test('restart the whole cluster: all data is there', async () => {
  for (const id of ids) await c.stop(id);
  for (const id of ids) await c.startNode(id);
  await c.waitForLeader();
  for (const id of ids) await assertAllAcked(id, 'linearizable');
  assert.equal(await write('f1', 'after-restart', 'yes'), 200);
  await assertAllAcked('f2', 'linearizable');
});
