/**
 * Plain node:http(s) requests for the watch and lock checkers: JSON requests with a classified
 * outcome, and the connection options an SSE stream needs.
 *
 * Why not the workload's undici pools (http-ops.ts): those know only the register operations;
 * the checkers need PUT/POST bodies of their own (txn, leases), the revision header and long-lived
 * streams, and a request here must never share a connection with a stream.
 */
import http from 'node:http';
import https from 'node:https';
import type { ChaosSecurity } from './security.ts';

/** Where and how to connect: base `http(s)://host:port`, CA and credentials in secure mode. */
export interface Endpoint {
  readonly base: string;
  readonly security: ChaosSecurity | undefined;
}

/** An answer, or why there was none. `sent: false`: provably never reached the server. */
export type JsonAnswer =
  | { readonly kind: 'answer'; readonly status: number; readonly body: unknown; readonly revision: number | undefined }
  | { readonly kind: 'error'; readonly sent: boolean; readonly error: string };

/** Request options shared by JSON requests and streams. */
export function requestOptions(ep: Endpoint, path: string, method: string, headers: Record<string, string>): https.RequestOptions {
  const url = new URL(path, ep.base);
  return {
    method,
    host: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    localAddress: '127.0.0.1',
    agent: false,
    headers: { ...headers, ...(ep.security === undefined ? {} : { authorization: ep.security.authorization }) },
    ...(ep.security === undefined ? {} : { ca: ep.security.ca }),
  };
}

/** The request function for the endpoint's scheme. */
export function requester(ep: Endpoint): typeof http.request {
  return (ep.base.startsWith('https:') ? https.request : http.request) as typeof http.request;
}

/** Largest answer body read (bytes). */
const MAX_BODY = 8 * 1024 * 1024;

/**
 * One request with a JSON body (or none). Never throws. A connection not established within
 * `connectTimeoutMs` (or refused) was never sent; a timeout after that leaves the outcome unknown.
 */
export function jsonRequest(
  ep: Endpoint,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
  connectTimeoutMs = Math.min(1000, timeoutMs),
): Promise<JsonAnswer> {
  return new Promise((resolve) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = text === undefined ? {} : { 'content-type': 'application/json' };
    let connected = false;
    let settled = false;
    const done = (a: JsonAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(connectTimer);
      resolve(a);
    };
    const req = requester(ep)(requestOptions(ep, path, method, headers), (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          req.destroy();
          done({ kind: 'error', sent: true, error: 'answer too large' });
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = raw === '' ? undefined : JSON.parse(raw);
        } catch {
          parsed = raw;
        }
        const rev = Number(res.headers['x-graftd-revision']);
        done({ kind: 'answer', status: res.statusCode ?? 0, body: parsed, revision: Number.isInteger(rev) ? rev : undefined });
      });
      res.on('error', (err) => done({ kind: 'error', sent: true, error: (err as NodeJS.ErrnoException).code ?? err.message }));
    });
    req.on('socket', (sock) => {
      const mark = (): void => {
        connected = true;
        clearTimeout(connectTimer);
      };
      if (!sock.connecting) mark();
      else sock.once(ep.security === undefined ? 'connect' : 'secureConnect', mark);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message;
      done({ kind: 'error', sent: connected && code !== 'ECONNREFUSED', error: code });
    });
    const connectTimer = setTimeout(() => {
      if (connected) return;
      done({ kind: 'error', sent: false, error: 'CONNECT_TIMEOUT' });
      req.destroy();
    }, connectTimeoutMs);
    const timer = setTimeout(() => {
      done({ kind: 'error', sent: true, error: 'TIMEOUT' });
      req.destroy();
    }, timeoutMs);
    req.end(text);
  });
}

/** `2xx` answer. */
export function isOk(a: JsonAnswer): a is Extract<JsonAnswer, { kind: 'answer' }> {
  return a.kind === 'answer' && a.status >= 200 && a.status < 300;
}

/** Provably no effect: never sent, 4xx or 503 (docs/api.md, outcome semantics). */
export function isFailed(a: JsonAnswer): boolean {
  return a.kind === 'error' ? !a.sent : (a.status >= 400 && a.status < 500) || a.status === 503;
}

/** Short text of an answer for logs. */
export function describeAnswer(a: JsonAnswer): string {
  if (a.kind === 'error') return `${a.error}${a.sent ? '' : ' (not sent)'}`;
  const code = (a.body as { code?: unknown } | undefined)?.code;
  return `${a.status}${typeof code === 'string' ? ` ${code}` : ''}`;
}
