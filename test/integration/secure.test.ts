/**
 * A secure cluster end to end, real processes: TLS and a cluster secret on the raft port, HTTPS and
 * users on the API. Nodes join with -join proving the secret (no credentials); a node with the wrong
 * secret is never added, not even as a learner; roles hold across forwarding; SIGHUP reloads users.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { loadAuthFile, withUser, writeAuthFile } from '../../src/security/auth-file.ts';
import { SecureCluster, basic, until } from './secure-cluster.ts';

const c = new SecureCluster(['s1', 's2', 's3', 'bad'], 91, 15091, 16091);
const READER_PASSWORD = 'reader-pw-1';
const reader = basic('reader', READER_PASSWORD);

before(async () => {
  await c.prepare();
  writeAuthFile(c.material.authFile, await withUser(loadAuthFile(c.material.authFile), 'reader', 'read', READER_PASSWORD, 1024));
  await c.startVoters(['s1', 's2', 's3']);
});

after(() => c.destroy());

test('nodes joined with the secret proof alone; the cluster is not insecure', async () => {
  const s = await c.status('s2');
  assert.equal(s?.insecure, false);
  assert.deepEqual(s?.members?.map((x) => x.id).sort(), ['s1', 's2', 's3']);
});

test('credentials: none → 401 with WWW-Authenticate; wrong password → 401; read role cannot write → 403', async () => {
  const none = await request(`https://${c.info('s2').httpAddr}/key/a`, { dispatcher: c.agent });
  assert.equal(none.statusCode, 401);
  assert.match(String(none.headers['www-authenticate']), /Basic/);
  assert.equal(JSON.parse(await none.body.text()).code, 'GRAFTD_UNAUTHORIZED');
  assert.equal((await c.call('s2', '/key/a', { auth: basic('admin', 'wrong') })).status, 401);
  const w = await c.call('s3', '/key', { method: 'POST', body: '{"a":"1"}', auth: reader });
  assert.equal(w.status, 403, w.text);
  assert.equal(JSON.parse(w.text).code, 'GRAFTD_FORBIDDEN');
});

test('an admin write through a follower is forwarded and readable everywhere; a reader can read', async () => {
  const leader = (await c.status('s1'))?.leaderId ?? '';
  const follower = ['s1', 's2', 's3'].find((id) => id !== leader)!;
  const w = await c.call(follower, '/key', { method: 'POST', body: '{"secure":"yes"}' });
  assert.equal(w.status, 200, w.text);
  for (const id of ['s1', 's2', 's3']) {
    const r = await c.call(id, '/key/secure', { auth: reader });
    assert.equal(r.status, 200, `${id}: ${r.text}`);
    assert.deepEqual(JSON.parse(r.text), { secure: 'yes' });
  }
  // Replacing a voter needs admin, also when a follower relays the request.
  const j = await c.call(follower, '/join', {
    method: 'POST',
    body: JSON.stringify({ id: 's1', addr: c.info('s1').raftAddr, fresh: true }),
    auth: reader,
  });
  assert.equal(j.status, 403, j.text);
});

test('a node with the wrong cluster secret is never added, not even as a learner', async () => {
  const wrongSecret = join(c.root, 'wrong-secret');
  writeFileSync(wrongSecret, randomBytes(32).toString('hex'), { mode: 0o600 });
  const bad = c.start('bad', { join: 's1', secretFile: wrongSecret, env: { JOIN_TIMEOUT: '4000' } });
  const exit = await Promise.race([bad.exited, sleep(30_000).then(() => 'timeout' as const)]);
  assert.notEqual(exit, 'timeout', 'the node with the wrong secret should give up joining and exit');
  const s = await c.status('s1');
  assert.deepEqual(s?.members?.map((x) => x.id).sort(), ['s1', 's2', 's3'], JSON.stringify(s?.members));
  assert.match(c.logTail('bad'), /401|403|proof|refused/i);
});

test('SIGHUP reloads the auth file: a user added afterwards can read', async () => {
  const late = basic('late', 'late-pw');
  assert.equal((await c.call('s2', '/key/secure', { auth: late })).status, 401);
  writeAuthFile(c.material.authFile, await withUser(loadAuthFile(c.material.authFile), 'late', 'read', 'late-pw', 1024));
  // Every member re-checks the identity (a follower relays Authorization to the leader): HUP them all.
  for (const id of ['s1', 's2', 's3']) c.procs.get(id)!.child.kill('SIGHUP');
  const r = await until(
    'the reloaded user to be accepted',
    async () => {
      const x = await c.call('s2', '/key/secure', { auth: late });
      return x.status === 200 ? x : undefined;
    },
    10_000,
  );
  assert.deepEqual(JSON.parse(r.text), { secure: 'yes' });
  assert.equal(c.procs.get('s2')!.child.exitCode, null, 'SIGHUP must not stop the node');
  // The log line may reach the file a moment after the reload took effect.
  await until(
    'the reload to be logged',
    async () => (/SIGHUP: reloaded the auth file/.test(c.logTail('s2', 20_000)) ? true : undefined),
    5000,
  );
});

test('a stranger on the raft port learns nothing and is counted in /metrics', async () => {
  const status = JSON.parse((await c.call('s1', '/status')).text) as { clusterId: string };
  const received = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    const [host, port] = c.info('s1').raftAddr.split(':') as [string, string];
    const sock = net.connect({ host, port: Number(port), localAddress: '127.0.0.1' }, () => {
      // A plaintext hello-sized frame where TLS is expected: the TLS handshake fails.
      sock.write(Buffer.from([0, 0, 0, 9, 1, 1, 2, 3, 4, 5, 6, 7, 8]));
    });
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => {});
    sock.on('close', () => resolve(Buffer.concat(chunks)));
    setTimeout(() => sock.destroy(), 5000).unref();
  });
  assert.equal(received.includes(Buffer.from(status.clusterId)), false, 'the cluster id must not reach a stranger');
  assert.equal(received.includes(Buffer.from('s1')), false, 'the node id must not reach a stranger');
  const metrics = await until(
    'the failed handshake to be counted',
    async () => {
      const m = await c.call('s1', '/metrics');
      const n = Number(/graftd_peer_handshake_failures_total\{[^}]*\} (\d+)/.exec(m.text)?.[1] ?? '0');
      return n >= 1 ? m.text : undefined;
    },
    5000,
  );
  assert.match(metrics, /graftd_raft_protocol_violations_total|graftd_peer_refused_connections_total/);
});
