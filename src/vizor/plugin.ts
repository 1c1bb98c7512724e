/**
 * Serves the live view on every node: the page (/ui), its event stream (/events, WebSocket)
 * and a member-status relay (/ui/members/:id/status).
 *
 * Why a relay for status: the page is loaded from one node but shows all of them; fetching
 * another node's /status directly from the browser would be a cross-origin request. The relay
 * only ever contacts member addresses that validate as plain host:port, always at the fixed path
 * /status, so it cannot be turned into a fetcher of other URLs (SSRF); it relays the caller's
 * Authorization so the member checks the caller's own rights. The event streams are WebSockets,
 * which the page opens to each member directly: their upgrade passes the same Origin rule and
 * needs admin credentials (Authorization header, or the `graftd-auth.` subprotocol from browsers),
 * and each remote address may hold only a few of the watcher slots.
 *
 * For the merged timeline the page estimates each node's clock offset from these round trips:
 * /status and the relay answer carry the answering node's clock (x-graftd-now), and the relay
 * adds the member's offset from the relaying node and its own round trip (x-graftd-member-*).
 * In lab mode (`npm start -- --lab`) the lab routes of lab-proxy.ts are added as well.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Agent, request } from 'undici';
import { WebSocketServer, type WebSocket } from 'ws';
import { isHostPort } from '../http/body.ts';
import { sendError } from '../http/context.ts';
import { errorReply } from '../http/error-reply.ts';
import { rawErrorResponse } from '../http/guard.ts';
import type { HttpPluginContext } from '../http/server.ts';
import type { GraftNode } from '../node/api.ts';
import { EVENTS_PROTOCOL } from '../security/http-credentials.ts';
import { MEMBER_OFFSET_HEADER, MEMBER_RTT_HEADER, NOW_HEADER, vizorNow } from './clock.ts';
import { EventHub, type EventHubOptions } from './hub.ts';
import { type LabLink, labFromEnv, registerLabRoutes } from './lab-proxy.ts';

export interface VizorOptions extends Partial<Omit<EventHubOptions, 'node'>> {
  /** Timeout of the member-status relay. Default 1000 ms. */
  readonly statusTimeoutMs?: number;
  /** /events watchers per remote address (beyond: 503 before the upgrade). Default 4. The total is `maxClients` (default 32). */
  readonly maxClientsPerAddress?: number;
  /** Lab mode: the supervisor to relay lab actions to. Default: from the environment (lab-proxy.ts labFromEnv), normally none. */
  readonly lab?: LabLink | null;
  /** Timeout of one relayed lab call. Default 20 000 ms (a restart waits for a graceful stop). */
  readonly labTimeoutMs?: number;
}

/** Max bytes of a member's relayed /status answer. */
const MAX_STATUS_BYTES = 1024 * 1024;

const ASSETS: Record<string, { file: string; type: string }> = {
  '/ui': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/vizor.js': { file: 'vizor.js', type: 'text/javascript; charset=utf-8' },
  '/ui/vizor.css': { file: 'vizor.css', type: 'text/css; charset=utf-8' },
};

/**
 * The page's other script modules, served at /ui/vizor.js?part=<name>: the same open route as the
 * main script (the guard matches route patterns, and module imports carry no credentials), from a
 * fixed list so the parameter can never name another file.
 */
const SCRIPT_PARTS: ReadonlySet<string> = new Set(['timeline', 'table', 'picture', 'lab', 'replay', 'recording', 'guide', 'util']);

const assetsDir = new URL('./assets/', import.meta.url);

/** Connects a node's raft events to its hub only while somebody watches. */
function wireHub(node: GraftNode, hub: EventHub): { attach(ws: WebSocket): void } {
  let unsubscribe: (() => void) | null = null;
  return {
    attach(ws) {
      const detach = hub.attach({
        send: (text) => ws.send(text),
        bufferedBytes: () => ws.bufferedAmount,
        close: (code, reason) => ws.close(code, reason),
      });
      if (hub.active && unsubscribe === null) unsubscribe = node.onRaftEvent((event) => hub.publish(event));
      const onGone = (): void => {
        detach();
        if (!hub.active && unsubscribe !== null) {
          unsubscribe();
          unsubscribe = null;
        }
      };
      ws.on('close', onGone);
      ws.on('error', onGone);
      // Read-only stream: anything the browser sends is ignored.
    },
  };
}

/** Per remote address counts of open watchers. */
function addressSlots(max: number): { take(address: string): boolean; release(address: string): void } {
  const open = new Map<string, number>();
  return {
    take(address) {
      const n = open.get(address) ?? 0;
      if (n >= max) return false;
      open.set(address, n + 1);
      return true;
    },
    release(address) {
      const n = (open.get(address) ?? 1) - 1;
      if (n <= 0) open.delete(address);
      else open.set(address, n);
    },
  };
}

/** The undici dispatcher of the status relay: https with the members' CA (and our client cert) when TLS is on. */
function relayDispatcher(ctx: HttpPluginContext | undefined): { get(): Agent | undefined; close(): Promise<void> } {
  let agent: Agent | undefined;
  let madeFor: unknown;
  return {
    get() {
      const clientTls = ctx?.security?.clientTls();
      if (clientTls === undefined) return undefined;
      if (agent === undefined || madeFor !== clientTls) {
        agent?.close().catch(() => undefined);
        agent = new Agent({ connect: { ...clientTls }, connections: 8 });
        madeFor = clientTls;
      }
      return agent;
    },
    async close() {
      await agent?.close().catch(() => undefined);
    },
  };
}

/** Read at most MAX_STATUS_BYTES of a relayed body. */
async function boundedText(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > MAX_STATUS_BYTES) throw new Error(`answer larger than ${MAX_STATUS_BYTES} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Returns a plugin for createHttpServer's `plugins` option. */
export function vizorPlugin(node: GraftNode, options: VizorOptions = {}): (app: FastifyInstance, ctx?: HttpPluginContext) => Promise<void> {
  const statusTimeoutMs = options.statusTimeoutMs ?? 1000;
  return async (app, ctx) => {
    const hub = new EventHub({ ...options, node: node.id });
    const wired = wireHub(node, hub);
    const slots = addressSlots(options.maxClientsPerAddress ?? 4);
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: 1024,
      // Answer only our own protocol name, never the credential-carrying one.
      handleProtocols: (protocols) => (protocols.has(EVENTS_PROTOCOL) ? EVENTS_PROTOCOL : false),
    });
    const dispatcher = relayDispatcher(ctx);

    app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/events') {
        socket.destroy();
        return;
      }
      socket.on('error', () => socket.destroy());
      void (async () => {
        const refused = ctx === undefined ? undefined : await ctx.guard.checkUpgrade(req);
        if (socket.destroyed) return;
        if (refused !== undefined) {
          socket.end(rawErrorResponse(refused));
          return;
        }
        const address = req.socket.remoteAddress ?? '';
        if (!slots.take(address)) {
          const max = options.maxClientsPerAddress ?? 4;
          socket.end(rawErrorResponse(errorReply('GRAFTD_TOO_MANY_CONNECTIONS', `${address} already watches this node ${max} times`)));
          return;
        }
        socket.once('close', () => slots.release(address));
        wss.handleUpgrade(req, socket, head, (ws) => wired.attach(ws));
      })().catch(() => socket.destroy());
    });
    app.addHook('onClose', async () => {
      hub.close();
      wss.close();
      await dispatcher.close();
    });

    for (const [path, asset] of Object.entries(ASSETS)) {
      app.get<{ Querystring: { part?: string } }>(path, async (req, reply) => {
        const part = path === '/ui/vizor.js' ? req.query.part : undefined;
        if (part !== undefined && !SCRIPT_PARTS.has(part)) {
          return sendError(
            reply,
            errorReply('GRAFTD_ROUTE_NOT_FOUND', `the live view has no script part ${JSON.stringify(part.slice(0, 40))}`),
          );
        }
        const body = await readFile(new URL(part === undefined ? asset.file : `${part}.js`, assetsDir));
        return reply
          .header('content-type', asset.type)
          .header('cache-control', 'no-cache')
          .header('x-frame-options', 'DENY')
          .header('content-security-policy', "frame-ancestors 'none'")
          .send(body);
      });
    }

    // The answering node's clock on every status answer, stamped as the answer leaves.
    app.addHook('onSend', async (req, reply, payload) => {
      const route = req.routeOptions.url;
      if (route === '/status' || route === '/ui/members/:id/status') reply.header(NOW_HEADER, String(vizorNow()));
      return payload;
    });
    const lab = options.lab === undefined ? labFromEnv(process.env) : options.lab;
    if (lab !== null && lab !== undefined) registerLabRoutes(app, lab, options.labTimeoutMs ?? 20_000);

    app.get<{ Params: { id: string } }>('/ui/members/:id/status', async (req, reply) => {
      const status = node.status();
      if (req.params.id === node.id) return reply.header(MEMBER_OFFSET_HEADER, '0').header(MEMBER_RTT_HEADER, '0').send(status);
      const member = status.members.find((m) => m.id === req.params.id);
      // Only a plain host:port ever becomes a URL, and only with the fixed path /status.
      if (member === undefined || !isHostPort(member.httpAddr)) {
        return sendError(reply, errorReply('GRAFTD_UNKNOWN_MEMBER', `no member ${req.params.id} with a valid HTTP address`));
      }
      try {
        const agent = dispatcher.get();
        const authorization = req.headers.authorization;
        const sent = vizorNow();
        const res = await request(`${agent === undefined ? 'http' : 'https'}://${member.httpAddr}/status`, {
          headersTimeout: statusTimeoutMs,
          bodyTimeout: statusTimeoutMs,
          maxRedirections: 0,
          ...(agent === undefined ? {} : { dispatcher: agent }),
          ...(authorization === undefined ? {} : { headers: { authorization } }),
        });
        const received = vizorNow();
        const body = await boundedText(res.body);
        // The member's clock relative to ours, assuming the answer was stamped mid-way (NTP's estimate).
        const memberNow = Number(res.headers[NOW_HEADER]);
        if (Number.isFinite(memberNow) && memberNow > 0) {
          reply.header(MEMBER_OFFSET_HEADER, (memberNow - (sent + received) / 2).toFixed(3));
          reply.header(MEMBER_RTT_HEADER, (received - sent).toFixed(3));
        }
        // The member's WWW-Authenticate is not relayed: it would open the browser's login dialog.
        return reply.code(res.statusCode).header('content-type', 'application/json').send(body);
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        return sendError(
          reply,
          errorReply('GRAFTD_PEER_UNREACHABLE', `member ${member.id} at ${member.httpAddr} is unreachable: ${detail}`),
        );
      }
    });
  };
}
