/**
 * The CAS workload's pure parts: answer classification (a 412 is an observation, not a failure;
 * an unreadable 2xx is unknown), request bodies, and the replay command naming the workload.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KeyTxn } from '../../src/check/cas-ops.ts';
import { casBody, classifyCas, classifyMetaRead, classifyTxn, txnBody } from './cas-http.ts';
import { replayCommand } from './run.ts';

const kv = (value: string, version: number) => ({ key: 'k', value, createRevision: 3, modRevision: 9, version, lease: '' });

test('conditional PUT: 200 won, 412 with current is an ok observation, other answers as for writes', () => {
  assert.deepEqual(classifyCas(200, '{"revision":9}'), { type: 'ok', succeeded: true });
  const body = JSON.stringify({ error: 'x', code: 'GRAFTD_CONDITION_FAILED', current: kv('a', 2) });
  assert.deepEqual(classifyCas(412, body), { type: 'ok', succeeded: false, current: { value: 'a', version: 2 } });
  assert.deepEqual(classifyCas(412, JSON.stringify({ code: 'GRAFTD_CONDITION_FAILED', current: null })), {
    type: 'ok',
    succeeded: false,
    current: null,
  });
  // A 412 whose current is missing or malformed tells nothing we may rely on.
  assert.equal(classifyCas(412, JSON.stringify({ code: 'GRAFTD_CONDITION_FAILED' })).type, 'info');
  assert.equal(classifyCas(412, JSON.stringify({ code: 'GRAFTD_CONDITION_FAILED', current: { value: 1 } })).type, 'info');
  assert.equal(classifyCas(404, JSON.stringify({ code: 'GRAFTD_LEASE_NOT_FOUND' })).type, 'fail');
  assert.equal(classifyCas(503, JSON.stringify({ code: 'GRAFTD_NO_LEADER' })).type, 'fail');
  assert.equal(classifyCas(504, JSON.stringify({ code: 'GRAFTD_TIMEOUT' })).type, 'info');
  assert.equal(classifyCas(500, '').type, 'info');
});

test('metadata read: 200 value and version, 404 absent at version 0, a 200 without them unknown', () => {
  assert.deepEqual(classifyMetaRead(200, JSON.stringify(kv('b', 4))), { type: 'ok', value: 'b', version: 4 });
  assert.deepEqual(classifyMetaRead(404, JSON.stringify({ code: 'GRAFTD_KEY_NOT_FOUND' })), { type: 'ok', value: null, version: 0 });
  assert.equal(classifyMetaRead(200, '{"value":"b"}').type, 'info');
  assert.equal(classifyMetaRead(404, '').type, 'fail');
  assert.equal(classifyMetaRead(504, '').type, 'info');
});

test('txn: the branch that ran and one observation per get; a result list that does not fit is unknown', () => {
  const txn: KeyTxn = {
    compare: [{ target: 'version', op: '=', value: 2 }],
    success: [{ get: true }, { put: 'n' }],
    failure: [{ get: true }],
  };
  const won = {
    succeeded: true,
    revision: 10,
    results: [
      { op: 'get', kvs: [kv('a', 2)], more: false },
      { op: 'put', key: 'k' },
    ],
  };
  assert.deepEqual(classifyTxn(200, JSON.stringify(won), txn), { type: 'ok', succeeded: true, gets: [{ value: 'a', version: 2 }] });
  const lost = { succeeded: false, revision: 10, results: [{ op: 'get', kvs: [], more: false }] };
  assert.deepEqual(classifyTxn(200, JSON.stringify(lost), txn), { type: 'ok', succeeded: false, gets: [null] });
  assert.equal(classifyTxn(200, JSON.stringify({ ...won, results: won.results.slice(0, 1) }), txn).type, 'info');
  assert.equal(classifyTxn(200, '{}', txn).type, 'info');
  assert.equal(classifyTxn(400, JSON.stringify({ code: 'GRAFTD_INVALID_BODY' }), txn).type, 'fail');
  assert.equal(classifyTxn(504, '', txn).type, 'info');
  assert.deepEqual(txnBody('k', txn), {
    compare: [{ key: 'k', target: 'version', op: '=', value: 2 }],
    success: [{ get: { key: 'k' } }, { put: { key: 'k', value: 'n' } }],
    failure: [{ get: { key: 'k' } }],
  });
  assert.deepEqual(casBody('v', { ifVersion: 0 }), { value: 'v', ifVersion: 0 });
});

test('the replay command names the cas workload (and leaves the register one implicit)', () => {
  const base = { nodes: 3, durationS: 20, seed: 5, faults: ['kill-leader' as const] };
  assert.match(replayCommand({ ...base, workload: { kind: 'cas' } }), / --workload cas$/);
  assert.doesNotMatch(replayCommand({ ...base, workload: { kind: 'register' } }), /--workload/);
});
