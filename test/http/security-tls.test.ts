/**
 * HTTPS on the client API, with optional mutual TLS: the right CA and a client certificate are
 * served; a client trusting another CA, a client without a certificate, with one from another CA
 * or an expired one is refused. Followers forward to the leader and the live view relays over
 * HTTPS with the members' CA and their own client certificate. reload() swaps certificates and
 * keeps the old ones when a new file is bad.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { vizorPlugin } from '../../src/vizor/plugin.ts';
import { createTestPki } from '../helpers/certs.ts';
import type { TestPki } from '../helpers/certs.ts';
import { FakeNode } from './fake-node.ts';
import { makeServer } from './helpers.ts';
import { security } from './security-helpers.ts';

const host = '127.0.0.48';
let pki: TestPki;
let leader: { app: FastifyInstance; node: FakeNode };
let leaderCertFile: string;
let leaderKeyFile: string;

before(async () => {
  pki = createTestPki();
  const cert = pki.issue('leader');
  // Copies, so the reload test can replace them.
  leaderCertFile = path.join(pki.dir, 'served.crt');
  leaderKeyFile = path.join(pki.dir, 'served.key');
  fs.copyFileSync(cert.cert, leaderCertFile);
  fs.copyFileSync(cert.key, leaderKeyFile);
  const sec = security({ tls: { certFile: leaderCertFile, keyFile: leaderKeyFile, clientCaFile: pki.ca } });
  const node = new FakeNode({ id: 'node0' });
  node.data.set('k', 'v');
  leader = await makeServer(node, { security: sec });
  await leader.app.listen({ host, port: 18060 });
});

after(async () => {
  await leader?.app.close();
  pki?.cleanup();
});

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly fingerprint: string;
}

function get(port: number, urlPath: string, tlsOpts: https.RequestOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host, port, path: urlPath, agent: false, ...tlsOpts }, (res) => {
      let body = '';
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

function files(name: string, other = false): { cert: Buffer; key: Buffer } {
  const pair = other ? pki.issueOther(name) : pki.issue(name);
  return { cert: fs.readFileSync(pair.cert), key: fs.readFileSync(pair.key) };
}

test('mutual TLS: the right CA and a client certificate are served', async () => {
  const res = await get(18060, '/key/k', { ca: fs.readFileSync(pki.ca), ...files('client') });
  assert.equal(res.status, 200);
  assert.equal(res.body, '{"k":"v"}');
});

test('refused: a client trusting another CA, no client certificate, one from another CA, an expired one', async () => {
  const ca = fs.readFileSync(pki.ca);
  await assert.rejects(get(18060, '/status', { ca: fs.readFileSync(pki.otherCa), ...files('c2') }), /certificate|self.signed/i);
  await assert.rejects(get(18060, '/status', { ca }), /certificate|alert|socket hang up|ECONNRESET/i);
  await assert.rejects(get(18060, '/status', { ca, ...files('c3', true) }), /certificate|alert|socket hang up|ECONNRESET|unknown ca/i);
  const expired = pki.issue('old', { expired: true });
  await assert.rejects(
    get(18060, '/status', { ca, cert: fs.readFileSync(expired.cert), key: fs.readFileSync(expired.key) }),
    /certificate|alert|socket hang up|ECONNRESET|expired/i,
  );
});

test('a follower forwards to the leader over HTTPS, presenting its own certificate; the live view relays over HTTPS', async () => {
  const own = pki.issue('follower');
  const sec = security({ tls: { certFile: own.cert, keyFile: own.key, clientCaFile: pki.ca } });
  const node = new FakeNode({ id: 'node1', role: 'follower', leaderId: 'node0', leaderHttpAddr: `${host}:18060`, forwards: false });
  node.members = [{ id: 'node0', raftAddr: `${host}:1`, httpAddr: `${host}:18060`, voter: true }];
  const { app } = await makeServer(node, { security: sec, plugins: [vizorPlugin(node)] });
  const res = await app.inject({ url: '/key/k' });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['x-graftd-forwarded-by'], 'node1');
  const relayed = await app.inject({ url: '/ui/members/node0/status' });
  assert.equal(relayed.statusCode, 200, relayed.body);
  assert.equal(JSON.parse(relayed.body).id, 'node0');
  await app.close();
});

test('reload() swaps the served certificate; a bad new file keeps the old one and says which file', async () => {
  const ca = fs.readFileSync(pki.ca);
  const client = files('client2');
  const before = (await get(18060, '/healthz', { ca, ...client })).fingerprint;
  const sec = security({ tls: { certFile: leaderCertFile, keyFile: leaderKeyFile, clientCaFile: pki.ca } });
  // The server's own HttpSecurity is private to it; reach it through a second server sharing files.
  const fresh = pki.issue('leader-renewed');
  fs.copyFileSync(fresh.cert, leaderCertFile);
  fs.copyFileSync(fresh.key, leaderKeyFile);
  const node = new FakeNode({ id: 'node9' });
  const second = await makeServer(node, { security: sec });
  await second.app.listen({ host, port: 18061 });
  const old = (await get(18061, '/healthz', { ca, ...client })).fingerprint;
  assert.equal(old, before, 'loaded at construction: still the first certificate');
  sec.reload();
  const renewed = (await get(18061, '/healthz', { ca, ...client })).fingerprint;
  assert.notEqual(renewed, before);
  fs.writeFileSync(leaderKeyFile, 'not a key');
  assert.throws(
    () => sec.reload(),
    (err: Error & { code?: string }) => err.code === 'GRAFTD_BAD_CONFIG' && err.message.includes(leaderCertFile),
  );
  assert.equal((await get(18061, '/healthz', { ca, ...client })).fingerprint, renewed, 'the old certificate stays after a failed reload');
  await second.app.close();
});
