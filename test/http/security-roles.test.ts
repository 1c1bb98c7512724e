/**
 * The role × endpoint matrix: every route, asked with no credentials, a wrong password, an unknown
 * user, a bad token, and as read / write / admin (user and token). Before issue 10 every cell was
 * allowed (no authentication at all), so each refusal below is an attack that used to succeed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { makePeerReadProof } from '../../src/security/peer-read-proof.ts';
import { vizorPlugin } from '../../src/vizor/plugin.ts';
import { FakeNode } from './fake-node.ts';
import { assertError, makeServer } from './helpers.ts';
import { basicHeader, makeAuthFixture, security } from './security-helpers.ts';
import type { AuthFixture } from './security-helpers.ts';

type Need = 'open' | 'read' | 'write' | 'admin';

const routes: ReadonlyArray<{ req: InjectOptions; need: Need }> = [
  { req: { method: 'GET', url: '/healthz' }, need: 'open' },
  { req: { method: 'GET', url: '/readyz' }, need: 'open' },
  { req: { method: 'GET', url: '/ui' }, need: 'open' },
  { req: { method: 'GET', url: '/ui/vizor.js' }, need: 'open' },
  { req: { method: 'GET', url: '/key/a' }, need: 'read' },
  { req: { method: 'HEAD', url: '/key/a' }, need: 'read' },
  { req: { method: 'GET', url: '/key/a?level=stale' }, need: 'read' },
  { req: { method: 'GET', url: '/status' }, need: 'read' },
  { req: { method: 'POST', url: '/key', payload: '{"a":"1"}' }, need: 'write' },
  { req: { method: 'DELETE', url: '/key/a' }, need: 'write' },
  // Coordination (issue 13): ranges and lease reads are reads; everything through the log is a write,
  // a transaction of gets only included.
  { req: { method: 'GET', url: '/key/a?meta=true' }, need: 'read' },
  { req: { method: 'GET', url: '/keys?prefix=' }, need: 'read' },
  { req: { method: 'GET', url: '/lease/1' }, need: 'read' },
  { req: { method: 'GET', url: '/leases' }, need: 'read' },
  { req: { method: 'PUT', url: '/key/a', payload: '{"value":"x"}' }, need: 'write' },
  { req: { method: 'DELETE', url: '/key/a?ifModRevision=0' }, need: 'write' },
  { req: { method: 'POST', url: '/txn', payload: '{"success":[{"get":{"key":"a"}}]}' }, need: 'write' },
  { req: { method: 'POST', url: '/lease', payload: '{"ttl":10}' }, need: 'write' },
  { req: { method: 'POST', url: '/lease/1/keepalive' }, need: 'write' },
  { req: { method: 'DELETE', url: '/lease/1' }, need: 'write' },
  { req: { method: 'POST', url: '/join', payload: '{"id":"n9","addr":"127.0.0.41:18109"}' }, need: 'admin' },
  { req: { method: 'POST', url: '/join', payload: '{"id":"node1","addr":"127.0.0.41:18101","fresh":true}' }, need: 'admin' },
  { req: { method: 'POST', url: '/remove', payload: '{"id":"n9"}' }, need: 'admin' },
  { req: { method: 'POST', url: '/transfer-leader', payload: '{}' }, need: 'admin' },
  { req: { method: 'GET', url: '/snapshot' }, need: 'admin' },
  { req: { method: 'GET', url: '/metrics' }, need: 'admin' },
  { req: { method: 'GET', url: '/ui/members/node0/status' }, need: 'admin' },
];

let fx: AuthFixture;
let app: FastifyInstance;
let node: FakeNode;

before(async () => {
  fx = await makeAuthFixture();
  node = new FakeNode();
  node.data.set('a', 'x');
  node.members = [{ id: 'node1', raftAddr: '127.0.0.41:18101', httpAddr: '127.0.0.41:18001', voter: true }];
  ({ app } = await makeServer(node, { security: security({ authFile: fx.file }), plugins: [vizorPlugin(node)] }));
});

after(async () => {
  await app.close();
  fx.cleanup();
});

const rank: Record<Need, number> = { open: 0, read: 1, write: 2, admin: 3 };

function label(r: InjectOptions): string {
  return `${r.method} ${r.url}`;
}

test('without credentials every protected route is 401 with WWW-Authenticate (Basic and Bearer); open routes answer', async () => {
  for (const { req, need } of routes) {
    const res = await app.inject(req);
    if (need === 'open') {
      assert.ok(res.statusCode < 400, `${label(req)} → ${res.statusCode}`);
      continue;
    }
    assert.equal(res.statusCode, 401, label(req));
    if (req.method !== 'HEAD') assertError(res, 401, 'GRAFTD_UNAUTHORIZED');
    const challenge = ([] as string[]).concat(res.headers['www-authenticate'] ?? []).join(', ');
    assert.match(challenge, /Basic realm="graftd", charset="UTF-8"/, label(req));
    assert.match(challenge, /Bearer/, label(req));
  }
});

test('a wrong password, an unknown user, a bad token or a malformed header is 401 everywhere it matters', async () => {
  const bad = [
    basicHeader('admin', 'wrong'),
    basicHeader('nobody', 'admin-pw'),
    'Bearer gtd_not-a-real-token',
    'Basic !!!',
    'Digest abc',
    `Bearer ${fx.tokens.admin}x`,
  ];
  for (const authorization of bad) {
    for (const { req, need } of routes) {
      if (need === 'open') continue;
      const res = await app.inject({ ...req, headers: { authorization } });
      assert.equal(res.statusCode, 401, `${authorization} ${label(req)} → ${res.statusCode} ${res.body}`);
      if (req.method !== 'HEAD') assertError(res, 401, 'GRAFTD_UNAUTHORIZED');
    }
  }
});

test('each role reaches exactly the routes of its level: below → 403 GRAFTD_FORBIDDEN, at or above → served', async () => {
  const before = node.calls.length;
  for (const role of ['read', 'write', 'admin'] as const) {
    for (const authorization of [fx.basic[role], fx.bearer[role]]) {
      for (const { req, need } of routes) {
        const res = await app.inject({ ...req, headers: { authorization } });
        if (rank[role] >= rank[need]) {
          assert.ok(res.statusCode !== 401 && res.statusCode !== 403, `${role} ${label(req)} → ${res.statusCode} ${res.body}`);
        } else {
          assert.equal(res.statusCode, 403, `${role} ${label(req)} → ${res.statusCode} ${res.body}`);
          if (req.method !== 'HEAD') assertError(res, 403, 'GRAFTD_FORBIDDEN');
        }
      }
    }
  }
  // A refused request never reached the node: only allowed ones did.
  const joins = node.calls.slice(before).filter((c) => c.method === 'join');
  assert.equal(joins.length, 4, 'only the admin user and token joined (2 join routes each)');
});

test('unknown routes stay 404 and wrong methods 405, with or without credentials', async () => {
  assertError(await app.inject({ url: '/nope' }), 404, 'GRAFTD_ROUTE_NOT_FOUND');
  assertError(await app.inject({ method: 'PUT', url: '/status' }), 405, 'GRAFTD_METHOD_NOT_ALLOWED');
  assertError(await app.inject({ url: '/nope', headers: { authorization: fx.basic.admin } }), 404, 'GRAFTD_ROUTE_NOT_FOUND');
});

test('a node without an auth file treats everyone as admin (the behaviour before issue 10)', async () => {
  const open = await makeServer(new FakeNode(), { security: security() });
  for (const { req } of routes) {
    if (String(req.url).startsWith('/ui')) continue;
    const res = await open.app.inject(req);
    assert.ok(res.statusCode !== 401 && res.statusCode !== 403, `${label(req)} → ${res.statusCode}`);
  }
  await open.app.close();
});

test('GraftdPeer (a node proving the cluster secret, no user) may read /status, nothing more; a bad proof is 401', async () => {
  const secret = randomBytes(32);
  const peerNode = new FakeNode();
  const peer = await makeServer(peerNode, { security: security({ authFile: fx.file, clusterSecret: () => secret }) });
  const header = (): string => `GraftdPeer ${makePeerReadProof(secret)}`;
  assert.equal((await peer.app.inject({ url: '/status', headers: { authorization: header() } })).statusCode, 200);
  assertError(
    await peer.app.inject({ method: 'POST', url: '/key', payload: '{"a":"1"}', headers: { authorization: header() } }),
    403,
    'GRAFTD_FORBIDDEN',
  );
  assertError(
    await peer.app.inject({
      method: 'POST',
      url: '/join',
      payload: '{"id":"node1","addr":"127.0.0.41:18101","fresh":true}',
      headers: { authorization: header() },
    }),
    403,
    'GRAFTD_FORBIDDEN',
  );
  const other = `GraftdPeer ${makePeerReadProof(randomBytes(32))}`;
  assertError(await peer.app.inject({ url: '/status', headers: { authorization: other } }), 401, 'GRAFTD_UNAUTHORIZED');
  const stale = `GraftdPeer ${makePeerReadProof(secret, Date.now() - 10 * 60_000)}`;
  assertError(await peer.app.inject({ url: '/status', headers: { authorization: stale } }), 401, 'GRAFTD_UNAUTHORIZED');
  assert.equal(peerNode.calls.length, 0);
  await peer.app.close();
});
