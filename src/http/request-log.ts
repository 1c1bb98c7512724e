/**
 * The optional request log (LOG_REQUESTS=1): one info line per answered request with method, URL
 * (credentials in the query redacted), status, duration and remote address.
 *
 * Why optional: at thousands of requests per second the log would cost more than the requests;
 * operators switch it on to see who calls what. Credentials normally travel in headers, which are
 * never logged; a query parameter that looks like one is replaced by "REDACTED".
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Log } from '../log.ts';

const SECRET_PARAM = /pass|token|secret|auth|sig|cred|key$/i;

/** LOG_REQUESTS: '1', 'true', 'yes' or 'on' (any case) switch the request log on (read by src/config.ts). */
export function requestLogEnabled(env: Readonly<Record<string, string | undefined>>): boolean {
  return /^(1|true|yes|on)$/i.test(env.LOG_REQUESTS?.trim() ?? '');
}

/** The URL with the values of credential-like query parameters replaced. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // keep the raw name
      }
      return eq !== -1 && SECRET_PARAM.test(decoded) ? `${name}=REDACTED` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

export function logRequest(log: Log, request: FastifyRequest, reply: FastifyReply): void {
  const socket = request.raw.socket;
  const remote = socket.remoteAddress === undefined ? '' : `${socket.remoteAddress}:${socket.remotePort}`;
  log.info(
    {
      method: request.method,
      url: redactUrl(request.url),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      remote,
    },
    'request',
  );
}
