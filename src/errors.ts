/**
 * Every error graftd raises on purpose, each with a stable code.
 *
 * Why one file: callers (HTTP layer, graftctl, chaos harness) branch on `code`, never on
 * message text, so the codes must be defined once and documented in one place
 * (undici / fastify style). Messages say what was expected and what was found.
 */

export type ErrorCode =
  | 'GRAFTD_NOT_LEADER'
  | 'GRAFTD_NO_LEADER'
  | 'GRAFTD_PROPOSAL_DROPPED'
  | 'GRAFTD_CONF_CHANGE_IN_PROGRESS'
  | 'GRAFTD_INVALID_CONF_CHANGE'
  | 'GRAFTD_TRANSFER_IN_PROGRESS'
  | 'GRAFTD_COMPACTED'
  | 'GRAFTD_UNAVAILABLE'
  | 'GRAFTD_CORRUPT'
  | 'GRAFTD_STORAGE_FAILED'
  | 'GRAFTD_DISK_FULL'
  | 'GRAFTD_TIMEOUT'
  | 'GRAFTD_INVALID_JSON'
  | 'GRAFTD_INVALID_BODY'
  | 'GRAFTD_INVALID_KEY'
  | 'GRAFTD_TOO_LARGE'
  | 'GRAFTD_KEY_NOT_FOUND'
  | 'GRAFTD_ROUTE_NOT_FOUND'
  | 'GRAFTD_METHOD_NOT_ALLOWED'
  | 'GRAFTD_UNKNOWN_MEMBER'
  | 'GRAFTD_LAST_VOTER'
  | 'GRAFTD_REMOVED'
  | 'GRAFTD_CLUSTER_MISMATCH'
  | 'GRAFTD_FOREIGN_CLUSTER'
  | 'GRAFTD_BAD_CONFIG'
  | 'GRAFTD_SHUTTING_DOWN'
  | 'GRAFTD_INVALID_HISTORY'
  | 'GRAFTD_PEER_UNREACHABLE'
  | 'GRAFTD_UNAUTHORIZED'
  | 'GRAFTD_FORBIDDEN'
  | 'GRAFTD_TOO_MANY_CONNECTIONS'
  | 'GRAFTD_INTERNAL';

/** Base class: `code` is stable API; `httpStatus` is what the HTTP layer answers with. */
export class GraftdError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  constructor(code: ErrorCode, message: string, httpStatus = 500, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GraftdError';
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

/** This node is not the leader; `leader` is the known leader id or '' when unknown. */
export class NotLeaderError extends GraftdError {
  readonly leader: string;
  constructor(leader: string) {
    super('GRAFTD_NOT_LEADER', leader === '' ? 'not leader, and no leader is known' : `not leader; the leader is ${leader}`, 503);
    this.name = 'NotLeaderError';
    this.leader = leader;
  }
}

/** The proposal was not appended (transfer in progress, backpressure, or superseded). It provably had no effect. */
export class ProposalDroppedError extends GraftdError {
  constructor(reason: string) {
    super('GRAFTD_PROPOSAL_DROPPED', `proposal dropped: ${reason}`, 503);
    this.name = 'ProposalDroppedError';
  }
}

export class ConfChangeInProgressError extends GraftdError {
  constructor(pendingIndex: number) {
    super('GRAFTD_CONF_CHANGE_IN_PROGRESS', `a membership change is already in progress (log index ${pendingIndex}); retry when it has been applied`, 409);
    this.name = 'ConfChangeInProgressError';
  }
}

export class InvalidConfChangeError extends GraftdError {
  constructor(message: string) {
    super('GRAFTD_INVALID_CONF_CHANGE', message, 409);
    this.name = 'InvalidConfChangeError';
  }
}

/** The requested index is below the first retained log index (compacted into a snapshot). */
export class CompactedError extends GraftdError {
  constructor(index: number, firstIndex: number) {
    super('GRAFTD_COMPACTED', `log index ${index} is compacted; the first retained index is ${firstIndex}`, 500);
    this.name = 'CompactedError';
  }
}

/** The requested index is beyond the last log index. */
export class UnavailableError extends GraftdError {
  constructor(index: number, lastIndex: number) {
    super('GRAFTD_UNAVAILABLE', `log index ${index} is not available; the last index is ${lastIndex}`, 500);
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
      500,
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
    super('GRAFTD_STORAGE_FAILED', `storage failure during ${operation}: ${detail}; this node no longer accepts writes`, 503, { cause });
    this.name = 'StorageFailedError';
  }
}

/** The request waited longer than allowed; it may or may not have been applied. */
export class TimeoutError extends GraftdError {
  constructor(what: string, timeoutMs: number) {
    super('GRAFTD_TIMEOUT', `${what} did not complete within ${timeoutMs} ms; the outcome is unknown (it may still be applied)`, 504);
    this.name = 'TimeoutError';
  }
}

/** Throw when an internal invariant does not hold (TigerBeetle-style assertion). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new GraftdError('GRAFTD_INTERNAL', `invariant violated: ${message}`, 500);
}
