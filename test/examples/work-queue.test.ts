/**
 * The work-queue example as a 3-node cluster of real processes: operations through every node,
 * SIGKILL of the leader, a new leader, nothing acknowledged lost, no item claimed twice, and the
 * killed node restarted and caught up (by snapshot: the log is compacted aggressively).
 *
 * Why real processes: the example is what an embedder would ship; this runs it the way its README
 * says (node --import tsx examples/work-queue/main.ts). Loopback 127.0.0.181-183 (unused elsewhere).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

const MAIN = resolve(import.meta.dirname, '../../examples/work-queue/main.ts');
const IDS = ['n1', 'n2', 'n3'] as const;
type Id = (typeof IDS)[number];
const addr = (i: number) => ({ raft: `127.0.0.${181 + i}:18281`, http: `127.0.0.${181 + i}:18181` });
const CLUSTER = IDS.map((id, i) => `${id}=${addr(i).raft}/${addr(i).http}`).join(',');
/** Generous on a loaded 2-core machine; every wait below is bounded by it. */
const DEADLINE_MS = 30_000;

const root = mkdtempSync(join(tmpdir(), 'graftd-wq-'));
const procs = new Map<Id, ChildProcess>();

after(async () => {
  for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await sleep(100);
  rmSync(root, { recursive: true, force: true });
});

function start(id: Id): void {
  const i = IDS.indexOf(id);
  const args = ['--import', 'tsx', MAIN, '--id', id, '--data', join(root, id), '--raft', addr(i).raft, '--http', addr(i).http];
  // Fast elections; a snapshot every 20 entries keeping 5 behind it, so a restarted node needs one.
  args.push('--cluster', CLUSTER, '--heartbeat-ms', '50', '--election-ms', '500');
  args.push('--snapshot-threshold', '20', '--snapshot-interval-ms', '200', '--trailing-logs', '5');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.pipe(createWriteStream(join(root, `${id}.log`), { flags: 'a' }));
  procs.set(id, child);
}

function logTail(id: Id): string {
  try {
    return readFileSync(join(root, `${id}.log`), 'utf8')
      .split('\n')
      .slice(-15)
      .join('\n');
  } catch {
    return '(no log)';
  }
}

function alive(id: Id): boolean {
  const p = procs.get(id);
  return p !== undefined && p.exitCode === null && p.signalCode === null;
}

async function call(id: Id, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://${addr(IDS.indexOf(id)).http}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/**
 * Send one operation until it gets a definite answer, rotating over the live nodes. 503 (not done)
 * and 504 / a dropped connection (outcome unknown) are retried with the same body — the request
 * and claim ids make that safe. Counts the retries whose first outcome was unknown.
 */
let unknownOutcomes = 0;
async function op(first: Id, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const deadline = Date.now() + DEADLINE_MS;
  let k = IDS.indexOf(first);
  let last = '';
  while (Date.now() < deadline) {
    const id = IDS[k++ % IDS.length]!;
    if (!alive(id)) {
      if (!IDS.some(alive)) await sleep(100);
      continue;
    }
    try {
      const r = await call(id, method, path, body);
      if (r.status === 200) return r.json;
      last = `${id}: ${r.status} ${JSON.stringify(r.json)}`;
      if (r.status !== 503 && r.status !== 504) assert.fail(`${method} ${path} ${JSON.stringify(body)} → ${last}`);
      if (r.status === 504) unknownOutcomes++;
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      last = `${id}: ${(err as Error).message}`;
      unknownOutcomes++;
    }
    await sleep(100);
  }
  throw new Error(`${method} ${path} got no answer within ${DEADLINE_MS} ms; last: ${last}`);
}

interface Status {
  role: string;
  leaderId: string;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  snapshotIndex: number;
}

async function status(id: Id): Promise<Status | undefined> {
  try {
    const r = await call(id, 'GET', '/status');
    return r.status === 200 ? (r.json as unknown as Status) : undefined;
  } catch {
    return undefined;
  }
}

/** The leader every live node agrees on (not `not`). */
async function waitForLeader(not = ''): Promise<Id> {
  const deadline = Date.now() + DEADLINE_MS;
  while (Date.now() < deadline) {
    const live = IDS.filter(alive);
    const sts = await Promise.all(live.map(status));
    const leaders = new Set(sts.map((s) => s?.leaderId ?? ''));
    const [leader] = [...leaders];
    if (leaders.size === 1 && leader !== '' && leader !== not && sts.some((s) => s?.role === 'leader')) return leader as Id;
    await sleep(100);
  }
  throw new Error(`no agreed leader within ${DEADLINE_MS} ms; logs:\n${IDS.map((id) => `${id}:\n${logTail(id)}`).join('\n')}`);
}

/** Enqueued request id → item id; claim id → item id; acked item ids. */
const enqueued = new Map<string, number>();
const claims = new Map<string, number>();
const acked = new Set<number>();

async function enqueue(via: Id, n: number): Promise<void> {
  const requestId = `r${n}`;
  const r = await op(via, 'POST', '/enqueue', { requestId, payload: `job ${n}` });
  enqueued.set(requestId, r.id as number);
}

async function claim(via: Id, n: number): Promise<number | undefined> {
  const claimId = `c${n}`;
  const r = await op(via, 'POST', '/claim', { claimId });
  const item = r.item as { id: number; payload: string } | null;
  if (item === null) return undefined;
  claims.set(claimId, item.id);
  return item.id;
}

test('work queue on 3 real nodes survives SIGKILL of its leader', { timeout: 180_000 }, async () => {
  for (const id of IDS) start(id);
  const leader = await waitForLeader();
  const followers = IDS.filter((id) => id !== leader);

  // Writes through every node (followers forward over the raft connection).
  for (let n = 0; n < 30; n++) await enqueue(IDS[n % 3]!, n);
  for (let n = 0; n < 10; n++) await claim(followers[n % 2]!, n);
  for (let n = 0; n < 5; n++) {
    const r = await op(followers[0]!, 'POST', '/ack', { id: claims.get(`c${n}`), claimId: `c${n}` });
    assert.equal(r.outcome, 'done');
    acked.add(claims.get(`c${n}`)!);
  }
  // A retried enqueue returns the first item; a stranger cannot ack someone else's claim.
  assert.deepEqual(await op(followers[1]!, 'POST', '/enqueue', { requestId: 'r0', payload: 'job 0' }), {
    op: 'enqueue',
    id: enqueued.get('r0'),
    duplicate: true,
    requestId: 'r0',
  });
  assert.equal((await call(followers[1]!, 'POST', '/ack', { id: claims.get('c7'), claimId: 'someone-else' })).status, 409);
  // A linearizable read on a follower sees every write acknowledged before it.
  assert.deepEqual(await op(followers[1]!, 'GET', '/stats'), { ready: 20, claimed: 5, nextId: 31 });

  // Kill the leader while clients keep writing through the other two, until the new leader has
  // taken a snapshot well past anything the killed node holds (its log is then compacted away).
  let n = 30;
  let stopLoad = false;
  const load = (async () => {
    for (; !stopLoad; n++) {
      await enqueue(followers[n % 2]!, n);
      if (n % 3 === 0) await claim(followers[(n + 1) % 2]!, n);
    }
  })();
  while (n < 40) await sleep(10);
  const killedAt = (await status(leader))?.lastIndex ?? 0;
  procs.get(leader)!.kill('SIGKILL');
  const newLeader = await waitForLeader(leader);
  assert.notEqual(newLeader, leader);
  const writtenAtElection = n;
  const snapDeadline = Date.now() + DEADLINE_MS;
  while (((await status(newLeader))?.snapshotIndex ?? 0) < killedAt + 50 || n < writtenAtElection + 10) {
    assert.ok(Date.now() < snapDeadline, `no snapshot past ${killedAt + 50} on ${newLeader} within ${DEADLINE_MS} ms`);
    await sleep(100);
  }
  stopLoad = true;
  await load;
  const total = enqueued.size;

  // Nothing acknowledged is lost, retries did not duplicate, no item has two claimants.
  const items = (await op(newLeader, 'GET', '/items?limit=10000')) as {
    ready: { id: number }[];
    claimed: { id: number; claimId: string }[];
  };
  const stats = await op(newLeader, 'GET', '/stats');
  assert.equal(stats.nextId, total + 1, `exactly ${total} items were ever created (a retried enqueue never adds a second)`);
  assert.equal(new Set(enqueued.values()).size, total);
  const present = new Set([...items.ready.map((i) => i.id), ...items.claimed.map((i) => i.id)]);
  for (const [rid, id] of enqueued) assert.ok(present.has(id) || acked.has(id), `item ${id} of ${rid} is lost`);
  assert.equal(present.size + acked.size, total);
  const claimedIds = [...claims.values()];
  assert.equal(new Set(claimedIds).size, claimedIds.length, `an item was claimed twice: ${JSON.stringify([...claims])}`);
  for (const { id, claimId } of items.claimed) assert.equal(claims.get(claimId), id, `item ${id} held by ${claimId}`);
  assert.equal(items.claimed.length, claims.size - acked.size);

  // The killed node restarts from its data directory and catches up through the leader's snapshot.
  const logBefore = readFileSync(join(root, `${leader}.log`), 'utf8').length;
  start(leader);
  const marker = await op(newLeader, 'POST', '/enqueue', { requestId: 'after-restart', payload: 'x' });
  const want = JSON.stringify(await op(newLeader, 'GET', '/items?limit=10000'));
  const deadline = Date.now() + DEADLINE_MS;
  let seen = '';
  while (Date.now() < deadline) {
    const r = await call(leader, 'GET', '/items?limit=10000&level=stale').catch(() => undefined);
    seen = JSON.stringify(r?.json);
    if (seen === want) break;
    await sleep(200);
  }
  assert.equal(seen, want, `restarted ${leader} did not catch up; log:\n${logTail(leader)}`);
  assert.match(readFileSync(join(root, `${leader}.log`), 'utf8').slice(logBefore), /installed snapshot from the leader/);
  const st = await status(leader);
  assert.equal(st?.role, 'follower');
  assert.equal((await op(leader, 'GET', '/stats')).nextId, (marker.id as number) + 1);
  console.log(
    `leader ${leader} → ${newLeader}; ${total} enqueued, ${claims.size} claimed, ${acked.size} acked; outcome-unknown retries: ${unknownOutcomes}`,
  );
});
