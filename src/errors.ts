/**
 * Every error graftd raises on purpose, each with a stable code.
 *
 * Why one file: callers (HTTP layer, graftctl, chaos harness) branch on `code`, never on
 * message text, so the codes must be defined once and documented in one place
 * (undici / fastify style). Messages say what was expected and what was found.
 */

/**
 * Every code and the HTTP status it is answered with, bound once (issue 12). The raft core, the
 * WAL and the transport raise codes only and never name a status; the HTTP layer
 * (src/http/error-reply.ts) and the forwarded-write frames look the status up here, so a code
 * cannot answer 400 in one place and 404 in another. docs/api.md → Error codes lists the same
 * table (test/errors-table.test.ts keeps the two and the sources in step).
 */
export const errorStatus = {
  // Not done, retry (503 answers carry Retry-After).
  GRAFTD_NOT_LEADER: 503,
  GRAFTD_NO_LEADER: 503,
  GRAFTD_PROPOSAL_DROPPED: 503,
  /** Briefly unable to serve: storage busy, not caught up, data not there yet; retry. */
  GRAFTD_UNAVAILABLE: 503,
  GRAFTD_STORAGE_FAILED: 503,
  GRAFTD_SHUTTING_DOWN: 503,
  GRAFTD_PEER_UNREACHABLE: 503,
  GRAFTD_TOO_MANY_CONNECTIONS: 503,
  GRAFTD_DISK_FULL: 507,
  // Outcome unknown.
  GRAFTD_TIMEOUT: 504,
  // Refused: the request is wrong and had no effect.
  GRAFTD_INVALID_JSON: 400,
  GRAFTD_INVALID_BODY: 400,
  GRAFTD_INVALID_KEY: 400,
  GRAFTD_INVALID_HISTORY: 400,
  /** A transaction over its bounds (compares or ops per branch). */
  GRAFTD_TXN_TOO_LARGE: 400,
  GRAFTD_UNAUTHORIZED: 401,
  GRAFTD_FORBIDDEN: 403,
  GRAFTD_KEY_NOT_FOUND: 404,
  GRAFTD_ROUTE_NOT_FOUND: 404,
  /** A member id the cluster does not have (remove, transfer-leader target, vizor proxy). */
  GRAFTD_UNKNOWN_MEMBER: 404,
  /** No lease with that id (never granted, revoked or expired). */
  GRAFTD_LEASE_NOT_FOUND: 404,
  GRAFTD_METHOD_NOT_ALLOWED: 405,
  GRAFTD_CONF_CHANGE_IN_PROGRESS: 409,
  GRAFTD_INVALID_CONF_CHANGE: 409,
  GRAFTD_TRANSFER_IN_PROGRESS: 409,
  GRAFTD_LAST_VOTER: 409,
  GRAFTD_CLUSTER_MISMATCH: 409,
  GRAFTD_FOREIGN_CLUSTER: 409,
  GRAFTD_REMOVED: 410,
  /** A watch asked to start at a revision older than this node's kept history (the body names the oldest available). */
  GRAFTD_REVISION_COMPACTED: 410,
  /** A conditional write's condition did not hold; nothing was written (the body carries the key's current state). */
  GRAFTD_CONDITION_FAILED: 412,
  GRAFTD_TOO_LARGE: 413,
  // This node is broken or misconfigured; not the request's fault.
  GRAFTD_COMPACTED: 500,
  GRAFTD_CORRUPT: 500,
  GRAFTD_BAD_CONFIG: 500,
  GRAFTD_INTERNAL: 500,
} as const satisfies Record<string, number>;

/** The stable error codes (the keys of `errorStatus`). */
export type ErrorCode = keyof typeof errorStatus;

/** Whether `code` is one this version knows (a newer peer may send one it does not). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorStatus, code);
}

/** The HTTP status `code` is answered with; 500 for a code this version does not know. */
export function statusOf(code: string): number {
  return isErrorCode(code) ? errorStatus[code] : 500;
}

/**
 * Base class: `code` is stable API; the HTTP status comes from `errorStatus` (`httpStatus`).
 *
 * Compatibility: call sites not yet converted may still pass the status as the third argument
 * (`new GraftdError(code, message, 404, { cause })`). For a code in the table the table wins —
 * test/errors-table.test.ts fails when such a source literal disagrees with it; for a code this
 * version does not know (relayed from a newer peer) the given status is kept.
 */
export class GraftdError extends Error {
  readonly code: ErrorCode;
  readonly #status: number;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions);
  /** @deprecated the status comes from `errorStatus`; drop the third argument. */
  constructor(code: ErrorCode, message: string, status: number, options?: ErrorOptions);
  constructor(code: ErrorCode, message: string, statusOrOptions?: number | ErrorOptions, options?: ErrorOptions) {
    super(message, typeof statusOrOptions === 'number' ? options : statusOrOptions);
    this.name = 'GraftdError';
    this.code = code;
    this.#status = isErrorCode(code) ? errorStatus[code] : typeof statusOrOptions === 'number' ? statusOrOptions : 500;
  }

  /** The HTTP status this error is answered with (from `errorStatus`). */
  get httpStatus(): number {
    return this.#status;
  }
}

/** This node is not the leader; `leader` is the known leader id or '' when unknown. */
export class NotLeaderError extends GraftdError {
  readonly leader: string;
  constructor(leader: string) {
    super('GRAFTD_NOT_LEADER', leader === '' ? 'not leader, and no leader is known' : `not leader; the leader is ${leader}`);
    this.name = 'NotLeaderError';
    this.leader = leader;
  }
}

/** The proposal was not appended (transfer in progress, backpressure, or superseded). It provably had no effect. */
export class ProposalDroppedError extends GraftdError {
  constructor(reason: string) {
    super('GRAFTD_PROPOSAL_DROPPED', `proposal dropped: ${reason}`);
    this.name = 'ProposalDroppedError';
  }
}

export class ConfChangeInProgressError extends GraftdError {
  constructor(pendingIndex: number) {
    super(
      'GRAFTD_CONF_CHANGE_IN_PROGRESS',
      `a membership change is already in progress (log index ${pendingIndex}); retry when it has been applied`,
    );
    this.name = 'ConfChangeInProgressError';
  }
}

export class InvalidConfChangeError extends GraftdError {
  constructor(message: string) {
    super('GRAFTD_INVALID_CONF_CHANGE', message);
    this.name = 'InvalidConfChangeError';
  }
}

/** The requested index is below the first retained log index (compacted into a snapshot). */
export class CompactedError extends GraftdError {
  constructor(index: number, firstIndex: number) {
    super('GRAFTD_COMPACTED', `log index ${index} is compacted; the first retained index is ${firstIndex}`);
    this.name = 'CompactedError';
  }
}

/** The requested index is beyond the last log index. */
export class UnavailableError extends GraftdError {
  constructor(index: number, lastIndex: number) {
    super('GRAFTD_UNAVAILABLE', `log index ${index} is not available; the last index is ${lastIndex}`);
    this.name = 'UnavailableError';
  }
}

/** Data on disk failed its checksum in a place that is not a torn tail. `file` and `offset` locate it. */
export class CorruptionError extends GraftdError {
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, detail: string) {
    super(
      'GRAFTD_CORRUPT',
      `corrupt data in ${file} at byte offset ${offset}: ${detail}. Valid records follow it, so this is not a torn write; refusing to start rather than lose acknowledged data. To recover, restore this node from a backup (graftd --restore) or wipe its data directory and rejoin the cluster.`,
    );
    this.name = 'CorruptionError';
    this.file = file;
    this.offset = offset;
  }
}

/** A write to disk failed; the node stops accepting writes. */
export class StorageFailedError extends GraftdError {
  constructor(operation: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('GRAFTD_STORAGE_FAILED', `storage failure during ${operation}: ${detail}; this node no longer accepts writes`, { cause });
    this.name = 'StorageFailedError';
  }
}

/** The request waited longer than allowed; it may or may not have been applied. */
export class TimeoutError extends GraftdError {
  constructor(what: string, timeoutMs: number) {
    super('GRAFTD_TIMEOUT', `${what} did not complete within ${timeoutMs} ms; the outcome is unknown (it may still be applied)`);
    this.name = 'TimeoutError';
  }
}

/** Throw when an internal invariant does not hold (TigerBeetle-style assertion). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new GraftdError('GRAFTD_INTERNAL', `invariant violated: ${message}`);
}
