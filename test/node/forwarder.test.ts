import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraftdError, NotLeaderError } from '../../src/errors.ts';
import { decodeFlat, encodeCommand } from '../../src/kv/index.ts';
import { forwardWrite, serveForwardedWrite } from '../../src/node/forwarder.ts';
import type { ForwardResult, Transport } from '../../src/transport/index.ts';

/** A transport whose forward() answers with `answer` and records where it sent. */
function fakeTransport(answer: (to: string) => Promise<ForwardResult>, log: string[]): Transport {
  return {
    forward: (to: string, data: Uint8Array) => {
      log.push(`${to}:${data.length}`);
      return answer(to);
    },
  } as unknown as Transport;
}

test('forwardWrite: no leader known, or a transport that cannot forward → NotLeaderError without sending', async () => {
  const sent: string[] = [];
  const t = fakeTransport(async () => ({ ok: true }), sent);
  const data = encodeCommand({ op: 'set', pairs: { k: 'v' } });
  await assert.rejects(forwardWrite(t, 'n1', '', data), (e: unknown) => e instanceof NotLeaderError && e.leader === '');
  await assert.rejects(forwardWrite(t, 'n1', 'n1', data), (e: unknown) => e instanceof NotLeaderError && e.leader === '');
  await assert.rejects(forwardWrite({} as Transport, 'n1', 'n2', data), (e: unknown) => e instanceof NotLeaderError && e.leader === 'n2');
  assert.deepEqual(sent, []);
  await forwardWrite(t, 'n1', 'n2', data);
  assert.deepEqual(sent, [`n2:${data.length}`]);
});

test("forwardWrite: the leader's definite errors pass through coded; transport failures propagate unchanged", async () => {
  const data = encodeCommand({ op: 'del', keys: ['k'] });
  const answers: Record<string, ForwardResult | Error> = {
    stepped: { ok: false, code: 'GRAFTD_NOT_LEADER', message: 'not leader', httpStatus: 503, leader: 'n3' },
    dropped: { ok: false, code: 'GRAFTD_PROPOSAL_DROPPED', message: 'proposal dropped: full', httpStatus: 503, leader: '' },
    slow: { ok: false, code: 'GRAFTD_TIMEOUT', message: 'leader timed out', httpStatus: 504, leader: '' },
    weird: { ok: false, code: 'EVIL', message: 'x', httpStatus: 200, leader: '' },
    notSent: new GraftdError('GRAFTD_NO_LEADER', 'not sent'),
  };
  const t = fakeTransport(async (to) => {
    const a = answers[to]!;
    if (a instanceof Error) throw a;
    return a;
  }, []);
  await assert.rejects(forwardWrite(t, 'n1', 'stepped', data), (e: unknown) => e instanceof NotLeaderError && e.leader === 'n3');
  const expect = async (to: string, status: number, code: string) =>
    assert.rejects(forwardWrite(t, 'n1', to, data), (e: unknown) => e instanceof GraftdError && e.httpStatus === status && e.code === code);
  await expect('dropped', 503, 'GRAFTD_PROPOSAL_DROPPED');
  await expect('slow', 504, 'GRAFTD_TIMEOUT');
  await expect('weird', 500, 'GRAFTD_INTERNAL');
  await expect('notSent', 503, 'GRAFTD_NO_LEADER');
});

test('serveForwardedWrite: proposes a valid command and answers ok only after the proposal resolves; refuses malformed ones unproposed', async () => {
  const proposed: Uint8Array[] = [];
  let finish: (() => void) | undefined;
  const propose = (d: Uint8Array) => {
    proposed.push(d);
    return new Promise<undefined>((r) => {
      finish = () => r(undefined);
    });
  };
  const data = encodeCommand({ op: 'set', pairs: { a: '1' } });
  let answered = false;
  const p = serveForwardedWrite(data, propose, decodeFlat).then((r) => {
    answered = true;
    return r;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(answered, false);
  finish?.();
  assert.deepEqual(await p, { ok: true });
  assert.deepEqual(proposed, [data]);
  await assert.rejects(serveForwardedWrite(new Uint8Array([0xc1]), propose, decodeFlat), (e: unknown) => e instanceof GraftdError);
  assert.equal(proposed.length, 1);
  await assert.rejects(
    serveForwardedWrite(data, () => Promise.reject(new NotLeaderError('n2'))),
    (e: unknown) => e instanceof NotLeaderError,
  );
});

test('read-index requests: tagged so that no command is mistaken for one; forwardReadIndex returns the leader index', async () => {
  const { decodeReadIndexRequest, encodeReadIndexRequest, forwardReadIndex } = await import('../../src/node/forwarder.ts');
  const { encodeCommand } = await import('../../src/kv/index.ts');
  assert.equal(decodeReadIndexRequest(encodeReadIndexRequest('safe')), 'safe');
  assert.equal(decodeReadIndexRequest(encodeReadIndexRequest('lease')), 'lease');
  assert.equal(decodeReadIndexRequest(encodeCommand({ op: 'set', pairs: { a: '1' } })), undefined);
  assert.equal(decodeReadIndexRequest(encodeCommand({ op: 'del', keys: ['a'] })), undefined);
  assert.throws(
    () => decodeReadIndexRequest(Uint8Array.of(0xff, 7)),
    (e: unknown) => (e as { code?: string }).code === 'GRAFTD_INVALID_BODY',
  );
  const sent: string[] = [];
  const t = {
    forward: async (to: string, data: Uint8Array) => {
      sent.push(`${to}:${decodeReadIndexRequest(data)}`);
      return { ok: true as const, index: 42 };
    },
  } as unknown as Transport;
  assert.equal(await forwardReadIndex(t, 'n1', 'n2', 'lease'), 42);
  assert.deepEqual(sent, ['n2:lease']);
  await assert.rejects(forwardReadIndex(t, 'n1', '', 'safe'), (e: unknown) => e instanceof NotLeaderError);
  const noIndex = { forward: async () => ({ ok: true as const }) } as unknown as Transport;
  await assert.rejects(forwardReadIndex(noIndex, 'n1', 'n2', 'safe'), (e: unknown) => (e as { code?: string }).code === 'GRAFTD_INTERNAL');
  const refused = {
    forward: async () => ({ ok: false as const, code: 'GRAFTD_NOT_LEADER', message: 'not leader', httpStatus: 503, leader: 'n3' }),
  } as unknown as Transport;
  await assert.rejects(forwardReadIndex(refused, 'n1', 'n2', 'safe'), (e: unknown) => e instanceof NotLeaderError && e.leader === 'n3');
});

test('forwarded commands: any bytes round-trip (escaped when they start with 0xfe/0xff), never mistaken for a read-index request; results ride back', async () => {
  const { decodeForwardRequest, encodeForwardedCommand } = await import('../../src/node/forwarder.ts');
  const kv = encodeCommand({ op: 'set', pairs: { a: '1' } });
  assert.equal(encodeForwardedCommand(kv), kv, 'kv commands are sent as they are');
  for (const cmd of [
    Uint8Array.of(0xff, 0),
    Uint8Array.of(0xff, 1),
    Uint8Array.of(0xfe),
    Uint8Array.of(0xfe, 0xff, 3),
    Uint8Array.of(1, 2),
    kv,
  ]) {
    const req = decodeForwardRequest(encodeForwardedCommand(cmd));
    assert.ok('command' in req);
    assert.deepEqual([...req.command], [...cmd]);
  }
  const codec = await import('../../src/transport/codec.ts');
  const result = Uint8Array.of(9, 8, 7);
  assert.deepEqual(codec.decodeFwdResp(codec.encodeFwdResp(5, { ok: true, result })), { reqId: 5, result: { ok: true, result } });
  assert.deepEqual(codec.decodeFwdResp(codec.encodeFwdResp(6, { ok: true })), { reqId: 6, result: { ok: true } });
  assert.deepEqual(codec.decodeFwdResp(codec.encodeFwdResp(7, { ok: true, index: 3 })), { reqId: 7, result: { ok: true, index: 3 } });
});
