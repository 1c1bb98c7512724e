/**
 * Every route of the HTTP API against a fake node, through fastify inject: the original's
 * shapes, the improvements (404 for a missing key), read levels and response headers.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { GraftdError, TimeoutError } from '../../src/errors.ts';
import { FakeNode } from './fake-node.ts';
import { assertError, makeServer } from './helpers.ts';

test('POST /key with curl -d (form content-type) stores every pair and answers 200 with an empty body', async () => {
  const { app, node } = await makeServer();
  const res = await app.inject({
    method: 'POST',
    url: '/key',
    payload: '{"user":"kj","lang":"ts"}',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, '');
  assert.equal(res.headers['x-graftd-node'], 'node0');
  assert.equal(res.headers['x-graftd-leader'], 'node0');
  assert.deepEqual(Object.fromEntries(node.data), { user: 'kj', lang: 'ts' });
  assert.deepEqual(node.calls, [{ method: 'set', args: [{ user: 'kj', lang: 'ts' }] }]);
  await app.close();
});

test('POST /key accepts JSON, no content-type, and a malformed content-type alike', async () => {
  const { app, node } = await makeServer();
  for (const headers of [{ 'content-type': 'application/json' }, {}, { 'content-type': ';;garbage' }, { 'content-type': 'text/plain' }]) {
    const res = await app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}', headers });
    assert.equal(res.statusCode, 200, JSON.stringify(headers) + res.body);
  }
  assert.equal(node.calls.length, 4);
  await app.close();
});

test('GET /key/<k> answers {"k":"v"}; a missing key is 404 GRAFTD_KEY_NOT_FOUND', async () => {
  const { app, node } = await makeServer();
  node.data.set('user', 'kj');
  const res = await app.inject({ url: '/key/user' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(res.body), { user: 'kj' });
  assert.deepEqual(node.calls.at(-1), { method: 'getMeta', args: ['user', 'linearizable'] });
  assertError(await app.inject({ url: '/key/nope' }), 404, 'GRAFTD_KEY_NOT_FOUND');
  await app.close();
});

test('keys may contain any character: slashes, spaces, percent, unicode, __proto__', async () => {
  const { app, node } = await makeServer();
  const keys = ['a/b/c', '/lead', 'sp ace', '100%', 'ключ', '?&=#', '__proto__', 'trailing/'];
  for (const key of keys) {
    const set = await app.inject({ method: 'POST', url: '/key', payload: JSON.stringify({ [key]: `v-${key}` }) });
    assert.equal(set.statusCode, 200, key);
    assert.equal(node.data.get(key), `v-${key}`);
    const get = await app.inject({ url: `/key/${encodeURIComponent(key)}` });
    assert.equal(get.statusCode, 200, `${key}: ${get.body}`);
    assert.equal(get.body, JSON.stringify({ [key]: `v-${key}` }));
  }
  // An unencoded '/' inside the path is part of the key too.
  const raw = await app.inject({ url: '/key/a/b/c' });
  assert.deepEqual(JSON.parse(raw.body), { 'a/b/c': 'v-a/b/c' });
  const del = await app.inject({ method: 'DELETE', url: `/key/${encodeURIComponent('a/b/c')}` });
  assert.equal(del.statusCode, 200);
  assert.equal(node.data.has('a/b/c'), false);
  await app.close();
});

test('read levels: default linearizable, lease, stale are passed to the node', async () => {
  const { app, node } = await makeServer();
  node.data.set('k', 'v');
  for (const level of ['linearizable', 'lease', 'stale'] as const) {
    const res = await app.inject({ url: `/key/k?level=${level}` });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(node.calls.at(-1), { method: 'getMeta', args: ['k', level] });
  }
  await app.close();
});

test('a stale read on a follower is served locally, even with no leader known', async () => {
  const node = new FakeNode({ id: 'node1', role: 'follower', leaderId: '' });
  const { app } = await makeServer(node);
  node.data.set('k', 'old');
  const res = await app.inject({ url: '/key/k?level=stale' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(JSON.parse(res.body), { k: 'old' });
  assert.equal(res.headers['x-graftd-node'], 'node1');
  assert.equal(res.headers['x-graftd-leader'], undefined);
  await app.close();
});

test('DELETE /key/<k> answers 200 with an empty body, also for an absent key', async () => {
  const { app, node } = await makeServer();
  node.data.set('k', 'v');
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ method: 'DELETE', url: '/key/k' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, '');
  }
  assert.deepEqual(node.calls.at(-1), { method: 'del', args: [['k']] });
  assert.equal(node.data.has('k'), false);
  await app.close();
});

test('POST /join passes id, addr, httpAddr, voter (default true) and fresh (default false) to node.join', async () => {
  const { app, node } = await makeServer();
  const res = await app.inject({ method: 'POST', url: '/join', payload: '{"id":"node3","addr":"127.0.0.41:18103"}' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, '');
  assert.deepEqual(node.calls.at(-1), {
    method: 'join',
    args: [{ id: 'node3', raftAddr: '127.0.0.41:18103', httpAddr: '', voter: true, fresh: false }],
  });
  const full = await app.inject({
    method: 'POST',
    url: '/join',
    payload: { id: 'node4', addr: '127.0.0.41:18104', httpAddr: '127.0.0.41:18004', voter: false, fresh: true },
  });
  assert.equal(full.statusCode, 200);
  assert.deepEqual(node.calls.at(-1), {
    method: 'join',
    args: [{ id: 'node4', raftAddr: '127.0.0.41:18104', httpAddr: '127.0.0.41:18004', voter: false, fresh: true }],
  });
  await app.close();
});

test('POST /remove and POST /transfer-leader call the node and map its errors', async () => {
  const { app, node } = await makeServer();
  await app.inject({ method: 'POST', url: '/join', payload: { id: 'node2', addr: 'x:1' } });
  assert.equal((await app.inject({ method: 'POST', url: '/remove', payload: { id: 'node2' } })).statusCode, 200);
  assertError(await app.inject({ method: 'POST', url: '/remove', payload: { id: 'node2' } }), 404, 'GRAFTD_UNKNOWN_MEMBER');
  node.failNext = new GraftdError('GRAFTD_LAST_VOTER', 'would leave no voter');
  assertError(await app.inject({ method: 'POST', url: '/remove', payload: { id: 'node0' } }), 409, 'GRAFTD_LAST_VOTER');

  const auto = await app.inject({ method: 'POST', url: '/transfer-leader' });
  assert.equal(auto.statusCode, 200);
  assert.deepEqual(JSON.parse(auto.body), { leader: 'node1' });
  assert.deepEqual(node.calls.at(-1), { method: 'transferLeader', args: [undefined] });
  const named = await app.inject({ method: 'POST', url: '/transfer-leader', payload: { id: 'node2' } });
  assert.deepEqual(JSON.parse(named.body), { leader: 'node2' });
  assert.equal((await app.inject({ method: 'POST', url: '/transfer-leader', payload: {} })).statusCode, 200);
  await app.close();
});

test('node errors keep their status and code: 409, 503 with Retry-After, 504, 500', async () => {
  const { app, node } = await makeServer();
  const cases: [Error, number, string][] = [
    [new GraftdError('GRAFTD_CONF_CHANGE_IN_PROGRESS', 'pending'), 409, 'GRAFTD_CONF_CHANGE_IN_PROGRESS'],
    [new GraftdError('GRAFTD_PROPOSAL_DROPPED', 'dropped'), 503, 'GRAFTD_PROPOSAL_DROPPED'],
    [new TimeoutError('set', 10), 504, 'GRAFTD_TIMEOUT'],
    [new Error('boom'), 500, 'GRAFTD_INTERNAL'],
  ];
  for (const [err, status, code] of cases) {
    node.failNext = err;
    assertError(await app.inject({ method: 'POST', url: '/key', payload: '{"a":"b"}' }), status, code);
  }
  await app.close();
});

test('GET /status, /healthz, /readyz and /snapshot', async () => {
  const { app, node } = await makeServer();
  node.data.set('a', '1');
  const status = await app.inject({ url: '/status' });
  assert.equal(status.statusCode, 200);
  const body = JSON.parse(status.body) as { id: string; role: string; keys: number; members: unknown[] };
  assert.equal(body.id, 'node0');
  assert.equal(body.role, 'leader');
  assert.equal(body.keys, 1);
  assert.deepEqual(JSON.parse((await app.inject({ url: '/healthz' })).body), { ok: true });
  assert.deepEqual(JSON.parse((await app.inject({ url: '/readyz' })).body), { ready: true });
  node.ready = false;
  node.leaderId = '';
  const notReady = await app.inject({ url: '/readyz' });
  assert.equal(notReady.statusCode, 503);
  assert.equal(notReady.headers['retry-after'], '1');
  const nr = JSON.parse(notReady.body) as { ready: boolean; code: string };
  assert.equal(nr.ready, false);
  assert.equal(nr.code, 'GRAFTD_NO_LEADER');
  const snap = await app.inject({ url: '/snapshot' });
  assert.equal(snap.statusCode, 200);
  assert.equal(snap.headers['content-type'], 'application/octet-stream');
  assert.equal(snap.body, '["a","1"]\n');
  await app.close();
});

test('plugins add routes, and the 405 table knows about them', async () => {
  const plugin = async (app: import('fastify').FastifyInstance): Promise<void> => {
    app.get('/ui', async () => 'page');
  };
  const { app } = await makeServer(undefined, { plugins: [plugin] });
  assert.equal((await app.inject({ url: '/ui' })).body, 'page');
  const res = await app.inject({ method: 'POST', url: '/ui' });
  assertError(res, 405, 'GRAFTD_METHOD_NOT_ALLOWED');
  assert.equal(res.headers.allow, 'GET, HEAD');
  await app.close();
});

test('requests arriving while the server closes get 503 GRAFTD_SHUTTING_DOWN and are not processed', async () => {
  const { app, node } = await makeServer();
  await app.listen({ host: '127.0.0.41', port: 18011 });
  node.hang = true;
  const socket = connect({ host: '127.0.0.41', port: 18011 });
  let text = '';
  socket.on('data', (chunk) => {
    text += chunk.toString();
  });
  const ended = new Promise((resolve) => socket.on('close', resolve));
  const post = (body: string) =>
    `POST /key HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  socket.write(post('{"a":"1"}'));
  while (node.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const closed = app.close(); // the connection is busy, so it stays open
  socket.write(post('{"b":"2"}')); // a second request on the same keep-alive connection
  while (!text.includes('GRAFTD_SHUTTING_DOWN') && node.calls.length === 1) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (text === '') node.releaseHung(); // answer the first request so the second is written
  }
  await closed;
  socket.destroy();
  await ended;
  assert.match(text, /HTTP\/1\.1 503 [\s\S]*"code":"GRAFTD_SHUTTING_DOWN"/);
  assert.match(text, /Retry-After: 1/i);
  assert.equal(node.calls.length, 1, 'the late request never reached the node');
});
