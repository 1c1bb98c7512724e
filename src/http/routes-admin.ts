/**
 * Membership and operations routes: /join, /remove, /transfer-leader, /status, /healthz,
 * /readyz, /snapshot, /metrics.
 *
 * Why together: each is a thin shell over one GraftNode call; membership changes need the
 * leader and are forwarded like writes.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authorizeJoin } from './authorize-join.ts';
import { parseJoinBody, parseRemoveBody, parseTransferBody } from './body.ts';
import { jsonType, onLeader, rawBody, sendError } from './context.ts';
import type { HttpContext } from './context.ts';
import { retryAfterSeconds } from './error-reply.ts';
import { VERSION } from '../version.ts';
import { challengesFor } from './guard.ts';

/** Register the membership and operations routes on `app`. */
export function registerAdminRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { node } = ctx;

  app.post('/join', async (request: FastifyRequest, reply: FastifyReply) => {
    const parsed = parseJoinBody(rawBody(request));
    const verdict = authorizeJoin(ctx, request, parsed);
    if (verdict.refused !== undefined) {
      if (verdict.refused.status === 401) reply.header('www-authenticate', challengesFor(request));
      return sendError(reply, verdict.refused);
    }
    const join = verdict.verifyPeer ? { ...parsed.join, verifyPeer: true } : parsed.join;
    const relayed = await onLeader(ctx, request, reply, () => node.join(join));
    return relayed ?? reply.code(200).send();
  });

  app.post('/remove', async (request: FastifyRequest, reply: FastifyReply) => {
    const id = parseRemoveBody(rawBody(request));
    const relayed = await onLeader(ctx, request, reply, () => node.remove(id));
    return relayed ?? reply.code(200).send();
  });

  app.post('/transfer-leader', async (request: FastifyRequest, reply: FastifyReply) => {
    const id = parseTransferBody(rawBody(request));
    let leader = '';
    const relayed = await onLeader(ctx, request, reply, async () => {
      leader = await node.transferLeader(id);
    });
    return relayed ?? reply.code(200).header('content-type', jsonType).send(JSON.stringify({ leader }));
  });

  app.get('/status', async (_request: FastifyRequest, reply: FastifyReply) => {
    // version: the software release answering (graftctl shows it; a rolling upgrade checks it per node).
    const status = { ...node.status(), version: VERSION };
    const body = ctx.security === undefined ? status : { ...status, insecure: ctx.security.insecure };
    return reply.header('content-type', jsonType).send(JSON.stringify(body));
  });

  app.get('/healthz', async (_request: FastifyRequest, reply: FastifyReply) => {
    const fault = node.status().fault;
    if (fault === '') return reply.header('content-type', jsonType).send('{"ok":true}');
    // A permanent failure (e.g. the WAL could not write): a supervisor should replace this process.
    return reply
      .code(503)
      .header('retry-after', String(retryAfterSeconds))
      .header('content-type', jsonType)
      .send(JSON.stringify({ ok: false, error: `node ${node.id} has failed: ${fault}`, code: 'GRAFTD_STORAGE_FAILED' }));
  });

  app.get('/readyz', async (_request: FastifyRequest, reply: FastifyReply) => {
    if (node.isReady()) return reply.header('content-type', jsonType).send('{"ready":true}');
    const s = node.status();
    const reason =
      s.leaderId === ''
        ? 'no leader is known'
        : `applied index ${s.appliedIndex} is behind commit index ${s.commitIndex}${s.fault === '' ? '' : `; fault: ${s.fault}`}`;
    const body = {
      ready: false,
      error: `not ready: ${reason}`,
      code: s.leaderId === '' ? 'GRAFTD_NO_LEADER' : 'GRAFTD_UNAVAILABLE',
      leaderId: s.leaderId,
      commitIndex: s.commitIndex,
      appliedIndex: s.appliedIndex,
    };
    return reply.code(503).header('retry-after', String(retryAfterSeconds)).header('content-type', jsonType).send(JSON.stringify(body));
  });

  app.get('/snapshot', async (_request: FastifyRequest, reply: FastifyReply) => {
    const data = await node.backup();
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', `attachment; filename="graftd-${node.id}.snapshot"`)
      .send(Readable.from(data, { objectMode: false }));
  });

  app.get('/metrics', async (_request: FastifyRequest, reply: FastifyReply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.header('content-type', ctx.metrics.registry.contentType).send(text);
  });
}
