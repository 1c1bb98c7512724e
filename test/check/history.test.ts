import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatHistory, operationsToEvents, pairHistory, parseHistory } from '../../src/check/history.ts';
import { events } from './helpers.ts';

test('JSONL round-trips, and a torn last line is ignored', () => {
  const evs = events([
    { p: 0, op: 'write', v: 'a', call: 0, ret: 1 },
    { p: 1, op: 'read', v: null, call: 0.5, ret: 2, final: true },
  ]);
  const text = formatHistory(evs);
  assert.deepEqual(parseHistory(text), evs);
  assert.deepEqual(parseHistory(text + '{"type":"inv'), evs);
});

test('malformed histories are rejected with GRAFTD_INVALID_HISTORY and a location', () => {
  assert.throws(() => parseHistory('{"type":"invoke"}\n{}\n'), { code: 'GRAFTD_INVALID_HISTORY', message: /line 1: expected op/ });
  assert.throws(() => parseHistory('nope\n{}\n'), { code: 'GRAFTD_INVALID_HISTORY', message: /line 1: not JSON/ });
  const twoOpen = [
    { type: 'invoke' as const, process: 0, op: 'read' as const, key: 'k', value: null, time: 0 },
    { type: 'invoke' as const, process: 0, op: 'read' as const, key: 'k', value: null, time: 1 },
  ];
  assert.throws(() => pairHistory(twoOpen), { code: 'GRAFTD_INVALID_HISTORY', message: /still open/ });
  assert.throws(() => pairHistory([{ type: 'ok', process: 3, op: 'read', key: 'k', value: null, time: 0 }]), {
    message: /no open invocation/,
  });
  assert.throws(() => pairHistory([...twoOpen.slice(0, 1), { type: 'ok', process: 0, op: 'read', key: 'k', value: null, time: -1 }]), {
    message: /goes back/,
  });
});

test('pairing: fail is dropped, info and open invocations have no return, unknown reads vanish', () => {
  const paired = pairHistory(
    events([
      { p: 0, op: 'write', v: 'a', call: 0, ret: 1, status: 'fail' },
      { p: 0, op: 'write', v: 'b', call: 2, ret: 3, status: 'info' },
      { p: 1, op: 'read', call: 2, ret: 4, status: 'info' },
      { p: 2, op: 'delete', call: 5 },
      { p: 1, op: 'read', v: 'b', call: 5, ret: 6 },
    ]),
  );
  assert.equal(paired.failed.length, 1);
  assert.deepEqual(
    paired.ops.map((o) => [o.op, o.status, o.ret]),
    [
      ['write', 'info', Number.POSITIVE_INFINITY],
      ['read', 'ok', 6],
      ['delete', 'info', Number.POSITIVE_INFINITY],
    ],
  );
  // Converting back gives a history that pairs to the same operations.
  const again = pairHistory(operationsToEvents(paired.ops));
  assert.deepEqual(
    again.ops.map((o) => [o.op, o.status, o.input, o.output, o.call]),
    paired.ops.map((o) => [o.op, o.status, o.input, o.output, o.call]),
  );
});
