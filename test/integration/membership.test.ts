/**
 * Membership and shutdown with real processes: a removed node marks its data directory, exits 1
 * and refuses to start again; removing the leader hands leadership over first; SIGTERM on the leader
 * transfers leadership before it exits; a learner that joined with voter=false stays a learner.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Cluster } from './cluster.ts';

const c = new Cluster({ ips: ['127.0.0.31', '127.0.0.32', '127.0.0.33'], httpPortBase: 15040, raftPortBase: 16040 });

type Member = { id: string; voter: boolean };
const voters = (s: Record<string, unknown>): string[] =>
  (s.members as Member[])
    .filter((m) => m.voter)
    .map((m) => m.id)
    .sort();

before(async () => {
  await c.startNode('m0');
  await c.waitForLeader();
  await c.startNode('m1', { join: 'm0' });
  await c.startNode('m2', { join: 'm0' });
  await c.waitStatus('m0', (s) => voters(s).length === 3);
});

after(() => c.destroy());

test('SIGTERM on the leader transfers leadership before it exits', async () => {
  const leader = await c.waitForLeader();
  assert.equal((await c.post(leader, '/key', { before: 'stop' })).status, 200);
  const code = await c.stop(leader);
  assert.equal(code, 0);
  assert.match(readFileSync(c.info(leader).logFile, 'utf8'), /leadership transferred before shutdown/);
  const rest = ['m0', 'm1', 'm2'].filter((id) => id !== leader);
  const next = await c.waitForLeader({ among: rest });
  assert.deepEqual(JSON.parse((await c.get(next, '/key/before')).text), { before: 'stop' });
  await c.startNode(leader);
  await c.waitForLeader();
});

test('a learner joined with voter=false stays a learner and serves stale reads', async () => {
  await c.startNode('m3', { join: 'm1', args: ['--learner'] });
  const leader = await c.waitForLeader({ among: ['m0', 'm1', 'm2'] });
  await c.waitStatus('m3', (s) => s.role === 'learner');
  assert.equal((await c.post('m3', '/key', { via: 'learner' })).status, 200);
  await c.waitStatus('m3', (s) => Number(s.keys) >= 2);
  assert.deepEqual(JSON.parse((await c.get('m3', '/key/via?level=stale')).text), { via: 'learner' });
  const s = await c.status(leader);
  assert.deepEqual(voters(s!), ['m0', 'm1', 'm2']);
});

test('a removed node stops, marks its data directory and refuses to restart', async () => {
  const leader = await c.waitForLeader({ among: ['m0', 'm1', 'm2'] });
  const r = await c.post(leader, '/remove', { id: 'm3' });
  assert.equal(r.status, 200, r.text);
  // It learns that its removal committed, marks its data directory and exits 1 (as etcd members do).
  assert.equal((await c.process('m3')!.exited).code, 1);
  assert.ok(existsSync(join(c.info('m3').dataDir, 'REMOVED')));
  const again = await c.startNode('m3', { waitHealthy: false });
  const { code } = await again.exited;
  assert.equal(code, 1);
  assert.match(c.logTail('m3') + again.stdout(), /was removed from the cluster.*wipe/);
  const s = await c.status(leader);
  assert.ok(!(s!.members as Member[]).some((m) => m.id === 'm3'));
});

test('removing the leader hands leadership over, then the new leader removes it', async () => {
  const leader = await c.waitForLeader({ among: ['m0', 'm1', 'm2'] });
  const r = await c.post(leader, '/remove', { id: leader });
  assert.equal(r.status, 200, r.text);
  const rest = ['m0', 'm1', 'm2'].filter((id) => id !== leader);
  const next = await c.waitForLeader({ among: rest });
  const s = await c.waitStatus(next, (st) => voters(st).length === 2);
  assert.deepEqual(voters(s), rest.sort());
  // The former leader learns that its removal committed and exits.
  assert.equal((await c.process(leader)!.exited).code, 1);
  assert.equal((await c.post(next, '/key', { after: 'remove' })).status, 200);
  const last = await c.post(next, '/remove', { id: rest.find((id) => id !== next) });
  assert.equal(last.status, 200, last.text);
  const only = await c.post(next, '/remove', { id: next });
  assert.equal(only.status, 409, only.text);
  assert.equal(JSON.parse(only.text).code, 'GRAFTD_LAST_VOTER');
});
