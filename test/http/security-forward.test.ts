/**
 * Forwarded identity: a follower relaying a request to the leader over HTTP carries the client's
 * Authorization header, and the leader checks it again — a follower cannot be used to do more
 * than the client may (before issue 10 the relayed request carried no identity at all).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FakeNode } from './fake-node.ts';
import { assertError, makeServer } from './helpers.ts';
import { makeAuthFixture, security } from './security-helpers.ts';
import type { AuthFixture } from './security-helpers.ts';

const host = '127.0.0.47';
let fx: AuthFixture;
let leader: { app: FastifyInstance; node: FakeNode };
const seen: Array<string | undefined> = [];

before(async () => {
  fx = await makeAuthFixture();
  leader = await makeServer(new FakeNode({ id: 'node0', role: 'leader' }), { security: security({ authFile: fx.file }) });
  leader.app.addHook('onRequest', async (request) => {
    seen.push(request.headers.authorization);
  });
  await leader.app.listen({ host, port: 18080 });
});

after(async () => {
  await leader.app.close();
  fx.cleanup();
});

function follower(authFile?: string) {
  const node = new FakeNode({ id: 'node1', role: 'follower', leaderId: 'node0', leaderHttpAddr: `${host}:18080`, forwards: false });
  return makeServer(node, { security: security(authFile === undefined ? {} : { authFile }) });
}

test("a relayed request carries the client's Authorization and the leader answers for those credentials", async () => {
  const { app } = await follower(fx.file);
  leader.node.data.set('k', 'v');
  seen.length = 0;
  const read = await app.inject({ url: '/key/k', headers: { authorization: fx.basic.read } });
  assert.equal(read.statusCode, 200, read.body);
  assert.equal(read.headers['x-graftd-forwarded-by'], 'node1');
  assert.deepEqual(seen, [fx.basic.read]);
  const join = await app.inject({
    method: 'POST',
    url: '/join',
    payload: { id: 'n7', addr: '127.0.0.47:1' },
    headers: { authorization: fx.bearer.admin },
  });
  assert.equal(join.statusCode, 200, join.body);
  assert.equal(seen.at(-1), fx.bearer.admin);
  await app.close();
});

test('a follower without an auth file cannot be used to bypass the leader: the leader refuses what the client may not do', async () => {
  const { app } = await follower();
  // The follower lets anybody through (no auth file), the leader does not.
  assertError(await app.inject({ url: '/key/k' }), 401, 'GRAFTD_UNAUTHORIZED');
  const asReader = await app.inject({
    method: 'POST',
    url: '/join',
    payload: { id: 'n8', addr: '127.0.0.47:2' },
    headers: { authorization: fx.basic.read },
  });
  assertError(asReader, 403, 'GRAFTD_FORBIDDEN');
  const asWriter = await app.inject({ method: 'POST', url: '/remove', payload: { id: 'n7' }, headers: { authorization: fx.basic.write } });
  assertError(asWriter, 403, 'GRAFTD_FORBIDDEN');
  assert.equal(leader.node.calls.filter((c) => c.method === 'join' && (c.args[0] as { id: string }).id === 'n8').length, 0);
  await app.close();
});
