/**
 * The live view's attack surface: the member-status relay (SSRF) and the /events WebSocket
 * (Origin, credentials, watcher slots). Before issue 10: a member joined with httpAddr
 * "127.0.0.1:21999/secret/?" made /ui/members/x/status fetch /secret/ from a localhost-only
 * server; /events accepted any Origin and anyone; 32 idle watchers from one host took every slot.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { AUTH_PROTOCOL_PREFIX, EVENTS_PROTOCOL } from '../../src/security/http-credentials.ts';
import { vizorPlugin } from '../../src/vizor/plugin.ts';
import { FakeNode } from '../http/fake-node.ts';
import { assertError, makeServer } from '../http/helpers.ts';
import { makeAuthFixture, security } from '../http/security-helpers.ts';
import type { AuthFixture } from '../http/security-helpers.ts';

const host = '127.0.0.51';
let secretServer: Server;
const seenPaths: string[] = [];
const seenAuth: Array<string | undefined> = [];

before(async () => {
  // A "localhost-only" service the relay must never be turned against.
  secretServer = createServer((req, res) => {
    seenPaths.push(req.url ?? '');
    seenAuth.push(req.headers.authorization);
    res.setHeader('content-type', 'application/json');
    res.end(req.url === '/status' ? '{"id":"x","role":"follower"}' : '{"secret":"top"}');
  });
  await new Promise<void>((resolve) => secretServer.listen(21999, host, resolve));
});

after(async () => {
  await new Promise((resolve) => secretServer.close(resolve));
});

test('SSRF: a member whose httpAddr is not plain host:port is never contacted; a valid one only at /status', async () => {
  const node = new FakeNode();
  node.members = [
    { id: 'x', raftAddr: '127.0.0.51:1', httpAddr: `${host}:21999/secret/?`, voter: true },
    { id: 'y', raftAddr: '127.0.0.51:2', httpAddr: `${host}:21999`, voter: true },
    { id: 'z', raftAddr: '127.0.0.51:3', httpAddr: `user@${host}:21999`, voter: true },
  ];
  const { app } = await makeServer(node, { plugins: [vizorPlugin(node)] });
  seenPaths.length = 0;
  assertError(await app.inject({ url: '/ui/members/x/status' }), 404, 'GRAFTD_UNKNOWN_MEMBER');
  assertError(await app.inject({ url: '/ui/members/z/status' }), 404, 'GRAFTD_UNKNOWN_MEMBER');
  assert.deepEqual(seenPaths, []);
  const ok = await app.inject({ url: '/ui/members/y/status' });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(seenPaths, ['/status']);
  // And such an httpAddr is refused at /join in the first place.
  assertError(
    await app.inject({ method: 'POST', url: '/join', payload: { id: 'x2', addr: '127.0.0.51:4', httpAddr: `${host}:21999/secret/?` } }),
    400,
    'GRAFTD_INVALID_BODY',
  );
  await app.close();
});

test("the relay forwards the caller's Authorization, so the member checks the caller's own rights", async () => {
  const fx = await makeAuthFixture();
  const node = new FakeNode();
  node.members = [{ id: 'y', raftAddr: '127.0.0.51:2', httpAddr: `${host}:21999`, voter: true }];
  const { app } = await makeServer(node, { security: security({ authFile: fx.file }), plugins: [vizorPlugin(node)] });
  seenAuth.length = 0;
  const res = await app.inject({ url: '/ui/members/y/status', headers: { authorization: fx.basic.admin } });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(seenAuth, [fx.basic.admin]);
  await app.close();
  fx.cleanup();
});

// ---------- /events ----------

let events: { app: FastifyInstance; node: FakeNode } | undefined;
let fx: AuthFixture;
const eventsUrl = 'ws://127.0.0.52:18095/events';

interface Outcome {
  readonly status: number;
  readonly protocol: string;
  readonly ws: WebSocket | undefined;
}

function open(opts: { origin?: string; protocols?: string[]; authorization?: string; localAddress?: string } = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (opts.authorization !== undefined) headers.authorization = opts.authorization;
    const ws = new WebSocket(eventsUrl, opts.protocols ?? [], {
      ...(opts.origin === undefined ? {} : { origin: opts.origin }),
      ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
      headers,
    });
    ws.on('open', () => resolve({ status: 101, protocol: ws.protocol, ws }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, protocol: '', ws: undefined });
      res.resume();
    });
    ws.on('error', reject);
  });
}

function authProtocol(text: string): string {
  return AUTH_PROTOCOL_PREFIX + Buffer.from(text).toString('base64url');
}

before(async () => {
  fx = await makeAuthFixture();
  const node = new FakeNode();
  node.members = [{ id: 'node1', raftAddr: '127.0.0.53:1', httpAddr: '127.0.0.53:18000', voter: true }];
  events = await makeServer(node, {
    security: security({ authFile: fx.file }),
    plugins: [vizorPlugin(node, { maxClientsPerAddress: 2 })],
  });
  await events.app.listen({ host: '127.0.0.52', port: 18095 });
});

after(async () => {
  await events?.app.close();
  fx.cleanup();
});

test('/events refuses a foreign Origin (403) even with admin credentials; a member origin is accepted', async () => {
  const foreign = await open({ origin: 'http://evil.example', protocols: [EVENTS_PROTOCOL, authProtocol('admin:admin-pw')] });
  assert.equal(foreign.status, 403);
  const member = await open({ origin: 'http://127.0.0.53:18000', protocols: [EVENTS_PROTOCOL, authProtocol('admin:admin-pw')] });
  assert.equal(member.status, 101);
  assert.equal(member.protocol, EVENTS_PROTOCOL, 'the server answers graftd-events only, never the credential protocol');
  member.ws?.close();
});

test('/events needs admin: none → 401, wrong password → 401, read user → 403; subprotocol or header credentials work', async () => {
  assert.equal((await open()).status, 401);
  assert.equal((await open({ protocols: [EVENTS_PROTOCOL, authProtocol('admin:nope')] })).status, 401);
  assert.equal((await open({ protocols: [EVENTS_PROTOCOL, authProtocol('reader:reader-pw')] })).status, 403);
  assert.equal((await open({ protocols: [EVENTS_PROTOCOL, authProtocol(`bearer:${fx.tokens.write}`)] })).status, 403);
  const token = await open({ protocols: [EVENTS_PROTOCOL, authProtocol(`bearer:${fx.tokens.admin}`)] });
  assert.equal(token.status, 101);
  token.ws?.close();
  const header = await open({ authorization: fx.basic.admin });
  assert.equal(header.status, 101);
  header.ws?.close();
});

test('one address holds at most maxClientsPerAddress watchers (503 beyond); another address still gets in', async () => {
  await new Promise((resolve) => setTimeout(resolve, 100)); // let earlier sockets' close events land
  const creds = { authorization: fx.basic.admin, localAddress: '127.0.0.54' };
  const a = await open(creds);
  const b = await open(creds);
  assert.equal(a.status, 101);
  assert.equal(b.status, 101);
  assert.equal((await open(creds)).status, 503);
  const other = await open({ authorization: fx.basic.admin, localAddress: '127.0.0.55' });
  assert.equal(other.status, 101);
  // A slot frees when its watcher leaves.
  const closed = new Promise((resolve) => a.ws?.once('close', resolve));
  a.ws?.close();
  await closed;
  await new Promise((resolve) => setTimeout(resolve, 50));
  const again = await open(creds);
  assert.equal(again.status, 101);
  for (const o of [b, other, again]) o.ws?.close();
});
