/**
 * Scripted HTTP(S) servers for the client's TLS and credential tests: each records the
 * requests that reached it (with their Authorization header) and the client certificate's CN.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** The loopback address of the client tests (ports are chosen by the kernel). */
export const IP = '127.0.0.53';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Fake {
  readonly endpoint: string;
  /** `METHOD URL authorization-header` ('-' when none) of every request that reached the handler. */
  readonly requests: string[];
  /** The client certificate's CN per request ('' without one). */
  readonly peers: string[];
  close(): Promise<void>;
}

export const pem = (file: string): string => readFileSync(file, 'utf8');

export function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === '' ? '' : JSON.stringify(body));
}

/** An https server with `options` (plain http when null) on IP, any free port. */
export async function serve(options: ServerOptions | null, handler: Handler): Promise<Fake> {
  const requests: string[] = [];
  const peers: string[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    req.on('end', () => {
      // graftctl's liveness probes (GET /healthz, no credentials) are not what these tests count.
      if (req.url !== '/healthz') {
        requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
        const socket = req.socket as TLSSocket;
        peers.push(typeof socket.getPeerCertificate === 'function' ? String(socket.getPeerCertificate().subject?.CN ?? '') : '');
      }
      handler(req, res);
    });
  };
  const server: Server = options === null ? createHttpServer(onRequest) : createServer(options, onRequest);
  await new Promise<void>((resolve) => server.listen(0, IP, resolve));
  return {
    endpoint: `${IP}:${(server.address() as AddressInfo).port}`,
    requests,
    peers,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const BASIC_OK = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;

/** A graftd-like auth check: Basic alice:s3cret is admin, Bearer gtd_read is read-only. */
export const authHandler: Handler = (req, res) => {
  const auth = req.headers.authorization ?? '';
  if (auth === '') {
    return reply(
      res,
      401,
      { error: 'authentication required', code: 'GRAFTD_UNAUTHORIZED' },
      { 'www-authenticate': 'Basic realm="graftd"' },
    );
  }
  if (auth !== BASIC_OK && auth !== 'Bearer gtd_read')
    return reply(res, 401, { error: 'wrong user or password', code: 'GRAFTD_UNAUTHORIZED' });
  if (auth === 'Bearer gtd_read' && req.method !== 'GET') {
    return reply(res, 403, { error: 'role read may not POST /key', code: 'GRAFTD_FORBIDDEN' });
  }
  if (req.method === 'GET') return reply(res, 200, { k: 'v' });
  return reply(res, 200, '');
};
