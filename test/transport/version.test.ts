/**
 * Protocol versions in the peer handshake: a peer speaking another version is refused, both
 * sides log both versions, and the refusal is counted (versionMismatches, also a handshake failure).
 * Addresses 127.0.0.147–148.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { PROTOCOL_VERSION, VERSION } from '../../src/version.ts';
import { Packr } from 'msgpackr';
import { type HelloAck, decodeHelloAck, encodeChallenge, encodeHelloAck, peekVersion } from '../../src/transport/codec.ts';
import { FrameDecoder, FrameKind, encodeFrame } from '../../src/transport/frame.ts';
import { node, until } from './helpers.ts';

const OTHER = PROTOCOL_VERSION + 1;
const packr = new Packr({ useRecords: false, moreTypes: false });

/** Dial `port` by hand and answer the challenge with `hello` (raw msgpack fields); resolve with the answer. */
async function helloOf(port: number, hello: unknown[]): Promise<{ ack: HelloAck | null; challengeVersion: number | null }> {
  const socket = net.connect({ host: '127.0.0.147', port, localAddress: '127.0.0.148' });
  socket.on('error', () => {});
  let challengeVersion: number | null = null;
  const ack = await new Promise<HelloAck | null>((resolve) => {
    const decoder = new FrameDecoder(1 << 20, (kind, payload) => {
      if (kind === FrameKind.challenge) {
        challengeVersion = peekVersion(payload);
        socket.write(encodeFrame(FrameKind.hello, packr.pack(hello)));
      } else if (kind === FrameKind.helloAck) resolve(decodeHelloAck(payload));
    });
    socket.on('data', (d: Buffer) => decoder.push(d));
    socket.once('close', () => resolve(null));
  });
  socket.destroy();
  return { ack, challengeVersion };
}

test('the acceptor refuses a hello of another protocol version, naming both versions; logged and counted', async () => {
  const a = node('node-a', '127.0.0.147:0');
  try {
    await a.t.start();
    const port = Number(a.t.listenAddress().split(':').pop());
    // A v3-shaped hello with another version number, then one of a shape this node cannot decode at all.
    const nonce = new Uint8Array(32);
    const shaped = await helloOf(port, [OTHER, 'test-cluster', 'node-b', 'node-a', 'msg', nonce, new Uint8Array(0), '']);
    assert.equal(shaped.challengeVersion, PROTOCOL_VERSION);
    assert.ok(shaped.ack !== null && !shaped.ack.ok, 'refused');
    assert.equal(shaped.ack.version, PROTOCOL_VERSION);
    assert.match(shaped.ack.reason, new RegExp(`protocol version ${OTHER} .*speaks ${PROTOCOL_VERSION}`));
    assert.ok(!shaped.ack.reason.includes(VERSION), 'the software version is not sent to an unauthenticated peer');
    const future = await helloOf(port, [OTHER + 1, { any: 'shape' }, 'node-c', 42]);
    assert.ok(future.ack !== null && !future.ack.ok);
    assert.match(future.ack.reason, new RegExp(`protocol version ${OTHER + 1} `));

    const errors = a.log.records.filter((r) => r.level === 'error' && /protocol version/.test(r.msg));
    assert.equal(errors.length, 2, JSON.stringify(a.log.records));
    assert.match(errors[0]!.msg, new RegExp(`peer protocol version ${OTHER}, this node ${PROTOCOL_VERSION} \\(graftd ${VERSION}\\)`));
    assert.equal((errors[0]!.obj as { peer: string }).peer, 'node-b');
    const stats = a.t.securityStats();
    assert.equal(stats.versionMismatches, 2);
    assert.equal(stats.handshakeFailures, 2);
  } finally {
    await a.t.close();
  }
});

test('the dialler refuses an acceptor of another protocol version, still sends its hello so the acceptor can log it; logged and counted', async () => {
  const hellos: (number | null)[] = [];
  // A hand-written acceptor of the next protocol version: its challenge and answer name OTHER.
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1 << 20, (kind, payload) => {
      if (kind !== FrameKind.hello) return;
      hellos.push(peekVersion(payload));
      const reason = `protocol version ${PROTOCOL_VERSION} is not supported (this node speaks ${OTHER})`;
      socket.end(
        encodeFrame(FrameKind.helloAck, encodeHelloAck({ version: OTHER, nodeId: '', ok: false, reason, proof: new Uint8Array(0) })),
      );
    });
    socket.on('data', (d: Buffer) => decoder.push(d));
    socket.write(encodeFrame(FrameKind.challenge, encodeChallenge({ version: OTHER, nonce: new Uint8Array(32) })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.148', r));
  const port = (server.address() as net.AddressInfo).port;
  const a = node('node-a', '127.0.0.147:0');
  try {
    await a.t.start();
    a.t.setPeer('node-new', `127.0.0.148:${port}`);
    await until(() => a.log.records.some((r) => r.level === 'error' && /protocol version/.test(r.msg)), 'the dialler logs the refusal');
    assert.deepEqual(hellos.slice(0, 1), [PROTOCOL_VERSION], 'the acceptor got a hello naming our version');
    const e = a.log.records.find((r) => r.level === 'error' && /protocol version/.test(r.msg));
    assert.ok(e !== undefined);
    assert.match(e.msg, new RegExp(`speaks peer protocol version ${OTHER}, this node ${PROTOCOL_VERSION} \\(graftd ${VERSION}\\)`));
    assert.match(e.msg, /it answered: protocol version/);
    const stats = a.t.securityStats();
    assert.ok(stats.versionMismatches >= 1);
    assert.ok(stats.handshakeFailures >= stats.versionMismatches);
  } finally {
    await a.t.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
