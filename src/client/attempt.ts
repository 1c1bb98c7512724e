/**
 * One HTTP exchange with one endpoint, and the classification of what went wrong.
 *
 * Why separate from the retry loop: whether a failed write may be retried depends only on
 * *where* it failed — before the server read it (connection refused, connect timeout, reset
 * before any answer: provably no effect) or after (timeout, connection closed: outcome
 * unknown). Keeping that decision in one small function makes it easy to audit.
 *
 * Why a reset proves "not read": with one request per connection at a time (pipelining 1), a
 * server that read our request and then dies or closes the socket sends FIN ("other side
 * closed" here: outcome unknown). A TCP reset (ECONNRESET / EPIPE) before any byte of the
 * answer means the server's kernel still held our request unread when the socket was closed
 * (Linux resets instead of FIN when unread data is discarded), or the socket was already gone
 * when the request arrived; either way no server code saw it. This is what a graceful shutdown
 * produces when it closes an idle keep-alive connection just as we reuse it. It assumes a
 * direct connection to graftd (a proxy in between could reset us after forwarding).
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { type Scheme, toOrigin } from './endpoints.ts';
import { GraftdClientError } from './errors.ts';
import { tlsReason } from './tls-errors.ts';

/** What one attempt sends. */
export interface AttemptRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  /** JSON text. */
  readonly body?: string;
  /** Leave a 2xx body unread and hand back the stream (backups). */
  readonly stream?: boolean;
}

/** How every attempt of a client reaches its endpoints. */
export interface AttemptVia {
  readonly scheme: Scheme;
  /** The Authorization header value ('' for none). */
  readonly authorization: string;
}

const PLAIN: AttemptVia = { scheme: 'http', authorization: '' };

/** What one attempt got back. `text` is the whole body unless the 2xx body was streamed. */
export interface AttemptAnswer {
  readonly endpoint: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
  readonly stream: Readable | null;
}

/** Codes that prove the request never reached the server (connect failures). */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The error codes of `err` and its causes (undici sometimes wraps the system error); bounded depth. */
function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

/** Codes that, before any byte of the answer, prove the server never read the request (see the module comment). */
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

function describe(code: string, err: unknown): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect timeout';
    case 'ECONNRESET':
      return 'connection reset';
    case 'UND_ERR_SOCKET':
      return 'connection closed by the server';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

function flattenHeaders(raw: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * Send `request` to `endpoint` through `dispatcher`, waiting at most `timeoutMs` for the whole
 * answer (for a streamed answer: for its headers; the body then has an idle timeout of `timeoutMs`).
 * Throws GraftdClientError: GRAFTD_CLIENT_UNREACHABLE or GRAFTD_CLIENT_TLS (both not sent),
 * GRAFTD_CLIENT_TIMEOUT or GRAFTD_CLIENT_CONNECTION_LOST (both outcomeUnknown). HTTP error
 * statuses are returned, not thrown. `signal` (optional) cancels the attempt (client closing).
 */
export async function attempt(
  dispatcher: Dispatcher,
  endpoint: string,
  request: AttemptRequest,
  timeoutMs: number,
  via: AttemptVia = PLAIN,
  signal?: AbortSignal,
): Promise<AttemptAnswer> {
  const controller = new AbortController();
  let timedOut = false;
  let answering = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const cancel = (): void => controller.abort();
  if (signal?.aborted === true) controller.abort();
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    if (via.authorization !== '') headers.authorization = via.authorization;
    const response = await dispatcher.request({
      origin: toOrigin(endpoint, via.scheme),
      path: request.path,
      method: request.method,
      headers,
      body: request.body ?? null,
      signal: controller.signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    answering = true;
    const flatHeaders = flattenHeaders(response.headers);
    if (request.stream === true && response.statusCode >= 200 && response.statusCode < 300) {
      clearTimeout(timer);
      return { endpoint, status: response.statusCode, headers: flatHeaders, text: '', stream: response.body };
    }
    const text = await response.body.text();
    return { endpoint, status: response.statusCode, headers: flatHeaders, text, stream: null };
  } catch (err) {
    if (err instanceof GraftdClientError) throw err;
    const codes = errorCodes(err);
    const tls = answering ? null : tlsReason(codes, err);
    if (tls !== null) {
      // Certificate checks and handshake refusals happen before the request is handed over (tls-connector.ts).
      throw new GraftdClientError('GRAFTD_CLIENT_TLS', `${via.scheme}://${endpoint}: ${tls}`, { endpoint, cause: err });
    }
    const notSent = codes.find((c) => NOT_SENT_CODES.has(c));
    const code = notSent ?? codes[0] ?? '';
    if (notSent !== undefined) {
      throw new GraftdClientError('GRAFTD_CLIENT_UNREACHABLE', `${endpoint}: ${describe(code, err)}`, { endpoint, cause: err });
    }
    const reset = codes.find((c) => RESET_CODES.has(c));
    if (reset !== undefined && !answering && !timedOut) {
      throw new GraftdClientError('GRAFTD_CLIENT_UNREACHABLE', `${endpoint}: connection reset before the server read the request`, {
        endpoint,
        cause: err,
      });
    }
    if (timedOut || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      throw new GraftdClientError('GRAFTD_CLIENT_TIMEOUT', `${endpoint}: no answer within ${timeoutMs} ms; the outcome is unknown`, {
        endpoint,
        outcomeUnknown: true,
        cause: err,
      });
    }
    // An HTTPS server closes a plain-HTTP connection without a word: say so, it is the likely cause.
    const hint =
      via.scheme === 'http' && !answering && code === 'UND_ERR_SOCKET'
        ? ' (if the cluster serves HTTPS: https:// endpoints or --cacert)'
        : '';
    throw new GraftdClientError('GRAFTD_CLIENT_CONNECTION_LOST', `${endpoint}: ${describe(code, err)} after the request was sent${hint}`, {
      endpoint,
      outcomeUnknown: true,
      cause: err,
    });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', cancel);
  }
}
