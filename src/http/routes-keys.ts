/**
 * The key routes: POST /key, GET /key/<key>, DELETE /key/<key> (the original's, shapes kept), and
 * what issue 13 added to them: X-Graftd-Revision on every answer, `GET /key/<k>?meta=true`, and
 * `DELETE /key/<k>?ifModRevision=…` (conditional, via the transaction of routes-coord.ts).
 *
 * Why a wildcard route: keys may contain any character, '/' included; the router hands us
 * everything after '/key/' URL-decoded. Writes and linearizable/lease reads need the leader: a node
 * that forwards them itself over the raft transport (writes: the command; reads: a read-index
 * request, then served from local state) is called directly (`onLeaderWrite`); otherwise they are
 * relayed to the leader over HTTP (`onLeader`). Stale reads are always served locally.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraftdError } from '../errors.ts';
import { parseReadLevel, parseSetBody } from './body.ts';
import { parseDeleteQuery, queryFlag } from './body-coord.ts';
import type { Query } from './body-coord.ts';
import { jsonType, onRead, onWrite, rawBody, revisionHeader } from './context.ts';
import type { HttpContext } from './context.ts';
import { answerConditional, keyParam } from './routes-coord.ts';

/** Register the key routes on `app`. */
export function registerKeyRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { node } = ctx;

  app.post('/key', async (request: FastifyRequest, reply: FastifyReply) => {
    const pairs = parseSetBody(rawBody(request), ctx.limits);
    const outcome = await onWrite(ctx, request, reply, () => node.set(pairs));
    if ('relayed' in outcome) return outcome.relayed;
    return reply.code(200).header(revisionHeader, String(outcome.result)).send();
  });

  app.get('/key/*', async (request: FastifyRequest, reply: FastifyReply) => {
    const key = keyParam(request, ctx);
    const query = (request.query ?? {}) as Query;
    const level = parseReadLevel(query.level);
    const meta = queryFlag(query, 'meta');
    // GRAFTD_TEST_FAULT=stale-linearizable-reads (tests only: proves the chaos checker catches a
    // broken server; passed in as HttpServerOptions.testFault) serves every level from local state
    // (onRead). The plain answer keeps the original's shape; the revision comes from getMeta.
    const outcome = await onRead(ctx, request, reply, level, () => node.getMeta(key, level));
    if ('relayed' in outcome) return outcome.relayed;
    const { kv, revision } = outcome.result;
    reply.header(revisionHeader, String(revision));
    if (kv === undefined) throw new GraftdError('GRAFTD_KEY_NOT_FOUND', `key ${JSON.stringify(key)} not found`);
    const body = meta
      ? {
          key: kv.key,
          value: kv.value ?? '',
          createRevision: kv.createRevision,
          modRevision: kv.modRevision,
          version: kv.version,
          lease: kv.lease,
        }
      : { [key]: kv.value ?? '' };
    return reply.code(200).header('content-type', jsonType).send(JSON.stringify(body));
  });

  app.delete('/key/*', async (request: FastifyRequest, reply: FastifyReply) => {
    const key = keyParam(request, ctx);
    const conditional = parseDeleteQuery((request.query ?? {}) as Query, key, ctx.limits);
    if (conditional !== undefined) {
      return answerConditional(ctx, request, reply, key, conditional, (result) => {
        const first = result.results[0];
        return { revision: result.revision, deleted: first !== undefined && first.op === 'delete' ? first.deleted : 0 };
      });
    }
    const outcome = await onWrite(ctx, request, reply, () => node.del([key]));
    if ('relayed' in outcome) return outcome.relayed;
    return reply.code(200).header(revisionHeader, String(outcome.result)).send();
  });
}
