/**
 * CSRF: a web page on another origin must not be able to use the API through a visitor's browser.
 * Before issue 10 a cross-origin `text/plain` POST /key (a "simple" request, no preflight) from
 * any page wrote keys; it is now refused 403 by the Origin rule, with or without an auth file.
 * Requests without Origin (curl, graftctl) are unaffected; the node's own and its members'
 * addresses and the configured allowed origins are accepted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeNode } from './fake-node.ts';
import { assertError, makeServer } from './helpers.ts';
import { makeAuthFixture, security } from './security-helpers.ts';

function node(): FakeNode {
  const n = new FakeNode();
  n.members = [
    { id: 'node0', raftAddr: '127.0.0.41:18100', httpAddr: '127.0.0.41:18000', voter: true },
    { id: 'node1', raftAddr: '127.0.0.42:18100', httpAddr: '127.0.0.42:18000', voter: true },
  ];
  return n;
}

const csrf = { method: 'POST' as const, url: '/key', payload: '{"pwned":"yes"}', headers: { 'content-type': 'text/plain' } };

test('a cross-origin text/plain POST /key from a foreign page is refused 403 and writes nothing (no auth file)', async () => {
  const { app, node: n } = await makeServer(node());
  for (const origin of ['http://evil.example', 'https://evil.example:18000', 'null', 'http://127.0.0.41:18000.evil.example', 'file://']) {
    const res = await app.inject({ ...csrf, headers: { ...csrf.headers, origin } });
    assertError(res, 403, 'GRAFTD_FORBIDDEN');
  }
  assert.equal(n.data.has('pwned'), false);
  assert.equal(n.calls.length, 0);
  // GETs too: a foreign page must not read keys or status through the visitor's browser.
  assertError(await app.inject({ url: '/status', headers: { origin: 'http://evil.example' } }), 403, 'GRAFTD_FORBIDDEN');
  await app.close();
});

test('the same request is refused with an auth file even when the browser sends valid credentials', async () => {
  const fx = await makeAuthFixture();
  const { app, node: n } = await makeServer(node(), { security: security({ authFile: fx.file }) });
  const res = await app.inject({ ...csrf, headers: { ...csrf.headers, origin: 'http://evil.example', authorization: fx.basic.admin } });
  assertError(res, 403, 'GRAFTD_FORBIDDEN');
  assert.equal(n.data.has('pwned'), false);
  await app.close();
  fx.cleanup();
});

test('no Origin (curl), the node itself, a member, and an allowed origin are accepted', async () => {
  const { app, node: n } = await makeServer(node(), {
    security: security({ allowedOrigins: ['https://Dash.Example.com/'] }),
  });
  const accepted = [
    undefined,
    'http://127.0.0.41:18000', // own advertised httpAddr
    'https://127.0.0.41:18000',
    'http://127.0.0.42:18000', // a member: the live view served by node1 talks to this node
    'https://dash.example.com',
  ];
  for (const origin of accepted) {
    const res = await app.inject({ ...csrf, headers: origin === undefined ? csrf.headers : { ...csrf.headers, origin } });
    assert.equal(res.statusCode, 200, `${origin} → ${res.statusCode} ${res.body}`);
  }
  assert.equal(n.data.get('pwned'), 'yes');
  // A member's address with another port is not the member.
  assertError(await app.inject({ ...csrf, headers: { ...csrf.headers, origin: 'http://127.0.0.42:18001' } }), 403, 'GRAFTD_FORBIDDEN');
  await app.close();
});

test('the address a request arrived on counts as the node itself (and localhost on loopback)', async () => {
  const { app } = await makeServer(node());
  await app.listen({ host: '127.0.0.43', port: 18090 });
  for (const [origin, status] of [
    ['http://127.0.0.43:18090', 200],
    ['http://localhost:18090', 200],
    ['http://localhost:18091', 403],
  ] as const) {
    const res = await fetch('http://127.0.0.43:18090/key', { method: 'POST', body: '{"k":"v"}', headers: { origin } });
    assert.equal(res.status, status, origin);
  }
  await app.close();
});
