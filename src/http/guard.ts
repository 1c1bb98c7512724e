/**
 * Who may call what: the Origin rule (CSRF), authentication and the role each route needs.
 *
 * Why one guard in front of every route: a rule written per handler is a rule forgotten in the
 * next handler. Routes are matched by fastify's route pattern (not the raw path), so
 * `/key/../join`-style tricks cannot pick a weaker rule; unknown routes fall through to 404/405.
 * The Origin rule applies with or without an auth file: browsers attach no credentials we check
 * automatically except cookies we never use, but a page could still write keys with a simple
 * cross-origin POST (bodies are JSON whatever the content-type) — the Origin header stops it.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GraftNode } from '../node/api.ts';
import { roleAtLeast } from '../security/auth-file.ts';
import type { Principal, Role } from '../security/auth-file.ts';
import { parseAuthProtocol, parseAuthorization } from '../security/http-credentials.ts';
import type { Credentials } from '../security/http-credentials.ts';
import { ANONYMOUS_ADMIN, normalizeOrigin } from '../security/http-security.ts';
import type { HttpSecurity } from '../security/http-security.ts';
import { sendError } from './context.ts';
import { errorReply } from './error-reply.ts';
import type { ErrorReply } from './error-reply.ts';

/** What a route needs: nothing, a role, or the /join rule (admin, or a join proof checked by the handler). */
export type Access = 'open' | Role | 'join';

/** The challenge sent with every 401. */
export const wwwAuthenticate = ['Basic realm="graftd", charset="UTF-8"', 'Bearer realm="graftd"'];

/**
 * Request header of the live view's own fetches: its 401s then carry only the Bearer challenge,
 * because a Basic challenge makes browsers block the fetch behind their native login dialog (the
 * page has its own form).
 */
export const noBasicChallengeHeader = 'x-graftd-no-basic-challenge';

/** The WWW-Authenticate values for a 401 answer to `request`. */
export function challengesFor(request: FastifyRequest): string[] {
  return request.headers[noBasicChallengeHeader] === undefined ? wwwAuthenticate : wwwAuthenticate.slice(1);
}

/** The live view's static shell (no data in it; the same files as in the repository). */
const uiShell: ReadonlySet<string> = new Set(['/ui', '/ui/', '/ui/vizor.js', '/ui/vizor.css']);

/** The access rule of a matched route (`url` = fastify's route pattern). Unknown patterns need admin. */
export function requiredAccess(method: string, url: string): Access {
  const read = method === 'GET' || method === 'HEAD';
  if (url === '/healthz' || url === '/readyz') return 'open';
  if (uiShell.has(url) && read) return 'open';
  if (url === '/key/*' && read) return 'read';
  if (url === '/status' && read) return 'read';
  if (url === '/key' && method === 'POST') return 'write';
  if (url === '/key/*' && method === 'DELETE') return 'write';
  // Coordination (issue 13). Reads: ranges and leases. Writes: everything that goes through the
  // log, a transaction made only of gets included, and every lease change.
  if ((url === '/keys' || url === '/lease/:id' || url === '/leases') && read) return 'read';
  if (url === '/watch' && read) return 'read';
  if (url === '/key/*' && method === 'PUT') return 'write';
  if (url === '/txn' && method === 'POST') return 'write';
  if ((url === '/lease' || url === '/lease/:id/keepalive') && method === 'POST') return 'write';
  if (url === '/lease/:id' && method === 'DELETE') return 'write';
  if (url === '/join' && method === 'POST') return 'join';
  return 'admin';
}

const principals = new WeakMap<FastifyRequest, Principal>();

/**
 * The identity a keep-alive connection last proved: the exact Authorization header it sent, whom
 * it named, until when, and under which reload generation. A request on the same connection with
 * the same header skips parsing, hashing and the async path (the hot path of every client).
 * Per connection, so it dies with the socket; void after a reload or its TTL.
 */
interface ConnectionIdentity {
  readonly header: string;
  readonly principal: Principal;
  readonly expiresMs: number;
  readonly generation: number;
}
const connectionIdentities = new WeakMap<object, ConnectionIdentity>();

/** The authenticated principal of `request` (undefined: none, e.g. a /join without credentials). */
export function principalOf(request: FastifyRequest): Principal | undefined {
  return principals.get(request);
}

function forbidden(message: string): ErrorReply {
  return errorReply('GRAFTD_FORBIDDEN', message);
}

/** An origin's host:port (default port filled in), or undefined when it is not http(s)://host[:port]. */
function originHostPort(origin: string): string | undefined {
  const m = /^(https?):\/\/([^/?#@\s]+)$/.exec(origin);
  if (m === null) return undefined;
  const [, scheme, hostPort = ''] = m;
  const hasPort = /:\d+$/.test(hostPort) && (!hostPort.startsWith('[') || /\]:\d+$/.test(hostPort));
  return hasPort ? hostPort : `${hostPort}:${scheme === 'https' ? 443 : 80}`;
}

function socketHostPort(socket: Socket | undefined): string[] {
  const address = socket?.localAddress;
  const port = socket?.localPort;
  if (address === undefined || port === undefined) return [];
  const host = address.startsWith('::ffff:') ? address.slice(7) : address;
  const own = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const loopback = host === '::1' || host.startsWith('127.');
  return loopback ? [own, `localhost:${port}`] : [own];
}

/** The per-server guard; see the module comment. */
export class HttpGuard {
  readonly #node: GraftNode;
  readonly #security: HttpSecurity | undefined;

  constructor(node: GraftNode, security: HttpSecurity | undefined) {
    this.#node = node;
    this.#security = security;
  }

  /**
   * May a browser page from `origin` call this node? Yes for the node's own address (advertised
   * or the one the request arrived on), any member's HTTP address (the live view talks to all),
   * and the configured allowed origins. Never the Host header (DNS rebinding controls it).
   */
  originAllowed(origin: string, socket: Socket | undefined): boolean {
    const normalized = normalizeOrigin(origin);
    if (this.#security?.allowedOrigins.has(normalized) === true) return true;
    const hostPort = originHostPort(normalized);
    if (hostPort === undefined) return false;
    if (socketHostPort(socket).includes(hostPort)) return true;
    const status = this.#node.status();
    if (status.httpAddr.toLowerCase() === hostPort) return true;
    return status.members.some((m) => m.httpAddr !== '' && m.httpAddr.toLowerCase() === hostPort);
  }

  /** Check credentials; without an auth file everybody is admin. */
  async authenticate(creds: Credentials): Promise<ErrorReply | Principal> {
    if (this.#security === undefined) return ANONYMOUS_ADMIN;
    const result = await this.#security.authenticate(creds);
    return result.ok ? result.principal : { status: result.status, code: result.code, message: result.message };
  }

  /**
   * The synchronous part of the onRequest check: true when the request may go on without any
   * asynchronous work (no Origin or an allowed one, and an open route, no auth file, or the
   * identity this connection proved with the same header). False: run onRequest.
   */
  admitFast(request: FastifyRequest): boolean {
    const origin = request.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin, request.raw.socket)) return false;
    const url = request.routeOptions.url;
    if (url === undefined) return true;
    const access = requiredAccess(request.method, url);
    if (access === 'open') return true;
    const security = this.#security;
    if (security?.authEnabled !== true) {
      principals.set(request, ANONYMOUS_ADMIN);
      return true;
    }
    const header = request.headers.authorization;
    if (header === undefined || access === 'join') return false;
    const known = connectionIdentities.get(request.raw.socket);
    if (known === undefined || known.header !== header || known.generation !== security.generation || known.expiresMs <= Date.now())
      return false;
    if (!roleAtLeast(known.principal.role, access)) return false;
    principals.set(request, known.principal);
    return true;
  }

  /** Remember the identity `request`'s connection proved with its Authorization header. */
  #rememberConnection(request: FastifyRequest, principal: Principal): void {
    const header = request.headers.authorization;
    const security = this.#security;
    if (header === undefined || security === undefined || principal.kind === 'peer') return;
    connectionIdentities.set(request.raw.socket, {
      header,
      principal,
      expiresMs: Date.now() + security.connectionTrustMs,
      generation: security.generation,
    });
  }

  /** The onRequest hook: Origin, then authentication and role for the matched route. */
  async onRequest(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const origin = request.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin, request.raw.socket)) {
      return sendError(
        reply,
        forbidden(
          `requests from the web origin ${JSON.stringify(origin.slice(0, 100))} are not allowed (not this node, a member, or an allowed origin)`,
        ),
      );
    }
    const url = request.routeOptions.url;
    if (url === undefined) return undefined; // no route: 404/405 follow
    const access = requiredAccess(request.method, url);
    if (access === 'open') return undefined;
    if (this.#security?.authEnabled !== true) {
      // No auth file: everyone is admin, no credential parsing on the hot path.
      principals.set(request, ANONYMOUS_ADMIN);
      return undefined;
    }
    const creds = parseAuthorization(request.headers.authorization);
    // A join without credentials may still carry a cluster-secret proof; the handler decides.
    if (access === 'join' && creds.kind === 'none' && this.#security?.authEnabled === true) return undefined;
    const generation = this.#security?.generation;
    const who = await this.authenticate(creds);
    if (!('name' in who)) return this.#refuse(request, reply, who);
    principals.set(request, who);
    // Not across a reload that happened while this check ran.
    if (generation === this.#security?.generation) this.#rememberConnection(request, who);
    if (access === 'join' || roleAtLeast(who.role, access)) return undefined;
    return sendError(
      reply,
      forbidden(`${who.kind} ${JSON.stringify(who.name)} has the role ${who.role}; ${request.method} ${url} needs ${access}`),
    );
  }

  /**
   * The check of a WebSocket upgrade to /events: Origin, then admin credentials from the
   * Authorization header or the `graftd-auth.` subprotocol. Undefined when allowed.
   */
  async checkUpgrade(req: IncomingMessage): Promise<ErrorReply | undefined> {
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin, req.socket as Socket))
      return forbidden(`WebSocket connections from the web origin ${JSON.stringify(origin.slice(0, 100))} are not allowed`);
    let creds = parseAuthorization(req.headers.authorization);
    if (creds.kind === 'none') {
      const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
      creds = parseAuthProtocol(offered);
    }
    const who = await this.authenticate(creds);
    if (!('name' in who)) return who;
    if (!roleAtLeast(who.role, 'admin'))
      return forbidden(`${who.kind} ${JSON.stringify(who.name)} has the role ${who.role}; /events needs admin`);
    return undefined;
  }

  #refuse(request: FastifyRequest, reply: FastifyReply, err: ErrorReply): FastifyReply {
    if (err.status === 401) reply.header('www-authenticate', challengesFor(request));
    return sendError(reply, err);
  }
}

/** A raw HTTP/1.1 error answer for a socket fastify does not own (WebSocket upgrades). */
export function rawErrorResponse(err: ErrorReply): string {
  const body = JSON.stringify({ error: err.message, code: err.code });
  const extra = err.status === 401 ? wwwAuthenticate.map((v) => `WWW-Authenticate: ${v}\r\n`).join('') : '';
  return `HTTP/1.1 ${err.status} ${err.status === 401 ? 'Unauthorized' : err.status === 403 ? 'Forbidden' : 'Service Unavailable'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`;
}
