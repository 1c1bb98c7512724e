import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GraftdError } from '../../src/errors.ts';
import { KvStore, encodeCommand, restoreSnapshot, writeSnapshot, writeSnapshotEntries } from '../../src/kv/index.ts';

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of source) parts.push(c);
  return Buffer.concat(parts);
}

/** Re-chunk bytes into pieces of pseudo-random sizes in [1, maxPiece]. */
async function* rechunk(bytes: Uint8Array, seed: number, maxPiece: number): AsyncGenerator<Uint8Array> {
  let s = seed >>> 0 || 1;
  let off = 0;
  while (off < bytes.length) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const n = 1 + ((s >>> 0) % maxPiece);
    yield bytes.subarray(off, off + n);
    off += n;
  }
}

function storeOf(entries: Iterable<[string, string]>): KvStore {
  const kv = new KvStore();
  const pairs: Record<string, string> = Object.create(null);
  for (const [k, v] of entries) pairs[k] = v;
  kv.apply(encodeCommand({ op: 'set', pairs }));
  return kv;
}

async function rejects(source: AsyncIterable<Uint8Array>, pattern: RegExp): Promise<void> {
  await assert.rejects(restoreSnapshot(source), (err: unknown) => {
    assert.ok(err instanceof GraftdError, `expected GraftdError, got ${String(err)}`);
    assert.equal(err.code, 'GRAFTD_CORRUPT');
    assert.match(err.message, pattern);
    return true;
  });
}

test('a 200k-key snapshot round-trips through chunks of random sizes', async () => {
  const kv = new KvStore();
  const pairs: Record<string, string> = {};
  for (let i = 0; i < 200_000; i++) pairs[`key-${i}`] = `value-${i * 7919}-${'x'.repeat(i % 13)}`;
  kv.apply(encodeCommand({ op: 'set', pairs }));
  const chunks: Uint8Array[] = [];
  for await (const c of writeSnapshot(kv)) chunks.push(c);
  assert.ok(chunks.length > 10, `expected many chunks, got ${chunks.length}`);
  for (const c of chunks.slice(0, -1)) assert.equal(c.length, 64 * 1024);
  const bytes = Buffer.concat(chunks);
  const restored = await restoreSnapshot(rechunk(bytes, 42, 100_000));
  assert.equal(restored.size, 200_000);
  for (let i = 0; i < 200_000; i += 997) assert.equal(restored.get(`key-${i}`), pairs[`key-${i}`]);
  assert.deepEqual([...restored.entries()], [...kv.entries()]);
});

test('the snapshot is a point-in-time copy taken when writeSnapshot is called', async () => {
  const kv = storeOf([['a', '1']]);
  const stream = writeSnapshot(kv);
  kv.apply(encodeCommand({ op: 'set', pairs: { b: '2' } }));
  kv.apply(encodeCommand({ op: 'del', keys: ['a'] }));
  const restored = await restoreSnapshot(stream);
  assert.deepEqual([...restored.entries()], [['a', '1']]);
  // Installing it into the live store replaces the contents.
  kv.replaceWith(restored);
  assert.deepEqual([...kv.entries()], [['a', '1']]);
  assert.equal(restored.size, 0);
});

test('values larger than a chunk and an empty store round-trip', async () => {
  const big = 'é'.repeat(100_000);
  const kv = storeOf([
    ['big', big],
    ['k'.repeat(70_000), 'small'],
  ]);
  const restored = await restoreSnapshot(writeSnapshot(kv, { chunkBytes: 1024 }));
  assert.equal(restored.get('big'), big);
  assert.equal(restored.get('k'.repeat(70_000)), 'small');
  const empty = await restoreSnapshot(writeSnapshot(new KvStore()));
  assert.equal(empty.size, 0);
});

test('truncated, corrupted, padded and foreign streams are rejected with a clear coded error', async () => {
  const kv = storeOf(Array.from({ length: 1000 }, (_, i) => [`k${i}`, `v${i}`] as [string, string]));
  const bytes = await collect(writeSnapshot(kv, { chunkBytes: 256 }));
  // Truncation at many offsets, including inside the header and right before the trailer.
  for (const cut of [0, 5, 19, 20, 100, bytes.length >> 1, bytes.length - 5, bytes.length - 1]) {
    await rejects(rechunk(bytes.subarray(0, cut), cut + 1, 300), cut < 20 ? /truncated in the header/ : /truncated/);
  }
  // A flipped bit in a value is caught by the checksum.
  const flipped = Buffer.from(bytes);
  flipped[bytes.length >> 1]! ^= 0x04;
  await rejects(rechunk(flipped, 7, 500), /checksum mismatch|length|duplicate|out-of-order|not a non-negative integer|inconsistent/);
  // A flipped bit in the trailer.
  const badTrailer = Buffer.from(bytes);
  badTrailer[bytes.length - 1]! ^= 0x01;
  await rejects(rechunk(badTrailer, 3, 500), /checksum mismatch/);
  // Extra bytes after the trailer.
  await rejects(rechunk(Buffer.concat([bytes, Buffer.from([0])]), 9, 500), /after the checksum trailer/);
  // Wrong magic and wrong version.
  const badMagic = Buffer.from(bytes);
  badMagic[0] = 0x58;
  await rejects(rechunk(badMagic, 1, 64), /bad magic/);
  const badVersion = Buffer.from(bytes);
  badVersion.writeUInt32BE(99, 8);
  await rejects(rechunk(badVersion, 1, 64), /unsupported snapshot version 99/);
  // A huge length field is refused instead of buffered.
  const hugeLen = Buffer.from(bytes);
  hugeLen.writeUInt32BE(0xfffffff0, 40); // the first record's key length (after the 40-byte v2 header)
  await rejects(rechunk(hugeLen, 1, 64), /exceeds the limit/);
});

test('duplicate keys in a stream are rejected', async () => {
  await rejects(
    writeSnapshotEntries([
      ['a', '1'],
      ['a', '2'],
    ]),
    /duplicate key "a"/,
  );
});

test('property: restore(write(s)) equals s, for any chunking', async () => {
  const str = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary-ascii', maxLength: 40 }));
  await fc.assert(
    fc.asyncProperty(
      fc.dictionary(str, str, { maxKeys: 60 }),
      fc.integer({ min: 16, max: 300 }),
      fc.integer({ min: 1, max: 2 ** 31 }),
      async (dict, chunkBytes, seed) => {
        const kv = storeOf(Object.entries(dict));
        const bytes = await collect(writeSnapshot(kv, { chunkBytes }));
        const restored = await restoreSnapshot(rechunk(bytes, seed, 97));
        assert.deepEqual([...restored.entries()], [...kv.entries()]);
      },
    ),
    { numRuns: 200 },
  );
});
