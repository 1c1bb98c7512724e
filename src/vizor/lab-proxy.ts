/**
 * A node's lab routes: GET /ui/lab/state and POST /ui/lab/action, relayed to the supervisor of
 * `npm start -- --lab` (lab-server.ts), registered only when the node was started in lab mode.
 *
 * Why relay through the node: the page is served by a node, so its requests pass the node's
 * guard — the Origin rule and, with an auth file, the admin role (these routes are not in
 * guard.ts's list, so they need admin like every unlisted route). The supervisor then needs only
 * to trust its own nodes (the token). Lab mode is for a cluster on this machine: the routes
 * answer loopback callers only, and the supervisor URL must be a loopback one.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { request } from 'undici';
import { GraftdError } from '../errors.ts';
import { sendError } from '../http/context.ts';
import { errorReply } from '../http/error-reply.ts';
import { isLoopbackAddress, isLoopbackUrl, LAB_TOKEN_ENV, LAB_TOKEN_HEADER, LAB_URL_ENV, parseLabRequest } from './lab-protocol.ts';

export interface LabLink {
  /** The supervisor's base URL, e.g. http://127.0.0.1:40123/ */
  readonly url: string;
  readonly token: string;
}

/** The lab link from a node's environment; undefined when lab mode is off (the default). */
export function labFromEnv(env: NodeJS.ProcessEnv): LabLink | undefined {
  const url = env[LAB_URL_ENV];
  const token = env[LAB_TOKEN_ENV];
  if (url === undefined || url === '') return undefined;
  if (!isLoopbackUrl(url))
    throw new GraftdError('GRAFTD_BAD_CONFIG', `${LAB_URL_ENV} must be http://<loopback address>:<port>/, found ${url}`);
  if (token === undefined || token.length < 16)
    throw new GraftdError('GRAFTD_BAD_CONFIG', `${LAB_TOKEN_ENV} must hold at least 16 characters`);
  return { url, token };
}

/** Register the lab routes on `app`. `timeoutMs` bounds one relayed call (a restart waits for a graceful stop). */
export function registerLabRoutes(app: FastifyInstance, lab: LabLink, timeoutMs: number): void {
  const relay = async (req: FastifyRequest, reply: FastifyReply, method: 'GET' | 'POST', path: string, body?: string) => {
    if (!isLoopbackAddress(req.socket.remoteAddress))
      return sendError(reply, errorReply('GRAFTD_FORBIDDEN', 'lab mode answers pages on this machine only (loopback)'));
    try {
      const res = await request(new URL(path, lab.url), {
        method,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        headers: { [LAB_TOKEN_HEADER]: lab.token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body }),
      });
      const text = await res.body.text();
      return reply.code(res.statusCode).header('content-type', 'application/json').header('cache-control', 'no-store').send(text);
    } catch (err) {
      return sendError(reply, errorReply('GRAFTD_PEER_UNREACHABLE', `the lab supervisor is unreachable: ${(err as Error).message}`));
    }
  };
  app.get('/ui/lab/state', (req, reply) => relay(req, reply, 'GET', 'lab/state'));
  app.post('/ui/lab/action', (req, reply) => {
    const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return sendError(reply, errorReply('GRAFTD_INVALID_JSON', 'the lab action must be a JSON object'));
    }
    let valid: ReturnType<typeof parseLabRequest>;
    try {
      valid = parseLabRequest(parsed);
    } catch (err) {
      return sendError(reply, errorReply('GRAFTD_INVALID_BODY', (err as Error).message));
    }
    return relay(req, reply, 'POST', 'lab/action', JSON.stringify(valid));
  });
}
