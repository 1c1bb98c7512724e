/**
 * What the route modules share: the node, limits, logger, relay and metrics of one server,
 * and the helpers that answer errors and relay to the leader.
 *
 * Why: keeps each route file a flat list of handlers, with the leader/forwarding rules and
 * the error shape written once.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GraftdError, NotLeaderError } from '../errors.ts';
import type { Log } from '../log.ts';
import type { GraftNode, NodeStatus, ReadLevel } from '../node/api.ts';
import type { HttpSecurity } from '../security/http-security.ts';
import type { InputLimits } from './body.ts';
import { errorBody, retryAfterSeconds } from './error-reply.ts';
import type { ErrorReply } from './error-reply.ts';
import { forwardedHeader } from './leader-relay.ts';
import type { LeaderRelay } from './leader-relay.ts';
import type { HttpMetrics } from './metrics.ts';

export interface HttpContext {
  readonly node: GraftNode;
  readonly log: Log;
  readonly limits: InputLimits;
  readonly maxBodyBytes: number;
  readonly relay: LeaderRelay;
  readonly metrics: HttpMetrics;
  /** Absent: no auth file, no TLS, no join proofs (everything open, as before issue 10). */
  readonly security: HttpSecurity | undefined;
  /** GRAFTD_TEST_FAULT=stale-linearizable-reads (tests only; HttpServerOptions.testFault). */
  readonly staleReadsFault: boolean;
}

export const jsonType = 'application/json; charset=utf-8';

/** The header naming the store's revision on every answer that reads or writes keys or leases (issue 13). */
export const revisionHeader = 'x-graftd-revision';

/** Answer with the error shape; 503s carry Retry-After. */
export function sendError(reply: FastifyReply, err: ErrorReply): FastifyReply {
  reply.code(err.status).header('content-type', jsonType);
  if (err.status === 503) reply.header('retry-after', String(retryAfterSeconds));
  return reply.send(errorBody(err));
}

/** The raw request body (our only content-type parser yields a Buffer), or undefined when there was none. */
export function rawBody(request: FastifyRequest): Buffer | undefined {
  const body = request.body;
  return Buffer.isBuffer(body) ? body : undefined;
}

function noLeader(message: string): GraftdError {
  return new GraftdError('GRAFTD_NO_LEADER', message);
}

/**
 * The leader id seen when a request started, so the X-Graftd-Leader header needs no second
 * node.status() call (see `leaderIdFor`).
 */
const leaderAtStart = new WeakMap<FastifyRequest, string>();

/** The leader id to name in this request's response headers ('' when none is known). */
export function leaderIdFor(node: GraftNode, request: FastifyRequest): string {
  return leaderAtStart.get(request) ?? node.leadership().leaderId;
}

/**
 * Run `action` on this node; if it needs the leader and this node is not the leader, forward the
 * request to the leader and relay its answer instead. Any other error propagates (the error
 * handler shapes it). A request that was already forwarded once is never forwarded again.
 *
 * A follower is recognised from node.status() before calling the node, so the common forwarding
 * path costs no thrown NotLeaderError (an Error with a stack trace per request); the node's own
 * NotLeaderError still covers leadership changing in between.
 */
export async function onLeader(
  ctx: HttpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  action: () => Promise<void>,
): Promise<FastifyReply | undefined> {
  const { node } = ctx;
  const forwardedFrom = request.headers[forwardedHeader];
  if (forwardedFrom === undefined) {
    const leadership = node.leadership();
    leaderAtStart.set(request, leadership.leaderId);
    if (!leadership.isLeader) return relayToLeader(ctx, request, reply, node.status(), '');
  }
  try {
    await action();
    return undefined;
  } catch (err) {
    if (!(err instanceof NotLeaderError)) throw err;
    if (forwardedFrom !== undefined) {
      throw noLeader(
        `node ${node.id} received a request forwarded by ${String(forwardedFrom)} but is not the leader (${err.leader === '' ? 'no leader known' : `leader is ${err.leader}`}); leadership is changing, retry`,
      );
    }
    return relayToLeader(ctx, request, reply, node.status(), err.leader);
  }
}

/**
 * Run a write (set/del) on a node that forwards writes itself (GraftNode.forwardsWrites): no HTTP
 * relay. Falls back to `onLeader` for nodes that do not, and for requests already forwarded by
 * HTTP. A NotLeaderError (no leader known, or the leader stepped down before proposing; no
 * effect either way) is answered 503 GRAFTD_NO_LEADER like a relay that could not be sent.
 */
export async function onLeaderWrite(
  ctx: HttpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  action: () => Promise<void>,
  forwardsItself: boolean | undefined = ctx.node.forwardsWrites,
): Promise<FastifyReply | undefined> {
  const { node, metrics } = ctx;
  const forwardedFrom = request.headers[forwardedHeader];
  if (forwardsItself !== true) return onLeader(ctx, request, reply, action);
  const leadership = node.leadership();
  if (forwardedFrom !== undefined && !leadership.isLeader) {
    // Forwarded by HTTP already (a node without transport forwarding): never forwarded again.
    throw noLeader(`node ${node.id} received a request forwarded by ${String(forwardedFrom)} but is not the leader; retry`);
  }
  leaderAtStart.set(request, leadership.leaderId);
  if (leadership.isLeader) {
    await action();
    return undefined;
  }
  try {
    await action();
  } catch (err) {
    metrics.forwarded(
      err instanceof GraftdError && err.httpStatus === 503
        ? 'not_sent'
        : err instanceof GraftdError && err.httpStatus === 504
          ? 'unknown'
          : 'relayed',
    );
    if (err instanceof NotLeaderError) {
      const leader = err.leader !== '' ? err.leader : leadership.leaderId;
      if (leader !== '' && leader !== node.id) reply.header('x-graftd-leader', leader);
      throw noLeader(
        `node ${node.id} is not the leader and ${leader === '' || leader === node.id ? 'no leader is known' : `the request could not be forwarded to ${leader} (${err.message})`}; retry`,
      );
    }
    throw err;
  }
  metrics.forwarded('relayed');
  reply.header('x-graftd-forwarded-by', node.id);
  return undefined;
}

async function relayToLeader(
  ctx: HttpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  status: NodeStatus,
  leaderHint: string,
): Promise<FastifyReply> {
  const { node, relay, metrics } = ctx;
  const leaderId = status.leaderId !== '' ? status.leaderId : leaderHint;
  if (leaderId === '' || leaderId === node.id) throw noLeader(`node ${node.id} is not the leader and no leader is known; retry`);
  if (status.leaderHttpAddr === '')
    throw noLeader(`the leader ${leaderId} has no known HTTP address (it joined without httpAddr); retry on the leader`);
  let answer: Awaited<ReturnType<LeaderRelay['send']>>;
  try {
    answer = await relay.send(status.leaderHttpAddr, {
      method: request.method as 'GET' | 'POST' | 'PUT' | 'DELETE',
      path: request.url,
      contentType: request.headers['content-type'],
      body: rawBody(request),
      authorization: request.headers.authorization,
    });
  } catch (forwardErr) {
    metrics.forwarded(forwardErr instanceof GraftdError && forwardErr.httpStatus === 503 ? 'not_sent' : 'unknown');
    if (forwardErr instanceof GraftdError) reply.header('x-graftd-leader', leaderId);
    throw forwardErr;
  }
  metrics.forwarded('relayed');
  reply.code(answer.status);
  for (const [name, value] of Object.entries(answer.headers)) reply.header(name, value);
  if (answer.headers['x-graftd-leader'] === undefined) reply.header('x-graftd-leader', leaderId);
  reply.header('x-graftd-forwarded-by', node.id);
  // An empty relayed answer stays empty (no content-type), exactly like a local one.
  return answer.body.length === 0 ? reply.send() : reply.send(answer.body);
}

/**
 * Run a read at `level`: stale reads (and every read under the stale-linearizable-reads test fault)
 * from local state on any node, never forwarded; linearizable and lease reads directly on a node
 * that serves follower reads itself (read index over the raft transport), else relayed to the
 * leader over HTTP. Resolves with the read's result, or with the relayed reply (already answered).
 */
export async function onRead<T>(
  ctx: HttpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  level: ReadLevel,
  read: () => Promise<T>,
): Promise<{ readonly result: T } | { readonly relayed: FastifyReply }> {
  if (level === 'stale' || ctx.staleReadsFault) return { result: await read() };
  let result: { value: T } | undefined;
  const relayed = await onLeaderWrite(
    ctx,
    request,
    reply,
    async () => {
      result = { value: await read() };
    },
    ctx.node.forwardsReads,
  );
  if (relayed !== undefined) return { relayed };
  if (result === undefined) throw new GraftdError('GRAFTD_INTERNAL', 'invariant violated: a read completed without a result');
  return { result: result.value };
}

/** Run a write needing the leader (onLeaderWrite) and resolve with its result, or with the relayed reply. */
export async function onWrite<T>(
  ctx: HttpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  write: () => Promise<T>,
): Promise<{ readonly result: T } | { readonly relayed: FastifyReply }> {
  let result: { value: T } | undefined;
  const relayed = await onLeaderWrite(ctx, request, reply, async () => {
    result = { value: await write() };
  });
  if (relayed !== undefined) return { relayed };
  if (result === undefined) throw new GraftdError('GRAFTD_INTERNAL', 'invariant violated: a write completed without a result');
  return { result: result.value };
}
