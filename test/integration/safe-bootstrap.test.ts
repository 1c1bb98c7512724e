/**
 * Founding a cluster on purpose and catching one founded by accident, with real processes.
 *
 * The accident (etcd habit): the cluster's leader is told to add n4 (`graftctl join` = POST /join),
 * then n4 is started WITHOUT -join. Before, n4 silently founded a second one-node cluster that
 * acknowledged writes. Now the leader's redial tells n4 that another cluster lists it: n4 stops
 * serving (409 GRAFTD_FOREIGN_CLUSTER on every request, naming the cluster and saying to restart
 * it with -join), /status says so, it stays stopped across a restart, and — because a fresh
 * one-node cluster waits FOUNDING_QUIET before its first election — it never acknowledged a write.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, GRAFTD_BIN } from './cluster.ts';

const clusters: Cluster[] = [];
after(async () => {
  for (const c of clusters) await c.destroy();
});

test('a node added by the cluster but started without -join refuses to serve instead of founding a second cluster', async () => {
  const c = new Cluster({ ips: ['127.0.0.161', '127.0.0.162', '127.0.0.163'], httpPortBase: 15600, raftPortBase: 16600 });
  clusters.push(c);
  await c.startNode('a0');
  await c.waitForLeader();
  await c.startNode('a1', { join: 'a0' });
  const leader = await c.waitForLeader();
  const clusterId = String((await c.status(leader))?.clusterId);
  // The operator adds n4 first (graftctl join n4 ADDR)...
  const n4 = c.info('n4');
  const added = await c.post(leader, '/join', { id: 'n4', addr: n4.raftAddr, httpAddr: n4.httpAddr, voter: false });
  assert.equal(added.status, 200, added.text);
  // ...then starts it without -join, and a client writes to it as soon as it answers.
  await c.startNode('n4');
  let acknowledged = 0;
  let last = { status: 0, text: '' };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    last = await c.post('n4', '/key', { accident: `w${Date.now()}` });
    if (last.status === 200) acknowledged++;
    if (last.status === 409) break;
    await sleep(50);
  }
  assert.equal(last.status, 409, `n4 should refuse with 409 once claimed; last answer ${last.status} ${last.text}`);
  const body = JSON.parse(last.text) as { error: string; code: string };
  assert.equal(body.code, 'GRAFTD_FOREIGN_CLUSTER');
  assert.match(body.error, new RegExp(`added to cluster ${clusterId}`));
  assert.match(body.error, /-join/);
  assert.equal(acknowledged, 0, 'the accidental cluster acknowledged writes before it was caught');
  // Every request, reads too, and /status explains; not ready.
  assert.equal((await c.get('n4', '/key/accident?level=stale')).status, 409);
  const st = await c.status('n4');
  assert.equal((st?.foreignCluster as { clusterId?: string } | undefined)?.clusterId, clusterId);
  assert.equal((await c.get('n4', '/readyz')).status, 503);
  assert.match(c.logTail('n4', 20_000), /added to cluster/);
  // The real cluster was never disturbed.
  assert.equal((await c.post(leader, '/key', { real: 'yes' })).status, 200);
  // A restart does not quietly resume the accidental cluster.
  await c.stop('n4');
  await c.startNode('n4');
  const again = await c.post('n4', '/key', { accident: 'after-restart' });
  assert.equal(again.status, 409, again.text);
});

test('-initial-cluster founds three nodes together; none can act alone; the flags are checked', async () => {
  const c = new Cluster({ ips: ['127.0.0.161', '127.0.0.162', '127.0.0.163'], httpPortBase: 15610, raftPortBase: 16610 });
  clusters.push(c);
  const ids = ['f0', 'f1', 'f2'];
  const list = ids.map((id) => `${id}=${c.info(id).raftAddr}`).join(',');
  const http = ids.map((id) => `${id}=${c.info(id).httpAddr}`).join(',');
  const args = ['-initial-cluster', list, '-initial-cluster-http', http];
  // One founder alone has no majority: it never leads and acknowledges nothing.
  await c.startNode('f0', { args });
  await sleep(2500);
  const alone = await c.status('f0');
  assert.notEqual(alone?.role, 'leader');
  const refused = await fetch(`${c.url('f0')}/key`, {
    method: 'POST',
    body: JSON.stringify({ k: 'v' }),
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(5000),
  }).then(
    (r) => r.status,
    () => 0,
  );
  assert.notEqual(refused, 200);
  await c.startNode('f1', { args });
  await c.startNode('f2', { args });
  const leader = await c.waitForLeader();
  const st = await c.status(leader);
  const members = st?.members as { id: string; voter: boolean; httpAddr: string }[];
  assert.deepEqual(members.map((m) => m.id).sort(), ids);
  assert.ok(members.every((m) => m.voter && m.httpAddr !== ''));
  const ids3 = new Set(await Promise.all(ids.map(async (id) => String((await c.status(id))?.clusterId))));
  assert.equal(ids3.size, 1, 'every founder derived the same cluster id');
  assert.equal((await c.post(leader, '/key', { k: 'v' })).status, 200);
  // A restart with the same flags keeps the state (the flags are ignored once there is state).
  await c.stop('f1');
  await c.startNode('f1', { args });
  assert.match(c.logTail('f1', 20_000), /-initial-cluster is ignored/);
  await c.waitStatus('f1', (s) => s.appliedIndex === st?.commitIndex || Number(s.appliedIndex) >= Number(st?.commitIndex));

  // Mistakes are one readable line and exit 1, before anything is written.
  const run = (extra: string[]) =>
    spawnSync(
      process.execPath,
      [GRAFTD_BIN, '-id', 'zz', '-haddr', '127.0.0.164:15699', '-raddr', '127.0.0.164:16699', ...extra, `${c.root}/zz`],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
  const noHttp = run(['-initial-cluster', 'zz=127.0.0.164:16699']);
  assert.equal(noHttp.status, 1);
  assert.match(noHttp.stderr, /-initial-cluster-http must give/);
  const notListed = run(['-initial-cluster', list, '-initial-cluster-http', http]);
  assert.equal(notListed.status, 1);
  assert.match(notListed.stderr, /does not list this node/);
  const existing = run(['-initial-cluster-state', 'existing']);
  assert.equal(existing.status, 1);
  assert.match(existing.stderr, /needs -join/);
  const both = run(['-initial-cluster', 'zz=127.0.0.164:16699', '-join', '127.0.0.161:15610']);
  assert.equal(both.status, 1);
  assert.match(both.stderr, /exclude each other/);
});
