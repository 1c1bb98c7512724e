/**
 * The one error type the client library throws.
 *
 * Why its own class: callers (graftctl, benchmarks, the chaos harness) must tell three cases
 * apart without parsing messages — the server said no (`code` from the server, provably no
 * effect unless 5xx), the request could not be delivered anywhere (safe to retry later), and
 * the outcome is unknown (a write that may or may not have been applied: never retry blindly).
 */
import type { ErrorCode } from '../errors.ts';

/** Codes raised by the client itself (no server answer to carry one). */
export type ClientErrorCode =
  /** No endpoint accepted a connection (refused, unresolvable, connect timeout). The request was never sent. */
  | 'GRAFTD_CLIENT_UNREACHABLE'
  /**
   * The TLS handshake failed (server certificate not trusted or expired, our client certificate
   * refused or missing, the endpoint does not speak TLS). The request was never sent.
   */
  | 'GRAFTD_CLIENT_TLS'
  /** The request was sent but no complete answer arrived in time. */
  | 'GRAFTD_CLIENT_TIMEOUT'
  /** The connection broke after the request was sent. */
  | 'GRAFTD_CLIENT_CONNECTION_LOST'
  /** The server answered something that is not the documented shape. */
  | 'GRAFTD_CLIENT_BAD_RESPONSE'
  /** The caller passed something invalid (e.g. no endpoints). */
  | 'GRAFTD_CLIENT_BAD_ARGUMENT';

/** Thrown by every {@link GraftdClient} method on failure. */
export class GraftdClientError extends Error {
  /** A server code (`GRAFTD_NO_LEADER`, …) or a client code (`GRAFTD_CLIENT_…`). */
  readonly code: ErrorCode | ClientErrorCode;
  /** HTTP status of the answer; 0 when no answer arrived. */
  readonly status: number;
  /**
   * True when the request may have been applied: a 504 / 500 answer, or a timeout or broken
   * connection after the request was sent. Such writes are never retried by the client.
   */
  readonly outcomeUnknown: boolean;
  /** The endpoint (host:port) of the last attempt, '' when none was made. */
  readonly endpoint: string;

  constructor(
    code: ErrorCode | ClientErrorCode,
    message: string,
    details: { status?: number; outcomeUnknown?: boolean; endpoint?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'GraftdClientError';
    this.code = code;
    this.status = details.status ?? 0;
    this.outcomeUnknown = details.outcomeUnknown ?? false;
    this.endpoint = details.endpoint ?? '';
  }
}
