/**
 * Peer authentication on the raft port: the cluster-secret challenge–response, what a refused
 * peer learns (nothing), the membership filter, hello impersonation, probes and reloads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type net from 'node:net';
import { GraftdError } from '../../src/errors.ts';
import { FrameKind, encodeFrame } from '../../src/transport/frame.ts';
import { encodeMessage } from '../../src/transport/codec.ts';
import { fakeAcceptor, link, msg, node, rawHandshake, sleep, until } from './helpers.ts';
import { rejection } from '../helpers/rejection.ts';

const CLUSTER = 'cluster-7f3a9c';
const S1 = Buffer.from('first-cluster-secret-0123456789');
const S2 = Buffer.from('second-cluster-secret-987654321');

test('with a matching secret, messages and a snapshot flow both ways; nothing is counted as a failure', async () => {
  let installed = '';
  const data = randomBytes(300_000);
  const a = node('node-alpha', '127.0.0.32:17401', { clusterId: CLUSTER, security: { secret: S1 } });
  const b = node('node-bravo', '127.0.0.33:17402', {
    clusterId: CLUSTER,
    security: { secret: S1 },
    onSnapshot: async (_m, stream) => {
      const h = createHash('sha256');
      for await (const chunk of stream) h.update(chunk);
      installed = h.digest('hex');
    },
  });
  try {
    await Promise.all([a.t.start(), b.t.start()]);
    link(a, b);
    a.t.send([msg('node-alpha', 'node-bravo', 'heartbeat', { commit: 3 })]);
    b.t.send([msg('node-bravo', 'node-alpha', 'heartbeatResp')]);
    await until(() => a.received.length === 1 && b.received.length === 1, 'messages both ways');
    const results: boolean[] = [];
    a.t.sendSnapshot(
      msg('node-alpha', 'node-bravo', 'snap', { snapshot: { index: 9, term: 2, confState: { voters: [], learners: [], context: {} } } }),
      async function* () {
        yield data;
      },
      (ok) => results.push(ok),
    );
    await until(() => results.length === 1, 'snapshot done');
    assert.deepEqual(results, [true]);
    assert.equal(installed, createHash('sha256').update(data).digest('hex'));
    for (const n of [a, b])
      assert.deepEqual(n.t.securityStats(), { handshakeFailures: 0, protocolViolations: 0, refusedConnections: 0, versionMismatches: 0 });
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('a wrong secret is refused in both directions, and the refused side learns neither cluster id nor node id', async () => {
  const a = node('node-alpha', '127.0.0.32:17411', { clusterId: CLUSTER, security: { secret: S1 } });
  const b = node('node-bravo', '127.0.0.33:17412', { clusterId: CLUSTER, security: { secret: S2 } });
  try {
    await Promise.all([a.t.start(), b.t.start()]);
    link(a, b);
    a.t.send([msg('node-alpha', 'node-bravo', 'heartbeat')]);
    b.t.send([msg('node-bravo', 'node-alpha', 'heartbeat')]);
    await until(
      () => a.t.securityStats().handshakeFailures >= 2 && b.t.securityStats().handshakeFailures >= 2,
      'both sides count refused handshakes (as acceptor and as dialler)',
    );
    assert.equal(a.received.length + b.received.length, 0);
    assert.equal(a.t.peers()['node-bravo']!.connected, false);
    assert.ok(b.log.records.some((r) => r.level === 'error' && /failed to prove knowledge of the cluster secret/.test(r.msg)));
    assert.ok(a.log.records.some((r) => /refused by the peer: authentication failed/.test(JSON.stringify(r.obj))));
    const logged = JSON.stringify(b.log.records);
    for (const secret of [S1, S2]) assert.ok(!logged.includes(secret.toString()), 'the secret is never logged');

    // A stranger with a wrong secret (it even knows the cluster id and both names): the answer reveals nothing.
    const h = await rawHandshake({
      host: '127.0.0.33',
      port: 17412,
      localAddress: '127.0.0.39',
      from: 'node-alpha',
      to: 'node-bravo',
      clusterId: CLUSTER,
      secret: S1,
    });
    assert.deepEqual(
      { ok: h.ack?.ok, nodeId: h.ack?.nodeId, reason: h.ack?.reason, proof: h.ack?.proof.length },
      {
        ok: false,
        nodeId: '',
        reason: 'authentication failed',
        proof: 0,
      },
    );
    await h.closed;
    const bytes = h.bytes();
    assert.equal(bytes.indexOf(CLUSTER), -1, 'no cluster id in anything the acceptor sent');
    assert.equal(bytes.indexOf('bravo'), -1, 'no node id in anything the acceptor sent');
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('without a secret, a refusal no longer echoes the cluster id or the node id', async () => {
  const b = node('node-bravo', '127.0.0.33:17421', { clusterId: CLUSTER });
  try {
    await b.t.start();
    for (const [clusterId, to] of [
      ['guess', 'node-bravo'],
      [CLUSTER, 'someone-else'],
    ] as const) {
      const h = await rawHandshake({ host: '127.0.0.33', port: 17421, localAddress: '127.0.0.39', from: 'x', to, clusterId });
      assert.equal(h.ack?.ok, false);
      assert.equal(h.ack?.nodeId, '');
      await h.closed;
      assert.equal(h.bytes().indexOf(CLUSTER), -1, `no cluster id in the refusal of ${clusterId}/${to}`);
      assert.equal(h.bytes().indexOf('bravo'), -1, `no node id in the refusal of ${clusterId}/${to}`);
    }
    assert.equal(b.t.securityStats().handshakeFailures, 2);
  } finally {
    await b.t.close();
  }
});

test('a secret on one side only is refused either way round', async () => {
  const a = node('node-alpha', '127.0.0.32:17431', { clusterId: CLUSTER, security: { secret: S1 } });
  const b = node('node-bravo', '127.0.0.33:17432', { clusterId: CLUSTER });
  try {
    await Promise.all([a.t.start(), b.t.start()]);
    link(a, b);
    a.t.send([msg('node-alpha', 'node-bravo', 'heartbeat')]);
    b.t.send([msg('node-bravo', 'node-alpha', 'heartbeat')]);
    await until(() => a.t.securityStats().handshakeFailures >= 2 && b.t.securityStats().handshakeFailures >= 2, 'both directions refused');
    await sleep(100);
    assert.equal(a.received.length + b.received.length, 0);
    assert.equal(a.t.peers()['node-bravo']!.connected, false);
    assert.equal(b.t.peers()['node-alpha']!.connected, false);
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('a node with a secret tells a stranger answering on a peer address nothing, and refuses its unproven answer', async () => {
  const hellos: Buffer[] = [];
  const stranger = fakeAcceptor('node-bravo');
  const sockets: net.Socket[] = [];
  stranger.on('connection', (s: net.Socket) => {
    sockets.push(s);
    s.on('data', (d: Buffer) => hellos.push(Buffer.from(d)));
  });
  await new Promise<void>((r) => stranger.listen(17441, '127.0.0.38', r));
  const a = node('node-alpha', '127.0.0.32:17442', { clusterId: CLUSTER, security: { secret: S1 } });
  try {
    a.t.setPeer('node-bravo', '127.0.0.38:17441');
    await until(() => a.t.securityStats().handshakeFailures >= 1, 'the unproven answer is refused');
    assert.equal(a.t.peers()['node-bravo']!.connected, false);
    assert.ok(a.log.records.some((r) => /did not prove knowledge of the cluster secret/.test(JSON.stringify(r.obj))));
    const sent = Buffer.concat(hellos);
    assert.ok(sent.indexOf('node-alpha') > 0, 'the hello was captured');
    // The cluster id is sent (a name, not a credential): a node of another cluster listed as a member can say so.
    assert.ok(sent.indexOf(CLUSTER) > 0, 'the cluster id is sent and bound into the proof');
    assert.equal(sent.indexOf(S1), -1, 'the secret never crosses the wire');
  } finally {
    await a.t.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => stranger.close(r));
  }
});

test('hello impersonation: a second hello with a connected peer id does not kick the real connection', async () => {
  const a = node('node-alpha', '127.0.0.32:17451', { clusterId: CLUSTER });
  const b = node('node-bravo', '127.0.0.33:17452', { clusterId: CLUSTER });
  try {
    await Promise.all([a.t.start(), b.t.start()]);
    link(a, b);
    a.t.send([msg('node-alpha', 'node-bravo', 'heartbeat', { commit: 1 })]);
    await until(() => b.received.length === 1, 'first message');
    // Without a secret anybody can claim an id; what must not happen is that the claim evicts the real peer.
    const h = await rawHandshake({
      host: '127.0.0.33',
      port: 17452,
      localAddress: '127.0.0.39',
      from: 'node-alpha',
      to: 'node-bravo',
      clusterId: CLUSTER,
    });
    assert.equal(h.ack?.ok, true);
    await sleep(200);
    a.t.send([msg('node-alpha', 'node-bravo', 'heartbeat', { commit: 2 })]);
    await until(() => b.received.length === 2, 'second message on the original connection');
    assert.equal(
      a.log.records.filter((r) => /connected to peer/.test(r.msg) && (r.obj as { peer?: string }).peer === 'node-bravo').length,
      1,
    );
    assert.ok(!a.log.records.some((r) => /lost connection to peer/.test(r.msg)), 'the real connection was never dropped');
    h.socket.destroy();
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('an unknown id is refused (membership filter), also with the right secret, unless the node admits unknown peers (no live leader); isPeerAllowed overrides; removePeer closes its connections', async () => {
  const b = node('node-bravo', '127.0.0.33:17461', { clusterId: CLUSTER, security: { secret: S1 } });
  try {
    await b.t.start();
    const h = await rawHandshake({
      host: '127.0.0.33',
      port: 17461,
      localAddress: '127.0.0.39',
      from: 'intruder',
      to: 'node-bravo',
      clusterId: CLUSTER,
      secret: S1,
    });
    assert.equal(h.ack?.ok, false);
    assert.match(h.ack?.reason ?? '', /unknown peer/);
    await h.closed;
    assert.equal(b.t.securityStats().refusedConnections, 1);
    // Known: accepted; removed: its connection is closed and it is refused again.
    b.t.setPeer('member', '127.0.0.39:1');
    const m = await rawHandshake({
      host: '127.0.0.33',
      port: 17461,
      localAddress: '127.0.0.39',
      from: 'member',
      to: 'node-bravo',
      clusterId: CLUSTER,
      secret: S1,
    });
    assert.equal(m.ack?.ok, true);
    b.t.removePeer('member');
    await m.closed;
    const again = await rawHandshake({
      host: '127.0.0.33',
      port: 17461,
      localAddress: '127.0.0.39',
      from: 'member',
      to: 'node-bravo',
      clusterId: CLUSTER,
      secret: S1,
    });
    assert.equal(again.ack?.ok, false);
  } finally {
    await b.t.close();
  }
  // A node following no live leader may be behind a membership change: it admits an unknown
  // (authenticated) peer, whose messages the core then judges.
  let leaderless = false;
  const d = node('node-delta', '127.0.0.35:17463', { clusterId: CLUSTER, security: { secret: S1 }, admitUnknownPeers: () => leaderless });
  try {
    await d.t.start();
    const hs = () =>
      rawHandshake({
        host: '127.0.0.35',
        port: 17463,
        localAddress: '127.0.0.39',
        from: 'new-member',
        to: 'node-delta',
        clusterId: CLUSTER,
        secret: S1,
      });
    assert.equal((await hs()).ack?.ok, false);
    leaderless = true;
    assert.equal((await hs()).ack?.ok, true);
  } finally {
    await d.t.close();
  }
  const c = node('node-charlie', '127.0.0.34:17462', { clusterId: CLUSTER, isPeerAllowed: (id) => id.startsWith('ok-') });
  try {
    await c.t.start();
    const ok = await rawHandshake({
      host: '127.0.0.34',
      port: 17462,
      localAddress: '127.0.0.39',
      from: 'ok-1',
      to: 'node-charlie',
      clusterId: CLUSTER,
    });
    const no = await rawHandshake({
      host: '127.0.0.34',
      port: 17462,
      localAddress: '127.0.0.39',
      from: 'nope',
      to: 'node-charlie',
      clusterId: CLUSTER,
    });
    assert.equal(ok.ack?.ok, true);
    assert.equal(no.ack?.ok, false);
    ok.socket.destroy();
  } finally {
    await c.t.close();
  }
});

test('a message whose from/to contradicts its connection closes it and counts a protocol violation', async () => {
  const b = node('node-bravo', '127.0.0.33:17471', { clusterId: CLUSTER, isPeerAllowed: () => true });
  try {
    await b.t.start();
    const h = await rawHandshake({
      host: '127.0.0.33',
      port: 17471,
      localAddress: '127.0.0.39',
      from: 'node-alpha',
      to: 'node-bravo',
      clusterId: CLUSTER,
    });
    assert.equal(h.ack?.ok, true);
    h.socket.write(encodeFrame(FrameKind.message, encodeMessage(msg('node-charlie', 'node-bravo', 'app', { term: 99 }))));
    await h.closed;
    assert.equal(b.received.length, 0);
    assert.equal(b.t.securityStats().protocolViolations, 1);
  } finally {
    await b.t.close();
  }
});

test('probe: ok with the right secret and id; 403 for a wrong secret or id; 503 when nobody answers; no frames on a probe', async () => {
  const a = node('node-alpha', '127.0.0.32:17481', { clusterId: CLUSTER, security: { secret: S1 } });
  const joiner = node('node-joiner', '127.0.0.35:17482', { clusterId: CLUSTER, security: { secret: S1 } });
  const wrong = node('node-wrong', '127.0.0.36:17483', { clusterId: CLUSTER, security: { secret: S2 } });
  try {
    await Promise.all([a.t.start(), joiner.t.start(), wrong.t.start()]);
    // The joiner does not know node-alpha (not a member yet): a probe is still answered.
    await a.t.probe('node-joiner', joiner.addr);
    assert.equal(await rejection(a.t.probe('node-wrong', wrong.addr)), '403 GRAFTD_FORBIDDEN');
    assert.equal(await rejection(a.t.probe('node-other', joiner.addr)), '403 GRAFTD_FORBIDDEN');
    assert.equal(await rejection(a.t.probe('node-none', '127.0.0.37:17484', 500)), '503 GRAFTD_PEER_UNREACHABLE');
    assert.equal(await rejection(a.t.probe('node-none', 'nonsense', 500)), '503 GRAFTD_PEER_UNREACHABLE');
    // A probe connection carries no frames: a message after the handshake goes nowhere.
    const h = await rawHandshake({
      host: '127.0.0.35',
      port: 17482,
      localAddress: '127.0.0.39',
      from: 'anyone',
      to: 'node-joiner',
      clusterId: CLUSTER,
      secret: S1,
      purpose: 'probe',
    });
    assert.equal(h.ack?.ok, true);
    h.socket.write(encodeFrame(FrameKind.message, encodeMessage(msg('anyone', 'node-joiner', 'app', { term: 5 }))));
    await h.closed;
    assert.equal(joiner.received.length, 0);
  } finally {
    await Promise.all([a.t.close(), joiner.t.close(), wrong.t.close()]);
  }
});

test('updateSecurity: new connections use the new secret, the established one stays; TLS cannot be switched on at runtime', async () => {
  const a = node('node-alpha', '127.0.0.32:17491', { clusterId: CLUSTER, security: { secret: S1 } });
  const b = node('node-bravo', '127.0.0.33:17492', { clusterId: CLUSTER, security: { secret: S1 } });
  try {
    await Promise.all([a.t.start(), b.t.start()]);
    link(a, b);
    a.t.send([msg('node-alpha', 'node-bravo', 'heartbeat', { commit: 1 })]);
    await until(() => b.received.length === 1, 'first message');
    b.t.updateSecurity({ secret: S2 });
    assert.equal(await rejection(a.t.probe('node-bravo', b.addr)), '403 GRAFTD_FORBIDDEN');
    a.t.send([msg('node-alpha', 'node-bravo', 'heartbeat', { commit: 2 })]);
    await until(() => b.received.length === 2, 'the established connection still works');
    a.t.updateSecurity({ secret: S2 });
    await a.t.probe('node-bravo', b.addr);
    assert.throws(
      () => a.t.updateSecurity({ secret: S2, tls: { cert: 'x', key: 'y', ca: 'z' } }),
      (err: unknown) => err instanceof GraftdError && err.code === 'GRAFTD_BAD_CONFIG',
    );
    await a.t.probe('node-bravo', b.addr); // the failed update changed nothing
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('a peer this node does not know yet, admitted, is answered at its advertised address while it stays connected', async () => {
  // n2 knows n1; n1 does not know n2 but admits unknown peers (as a node without a live leader does).
  const n1 = node('n1', '127.0.0.36:17491', { clusterId: CLUSTER, security: { secret: S1 }, admitUnknownPeers: () => true });
  const n2 = node('n2', '127.0.0.37:17492', { clusterId: CLUSTER, security: { secret: S1 }, advertiseAddr: '127.0.0.37:17492' });
  try {
    await Promise.all([n1.t.start(), n2.t.start()]);
    n2.t.setPeer('n1', '127.0.0.36:17491');
    n2.t.send([msg('n2', 'n1', 'heartbeat')]);
    await until(() => n1.received.length >= 1, 'n1 hears n2');
    // n1 answers n2 although n2 is not among its peers (a learned link, hidden from peers()).
    n1.t.send([msg('n1', 'n2', 'heartbeatResp')]);
    await until(() => n2.received.some((m) => m.type === 'heartbeatResp'), 'n2 hears the answer');
    assert.equal(n1.t.peers().n2, undefined);
    // Adopted by setPeer: a member link from then on.
    n1.t.setPeer('n2', '127.0.0.37:17492');
    assert.equal(n1.t.peers().n2?.addr, '127.0.0.37:17492');
  } finally {
    await Promise.all([n1.t.close(), n2.t.close()]);
  }
});
