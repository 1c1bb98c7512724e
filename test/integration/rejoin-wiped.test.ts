/**
 * A member whose disk was lost comes back empty under the same id and address with -join. The
 * original treated "same id and same address" as a no-op, which would keep a voter that forgot
 * every entry it acknowledged (and every vote it gave) in the quorum. graftd's join says it is
 * fresh, so the leader removes the old member and re-adds it as a learner that is promoted once
 * caught up; until it has caught up the node keeps its election timer still (DATA_DIR/JOINING).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Cluster } from './cluster.ts';

const c = new Cluster({ ips: ['127.0.0.37', '127.0.0.38', '127.0.0.39'], httpPortBase: 15070, raftPortBase: 16070 });
type Member = { id: string; voter: boolean };

before(async () => {
  await c.startVoters(['w0', 'w1', 'w2'], { timeoutMs: 30_000 });
});

after(() => c.destroy());

test('a wiped member rejoining at the same address is replaced, caught up and promoted, and serves every key', async () => {
  const leader = await c.waitForLeader();
  for (let i = 0; i < 20; i++) assert.equal((await c.post(leader, '/key', { [`k${i}`]: `v${i}` })).status, 200);
  const victim = ['w0', 'w1', 'w2'].find((id) => id !== leader)!;
  const { dataDir } = c.info(victim);
  // The joined node cleared its JOINING marker once it caught up.
  await c.waitStatus(victim, (s) => Number(s.appliedIndex) > 20);
  assert.equal(existsSync(join(dataDir, 'JOINING')), false);

  await c.kill(victim);
  rmSync(dataDir, { recursive: true, force: true });
  await c.startNode(victim, { join: leader });

  // The leader logged the replacement (remove, then add), and the member is a voter again.
  await c.waitStatus(leader, (s) => (s.members as Member[]).some((m) => m.id === victim && m.voter), 30_000);
  const leaderLog = readFileSync(c.info(leader).logFile, 'utf8');
  assert.match(leaderLog, new RegExp(`"member":"${victim}".*removing the member with the same id or address first`));
  const target = Number((await c.status(leader))?.commitIndex);
  await c.waitStatus(victim, (s) => Number(s.appliedIndex) >= target, 30_000);
  for (let i = 0; i < 20; i++) {
    const r = await c.get(victim, `/key/k${i}?level=stale`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { [`k${i}`]: `v${i}` });
  }
  assert.equal(existsSync(join(dataDir, 'JOINING')), false);
});
