/**
 * Assertions on coded errors shared by the tests: the status and code a rejection carries.
 *
 * Why: several test files kept their own copy of these two functions (the duplicates tool).
 */
import assert from 'node:assert/strict';
import { GraftdError } from '../../src/errors.ts';

/** "<httpStatus> <code>" of a GraftdError; fails the test for anything else. */
export function codeOf(err: unknown): string {
  assert.ok(err instanceof GraftdError, `expected a GraftdError, got ${String(err)}`);
  return `${err.httpStatus} ${err.code}`;
}

/** "<httpStatus> <code>" of the GraftdError `p` rejects with; fails the test when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return codeOf(err);
  }
  assert.fail('expected a rejection');
}
