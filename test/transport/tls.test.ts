/**
 * TLS on the raft port: mutual certificate verification against the peer CA, alone and
 * together with the cluster secret; wrong CA, expired and missing client certificates refused.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { GraftdError } from '../../src/errors.ts';
import { PROTOCOL_VERSION, decodeHelloAck } from '../../src/transport/codec.ts';
import { FrameDecoder, FrameKind } from '../../src/transport/frame.ts';
import type { PeerSecurity } from '../../src/transport/index.ts';
import { createTestPki } from '../helpers/certs.ts';
import { link, msg, node, sleep, until } from './helpers.ts';

const pki = createTestPki();
after(() => pki.cleanup());
const ca = fs.readFileSync(pki.ca, 'utf8');
const otherCa = fs.readFileSync(pki.otherCa, 'utf8');

function material(pair: { cert: string; key: string }, caPem = ca): NonNullable<PeerSecurity['tls']> {
  return { cert: fs.readFileSync(pair.cert, 'utf8'), key: fs.readFileSync(pair.key, 'utf8'), ca: caPem };
}

const good = { a: material(pki.issue('node-a')), b: material(pki.issue('node-b')) };
const SECRET = Buffer.from('tls-test-cluster-secret-000111');

test('TLS with good certificates carries messages and snapshots, with and without a secret; the port does not speak plaintext', async () => {
  for (const [i, secret] of [undefined, SECRET].entries()) {
    const a = node('a', `127.0.0.32:${17501 + i * 2}`, { security: { tls: good.a, secret } });
    const b = node('b', `127.0.0.33:${17502 + i * 2}`, { security: { tls: good.b, secret } });
    try {
      await Promise.all([a.t.start(), b.t.start()]);
      link(a, b);
      a.t.send([msg('a', 'b', 'heartbeat', { commit: 5 })]);
      b.t.send([msg('b', 'a', 'heartbeatResp')]);
      await until(() => a.received.length === 1 && b.received.length === 1, 'messages both ways over TLS');
      const results: boolean[] = [];
      a.t.sendSnapshot(
        msg('a', 'b', 'snap', { snapshot: { index: 3, term: 1, confState: { voters: [], learners: [], context: {} } } }),
        async function* () {
          yield new Uint8Array(200_000).fill(9);
        },
        (ok) => results.push(ok),
      );
      await until(() => results.length === 1, 'snapshot over TLS');
      assert.deepEqual(results, [true]);
      await a.t.probe('b', b.addr);
      assert.equal(a.t.securityStats().handshakeFailures, 0);
      const accepted = b.log.records.filter((r) => r.msg === 'accepted peer connection').map((r) => (r.obj as { remote: string }).remote);
      assert.ok(accepted.length > 0 && accepted.every((r) => r.startsWith('127.0.0.32:')), `TLS dials from bindHost: ${accepted}`);
      assert.equal(b.t.securityStats().handshakeFailures, 0);
    } finally {
      await Promise.all([a.t.close(), b.t.close()]);
    }
  }
  // A plaintext node cannot talk to a TLS one (and the TLS side counts the failed handshake).
  const t = node('b', '127.0.0.33:17506', { security: { tls: good.b } });
  const p = node('a', '127.0.0.32:17505');
  try {
    await Promise.all([t.t.start(), p.t.start()]);
    link(t, p);
    await assert.rejects(p.t.probe('b', t.addr, 1000), GraftdError);
    await until(() => t.t.securityStats().handshakeFailures >= 1, 'TLS side counts the plaintext attempt');
    assert.equal(t.t.peers().a!.connected, false);
  } finally {
    await Promise.all([t.t.close(), p.t.close()]);
  }
});

test('a certificate from another CA, an expired certificate, or none at all is refused', async () => {
  const b = node('b', '127.0.0.33:17511', { security: { tls: good.b } });
  try {
    await b.t.start();
    const cases: [string, NonNullable<PeerSecurity['tls']>][] = [
      ['other CA', material(pki.issueOther('node-a'), ca)],
      ['expired', material(pki.issue('node-a-expired', { expired: true }))],
    ];
    let failures = 0;
    for (const [what, tlsMaterial] of cases) {
      const a = node('a', '127.0.0.32:17512', { security: { tls: tlsMaterial } });
      try {
        b.t.setPeer('a', a.addr);
        const err = await a.t.probe('b', b.addr, 1500).then(
          () => assert.fail(`${what}: probe should fail`),
          (e: unknown) => e,
        );
        assert.ok(err instanceof GraftdError, what);
        assert.equal(err.code, 'GRAFTD_FORBIDDEN', `${what}: ${err.message}`);
        failures++;
        await until(() => b.t.securityStats().handshakeFailures >= failures, `${what}: the acceptor counts the failure`);
      } finally {
        await a.t.close();
      }
    }
    // A client presenting no certificate: it gets a generic refusal, never the challenge or any id.
    const received: Buffer[] = [];
    const socket = tls.connect({
      socket: net.connect({ host: '127.0.0.33', port: 17511, localAddress: '127.0.0.39' }),
      ca,
      checkServerIdentity: () => undefined,
    });
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => {});
    await new Promise((r) => socket.once('close', r));
    const frames: [number, Buffer][] = [];
    new FrameDecoder(4096, (kind, payload) => frames.push([kind, payload])).push(Buffer.concat(received));
    assert.equal(frames.length, 1);
    assert.equal(frames[0]![0], FrameKind.helloAck);
    assert.deepEqual(
      { ...decodeHelloAck(frames[0]![1]), proof: null },
      { version: PROTOCOL_VERSION, nodeId: '', ok: false, reason: 'authentication failed', proof: null },
    );
    assert.ok(b.log.records.some((r) => /TLS certificate was not accepted/.test(r.msg) && /127\.0\.0\.39/.test(JSON.stringify(r.obj))));
    await until(() => b.t.securityStats().handshakeFailures >= failures + 1, 'counted');
    // The server's certificate is verified by the dialler too: a node trusting only another CA refuses b.
    const c = node('c', '127.0.0.34:17513', { security: { tls: material(pki.issueOther('node-c'), otherCa) } });
    try {
      const err = await c.t.probe('b', b.addr, 1500).then(
        () => assert.fail('probe should fail'),
        (e: unknown) => e,
      );
      assert.equal((err as GraftdError).code, 'GRAFTD_FORBIDDEN');
      assert.ok(c.t.securityStats().handshakeFailures >= 1);
    } finally {
      await c.t.close();
    }
    assert.equal(b.received.length, 0);
  } finally {
    await b.t.close();
  }
});

test('updateSecurity reloads certificates for new connections; TLS cannot be switched off at runtime', async () => {
  const a = node('a', '127.0.0.32:17521', { security: { tls: good.a } });
  const b = node('b', '127.0.0.33:17522', { security: { tls: good.b } });
  try {
    await Promise.all([a.t.start(), b.t.start()]);
    await a.t.probe('b', b.addr);
    // b now trusts only the other CA: a's certificate is no longer accepted.
    b.t.updateSecurity({ tls: material(pki.issueOther('node-b2'), otherCa) });
    await assert.rejects(a.t.probe('b', b.addr, 1500), GraftdError);
    a.t.updateSecurity({ tls: material(pki.issueOther('node-a2'), otherCa) });
    await a.t.probe('b', b.addr);
    assert.throws(
      () => a.t.updateSecurity({ secret: SECRET }),
      (err: unknown) => err instanceof GraftdError && err.code === 'GRAFTD_BAD_CONFIG',
    );
    assert.throws(
      () => a.t.updateSecurity({ tls: { cert: 'not a pem', key: 'nope', ca } }),
      (err: unknown) => err instanceof GraftdError && err.code === 'GRAFTD_BAD_CONFIG',
    );
    await sleep(10);
    await a.t.probe('b', b.addr);
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});
