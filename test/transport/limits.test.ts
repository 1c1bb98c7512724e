/**
 * Resource limits of the raft port: what a stranger can hold before the handshake, and what an
 * authenticated peer can pin with a frame that never completes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FrameDecoder, FrameKind, decoderBufferedBytes } from '../../src/transport/frame.ts';
import { link, msg, node, rawHandshake, sleep, until } from './helpers.ts';

test('before the handshake: a frame above maxHandshakeFrameBytes closes the connection at once', async () => {
  const b = node('b', '127.0.0.33:17601', { isPeerAllowed: () => true });
  try {
    await b.t.start();
    const socket = net.connect({ host: '127.0.0.33', port: 17601, localAddress: '127.0.0.39' });
    socket.on('error', () => {});
    socket.on('data', () => {});
    await new Promise((r) => socket.once('connect', r));
    // Declares a 1 MiB hello; the old code accepted up to 64 MiB before the handshake.
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(1024 * 1024, 0);
    prefix[4] = FrameKind.hello;
    socket.write(prefix);
    await new Promise((r) => socket.once('close', r));
    assert.equal(b.t.securityStats().handshakeFailures, 1);
    assert.ok(b.log.records.some((r) => /frame of 1048576 bytes refused: frames must be 1\.\.4096 bytes/.test(r.msg)));
  } finally {
    await b.t.close();
  }
});

test('unauthenticated connections have their own slots (total and per address); real peers still get in', async () => {
  const b = node('b', '127.0.0.33:17611', { maxPendingHandshakes: 6, maxPendingHandshakesPerAddress: 3, handshakeTimeoutMs: 2000 });
  const a = node('a', '127.0.0.32:17612');
  const idle: net.Socket[] = [];
  const open = async (from: string) => {
    const s = net.connect({ host: '127.0.0.33', port: 17611, localAddress: from });
    s.on('error', () => {});
    s.on('data', () => {});
    let closed = false;
    s.on('close', () => {
      closed = true;
    });
    await new Promise((r) => s.once('connect', r));
    idle.push(s);
    return () => closed;
  };
  try {
    await Promise.all([a.t.start(), b.t.start()]);
    // One address takes at most its share of the unauthenticated slots...
    for (let i = 0; i < 3; i++) await open('127.0.0.38');
    const fourthFromSame = await open('127.0.0.38');
    await until(fourthFromSame, 'the 4th idle connection from one address is refused');
    // ...so a real peer from another address still completes its handshake.
    link(a, b);
    a.t.send([msg('a', 'b', 'heartbeat', { commit: 1 })]);
    await until(() => b.received.length === 1, 'the real peer gets through');
    // Authenticated connections do not use the unauthenticated slots: 3 more strangers fit, the 7th does not.
    await until(() => b.t.peers().a?.connected === true, "b's own link to a is up");
    for (let i = 0; i < 3; i++) await open('127.0.0.37');
    const overTotal = await open('127.0.0.36');
    await until(overTotal, 'the 7th idle connection in total is refused');
    assert.equal(b.t.securityStats().refusedConnections, 2);
    a.t.send([msg('a', 'b', 'heartbeat', { commit: 2 })]);
    await until(() => b.received.length === 2, 'the authenticated connection is unaffected');
  } finally {
    for (const s of idle) s.destroy();
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('the frame decoder holds what arrived, not what a length prefix claims; a partial frame never pins socket slabs', () => {
  const before = decoderBufferedBytes();
  let got = 0;
  const d = new FrameDecoder(64 * 1024 * 1024, () => got++);
  const header = Buffer.alloc(5);
  header.writeUInt32BE(64 * 1024 * 1024, 0);
  header[4] = FrameKind.message;
  for (const byte of header) d.push(Buffer.from([byte]));
  // One byte at a time, each in its own 64 KiB "slab" (as a socket read would return it).
  for (let i = 0; i < 10_000; i++) {
    const slab = Buffer.alloc(64 * 1024);
    d.push(slab.subarray(0, 1));
    assert.ok(d.bufferedBytes() <= Math.max(256, 2 * (5 + i + 1)), `after ${i + 1} bytes: ${d.bufferedBytes()} buffered`);
  }
  assert.equal(got, 0);
  assert.ok(decoderBufferedBytes() - before <= 2 * 10_005);
  d.stop();
  assert.equal(decoderBufferedBytes(), before);
  // A per-connection budget below the declared size refuses the frame at its prefix.
  const small = new FrameDecoder(1 << 20, () => {}, 4096);
  assert.throws(() => small.push(header.subarray(0, 5)), /frame of 67108864 bytes refused/);
  const budget = new FrameDecoder(64 * 1024 * 1024, () => {}, 8192);
  const h2 = Buffer.alloc(5);
  h2.writeUInt32BE(10_000, 0);
  assert.throws(() => budget.push(h2), /buffer budget of 8192 bytes/);
});

test('an authenticated peer sending a frame one byte at a time holds little memory and is closed after frameTimeoutMs', async () => {
  const b = node('b', '127.0.0.33:17621', { isPeerAllowed: () => true, frameTimeoutMs: 400, peerTimeoutMs: 10_000 });
  const sockets: net.Socket[] = [];
  try {
    await b.t.start();
    const base = decoderBufferedBytes();
    const closed: Promise<void>[] = [];
    for (let i = 0; i < 8; i++) {
      const h = await rawHandshake({ host: '127.0.0.33', port: 17621, localAddress: '127.0.0.39', from: `p${i}`, to: 'b' });
      assert.equal(h.ack?.ok, true);
      sockets.push(h.socket);
      closed.push(h.closed);
      const header = Buffer.alloc(5);
      header.writeUInt32BE(32 * 1024 * 1024, 0);
      header[4] = FrameKind.message;
      h.socket.write(header);
    }
    let peak = 0;
    for (let round = 0; round < 30; round++) {
      for (const s of sockets) if (!s.destroyed) s.write(Buffer.from([round]));
      await sleep(5);
      peak = Math.max(peak, decoderBufferedBytes() - base);
    }
    // 8 connections × (5 + ≤30 bytes), doubling from 256: a few KiB, never the declared 32 MiB each.
    assert.ok(peak <= 8 * 512, `peak ${peak} bytes buffered`);
    await Promise.all(closed);
    assert.equal(b.t.securityStats().protocolViolations, 8);
    assert.ok(b.log.records.some((r) => /protocol error/.test(r.msg) && /not completed within 400 ms/.test(JSON.stringify(r.obj))));
    assert.equal(decoderBufferedBytes(), base);
  } finally {
    for (const s of sockets) s.destroy();
    await b.t.close();
  }
});

test('a frame held back by our own flow control (slow snapshot consumer) does not count as stalled', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const b = node('b', '127.0.0.33:17631', {
    frameTimeoutMs: 200,
    snapshotBufferBytes: 64 * 1024,
    onSnapshot: async (_m, stream) => {
      await gate;
      for await (const _ of stream) {
        // drain
      }
    },
  });
  const a = node('a', '127.0.0.32:17632', { snapshotChunkBytes: 32 * 1024 });
  try {
    await Promise.all([a.t.start(), b.t.start()]);
    link(a, b);
    const results: boolean[] = [];
    a.t.sendSnapshot(
      msg('a', 'b', 'snap', { snapshot: { index: 3, term: 1, confState: { voters: [], learners: [], context: {} } } }),
      async function* () {
        for (let i = 0; i < 64; i++) yield new Uint8Array(64 * 1024).fill(i);
      },
      (ok) => results.push(ok),
    );
    await sleep(800);
    release();
    await until(() => results.length === 1, 'snapshot done');
    assert.deepEqual(results, [true]);
    assert.equal(b.t.securityStats().protocolViolations, 0);
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('settings are validated', () => {
  assert.throws(() => node('x', '127.0.0.33:17641', { maxHandshakeFrameBytes: 10 }), /maxHandshakeFrameBytes/);
  assert.throws(
    () => node('x', '127.0.0.33:17641', { maxPendingHandshakes: 2, maxPendingHandshakesPerAddress: 3 }),
    /maxPendingHandshakesPerAddress/,
  );
  assert.throws(() => node('x', '127.0.0.33:17641', { frameTimeoutMs: 0 }), /frameTimeoutMs/);
  assert.throws(() => node('x', '127.0.0.33:17641', { maxBufferedBytesPerConnection: 100 }), /maxBufferedBytesPerConnection/);
  assert.throws(() => node('x', '127.0.0.33:17641', { security: { secret: new Uint8Array(0) } }), /secret must not be empty/);
});
