import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { GraftdError } from '../../src/errors.ts';
import { type Hello, PROTOCOL_VERSION } from '../../src/transport/codec.ts';
import { FrameKind, encodeFrame } from '../../src/transport/frame.ts';
import { createTransport } from '../../src/transport/index.ts';
import { silentLog } from '../../src/log.ts';
import { entries, fakeAcceptor, link, msg, node, rawHandshake, sleep, until } from './helpers.ts';

test('three transports exchange messages; binary entry data round-trips; order is kept', async () => {
  const a = node('a', '127.0.0.21:17101');
  const b = node('b', '127.0.0.22:17102');
  const c = node('c', '127.0.0.23:17103');
  const all = [a, b, c];
  try {
    await Promise.all(all.map((n) => n.t.start()));
    for (const n of all) for (const p of all) if (p !== n) n.t.setPeer(p.id, p.addr);
    const sent = msg('a', 'b', 'app', { term: 7, logTerm: 6, index: 41, commit: 40, entries: entries(42, 5, 1000), context: 'ctx' });
    a.t.send([sent, msg('a', 'c', 'heartbeat', { commit: 9, context: 'read-1' })]);
    b.t.send([msg('b', 'a', 'appResp', { reject: true, rejectHint: 17, index: 44 })]);
    c.t.send([msg('c', 'b', 'vote', { term: 2 ** 40, logTerm: 3, index: 2 ** 33 })]);
    await until(() => b.received.length === 2 && a.received.length === 1 && c.received.length === 1, 'all messages delivered');
    const got = b.received.find((m) => m.from === 'a')!;
    assert.deepEqual(got, sent);
    assert.equal(Object.getPrototypeOf(got.entries[0]!.data), Uint8Array.prototype);
    assert.deepEqual(a.received[0], msg('b', 'a', 'appResp', { reject: true, rejectHint: 17, index: 44 }));
    assert.equal(b.received.find((m) => m.from === 'c')!.term, 2 ** 40);

    // 'snap' messages must go through sendSnapshot: dropped by send().
    a.t.send([msg('a', 'b', 'snap', { snapshot: { index: 1, term: 1, confState: { voters: [], learners: [], context: {} } } })]);
    // Pipelined: many messages in one turn arrive in order.
    const batch = Array.from({ length: 2000 }, (_, i) => msg('a', 'c', 'app', { index: i, entries: entries(i + 1, 1, 64) }));
    a.t.send(batch);
    await until(() => c.received.length === 2001, '2000 pipelined messages');
    assert.deepEqual(
      c.received.slice(1).map((m) => m.index),
      batch.map((m) => m.index),
    );
    assert.equal(a.t.unknownPeerDrops(), 1);
    assert.equal(b.received.length, 2);
    for (const n of all) for (const [, p] of Object.entries(n.t.peers())) assert.equal(p.dropped, 0);
    assert.equal(a.t.peers()['b']!.connected, true);
  } finally {
    await Promise.all(all.map((n) => n.t.close()));
  }
});

test('reconnects after the peer restarts and delivers what was queued meanwhile', async () => {
  const a = node('a', '127.0.0.21:17111');
  let b = node('b', '127.0.0.22:17112');
  try {
    await a.t.start();
    await b.t.start();
    link(a, b);
    a.t.send([msg('a', 'b', 'heartbeat', { commit: 1 })]);
    await until(() => b.received.length === 1, 'first message');
    await b.t.close();
    await until(() => !a.t.peers()['b']!.connected, 'a notices b is gone');
    assert.ok(a.unreachable.includes('b'), 'unreachable reported');
    a.t.send([msg('a', 'b', 'heartbeat', { commit: 2 }), msg('a', 'b', 'heartbeat', { commit: 3 })]);
    await sleep(100);
    b = node('b', '127.0.0.22:17112');
    await b.t.start();
    link(a, b);
    await until(() => b.received.length === 2, 'queued messages after the restart');
    assert.deepEqual(
      b.received.map((m) => m.commit),
      [2, 3],
    );
    assert.equal(a.t.peers()['b']!.connected, true);
  } finally {
    await a.t.close();
    await b.t.close();
  }
});

test('queue stays bounded (messages and bytes) while the peer is down; drops are counted', async () => {
  const a = node('a', '127.0.0.21:17121', { maxQueueMessages: 100, maxQueueBytes: 64 * 1024 });
  try {
    await a.t.start();
    a.t.setPeer('b', '127.0.0.22:17122'); // nobody listens there
    const heapBefore = process.memoryUsage().heapUsed;
    for (let round = 0; round < 100; round++) {
      a.t.send(Array.from({ length: 100 }, (_, i) => msg('a', 'b', 'heartbeat', { commit: round * 100 + i })));
    }
    let p = a.t.peers()['b']!;
    assert.equal(p.queued, 100);
    assert.equal(p.dropped, 9900);
    assert.equal(p.connected, false);
    // Byte bound: 8 KiB messages, at most 64 KiB queued in total.
    const b2 = node('a2', '127.0.0.21:17123', { maxQueueMessages: 100, maxQueueBytes: 64 * 1024 });
    await b2.t.start();
    b2.t.setPeer('b', '127.0.0.22:17122');
    for (let i = 0; i < 1000; i++) b2.t.send([msg('a2', 'b', 'app', { entries: entries(i, 1, 8 * 1024) })]);
    p = b2.t.peers()['b']!;
    assert.ok(p.queued <= 7, `queued ${p.queued} 8 KiB messages within 64 KiB`);
    assert.equal(p.queued + p.dropped, 1000);
    assert.ok(b2.unreachable.includes('b'));
    console.log(`heap growth while dropping: ${((process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024).toFixed(1)} MiB`);
    await b2.t.close();
  } finally {
    await a.t.close();
  }
});

test('a wrong cluster id is refused on both sides, with backoff instead of a retry storm', async () => {
  const b = node('b', '127.0.0.22:17131');
  const a = node('a', '127.0.0.21:17132', { clusterId: 'other-cluster', backoffMinMs: 20, backoffMaxMs: 500 });
  try {
    await b.t.start();
    await a.t.start();
    a.t.setPeer('b', b.addr);
    a.t.send([msg('a', 'b', 'heartbeat')]);
    await until(() => a.log.records.some((r) => r.level === 'error' && /cluster/.test(r.msg)), 'dialler logs the refusal');
    await until(() => b.log.records.some((r) => r.level === 'error' && /cluster id mismatch/.test(r.msg)), 'acceptor logs the refusal');
    assert.equal(b.received.length, 0);
    assert.equal(a.t.peers()['b']!.connected, false);
  } finally {
    await a.t.close();
    await b.t.close();
  }
  // A node that answers with an unexpected id is refused by the dialler; retries use the max backoff.
  let connections = 0;
  const impostor = fakeAcceptor('y', undefined, (_socket, hello) => {
    connections++;
    assert.equal(hello.to, 'x');
  });
  await new Promise<void>((r) => impostor.listen(17133, '127.0.0.23', r));
  const d = node('d', '127.0.0.21:17134', { backoffMinMs: 20, backoffMaxMs: 400 });
  try {
    d.t.setPeer('x', '127.0.0.23:17133');
    await until(() => d.log.records.some((r) => r.level === 'error' && /is "y", expected "x"/.test(r.msg)), 'id mismatch logged');
    const before = connections;
    await sleep(1000);
    // With a 400 ms cap (jittered 200–400 ms) at most 5 more attempts fit in a second; without backoff there would be hundreds.
    assert.ok(connections - before <= 5, `${connections - before} attempts in 1 s`);
    assert.equal(d.t.peers()['x']!.connected, false);
  } finally {
    await d.t.close();
    await new Promise((r) => impostor.close(r));
  }
});

test('a dialler expecting another node id is refused by the acceptor', async () => {
  const c = node('c', '127.0.0.23:17141');
  const a = node('a', '127.0.0.21:17142');
  try {
    await c.t.start();
    a.t.setPeer('b', c.addr); // a thinks b lives at c's address
    a.t.send([msg('a', 'b', 'heartbeat')]);
    await until(() => c.log.records.some((r) => r.level === 'error' && /node id mismatch/.test(r.msg)), 'acceptor logs the id mismatch');
    await until(() => a.log.records.some((r) => r.level === 'error' && /refused by the peer/.test(r.msg)), 'dialler logs the refusal');
    assert.equal(c.received.length, 0);
  } finally {
    await a.t.close();
    await c.t.close();
  }
});

test("outgoing sockets bind bindHost: the server sees the node's own address", async () => {
  const seen: { remote: string; hello: Hello }[] = [];
  const sockets: net.Socket[] = [];
  const server = fakeAcceptor('z', undefined, (socket, hello) => {
    sockets.push(socket);
    seen.push({ remote: socket.remoteAddress ?? '', hello });
  });
  await new Promise<void>((r) => server.listen(17151, '127.0.0.22', r));
  const a = node('a', '127.0.0.24:17152', { advertiseAddr: '127.0.0.24:17152' });
  try {
    a.t.setPeer('z', '127.0.0.22:17151');
    await until(() => seen.length >= 1, 'hello received');
    assert.equal(seen[0]!.remote, '127.0.0.24');
    const { nonce, proof, ...rest } = seen[0]!.hello;
    assert.deepEqual(rest, {
      version: PROTOCOL_VERSION,
      clusterId: 'test-cluster',
      from: 'a',
      to: 'z',
      purpose: 'msg',
      addr: '127.0.0.24:17152',
    });
    assert.equal(nonce.length, 32);
    assert.equal(proof.length, 0, 'no secret: no proof');
  } finally {
    await a.t.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('start() rejects clearly on a port in use and on a bad address', async () => {
  const a = node('a', '127.0.0.21:17161');
  const b = node('b', '127.0.0.21:17161');
  try {
    await a.t.start();
    await assert.rejects(
      b.t.start(),
      (err: unknown) =>
        err instanceof GraftdError && err.code === 'GRAFTD_BAD_CONFIG' && /127\.0\.0\.21:17161.*already in use/.test(err.message),
    );
    const bad = createTransport({
      clusterId: 'c',
      nodeId: 'n',
      listenAddr: 'nonsense',
      bindHost: '',
      onMessage() {},
      onSnapshot: async () => {},
      log: silentLog,
    });
    await assert.rejects(
      bad.start(),
      (err: unknown) =>
        err instanceof GraftdError && err.code === 'GRAFTD_BAD_CONFIG' && /invalid raft listen address "nonsense"/.test(err.message),
    );
    const notLocal = createTransport({
      clusterId: 'c',
      nodeId: 'n',
      listenAddr: '192.0.2.1:17162',
      bindHost: '',
      onMessage() {},
      onSnapshot: async () => {},
      log: silentLog,
    });
    await assert.rejects(
      notLocal.start(),
      (err: unknown) => err instanceof GraftdError && err.code === 'GRAFTD_BAD_CONFIG' && /not available/.test(err.message),
    );
  } finally {
    await a.t.close();
    await b.t.close();
  }
});

test('an oversized frame or a malformed message closes the connection with a log line', async () => {
  const b = node('b', '127.0.0.22:17171', { maxFrameBytes: 4096, snapshotChunkBytes: 1024, isPeerAllowed: () => true });
  try {
    await b.t.start();
    for (const payload of [Buffer.from([0, 0, 0x20, 0, FrameKind.message]), encodeFrame(FrameKind.message, Buffer.from([0x93, 1, 2, 3]))]) {
      const h = await rawHandshake({ host: '127.0.0.22', port: 17171, localAddress: '127.0.0.25', from: 'evil', to: 'b' });
      assert.equal(h.ack?.ok, true);
      h.socket.write(payload);
      await h.closed;
    }
    const errors = b.log.records
      .filter((r) => r.level === 'error' && /protocol error/.test(r.msg))
      .map((r) => (r.obj as { err: string }).err);
    assert.equal(errors.length, 2);
    assert.match(errors[0]!, /frame of 8192 bytes refused/);
    assert.match(errors[1]!, /malformed peer message/);
    assert.equal(b.received.length, 0);
    assert.equal(b.t.securityStats().protocolViolations, 2);
  } finally {
    await b.t.close();
  }
});
