import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { GraftdError } from '../../src/errors.ts';
import type { Message } from '../../src/raft/types.ts';
import { decodeMessage, encodeMessage, parseHostPort } from '../../src/transport/index.ts';
import { MESSAGE_TYPES } from '../../src/transport/codec.ts';
import { FrameDecoder, FrameKind, encodeFrame } from '../../src/transport/frame.ts';
import { entries, msg } from './helpers.ts';

test('every message type and field round-trips, including snapshot meta and empty entry data', () => {
  const types = MESSAGE_TYPES;
  for (const type of types) {
    const m: Message = msg('n1', 'n2', type, {
      term: 5,
      logTerm: 4,
      index: 2 ** 45,
      commit: 3,
      reject: type.endsWith('Resp'),
      rejectHint: 9,
      context: 'transfer',
      entries: [...entries(1, 5, 10), { index: 6, term: 5, type: 'normal', data: new Uint8Array(0) }],
      snapshot:
        type === 'snap'
          ? {
              index: 100,
              term: 4,
              confState: { voters: ['n1', 'n2'], learners: ['n3'], context: { n1: '{"raftAddr":"127.0.0.1:1"}', n3: '' } },
            }
          : null,
    });
    assert.deepEqual(decodeMessage(Buffer.from(encodeMessage(m))), m);
  }
});

test('malformed messages are rejected with GRAFTD_CORRUPT', () => {
  const packr = new Packr({ useRecords: false });
  const good = [0, 'a', 'b', 1, 0, 0, [], 0, false, 0, '', null];
  const bad: unknown[] = [
    [...good.slice(0, 11)],
    [99, ...good.slice(1)],
    Object.assign([...good], { 1: 5 }),
    Object.assign([...good], { 3: -1 }),
    Object.assign([...good], { 3: 1.5 }),
    Object.assign([...good], { 6: [1, 1, 0] }),
    Object.assign([...good], { 6: [1, 1, 2, new Uint8Array(1)] }),
    Object.assign([...good], { 6: [1, 1, 0, 'not bytes'] }),
    Object.assign([...good], { 8: 0 }),
    Object.assign([...good], { 11: [1, 1, [], [], 'x'] }),
    { type: 'app' },
  ];
  for (const value of bad) {
    assert.throws(
      () => decodeMessage(packr.pack(value)),
      (err: unknown) => err instanceof GraftdError && err.code === 'GRAFTD_CORRUPT',
      JSON.stringify(value),
    );
  }
  assert.throws(() => decodeMessage(Buffer.from([0x93, 1])), /malformed peer message: not valid msgpack/);
});

test('the frame decoder reassembles frames split at every byte and refuses oversized ones', () => {
  const frames = [
    encodeFrame(FrameKind.message, Buffer.alloc(300, 7)),
    encodeFrame(FrameKind.ping),
    encodeFrame(FrameKind.snapChunk, Buffer.from('hello')),
  ];
  const stream = Buffer.concat(frames);
  for (let split = 1; split < stream.length; split += 7) {
    const got: [number, string][] = [];
    const d = new FrameDecoder(1000, (kind, payload) => got.push([kind, payload.toString('hex')]));
    for (let off = 0; off < stream.length; off += split) d.push(stream.subarray(off, off + split));
    assert.deepEqual(got, [
      [FrameKind.message, Buffer.alloc(300, 7).toString('hex')],
      [FrameKind.ping, ''],
      [FrameKind.snapChunk, Buffer.from('hello').toString('hex')],
    ]);
  }
  const d = new FrameDecoder(100, () => {});
  assert.throws(() => d.push(encodeFrame(FrameKind.message, Buffer.alloc(100))), /frame of 101 bytes refused/);
  assert.throws(() => new FrameDecoder(100, () => {}).push(Buffer.from([0, 0, 0, 0, 1])), /frame of 0 bytes refused/);
});

test('host:port parsing', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:12000', 'x'), { host: '127.0.0.1', port: 12000 });
  assert.deepEqual(parseHostPort('[::1]:5', 'x'), { host: '::1', port: 5 });
  assert.deepEqual(parseHostPort('node-1.local:0', 'x'), { host: 'node-1.local', port: 0 });
  for (const bad of ['', ':12', '127.0.0.1', '127.0.0.1:', '127.0.0.1:x', 'h:70000', '::1:5', ' :1']) {
    assert.throws(
      () => parseHostPort(bad, 'raft address'),
      (err: unknown) => err instanceof GraftdError && err.code === 'GRAFTD_BAD_CONFIG',
      bad,
    );
  }
});

test('forwarded answers: ok, ok with a read index, and coded errors round-trip', async () => {
  const { decodeFwdResp, encodeFwdResp } = await import('../../src/transport/codec.ts');
  assert.deepEqual(decodeFwdResp(encodeFwdResp(7, { ok: true })), { reqId: 7, result: { ok: true } });
  assert.deepEqual(decodeFwdResp(encodeFwdResp(8, { ok: true, index: 12345 })), { reqId: 8, result: { ok: true, index: 12345 } });
  const err = { ok: false as const, code: 'GRAFTD_NO_LEADER', message: 'm', httpStatus: 503, leader: 'x' };
  assert.deepEqual(decodeFwdResp(encodeFwdResp(9, err)), { reqId: 9, result: err });
});
