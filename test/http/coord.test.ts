/**
 * The coordination routes (issue 13) against the fake node, whose data is the real KvStore:
 * revisions in X-Graftd-Revision on every key/lease answer (the original routes included, their
 * bodies unchanged), ?meta=true, ranges and paging, conditional PUT/DELETE (412 with current),
 * POST /txn, leases, and forwarding from a follower (itself, and over HTTP for a node that does not).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { FakeNode } from './fake-node.ts';
import { assertError, makeServer } from './helpers.ts';

function json(res: LightMyRequestResponse): Record<string, unknown> {
  assert.match(String(res.headers['content-type']), /^application\/json/, res.body);
  return JSON.parse(res.body) as Record<string, unknown>;
}

function revision(res: LightMyRequestResponse): number {
  const header = res.headers['x-graftd-revision'];
  assert.equal(typeof header, 'string', `no X-Graftd-Revision on ${res.statusCode} ${res.body}`);
  return Number(header);
}

let app: FastifyInstance;
let node: FakeNode;

before(async () => {
  ({ app, node } = await makeServer());
});
after(async () => {
  await app.close();
});

async function put(key: string, body: unknown): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'PUT', url: `/key/${encodeURIComponent(key)}`, payload: JSON.stringify(body) });
}

test('the original routes keep their bodies and gain X-Graftd-Revision; one request = one revision', async () => {
  const set = await app.inject({ method: 'POST', url: '/key', payload: '{"rv/a":"1","rv/b":"2"}' });
  assert.equal(set.statusCode, 200);
  assert.equal(set.body, '');
  const r1 = revision(set);
  assert.equal(r1, node.store.revision);
  const get = await app.inject({ url: '/key/rv%2Fa' });
  assert.deepEqual(json(get), { 'rv/a': '1' });
  assert.equal(revision(get), r1);
  const missing = await app.inject({ url: '/key/rv%2Fnone' });
  assertError(missing, 404, 'GRAFTD_KEY_NOT_FOUND');
  assert.equal(revision(missing), r1);
  const del = await app.inject({ method: 'DELETE', url: '/key/rv%2Fa' });
  assert.equal(del.statusCode, 200);
  assert.equal(del.body, '');
  assert.equal(revision(del), r1 + 1);
  // Deleting nothing changes nothing: the revision stays.
  const again = await app.inject({ method: 'DELETE', url: '/key/rv%2Fa' });
  assert.equal(revision(again), r1 + 1);
});

test('GET /key/<k>?meta=true: key, value, createRevision, modRevision, version, lease; 404 when absent; bad meta → 400', async () => {
  const first = revision(await app.inject({ method: 'POST', url: '/key', payload: '{"meta/k":"v1"}' }));
  const second = revision(await app.inject({ method: 'POST', url: '/key', payload: '{"meta/k":"v2"}' }));
  const res = await app.inject({ url: '/key/meta%2Fk?meta=true' });
  assert.deepEqual(json(res), { key: 'meta/k', value: 'v2', createRevision: first, modRevision: second, version: 2, lease: '' });
  assert.equal(revision(res), second);
  assert.deepEqual(json(await app.inject({ url: '/key/meta%2Fk?meta=false' })), { 'meta/k': 'v2' });
  assert.deepEqual(json(await app.inject({ url: '/key/meta%2Fk?meta=true&level=stale' })).version, 2);
  assertError(await app.inject({ url: '/key/meta%2Fnone?meta=true' }), 404, 'GRAFTD_KEY_NOT_FOUND');
  assertError(await app.inject({ url: '/key/meta%2Fk?meta=yes' }), 400, 'GRAFTD_INVALID_BODY');
  assertError(await app.inject({ url: '/key/meta%2Fk?meta=true&meta=true' }), 400, 'GRAFTD_INVALID_BODY');
  // A delete ends the key's life: a new put starts at version 1 with a new createRevision.
  await app.inject({ method: 'DELETE', url: '/key/meta%2Fk' });
  const third = revision(await app.inject({ method: 'POST', url: '/key', payload: '{"meta/k":"v3"}' }));
  const reborn = json(await app.inject({ url: '/key/meta%2Fk?meta=true' }));
  assert.equal(reborn.version, 1);
  assert.equal(reborn.createRevision, third);
});

test('GET /keys?prefix: sorted, one revision, paging with after/next, keysOnly, limit bounds', async () => {
  const pairs: Record<string, string> = {};
  for (let i = 0; i < 25; i++) pairs[`page/${String(i).padStart(2, '0')}`] = `v${i}`;
  pairs['pagez'] = 'outside';
  const rev = revision(await app.inject({ method: 'POST', url: '/key', payload: JSON.stringify(pairs) }));
  const first = await app.inject({ url: '/keys?prefix=page%2F&limit=10' });
  const body = json(first);
  assert.equal(body.revision, rev);
  assert.equal(revision(first), rev);
  const kvs = body.kvs as { key: string; value: string; createRevision: number; modRevision: number; version: number; lease: string }[];
  assert.deepEqual(
    kvs.map((kv) => kv.key),
    Array.from({ length: 10 }, (_, i) => `page/${String(i).padStart(2, '0')}`),
  );
  assert.deepEqual(kvs[0], { key: 'page/00', value: 'v0', createRevision: rev, modRevision: rev, version: 1, lease: '' });
  assert.equal(body.more, true);
  assert.equal(body.next, 'page/09');
  // Follow `next` until the end: every key once, in order.
  const seen: string[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 10; pages++) {
    const url: string = `/keys?prefix=page%2F&limit=10${after === null ? '' : `&after=${encodeURIComponent(after)}`}`;
    const page = json(await app.inject({ url }));
    seen.push(...(page.kvs as { key: string }[]).map((kv) => kv.key));
    if (page.more !== true) {
      assert.equal(page.next, null);
      break;
    }
    after = page.next as string;
  }
  assert.deepEqual(
    seen,
    Object.keys(pairs)
      .filter((k) => k.startsWith('page/'))
      .sort(),
  );
  const keysOnly = json(await app.inject({ url: '/keys?prefix=page%2F&limit=2&keysOnly=true' }));
  assert.deepEqual(keysOnly.kvs, [
    { key: 'page/00', createRevision: rev, modRevision: rev, version: 1, lease: '' },
    { key: 'page/01', createRevision: rev, modRevision: rev, version: 1, lease: '' },
  ]);
  // start/end: end exclusive.
  const span = json(await app.inject({ url: '/keys?start=page%2F05&end=page%2F08' }));
  assert.deepEqual(
    (span.kvs as { key: string }[]).map((kv) => kv.key),
    ['page/05', 'page/06', 'page/07'],
  );
  // prefix= (empty) is every key; the default limit is 1000.
  const all = json(await app.inject({ url: '/keys?prefix=' }));
  assert.equal((all.kvs as unknown[]).length, node.store.size);
  assert.equal(all.more, false);
  assert.equal(json(await app.inject({ url: '/keys?prefix=&limit=10000' })).more, false);
  assert.deepEqual(node.calls.at(-1), { method: 'range', args: [{ prefix: '', limit: 10000 }, 'linearizable'] });
  await app.inject({ url: '/keys?prefix=page&level=stale' });
  assert.deepEqual(node.calls.at(-1)?.args[1], 'stale');
});

test('GET /keys refuses bad queries with 400 and says why', async () => {
  const bad: [string, RegExp][] = [
    ['/keys', /needs prefix=P/],
    ['/keys?prefix=a&start=a', /either prefix or start/],
    ['/keys?prefix=a&end=b', /end goes with start/],
    ['/keys?prefix=a&limit=0', /limit must be a whole number from 1 to 10000/],
    ['/keys?prefix=a&limit=10001', /limit must be a whole number from 1 to 10000/],
    ['/keys?prefix=a&limit=1.5', /limit/],
    ['/keys?prefix=a&limit=', /limit/],
    ['/keys?prefix=a&keysOnly=1', /keysOnly must be true or false/],
    ['/keys?prefix=a&level=strong', /level/],
    ['/keys?prefix=a&prefix=b', /prefix must be given once/],
    ['/keys?prefix=a&lmit=5', /unknown query parameter "lmit"/],
  ];
  for (const [url, message] of bad) {
    const res = await app.inject({ url });
    assertError(res, 400, 'GRAFTD_INVALID_BODY');
    assert.match(String(json(res).error), message, url);
  }
  assertError(await app.inject({ url: `/keys?prefix=${'x'.repeat(1025)}` }), 400, 'GRAFTD_INVALID_KEY');
});

test('PUT /key/<k>: unconditional, ifAbsent, ifModRevision, ifVersion, ifValue; a failed condition is 412 with current', async () => {
  const created = await put('cas/k', { value: 'a', ifAbsent: true });
  assert.equal(created.statusCode, 200, created.body);
  const r1 = json(created).revision as number;
  assert.equal(revision(created), r1);
  assert.equal(node.store.get('cas/k'), 'a');

  const taken = await put('cas/k', { value: 'b', ifAbsent: true });
  assertError(taken, 412, 'GRAFTD_CONDITION_FAILED');
  const current = { key: 'cas/k', value: 'a', createRevision: r1, modRevision: r1, version: 1, lease: '' };
  assert.deepEqual(json(taken).current, current);
  assert.match(String(json(taken).error), /modRevision \d+, version 1/);
  assert.equal(revision(taken), r1);
  assert.equal(node.store.get('cas/k'), 'a');

  assertError(await put('cas/k', { value: 'b', ifModRevision: r1 - 1 }), 412, 'GRAFTD_CONDITION_FAILED');
  const swapped = await put('cas/k', { value: 'b', ifModRevision: r1 });
  assert.equal(swapped.statusCode, 200);
  const r2 = json(swapped).revision as number;
  assert.equal(r2, r1 + 1);
  assert.deepEqual(json(await put('cas/k', { value: 'b2', ifVersion: 1 })).current, {
    ...current,
    value: 'b',
    modRevision: r2,
    version: 2,
  });
  assert.equal((await put('cas/k', { value: 'c', ifVersion: 2, ifValue: 'b' })).statusCode, 200);
  assertError(await put('cas/k', { value: 'd', ifValue: 'nope' }), 412, 'GRAFTD_CONDITION_FAILED');
  // An absent key: version/modRevision 0 hold, a value compare never does, current is null.
  const absentValue = await put('cas/none', { value: 'x', ifValue: '' });
  assertError(absentValue, 412, 'GRAFTD_CONDITION_FAILED');
  assert.equal(json(absentValue).current, null);
  assert.match(String(json(absentValue).error), /does not exist/);
  assert.equal((await put('cas/none', { value: 'x', ifModRevision: 0 })).statusCode, 200);
  assert.equal((await put('cas/none2', { value: 'x', ifVersion: 0 })).statusCode, 200);
  // No conditions: a plain put, through a transaction with no compares.
  const plain = await put('cas/plain', { value: 'p' });
  assert.equal(plain.statusCode, 200);
  const last = node.calls.at(-1)!;
  assert.equal(last.method, 'txn');
  assert.deepEqual(last.args[0], {
    compare: [],
    success: [{ put: { key: 'cas/plain', value: 'p' } }],
    failure: [{ get: { key: 'cas/plain' } }],
  });
});

test('PUT /key/<k> refuses bad bodies: 400 naming the field, 413 for a value over the limit', async () => {
  const bad: [string, RegExp][] = [
    ['', /empty body/],
    ['[]', /JSON object/],
    ['{}', /value must be a string, found nothing/],
    ['{"value":5}', /value must be a string, found number 5/],
    ['{"value":"v","ifModRevision":-1}', /ifModRevision must be a whole number/],
    ['{"value":"v","ifModRevision":"3"}', /ifModRevision must be a whole number/],
    ['{"value":"v","ifVersion":1.5}', /ifVersion must be a whole number/],
    ['{"value":"v","ifValue":1}', /ifValue must be a string/],
    ['{"value":"v","ifAbsent":"yes"}', /ifAbsent must be true or false/],
    ['{"value":"v","lease":"XYZ"}', /lease must be a lease id/],
    ['{"value":"v","lease":7}', /lease must be a string/],
    ['{"value":"v","ifModRev":3}', /unknown field "ifModRev"/],
  ];
  for (const [payload, message] of bad) {
    const res = await app.inject({ method: 'PUT', url: '/key/bad', payload });
    assert.equal(res.statusCode, 400, `${payload}: ${res.body}`);
    assert.match(String(json(res).error), message, payload);
  }
  assertError(await app.inject({ method: 'PUT', url: '/key/bad', payload: '{"value":' }), 400, 'GRAFTD_INVALID_JSON');
  assertError(await app.inject({ method: 'PUT', url: '/key/bad?ifAbsent=true', payload: '{"value":"v"}' }), 400, 'GRAFTD_INVALID_BODY');
  assertError(await put('bad', { value: 'x'.repeat(256 * 1024 + 1) }), 413, 'GRAFTD_TOO_LARGE');
  assertError(await put('x'.repeat(1025), { value: 'v' }), 400, 'GRAFTD_INVALID_KEY');
  assert.equal(node.store.get('bad'), undefined);
});

test('DELETE /key/<k>?ifModRevision=N (and ifVersion, ifValue): {revision, deleted} or 412; unknown parameters refused', async () => {
  const r = json(await put('cdel/k', { value: 'v' })).revision as number;
  const refused = await app.inject({ method: 'DELETE', url: `/key/cdel%2Fk?ifModRevision=${r + 5}` });
  assertError(refused, 412, 'GRAFTD_CONDITION_FAILED');
  assert.equal((json(refused).current as { modRevision: number }).modRevision, r);
  assert.equal(node.store.get('cdel/k'), 'v');
  const deleted = await app.inject({ method: 'DELETE', url: `/key/cdel%2Fk?ifModRevision=${r}&ifValue=v&ifVersion=1` });
  assert.equal(deleted.statusCode, 200, deleted.body);
  assert.deepEqual(json(deleted), { revision: r + 1, deleted: 1 });
  assert.equal(revision(deleted), r + 1);
  assert.equal(node.store.get('cdel/k'), undefined);
  // Absent now: ifModRevision=0 holds and deletes nothing.
  assert.deepEqual(json(await app.inject({ method: 'DELETE', url: '/key/cdel%2Fk?ifModRevision=0' })), { revision: r + 1, deleted: 0 });
  assertError(await app.inject({ method: 'DELETE', url: '/key/cdel%2Fk?ifValue=v' }), 412, 'GRAFTD_CONDITION_FAILED');
  // A misspelt condition must not become an unconditional delete.
  await put('cdel/k', { value: 'v' });
  for (const url of [
    '/key/cdel%2Fk?ifModRev=3',
    '/key/cdel%2Fk?ifModRevision=abc',
    '/key/cdel%2Fk?ifModRevision=-1',
    '/key/cdel%2Fk?ifVersion=',
  ]) {
    assertError(await app.inject({ method: 'DELETE', url }), 400, 'GRAFTD_INVALID_BODY');
  }
  assert.equal(node.store.get('cdel/k'), 'v');
});

test('POST /txn: the success branch or the failure branch, one revision, results in order', async () => {
  const base = json(await put('tx/a', { value: '1' })).revision as number;
  const txn = {
    compare: [{ key: 'tx/a', target: 'value', op: '=', value: '1' }],
    success: [{ put: { key: 'tx/b', value: '2' } }, { get: { key: 'tx/a' } }, { delete: { key: 'tx/a' } }, { get: { prefix: 'tx/' } }],
    failure: [{ get: { key: 'tx/a' } }],
  };
  const res = await app.inject({ method: 'POST', url: '/txn', payload: JSON.stringify(txn) });
  assert.equal(res.statusCode, 200, res.body);
  const body = json(res);
  assert.equal(body.succeeded, true);
  assert.equal(body.revision, base + 1);
  assert.equal(revision(res), base + 1);
  assert.deepEqual(body.results, [
    { op: 'put', key: 'tx/b' },
    { op: 'get', kvs: [{ key: 'tx/a', value: '1', createRevision: base, modRevision: base, version: 1, lease: '' }], more: false },
    { op: 'delete', deleted: 1 },
    { op: 'get', kvs: [{ key: 'tx/b', value: '2', createRevision: base + 1, modRevision: base + 1, version: 1, lease: '' }], more: false },
  ]);
  // Same txn again: tx/a is gone, the failure branch runs; a read-only branch leaves the revision.
  const failed = json(await app.inject({ method: 'POST', url: '/txn', payload: JSON.stringify(txn) }));
  assert.deepEqual(failed, { succeeded: false, revision: base + 1, results: [{ op: 'get', kvs: [], more: false }] });
  // Absent lists are empty; an empty txn succeeds and changes nothing.
  assert.deepEqual(json(await app.inject({ method: 'POST', url: '/txn', payload: '{}' })), {
    succeeded: true,
    revision: base + 1,
    results: [],
  });
  // Every compare target.
  const all = {
    compare: [
      { key: 'tx/b', target: 'version', op: '=', value: 1 },
      { key: 'tx/b', target: 'modRevision', op: '<', value: base + 2 },
      { key: 'tx/b', target: 'createRevision', op: '>', value: 0 },
      { key: 'tx/b', target: 'exists', op: '=', value: true },
      { key: 'tx/none', target: 'exists', op: '!=', value: true },
      { key: 'tx/b', target: 'lease', op: '=', value: '' },
      { key: 'tx/b', target: 'value', op: '!=', value: '3' },
    ],
    success: [{ delete: { prefix: 'tx/' } }],
  };
  const swept = json(await app.inject({ method: 'POST', url: '/txn', payload: JSON.stringify(all) }));
  assert.deepEqual(swept, { succeeded: true, revision: base + 2, results: [{ op: 'delete', deleted: 1 }] });
});

test('POST /txn validates everything and names the path of what is wrong', async () => {
  const bad: [unknown, string, RegExp][] = [
    [[], 'GRAFTD_INVALID_BODY', /JSON object/],
    [{ compare: {} }, 'GRAFTD_INVALID_BODY', /^compare must be an array/],
    [{ extra: [] }, 'GRAFTD_INVALID_BODY', /unknown field "extra"/],
    [{ compare: [{ key: 'a', target: 'size', op: '=', value: 1 }] }, 'GRAFTD_INVALID_BODY', /^compare\[0\]\.target must be one of/],
    [{ compare: [{ key: 'a', target: 'version', op: '>=', value: 1 }] }, 'GRAFTD_INVALID_BODY', /^compare\[0\]\.op must be one of/],
    [
      { compare: [{ key: 'a', target: 'version', op: '=', value: '1' }] },
      'GRAFTD_INVALID_BODY',
      /^compare\[0\]\.value must be a whole number/,
    ],
    [{ compare: [{ key: 'a', target: 'value', op: '=', value: 1 }] }, 'GRAFTD_INVALID_BODY', /^compare\[0\]\.value must be a string/],
    [{ compare: [{ key: 'a', target: 'exists', op: '<', value: true }] }, 'GRAFTD_INVALID_BODY', /^compare\[0\]\.op must be = or !=/],
    [{ compare: [{ key: 'a', target: 'exists', op: '=', value: 1 }] }, 'GRAFTD_INVALID_BODY', /true or false/],
    [{ compare: [{ key: 'a', target: 'lease', op: '=', value: 'G' }] }, 'GRAFTD_INVALID_BODY', /^compare\[0\]\.value must be a lease id/],
    [
      { compare: [{ key: 'a', target: 'version', op: '=' }] },
      'GRAFTD_INVALID_BODY',
      /^compare\[0\]\.value must be a whole number.*nothing/,
    ],
    [
      { compare: [{ key: '', target: 'version', op: '=', value: 0 }] },
      'GRAFTD_INVALID_KEY',
      /^compare\[0\]\.key: expected a non-empty key/,
    ],
    [
      { compare: [{ key: 'a', target: 'version', op: '=', value: 0, x: 1 }] },
      'GRAFTD_INVALID_BODY',
      /^compare\[0\] has an unknown field "x"/,
    ],
    [
      { success: [{ put: { key: 'a', value: '1' } }, { get: { key: 'a' } }, { put: { key: 'b', value: 2 } }] },
      'GRAFTD_INVALID_BODY',
      /^success\[2\]\.put\.value must be a string, found number 2$/,
    ],
    [{ success: [{ put: { key: 'a', value: '1', lease: 'zz' } }] }, 'GRAFTD_INVALID_BODY', /^success\[0\]\.put\.lease must be a lease id/],
    [
      { success: [{ put: { key: 'a' }, get: { key: 'a' } }] },
      'GRAFTD_INVALID_BODY',
      /^success\[0\] must have exactly one of put, delete, get; found put, get/,
    ],
    [{ success: [{}] }, 'GRAFTD_INVALID_BODY', /^success\[0\] must have exactly one of put, delete, get; found none/],
    [{ success: [{ watch: {} }] }, 'GRAFTD_INVALID_BODY', /^success\[0\] has an unknown field "watch"/],
    [
      { failure: [{ delete: { key: 'a', prefix: 'a' } }] },
      'GRAFTD_INVALID_BODY',
      /^failure\[0\]\.delete must have exactly one of key, prefix/,
    ],
    [{ failure: [{ delete: {} }] }, 'GRAFTD_INVALID_BODY', /^failure\[0\]\.delete must have exactly one of key, prefix/],
    [
      { failure: [{ get: { prefix: 'a', limit: 0 } }] },
      'GRAFTD_INVALID_BODY',
      /^failure\[0\]\.get\.limit must be a whole number from 1 to 10000/,
    ],
    [{ failure: [{ get: { key: 'a', limit: 5 } }] }, 'GRAFTD_INVALID_BODY', /^failure\[0\]\.get\.limit goes with prefix/],
    [{ failure: [{ get: null }] }, 'GRAFTD_INVALID_BODY', /^failure\[0\]\.get must be a JSON object, found null/],
    [{ success: [{ put: { key: 'a', value: 'x'.repeat(256 * 1024 + 1) } }] }, 'GRAFTD_TOO_LARGE', /at most 262144 bytes/],
  ];
  for (const [body, code, message] of bad) {
    const res = await app.inject({ method: 'POST', url: '/txn', payload: JSON.stringify(body) });
    assert.equal(json(res).code, code, `${JSON.stringify(body).slice(0, 100)}: ${res.body}`);
    assert.match(String(json(res).error), message, JSON.stringify(body).slice(0, 100));
  }
  assertError(await app.inject({ method: 'POST', url: '/txn', payload: '' }), 400, 'GRAFTD_INVALID_BODY');
  assertError(await app.inject({ method: 'POST', url: '/txn', payload: '{"compare":' }), 400, 'GRAFTD_INVALID_JSON');
  assertError(await app.inject({ method: 'POST', url: '/txn?x=1', payload: '{}' }), 400, 'GRAFTD_INVALID_BODY');
  const cmp = { key: 'a', target: 'version', op: '=', value: 0 };
  const op = { get: { key: 'a' } };
  assert.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/txn',
        payload: JSON.stringify({ compare: Array(64).fill(cmp), success: Array(128).fill(op) }),
      })
    ).statusCode,
    200,
  );
  for (const body of [{ compare: Array(65).fill(cmp) }, { success: Array(129).fill(op) }, { failure: Array(129).fill(op) }]) {
    const res = await app.inject({ method: 'POST', url: '/txn', payload: JSON.stringify(body) });
    assertError(res, 400, 'GRAFTD_TXN_TOO_LARGE');
    assert.match(String(json(res).error), /at most (64|128)/);
  }
});

test('POST /txn over the body limit is 413', async () => {
  const small = await makeServer(new FakeNode(), { maxBodyBytes: 1024 });
  try {
    const body = JSON.stringify({ success: [{ put: { key: 'a', value: 'x'.repeat(2000) } }] });
    assertError(await small.app.inject({ method: 'POST', url: '/txn', payload: body }), 413, 'GRAFTD_TOO_LARGE');
  } finally {
    await small.app.close();
  }
});

test('leases: grant (raised to the minimum), put with a lease, get, list, keepalive, revoke deletes its keys in one revision', async () => {
  const granted = await app.inject({ method: 'POST', url: '/lease', payload: '{"ttl":60}' });
  assert.equal(granted.statusCode, 200, granted.body);
  const { id, ttl } = json(granted) as { id: string; ttl: number };
  assert.match(id, /^[0-9a-f]+$/);
  assert.equal(ttl, 60);
  assert.equal(json(await app.inject({ method: 'POST', url: '/lease', payload: '{"ttl":1}' })).ttl, node.minLeaseTtl);

  assert.equal((await put('svc/a', { value: '10.0.0.1', lease: id })).statusCode, 200);
  assert.equal((await put('svc/b', { value: '10.0.0.2', lease: id, ifAbsent: true })).statusCode, 200);
  assert.equal(json(await app.inject({ url: '/key/svc%2Fa?meta=true' })).lease, id);
  const txnLease = { success: [{ put: { key: 'svc/c', value: '3', lease: id } }] };
  assert.equal((await app.inject({ method: 'POST', url: '/txn', payload: JSON.stringify(txnLease) })).statusCode, 200);

  const info = await app.inject({ url: `/lease/${id}` });
  const body = json(info);
  assert.deepEqual(body.keys, ['svc/a', 'svc/b', 'svc/c']);
  assert.equal(body.moreKeys, false);
  assert.equal(body.ttl, 60);
  assert.ok((body.remaining as number) > 55 && (body.remaining as number) <= 60, String(body.remaining));
  assert.equal(revision(info), node.store.revision);
  const list = await app.inject({ url: '/leases' });
  const leases = json(list).leases as { id: string; keys: string[] }[];
  assert.ok(leases.some((l) => l.id === id && l.keys.length === 0));
  assert.equal(json(list).revision, revision(list));

  const kept = await app.inject({ method: 'POST', url: `/lease/${id}/keepalive` });
  assert.deepEqual(json(kept), { id, ttl: 60 });

  const before = node.store.revision;
  const revoked = await app.inject({ method: 'DELETE', url: `/lease/${id}` });
  assert.deepEqual(json(revoked), { revision: before + 1, deleted: 3 });
  assert.equal(revision(revoked), before + 1);
  assert.equal(node.store.get('svc/a'), undefined);
  assertError(await app.inject({ url: `/lease/${id}` }), 404, 'GRAFTD_LEASE_NOT_FOUND');
  assertError(await app.inject({ method: 'POST', url: `/lease/${id}/keepalive` }), 404, 'GRAFTD_LEASE_NOT_FOUND');
  assertError(await app.inject({ method: 'DELETE', url: `/lease/${id}` }), 404, 'GRAFTD_LEASE_NOT_FOUND');
  // A put naming a lease that does not exist writes nothing.
  assertError(await put('svc/d', { value: 'x', lease: id }), 404, 'GRAFTD_LEASE_NOT_FOUND');
  assert.equal(node.store.get('svc/d'), undefined);
});

test('an expired lease (revoked by the leader) takes its keys with it', async () => {
  const { id } = json(await app.inject({ method: 'POST', url: '/lease', payload: '{"ttl":10}' })) as { id: string };
  await put('exp/k', { value: 'v', lease: id });
  assert.deepEqual(node.expireLease(id).deleted, 1);
  assertError(await app.inject({ url: '/key/exp%2Fk' }), 404, 'GRAFTD_KEY_NOT_FOUND');
  assertError(await app.inject({ url: `/lease/${id}` }), 404, 'GRAFTD_LEASE_NOT_FOUND');
});

test('lease routes refuse bad TTLs and ids with 400', async () => {
  for (const payload of ['{"ttl":0}', '{"ttl":-5}', '{"ttl":1.5}', '{"ttl":"10"}', '{"ttl":31536001}', '{}', '', '{"ttl":10,"id":"1"}']) {
    const res = await app.inject({ method: 'POST', url: '/lease', payload });
    assertError(res, 400, 'GRAFTD_INVALID_BODY');
  }
  assert.equal((await app.inject({ method: 'POST', url: '/lease', payload: '{"ttl":31536000}' })).statusCode, 200);
  for (const id of ['XYZ', '1F', '0', '-1', 'abcdefabcdefab', '%20']) {
    for (const req of [
      { method: 'GET' as const, url: `/lease/${id}` },
      { method: 'POST' as const, url: `/lease/${id}/keepalive` },
      { method: 'DELETE' as const, url: `/lease/${id}` },
    ]) {
      const res = await app.inject(req);
      assertError(res, 400, 'GRAFTD_INVALID_BODY');
      assert.match(String(json(res).error), /lease id in lower-case hex/, `${req.method} ${req.url}`);
    }
  }
  assertError(await app.inject({ url: '/lease/1?level=fast' }), 400, 'GRAFTD_INVALID_BODY');
  assertError(await app.inject({ url: '/leases?x=1' }), 400, 'GRAFTD_INVALID_BODY');
});

test('a follower that forwards itself sends txn, conditional puts and lease changes to the leader; reads are served locally after the read index', async () => {
  const leader = new FakeNode({ id: 'node0' });
  const follower = new FakeNode({ id: 'node1', role: 'follower', leaderId: 'node0', leaderHttpAddr: '127.0.0.89:9', leader });
  const f = await makeServer(follower);
  try {
    const created = await f.app.inject({ method: 'PUT', url: '/key/f', payload: '{"value":"1","ifAbsent":true}' });
    assert.equal(created.statusCode, 200, created.body);
    assert.equal(created.headers['x-graftd-forwarded-by'], 'node1');
    assert.equal(leader.store.get('f'), '1');
    const refused = await f.app.inject({ method: 'PUT', url: '/key/f', payload: '{"value":"2","ifAbsent":true}' });
    assertError(refused, 412, 'GRAFTD_CONDITION_FAILED');
    const txn = await f.app.inject({ method: 'POST', url: '/txn', payload: '{"success":[{"get":{"key":"f"}}]}' });
    assert.equal(json(txn).succeeded, true);
    const { id } = json(await f.app.inject({ method: 'POST', url: '/lease', payload: '{"ttl":30}' })) as { id: string };
    assert.ok(leader.store.leases.size === 1);
    assert.equal((await f.app.inject({ url: `/lease/${id}` })).statusCode, 200);
    assert.equal((await f.app.inject({ url: '/keys?prefix=f' })).statusCode, 200);
    assert.deepEqual(
      leader.calls.map((c) => c.method),
      ['txn', 'txn', 'txn', 'leaseGrant', 'leaseGet', 'range'],
    );
    // Stale reads never reach the leader.
    const calls = leader.calls.length;
    await f.app.inject({ url: '/keys?prefix=f&level=stale' });
    await f.app.inject({ url: '/leases?level=stale' });
    assert.equal(leader.calls.length, calls);
    // No leader known: 503, nothing applied.
    follower.leaderId = '';
    assertError(await f.app.inject({ method: 'POST', url: '/txn', payload: '{}' }), 503, 'GRAFTD_NO_LEADER');
    assertError(await f.app.inject({ method: 'POST', url: `/lease/${id}/keepalive` }), 503, 'GRAFTD_NO_LEADER');
  } finally {
    await f.app.close();
  }
});

test('a node that does not forward relays the coordination routes to the leader over HTTP, status, body and revision header included', async () => {
  const host = '127.0.0.225';
  const leader = await makeServer(new FakeNode({ id: 'node0' }));
  await leader.app.listen({ host, port: 18251 });
  const follower = new FakeNode({ id: 'node1', role: 'follower', leaderId: 'node0', leaderHttpAddr: `${host}:18251`, forwards: false });
  const f = await makeServer(follower);
  try {
    const created = await f.app.inject({ method: 'PUT', url: '/key/r', payload: '{"value":"1"}' });
    assert.equal(created.statusCode, 200, created.body);
    assert.equal(created.headers['x-graftd-forwarded-by'], 'node1');
    const rev = json(created).revision as number;
    assert.equal(revision(created), rev);
    const refused = await f.app.inject({ method: 'PUT', url: '/key/r', payload: '{"value":"2","ifModRevision":999}' });
    assertError(refused, 412, 'GRAFTD_CONDITION_FAILED');
    assert.equal((json(refused).current as { value: string }).value, '1');
    assert.equal(revision(refused), rev);
    const range = await f.app.inject({ url: '/keys?prefix=r' });
    assert.equal((json(range).kvs as unknown[]).length, 1);
    assert.equal(revision(range), rev);
    const txn = await f.app.inject({ method: 'POST', url: '/txn', payload: '{"success":[{"delete":{"key":"r"}}]}' });
    assert.deepEqual(json(txn), { succeeded: true, revision: rev + 1, results: [{ op: 'delete', deleted: 1 }] });
    const meta = await f.app.inject({ url: '/key/r?meta=true' });
    assertError(meta, 404, 'GRAFTD_KEY_NOT_FOUND');
    assert.equal(revision(meta), rev + 1);
    const { id } = json(await f.app.inject({ method: 'POST', url: '/lease', payload: '{"ttl":30}' })) as { id: string };
    assert.equal(json(await f.app.inject({ method: 'DELETE', url: `/lease/${id}` })).deleted, 0);
    assert.equal(follower.store.size, 0, 'the follower applied nothing itself');
    assert.deepEqual(
      follower.calls.map((c) => c.method),
      [],
    );
  } finally {
    await f.app.close();
    await leader.app.close();
  }
});
