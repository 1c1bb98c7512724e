/**
 * fast-check fuzzing of everything the raft port decodes from the network: the frame decoder
 * and the message and handshake codecs. Random bytes may only ever raise GraftdError, and the
 * decoder never holds more than its budget.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { GraftdError } from '../../src/errors.ts';
import {
  decodeChallenge,
  decodeFwd,
  decodeFwdResp,
  decodeHello,
  decodeHelloAck,
  decodeMessage,
  decodeSnapResult,
  encodeMessage,
} from '../../src/transport/codec.ts';
import { FrameDecoder, type FrameKind, decoderBufferedBytes, encodeFrame } from '../../src/transport/frame.ts';
import { entries, msg } from './helpers.ts';

const DECODERS = [decodeMessage, decodeHello, decodeHelloAck, decodeChallenge, decodeFwd, decodeFwdResp, decodeSnapResult];

function onlyGraftdErrors(f: () => void): void {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof GraftdError, `threw ${String(err)}`);
    assert.equal(err.code, 'GRAFTD_CORRUPT');
  }
}

test('codec decoders: random bytes and mutated valid messages only ever throw GRAFTD_CORRUPT', () => {
  const valid = Buffer.from(encodeMessage(msg('a', 'b', 'app', { entries: entries(1, 3, 8), term: 4 })));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      for (const decode of DECODERS) onlyGraftdErrors(() => decode(bytes));
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (flips) => {
      const bytes = Buffer.from(valid);
      for (const [at, value] of flips) bytes[at] = value;
      for (const decode of DECODERS) onlyGraftdErrors(() => decode(bytes));
    }),
    { numRuns: 3000 },
  );
  // Arbitrary msgpack values, including arrays of exactly the lengths the decoders expect (the shape is right, the fields are not).
  const packr = new Packr({ useRecords: false });
  const value = fc.oneof(
    fc.anything({ maxDepth: 3, withMap: true, withTypedArray: true }),
    ...[2, 5, 7, 12].map((n) => fc.array(fc.anything({ maxDepth: 2, withTypedArray: true }), { minLength: n, maxLength: n })),
  );
  fc.assert(
    fc.property(value, (v) => {
      let bytes: Uint8Array;
      try {
        bytes = packr.pack(v);
      } catch {
        return;
      }
      for (const decode of DECODERS) onlyGraftdErrors(() => decode(bytes));
    }),
    { numRuns: 3000 },
  );
});

test('frame decoder: random streams in random pieces only throw GRAFTD_CORRUPT and never buffer more than the budget', () => {
  const budget = 2048;
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 20 }), fc.integer({ min: 1, max: 4096 }), (pieces, maxFrame) => {
      const before = decoderBufferedBytes();
      const d = new FrameDecoder(maxFrame, () => {}, budget);
      try {
        for (const p of pieces) {
          d.push(Buffer.from(p));
          assert.ok(d.bufferedBytes() <= budget, `${d.bufferedBytes()} > ${budget}`);
        }
      } catch (err) {
        assert.ok(err instanceof GraftdError && err.code === 'GRAFTD_CORRUPT', String(err));
      }
      d.stop();
      assert.equal(decoderBufferedBytes(), before);
    }),
    { numRuns: 3000 },
  );
});

test('frame decoder: valid frames cut at random points come out whole and in order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.uint8Array({ maxLength: 700 })), { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 30 }),
      (frames, cuts) => {
        const stream = Buffer.concat(frames.map(([k, p]) => encodeFrame(k as FrameKind, p)));
        const got: [number, string][] = [];
        const d = new FrameDecoder(1024, (kind, payload) => got.push([kind, payload.toString('hex')]));
        let off = 0;
        for (let i = 0; off < stream.length; i++) {
          const n = cuts[i % cuts.length]!;
          d.push(stream.subarray(off, off + n));
          off += n;
        }
        assert.deepEqual(
          got,
          frames.map(([k, p]) => [k, Buffer.from(p).toString('hex')]),
        );
        assert.equal(d.bufferedBytes(), 0);
      },
    ),
    { numRuns: 1000 },
  );
});

test('decoder regressions found by fuzzing: a map with a "toString" key, a non-numeric type code', () => {
  const packr = new Packr({ useRecords: false });
  onlyGraftdErrors(() => decodeFwd(packr.pack([{ toString: 0 }, null])));
  const good = [0, 'a', 'b', 1, 0, 0, [], 0, false, 0, '', null];
  assert.throws(() => decodeMessage(packr.pack(['length', ...good.slice(1)])), /unknown message type code "length"/);
});
