/**
 * Maps every error — ours, fastify's, undici's — to the one error shape of the API:
 * a status code and `{"error": "...", "code": "GRAFTD_..."}`.
 *
 * Why one place: clients and the chaos checker branch on status and code (2xx applied,
 * 4xx no effect, 503 no effect + Retry-After, 504 outcome unknown), so the mapping must be
 * the same whichever layer failed.
 */
import { GraftdError, errorStatus } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';

/** Seconds a client should wait before retrying a 503 (leader elections take about a second). */
export const retryAfterSeconds = 1;

/** A fully resolved error answer. */
export interface ErrorReply {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
}

interface FrameworkError {
  readonly code?: unknown;
  readonly statusCode?: unknown;
  readonly message?: unknown;
}

/** The answer for `code`, its status looked up in the one table (src/errors.ts `errorStatus`). */
export function errorReply(code: ErrorCode, message: string): ErrorReply {
  return { status: errorStatus[code], code, message };
}

/** fastify/avvio error codes we translate to our own codes. */
const frameworkCodes: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'GRAFTD_TOO_LARGE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'GRAFTD_INVALID_BODY',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'GRAFTD_INVALID_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'GRAFTD_INVALID_BODY',
  FST_ERR_BAD_URL: 'GRAFTD_INVALID_KEY',
  FST_ERR_MAX_PARAM_LENGTH: 'GRAFTD_INVALID_KEY',
};

/** Translate any thrown value into the status, code and message we answer with. */
export function toErrorReply(err: unknown, maxBodyBytes: number): ErrorReply {
  if (err instanceof GraftdError) return { status: err.httpStatus, code: err.code, message: err.message };
  const fe = (typeof err === 'object' && err !== null ? err : {}) as FrameworkError;
  const fcode = typeof fe.code === 'string' ? fe.code : '';
  const message = typeof fe.message === 'string' ? fe.message : String(err);
  const known = frameworkCodes[fcode];
  if (known !== undefined) {
    const text = fcode === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `expected a body of at most ${maxBodyBytes} bytes, found more` : message;
    return errorReply(known, text);
  }
  // Other client errors raised by fastify (malformed request details): keep their 4xx status (an
  // HTTP protocol answer, like 431/408 for malformed requests in server.ts: docs/api.md → Error codes).
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, code: 'GRAFTD_INVALID_BODY', message };
  }
  return errorReply('GRAFTD_INTERNAL', `internal error: ${message}`);
}

/** The JSON text of an error body. */
export function errorBody(reply: Pick<ErrorReply, 'code' | 'message'>): string {
  return JSON.stringify({ error: reply.message, code: reply.code });
}
