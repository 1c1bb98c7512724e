/**
 * The supervisor's lab endpoint: GET /lab/state and POST /lab/action, on a loopback address,
 * for the nodes' proxy routes only (they present the token the supervisor gave them).
 *
 * Why a token on top of loopback: any local process can reach 127.0.0.1, and this endpoint kills
 * processes. The token travels only in the nodes' environment; the browser never sees it — it
 * talks to its node, whose guard has already required the admin role (lab-proxy.ts).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ErrorCode, GraftdError, errorStatus } from '../errors.ts';
import type { LabController } from './lab-controller.ts';
import { isLoopbackAddress, LAB_TOKEN_HEADER, parseLabRequest } from './lab-protocol.ts';

/** Largest action body accepted. */
const MAX_BODY_BYTES = 4096;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, code: ErrorCode, message: string): void {
  send(res, errorStatus[code], { error: message, code });
}

function tokenMatches(given: string | string[] | undefined, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req) {
    bytes += (chunk as Buffer).length;
    if (bytes > MAX_BODY_BYTES) throw new GraftdError('GRAFTD_TOO_LARGE', `lab actions are at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(controller: LabController, token: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!isLoopbackAddress(req.socket.remoteAddress)) return sendError(res, 'GRAFTD_FORBIDDEN', 'the lab answers loopback callers only');
  if (!tokenMatches(req.headers[LAB_TOKEN_HEADER], token)) return sendError(res, 'GRAFTD_FORBIDDEN', 'wrong or missing lab token');
  const path = (req.url ?? '').split('?')[0];
  if (path === '/lab/state') {
    if (req.method !== 'GET') return sendError(res, 'GRAFTD_METHOD_NOT_ALLOWED', 'GET /lab/state');
    return send(res, 200, controller.state());
  }
  if (path === '/lab/action') {
    if (req.method !== 'POST') return sendError(res, 'GRAFTD_METHOD_NOT_ALLOWED', 'POST /lab/action');
    let parsed: unknown;
    const text = await readBody(req);
    try {
      parsed = JSON.parse(text);
    } catch {
      return sendError(res, 'GRAFTD_INVALID_JSON', 'the lab action is not JSON');
    }
    return send(res, 200, await controller.act(parseLabRequest(parsed)));
  }
  return sendError(res, 'GRAFTD_ROUTE_NOT_FOUND', `no lab route ${path}`);
}

/** Serve `controller` on `host` (loopback only) at an ephemeral port; resolves with the base URL and the server. */
export async function startLabServer(
  controller: LabController,
  token: string,
  host = '127.0.0.1',
): Promise<{ url: string; server: Server }> {
  if (!isLoopbackAddress(host)) throw new GraftdError('GRAFTD_BAD_CONFIG', `the lab listens on loopback only, not ${host}`);
  const server = createServer((req, res) => {
    handle(controller, token, req, res).catch((err: unknown) => {
      if (res.headersSent) return res.destroy();
      if (err instanceof GraftdError) return sendError(res, err.code, err.message);
      sendError(res, 'GRAFTD_INTERNAL', (err as Error).message);
    });
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  return { url: `http://${host}:${port}/`, server };
}
