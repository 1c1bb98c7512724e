/**
 * HttpSecurity's credential handling: the password cache (bounded, keyed by HMAC, cleared on
 * reload), reload all-or-nothing, and the operational answers that depend on the config:
 * /status says "insecure", /healthz answers 503 once the node has failed permanently.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { loadAuthFile, withUser, writeAuthFile } from '../../src/security/auth-file.ts';
import { CredentialCache } from '../../src/security/http-credentials.ts';
import { FakeNode } from './fake-node.ts';
import { assertError, makeServer } from './helpers.ts';
import { basicHeader, makeAuthFixture, security } from './security-helpers.ts';

test('credential cache: LRU-bounded, expires, keys are HMACs that do not contain the password', () => {
  let now = 0;
  const cache = new CredentialCache({ maxEntries: 2, ttlMs: 100, now: () => now });
  const p = { name: 'a', role: 'read', kind: 'user' } as const;
  const k1 = cache.keyOf('a', 'secret-password');
  assert.ok(!k1.includes('secret'));
  assert.notEqual(k1, cache.keyOf('a', 'secret-passwore'));
  assert.notEqual(cache.keyOf('ab', 'c'), cache.keyOf('a', 'bc'));
  cache.set(k1, p);
  cache.set('k2', p);
  assert.equal(cache.get(k1), p); // k1 now most recent
  cache.set('k3', p); // evicts k2
  assert.equal(cache.get('k2'), undefined);
  assert.equal(cache.get(k1), p);
  now = 200;
  assert.equal(cache.get(k1), undefined, 'expired');
});

test('a changed password takes effect on reload (cache cleared); a bad new auth file keeps the old one', async () => {
  const fx = await makeAuthFixture();
  const sec = security({ authFile: fx.file });
  const { app } = await makeServer(new FakeNode(), { security: sec });
  assert.equal((await app.inject({ url: '/status', headers: { authorization: fx.basic.read } })).statusCode, 200);
  writeAuthFile(fx.file, await withUser(loadAuthFile(fx.file), 'reader', 'read', 'new-pw', 16));
  // Still cached until reload (short TTL in production), then the old password stops working.
  assert.equal((await app.inject({ url: '/status', headers: { authorization: fx.basic.read } })).statusCode, 200);
  sec.reload();
  assertError(await app.inject({ url: '/status', headers: { authorization: fx.basic.read } }), 401, 'GRAFTD_UNAUTHORIZED');
  assert.equal((await app.inject({ url: '/status', headers: { authorization: basicHeader('reader', 'new-pw') } })).statusCode, 200);
  fs.writeFileSync(fx.file, '{"version": 2}');
  assert.throws(
    () => sec.reload(),
    (err: Error & { code?: string }) => err.code === 'GRAFTD_BAD_CONFIG' && err.message.includes(fx.file),
  );
  assert.equal((await app.inject({ url: '/status', headers: { authorization: basicHeader('reader', 'new-pw') } })).statusCode, 200);
  await app.close();
  fx.cleanup();
});

test('concurrent first requests with the same credentials share one password check', async () => {
  const fx = await makeAuthFixture();
  const sec = security({ authFile: fx.file, maxPendingPasswordChecks: 1 });
  const { app } = await makeServer(new FakeNode(), { security: sec });
  // With a limit of 1 pending check, 20 concurrent identical requests all succeed only if they share it.
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => app.inject({ url: '/status', headers: { authorization: fx.basic.admin } })),
  );
  for (const a of answers) assert.equal(a.statusCode, 200, a.body);
  await app.close();
  fx.cleanup();
});

test('/status reports "insecure" from the security config; absent without one', async () => {
  for (const insecure of [true, false]) {
    const { app } = await makeServer(new FakeNode(), { security: security({ insecure }) });
    assert.equal(JSON.parse((await app.inject({ url: '/status' })).body).insecure, insecure);
    await app.close();
  }
  const { app } = await makeServer(new FakeNode());
  assert.equal(JSON.parse((await app.inject({ url: '/status' })).body).insecure, undefined);
  await app.close();
});

test('/healthz answers 503 GRAFTD_STORAGE_FAILED once the node reports a permanent fault (before: 200)', async () => {
  const node = new FakeNode();
  const { app } = await makeServer(node);
  assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
  const status = node.status.bind(node);
  node.status = () => ({ ...status(), fault: 'storage failure during fsync: EIO' });
  const res = await app.inject({ url: '/healthz' });
  assertError(res, 503, 'GRAFTD_STORAGE_FAILED');
  assert.equal(JSON.parse(res.body).ok, false);
  await app.close();
});

test('a keep-alive connection reuses the identity it proved: same header only, never past a reload or its role', async () => {
  const fx = await makeAuthFixture();
  const sec = security({ authFile: fx.file });
  const node = new FakeNode();
  node.data.set('a', '1');
  const { app } = await makeServer(node, { security: sec });
  await app.listen({ host: '127.0.0.57', port: 18098 });
  const { Pool } = await import('undici');
  // One connection: every request below travels on the same socket.
  const pool = new Pool('http://127.0.0.57:18098', { connections: 1, pipelining: 1 });
  const get = async (authorization: string): Promise<number> => {
    const r = await pool.request({ path: '/key/a', method: 'GET', headers: { authorization } });
    await r.body.text();
    return r.statusCode;
  };
  const post = async (authorization: string): Promise<number> => {
    const r = await pool.request({ path: '/key', method: 'POST', body: '{"b":"2"}', headers: { authorization } });
    await r.body.text();
    return r.statusCode;
  };
  try {
    assert.equal(await get(fx.basic.read), 200);
    assert.equal(await get(fx.basic.read), 200);
    // Another header on the same connection is checked on its own.
    assert.equal(await get(basicHeader('reader', 'wrong')), 401);
    assert.equal(await get(fx.basic.read), 200);
    // The remembered identity never lends a higher role.
    assert.equal(await post(fx.basic.read), 403);
    // A reload voids what the connection proved: the removed user is refused on the same socket.
    writeAuthFile(fx.file, { ...loadAuthFile(fx.file), users: loadAuthFile(fx.file).users.filter((u) => u.name !== 'reader') });
    sec.reload();
    assert.equal(await get(fx.basic.read), 401);
    assert.equal(await get(fx.basic.write), 200);
  } finally {
    await pool.close();
    await app.close();
    fx.cleanup();
  }
});
