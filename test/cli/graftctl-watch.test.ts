/**
 * graftctl watch / lock / elect without a cluster: usage errors exit 2 before anything is sent
 * (the endpoints are dead addresses), and the one-line change format. The commands against real
 * processes — changes printed, SIGINT exit 0, the lock's exit code, election failover — are in
 * test/integration/watch.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changeLine } from '../../src/cli/graftctl-watch.ts';
import { graftctl } from '../client/helpers.ts';

/** Nothing listens here (127.0.0.239 is allocated to the watch tests; port 1 is never served). */
const DEAD = ['--endpoints', '127.0.0.239:1', '--retries', '0'];

test('usage errors exit 2 with one line, before any request', async () => {
  const cases: [string[], RegExp][] = [
    [['watch'], /KEY or --prefix/],
    [['watch', 'k', '--prefix', 'p/'], /KEY or --prefix/],
    [['watch', 'k', '--rev', '0'], /revision/],
    [['watch', 'k', '--rev', 'x'], /revision/],
    [['lock', 'name'], /needs a command after --/],
    [['lock', 'name', '--ttl', '0', '--', 'true'], /TTL/],
    [['lock'], /missing required argument/],
    [['elect', 'name'], /NAME VALUE/],
    [['elect', 'name', 'v', '--listen'], /takes no VALUE/],
    [['elect', 'name', 'v', '--ttl', '-1'], /TTL|unknown option/],
  ];
  for (const [args, message] of cases) {
    const r = await graftctl([...DEAD, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.equal(r.stdout, '');
  }
});

test('an unreachable cluster: lock exits 1 with one line', async () => {
  const r = await graftctl([...DEAD, 'lock', 'name', '--', 'true']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot reach|unreachable|connection refused/i);
});

test('one line per change, tab-separated; values that would break the line are quoted', () => {
  const base = { createRevision: 3, version: 1 };
  assert.equal(changeLine({ ...base, type: 'put', key: 'a', value: 'x y', modRevision: 7 }, false), '7\tPUT\ta\tx y\n');
  assert.equal(
    changeLine({ ...base, type: 'put', key: 'a', value: 'two\nlines', modRevision: 8, prevValue: '' }, true),
    '8\tPUT\ta\t"two\\nlines"\t(was "")\n',
  );
  assert.equal(
    changeLine({ type: 'delete', key: 'a', createRevision: 0, version: 0, modRevision: 9, prevValue: 'x y' }, true),
    '9\tDELETE\ta\t(was x y)\n',
  );
  assert.equal(
    changeLine({ type: 'delete', key: 'a', createRevision: 0, version: 0, modRevision: 9, prevValue: 'x' }, false),
    '9\tDELETE\ta\n',
  );
});
