/**
 * The route-pattern table that tells 405 from 404.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MethodTable } from '../../src/http/method-table.ts';

test('patterns match static, parametric and wildcard paths', () => {
  const t = new MethodTable();
  t.add('/key', 'POST');
  t.add('/key/*', ['GET', 'HEAD']);
  t.add('/key/*', 'delete');
  t.add('/members/:id', 'GET');
  t.add('/a.b', 'GET');
  assert.deepEqual(t.allowed('/key'), ['POST']);
  assert.deepEqual(t.allowed('/key/x/y'), ['DELETE', 'GET', 'HEAD']);
  assert.deepEqual(t.allowed('/key/'), ['DELETE', 'GET', 'HEAD']);
  assert.deepEqual(t.allowed('/members/n1'), ['GET']);
  assert.deepEqual(t.allowed('/members/n1/x'), []);
  assert.deepEqual(t.allowed('/a.b'), ['GET']);
  assert.deepEqual(t.allowed('/aXb'), [], 'dots are literal');
  assert.deepEqual(t.allowed('/keys'), []);
  assert.deepEqual(t.allowed('/'), []);
});
