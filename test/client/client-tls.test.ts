/**
 * GraftdClient over HTTPS with credentials, against node:https servers on loopback with
 * certificates from test/helpers/certs.ts: Basic and Bearer headers on every request, 401 / 403
 * never retried, readable TLS errors (wrong CA, expired, plain-HTTP endpoint, missing or refused
 * client certificate) that are "not sent" even for writes, and leader following keeping https.
 */
import assert from 'node:assert/strict';
import type { ServerOptions } from 'node:https';
import { after, before, test } from 'node:test';
import { GraftdClient, GraftdClientError, parseEndpoint, schemeOf } from '../../src/client/index.ts';
import { createTestPki, type TestPki } from '../helpers/certs.ts';
import { authHandler, BASIC_OK, IP, pem, reply, serve } from './tls-helpers.ts';

const FAST = { timeoutMs: 3000, retries: 3, backoffBaseMs: 5, backoffMaxMs: 20 };

let pki: TestPki;
before(() => {
  pki = createTestPki();
});
after(() => pki.cleanup());

function serverTls(name = 'server', extra: ServerOptions = {}): ServerOptions {
  const pair = pki.issue(name, { ips: [IP] });
  return { cert: pem(pair.cert), key: pem(pair.key), ...extra };
}

test('Basic and Bearer credentials go on every request over https; right credentials succeed', async () => {
  const server = await serve(serverTls(), authHandler);
  const basic = new GraftdClient({
    endpoints: [server.endpoint],
    ...FAST,
    tls: { ca: pem(pki.ca) },
    auth: { user: 'alice', password: 's3cret' },
  });
  const bearer = new GraftdClient({
    endpoints: [`https://${server.endpoint}`],
    ...FAST,
    tls: { ca: pem(pki.ca) },
    auth: { token: 'gtd_read' },
  });
  try {
    await basic.set({ k: 'v' });
    assert.equal(await basic.get('k'), 'v');
    assert.equal(await bearer.get('k'), 'v');
    assert.deepEqual(server.requests, [`POST /key ${BASIC_OK}`, `GET /key/k ${BASIC_OK}`, 'GET /key/k Bearer gtd_read']);
  } finally {
    await basic.close();
    await bearer.close();
    await server.close();
  }
});

test('401 and 403 are definite failures with the server code, never retried on another endpoint', async () => {
  const first = await serve(serverTls(), authHandler);
  const second = await serve(serverTls(), authHandler);
  const endpoints = [first.endpoint, second.endpoint];
  const tls = { ca: pem(pki.ca) };
  const none = new GraftdClient({ endpoints, ...FAST, tls });
  const wrong = new GraftdClient({ endpoints, ...FAST, tls, auth: { user: 'alice', password: 'guess' } });
  const reader = new GraftdClient({ endpoints, ...FAST, tls, auth: { token: 'gtd_read' } });
  try {
    await assert.rejects(none.get('k'), (err: GraftdClientError) => {
      assert.equal(err.code, 'GRAFTD_UNAUTHORIZED');
      assert.equal(err.status, 401);
      assert.equal(err.outcomeUnknown, false);
      assert.match(err.message, /authentication required \(the cluster requires credentials/);
      return true;
    });
    await assert.rejects(wrong.set({ k: 'v' }), (err: GraftdClientError) => {
      assert.equal(err.code, 'GRAFTD_UNAUTHORIZED');
      assert.match(err.message, /^127\.0\.0\.53:\d+: wrong user or password \(the credentials were refused\)$/);
      return true;
    });
    await assert.rejects(reader.set({ k: 'v' }), (err: GraftdClientError) => {
      assert.equal(err.code, 'GRAFTD_FORBIDDEN');
      assert.equal(err.status, 403);
      assert.equal(err.outcomeUnknown, false);
      assert.match(err.message, /role does not allow this/);
      return true;
    });
    assert.equal(first.requests.length, 3, 'one attempt per call');
    assert.deepEqual(second.requests, [], 'nothing was retried on the second endpoint');
    assert.deepEqual([none.stats().attempts, wrong.stats().attempts, reader.stats().attempts, reader.stats().retriedAnswers], [1, 1, 1, 0]);
  } finally {
    await Promise.all([none.close(), wrong.close(), reader.close()]);
    await first.close();
    await second.close();
  }
});

test('a 401 without a graftd body (e.g. from a proxy) still maps to GRAFTD_UNAUTHORIZED', async () => {
  const server = await serve(serverTls(), (_req, res) => {
    res.writeHead(401, { 'content-type': 'text/plain' });
    res.end('denied');
  });
  const client = new GraftdClient({ endpoints: [server.endpoint], ...FAST, tls: { ca: pem(pki.ca) } });
  try {
    await assert.rejects(client.get('k'), { code: 'GRAFTD_UNAUTHORIZED', status: 401 });
  } finally {
    await client.close();
    await server.close();
  }
});

/** Assert a GRAFTD_CLIENT_TLS error naming the endpoint and matching `reason`; it is never "outcome unknown". */
function tlsError(endpoint: string, reason: RegExp): (err: GraftdClientError) => boolean {
  return (err) => {
    assert.ok(err instanceof GraftdClientError, String(err));
    assert.equal(err.code, 'GRAFTD_CLIENT_TLS', err.message);
    assert.equal(err.outcomeUnknown, false);
    assert.ok(err.message.startsWith(`https://${endpoint}: TLS`), err.message);
    assert.match(err.message, reason);
    assert.doesNotMatch(err.message, /fetch failed|other side closed/);
    return true;
  };
}

test('server certificates: a wrong CA, no CA (system CAs) and an expired certificate are readable TLS errors', async () => {
  const server = await serve(serverTls(), authHandler);
  const expired = pki.issue('expired', { expired: true, ips: [IP] });
  const old = await serve({ cert: pem(expired.cert), key: pem(expired.key) }, authHandler);
  const wrongCa = new GraftdClient({ endpoints: [server.endpoint], ...FAST, tls: { ca: pem(pki.otherCa) } });
  const systemCa = new GraftdClient({ endpoints: [`https://${server.endpoint}`], ...FAST });
  const toOld = new GraftdClient({ endpoints: [old.endpoint], ...FAST, tls: { ca: pem(pki.ca) } });
  try {
    await assert.rejects(
      wrongCa.get('k'),
      tlsError(server.endpoint, /not signed by a CA we trust \(give the cluster's CA with --cacert\)/),
    );
    await assert.rejects(wrongCa.set({ k: 'v' }), tlsError(server.endpoint, /not signed by a CA we trust/));
    await assert.rejects(systemCa.get('k'), tlsError(server.endpoint, /not signed by a CA we trust/));
    await assert.rejects(toOld.get('k'), tlsError(old.endpoint, /the server's certificate has expired/));
    assert.deepEqual(server.requests, []);
    assert.deepEqual(old.requests, []);
    assert.equal(wrongCa.stats().attempts, 2, 'a TLS failure is not retried in backoff rounds');
  } finally {
    await Promise.all([wrongCa.close(), systemCa.close(), toOld.close()]);
    await server.close();
    await old.close();
  }
});

test('an https endpoint that speaks plain HTTP is named as such', async () => {
  const plain = await serve(null, authHandler);
  const client = new GraftdClient({ endpoints: [plain.endpoint], ...FAST, tls: { ca: pem(pki.ca) } });
  try {
    await assert.rejects(client.get('k'), tlsError(plain.endpoint, /does not speak TLS/));
  } finally {
    await client.close();
    await plain.close();
  }
});

test('plain http to an https endpoint: the error suggests https:// or --cacert', async () => {
  const server = await serve(serverTls(), authHandler);
  const client = new GraftdClient({ endpoints: [server.endpoint], ...FAST });
  const secure = new GraftdClient({ endpoints: [server.endpoint], ...FAST, tls: { ca: pem(pki.ca) }, auth: { token: 'gtd_read' } });
  try {
    await assert.rejects(client.status(), (err: GraftdClientError) => {
      assert.match(err.message, /if the cluster serves HTTPS: https:\/\/ endpoints or --cacert/);
      return true;
    });
    // status(endpoint) accepts the written-out form too (the scheme is the client's).
    await assert.rejects(secure.status(`https://${server.endpoint}/`), {
      code: 'GRAFTD_CLIENT_BAD_RESPONSE',
      message: /\/status answered an unexpected shape/,
    });
  } finally {
    await client.close();
    await secure.close();
    await server.close();
  }
});

test('mutual TLS: the client certificate is presented when given; a missing or foreign one is a TLS error, not "outcome unknown"', async () => {
  const mtls = serverTls('mtls-server', { ca: pem(pki.ca), requestCert: true, rejectUnauthorized: true });
  const server = await serve(mtls, authHandler);
  const good = pki.issue('graftctl-admin');
  const foreign = pki.issueOther('intruder');
  const expired = pki.issue('old-client', { expired: true });
  const auth = { user: 'alice', password: 's3cret' };
  const withCert = new GraftdClient({
    endpoints: [server.endpoint],
    ...FAST,
    auth,
    tls: { ca: pem(pki.ca), cert: pem(good.cert), key: pem(good.key) },
  });
  const noCert = new GraftdClient({ endpoints: [server.endpoint], ...FAST, auth, tls: { ca: pem(pki.ca) } });
  const foreignCert = new GraftdClient({
    endpoints: [server.endpoint],
    ...FAST,
    auth,
    tls: { ca: pem(pki.ca), cert: pem(foreign.cert), key: pem(foreign.key) },
  });
  const expiredCert = new GraftdClient({
    endpoints: [server.endpoint],
    ...FAST,
    auth,
    tls: { ca: pem(pki.ca), cert: pem(expired.cert), key: pem(expired.key) },
  });
  try {
    await withCert.set({ k: 'v' });
    assert.equal(await withCert.get('k'), 'v');
    assert.deepEqual(server.peers, ['graftctl-admin', 'graftctl-admin'], 'the server saw our certificate');
    await assert.rejects(noCert.set({ k: 'v' }), tlsError(server.endpoint, /requires a client certificate \(give --cert and --key\)/));
    await assert.rejects(foreignCert.set({ k: 'v' }), tlsError(server.endpoint, /refused our client certificate|does not trust/));
    await assert.rejects(expiredCert.del('k'), tlsError(server.endpoint, /refused our client certificate|expired/));
    assert.equal(server.requests.length, 2, 'no refused connection delivered a request');
  } finally {
    await Promise.all([withCert.close(), noCert.close(), foreignCert.close(), expiredCert.close()]);
    await server.close();
  }
});

test('leader following reuses https for member addresses learned from /status (host:port)', async () => {
  const tls = serverTls();
  const leader = await serve(tls, (_req, res) => reply(res, 200, '', { 'x-graftd-node': 'L', 'x-graftd-leader': 'L' }));
  const follower = await serve(tls, (req, res) => {
    if (req.url === '/status') {
      return reply(res, 200, {
        id: 'F',
        role: 'follower',
        leaderId: 'L',
        leaderHttpAddr: leader.endpoint,
        members: [
          { id: 'F', raftAddr: `${IP}:1`, httpAddr: follower.endpoint, voter: true },
          { id: 'L', raftAddr: `${IP}:2`, httpAddr: leader.endpoint, voter: true },
        ],
        progress: {},
      });
    }
    reply(res, 200, '', { 'x-graftd-node': 'L', 'x-graftd-leader': 'L', 'x-graftd-forwarded-by': 'F' });
  });
  const client = new GraftdClient({
    endpoints: [`https://${follower.endpoint}`],
    ...FAST,
    tls: { ca: pem(pki.ca) },
    auth: { token: 'tok' },
  });
  try {
    await client.members();
    assert.deepEqual(client.knownLeader(), { id: 'L', endpoint: leader.endpoint });
    await client.set({ a: '1' });
    assert.deepEqual(leader.requests, ['GET /status Bearer tok', 'POST /key Bearer tok']);
    assert.deepEqual(follower.requests, ['GET /status Bearer tok']);
  } finally {
    await client.close();
    await leader.close();
    await follower.close();
  }
});

test('bad options fail at construction with GRAFTD_CLIENT_BAD_ARGUMENT', () => {
  const pair = pki.issue('opts');
  const other = pki.issue('opts-other');
  const bad = (options: ConstructorParameters<typeof GraftdClient>[0], pattern: RegExp): void => {
    assert.throws(
      () => new GraftdClient(options),
      (err: GraftdClientError) => {
        assert.equal(err.code, 'GRAFTD_CLIENT_BAD_ARGUMENT');
        assert.match(err.message, pattern);
        return true;
      },
    );
  };
  const endpoints = [`${IP}:1`];
  bad({ endpoints, tls: { cert: pem(pair.cert) } }, /needs its key/);
  bad({ endpoints, tls: { key: pem(pair.key) } }, /a key only/);
  bad({ endpoints, tls: { ca: 'not a certificate' } }, /TLS ca: expected PEM/);
  bad({ endpoints, tls: { cert: pem(pair.cert), key: pem(other.key) } }, /unusable TLS material: .*key values mismatch/);
  bad({ endpoints: [`http://${IP}:1`, `https://${IP}:2`] }, /both http:\/\/ and https:\/\//);
  bad({ endpoints: [`http://${IP}:1`], tls: { ca: pem(pki.ca) } }, /http:\/\/ endpoints together with TLS options/);
  bad({ endpoints, auth: { user: 'a:b', password: 'x' } }, /invalid user name/);
  bad({ endpoints, auth: { token: 'two words' } }, /token must be/);
});

test('endpoint syntax: host:port, http:// and https:// (scheme kept apart from host:port)', () => {
  assert.deepEqual(parseEndpoint('https://10.0.0.1:11000/'), { scheme: 'https', endpoint: '10.0.0.1:11000' });
  assert.deepEqual(parseEndpoint('HTTP://node1:11000'), { scheme: 'http', endpoint: 'node1:11000' });
  assert.deepEqual(parseEndpoint(' [::1]:8 '), { scheme: null, endpoint: '[::1]:8' });
  assert.throws(() => parseEndpoint('https://user@h:1'), /invalid endpoint/);
  assert.throws(() => parseEndpoint('ftp://h:1'), /invalid endpoint/);
  assert.equal(schemeOf('a:1,b:2', false), 'http');
  assert.equal(schemeOf('a:1,b:2', true), 'https');
  assert.equal(schemeOf(['https://a:1', 'b:2'], false), 'https');
});
