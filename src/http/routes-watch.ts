/**
 * GET /watch: a Server-Sent Events stream of the changes to one key or a prefix (issue 14).
 *
 * Why a route of its own: the stream is long-lived and written outside fastify's reply cycle
 * (the response is hijacked once its headers are decided); everything that can be refused —
 * bad parameters, a start revision older than the kept history (410), the watcher caps (503) —
 * is decided before the 200 is committed, so a refusal is an ordinary JSON error.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraftdError } from '../errors.ts';
import { checkKey } from './body.ts';
import { jsonType, revisionHeader, sendError } from './context.ts';
import type { HttpContext } from './context.ts';
import { errorBody, errorReply } from './error-reply.ts';
import type { WatchFilter, WatchHub } from './watch-hub.ts';

type Query = Readonly<Record<string, unknown>>;

const QUERY_NAMES = new Set(['key', 'prefix', 'fromRevision', 'prevValue']);

function bad(message: string): GraftdError {
  return new GraftdError('GRAFTD_INVALID_BODY', message);
}

function revisionParam(raw: unknown, name: string, min: number): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw) || Number(raw) < min)
    throw bad(`${name} must be a whole number ≥ ${min}, found ${JSON.stringify(String(raw)).slice(0, 40)}`);
  return Number(raw);
}

/** The filter, start revision and options of a watch request. `current`: the node's applied revision. */
export function parseWatchRequest(
  query: Query,
  lastEventId: string | string[] | undefined,
  current: number,
  ctx: Pick<HttpContext, 'limits'>,
): { filter: WatchFilter; from: number; prevValue: boolean } {
  for (const name of Object.keys(query)) {
    if (!QUERY_NAMES.has(name))
      throw bad(`unknown query parameter ${JSON.stringify(name)}; expected key or prefix, fromRevision, prevValue`);
  }
  const { key, prefix } = query;
  if ((key === undefined) === (prefix === undefined)) throw bad('give exactly one of key=K or prefix=P');
  let filter: WatchFilter;
  if (key !== undefined) {
    if (typeof key !== 'string') throw bad('key must be given once');
    checkKey(key, ctx.limits);
    filter = { key };
  } else {
    if (typeof prefix !== 'string') throw bad('prefix must be given once');
    filter = { prefix };
  }
  const pv = query.prevValue;
  if (pv !== undefined && pv !== 'true' && pv !== 'false') throw bad('prevValue must be true or false');
  const resumeAfter = revisionParam(Array.isArray(lastEventId) ? lastEventId[0] : lastEventId, 'the Last-Event-ID header', 0);
  const fromRevision = revisionParam(query.fromRevision, 'fromRevision', 1);
  // Resuming (Last-Event-ID: the last revision fully received) wins over the original fromRevision.
  const from = resumeAfter !== undefined ? resumeAfter + 1 : (fromRevision ?? current + 1);
  return { filter, from, prevValue: pv === 'true' };
}

/** Register GET /watch on `app` (answers 503 when the node has no change feed). */
export function registerWatchRoutes(app: FastifyInstance, ctx: HttpContext, hub: WatchHub | undefined): void {
  app.get('/watch', async (request: FastifyRequest, reply: FastifyReply) => {
    const source = ctx.node.changes?.();
    if (hub === undefined || source === undefined) throw new GraftdError('GRAFTD_UNAVAILABLE', 'this node does not serve watches');
    const { filter, from, prevValue } = parseWatchRequest(
      (request.query ?? {}) as Query,
      request.headers['last-event-id'],
      source.revision,
      ctx,
    );
    const spec = { filter, from, prevValue, address: request.ip };
    const refusal = hub.check(spec);
    if (refusal?.refused === 'compacted') {
      const message = `revision ${from} is no longer kept on this node; the oldest a watch can start from is ${refusal.oldest}`;
      const body = { ...(JSON.parse(errorBody({ code: 'GRAFTD_REVISION_COMPACTED', message })) as object), oldest: refusal.oldest };
      return reply.code(410).header('content-type', jsonType).header(revisionHeader, String(source.revision)).send(JSON.stringify(body));
    }
    if (refusal?.refused === 'limit') return sendError(reply, errorReply('GRAFTD_TOO_MANY_CONNECTIONS', refusal.message));
    if (refusal?.refused === 'closing') return sendError(reply, errorReply('GRAFTD_SHUTTING_DOWN', 'the server is shutting down; watch another node'));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      [revisionHeader]: String(source.revision),
    });
    res.socket?.setNoDelay(true);
    // A reconnecting EventSource waits 1 s; the comment names where the stream starts.
    res.write(`retry: 1000\n: watching from revision ${from}\n\n`);
    hub.start(res, spec);
  });
}
