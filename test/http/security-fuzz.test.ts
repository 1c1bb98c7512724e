/**
 * Property tests of everything a client controls on the security path: request bodies (set,
 * join, remove, transfer), the Authorization header, the WebSocket credential subprotocol and
 * join proofs. Never a crash; body errors are coded 4xx GraftdErrors; parsers never throw.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { GraftdError } from '../../src/errors.ts';
import { parseJoinBody, parseRemoveBody, parseSetBody, parseTransferBody } from '../../src/http/body.ts';
import { parseAuthProtocol, parseAuthorization } from '../../src/security/http-credentials.ts';
import { JoinReplayCache, verifyJoinProof } from '../../src/security/join-proof.ts';
import { makeServer } from './helpers.ts';
import { makeAuthFixture, security } from './security-helpers.ts';

const limits = { maxKeyBytes: 16, maxValueBytes: 32 };

const jsonish = fc.oneof(
  fc.json(),
  fc.string({ maxLength: 80 }),
  fc
    .record(
      {
        id: fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.constant(null)),
        addr: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('127.0.0.1:1', '[::1]:2', 'a:1/x', 'h:99999')),
        httpAddr: fc.oneof(fc.string({ maxLength: 30 }), fc.constant(1)),
        voter: fc.oneof(fc.boolean(), fc.string({ maxLength: 3 })),
        fresh: fc.oneof(fc.boolean(), fc.integer()),
        proof: fc.oneof(fc.string({ maxLength: 60 }), fc.integer()),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
);

function expectClientError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GraftdError, `not a GraftdError: ${String(err)}`);
    assert.ok(err.httpStatus >= 400 && err.httpStatus < 500, `${err.httpStatus} ${err.message}`);
    assert.match(err.code, /^GRAFTD_/);
    assert.ok(err.message.length > 0);
  }
}

test('body parsers: any input is accepted or refused with a coded 4xx, never another exception', () => {
  fc.assert(
    fc.property(jsonish, (text) => {
      const raw = Buffer.from(text);
      expectClientError(() => parseSetBody(raw, limits));
      expectClientError(() => parseJoinBody(raw));
      expectClientError(() => parseRemoveBody(raw));
      expectClientError(() => parseTransferBody(raw));
    }),
    { numRuns: 2000, seed: 20261202 },
  );
});

test('a parsed join only ever holds host:port addresses', () => {
  fc.assert(
    fc.property(jsonish, (text) => {
      let parsed: ReturnType<typeof parseJoinBody> | undefined;
      try {
        parsed = parseJoinBody(Buffer.from(text));
      } catch {
        return;
      }
      for (const a of [parsed.join.raftAddr, parsed.join.httpAddr]) assert.doesNotMatch(a, /[/?#@\s\\]/);
    }),
    { numRuns: 2000, seed: 7 },
  );
});

test('credential parsers never throw and never invent credentials', () => {
  const header = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.string({ maxLength: 40 }).map((s) => `Basic ${s}`),
    fc.string({ maxLength: 40 }).map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
    fc.string({ maxLength: 40 }).map((s) => `Bearer ${s}`),
    fc.constant(`Basic ${'A'.repeat(10_000)}`),
  );
  fc.assert(
    fc.property(header, fc.array(fc.string({ maxLength: 40 }), { maxLength: 4 }), (h, protocols) => {
      const c = parseAuthorization(h);
      assert.ok(['none', 'basic', 'bearer', 'peer', 'invalid'].includes(c.kind));
      if (c.kind === 'basic') assert.ok(c.user.length > 0 && !c.user.includes(':'));
      const p = parseAuthProtocol(protocols.map((x) => `graftd-auth.${x}`));
      assert.ok(['none', 'basic', 'bearer', 'peer', 'invalid'].includes(p.kind));
    }),
    { numRuns: 3000, seed: 11 },
  );
});

test('join proofs: random strings are refused with a reason, never accepted, never a throw', () => {
  const secret = randomBytes(32);
  const cache = new JoinReplayCache();
  const join = { id: 'n', raftAddr: 'h:1', httpAddr: '', voter: true };
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 120 }),
        fc.tuple(fc.nat(), fc.string(), fc.string()).map(([t, n, m]) => `v1.${Date.now() - (t % 1000)}.${n}.${m}`),
      ),
      (proof) => {
        assert.equal(typeof verifyJoinProof(secret, join, proof, Date.now(), cache), 'string');
      },
    ),
    { numRuns: 2000, seed: 5 },
  );
});

test('random Authorization headers against a secured server: 401 or served, never 5xx, the error shape kept', async () => {
  const fx = await makeAuthFixture();
  const { app } = await makeServer(undefined, { security: security({ authFile: fx.file }) });
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string({ maxLength: 60 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
        fc.string({ maxLength: 30 }).map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
        fc.constantFrom(fx.basic.read, fx.bearer.write, 'Bearer', 'Basic', 'basic Og=='),
      ),
      fc.constantFrom('/status', '/key/a', '/metrics', '/join'),
      async (authorization, url) => {
        const res = await app.inject({
          method: url === '/join' ? 'POST' : 'GET',
          url,
          headers: { authorization },
          ...(url === '/join' ? { payload: '{}' } : {}),
        });
        assert.ok(res.statusCode < 500, `${res.statusCode} ${res.body}`);
        if (res.statusCode >= 400) assert.match(JSON.parse(res.body).code, /^GRAFTD_/);
      },
    ),
    { numRuns: 150, seed: 3 },
  );
  await app.close();
  fx.cleanup();
});
