import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { ChunkQueue } from '../../src/transport/chunk-queue.ts';
import { FrameKind, encodeFrame } from '../../src/transport/frame.ts';
import { fakeAcceptor, msg, node, until } from './helpers.ts';

test('a peer that handshakes but then stays silent (SIGSTOP, dropped packets) is dropped and redialled', async () => {
  let connections = 0;
  const sockets: net.Socket[] = [];
  let answerPings = false;
  const silent = fakeAcceptor(
    's',
    (socket, kind) => {
      if (kind === FrameKind.ping && answerPings) socket.write(encodeFrame(FrameKind.pong));
    },
    (socket) => {
      connections++;
      sockets.push(socket);
    },
  );
  await new Promise<void>((r) => silent.listen(17301, '127.0.0.26', r));
  const a = node('a', '127.0.0.21:17302', { pingIntervalMs: 50, peerTimeoutMs: 300 });
  try {
    a.t.setPeer('s', '127.0.0.26:17301');
    await until(() => a.t.peers()['s']!.connected, 'connected');
    await until(() => connections >= 2, 'redialled after the peer went silent');
    assert.ok(a.unreachable.includes('s'));
    assert.ok(
      a.log.records.some(
        (r) => r.level === 'warn' && /no answer from the peer for 300 ms/.test((r.obj as { reason?: string }).reason ?? ''),
      ),
    );
    // A peer that answers pings keeps its connection.
    answerPings = true;
    await until(() => a.t.peers()['s']!.connected, 'connected again');
    const settled = connections;
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(connections, settled, 'no redial while pongs arrive');
    a.t.send([msg('a', 's', 'heartbeat')]);
  } finally {
    await a.t.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  }
});

test('chunk queue pauses the source above the high-water mark and resumes when drained', async () => {
  const events: string[] = [];
  const q = new ChunkQueue(
    100,
    () => events.push('pause'),
    () => events.push('resume'),
  );
  for (let i = 0; i < 5; i++) q.push(new Uint8Array(30));
  assert.deepEqual(events, ['pause']);
  assert.equal(q.paused, true);
  const it = q[Symbol.asyncIterator]();
  await it.next();
  await it.next();
  assert.deepEqual(events, ['pause']);
  await it.next(); // 60 bytes left → still above half
  await it.next(); // 30 left → resume
  assert.deepEqual(events, ['pause', 'resume']);
  await it.next();
  const pending = it.next();
  q.push(new Uint8Array([7]));
  assert.deepEqual((await pending).value, new Uint8Array([7]));
  q.end();
  assert.equal((await it.next()).done, true);
  assert.throws(() => q[Symbol.asyncIterator](), /only once/);

  const failing = new ChunkQueue(
    100,
    () => {},
    () => {},
  );
  const it2 = failing[Symbol.asyncIterator]();
  const waiting = it2.next();
  failing.fail(new Error('broke off'));
  await assert.rejects(waiting, /broke off/);
});
