/**
 * Membership operations on real graftd processes (127.0.0.54, HTTP 19020+, raft 19120+):
 * learner-first joins and promotion, read replicas, removing a follower and the leader, a
 * removed node that is restarted, leadership transfer, and replacing a dead node.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { GraftdClient } from '../../src/client/index.ts';
import { graftctl } from '../client/helpers.ts';
import { Cluster, type NodeInfo, type NodeProcess, spawnGraftd, TEST_ENV } from '../integration/cluster.ts';
import { ctl, ctlOk, endpointsOf, hasVoters, membersOf, startJoinedCluster, statusOf, waitFor, waitMembers } from './helpers.ts';

const IP = '127.0.0.54';

test('membership: learners, promotion, remove follower/leader, removed restart, transfer, replace', async (t) => {
  const cluster = new Cluster({ ips: [IP], httpPortBase: 19020, raftPortBase: 19120 });
  const base = ['n0', 'n1', 'n2'];
  const client = new GraftdClient({ endpoints: endpointsOf(cluster, base).split(','), timeoutMs: 5000, retries: 10 });
  const extra: NodeProcess[] = [];
  /** The node replaced at a new address (set by the replace subtest). */
  const replaced = { id: '', httpAddr: '' };
  try {
    await startJoinedCluster(cluster, base);
    await client.set({ before: 'joins', shared: 'v1' });

    await t.test('a voter joins as a learner and is promoted once caught up', async () => {
      // Registered while its process is down, n3 cannot catch up: it must stay a learner.
      const n3 = cluster.info('n3');
      await ctlOk(cluster, base, ['join', 'n3', n3.raftAddr, '--http-addr', n3.httpAddr]);
      const seenVoter: boolean[] = [];
      try {
        for (let i = 0; i < 5; i++) {
          seenVoter.push((await membersOf(cluster, 'n0')).find((m) => m.id === 'n3')?.voter ?? true);
          await sleep(150);
        }
      } finally {
        // Started with -join (a no-op: already a member), it catches up and is promoted.
        await cluster.startNode('n3', { join: 'n0' });
      }
      await waitMembers(cluster, 'n0', 'n3 promoted', (m) => hasVoters(m, ['n0', 'n1', 'n2', 'n3']));
      assert.deepEqual(seenVoter, [false, false, false, false, false], 'n3 stays a learner while it cannot catch up');
      assert.equal(await client.get('before', 'linearizable'), 'joins');
    });

    await t.test('a --learner node stays a read replica that serves stale reads', async () => {
      await cluster.startNode('r4', { join: 'n0', args: ['--learner'] });
      await waitMembers(cluster, 'n0', 'r4 listed as learner', (m) => m.some((x) => x.id === 'r4' && !x.voter));
      const replica = new GraftdClient({ endpoints: [cluster.info('r4').httpAddr], timeoutMs: 5000 });
      try {
        assert.equal(await waitFor('stale read on r4', async () => replica.get('shared', 'stale')), 'v1');
      } finally {
        await replica.close();
      }
      await sleep(1000);
      const status = await statusOf(cluster, 'r4');
      assert.equal(status?.role, 'learner');
      assert.ok(hasVoters(await membersOf(cluster, 'n0'), ['n0', 'n1', 'n2', 'n3']), 'r4 never became a voter');
    });

    await t.test('remove a follower; restarted, the removed node exits non-zero and does not disturb the cluster', async () => {
      const leader = await cluster.waitForLeader({ among: base });
      const victim = ['n3', 'n2', 'n1'].find((id) => id !== leader)!;
      const r = await ctl(cluster, base, ['--json', 'remove', victim]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { ok: true, id: victim });
      const remaining = ['n0', 'n1', 'n2', 'n3'].filter((id) => id !== victim);
      await waitMembers(cluster, leader, `${victim} gone`, (m) => !m.some((x) => x.id === victim) && hasVoters(m, remaining));

      // The removed node learns that its removal committed and stops taking part.
      const running = cluster.process(victim)!;
      let exitedByItself = false;
      void running.exited.then(() => {
        exitedByItself = true;
      });
      await waitFor(`${victim} to notice its removal`, async () =>
        exitedByItself || (await statusOf(cluster, victim))?.role === 'removed' ? true : undefined,
      );
      const before = await statusOf(cluster, leader);
      // Stop it and start it again on the same data dir.
      await cluster.stop(victim);
      const proc = await cluster.startNode(victim, { waitHealthy: false });
      const exit = await Promise.race([proc.exited, sleep(20_000).then(() => null)]);
      assert.ok(exit !== null, 'the removed node exits');
      assert.notEqual(exit.code, 0, 'with a non-zero code');
      assert.match(cluster.logTail(victim), /removed/i);
      assert.match(cluster.logTail(victim), /wipe|delete|empty/i, 'it says how to rejoin');

      await sleep(1500); // three election timeouts
      const after = await statusOf(cluster, leader);
      assert.equal(after?.role, 'leader');
      assert.equal(after?.term, before?.term, 'no election happened');
      await client.set({ afterRemove: 'ok' });
    });

    await t.test('leadership transfer to a named voter and to the best voter', async () => {
      const voters = (await membersOf(cluster, 'n0')).filter((m) => m.voter).map((m) => m.id);
      const leader = await cluster.waitForLeader({ among: voters });
      const target = voters.find((id) => id !== leader)!;
      const r = await ctl(cluster, voters, ['--json', 'transfer-leader', target]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { ok: true, leader: target });
      assert.equal(await cluster.waitForLeader({ among: voters }), target);

      const any = JSON.parse(await ctlOk(cluster, voters, ['--json', 'transfer-leader'])) as { leader: string };
      assert.notEqual(any.leader, target);
      assert.equal(await cluster.waitForLeader({ among: voters }), any.leader);
      await client.set({ afterTransfer: 'ok' });
    });

    await t.test('replace a dead node: same id, new address, empty disk', async () => {
      const voters = (await membersOf(cluster, cluster.running()[0]!)).filter((m) => m.voter).map((m) => m.id);
      const leader = await cluster.waitForLeader({ among: voters });
      const dead = voters.find((id) => id !== leader)!;
      await cluster.kill(dead);
      rmSync(cluster.info(dead).dataDir, { recursive: true, force: true });
      const info: NodeInfo = {
        id: dead,
        ip: IP,
        httpAddr: `${IP}:19029`,
        raftAddr: `${IP}:19129`,
        dataDir: joinPath(cluster.root, `${dead}-replacement`),
        logFile: joinPath(cluster.root, `${dead}-replacement.log`),
      };
      const args = ['-id', dead, '-haddr', info.httpAddr, '-raddr', info.raftAddr, '-join', cluster.info(leader).httpAddr, info.dataDir];
      extra.push(spawnGraftd(args, TEST_ENV, info.logFile, info));
      replaced.id = dead;
      replaced.httpAddr = info.httpAddr;
      {
        const members = await waitMembers(cluster, leader, `${dead} re-added at its new address`, (m) =>
          m.some((x) => x.id === dead && x.raftAddr === info.raftAddr && x.voter),
        );
        assert.equal(members.filter((m) => m.id === dead).length, 1, 'the old entry was removed');
        assert.ok(hasVoters(members, voters));
        const replaced = new GraftdClient({ endpoints: [info.httpAddr], timeoutMs: 5000 });
        try {
          assert.equal(await waitFor('the replacement serves the data', async () => replaced.get('afterTransfer', 'stale')), 'ok');
        } finally {
          await replaced.close();
        }
        await client.set({ afterReplace: 'ok' });
      }
    });
    await t.test('remove the leader: it hands over first, the cluster keeps serving', async () => {
      const voters = (await membersOf(cluster, 'n0')).filter((m) => m.voter).map((m) => m.id);
      // Nodes whose addresses the Cluster helper knows (the replacement runs elsewhere).
      const known = voters.filter((id) => id !== replaced.id);
      const target = known[0]!;
      await ctlOk(cluster, known, ['transfer-leader', target]);
      assert.equal(await cluster.waitForLeader({ among: known }), target);
      const survivors = [...known.filter((id) => id !== target).map((id) => cluster.info(id).httpAddr), replaced.httpAddr];
      const r = await graftctl(['--endpoints', survivors.join(','), 'remove', target]);
      assert.equal(r.code, 0, r.stderr);
      const observer = known.find((id) => id !== target)!;
      const status = await waitFor('a new leader without the old one', async () => {
        const s = await statusOf(cluster, observer);
        return s !== undefined && s.leaderId !== '' && s.leaderId !== target && !s.members.some((m) => m.id === target) ? s : undefined;
      });
      assert.ok(
        hasVoters(
          status.members,
          voters.filter((id) => id !== target),
        ),
      );
      const after = new GraftdClient({ endpoints: survivors, timeoutMs: 5000, retries: 10 });
      try {
        await after.set({ afterLeaderRemoved: 'ok' });
        assert.equal(await after.get('afterLeaderRemoved'), 'ok');
      } finally {
        await after.close();
      }
      await cluster.stop(target);
    });
  } finally {
    await client.close();
    for (const proc of extra) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    await cluster.destroy();
  }
});
