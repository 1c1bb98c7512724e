/**
 * The coordination routes (issue 13): PUT /key/<k> (conditions, a lease), GET /keys (ranges),
 * POST /txn, and the lease routes POST /lease, POST /lease/<id>/keepalive, DELETE /lease/<id>,
 * GET /lease/<id>, GET /leases. The conditional DELETE /key/<k>?ifModRevision=… shares
 * `answerConditional` with PUT (routes-keys.ts owns the route).
 *
 * Why every conditional write is a transaction: one code path in the state machine evaluates the
 * compares when the entry applies (never against a follower's or the leader's possibly stale
 * view before proposing), and its failure branch reads the key in the same revision, so the 412
 * answer's `current` is exactly the state that failed the condition. Writes and linearizable/lease
 * reads need the leader and go through onWrite/onRead (context.ts) like the original routes; every
 * answer names the store's revision in X-Graftd-Revision.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TxnRequest, TxnResult } from '../kv/types.ts';
import { checkKey, parseReadLevel } from './body.ts';
import { checkQueryNames, parseLeaseGrantBody, parseLeaseIdParam, parsePutBody, parseRangeQuery, parseTxnBody } from './body-coord.ts';
import type { Query } from './body-coord.ts';
import { jsonType, onRead, onWrite, rawBody, revisionHeader } from './context.ts';
import type { HttpContext } from './context.ts';
import { errorBody } from './error-reply.ts';

/** Answer 200 with `body` as JSON and the revision header (when the answer has one). */
export function sendJson(reply: FastifyReply, body: unknown, revision?: number): FastifyReply {
  reply.code(200).header('content-type', jsonType);
  if (revision !== undefined) reply.header(revisionHeader, String(revision));
  return reply.send(JSON.stringify(body));
}

/** The key of a /key/* route (URL-decoded wildcard), checked. */
export function keyParam(request: FastifyRequest, ctx: HttpContext): string {
  const key = (request.params as Record<string, string | undefined>)['*'] ?? '';
  checkKey(key, ctx.limits);
  return key;
}

function leaseParam(request: FastifyRequest): string {
  return parseLeaseIdParam((request.params as Record<string, string | undefined>).id);
}

function queryOf(request: FastifyRequest): Query {
  return (request.query ?? {}) as Query;
}

/**
 * Run the transaction of a conditional single-key write (its failure branch is one get of `key`)
 * and answer: 200 with `success(result)` when the conditions held, 412 GRAFTD_CONDITION_FAILED
 * with the key's current state (null: absent) when they did not.
 */
export async function answerConditional(
  ctx: HttpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  key: string,
  txn: TxnRequest,
  success: (result: TxnResult) => unknown,
): Promise<FastifyReply> {
  const outcome = await onWrite(ctx, request, reply, () => ctx.node.txn(txn));
  if ('relayed' in outcome) return outcome.relayed;
  const result = outcome.result;
  reply.header(revisionHeader, String(result.revision));
  if (result.succeeded) return sendJson(reply, success(result));
  const got = result.results[0];
  const current = got !== undefined && got.op === 'get' ? (got.kvs[0] ?? null) : null;
  const why =
    current === null
      ? `key ${JSON.stringify(key)} does not exist`
      : `key ${JSON.stringify(key)} is at modRevision ${current.modRevision}, version ${current.version}`;
  const message = `the condition did not hold (${why}); nothing was written`;
  const body = JSON.parse(errorBody({ code: 'GRAFTD_CONDITION_FAILED', message })) as Record<string, unknown>;
  return reply
    .code(412)
    .header('content-type', jsonType)
    .send(JSON.stringify({ ...body, current }));
}

/** Register the coordination routes on `app`. */
export function registerCoordRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { node } = ctx;

  app.put('/key/*', async (request: FastifyRequest, reply: FastifyReply) => {
    const key = keyParam(request, ctx);
    checkQueryNames(queryOf(request), [], 'PUT /key/<key> (conditions go in the body)');
    const txn = parsePutBody(rawBody(request), key, ctx.limits);
    return answerConditional(ctx, request, reply, key, txn, (result) => ({ revision: result.revision }));
  });

  app.get('/keys', async (request: FastifyRequest, reply: FastifyReply) => {
    const { request: range, level } = parseRangeQuery(queryOf(request), ctx.limits);
    const outcome = await onRead(ctx, request, reply, level, () => node.range(range, level));
    if ('relayed' in outcome) return outcome.relayed;
    const page = outcome.result;
    return sendJson(reply, { revision: page.revision, kvs: page.kvs, more: page.more, next: page.next }, page.revision);
  });

  app.post('/txn', async (request: FastifyRequest, reply: FastifyReply) => {
    checkQueryNames(queryOf(request), [], 'POST /txn');
    const txn = parseTxnBody(rawBody(request), ctx.limits);
    const outcome = await onWrite(ctx, request, reply, () => node.txn(txn));
    if ('relayed' in outcome) return outcome.relayed;
    const r = outcome.result;
    return sendJson(reply, { succeeded: r.succeeded, revision: r.revision, results: r.results }, r.revision);
  });

  app.post('/lease', async (request: FastifyRequest, reply: FastifyReply) => {
    checkQueryNames(queryOf(request), [], 'POST /lease');
    const ttl = parseLeaseGrantBody(rawBody(request));
    const outcome = await onWrite(ctx, request, reply, () => node.leaseGrant(ttl));
    if ('relayed' in outcome) return outcome.relayed;
    return sendJson(reply, { id: outcome.result.id, ttl: outcome.result.ttl });
  });

  app.post('/lease/:id/keepalive', async (request: FastifyRequest, reply: FastifyReply) => {
    const id = leaseParam(request);
    checkQueryNames(queryOf(request), [], 'POST /lease/<id>/keepalive');
    const outcome = await onWrite(ctx, request, reply, () => node.leaseKeepAlive(id));
    if ('relayed' in outcome) return outcome.relayed;
    return sendJson(reply, { id: outcome.result.id, ttl: outcome.result.ttl });
  });

  app.delete('/lease/:id', async (request: FastifyRequest, reply: FastifyReply) => {
    const id = leaseParam(request);
    checkQueryNames(queryOf(request), [], 'DELETE /lease/<id>');
    const outcome = await onWrite(ctx, request, reply, () => node.leaseRevoke(id));
    if ('relayed' in outcome) return outcome.relayed;
    const r = outcome.result;
    return sendJson(reply, { revision: r.revision, deleted: r.deleted }, r.revision);
  });

  app.get('/lease/:id', async (request: FastifyRequest, reply: FastifyReply) => {
    const id = leaseParam(request);
    const query = queryOf(request);
    checkQueryNames(query, ['level'], 'GET /lease/<id>');
    const level = parseReadLevel(query.level);
    const outcome = await onRead(ctx, request, reply, level, () => node.leaseGet(id, level));
    if ('relayed' in outcome) return outcome.relayed;
    const l = outcome.result;
    return sendJson(reply, { id: l.id, ttl: l.ttl, remaining: l.remaining, keys: l.keys, moreKeys: l.moreKeys }, l.revision);
  });

  app.get('/leases', async (request: FastifyRequest, reply: FastifyReply) => {
    const query = queryOf(request);
    checkQueryNames(query, ['level'], 'GET /leases');
    const level = parseReadLevel(query.level);
    const outcome = await onRead(ctx, request, reply, level, () => node.leaseList(level));
    if ('relayed' in outcome) return outcome.relayed;
    const r = outcome.result;
    return sendJson(reply, { revision: r.revision, leases: r.leases }, r.revision);
  });
}
