/**
 * One HTTP exchange with one endpoint, and the classification of what went wrong.
 *
 * Why separate from the retry loop: whether a failed write may be retried depends only on
 * *where* it failed — before the server read it (no connection handed to the request yet:
 * refused, connect timeout, TLS refusal; or a reset before any answer: provably no effect) or
 * after (timeout, connection closed: outcome unknown). Keeping that decision in one small
 * function makes it easy to audit; transport.ts reports the phase, this module decides.
 *
 * Why a reset proves "not read": with one request per connection at a time, a server that read
 * our request and then dies or closes the socket sends FIN (node's "socket hang up": outcome
 * unknown). A TCP reset (ECONNRESET / EPIPE) before any byte of the
 * answer means the server's kernel still held our request unread when the socket was closed
 * (Linux resets instead of FIN when unread data is discarded), or the socket was already gone
 * when the request arrived; either way no server code saw it. This is what a graceful shutdown
 * produces when it closes an idle keep-alive connection just as we reuse it. It assumes a
 * direct connection to graftd (a proxy in between could reset us after forwarding).
 */
import { Readable } from 'node:stream';
import { CONNECT_TIMEOUT_CODE } from './connector.ts';
import type { Scheme } from './endpoints.ts';
import { GraftdClientError } from './errors.ts';
import { tlsReason } from './tls-errors.ts';
import { ANSWER_TOO_LARGE_CODE, BODY_TIMEOUT_CODE, type HttpTransport, TransportFailure } from './transport.ts';

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
  CONNECT_TIMEOUT_CODE,
]);

/** The error codes of `err` and its causes; bounded depth. */
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

/**
 * A reset reported by the kernel (it carries the failed system call), as opposed to node's
 * "socket hang up" / "aborted" (code ECONNRESET, no system call): the server closed the
 * connection in order (FIN), which it may do after reading the request.
 */
function kernelReset(err: unknown): boolean {
  const { code, syscall } = err as { code?: unknown; syscall?: unknown };
  return typeof code === 'string' && RESET_CODES.has(code) && typeof syscall === 'string';
}

function describe(code: string, err: unknown): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case CONNECT_TIMEOUT_CODE:
      return 'connect timeout';
    case 'ECONNRESET':
      return kernelReset(err) ? 'connection reset' : 'connection closed by the server';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** An HTTPS server closes (or resets) a plain-HTTP connection without a word: say so, it is the likely cause. */
function httpsHint(via: AttemptVia): string {
  return via.scheme === 'http' ? ' (if the cluster serves HTTPS: https:// endpoints or --cacert)' : '';
}

/** The client error a failed exchange stands for (see the module comment). */
function classify(endpoint: string, failure: TransportFailure, timeoutMs: number, via: AttemptVia): GraftdClientError {
  const cause = failure.cause;
  const codes = errorCodes(cause);
  const code = codes[0] ?? '';
  const answering = failure.phase === 'answering';
  const tls = answering ? null : tlsReason(codes, cause);
  if (tls !== null) {
    // Certificate checks and handshake refusals happen before the request is handed over (connector.ts).
    return new GraftdClientError('GRAFTD_CLIENT_TLS', `${via.scheme}://${endpoint}: ${tls}`, { endpoint, cause });
  }
  if (code === ANSWER_TOO_LARGE_CODE) {
    return new GraftdClientError('GRAFTD_CLIENT_BAD_RESPONSE', `${endpoint}: ${describe(code, cause)}; the outcome is unknown`, {
      endpoint,
      outcomeUnknown: true,
      cause,
    });
  }
  // No connection was handed to the request: not one byte of it was written.
  if (failure.phase === 'connect') {
    const why = failure.timedOut ? `no connection within ${timeoutMs} ms` : describe(code, cause);
    return new GraftdClientError('GRAFTD_CLIENT_UNREACHABLE', `${endpoint}: ${why}`, { endpoint, cause });
  }
  const notSent = codes.find((c) => NOT_SENT_CODES.has(c));
  if (notSent !== undefined) {
    return new GraftdClientError('GRAFTD_CLIENT_UNREACHABLE', `${endpoint}: ${describe(notSent, cause)}`, { endpoint, cause });
  }
  if (!answering && !failure.timedOut && !failure.cancelled && kernelReset(cause)) {
    return new GraftdClientError(
      'GRAFTD_CLIENT_UNREACHABLE',
      `${endpoint}: connection reset before the server read the request${httpsHint(via)}`,
      { endpoint, cause },
    );
  }
  if (failure.timedOut || code === BODY_TIMEOUT_CODE) {
    return new GraftdClientError('GRAFTD_CLIENT_TIMEOUT', `${endpoint}: no answer within ${timeoutMs} ms; the outcome is unknown`, {
      endpoint,
      outcomeUnknown: true,
      cause,
    });
  }
  const hint = answering ? '' : httpsHint(via);
  return new GraftdClientError('GRAFTD_CLIENT_CONNECTION_LOST', `${endpoint}: ${describe(code, cause)} after the request was sent${hint}`, {
    endpoint,
    outcomeUnknown: true,
    cause,
  });
}

/** `body` with its errors turned into GraftdClientError (a broken download is CONNECTION_LOST or TIMEOUT). */
function streamed(body: Readable, endpoint: string, timeoutMs: number, via: AttemptVia): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of body) yield chunk as Buffer;
    } catch (err) {
      throw classify(endpoint, new TransportFailure('answering', err, { timedOut: false, cancelled: false }), timeoutMs, via);
    } finally {
      body.destroy();
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

/**
 * Send `request` to `endpoint` through `transport`, waiting at most `timeoutMs` for the whole
 * answer (for a streamed answer: for its headers; the body then has an idle timeout of `timeoutMs`).
 * Throws GraftdClientError: GRAFTD_CLIENT_UNREACHABLE or GRAFTD_CLIENT_TLS (both not sent),
 * GRAFTD_CLIENT_TIMEOUT or GRAFTD_CLIENT_CONNECTION_LOST (both outcomeUnknown). HTTP error
 * statuses are returned, not thrown. `signal` (optional) cancels the attempt (client closing).
 */
export async function attempt(
  transport: HttpTransport,
  endpoint: string,
  request: AttemptRequest,
  timeoutMs: number,
  via: AttemptVia = PLAIN,
  signal?: AbortSignal,
): Promise<AttemptAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  if (via.authorization !== '') headers.authorization = via.authorization;
  try {
    const answer = await transport.request(
      endpoint,
      {
        method: request.method,
        path: request.path,
        headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        ...(request.stream === true ? { stream: true } : {}),
      },
      timeoutMs,
      signal,
    );
    const stream = answer.body === null ? null : streamed(answer.body, endpoint, timeoutMs, via);
    return { endpoint, status: answer.status, headers: answer.headers, text: answer.text, stream };
  } catch (err) {
    if (!(err instanceof TransportFailure)) throw err;
    throw classify(endpoint, err, timeoutMs, via);
  }
}
