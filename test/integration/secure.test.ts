/**
 * A secure cluster end to end, real processes: TLS and a cluster secret on the raft port, HTTPS and
 * users on the API. Nodes join with -join proving the secret (no credentials); a node with the wrong
 * secret is never added, not even as a learner; roles hold across forwarding; SIGHUP reloads users;
 * a node reachable from other hosts without protection says it is insecure.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { type SecureMaterial, secureMaterial } from '../../scripts/secure-material.ts';
import { loadAuthFile, withUser, writeAuthFile } from '../../src/security/auth-file.ts';
import { type NodeInfo, type NodeProcess, TEST_ENV, spawnGraftd } from './cluster.ts';

const root = mkdtempSync(join(tmpdir(), 'graftd-secure-'));
const IDS = ['s1', 's2', 's3', 'bad'] as const;
const infos = new Map<string, NodeInfo>(
  IDS.map((id, i) => [
    id,
    {
      id,
      ip: `127.0.0.${91 + i}`,
      httpAddr: `127.0.0.${91 + i}:15091`,
      raftAddr: `127.0.0.${91 + i}:16091`,
      dataDir: join(root, id),
      logFile: join(root, `${id}.log`),
    },
  ]),
);
const procs = new Map<string, NodeProcess>();
let m: SecureMaterial;
let agent: Agent;
let admin: string;
const READER_PASSWORD = 'reader-pw-1';

function info(id: string): NodeInfo {
  return infos.get(id)!;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function nodeArgs(id: string, secretFile: string): string[] {
  const c = m.certs.get(id)!;
  return [
    '-id',
    id,
    '-haddr',
    info(id).httpAddr,
    '-raddr',
    info(id).raftAddr,
    '-cluster-secret-file',
    secretFile,
    '-peer-cert',
    c.cert,
    '-peer-key',
    c.key,
    '-peer-ca',
    m.ca,
    '-http-cert',
    c.cert,
    '-http-key',
    c.key,
    '-http-ca',
    m.ca,
    '-auth-file',
    m.authFile,
  ];
}

function start(id: string, opts: { join?: string; secretFile?: string; env?: Record<string, string> } = {}): NodeProcess {
  const args = nodeArgs(id, opts.secretFile ?? m.secretFile);
  if (opts.join !== undefined) args.push('-join', info(opts.join).httpAddr);
  args.push(info(id).dataDir);
  const p = spawnGraftd(args, { ...TEST_ENV, ...opts.env }, info(id).logFile, info(id));
  procs.set(id, p);
  return p;
}

async function call(
  id: string,
  path: string,
  init: { method?: 'GET' | 'POST' | 'DELETE'; body?: string; auth?: string | null } = {},
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  const auth = init.auth === undefined ? admin : init.auth;
  if (auth !== null) headers.authorization = auth;
  const res = await request(`https://${info(id).httpAddr}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body === undefined ? {} : { body: init.body }),
    dispatcher: agent,
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

async function status(
  id: string,
): Promise<{ role?: string; leaderId?: string; members?: { id: string; voter: boolean }[]; insecure?: boolean } | undefined> {
  try {
    const r = await call(id, '/status');
    return r.status === 200 ? JSON.parse(r.text) : undefined;
  } catch {
    return undefined;
  }
}

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await f();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function logTail(id: string): string {
  try {
    return readFileSync(info(id).logFile, 'utf8').slice(-3000);
  } catch {
    return '';
  }
}

before(async () => {
  m = await secureMaterial(
    join(root, 'secure'),
    IDS,
    IDS.map((id) => info(id).ip),
  );
  writeAuthFile(m.authFile, await withUser(loadAuthFile(m.authFile), 'reader', 'read', READER_PASSWORD, 1024));
  agent = new Agent({ connect: { ca: readFileSync(m.ca) } });
  admin = basic('admin', m.password);
  start('s1');
  await until('s1 to lead', async () => ((await status('s1'))?.role === 'leader' ? true : undefined));
  start('s2', { join: 's1' });
  start('s3', { join: 's1' });
  await until(
    'three voters',
    async () => {
      const s = await status('s1');
      return s?.members?.filter((x) => x.voter).length === 3 ? true : undefined;
    },
    40_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- s2 log ---\n${logTail('s2')}\n--- s3 log ---\n${logTail('s3')}`);
  });
});

after(async () => {
  for (const p of procs.values()) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }
  await Promise.all([...procs.values()].map((p) => p.exited));
  await agent?.close();
  rmSync(root, { recursive: true, force: true });
});

test('nodes joined with the secret proof alone; the cluster is not insecure', async () => {
  const s = await status('s2');
  assert.equal(s?.insecure, false);
  assert.deepEqual(s?.members?.map((x) => x.id).sort(), ['s1', 's2', 's3']);
});

test('credentials: none → 401 with WWW-Authenticate; wrong password → 401; read role cannot write → 403', async () => {
  const none = await request(`https://${info('s2').httpAddr}/key/a`, { dispatcher: agent });
  assert.equal(none.statusCode, 401);
  assert.match(String(none.headers['www-authenticate']), /Basic/);
  assert.equal(JSON.parse(await none.body.text()).code, 'GRAFTD_UNAUTHORIZED');
  assert.equal((await call('s2', '/key/a', { auth: basic('admin', 'wrong') })).status, 401);
  const w = await call('s3', '/key', { method: 'POST', body: '{"a":"1"}', auth: basic('reader', READER_PASSWORD) });
  assert.equal(w.status, 403, w.text);
  assert.equal(JSON.parse(w.text).code, 'GRAFTD_FORBIDDEN');
});

test('an admin write through a follower is forwarded and readable everywhere; a reader can read', async () => {
  const leader = (await status('s1'))?.leaderId ?? '';
  const follower = ['s1', 's2', 's3'].find((id) => id !== leader)!;
  const w = await call(follower, '/key', { method: 'POST', body: '{"secure":"yes"}' });
  assert.equal(w.status, 200, w.text);
  for (const id of ['s1', 's2', 's3']) {
    const r = await call(id, '/key/secure', { auth: basic('reader', READER_PASSWORD) });
    assert.equal(r.status, 200, `${id}: ${r.text}`);
    assert.deepEqual(JSON.parse(r.text), { secure: 'yes' });
  }
  // Membership needs admin, also when relayed by a follower.
  const j = await call(follower, '/join', {
    method: 'POST',
    body: JSON.stringify({ id: 's1', addr: info('s1').raftAddr, fresh: true }),
    auth: basic('reader', READER_PASSWORD),
  });
  assert.equal(j.status, 403, j.text);
});

test('a node with the wrong cluster secret is never added, not even as a learner', async () => {
  const wrongSecret = join(root, 'wrong-secret');
  writeFileSync(wrongSecret, randomBytes(32).toString('hex'), { mode: 0o600 });
  const bad = start('bad', { join: 's1', secretFile: wrongSecret, env: { JOIN_TIMEOUT: '4000' } });
  const exit = await Promise.race([bad.exited, sleep(30_000).then(() => 'timeout' as const)]);
  assert.notEqual(exit, 'timeout', 'the node with the wrong secret should give up joining and exit');
  const s = await status('s1');
  assert.deepEqual(s?.members?.map((x) => x.id).sort(), ['s1', 's2', 's3'], JSON.stringify(s?.members));
  assert.match(logTail('bad'), /join|refused|proof|401|403/i);
});

test('SIGHUP reloads the auth file: a user added afterwards can read', async () => {
  const before = await call('s2', '/key/secure', { auth: basic('late', 'late-pw') });
  assert.equal(before.status, 401);
  writeAuthFile(m.authFile, await withUser(loadAuthFile(m.authFile), 'late', 'read', 'late-pw', 1024));
  // Every member re-checks the identity (a follower relays Authorization to the leader): HUP them all.
  for (const id of ['s1', 's2', 's3']) procs.get(id)!.child.kill('SIGHUP');
  const r = await until(
    'the reloaded user to be accepted',
    async () => {
      const x = await call('s2', '/key/secure', { auth: basic('late', 'late-pw') });
      return x.status === 200 ? x : undefined;
    },
    10_000,
  );
  assert.deepEqual(JSON.parse(r.text), { secure: 'yes' });
  assert.equal(procs.get('s2')!.child.exitCode, null, 'SIGHUP must not stop the node');
  assert.match(logTail('s2'), /SIGHUP: reloaded the auth file/);
});
