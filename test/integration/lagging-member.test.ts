/**
 * A member that was down while another member was added, and comes back when that new member
 * leads: it must admit the new leader's connection (it has no live leader, so it may be behind a
 * membership change) and catch up. A transport that admitted only the members it knows left such
 * a node behind for good (it refused the only node that could tell it about the change).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from './cluster.ts';

const c = new Cluster({ ips: ['127.0.0.101', '127.0.0.102', '127.0.0.103', '127.0.0.104'], httpPortBase: 15140, raftPortBase: 16140 });

before(async () => {
  await c.startVoters(['a', 'b', 'c']);
});

after(() => c.destroy());

test('a node down during a membership change catches up from the member added meanwhile, now leading', async () => {
  assert.equal(await c.waitForLeader(), 'a');
  await c.kill('c');
  await c.startNode('d', { join: 'a' });
  await c.waitStatus('a', (s) => (s.members as { id: string; voter: boolean }[]).some((m) => m.id === 'd' && m.voter), 30_000);
  const t = await c.post('a', '/transfer-leader', { id: 'd' });
  assert.equal(t.status, 200, t.text);
  await c.waitStatus('d', (s) => s.role === 'leader', 15_000);
  for (let i = 0; i < 20; i++) assert.equal((await c.post('d', '/key', { [`k${i}`]: `v${i}` })).status, 200);
  const target = Number((await c.status('d'))?.commitIndex);

  await c.startNode('c');
  const s = await c
    .waitStatus('c', (x) => Number(x.appliedIndex) >= target && x.leaderId === 'd', 30_000)
    .catch((err: Error) => {
      throw new Error(`${err.message}\n--- c log ---\n${c.logTail('c', 3000)}`);
    });
  assert.ok(
    (s.members as { id: string }[]).some((m) => m.id === 'd'),
    'c learned about d from the log',
  );
  const r = await c.get('c', '/key/k19?level=stale');
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.text), { k19: 'v19' });
  await sleep(0);
});
