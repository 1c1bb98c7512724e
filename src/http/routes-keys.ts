/**
 * The key routes: POST /key, GET /key/<key>, DELETE /key/<key>.
 *
 * Why a wildcard route: keys may contain any character, '/' included; the router hands us
 * everything after '/key/' URL-decoded. Writes and linearizable/lease reads need the leader: a node
 * that forwards them itself over the raft transport (writes: the command; reads: a read-index
 * request, then served from local state) is called directly (`onLeaderWrite`); otherwise they are
 * relayed to the leader over HTTP (`onLeader`). Stale reads are always served locally.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraftdError } from '../errors.ts';
import { checkKey, parseReadLevel, parseSetBody } from './body.ts';
import { jsonType, onLeaderWrite, rawBody } from './context.ts';
import type { HttpContext } from './context.ts';

function keyParam(request: FastifyRequest, ctx: HttpContext): string {
  const key = (request.params as Record<string, string | undefined>)['*'] ?? '';
  checkKey(key, ctx.limits);
  return key;
}

/** Register the key routes on `app`. */
export function registerKeyRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { node } = ctx;

  app.post('/key', async (request: FastifyRequest, reply: FastifyReply) => {
    const pairs = parseSetBody(rawBody(request), ctx.limits);
    const relayed = await onLeaderWrite(ctx, request, reply, () => node.set(pairs));
    return relayed ?? reply.code(200).send();
  });

  app.get('/key/*', async (request: FastifyRequest, reply: FastifyReply) => {
    const key = keyParam(request, ctx);
    const level = parseReadLevel((request.query as Record<string, unknown>).level);
    let value: string | undefined;
    // GRAFTD_TEST_FAULT=stale-linearizable-reads (tests only: proves the chaos checker catches a
    // broken server; passed in as HttpServerOptions.testFault) serves every level from local state.
    if (level === 'stale' || ctx.staleReadsFault) {
      // Local state, any node, never forwarded (the original's behaviour).
      value = await node.get(key, level);
    } else {
      // A node that serves follower reads itself (read index over the raft transport) is called
      // directly; otherwise the read is relayed to the leader over HTTP.
      const relayed = await onLeaderWrite(
        ctx,
        request,
        reply,
        async () => {
          value = await node.get(key, level);
        },
        node.forwardsReads,
      );
      if (relayed !== undefined) return relayed;
    }
    if (value === undefined) throw new GraftdError('GRAFTD_KEY_NOT_FOUND', `key ${JSON.stringify(key)} not found`);
    return reply
      .code(200)
      .header('content-type', jsonType)
      .send(JSON.stringify({ [key]: value }));
  });

  app.delete('/key/*', async (request: FastifyRequest, reply: FastifyReply) => {
    const key = keyParam(request, ctx);
    const relayed = await onLeaderWrite(ctx, request, reply, () => node.del([key]));
    return relayed ?? reply.code(200).send();
  });
}
