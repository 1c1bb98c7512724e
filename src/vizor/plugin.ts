/**
 * Serves the live view on every node: the page (/ui), its event stream (/events, WebSocket)
 * and a member-status relay (/ui/members/:id/status).
 *
 * Why a relay for status: the page is loaded from one node but shows all of them; fetching
 * another node's /status directly from the browser would be a cross-origin request. The relay
 * only ever contacts addresses that are cluster members, so it cannot be used to reach
 * arbitrary hosts. The event streams are WebSockets, which the page opens to each member directly.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { WebSocketServer, type WebSocket } from 'ws';
import type { GraftNode } from '../node/api.ts';
import { EventHub, type EventHubOptions } from './hub.ts';

export interface VizorOptions extends Partial<Omit<EventHubOptions, 'node'>> {
  /** Timeout of the member-status relay. Default 1000 ms. */
  readonly statusTimeoutMs?: number;
}

const ASSETS: Record<string, { file: string; type: string }> = {
  '/ui': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/vizor.js': { file: 'vizor.js', type: 'text/javascript; charset=utf-8' },
  '/ui/vizor.css': { file: 'vizor.css', type: 'text/css; charset=utf-8' },
};

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

/** Returns a plugin for createHttpServer's `plugins` option. */
export function vizorPlugin(node: GraftNode, options: VizorOptions = {}): (app: FastifyInstance) => Promise<void> {
  const statusTimeoutMs = options.statusTimeoutMs ?? 1000;
  return async (app) => {
    const hub = new EventHub({ ...options, node: node.id });
    const wired = wireHub(node, hub);
    const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });

    app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/events') {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wired.attach(ws));
    });
    app.addHook('onClose', async () => {
      hub.close();
      wss.close();
    });

    for (const [path, asset] of Object.entries(ASSETS)) {
      app.get(path, async (_req, reply) => {
        const body = await readFile(new URL(asset.file, assetsDir));
        return reply.header('content-type', asset.type).header('cache-control', 'no-cache').send(body);
      });
    }

    app.get<{ Params: { id: string } }>('/ui/members/:id/status', async (req, reply) => {
      const status = node.status();
      if (req.params.id === node.id) return reply.send(status);
      const member = status.members.find((m) => m.id === req.params.id);
      if (member === undefined || member.httpAddr === '') {
        return reply.code(404).send({ error: `no member ${req.params.id} with a known HTTP address`, code: 'GRAFTD_UNKNOWN_MEMBER' });
      }
      try {
        const res = await request(`http://${member.httpAddr}/status`, {
          headersTimeout: statusTimeoutMs,
          bodyTimeout: statusTimeoutMs,
        });
        const body = await res.body.text();
        return reply.code(res.statusCode).header('content-type', 'application/json').send(body);
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        return reply
          .code(502)
          .send({ error: `member ${member.id} at ${member.httpAddr} is unreachable: ${detail}`, code: 'GRAFTD_PEER_UNREACHABLE' });
      }
    });
  };
}
