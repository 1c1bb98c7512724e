/**
 * The original README's walkthrough with real processes: one node bootstraps, two join; a write
 * POSTed to a follower (the README's own example) succeeds; every node serves it; delete; 404.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Cluster } from './cluster.ts';

const c = new Cluster({ ips: ['127.0.0.31', '127.0.0.32', '127.0.0.33'], httpPortBase: 15000, raftPortBase: 16000 });
const ids = ['nodew', 'nodee', 'noder'];

before(async () => {
  // All three are voters once the learners are promoted.
  await c.startVoters(['nodew', 'nodee', 'noder']);
});

after(() => c.destroy());

test('a write POSTed to a follower is applied and readable on every node', async () => {
  const leader = await c.waitForLeader();
  const follower = ids.find((id) => id !== leader)!;
  const w = await c.post(follower, '/key', { user: 'kj' });
  assert.equal(w.status, 200, w.text);
  for (const id of ids) {
    const r = await c.get(id, '/key/user');
    assert.equal(r.status, 200, `${id}: ${r.text}`);
    assert.deepEqual(JSON.parse(r.text), { user: 'kj' });
  }
  // Stale reads converge on every node too.
  for (const id of ids) {
    await c.waitStatus(id, (s) => Number(s.appliedIndex) >= 1 && Number(s.keys) >= 1);
    const r = await c.get(id, '/key/user?level=stale');
    assert.equal(r.status, 200, `${id}: ${r.text}`);
  }
});

test('delete on a follower, then every node answers 404', async () => {
  const leader = await c.waitForLeader();
  const follower = ids.find((id) => id !== leader)!;
  assert.equal((await c.post(follower, '/key', { a: '1', b: '2' })).status, 200);
  const res = await fetch(`${c.url(follower)}/key/a`, { method: 'DELETE' });
  assert.equal(res.status, 200, await res.text());
  for (const id of ids) {
    const r = await c.get(id, '/key/a');
    assert.equal(r.status, 404, `${id}: ${r.text}`);
    assert.equal(JSON.parse(r.text).code, 'GRAFTD_KEY_NOT_FOUND');
    assert.deepEqual(JSON.parse((await c.get(id, '/key/b')).text), { b: '2' });
  }
});

test('status lists every member with addresses; lease reads work on the leader', async () => {
  const leader = await c.waitForLeader();
  const s = await c.status(leader);
  assert.ok(s);
  const members = s.members as { id: string; raftAddr: string; httpAddr: string; voter: boolean }[];
  assert.deepEqual(members.map((m) => m.id).sort(), [...ids].sort());
  for (const m of members) {
    assert.equal(m.raftAddr, c.info(m.id).raftAddr);
    assert.equal(m.httpAddr, c.info(m.id).httpAddr);
  }
  assert.equal((await c.get(leader, '/key/b?level=lease')).status, 200);
  const ready = await c.get(leader, '/readyz');
  assert.equal(ready.status, 200, ready.text);
});

test('restarting a member with -join again is a no-op: same members, same data', async () => {
  const leader = await c.waitForLeader();
  const follower = ids.find((id) => id !== leader)!;
  await c.stop(follower);
  await c.startNode(follower, { join: leader });
  await c.waitStatus(follower, (s) => s.leaderId !== '' && Number(s.keys) >= 2);
  const s = await c.waitStatus(leader, (st) => (st.members as unknown[]).length === 3);
  assert.deepEqual((s.members as { id: string }[]).map((m) => m.id).sort(), [...ids].sort());
  assert.match(c.logTail(follower, 20_000), /joined the cluster \(or was already a member\)/);
  assert.deepEqual(JSON.parse((await c.get(follower, '/key/b')).text), { b: '2' });
});

test('bad input on a real node: 4xx with the JSON error shape', async () => {
  const leader = await c.waitForLeader();
  const follower = ids.find((id) => id !== leader)!;
  const send = async (method: string, path: string, body?: string) => {
    const res = await fetch(c.url(follower) + path, { method, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    return { status: res.status, code: (JSON.parse(text) as { code: string; error: string }).code };
  };
  assert.deepEqual(await send('POST', '/key', '{"user":'), { status: 400, code: 'GRAFTD_INVALID_JSON' });
  assert.deepEqual(await send('POST', '/key', '["a"]'), { status: 400, code: 'GRAFTD_INVALID_BODY' });
  assert.deepEqual(await send('POST', '/key', '{"a":1}'), { status: 400, code: 'GRAFTD_INVALID_BODY' });
  assert.deepEqual(await send('POST', '/key', '{"":"x"}'), { status: 400, code: 'GRAFTD_INVALID_KEY' });
  assert.deepEqual(await send('POST', '/key', JSON.stringify({ big: 'x'.repeat(1024 * 1024 + 10) })), {
    status: 413,
    code: 'GRAFTD_TOO_LARGE',
  });
  assert.deepEqual(await send('GET', '/nope'), { status: 404, code: 'GRAFTD_ROUTE_NOT_FOUND' });
  // PUT /key/<k> is the conditional write since issue 13: a body without a value is a bad body.
  assert.deepEqual(await send('PUT', '/key/a', '{}'), { status: 400, code: 'GRAFTD_INVALID_BODY' });
  assert.deepEqual(await send('PATCH', '/key/a', '{}'), { status: 405, code: 'GRAFTD_METHOD_NOT_ALLOWED' });
  assert.deepEqual(await send('GET', '/key/user?level=bogus'), { status: 400, code: 'GRAFTD_INVALID_BODY' });
});
