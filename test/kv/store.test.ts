import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { GraftdError } from '../../src/errors.ts';
import { KvStore, decodeCommand, encodeCommand } from '../../src/kv/index.ts';

test('set, get, delete and the empty no-op entry', () => {
  const kv = new KvStore();
  kv.apply(encodeCommand({ op: 'set', pairs: { a: '1', b: '2' } }));
  assert.equal(kv.get('a'), '1');
  assert.equal(kv.get('b'), '2');
  assert.equal(kv.size, 2);
  kv.apply(new Uint8Array(0));
  assert.equal(kv.size, 2);
  kv.apply(encodeCommand({ op: 'set', pairs: { a: 'x' } }));
  assert.equal(kv.get('a'), 'x');
  kv.apply(encodeCommand({ op: 'del', keys: ['a', 'missing'] }));
  assert.equal(kv.get('a'), undefined);
  assert.deepEqual([...kv.keys()], ['b']);
  assert.deepEqual([...kv.entries()], [['b', '2']]);
  kv.clear();
  assert.equal(kv.size, 0);
});

test('commands round-trip through encode/decode, including unicode and empty strings', () => {
  const set = { op: 'set', pairs: { '': 'empty key', ключ: 'значение 🚀', x: '' } } as const;
  const decodedSet = decodeCommand(encodeCommand(set));
  assert.equal(decodedSet.op, 'set');
  assert.ok(decodedSet.op === 'set');
  assert.deepEqual({ ...decodedSet.pairs }, set.pairs);
  // A key named __proto__ is data, not a prototype.
  const proto = decodeCommand(encodeCommand({ op: 'set', pairs: JSON.parse('{"__proto__":"p"}') }));
  assert.ok(proto.op === 'set');
  assert.equal(Object.keys(proto.pairs).length, 1);
  assert.equal(Object.getOwnPropertyDescriptor(proto.pairs, '__proto__')?.value, 'p');
  assert.deepEqual(decodeCommand(encodeCommand({ op: 'del', keys: ['a', 'b'] })), { op: 'del', keys: ['a', 'b'] });
});

test('a malformed command is rejected with GRAFTD_CORRUPT and applies nothing (atomic multi-set)', () => {
  const kv = new KvStore();
  kv.apply(encodeCommand({ op: 'set', pairs: { keep: 'v' } }));
  const packr = new Packr({ useRecords: false });
  const garbage: Uint8Array[] = [
    new Uint8Array([0xc1]),
    new Uint8Array([1, 2, 3]),
    packr.pack({ op: 'set', pairs: { a: 'b' } }),
    packr.pack([1, ['a', 'b', 'c']]), // odd number of items
    packr.pack([1, ['a', 'b', 'c', 5]]), // non-string value after valid pairs
    packr.pack([3, ['a']]),
    packr.pack([2, 'a']),
    packr.pack('hello'),
  ];
  for (const data of garbage) {
    assert.throws(
      () => kv.apply(data),
      (err: unknown) => err instanceof GraftdError && err.code === 'GRAFTD_CORRUPT',
    );
  }
  assert.deepEqual([...kv.entries()], [['keep', 'v']]);
  // All pairs of one set land together.
  kv.apply(encodeCommand({ op: 'set', pairs: { p: '1', q: '2', r: '3' } }));
  assert.deepEqual(
    [...kv.entries()],
    [
      ['keep', 'v'],
      ['p', '1'],
      ['q', '2'],
      ['r', '3'],
    ],
  );
});

test('encodeCommand rejects non-string values', () => {
  assert.throws(
    () => encodeCommand({ op: 'set', pairs: { a: 1 as unknown as string } }),
    (err: unknown) => err instanceof GraftdError && err.code === 'GRAFTD_INVALID_BODY',
  );
});
