/**
 * Exhaustion: before issue 10, HTTP had no request/headers timeouts and no connection cap, and
 * 500 connections sending one body byte every 20 s all stayed open. Now a slow body is cut by the
 * request timeout, a silent connection by the headers timeout, and connections beyond the
 * per-address (or total) cap are closed at once. Timeouts are configured short here.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { connectionCounts } from '../../src/http/index.ts';
import { FakeNode } from './fake-node.ts';
import { makeServer } from './helpers.ts';

const host = '127.0.0.44';

function connect(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, ...(localAddress === undefined ? {} : { localAddress }) }, () => resolve(s));
    s.on('error', reject);
  });
}

/** Resolves with what the server sent when it closed the connection. */
function closed(socket: net.Socket): Promise<string> {
  let text = '';
  socket.on('data', (d) => {
    text += d.toString('latin1');
  });
  return new Promise((resolve) => socket.on('close', () => resolve(text)));
}

test('slow-body connections (one byte at a time) are closed by the request timeout; the server keeps serving', async () => {
  const { app, node } = await makeServer(new FakeNode(), { requestTimeoutMs: 600, headersTimeoutMs: 300 });
  await app.listen({ host, port: 18070 });
  const sockets: net.Socket[] = [];
  const ends: Promise<string>[] = [];
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < 20; i++) {
    const s = await connect(18070);
    sockets.push(s);
    ends.push(closed(s));
    s.on('error', () => {});
    s.write(`POST /key HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1000\r\n\r\n{`);
    // Keep trickling a byte every 100 ms: never idle, never complete.
    timers.push(setInterval(() => s.writable && s.write(' '), 100));
  }
  const answers = await Promise.all(ends);
  for (const t of timers) clearInterval(t);
  for (const a of answers) assert.match(a, /^(HTTP\/1\.1 408|$)/, `closed with ${JSON.stringify(a.slice(0, 60))}`);
  assert.equal(node.calls.length, 0, 'no partial request reached the node');
  const res = await fetch(`http://${host}:18070/healthz`);
  assert.equal(res.status, 200);
  await app.close();
});

test('a connection that sends nothing is closed by the headers timeout', async () => {
  const { app } = await makeServer(new FakeNode(), { requestTimeoutMs: 2000, headersTimeoutMs: 300 });
  await app.listen({ host, port: 18071 });
  const silent = await connect(18071);
  silent.on('error', () => {});
  await closed(silent);
  const half = await connect(18071);
  half.on('error', () => {});
  half.write('GET /status HTTP/1.1\r\nHost: x\r\n');
  await closed(half);
  await app.close();
});

test('connections beyond the per-address cap are closed at once; other addresses and freed slots are served', async () => {
  const { app } = await makeServer(new FakeNode(), { maxConnectionsPerAddress: 3, maxConnections: 5, headersTimeoutMs: 30_000 });
  await app.listen({ host, port: 18072 });
  const counts = connectionCounts.get(app);
  assert.ok(counts !== undefined);
  const held = [await connect(18072, '127.0.0.45'), await connect(18072, '127.0.0.45'), await connect(18072, '127.0.0.45')];
  for (const s of held) s.on('error', () => {});
  const extra = await connect(18072, '127.0.0.45');
  extra.on('error', () => {});
  const extraEnd = closed(extra);
  extra.write('GET /status HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(await extraEnd, '', 'refused before any answer');
  assert.equal(counts.from('127.0.0.45'), 3);
  assert.ok(counts.refused() >= 1);
  // Another address is served (total cap 5: 3 + 2).
  const other = await connect(18072, '127.0.0.46');
  const otherEnd = closed(other);
  other.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(await otherEnd, /^HTTP\/1\.1 200/);
  // Total cap: 3 held + 2 more from a third address, the next is refused.
  const t1 = await connect(18072, '127.0.0.47');
  const t2 = await connect(18072, '127.0.0.47');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const t3 = await connect(18072, '127.0.0.48');
  t3.on('error', () => {});
  assert.equal(await closed(t3), '');
  // Freed slots are reused.
  held[0]?.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const again = await connect(18072, '127.0.0.45');
  const againEnd = closed(again);
  again.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(await againEnd, /^HTTP\/1\.1 200/);
  for (const s of [...held, t1, t2]) s.destroy();
  await app.close();
});
