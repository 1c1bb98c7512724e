import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setImmediate as tick } from 'node:timers/promises';
import type { Message } from '../../src/raft/types.ts';
import { link, msg, node, until } from './helpers.ts';

const META = { index: 500, term: 3, confState: { voters: ['a', 'b'], learners: [], context: { a: 'ctx-a' } } };

/** Yield `data` in pieces of varying size: some far larger than the transport's chunk size, some tiny. */
async function* pieces(data: Buffer, produced: { bytes: number }): AsyncGenerator<Uint8Array> {
  const sizes = [300_000, 1, 17, 65_536, 1_000_000, 4096];
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    const piece = data.subarray(off, off + n);
    off += piece.length;
    produced.bytes += piece.length;
    yield piece;
  }
}

test('a multi-MB snapshot streams in chunks with flow control, arrives intact, and done(true) fires once after install', async () => {
  const data = randomBytes(8 * 1024 * 1024);
  const expected = createHash('sha256').update(data).digest('hex');
  let installed = '';
  let chunkCount = 0;
  let maxChunk = 0;
  let maxLagBytes = 0;
  let got: Message | null = null;
  const produced = { bytes: 0 };
  let consumed = 0;
  const b = node('b', '127.0.0.22:17201', {
    snapshotBufferBytes: 256 * 1024,
    onSnapshot: async (m, stream) => {
      got = m;
      const hash = createHash('sha256');
      for await (const chunk of stream) {
        hash.update(chunk);
        chunkCount++;
        maxChunk = Math.max(maxChunk, chunk.length);
        consumed += chunk.length;
        maxLagBytes = Math.max(maxLagBytes, produced.bytes - consumed);
        if (chunkCount % 8 === 0) await new Promise((r) => setTimeout(r, 1)); // a slow consumer
      }
      await tick();
      installed = hash.digest('hex');
    },
  });
  const a = node('a', '127.0.0.21:17202', { snapshotChunkBytes: 32 * 1024 });
  try {
    await b.t.start();
    await a.t.start();
    link(a, b);
    const results: boolean[] = [];
    const snap = msg('a', 'b', 'snap', { term: 3, snapshot: META });
    a.t.sendSnapshot(
      snap,
      () => pieces(data, produced),
      (ok) => results.push(ok),
    );
    // A second concurrent transfer to the same peer is refused at once.
    const second: boolean[] = [];
    a.t.sendSnapshot(
      snap,
      () => pieces(data, { bytes: 0 }),
      (ok) => second.push(ok),
    );
    await until(() => results.length > 0, 'snapshot done', 15_000);
    assert.deepEqual(results, [true]);
    assert.deepEqual(second, [false]);
    assert.equal(installed, expected, 'sha256 of the received bytes');
    assert.deepEqual(got, snap);
    assert.ok(maxChunk <= 32 * 1024, `chunks are at most snapshotChunkBytes, saw ${maxChunk}`);
    assert.ok(chunkCount >= (8 * 1024 * 1024) / (32 * 1024), `${chunkCount} chunks`);
    console.log(
      `snapshot: ${chunkCount} chunks; producer ran at most ${(maxLagBytes / 1024 / 1024).toFixed(1)} MiB ahead of the consumer (socket buffers included)`,
    );
    // Message links are unaffected.
    a.t.send([msg('a', 'b', 'heartbeat')]);
    await until(() => b.received.length === 1, 'heartbeat after snapshot');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(results, [true], 'done called exactly once');
  } finally {
    await a.t.close();
    await b.t.close();
  }
});

test('a failing onSnapshot gives done(false); so does a receiver that is down, and a source that throws', async () => {
  let calls = 0;
  const b = node('b', '127.0.0.22:17211', {
    onSnapshot: async (_m, stream) => {
      calls++;
      let n = 0;
      for await (const chunk of stream) {
        n += chunk.length;
        if (n > 100_000) throw new Error('disk full');
      }
    },
  });
  const a = node('a', '127.0.0.21:17212');
  try {
    await b.t.start();
    link(a, b);
    a.t.setPeer('c', '127.0.0.23:17213'); // nobody there
    const snap = (to: string) => msg('a', to, 'snap', { snapshot: META });
    const r1: boolean[] = [];
    a.t.sendSnapshot(
      snap('b'),
      () => pieces(randomBytes(2 * 1024 * 1024), { bytes: 0 }),
      (ok) => r1.push(ok),
    );
    const r2: boolean[] = [];
    a.t.sendSnapshot(
      snap('c'),
      () => pieces(Buffer.alloc(10), { bytes: 0 }),
      (ok) => r2.push(ok),
    );
    await until(() => r1.length > 0 && r2.length > 0, 'both done');
    assert.deepEqual(r1, [false]);
    assert.deepEqual(r2, [false]);
    assert.equal(calls, 1);
    assert.ok(
      a.log.records.some((r) => r.level === 'warn' && /disk full/.test((r.obj as { reason?: string }).reason ?? '')),
      'the reason reaches the sender log',
    );

    const r3: boolean[] = [];
    a.t.sendSnapshot(
      snap('b'),
      async function* () {
        yield new Uint8Array(1000);
        throw new Error('snapshot file vanished');
      },
      (ok) => r3.push(ok),
    );
    await until(() => r3.length > 0, 'done after source error');
    assert.deepEqual(r3, [false]);
    // onSnapshot saw a broken stream (the sender closed without an end frame).
    await until(() => b.log.records.some((r) => /broke off/.test(r.msg)), 'receiver notices the broken stream');

    // Unknown peer and a transport closing mid-transfer.
    const r4: boolean[] = [];
    a.t.sendSnapshot(
      snap('nobody'),
      () => pieces(Buffer.alloc(10), { bytes: 0 }),
      (ok) => r4.push(ok),
    );
    await until(() => r4.length > 0, 'unknown peer');
    assert.deepEqual(r4, [false]);
    const r5: boolean[] = [];
    a.t.sendSnapshot(
      snap('b'),
      async function* () {
        for (;;) {
          yield new Uint8Array(64 * 1024);
          await new Promise((r) => setTimeout(r, 5));
        }
      },
      (ok) => r5.push(ok),
    );
    await new Promise((r) => setTimeout(r, 100));
    await a.t.close();
    await until(() => r5.length > 0, 'done on close');
    assert.deepEqual(r5, [false]);
  } finally {
    await a.t.close();
    await b.t.close();
  }
});

test('a consumer that resolves without reading (it already has that state) still acknowledges ok', async () => {
  const b = node('b', '127.0.0.22:17221', { onSnapshot: async () => {} });
  const a = node('a', '127.0.0.21:17222');
  try {
    await b.t.start();
    link(a, b);
    const results: boolean[] = [];
    a.t.sendSnapshot(
      msg('a', 'b', 'snap', { snapshot: META }),
      () => pieces(randomBytes(4 * 1024 * 1024), { bytes: 0 }),
      (ok) => results.push(ok),
    );
    await until(() => results.length > 0, 'done');
    assert.deepEqual(results, [true]);
  } finally {
    await a.t.close();
    await b.t.close();
  }
});
