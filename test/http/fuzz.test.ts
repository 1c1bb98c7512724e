/**
 * Property test: whatever method, path, content-type and body a client sends, the server
 * answers (never crashes), never with a 5xx, and every error is in the `{"error","code"}` shape.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { makeServer } from './helpers.ts';

const pathPiece = fc.constantFrom(
  '/key',
  '/key/',
  '/join',
  '/remove',
  '/transfer-leader',
  '/status',
  '/readyz',
  '/x',
  '%',
  '%zz',
  '%2F',
  '%E2%82',
  'a',
  'é',
  '/',
  '//',
  '..',
  '?level=stale',
  '?level=bogus',
  '?level=',
  '&',
  '#',
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.json().map((s) => s),
  fc.string({ maxLength: 64 }),
  fc
    .dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null)))
    .map((o) => JSON.stringify(o)),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
);

test('random requests never crash the server, never answer 5xx, and errors keep the JSON shape', async () => {
  const { app, node } = await makeServer(undefined, { maxKeyBytes: 16, maxValueBytes: 32, maxBodyBytes: 256 });
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD'),
      fc.array(pathPiece, { minLength: 1, maxLength: 5 }),
      fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded', ';;', 'multipart/form-data'),
      body,
      async (method, pieces, contentType, payload) => {
        const url = pieces.join('').startsWith('/') ? pieces.join('') : `/${pieces.join('')}`;
        const headers: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType };
        const res = await app.inject({
          method: method as 'GET',
          url,
          headers,
          ...(payload === undefined || method === 'GET' || method === 'HEAD' ? {} : { payload }),
        });
        assert.ok(res.statusCode < 500, `${method} ${url} → ${res.statusCode} ${res.body}`);
        if (res.statusCode >= 400 && method !== 'HEAD') {
          const parsed = JSON.parse(res.body) as { error?: unknown; code?: unknown };
          assert.match(String(parsed.code), /^GRAFTD_[A-Z_]+$/, `${method} ${url}: ${res.body}`);
          assert.equal(typeof parsed.error, 'string');
        }
      },
    ),
    { numRuns: 400, seed: 20261126 },
  );
  // Still serving.
  assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
  assert.ok(node.calls.length > 0, 'some generated requests were valid and reached the node');
  await app.close();
});
