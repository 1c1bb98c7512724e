/**
 * Every kind of bad input gets its documented status and `{"error","code"}` body, and never
 * reaches the node or crashes the server.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { assertError, makeServer } from './helpers.ts';

test('bad POST /key bodies: 400 with the documented code, and the node is not called', async () => {
  const { app, node } = await makeServer(undefined, { maxKeyBytes: 8, maxValueBytes: 16 });
  const cases: [string, number, string][] = [
    ['{bad', 400, 'GRAFTD_INVALID_JSON'],
    ['user=kj', 400, 'GRAFTD_INVALID_JSON'],
    ['[]', 400, 'GRAFTD_INVALID_BODY'],
    ['["a","b"]', 400, 'GRAFTD_INVALID_BODY'],
    ['"text"', 400, 'GRAFTD_INVALID_BODY'],
    ['42', 400, 'GRAFTD_INVALID_BODY'],
    ['null', 400, 'GRAFTD_INVALID_BODY'],
    ['{}', 400, 'GRAFTD_INVALID_BODY'],
    ['{"a":1}', 400, 'GRAFTD_INVALID_BODY'],
    ['{"a":null}', 400, 'GRAFTD_INVALID_BODY'],
    ['{"a":{"b":"c"}}', 400, 'GRAFTD_INVALID_BODY'],
    ['{"a":"ok","b":true}', 400, 'GRAFTD_INVALID_BODY'],
    ['{"":"v"}', 400, 'GRAFTD_INVALID_KEY'],
    ['{"123456789":"v"}', 400, 'GRAFTD_INVALID_KEY'],
    ['{"ééééé":"v"}', 400, 'GRAFTD_INVALID_KEY'], // 5 chars, 10 bytes
    [`{"k":"${'v'.repeat(17)}"}`, 413, 'GRAFTD_TOO_LARGE'],
  ];
  for (const [payload, status, code] of cases) {
    assertError(await app.inject({ method: 'POST', url: '/key', payload }), status, code);
  }
  // The limits are inclusive.
  assert.equal((await app.inject({ method: 'POST', url: '/key', payload: `{"12345678":"${'v'.repeat(16)}"}` })).statusCode, 200);
  assertError(await app.inject({ method: 'POST', url: '/key' }), 400, 'GRAFTD_INVALID_BODY');
  assertError(
    await app.inject({ method: 'POST', url: '/key', payload: '', headers: { 'content-type': 'application/json' } }),
    400,
    'GRAFTD_INVALID_BODY',
  );
  assert.equal(node.calls.length, 1, 'only the valid request reached the node');
  await app.close();
});

test('a body over maxBodyBytes is 413 GRAFTD_TOO_LARGE', async () => {
  const { app, node } = await makeServer(undefined, { maxBodyBytes: 100 });
  const payload = JSON.stringify({ k: 'v'.repeat(200) });
  assertError(await app.inject({ method: 'POST', url: '/key', payload }), 413, 'GRAFTD_TOO_LARGE');
  assertError(await app.inject({ method: 'POST', url: '/join', payload }), 413, 'GRAFTD_TOO_LARGE');
  assert.equal(node.calls.length, 0);
  await app.close();
});

test('bad keys in the path: empty, too long, invalid percent-encoding', async () => {
  const { app, node } = await makeServer(undefined, { maxKeyBytes: 8 });
  assertError(await app.inject({ url: '/key/' }), 400, 'GRAFTD_INVALID_KEY');
  assertError(await app.inject({ method: 'DELETE', url: '/key/' }), 400, 'GRAFTD_INVALID_KEY');
  assertError(await app.inject({ url: '/key/123456789' }), 400, 'GRAFTD_INVALID_KEY');
  assertError(await app.inject({ method: 'DELETE', url: '/key/123456789' }), 400, 'GRAFTD_INVALID_KEY');
  assertError(await app.inject({ url: '/key/%' }), 400, 'GRAFTD_INVALID_KEY');
  assertError(await app.inject({ url: '/key/%zz' }), 400, 'GRAFTD_INVALID_KEY');
  assert.equal(node.calls.length, 0);
  await app.close();
});

test('an unknown read level is 400 GRAFTD_INVALID_BODY', async () => {
  const { app, node } = await makeServer();
  assertError(await app.inject({ url: '/key/k?level=bogus' }), 400, 'GRAFTD_INVALID_BODY');
  assertError(await app.inject({ url: '/key/k?level=' }), 400, 'GRAFTD_INVALID_BODY');
  assertError(await app.inject({ url: '/key/k?level=stale&level=lease' }), 400, 'GRAFTD_INVALID_BODY');
  assert.equal(node.calls.length, 0);
  await app.close();
});

test('bad membership bodies: 400 GRAFTD_INVALID_BODY / GRAFTD_INVALID_JSON', async () => {
  const { app, node } = await makeServer();
  const cases: [string, string, string][] = [
    ['/join', '', 'GRAFTD_INVALID_BODY'],
    ['/join', '{', 'GRAFTD_INVALID_JSON'],
    ['/join', '{"id":"n3"}', 'GRAFTD_INVALID_BODY'],
    ['/join', '{"addr":"a:1"}', 'GRAFTD_INVALID_BODY'],
    ['/join', '{"id":"","addr":"a:1"}', 'GRAFTD_INVALID_BODY'],
    ['/join', '{"id":3,"addr":"a:1"}', 'GRAFTD_INVALID_BODY'],
    ['/join', '{"id":"n3","addr":"a:1","voter":"yes"}', 'GRAFTD_INVALID_BODY'],
    ['/join', '{"id":"n3","addr":"a:1","fresh":1}', 'GRAFTD_INVALID_BODY'],
    ['/join', '{"id":"n3","addr":"a:1","httpAddr":5}', 'GRAFTD_INVALID_BODY'],
    ['/remove', '', 'GRAFTD_INVALID_BODY'],
    ['/remove', '{}', 'GRAFTD_INVALID_BODY'],
    ['/remove', '[1]', 'GRAFTD_INVALID_BODY'],
    ['/transfer-leader', '{"id":7}', 'GRAFTD_INVALID_BODY'],
    ['/transfer-leader', 'nope', 'GRAFTD_INVALID_JSON'],
  ];
  for (const [url, payload, code] of cases) {
    assertError(await app.inject({ method: 'POST', url, payload }), 400, code);
  }
  assert.equal(node.calls.length, 0);
  await app.close();
});

test('unknown path is 404 GRAFTD_ROUTE_NOT_FOUND; wrong method is 405 with Allow', async () => {
  const { app } = await makeServer();
  assertError(await app.inject({ url: '/nothing' }), 404, 'GRAFTD_ROUTE_NOT_FOUND');
  assertError(await app.inject({ url: '/keys/a' }), 404, 'GRAFTD_ROUTE_NOT_FOUND');
  assertError(await app.inject({ method: 'POST', url: '/' }), 404, 'GRAFTD_ROUTE_NOT_FOUND');
  const wrong: [string, string, string][] = [
    ['GET', '/key', 'POST'],
    ['PATCH', '/key/a', 'DELETE, GET, HEAD, PUT'],
    ['POST', '/key/a', 'DELETE, GET, HEAD, PUT'],
    ['POST', '/keys', 'GET, HEAD'],
    ['GET', '/txn', 'POST'],
    ['PUT', '/lease/1f', 'DELETE, GET, HEAD'],
    ['GET', '/lease/1f/keepalive', 'POST'],
    ['GET', '/join', 'POST'],
    ['DELETE', '/status', 'GET, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
  ];
  for (const [method, url, allow] of wrong) {
    const res = await app.inject({ method: method as 'GET', url });
    assertError(res, 405, 'GRAFTD_METHOD_NOT_ALLOWED');
    assert.equal(res.headers.allow, allow, `${method} ${url}`);
  }
  await app.close();
});

test('malformed HTTP on a real socket gets a 400 in the JSON error shape, and the server keeps serving', async () => {
  const { app } = await makeServer();
  await app.listen({ host: '127.0.0.41', port: 18010 });
  try {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.41', port: 18010 });
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString();
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write('GARBAGE / NOT-HTTP\r\n\r\n');
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { code: string };
    assert.equal(body.code, 'GRAFTD_INVALID_BODY');
    const ok = await fetch('http://127.0.0.41:18010/healthz');
    assert.equal(ok.status, 200);
  } finally {
    await app.close();
  }
});
