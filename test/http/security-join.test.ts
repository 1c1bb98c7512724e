/**
 * Membership is not a takeover path. Before issue 10 anybody could POST /join with an existing
 * voter's id (or `fresh: true`) and replace that voter — repeated, that hands over the majority.
 * Now: an admin may; a joining node may with a cluster-secret proof (which binds every field,
 * expires, and cannot be replayed); nobody else. Addresses must be plain host:port.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { JoinRequest } from '../../src/node/api.ts';
import { JOIN_PROOF_WINDOW_MS, JoinReplayCache, makeJoinProof, verifyJoinProof } from '../../src/security/join-proof.ts';
import { FakeNode } from './fake-node.ts';
import { assertError, makeServer } from './helpers.ts';
import { makeAuthFixture, security } from './security-helpers.ts';

const secret = randomBytes(32);
const join = { id: 'node1', raftAddr: '127.0.0.41:18101', httpAddr: '127.0.0.41:18001', voter: true, fresh: true };
const now = 1_800_000_000_000;

test('join proof: valid once; expired, from the future, replayed, tampered or made with another secret are refused', () => {
  const cache = new JoinReplayCache();
  const proof = makeJoinProof(secret, join, now);
  assert.equal(verifyJoinProof(secret, join, proof, now + 1000, cache), true);
  assert.match(String(verifyJoinProof(secret, join, proof, now + 1000, cache)), /already used/);
  const old = makeJoinProof(secret, join, now - JOIN_PROOF_WINDOW_MS - 1);
  assert.match(String(verifyJoinProof(secret, join, old, now, cache)), /window/);
  const future = makeJoinProof(secret, join, now + JOIN_PROOF_WINDOW_MS + 1);
  assert.match(String(verifyJoinProof(secret, join, future, now, cache)), /window/);
  const fresh = makeJoinProof(secret, join, now);
  for (const changed of [
    { ...join, id: 'node2' },
    { ...join, raftAddr: '127.0.0.99:18101' },
    { ...join, httpAddr: '127.0.0.99:18001' },
    { ...join, voter: false },
    { ...join, fresh: false },
  ]) {
    assert.match(String(verifyJoinProof(secret, changed, fresh, now, cache)), /does not match/);
  }
  assert.match(String(verifyJoinProof(randomBytes(32), join, fresh, now, cache)), /does not match/);
  const parts = fresh.split('.');
  const otherTs = [parts[0], String(now + 1), parts[2], parts[3]].join('.');
  assert.match(String(verifyJoinProof(secret, join, otherTs, now, cache)), /does not match/);
  for (const garbage of ['', 'v1', 'v2.1.2.3', 'v1.x.y.z', `v1.${now}.short.abc`, 'x'.repeat(1000)]) {
    assert.equal(typeof verifyJoinProof(secret, join, garbage, now, cache), 'string');
  }
  // The untouched fresh proof is still good (refusals did not consume it).
  assert.equal(verifyJoinProof(secret, join, fresh, now, cache), true);
});

test('join replay cache: bounded, fails closed when full, forgets expired nonces', () => {
  const cache = new JoinReplayCache(2);
  assert.equal(cache.add('a', 100, 0), true);
  assert.equal(cache.add('b', 100, 0), true);
  assert.equal(cache.add('c', 100, 0), false, 'full of live nonces: refuse, never forget one');
  assert.equal(cache.add('a', 100, 50), false);
  assert.equal(cache.add('c', 300, 200), true, 'a and b expired');
  assert.equal(cache.size, 1);
});

function leaderWithVoter(): FakeNode {
  const n = new FakeNode();
  n.members = [
    { id: 'node0', raftAddr: '127.0.0.41:18100', httpAddr: '127.0.0.41:18000', voter: true },
    { id: 'node1', raftAddr: '127.0.0.41:18101', httpAddr: '127.0.0.41:18001', voter: true },
  ];
  return n;
}

function joins(n: FakeNode): JoinRequest[] {
  return n.calls.filter((c) => c.method === 'join').map((c) => c.args[0] as JoinRequest);
}

test('a read or write user cannot replace an existing voter (same id, or fresh); an admin can', async () => {
  const fx = await makeAuthFixture();
  const { app, node } = await makeServer(leaderWithVoter(), { security: security({ authFile: fx.file, clusterSecret: () => secret }) });
  const takeover = [
    '{"id":"node1","addr":"127.0.0.66:18101","httpAddr":"127.0.0.66:18001"}',
    '{"id":"node1","addr":"127.0.0.41:18101","fresh":true}',
    '{"id":"evil","addr":"127.0.0.66:18102"}',
  ];
  for (const payload of takeover) {
    for (const authorization of [fx.basic.read, fx.basic.write, fx.bearer.write]) {
      assertError(await app.inject({ method: 'POST', url: '/join', payload, headers: { authorization } }), 403, 'GRAFTD_FORBIDDEN');
    }
    const anonymous = await app.inject({ method: 'POST', url: '/join', payload });
    assertError(anonymous, 401, 'GRAFTD_UNAUTHORIZED');
    assert.ok(anonymous.headers['www-authenticate'] !== undefined);
  }
  assert.equal(joins(node).length, 0);
  const res = await app.inject({ method: 'POST', url: '/join', payload: takeover[1] ?? '', headers: { authorization: fx.basic.admin } });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(joins(node)[0]?.verifyPeer, undefined, 'an admin join needs no extra verification');
  await app.close();
  fx.cleanup();
});

test('with a cluster secret, a join carrying a valid proof is allowed (verifyPeer) and a replay or a bad proof is 403', async () => {
  for (const authFile of [undefined, 'with-auth'] as const) {
    const fx = await makeAuthFixture();
    const sec = security({ clusterSecret: () => secret, ...(authFile === undefined ? {} : { authFile: fx.file }) });
    const { app, node } = await makeServer(leaderWithVoter(), { security: sec });
    const j = { id: 'node3', raftAddr: '127.0.0.41:18103', httpAddr: '127.0.0.41:18003', voter: true, fresh: true };
    const body = { id: j.id, addr: j.raftAddr, httpAddr: j.httpAddr, voter: j.voter, fresh: j.fresh };
    // No proof, no credentials: refused (without an auth file the secret is what protects /join).
    const none = await app.inject({ method: 'POST', url: '/join', payload: body });
    assert.ok(none.statusCode === 401 || none.statusCode === 403, `${none.statusCode}`);
    const proof = makeJoinProof(secret, j);
    const ok = await app.inject({ method: 'POST', url: '/join', payload: { ...body, proof } });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(joins(node)[0]?.verifyPeer, true);
    assert.equal(Object.hasOwn(joins(node)[0] ?? {}, 'proof'), false, 'the proof is not passed to the node');
    assertError(await app.inject({ method: 'POST', url: '/join', payload: { ...body, proof } }), 403, 'GRAFTD_FORBIDDEN');
    const forOther = makeJoinProof(secret, j);
    assertError(
      await app.inject({ method: 'POST', url: '/join', payload: { ...body, id: 'node1', proof: forOther } }),
      403,
      'GRAFTD_FORBIDDEN',
    );
    const wrongSecret = makeJoinProof(randomBytes(32), j);
    assertError(await app.inject({ method: 'POST', url: '/join', payload: { ...body, proof: wrongSecret } }), 403, 'GRAFTD_FORBIDDEN');
    assert.equal(joins(node).length, 1);
    await app.close();
    fx.cleanup();
  }
});

test('without auth file and secret /join stays open (the behaviour before issue 10)', async () => {
  const { app, node } = await makeServer(leaderWithVoter(), { security: security() });
  const res = await app.inject({ method: 'POST', url: '/join', payload: { id: 'node3', addr: '127.0.0.41:18103' } });
  assert.equal(res.statusCode, 200);
  assert.equal(joins(node)[0]?.verifyPeer, undefined);
  await app.close();
});

test('addr and httpAddr must be plain host:port: paths, queries, user info, schemes and spaces are 400', async () => {
  const { app, node } = await makeServer(leaderWithVoter());
  const bad = [
    '127.0.0.1:21999/secret/?',
    '127.0.0.1:21999?x=1',
    'user@127.0.0.1:21999',
    'http://127.0.0.1:21999',
    '127.0.0.1 :21999',
    '127.0.0.1:21999#',
    '/etc:1',
    '127.0.0.1',
    '127.0.0.1:0',
    '127.0.0.1:99999',
    '[::1/x]:80',
    'a\\b:1',
    'evil.example/:80',
  ];
  for (const addr of bad) {
    assertError(await app.inject({ method: 'POST', url: '/join', payload: { id: 'n5', addr } }), 400, 'GRAFTD_INVALID_BODY');
    assertError(
      await app.inject({ method: 'POST', url: '/join', payload: { id: 'n5', addr: '127.0.0.1:1', httpAddr: addr } }),
      400,
      'GRAFTD_INVALID_BODY',
    );
  }
  assert.equal(joins(node).length, 0);
  for (const addr of ['127.0.0.1:1', 'node-3.example.com:11000', '[::1]:11000', 'localhost:1']) {
    const res = await app.inject({ method: 'POST', url: '/join', payload: { id: 'n5', addr, httpAddr: addr } });
    assert.equal(res.statusCode, 200, `${addr}: ${res.body}`);
  }
  await app.close();
});
