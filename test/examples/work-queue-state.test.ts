/**
 * The work queue's state machine without raft: commands, determinism, retries, snapshots.
 *
 * Why separate from the cluster test: these properties (same commands → same state and results,
 * a snapshot restores exactly that state, corrupt snapshots are refused) are cheap to check
 * exhaustively here; the cluster test then only has to show the node wiring.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type QueueCommand, decodeCommand, encodeCommand } from '../../examples/work-queue/commands.ts';
import { QueueMachine } from '../../examples/work-queue/machine.ts';
import { REMEMBERED_REQUESTS, WorkQueue } from '../../examples/work-queue/queue.ts';
import { readQueueSnapshot, writeQueueSnapshot } from '../../examples/work-queue/snapshot.ts';

async function bytesOf(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

/** Feed `bytes` in pieces of `size` (restore must not depend on where the writer split). */
async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

test('enqueue, claim, ack, release: FIFO and one claimant per item', () => {
  const q = new WorkQueue();
  assert.deepEqual(q.apply({ op: 'enqueue', requestId: 'r1', payload: 'a' }), { op: 'enqueue', id: 1, duplicate: false });
  assert.deepEqual(q.apply({ op: 'enqueue', requestId: 'r2', payload: 'b' }), { op: 'enqueue', id: 2, duplicate: false });
  assert.deepEqual(q.apply({ op: 'claim', claimId: 'c1' }), { op: 'claim', item: { id: 1, payload: 'a' }, duplicate: false });
  assert.deepEqual(q.apply({ op: 'claim', claimId: 'c2' }), { op: 'claim', item: { id: 2, payload: 'b' }, duplicate: false });
  assert.deepEqual(q.apply({ op: 'claim', claimId: 'c3' }), { op: 'claim', item: null, duplicate: false });
  assert.deepEqual(q.apply({ op: 'ack', id: 1, claimId: 'c2' }), { op: 'ack', outcome: 'not-yours' });
  assert.deepEqual(q.apply({ op: 'ack', id: 1, claimId: 'c1' }), { op: 'ack', outcome: 'done' });
  assert.deepEqual(q.apply({ op: 'ack', id: 1, claimId: 'c1' }), { op: 'ack', outcome: 'gone' });
  assert.deepEqual(q.apply({ op: 'release', id: 2, claimId: 'c2' }), { op: 'release', outcome: 'done' });
  assert.deepEqual(q.stats(), { ready: 1, claimed: 0, nextId: 3 });
  assert.deepEqual(q.apply({ op: 'claim', claimId: 'c4' }), { op: 'claim', item: { id: 2, payload: 'b' }, duplicate: false });
});

test('retries with the same requestId / claimId return the first outcome', () => {
  const q = new WorkQueue();
  q.apply({ op: 'enqueue', requestId: 'r1', payload: 'a' });
  assert.deepEqual(q.apply({ op: 'enqueue', requestId: 'r1', payload: 'a' }), { op: 'enqueue', id: 1, duplicate: true });
  assert.equal(q.stats().ready, 1);
  q.apply({ op: 'enqueue', requestId: 'r2', payload: 'b' });
  assert.deepEqual(q.apply({ op: 'claim', claimId: 'c1' }).op, 'claim');
  assert.deepEqual(q.apply({ op: 'claim', claimId: 'c1' }), { op: 'claim', item: { id: 1, payload: 'a' }, duplicate: true });
  assert.equal(q.stats().ready, 1, 'the retry claimed nothing new');
  q.apply({ op: 'ack', id: 1, claimId: 'c1' });
  assert.deepEqual(q.apply({ op: 'claim', claimId: 'c1' }), { op: 'claim', item: null, duplicate: true });
});

test('the retry window is bounded and forgets the oldest first', () => {
  const q = new WorkQueue();
  for (let i = 0; i <= REMEMBERED_REQUESTS; i++) q.apply({ op: 'enqueue', requestId: `r${i}`, payload: '' });
  assert.equal(q.image().requests.length, REMEMBERED_REQUESTS);
  assert.equal(q.apply({ op: 'enqueue', requestId: `r${REMEMBERED_REQUESTS}`, payload: '' }).op, 'enqueue');
  const again = q.apply({ op: 'enqueue', requestId: 'r0', payload: '' });
  assert.deepEqual(again, { op: 'enqueue', id: REMEMBERED_REQUESTS + 2, duplicate: false });
});

test('commands are validated; apply answers a malformed entry without throwing or changing state', () => {
  assert.throws(() => decodeCommand(new TextEncoder().encode('{"op":"claim"}')), /claimId must be a string/);
  assert.throws(() => decodeCommand(new TextEncoder().encode('{"op":"ack","id":0,"claimId":"c"}')), /positive whole number/);
  assert.throws(() => decodeCommand(Uint8Array.of(0xff)), /not UTF-8 JSON/);
  const sm = new QueueMachine();
  assert.equal(sm.apply(Uint8Array.of(1, 2, 3), 5).op, 'rejected');
  assert.deepEqual(sm.queue.stats(), { ready: 0, claimed: 0, nextId: 1 });
  assert.throws(() => sm.validate(new TextEncoder().encode('{"op":"drop"}')), { code: 'GRAFTD_INVALID_BODY' });
});

/** A deterministic mixed workload. */
function workload(n: number): QueueCommand[] {
  const cmds: QueueCommand[] = [];
  for (let i = 0; i < n; i++) {
    cmds.push({ op: 'enqueue', requestId: `r${i}`, payload: `job ${i} "quoted" \n ünïcode` });
    if (i % 3 === 0) cmds.push({ op: 'claim', claimId: `c${i}` });
    if (i % 6 === 0) cmds.push({ op: 'ack', id: i / 2 + 1, claimId: `c${i}` });
    if (i % 9 === 3) cmds.push({ op: 'release', id: Math.floor(i / 3) + 1, claimId: `c${i}` });
  }
  return cmds;
}

test('a snapshot restores the exact state, in any chunking, and apply continues identically', async () => {
  const a = new QueueMachine();
  const cmds = workload(3000);
  for (const [i, c] of cmds.entries()) a.apply(encodeCommand(c), i + 1);
  const bytes = await bytesOf(a.snapshot());
  // Later applies must not change a snapshot already taken.
  a.apply(encodeCommand({ op: 'enqueue', requestId: 'late', payload: 'x' }), cmds.length + 1);
  for (const size of [2, 7, 4096, bytes.length]) {
    const b = new QueueMachine();
    const prepared = await b.restore(pieces(bytes, size));
    assert.equal(b.queue.stats().nextId, 1, 'restore() does not touch the live state');
    prepared.install();
    b.apply(encodeCommand({ op: 'enqueue', requestId: 'late', payload: 'x' }), cmds.length + 1);
    assert.deepEqual(b.queue.image(), a.queue.image(), `chunk size ${size}`);
  }
  const c1 = { op: 'claim', claimId: 'after' } as const;
  const b = new QueueMachine();
  (await b.restore(pieces(await bytesOf(a.snapshot()), 999))).install();
  assert.deepEqual(b.apply(encodeCommand(c1), 1), a.apply(encodeCommand(c1), 1));
});

test('a truncated, altered or foreign snapshot is refused with GRAFTD_CORRUPT', async () => {
  const a = new QueueMachine();
  for (const [i, c] of workload(50).entries()) a.apply(encodeCommand(c), i + 1);
  const bytes = await bytesOf(a.snapshot());
  const sm = new QueueMachine();
  for (const cut of [0, 1, 20, Math.floor(bytes.length / 2), bytes.length - 1]) {
    await assert.rejects(sm.restore(pieces(bytes.subarray(0, cut), 64)), { code: 'GRAFTD_CORRUPT' }, `cut at ${cut}`);
  }
  const text = Buffer.from(bytes).toString('utf8');
  await assert.rejects(sm.restore(pieces(Buffer.from(text.replace('["r",', '["r",9999,'), 'utf8'), 64)), { code: 'GRAFTD_CORRUPT' });
  await assert.rejects(sm.restore(pieces(Buffer.from('GRAFTDKV\n'), 64)), { code: 'GRAFTD_CORRUPT' });
  await assert.rejects(readQueueSnapshot(pieces(Buffer.concat([bytes, Buffer.from('["r",1]\n')]), 64)), /after the end line/);
  assert.deepEqual(sm.queue.stats(), { ready: 0, claimed: 0, nextId: 1 });
});

test('an empty queue round-trips', async () => {
  const restored = await readQueueSnapshot(writeQueueSnapshot(new WorkQueue()));
  assert.deepEqual(restored.image(), new WorkQueue().image());
});
