/**
 * Forwarding from a follower to the leader over real loopback HTTP: relayed answers and
 * headers, stale reads kept local, loop prevention, and the outcome classification that
 * clients and the chaos checker rely on (503 = provably not sent, 504 = outcome unknown).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { GraftdError } from '../../src/errors.ts';
import { FakeNode } from './fake-node.ts';
import { assertError, makeServer } from './helpers.ts';

const host = '127.0.0.41';
const leaderAddr = `${host}:18020`;
const hangAddr = `${host}:18021`;
const resetAddr = `${host}:18022`;
const otherFollowerAddr = `${host}:18023`;
const deadAddr = `${host}:18029`;
const trickleAddr = `${host}:18024`;

let leader: { app: FastifyInstance; node: FakeNode };
let hangServer: Server;
let resetServer: Server;
let trickleServer: Server;
const trickleTimers = new Set<NodeJS.Timeout>();
const sockets = new Set<Socket>();

/** A TCP server that accepts connections and calls `onData` for what it receives. */
async function rawServer(port: number, onData: (socket: Socket) => void): Promise<Server> {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', () => onData(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}

before(async () => {
  leader = await makeServer(new FakeNode({ id: 'node0', role: 'leader' }));
  await leader.app.listen({ host, port: 18020 });
  hangServer = await rawServer(18021, () => {}); // reads the request, never answers
  resetServer = await rawServer(18022, (socket) => socket.destroy()); // reads the request, then drops the connection
  // Answers headers, then a body byte every 50 ms, forever: holds its connection without tripping undici's timeouts.
  trickleServer = await rawServer(18024, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n');
    const timer = setInterval(() => socket.write('1\r\n.\r\n'), 50);
    trickleTimers.add(timer);
    socket.on('close', () => clearInterval(timer));
  });
});

after(async () => {
  await leader.app.close();
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => hangServer.close(resolve));
  await new Promise((resolve) => resetServer.close(resolve));
  for (const t of trickleTimers) clearInterval(t);
  await new Promise((resolve) => trickleServer.close(resolve));
});

async function follower(
  leaderHttpAddr: string,
  opts: { forwardTimeoutMs?: number; id?: string; forwardConnections?: number; maxForwardInflight?: number } = {},
) {
  const { id, ...serverOpts } = opts;
  const node = new FakeNode({ id: id ?? 'node1', role: 'follower', leaderId: 'node0', leaderHttpAddr, forwards: false });
  return makeServer(node, serverOpts);
}

test('a write sent to a follower is applied by the leader and the answer names the leader', async () => {
  const { app, node } = await follower(leaderAddr);
  const res = await app.inject({
    method: 'POST',
    url: '/key',
    payload: '{"user":"kj"}',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.body, '');
  assert.equal(res.headers['content-type'], undefined);
  assert.equal(res.headers['x-graftd-leader'], 'node0');
  assert.equal(res.headers['x-graftd-node'], 'node0');
  assert.equal(res.headers['x-graftd-forwarded-by'], 'node1');
  assert.equal(leader.node.data.get('user'), 'kj');
  assert.equal(node.data.has('user'), false);
  assert.equal(node.calls.length, 0, 'a known follower forwards without calling the node');
  await app.close();
});

test('a node that stops leading between status() and the call still forwards (NotLeaderError path)', async () => {
  const { app, node } = await follower(leaderAddr);
  node.reportedRole = 'leader';
  const res = await app.inject({ method: 'POST', url: '/key', payload: '{"race":"1"}' });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['x-graftd-forwarded-by'], 'node1');
  assert.equal(leader.node.data.get('race'), '1');
  assert.deepEqual(node.calls, [{ method: 'set', args: [{ race: '1' }] }]);
  await app.close();
});

test('linearizable and lease reads, deletes and membership calls are forwarded; errors are relayed as they are', async () => {
  const { app } = await follower(leaderAddr);
  leader.node.data.set('fk', 'fv');
  for (const level of ['', '?level=linearizable', '?level=lease']) {
    const res = await app.inject({ url: `/key/fk${level}` });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(JSON.parse(res.body), { fk: 'fv' });
    assert.match(String(res.headers['content-type']), /^application\/json/);
  }
  assert.deepEqual(leader.node.calls.at(-1), { method: 'getMeta', args: ['fk', 'lease'] });
  const slash = await app.inject({ method: 'POST', url: '/key', payload: '{"a/b c":"1"}' });
  assert.equal(slash.statusCode, 200);
  assert.deepEqual(JSON.parse((await app.inject({ url: `/key/${encodeURIComponent('a/b c')}` })).body), { 'a/b c': '1' });
  assert.equal((await app.inject({ method: 'DELETE', url: '/key/fk' })).statusCode, 200);
  assert.equal(leader.node.data.has('fk'), false);
  assertError(await app.inject({ url: '/key/fk' }), 404, 'GRAFTD_KEY_NOT_FOUND');
  assert.equal((await app.inject({ method: 'POST', url: '/join', payload: { id: 'node5', addr: 'h:5' } })).statusCode, 200);
  assert.ok(leader.node.members.some((m) => m.id === 'node5'));
  assert.equal((await app.inject({ method: 'POST', url: '/remove', payload: { id: 'node5' } })).statusCode, 200);
  assertError(await app.inject({ method: 'POST', url: '/remove', payload: { id: 'node5' } }), 404, 'GRAFTD_UNKNOWN_MEMBER');
  const transfer = await app.inject({ method: 'POST', url: '/transfer-leader', payload: { id: 'node2' } });
  assert.deepEqual(JSON.parse(transfer.body), { leader: 'node2' });
  leader.node.failNext = new GraftdError('GRAFTD_CONF_CHANGE_IN_PROGRESS', 'pending at 7');
  assertError(
    await app.inject({ method: 'POST', url: '/join', payload: { id: 'node6', addr: 'h:6' } }),
    409,
    'GRAFTD_CONF_CHANGE_IN_PROGRESS',
  );
  await app.close();
});

test('a largest value full of control characters (6x longer as JSON) is relayed whole', async () => {
  const { app } = await follower(leaderAddr);
  const value = '\u0001'.repeat(256 * 1024);
  leader.node.data.set('ctl', value);
  const res = await app.inject({ url: '/key/ctl' });
  assert.equal(res.statusCode, 200, res.body.slice(0, 200));
  assert.ok(res.body.length > 6 * 256 * 1024);
  assert.equal((JSON.parse(res.body) as { ctl: string }).ctl, value);
  leader.node.data.delete('ctl');
  await app.close();
});

test('the leader answering 504 (its own timeout) is relayed as 504', async () => {
  const { app } = await follower(leaderAddr);
  leader.node.hang = true;
  const pending = app.inject({ method: 'POST', url: '/key', payload: '{"slow":"1"}' });
  while (!leader.node.calls.some((c) => c.method === 'set' && (c.args[0] as Record<string, string>).slow === '1')) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  leader.node.hang = false;
  leader.node.releaseHung();
  assertError(await pending, 504, 'GRAFTD_TIMEOUT');
  await app.close();
});

test('forwards leave from the configured local address (so per-address firewall rules cut them)', async () => {
  let seenFrom = '';
  const probe = createServer((socket) => {
    seenFrom = socket.remoteAddress ?? '';
    socket.destroy();
  });
  await new Promise<void>((resolve) => probe.listen(18025, host, resolve));
  try {
    const node = new FakeNode({ id: 'node1', role: 'follower', leaderId: 'node0', leaderHttpAddr: `${host}:18025`, forwards: false });
    const { app } = await makeServer(node, { forwardLocalAddress: '127.0.0.42' });
    await app.inject({ url: '/key/x' });
    assert.equal(seenFrom, '127.0.0.42');
    await app.close();
  } finally {
    await new Promise((resolve) => probe.close(resolve));
  }
});

test('stale reads are never forwarded', async () => {
  const { app, node } = await follower(leaderAddr);
  node.data.set('s', 'local');
  leader.node.data.set('s', 'leader');
  const before = leader.node.calls.length;
  const res = await app.inject({ url: '/key/s?level=stale' });
  assert.deepEqual(JSON.parse(res.body), { s: 'local' });
  assertError(await app.inject({ url: '/key/missing?level=stale' }), 404, 'GRAFTD_KEY_NOT_FOUND');
  assert.equal(leader.node.calls.length, before);
  await app.close();
});

test('a forwarded request that reaches a non-leader is answered 503 GRAFTD_NO_LEADER, never forwarded again', async () => {
  const { app, node } = await follower(leaderAddr);
  const before = leader.node.calls.length;
  const res = await app.inject({ method: 'POST', url: '/key', payload: '{"a":"b"}', headers: { 'x-graftd-forwarded': 'node2' } });
  assertError(res, 503, 'GRAFTD_NO_LEADER');
  assert.equal(leader.node.calls.length, before);
  assert.equal(node.calls.length, 1);
  await app.close();

  // Two followers that each believe the other is the leader: one hop, then 503.
  const a = await follower(otherFollowerAddr, { id: 'nodeA' });
  const b = await follower('127.0.0.41:18099', { id: 'nodeB' });
  await b.app.listen({ host, port: 18023 });
  try {
    const looped = await a.app.inject({ method: 'POST', url: '/key', payload: '{"a":"b"}' });
    assertError(looped, 503, 'GRAFTD_NO_LEADER');
    assert.equal(looped.headers['x-graftd-node'], 'nodeB');
    assert.equal(b.node.calls.length, 1);
  } finally {
    await a.app.close();
    await b.app.close();
  }
});

test('no leader known, or a leader without an HTTP address: 503 GRAFTD_NO_LEADER with Retry-After', async () => {
  const node = new FakeNode({ id: 'node1', role: 'follower', leaderId: '' });
  const { app } = await makeServer(node);
  assertError(await app.inject({ method: 'POST', url: '/key', payload: '{"a":"b"}' }), 503, 'GRAFTD_NO_LEADER');
  assertError(await app.inject({ url: '/key/a' }), 503, 'GRAFTD_NO_LEADER');
  node.leaderId = 'node0';
  node.leaderHttpAddr = '';
  const res = await app.inject({ method: 'DELETE', url: '/key/a' });
  assertError(res, 503, 'GRAFTD_NO_LEADER');
  assert.equal(res.headers['x-graftd-leader'], 'node0');
  await app.close();
});

test('an unreachable leader (connection refused) is 503 GRAFTD_NO_LEADER: provably not sent', async () => {
  const { app } = await follower(deadAddr);
  const res = await app.inject({ method: 'POST', url: '/key', payload: '{"a":"b"}' });
  assertError(res, 503, 'GRAFTD_NO_LEADER');
  assert.match(JSON.parse(res.body).error as string, /not sent/);
  assert.equal(res.headers['x-graftd-leader'], 'node0');
  await app.close();
});

test('a leader that takes the request and never answers is 504 GRAFTD_TIMEOUT: outcome unknown', async () => {
  const { app } = await follower(hangAddr, { forwardTimeoutMs: 300 });
  const res = await app.inject({ method: 'POST', url: '/key', payload: '{"a":"b"}' });
  assertError(res, 504, 'GRAFTD_TIMEOUT');
  assert.match(JSON.parse(res.body).error as string, /outcome is unknown/);
  await app.close();
});

test('a leader that drops the connection after receiving the request is 504 GRAFTD_TIMEOUT', async () => {
  const { app } = await follower(resetAddr);
  assertError(await app.inject({ method: 'POST', url: '/key', payload: '{"a":"b"}' }), 504, 'GRAFTD_TIMEOUT');
  assertError(await app.inject({ url: '/key/a' }), 504, 'GRAFTD_TIMEOUT');
  await app.close();
});

test('forward outcomes are counted in /metrics', async () => {
  const { app } = await follower(leaderAddr);
  await app.inject({ method: 'POST', url: '/key', payload: '{"m":"1"}' });
  const { app: dead } = await follower(deadAddr);
  await dead.inject({ method: 'POST', url: '/key', payload: '{"m":"1"}' });
  assert.match((await app.inject({ url: '/metrics' })).body, /graftd_http_forwarded_total\{outcome="relayed",node="node1"\} 1/);
  assert.match((await dead.inject({ url: '/metrics' })).body, /graftd_http_forwarded_total\{outcome="not_sent",node="node1"\} 1/);
  await app.close();
  await dead.close();
});

test('a request still waiting for a free connection to the leader when the timeout hits is 503: never sent', async () => {
  const { app } = await follower(trickleAddr, { forwardConnections: 1, forwardTimeoutMs: 400 });
  let served = 0;
  trickleServer.on('connection', (socket) => socket.on('data', () => served++));
  // The first request takes the only connection and keeps it (its answer never ends).
  const first = app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}' });
  while (served === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const second = await app.inject({ method: 'POST', url: '/key', payload: '{"b":"2"}' });
  assertError(second, 503, 'GRAFTD_NO_LEADER');
  assert.match(JSON.parse(second.body).error as string, /not sent/);
  await app.close(); // fails the first request
  assert.ok((await first).statusCode >= 500);
  assert.equal(served, 1, 'the abandoned request never reached the leader');
});

test('more forwards in flight than maxForwardInflight: 503 GRAFTD_PROPOSAL_DROPPED at once', async () => {
  const { app } = await follower(trickleAddr, { maxForwardInflight: 1 });
  const first = app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}' });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assertError(await app.inject({ method: 'POST', url: '/key', payload: '{"b":"2"}' }), 503, 'GRAFTD_PROPOSAL_DROPPED');
  await app.close();
  assert.ok((await first).statusCode >= 500);
});
