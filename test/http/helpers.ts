/**
 * Shared helpers of the HTTP tests: build a server around a fake node, decode error bodies.
 *
 * Why: every test file starts servers the same way and checks the same error shape.
 */
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createHttpServer } from '../../src/http/index.ts';
import type { HttpServerOptions } from '../../src/http/index.ts';
import { silentLog } from '../../src/log.ts';
import { FakeNode } from './fake-node.ts';

/** A server around `node` (a fresh leader by default), with process metrics off. */
export async function makeServer(
  node: FakeNode = new FakeNode(),
  opts: Partial<Omit<HttpServerOptions, 'node'>> = {},
): Promise<{ app: FastifyInstance; node: FakeNode }> {
  const app = await createHttpServer({ node, log: silentLog, processMetrics: false, ...opts });
  return { app, node };
}

/** Assert that `res` is an error answer with `status` and `code` in our JSON shape. */
export function assertError(res: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode} ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(res.body) as { error?: unknown; code?: unknown };
  assert.equal(body.code, code);
  assert.equal(typeof body.error, 'string');
  assert.ok((body.error as string).length > 0);
  if (status === 503) assert.equal(res.headers['retry-after'], '1');
}
