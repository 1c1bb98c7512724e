import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraftdError } from '../../src/errors.ts';
import { decodeFwd, decodeFwdResp, encodeFwd, encodeFwdResp } from '../../src/transport/codec.ts';
import { FwdCalls } from '../../src/transport/fwd-calls.ts';
import type { ForwardResult } from '../../src/transport/index.ts';
import { link, node, until } from './helpers.ts';
import { rejection } from '../helpers/rejection.ts';

test('fwd and fwdResp frames round-trip; malformed ones are refused', () => {
  const data = new Uint8Array([1, 2, 3, 250]);
  assert.deepEqual(decodeFwd(encodeFwd(77, data)), { reqId: 77, data });
  assert.deepEqual(decodeFwdResp(encodeFwdResp(5, { ok: true })), { reqId: 5, result: { ok: true } });
  const err: ForwardResult = { ok: false, code: 'GRAFTD_NOT_LEADER', message: 'm', httpStatus: 503, leader: 'n2' };
  assert.deepEqual(decodeFwdResp(encodeFwdResp(2 ** 40, err)), { reqId: 2 ** 40, result: err });
  assert.throws(() => decodeFwd(encodeFwd(-1, data)), /GRAFTD_CORRUPT|non-negative/);
  assert.throws(() => decodeFwd(new Uint8Array([0x92, 0x01, 0xa1, 0x61])), /forwarded write/);
  assert.throws(() => decodeFwdResp(new Uint8Array([0x93, 0x01, 0xa1, 0x61, 0x01])), /forwarded write answer/);
});

test('FwdCalls: unsent → 503 not sent, written → 504 unknown, bounded, answers by request id', async () => {
  const calls = new FwdCalls('leader', 2, 60_000);
  const a = calls.start(new Uint8Array([1]));
  const b = calls.start(new Uint8Array([2]));
  assert.equal(await rejection(calls.start(new Uint8Array([3]))), '503 GRAFTD_PROPOSAL_DROPPED');
  const frames = calls.takeUnsent();
  assert.equal(frames.length, 2);
  // Answered out of order, by id (ids are 1 and 2 in start order).
  calls.answer(2, { ok: false, code: 'GRAFTD_PROPOSAL_DROPPED', message: 'x', httpStatus: 503, leader: '' });
  calls.answer(1, { ok: true });
  assert.deepEqual(await a, { ok: true });
  assert.equal(((await b) as { code: string }).code, 'GRAFTD_PROPOSAL_DROPPED');
  calls.answer(1, { ok: true }); // a late duplicate is ignored
  const written = calls.start(new Uint8Array([4]));
  assert.equal(calls.takeUnsent().length, 1);
  const unsent = calls.start(new Uint8Array([5]));
  calls.failAll('test');
  assert.equal(await rejection(written), '504 GRAFTD_TIMEOUT');
  assert.equal(await rejection(unsent), '503 GRAFTD_NO_LEADER');
  assert.equal(calls.size, 0);
  assert.equal(calls.takeUnsent().length, 0);
});

test('FwdCalls: the timeout fails an unsent call as not sent and a written one as unknown', async () => {
  const calls = new FwdCalls('leader', 8, 30);
  const sent = calls.start(new Uint8Array([1]));
  calls.takeUnsent();
  const unsent = calls.start(new Uint8Array([2]));
  assert.equal(await rejection(sent), '504 GRAFTD_TIMEOUT');
  assert.equal(await rejection(unsent), '503 GRAFTD_NO_LEADER');
  assert.equal(calls.takeUnsent().length, 0, 'an expired call is never written');
});

test('a follower forwards writes to the leader over the peer connection and gets its answers', async () => {
  const seen: string[] = [];
  let release: (() => void) | undefined;
  const a = node('a', '127.0.0.81:21101');
  const b = node('b', '127.0.0.82:21102', {
    onForward: async (from, data) => {
      seen.push(`${from}:${data[0]}`);
      if (data[0] === 1) return { ok: true };
      if (data[0] === 2) return { ok: false, code: 'GRAFTD_NOT_LEADER', message: 'stepped down', httpStatus: 503, leader: 'c' };
      if (data[0] === 3) throw new GraftdError('GRAFTD_PROPOSAL_DROPPED', 'proposal dropped: full');
      await new Promise<void>((r) => {
        release = r;
      });
      return { ok: true };
    },
  });
  try {
    await Promise.all([a.t.start(), b.t.start()]);
    a.t.setPeer('b', b.addr);
    b.t.setPeer('a', a.addr);
    await until(() => a.t.peers().b?.connected === true, 'a connected to b');
    const slow = a.t.forward!('b', new Uint8Array([4]));
    const [ok, notLeader, dropped] = await Promise.all([
      a.t.forward!('b', new Uint8Array([1])),
      a.t.forward!('b', new Uint8Array([2])),
      a.t.forward!('b', new Uint8Array([3])).catch((e: unknown) => e),
    ]);
    assert.deepEqual(ok, { ok: true });
    assert.deepEqual(notLeader, { ok: false, code: 'GRAFTD_NOT_LEADER', message: 'stepped down', httpStatus: 503, leader: 'c' });
    // A thrown coded error travels back as a coded answer.
    assert.deepEqual(dropped, {
      ok: false,
      code: 'GRAFTD_PROPOSAL_DROPPED',
      message: 'proposal dropped: full',
      httpStatus: 503,
      leader: '',
    });
    await until(() => release !== undefined, 'the slow write reached the leader');
    // The leader's connection is lost while the slow write is in progress: outcome unknown.
    await b.t.close();
    assert.equal(await rejection(slow), '504 GRAFTD_TIMEOUT');
    assert.deepEqual(seen.sort(), ['a:1', 'a:2', 'a:3', 'a:4']);
    // Not connected any more: not sent, definite.
    await until(() => a.t.peers().b?.connected === false, 'a noticed');
    assert.equal(await rejection(a.t.forward!('b', new Uint8Array([1]))), '503 GRAFTD_NO_LEADER');
    assert.equal(await rejection(a.t.forward!('zz', new Uint8Array([1]))), '503 GRAFTD_NO_LEADER');
    release?.();
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('a forward without an answer times out as unknown; a node without onForward answers 503; the leader side is bounded', async () => {
  const a = node('a', '127.0.0.83:21103', { forwardTimeoutMs: 150 });
  const b = node('b', '127.0.0.84:21104', { maxForwardsInflight: 1, onForward: () => new Promise<ForwardResult>(() => {}) });
  const c = node('c', '127.0.0.85:21105');
  try {
    await Promise.all([a.t.start(), b.t.start(), c.t.start()]);
    link(a, b, c);
    await until(() => a.t.peers().b?.connected === true && a.t.peers().c?.connected === true, 'a connected');
    const first = a.t.forward!('b', new Uint8Array([1]));
    // The leader already serves one forward from this connection (its limit): the second is refused, definite.
    const second = await a.t.forward!('b', new Uint8Array([2]));
    assert.equal(second.ok ? '' : second.code, 'GRAFTD_PROPOSAL_DROPPED');
    assert.equal(await rejection(first), '504 GRAFTD_TIMEOUT');
    const fromC = await a.t.forward!('c', new Uint8Array([1]));
    assert.equal(fromC.ok ? '' : `${fromC.httpStatus} ${fromC.code}`, '503 GRAFTD_NO_LEADER');
  } finally {
    await Promise.all([a.t.close(), b.t.close(), c.t.close()]);
  }
});
