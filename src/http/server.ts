/**
 * Builds the fastify instance of the client-facing HTTP API (not listening; the caller listens).
 *
 * Why this shape: every body is taken as raw bytes and parsed as JSON by us whatever its
 * content-type (the original README uses `curl -d`), and every error — ours, the router's,
 * the body parser's, the HTTP parser's — leaves in the one `{"error","code"}` shape.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Log } from '../log.ts';
import type { TestFault } from '../node/config.ts';
import type { GraftNode } from '../node/api.ts';
import type { HttpSecurity } from '../security/http-security.ts';
import { defaultMaxBodyBytes, defaultMaxKeyBytes, defaultMaxValueBytes } from './body.ts';
import { limitConnections } from './conn-limit.ts';
import type { ConnectionCounts } from './conn-limit.ts';
import { jsonType, leaderIdFor, sendError } from './context.ts';
import type { HttpContext } from './context.ts';
import { errorBody, errorReply, toErrorReply } from './error-reply.ts';
import { LeaderRelay } from './leader-relay.ts';
import { HttpGuard } from './guard.ts';
import { MethodTable } from './method-table.ts';
import { HttpMetrics } from './metrics.ts';
import { logRequest } from './request-log.ts';
import { registerAdminRoutes } from './routes-admin.ts';
import { registerCoordRoutes } from './routes-coord.ts';
import { registerKeyRoutes } from './routes-keys.ts';
import { registerWatchRoutes } from './routes-watch.ts';
import { type WatchLimits, WatchHub } from './watch-hub.ts';

/** What a plugin gets besides the app: the server's guard (Origin and credential checks) and security config. */
export interface HttpPluginContext {
  readonly guard: HttpGuard;
  readonly security: HttpSecurity | undefined;
}

/**
 * A plugin adds routes to the server (e.g. the live view's /ui and /events). Request bodies reach
 * it as a Buffer. Its fastify routes pass the guard like every route (admin unless listed in
 * guard.ts); what it serves outside fastify (WebSocket upgrades) must call `ctx.guard` itself.
 */
export type HttpPlugin = (app: FastifyInstance, ctx: HttpPluginContext) => Promise<void>;

/** Live connection counts of a server made by createHttpServer (tests, metrics). */
export const connectionCounts = new WeakMap<FastifyInstance, ConnectionCounts>();

export interface HttpServerOptions {
  readonly node: GraftNode;
  readonly log: Log;
  /** Watch stream caps and progress interval (GET /watch; src/http/watch-hub.ts). Missing fields: DEFAULT_WATCH_LIMITS. */
  readonly watch?: Partial<WatchLimits>;
  /** Max request body bytes (413 beyond). Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Max UTF-8 bytes of a key (400 beyond). Default 1024. */
  readonly maxKeyBytes?: number;
  /** Max UTF-8 bytes of a value (413 beyond). Default 256 KiB. */
  readonly maxValueBytes?: number;
  /** Max wait for the leader's answer to a forwarded request (504 beyond, outcome unknown). Default 12 000 ms, above the node's own 10 s request timeout so the leader's answer is relayed. */
  readonly forwardTimeoutMs?: number;
  /** Local address of connections to the leader (this node's own host, so per-address firewall rules apply); absent = OS choice. */
  readonly forwardLocalAddress?: string;
  /** Max time to connect to the leader (503 beyond, not sent). Default min(3000, forwardTimeoutMs). */
  readonly forwardConnectTimeoutMs?: number;
  /** Keep-alive connections per leader address. Default 64. */
  readonly forwardConnections?: number;
  /** Forwards in flight at once (503 beyond). Default 4096. */
  readonly maxForwardInflight?: number;
  /** Export process metrics (CPU, memory, event loop lag) on /metrics. Default true. */
  readonly processMetrics?: boolean;
  readonly plugins?: ReadonlyArray<HttpPlugin>;
  /** Users, TLS, allowed origins, join proofs (src/security/http-security.ts). Absent: open plain HTTP (Origin rule still applies). */
  readonly security?: HttpSecurity;
  /** Max time to receive a whole request (headers and body); the connection is then closed (408). Default 30 000 ms. */
  readonly requestTimeoutMs?: number;
  /** Max time to receive the request headers, also from a new connection that sends nothing. Default 10 000 ms (at most requestTimeoutMs). */
  readonly headersTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this long. Default 5000 ms. */
  readonly keepAliveTimeoutMs?: number;
  /** Open connections in total; new ones beyond are closed at once. Default 1024. */
  readonly maxConnections?: number;
  /** Open connections per remote address; new ones beyond are closed at once. Default 256. */
  readonly maxConnectionsPerAddress?: number;
  /** Log every answered request at info (method, URL with credentials redacted, status, ms, remote). Default false (graftd: LOG_REQUESTS, read by src/config.ts). */
  readonly logRequests?: boolean;
  /**
   * GRAFTD_TEST_FAULT, as parsed by src/config.ts (tests only): 'stale-linearizable-reads' serves
   * every read level from local state instead of relaying it. Default '' (no fault).
   */
  readonly testFault?: TestFault;
}

const bodyMethods: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Answer HTTP parser errors (malformed requests, oversized headers) in our error shape, then close. */
function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = errorBody({
    code: status === 431 ? 'GRAFTD_TOO_LARGE' : 'GRAFTD_INVALID_BODY',
    message: `malformed HTTP request: ${err.message}`,
  });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: ${jsonType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Create the HTTP API server for `opts.node`. Routes per docs/api.md. The caller calls `listen()`. */
export async function createHttpServer(opts: HttpServerOptions): Promise<FastifyInstance> {
  const { node, log } = opts;
  const maxBodyBytes = opts.maxBodyBytes ?? defaultMaxBodyBytes;
  const forwardTimeoutMs = opts.forwardTimeoutMs ?? 12_000;
  const limits = { maxKeyBytes: opts.maxKeyBytes ?? defaultMaxKeyBytes, maxValueBytes: opts.maxValueBytes ?? defaultMaxValueBytes };
  const relay = new LeaderRelay({
    selfId: node.id,
    timeoutMs: forwardTimeoutMs,
    connectTimeoutMs: opts.forwardConnectTimeoutMs ?? Math.min(3000, forwardTimeoutMs),
    connectionsPerLeader: opts.forwardConnections ?? 64,
    maxInflight: opts.maxForwardInflight ?? 4096,
    // A relayed GET answer is the key and value JSON-escaped: up to 6 bytes per byte (\u0001).
    maxResponseBytes: Math.max(maxBodyBytes, 6 * (limits.maxValueBytes + limits.maxKeyBytes)) + 64 * 1024,
    maxPools: 16,
    ...(opts.forwardLocalAddress === undefined ? {} : { localAddress: opts.forwardLocalAddress }),
    ...(opts.security === undefined ? {} : { clientTls: () => opts.security?.clientTls() }),
  });
  const metrics = new HttpMetrics(node, opts.processMetrics ?? true);
  const security = opts.security;
  const staleReadsFault = opts.testFault === 'stale-linearizable-reads';
  const ctx: HttpContext = { node, log, limits, maxBodyBytes, relay, metrics, security, staleReadsFault };
  const methods = new MethodTable();
  const guard = new HttpGuard(node, security);

  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  const headersTimeout = Math.min(opts.headersTimeoutMs ?? 10_000, requestTimeout);
  const serverOptions = {
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5000,
    // Node checks the two timeouts above on this period (default 30 s: far too coarse).
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 2))),
  };
  const serverTls = security?.serverTls();
  const app = Fastify({
    logger: false,
    requestTimeout,
    keepAliveTimeout: serverOptions.keepAliveTimeout,
    ...(serverTls === undefined
      ? { http: serverOptions }
      : { https: { ...serverTls, ...serverOptions, handshakeTimeout: headersTimeout } }),
    // fastify's own 503 while closing has no `code`; ours (below) does.
    return503OnClosing: false,
    bodyLimit: maxBodyBytes,
    clientErrorHandler,
    frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
      // Hooks do not run for these early errors: add the node header here.
      reply.header('x-graftd-node', node.id);
      sendError(reply, toErrorReply(err, maxBodyBytes));
    },
  });

  app.addHook('onRoute', (route) => methods.add(route.url, route.method));
  app.addHook('onClose', async () => relay.close());
  app.addHook('onClose', async () => metrics.close());
  connectionCounts.set(
    app,
    limitConnections(
      app.server,
      { maxConnections: opts.maxConnections ?? 1024, maxConnectionsPerAddress: opts.maxConnectionsPerAddress ?? 256 },
      log,
    ),
  );
  if (security !== undefined) {
    const unsubscribe = security.onReload(() => {
      const fresh = security.serverTls();
      if (fresh !== undefined && 'setSecureContext' in app.server)
        (app.server as unknown as { setSecureContext(o: object): void }).setSecureContext({
          cert: fresh.cert,
          key: fresh.key,
          ...(fresh.ca === undefined ? {} : { ca: fresh.ca }),
        });
      relay.resetConnections();
    });
    app.addHook('onClose', async () => unsubscribe());
  }

  // Bodies are JSON whatever the declared content-type; our handlers parse them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (closing) {
      // Requests still arriving on open keep-alive connections while the server closes.
      reply.header('connection', 'close');
      sendError(reply, errorReply('GRAFTD_SHUTTING_DOWN', `node ${node.id} is shutting down; request not processed`));
      return;
    }
    // A malformed content-type would make fastify answer 415 before our parser runs.
    if (request.headers['content-type'] !== undefined && bodyMethods.has(request.method))
      request.headers['content-type'] = 'application/json';
    done();
  });
  // Callback style: the common case (a keep-alive client repeating the credentials it proved) is
  // decided synchronously, without a promise per request; anything else takes the async path.
  app.addHook('onRequest', (request, reply, done) => {
    if (guard.admitFast(request)) {
      done();
      return;
    }
    guard.onRequest(request, reply).then(
      (answered) => {
        if (answered === undefined) done();
      },
      (err: unknown) => done(err as Error),
    );
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    if (!reply.hasHeader('x-graftd-node')) reply.header('x-graftd-node', node.id);
    if (!reply.hasHeader('x-graftd-leader')) {
      const leader = leaderIdFor(node, request);
      if (leader !== '') reply.header('x-graftd-leader', leader);
    }
    done(null, payload);
  });

  const logRequests = opts.logRequests ?? false;
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observe(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    if (logRequests) logRequest(log, request, reply);
    done();
  });

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const answer = toErrorReply(err, maxBodyBytes);
    if (answer.status === 500) log.error({ err, method: request.method, url: request.url }, 'HTTP request failed with an internal error');
    else if (answer.status >= 500) log.debug({ code: answer.code, method: request.method, url: request.url }, answer.message);
    return sendError(reply, answer);
  });

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?', 1)[0] ?? request.url;
    const allowed = methods.allowed(path);
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendError(
        reply,
        errorReply('GRAFTD_METHOD_NOT_ALLOWED', `method ${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`),
      );
    }
    return sendError(reply, errorReply('GRAFTD_ROUTE_NOT_FOUND', `no route ${request.method} ${path}`));
  });

  registerKeyRoutes(app, ctx);
  registerCoordRoutes(app, ctx);
  const changes = node.changes?.();
  const hub = changes === undefined ? undefined : new WatchHub(changes, opts.watch);
  // Before the server waits for its connections to end: watch streams never end by themselves.
  if (hub !== undefined)
    app.addHook('preClose', (done) => {
      hub.close();
      done();
    });
  registerWatchRoutes(app, ctx, hub);
  registerAdminRoutes(app, ctx);
  for (const plugin of opts.plugins ?? []) await plugin(app, { guard, security });
  return app as unknown as FastifyInstance;
}
