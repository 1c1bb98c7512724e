/**
 * The coordination data model with real graftd processes (issue 13): compare-and-set from two
 * clients loses no update, a transaction sent to a follower, a lease's keys deleted by a revoke and
 * by expiry within ttl + a bound, and a lease kept alive through a leader kill keeps its keys.
 *
 * Addresses: 127.0.0.221–223, HTTP 15221–15223, raft 16221–16223. ELECTION_TIMEOUT=500 (TEST_ENV),
 * so the minimum lease TTL is max(2, 3 × 0.5) = 2 s.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConditionFailedError, GraftdClient } from '../../src/client/index.ts';
import { Cluster } from './cluster.ts';

const ids = ['c0', 'c1', 'c2'];
const c = new Cluster({ ips: ['127.0.0.221', '127.0.0.222', '127.0.0.223'], httpPortBase: 15221, raftPortBase: 16221 });
const endpoints = (): string[] => ids.map((id) => c.info(id).httpAddr);

/** A client of exactly `endpoint` (no failover), or of every node. */
function clientOf(endpoint?: string): GraftdClient {
  return new GraftdClient({ endpoints: endpoint === undefined ? endpoints() : [endpoint], timeoutMs: 5000, backoffBaseMs: 50 });
}

before(async () => {
  await c.startVoters(['c0', 'c1', 'c2']);
});

after(() => c.destroy());

test('compare-and-set from two clients (one on the leader, one on a follower) loses no increment', async () => {
  const leader = await c.waitForLeader();
  const follower = ids.find((id) => id !== leader)!;
  const clients = [clientOf(c.info(leader).httpAddr), clientOf(c.info(follower).httpAddr)];
  try {
    await clients[0]!.put('counter', '0');
    const perClient = 25;
    let conflicts = 0;
    const worker = async (client: GraftdClient): Promise<void> => {
      for (let done = 0; done < perClient; ) {
        const { kv } = await client.getMeta('counter');
        assert.ok(kv !== undefined);
        try {
          await client.put('counter', String(Number(kv.value) + 1), { ifModRevision: kv.modRevision });
          done++;
        } catch (err) {
          if (!(err instanceof ConditionFailedError)) throw err;
          assert.ok(err.current !== null && err.current.modRevision > kv.modRevision, 'a refused CAS names a newer revision');
          conflicts++;
        }
      }
    };
    await Promise.all(clients.map(worker));
    const { kv } = await clients[1]!.getMeta('counter');
    assert.equal(kv?.value, String(2 * perClient), `final counter (${conflicts} conflicts retried)`);
    assert.equal(kv?.version, 2 * perClient + 1);
    console.log(`# CAS: ${2 * perClient} increments from two clients, ${conflicts} conflicts refused with 412 and retried`);
  } finally {
    await Promise.all(clients.map((cl) => cl.close()));
  }
});

test('a transaction sent to a follower is applied once by the leader; ranges read the same revision everywhere', async () => {
  const leader = await c.waitForLeader();
  const follower = ids.find((id) => id !== leader)!;
  const txn = {
    compare: [{ key: 'txn/flag', target: 'exists', op: '=', value: false }],
    success: [{ put: { key: 'txn/flag', value: 'set' } }, { put: { key: 'txn/a', value: '1' } }, { put: { key: 'txn/b', value: '2' } }],
    failure: [{ get: { key: 'txn/flag' } }],
  };
  const res = await fetch(`${c.url(follower)}/txn`, { method: 'POST', body: JSON.stringify(txn), signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { succeeded: boolean; revision: number; results: unknown[] };
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.succeeded, true);
  assert.equal(res.headers.get('x-graftd-revision'), String(body.revision));
  assert.equal(res.headers.get('x-graftd-forwarded-by'), follower);
  const again = await fetch(`${c.url(follower)}/txn`, { method: 'POST', body: JSON.stringify(txn), signal: AbortSignal.timeout(10_000) });
  const second = (await again.json()) as { succeeded: boolean; revision: number };
  assert.equal(second.succeeded, false);
  assert.equal(second.revision, body.revision);
  for (const id of ids) {
    const range = await fetch(`${c.url(id)}/keys?prefix=txn/`, { signal: AbortSignal.timeout(10_000) });
    const page = (await range.json()) as { revision: number; kvs: { key: string; modRevision: number }[] };
    assert.deepEqual(
      page.kvs.map((kv) => [kv.key, kv.modRevision]),
      [
        ['txn/a', body.revision],
        ['txn/b', body.revision],
        ['txn/flag', body.revision],
      ],
      id,
    );
  }
});

test('lease grant → put with the lease (through a follower) → revoke deletes the keys in one revision', async () => {
  const leader = await c.waitForLeader();
  const follower = clientOf(c.info(ids.find((id) => id !== leader)!).httpAddr);
  try {
    const grant = await follower.leaseGrant(60);
    assert.equal(grant.ttl, 60);
    await follower.put('svc/a', 'a', { lease: grant.id });
    await follower.put('svc/b', 'b', { lease: grant.id });
    const info = await follower.leaseGet(grant.id);
    assert.deepEqual(info?.keys, ['svc/a', 'svc/b']);
    const before = (await follower.getMeta('svc/a')).revision;
    const revoked = await follower.leaseRevoke(grant.id);
    assert.deepEqual(revoked, { revision: before + 1, deleted: 2 });
    for (const id of ids) {
      const reader = clientOf(c.info(id).httpAddr);
      try {
        const page = await reader.range({ prefix: 'svc/' });
        assert.deepEqual(page.kvs, [], id);
        assert.ok(page.revision >= revoked.revision, id);
      } finally {
        await reader.close();
      }
    }
    assert.equal(await follower.leaseGet(grant.id), undefined);
  } finally {
    await follower.close();
  }
});

test('an abandoned lease at the minimum TTL expires, with its keys, within ttl + 1.5 s', async () => {
  const client = clientOf();
  try {
    const grant = await client.leaseGrant(1);
    assert.equal(grant.ttl, 2, 'raised to the minimum: max(2 s, 3 election timeouts)');
    const granted = Date.now();
    await client.put('eph/a', 'x', { lease: grant.id });
    await client.put('eph/b', 'y', { lease: grant.id });
    // Still there well inside the TTL.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await client.range({ prefix: 'eph/' })).kvs.length, 2, 'keys kept inside the TTL');
    let goneAfter = -1;
    while (Date.now() - granted < 10_000) {
      if ((await client.range({ prefix: 'eph/' })).kvs.length === 0) {
        goneAfter = Date.now() - granted;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(goneAfter > 0, 'the keys were never deleted');
    assert.ok(goneAfter >= grant.ttl * 1000 - 100, `expired early: ${goneAfter} ms after the grant`);
    assert.ok(goneAfter <= grant.ttl * 1000 + 1500, `expired ${goneAfter} ms after the grant`);
    assert.equal(await client.leaseGet(grant.id), undefined);
    console.log(`# lease expiry: ttl ${grant.ttl} s, keys gone ${goneAfter} ms after the grant`);
  } finally {
    await client.close();
  }
});

test('a lease kept alive through a leader kill keeps its keys; abandoned afterwards, it expires', async () => {
  const client = clientOf();
  try {
    const grant = await client.leaseGrant(3);
    await client.put('held/k', 'v', { lease: grant.id });
    const created = (await client.getMeta('held/k')).kv!;
    let stop = false;
    let keepalives = 0;
    let failures = 0;
    const keeper = (async () => {
      while (!stop) {
        try {
          await client.leaseKeepAlive(grant.id);
          keepalives++;
        } catch {
          failures++;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const leader = await c.waitForLeader();
    await new Promise((r) => setTimeout(r, 1000));
    await c.kill(leader);
    const next = await c.waitForLeader({ not: leader, among: ids.filter((id) => id !== leader) });
    // Twice the TTL after the kill: without the keepalives (or with a new leader expiring early) the key would be gone.
    const watchUntil = Date.now() + 2 * grant.ttl * 1000;
    const observer = clientOf(c.info(next).httpAddr);
    try {
      while (Date.now() < watchUntil) {
        const { kv } = await observer.getMeta('held/k');
        assert.ok(kv !== undefined, `the key vanished while its lease was kept alive (${keepalives} keepalives, ${failures} failed)`);
        assert.equal(kv.createRevision, created.createRevision);
        await new Promise((r) => setTimeout(r, 200));
      }
      stop = true;
      await keeper;
      const stopped = Date.now();
      let goneAfter = -1;
      while (Date.now() - stopped < 15_000) {
        if ((await observer.getMeta('held/k')).kv === undefined) {
          goneAfter = Date.now() - stopped;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(goneAfter > 0, 'the abandoned lease never expired');
      assert.ok(goneAfter <= grant.ttl * 1000 + 1500 + 500, `expired ${goneAfter} ms after the last keepalive loop`);
      console.log(
        `# keepalive through a leader kill: ${keepalives} keepalives (${failures} failed during the election); abandoned, gone after ${goneAfter} ms`,
      );
    } finally {
      await observer.close();
    }
    await c.startNode(leader);
  } finally {
    await client.close();
  }
});
