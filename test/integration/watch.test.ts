/**
 * Watch streams and the coordination recipes with real graftd processes (issue 14): a watch
 * followed through a leader kill, that node's restart and a graceful stop of another node delivers
 * every revision exactly once and in order (two watchers: one over every endpoint, one pinned to
 * the node that is killed and restarted); locks exclude each other and are granted in create
 * revision order; a lock and a leadership held by a process that dies pass on after the lease
 * expires; graftctl watch prints changes and graftctl lock passes the exit code through; the
 * examples of docs/recipes.md (examples/recipes/*.ts) run and print what the page says.
 *
 * Addresses: 127.0.0.236–238, HTTP 15236–15238, raft 16236–16238. ELECTION_TIMEOUT=500 (TEST_ENV),
 * so the minimum lease TTL is 2 s.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { type ElectionLeader, GraftdClient, type GraftdClientError, type Lock, type WatchRevision } from '../../src/client/index.ts';
import { discoveryExample } from '../../examples/recipes/discovery.ts';
import { electionExample } from '../../examples/recipes/election.ts';
import { lockExample } from '../../examples/recipes/lock.ts';
import { Cluster } from './cluster.ts';

const GRAFTCTL = resolve(import.meta.dirname, '../../bin/graftctl');
const ids = ['w0', 'w1', 'w2'];
const c = new Cluster({ ips: ['127.0.0.236', '127.0.0.237', '127.0.0.238'], httpPortBase: 15236, raftPortBase: 16236 });
const addr = (id: string): string => c.info(id).httpAddr;
const allEndpoints = (): string[] => ids.map(addr);
const clients: GraftdClient[] = [];
const children: ChildProcessWithoutNullStreams[] = [];

function clientOf(endpoints: readonly string[]): GraftdClient {
  const client = new GraftdClient({ endpoints: [...endpoints], timeoutMs: 5000, backoffBaseMs: 50 });
  clients.push(client);
  return client;
}

/** Start a node, waiting generously for it (a graftd start takes seconds on a loaded 2-core machine). */
async function launch(id: string, join?: string): Promise<void> {
  await c.startNode(id, { waitHealthy: false, ...(join === undefined ? {} : { join }) });
  await c.waitHealthy(id, 60_000);
}

before(async () => {
  await c.startVoters(['w0', 'w1', 'w2'], { start: launch });
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  await Promise.all(clients.map((cl) => cl.close()));
  await c.destroy();
});

/** bin/graftctl against the cluster in its own process group (so a test can kill it with its children); output collected. */
function graftctl(args: readonly string[]): {
  child: ChildProcessWithoutNullStreams;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, [GRAFTCTL, '--endpoints', allEndpoints().join(','), ...args], {
    detached: true,
    env: { PATH: process.env.PATH ?? '' },
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    err += s;
  });
  const exit = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function until(pred: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Collect a watch's revisions in the background. */
function collect(
  client: GraftdClient,
  fromRevision: number,
  connects: string[],
): { got: WatchRevision[]; failed: () => unknown; stop: () => void } {
  const got: WatchRevision[] = [];
  const controller = new AbortController();
  let failure: unknown;
  void (async () => {
    try {
      for await (const r of client.watchRevisions({
        prefix: 'wt/',
        fromRevision,
        signal: controller.signal,
        backoffBaseMs: 50,
        backoffMaxMs: 300,
        idleTimeoutMs: 4000,
        maxFailures: 1000, // the pinned watcher waits out its node's restart, which takes long on a loaded machine
        onConnect: (i) => connects.push(i.endpoint),
      }))
        got.push(r);
    } catch (err) {
      failure = err;
    }
  })();
  return { got, failed: () => failure, stop: () => controller.abort() };
}

test('a watch through a leader kill, its restart and a graceful stop delivers every revision once, in order, without a gap', async () => {
  const t0 = Date.now();
  const leader = await c.waitForLeader();
  const others = ids.filter((id) => id !== leader);
  const writer = clientOf(allEndpoints());
  const start = (await writer.getMeta('wt/none')).revision + 1;
  const connectsAll: string[] = [];
  const connectsOne: string[] = [];
  const wAll = collect(clientOf([leader, ...others].map(addr)), start, connectsAll);
  const wOne = collect(clientOf([addr(leader)]), start, connectsOne);

  const acked = new Map<number, { key: string; value: string }>();
  const unknown = new Set<string>();
  let writing = true;
  const writes = (async () => {
    for (let i = 0; writing; i++) {
      const key = `wt/${i % 5}`;
      const value = `v${i}`;
      try {
        acked.set((await writer.put(key, value)).revision, { key, value });
      } catch (err) {
        if (!(err as GraftdClientError).outcomeUnknown) throw err;
        unknown.add(value);
      }
      await sleep(10);
    }
  })();

  const phases: string[] = [];
  let mark = t0;
  const phase = (what: string): void => {
    phases.push(`${what} ${Date.now() - mark} ms`);
    mark = Date.now();
  };
  await until(() => acked.size >= 20, '20 writes');
  phase('setup + 20 writes');
  await c.kill(leader);
  await c.waitForLeader({ among: others });
  phase('kill + new leader');
  await until(() => acked.size >= 40, '40 writes');
  await launch(leader);
  phase('restart');
  await until(() => acked.size >= 60, '60 writes');
  // A graceful stop: its streams end with `event: closed` (shutdown) and move on.
  const stopped = others[0]!;
  await c.stop(stopped);
  await c.waitForLeader({ among: ids.filter((id) => id !== stopped) });
  phase('graceful stop + leader');
  await until(() => acked.size >= 80, '80 writes');
  writing = false;
  await writes;
  const last = Math.max(...acked.keys());
  phase('writes done');
  for (const [name, w] of [
    ['all endpoints', wAll],
    ['pinned', wOne],
  ] as const) {
    await until(() => w.failed() !== undefined || (w.got.at(-1)?.revision ?? 0) >= last, `the ${name} watcher to reach ${last}`, 60_000);
    assert.equal(w.failed(), undefined, `${name}: ${String(w.failed())}`);
    const revisions = w.got.map((r) => r.revision);
    // No duplicate, no reordering, no gap: the writer is the only source of revisions in this test.
    assert.deepEqual(
      revisions,
      Array.from({ length: revisions.length }, (_, i) => start + i),
      `${name}: revisions are contiguous from ${start}`,
    );
    for (const r of w.got) {
      assert.equal(r.events.length, 1);
      const want = acked.get(r.revision);
      const e = r.events[0]!;
      if (want === undefined) assert.ok(unknown.has(e.value ?? ''), `${name}: revision ${r.revision} (${e.value}) was not written`);
      else assert.deepEqual({ key: e.key, value: e.value }, want, `${name}: revision ${r.revision}`);
    }
    for (const revision of acked.keys()) assert.ok(revision <= last && revisions.includes(revision), `${name}: acknowledged ${revision}`);
    w.stop();
  }
  phase('watchers caught up');
  assert.deepEqual(
    wAll.got.map((r) => r.revision),
    wOne.got.map((r) => r.revision),
  );
  assert.ok(new Set(connectsAll).size >= 2, `the all-endpoints watcher moved to another node: ${connectsAll.join(' ')}`);
  assert.ok(connectsOne.length >= 2, `the pinned watcher reconnected to the restarted node: ${connectsOne.length} connects`);
  console.log(
    `# watch: ${last - start + 1} revisions (${acked.size} acknowledged, ${unknown.size} unknown) through kill ${leader}, restart, stop ${stopped}; ` +
      `connects: all-endpoints ${connectsAll.length}, pinned ${connectsOne.length}; ${phases.join(', ')}`,
  );
  // The stopped node stays down: the remaining tests run on two of three nodes.
  await c.waitForLeader({ among: ids.filter((id) => id !== stopped) });
  console.log(`# watch test: ${Date.now() - t0} ms in all`);
});

test('three contenders: mutual exclusion, and waiters are granted the lock in create revision order', async () => {
  const contenders = ids.map((id) => clientOf([addr(id), ...allEndpoints().filter((e) => e !== addr(id))]));
  // Ordering: one holds, two queue in a known order.
  const holder = await contenders[0]!.lock('it-lock', { ttl: 2 });
  const granted: { who: number; lock: Lock }[] = [];
  const queued = (who: number): Promise<void> =>
    contenders[who]!.lock('it-lock', { ttl: 2 }).then((lock) => {
      granted.push({ who, lock });
    });
  const second = queued(1);
  const keys = async (): Promise<number> => (await contenders[0]!.range({ prefix: 'it-lock/' })).kvs.length;
  while ((await keys()) < 2) await sleep(20);
  const third = queued(2);
  while ((await keys()) < 3) await sleep(20);
  await sleep(300);
  assert.equal(granted.length, 0, 'nobody else holds it while it is held');
  await holder.release();
  await second;
  await sleep(300);
  assert.deepEqual(
    granted.map((g) => g.who),
    [1],
    'only the next waiter wakes',
  );
  await granted[0]!.lock.release();
  await third;
  assert.deepEqual(
    granted.map((g) => g.who),
    [1, 2],
  );
  assert.ok(holder.fencingToken < granted[0]!.lock.fencingToken && granted[0]!.lock.fencingToken < granted[1]!.lock.fencingToken);
  await granted[1]!.lock.release();

  // Mutual exclusion under contention: 3 × 5 critical sections, never two at once, tokens increasing.
  let inside = 0;
  let maxInside = 0;
  const tokens: number[] = [];
  await Promise.all(
    contenders.map(async (client) => {
      for (let i = 0; i < 5; i++) {
        const lock = await client.lock('it-mutex', { ttl: 2 });
        inside++;
        maxInside = Math.max(maxInside, inside);
        tokens.push(lock.fencingToken);
        await sleep(10);
        inside--;
        await lock.release();
      }
    }),
  );
  assert.equal(maxInside, 1);
  assert.equal(tokens.length, 15);
  assert.deepEqual(
    tokens,
    [...tokens].sort((a, b) => a - b),
    'fencing tokens grow with every holder',
  );
  assert.equal((await contenders[0]!.range({ prefix: 'it-mutex/' })).kvs.length, 0, 'released locks leave no key');
});

test('a lock held by a process that dies passes on once its lease expires', async () => {
  const holder = graftctl(['lock', '--ttl', '2', 'it-dead', '--', process.execPath, '-e', 'setInterval(() => {}, 1000)']);
  await until(() => holder.err().includes('holding lock it-dead'), `graftctl to hold the lock (stderr: ${holder.err()})`, 20_000);
  const client = clientOf(allEndpoints());
  let acquiredAt = 0;
  const waiting = client.lock('it-dead', { ttl: 2 }).then((lock) => {
    acquiredAt = Date.now();
    return lock;
  });
  // A graftctl waiting in the queue and interrupted leaves it (exit 130, its key removed).
  const impatient = graftctl(['lock', '--ttl', '2', 'it-dead', '--', 'true']);
  await until(() => impatient.err().includes('waiting for lock it-dead'), `graftctl to queue (stderr: ${impatient.err()})`);
  process.kill(impatient.child.pid!, 'SIGINT');
  assert.equal(await impatient.exit, 130, impatient.err());
  assert.equal((await client.range({ prefix: 'it-dead/' })).kvs.length, 2, 'the holder and the in-process waiter only');
  assert.equal(acquiredAt, 0, 'not granted while the holder lives');
  const killedAt = Date.now();
  process.kill(-holder.child.pid!, 'SIGKILL');
  const lock = await waiting;
  const ms = acquiredAt - killedAt;
  // TTL 2 s, from the last keepalive (≤ 2 s before the kill) + LEASE_CHECK_INTERVAL + a commit + the watch's delivery.
  assert.ok(ms <= 2000 + 2500, `granted ${ms} ms after the holder died`);
  console.log(`# lock: granted ${ms} ms after the holder (TTL 2 s) was killed`);
  await lock.release();
});

test('election: a leader that dies is replaced by the next candidate; observers see each leader, a proclaim and a resign', async () => {
  const first = graftctl(['elect', '--ttl', '2', 'it-elect', 'A']);
  await until(() => first.out().includes('elected: it-elect = A'), `graftctl to be elected (stderr: ${first.err()})`, 20_000);
  const client = clientOf(allEndpoints());
  const seen: (string | null)[] = [];
  const controller = new AbortController();
  const observing = (async () => {
    for await (const leader of client.observeElection('it-elect', { signal: controller.signal }))
      seen.push((leader as ElectionLeader | null)?.value ?? null);
  })();
  await until(() => seen.length === 1, 'the observer to see the first leader');
  const second = client.campaign('it-elect', 'B', { ttl: 2 });
  await sleep(300);
  process.kill(-first.child.pid!, 'SIGKILL');
  const leadership = await second;
  await until(() => seen.at(-1) === 'B', `the observer to see B (seen ${JSON.stringify(seen)})`);
  await leadership.proclaim('B2');
  await until(() => seen.at(-1) === 'B2', 'the observer to see the proclaimed value');
  await leadership.resign();
  await until(() => seen.at(-1) === null, 'the observer to see nobody lead');
  await assert.rejects(leadership.proclaim('late'), /no longer leads/);
  controller.abort();
  await observing;
  assert.deepEqual(seen, ['A', 'B', 'B2', null]);
});

test('graftctl lock passes the exit code through and releases; graftctl watch prints each change until SIGINT (exit 0)', async () => {
  const run = graftctl(['lock', 'it-exit', '--', process.execPath, '-e', 'process.exit(7)']);
  assert.equal(await run.exit, 7, run.err());
  const client = clientOf(allEndpoints());
  assert.equal((await client.range({ prefix: 'it-exit/' })).kvs.length, 0, 'released');

  const from = (await client.getMeta('gw/none')).revision + 1;
  const watcher = graftctl(['watch', '--prefix', 'gw/', '--rev', String(from), '--prev-value']);
  const r1 = (await client.put('gw/a', '1')).revision;
  const r2 = (await client.put('gw/a', 'two words')).revision;
  const r3 = (await client.deleteIf('gw/a', { ifVersion: 2 })).revision;
  await until(() => watcher.out().split('\n').length > 3, `three lines from graftctl watch (stderr: ${watcher.err()})`, 20_000);
  process.kill(watcher.child.pid!, 'SIGINT');
  assert.equal(await watcher.exit, 0, watcher.err());
  assert.equal(watcher.out(), `${r1}\tPUT\tgw/a\t1\n${r2}\tPUT\tgw/a\ttwo words\t(was 1)\n${r3}\tDELETE\tgw/a\t(was two words)\n`);
});

test('the recipes of docs/recipes.md run: a fenced lock, an election with an observer, discovery with an expiring entry', async () => {
  const endpoints = allEndpoints();
  assert.equal(await lockExample(endpoints), 6);
  assert.deepEqual(await electionExample(endpoints), ['(no leader)', 'node-a', 'node-a, v2', 'node-b', '(no leader)']);
  const web1 = 'web-1=10.0.0.1:80';
  assert.deepEqual(await discoveryExample(endpoints), ['(none)', web1, `${web1},web-2=10.0.0.2:80`, web1, '(none)']);
});
