/**
 * Log-entry encoding of transactions (op 3) and lease operations (op 4).
 *
 * Why its own file: a txn is a small program (compares, two branches of ops) whose every field
 * is untrusted when it is read back from the WAL or a peer; this file turns the API's objects
 * (src/kv/types.ts) into compact msgpack arrays and back, validating every element, so the store
 * only ever applies well-formed programs.
 *
 * Layouts (msgpack arrays):
 *   txn     [3, compares, success, failure]
 *     compare [key, target, op, value]   target: TARGETS index, op: OPS index
 *     op      [1, key, value, lease]     put (lease 0 = none)
 *             [2, key]                   delete one key
 *             [3, prefix]                delete every key with the prefix
 *             [4, key]                   get one key
 *             [5, prefix, limit]         get keys with the prefix (sorted, at most limit)
 *   lease   [4, 1, ttlSeconds]           grant (the id is assigned at apply: deterministic)
 *           [4, 2, id]                   keepalive
 *           [4, 3, id]                   revoke (delete its keys)
 *           [4, 4, id, renewedAt]        expire: revoke only if not renewed since renewedAt (leader's lessor)
 */
import { GraftdError } from '../errors.ts';
import { OP_DEL, OP_LEASE, OP_SET, OP_TXN, copy, describe, flatOf, invalid, packr, unpackCommand } from './command.ts';
import {
  type Compare,
  type CompareOp,
  type CompareTarget,
  MAX_LEASE_TTL_SECONDS,
  MAX_RANGE_LIMIT,
  MAX_TXN_COMPARES,
  MAX_TXN_OPS,
  type TxnOp,
  type TxnRequest,
  parseLeaseId,
} from './types.ts';

export const TARGETS: readonly CompareTarget[] = ['value', 'version', 'modRevision', 'createRevision', 'exists', 'lease'];
export const COMPARE_OPS: readonly CompareOp[] = ['=', '!=', '<', '>'];

export interface DecodedCompare {
  readonly key: string;
  readonly target: CompareTarget;
  readonly op: CompareOp;
  /** string (value), number (revisions, version, lease id), boolean (exists). */
  readonly value: string | number | boolean;
}

export type DecodedOp =
  | { readonly kind: 'put'; readonly key: string; readonly value: string; readonly lease: number }
  | { readonly kind: 'delete'; readonly key: string }
  | { readonly kind: 'deletePrefix'; readonly prefix: string }
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'getPrefix'; readonly prefix: string; readonly limit: number };

export interface DecodedTxn {
  readonly compares: readonly DecodedCompare[];
  readonly success: readonly DecodedOp[];
  readonly failure: readonly DecodedOp[];
}

export type DecodedLeaseOp =
  | { readonly kind: 'grant'; readonly ttl: number }
  | { readonly kind: 'keepalive'; readonly id: number }
  | { readonly kind: 'revoke'; readonly id: number }
  | { readonly kind: 'expire'; readonly id: number; readonly renewedAt: number };

const PUT = 1;
const DELETE = 2;
const DELETE_PREFIX = 3;
const GET = 4;
const GET_PREFIX = 5;

const GRANT = 1;
const KEEPALIVE = 2;
const REVOKE = 3;
const EXPIRE = 4;

function bad(message: string): GraftdError {
  return new GraftdError('GRAFTD_INVALID_BODY', message);
}

function leaseNumber(text: string, where: string): number {
  const id = parseLeaseId(text);
  if (id === undefined) throw bad(`${where} must be a lease id (lower-case hex), found ${JSON.stringify(text).slice(0, 40)}`);
  return id;
}

/**
 * Encode a transaction. Validates types and bounds (GRAFTD_INVALID_BODY / GRAFTD_TXN_TOO_LARGE) — the
 * HTTP layer validates first with better messages; this is the last line before the log.
 */
export function encodeTxn(request: TxnRequest): Uint8Array {
  if (request.compare.length > MAX_TXN_COMPARES)
    throw new GraftdError(
      'GRAFTD_TXN_TOO_LARGE',
      `a transaction may have at most ${MAX_TXN_COMPARES} compares, found ${request.compare.length}`,
    );
  for (const [name, ops] of [
    ['success', request.success],
    ['failure', request.failure],
  ] as const) {
    if (ops.length > MAX_TXN_OPS)
      throw new GraftdError('GRAFTD_TXN_TOO_LARGE', `a transaction branch may have at most ${MAX_TXN_OPS} ops, ${name} has ${ops.length}`);
  }
  const compares = request.compare.map((c, i) => encodeCompare(c, `compare[${i}]`));
  const success = request.success.map((op, i) => encodeOp(op, `success[${i}]`));
  const failure = request.failure.map((op, i) => encodeOp(op, `failure[${i}]`));
  return copy(packr.pack([OP_TXN, compares, success, failure]));
}

function encodeCompare(c: Compare, where: string): unknown[] {
  if (typeof c.key !== 'string') throw bad(`${where}.key must be a string`);
  const target = TARGETS.indexOf(c.target);
  if (target < 0) throw bad(`${where}.target must be one of ${TARGETS.join(', ')}`);
  const op = COMPARE_OPS.indexOf(c.op);
  if (op < 0) throw bad(`${where}.op must be one of ${COMPARE_OPS.join(' ')}`);
  let value: string | number | boolean;
  if (c.target === 'value') {
    if (typeof c.value !== 'string') throw bad(`${where}.value must be a string for target value`);
    value = c.value;
  } else if (c.target === 'exists') {
    if (typeof c.value !== 'boolean') throw bad(`${where}.value must be true or false for target exists`);
    if (c.op !== '=' && c.op !== '!=') throw bad(`${where}.op must be = or != for target exists`);
    value = c.value;
  } else if (c.target === 'lease') {
    if (typeof c.value !== 'string') throw bad(`${where}.value must be a lease id string ('' for none) for target lease`);
    value = leaseNumber(c.value, `${where}.value`);
  } else {
    if (typeof c.value !== 'number' || !Number.isSafeInteger(c.value) || c.value < 0)
      throw bad(`${where}.value must be a non-negative integer for target ${c.target}`);
    value = c.value;
  }
  return [c.key, target, op, value];
}

function encodeOp(op: TxnOp, where: string): unknown[] {
  if ('put' in op) {
    const { key, value, lease } = op.put;
    if (typeof key !== 'string' || typeof value !== 'string') throw bad(`${where}.put needs a string key and value`);
    return [PUT, key, value, lease === undefined ? 0 : leaseNumber(lease, `${where}.put.lease`)];
  }
  if ('delete' in op) {
    const d = op.delete;
    if ('prefix' in d && typeof d.prefix === 'string') return [DELETE_PREFIX, d.prefix];
    if ('key' in d && typeof d.key === 'string') return [DELETE, d.key];
    throw bad(`${where}.delete needs a string key or prefix`);
  }
  if ('get' in op) {
    const g = op.get;
    if ('prefix' in g && typeof g.prefix === 'string') {
      const limit = g.limit ?? MAX_RANGE_LIMIT;
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RANGE_LIMIT)
        throw bad(`${where}.get.limit must be an integer from 1 to ${MAX_RANGE_LIMIT}`);
      return [GET_PREFIX, g.prefix, limit];
    }
    if ('key' in g && typeof g.key === 'string') return [GET, g.key];
    throw bad(`${where}.get needs a string key or prefix`);
  }
  throw bad(`${where} must be one of {put}, {delete}, {get}`);
}

export function encodeLeaseGrant(ttlSeconds: number): Uint8Array {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_LEASE_TTL_SECONDS)
    throw bad(`ttl must be an integer number of seconds from 1 to ${MAX_LEASE_TTL_SECONDS}, found ${ttlSeconds}`);
  return copy(packr.pack([OP_LEASE, GRANT, ttlSeconds]));
}

export function encodeLeaseKeepAlive(id: number): Uint8Array {
  return copy(packr.pack([OP_LEASE, KEEPALIVE, checkId(id)]));
}

export function encodeLeaseRevoke(id: number): Uint8Array {
  return copy(packr.pack([OP_LEASE, REVOKE, checkId(id)]));
}

/** The leader's expiry decision: revoke `id` unless it was renewed after `renewedAt` (a log index). */
export function encodeLeaseExpire(id: number, renewedAt: number): Uint8Array {
  return copy(packr.pack([OP_LEASE, EXPIRE, checkId(id), renewedAt]));
}

function checkId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 1) throw bad(`a lease id must be a positive integer, found ${id}`);
  return id;
}

// ---------------------------------------------------------------- decoding (untrusted input)

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Validate a txn command's array (from unpackCommand, op 3). */
export function decodeTxn(value: unknown[]): DecodedTxn {
  if (value.length !== 4) throw invalid(`txn: expected [3, compares, success, failure], found ${describe(value)}`);
  const [, compares, success, failure] = value;
  if (!Array.isArray(compares) || compares.length > MAX_TXN_COMPARES)
    throw invalid(`txn: compares must be an array of ≤ ${MAX_TXN_COMPARES}`);
  return {
    compares: compares.map(decodeCompare),
    success: decodeOps(success, 'success'),
    failure: decodeOps(failure, 'failure'),
  };
}

function decodeCompare(c: unknown, i: number): DecodedCompare {
  if (!Array.isArray(c) || c.length !== 4) throw invalid(`txn: compare ${i} must be [key, target, op, value]`);
  const [key, t, o, value] = c as [unknown, unknown, unknown, unknown];
  const target = typeof t === 'number' ? TARGETS[t] : undefined;
  const op = typeof o === 'number' ? COMPARE_OPS[o] : undefined;
  if (typeof key !== 'string' || target === undefined || op === undefined) throw invalid(`txn: compare ${i} has a bad key, target or op`);
  const ok =
    target === 'value'
      ? typeof value === 'string'
      : target === 'exists'
        ? typeof value === 'boolean' && (op === '=' || op === '!=')
        : isCount(value);
  if (!ok) throw invalid(`txn: compare ${i} (${target}) has a value of the wrong type: ${describe(value)}`);
  return { key, target, op, value: value as string | number | boolean };
}

function decodeOps(ops: unknown, branch: string): DecodedOp[] {
  if (!Array.isArray(ops) || ops.length > MAX_TXN_OPS) throw invalid(`txn: ${branch} must be an array of ≤ ${MAX_TXN_OPS} ops`);
  return ops.map((op, i) => decodeOp(op, `${branch}[${i}]`));
}

function decodeOp(op: unknown, where: string): DecodedOp {
  if (!Array.isArray(op) || op.length < 2 || typeof op[1] !== 'string') throw invalid(`txn: ${where} must be [kind, key, ...]`);
  const key = op[1] as string;
  switch (op[0]) {
    case PUT:
      if (op.length !== 4 || typeof op[2] !== 'string' || !isCount(op[3]))
        throw invalid(`txn: ${where} put must be [1, key, value, lease]`);
      return { kind: 'put', key, value: op[2], lease: op[3] };
    case DELETE:
      if (op.length !== 2) throw invalid(`txn: ${where} delete must be [2, key]`);
      return { kind: 'delete', key };
    case DELETE_PREFIX:
      if (op.length !== 2) throw invalid(`txn: ${where} delete-prefix must be [3, prefix]`);
      return { kind: 'deletePrefix', prefix: key };
    case GET:
      if (op.length !== 2) throw invalid(`txn: ${where} get must be [4, key]`);
      return { kind: 'get', key };
    case GET_PREFIX:
      if (op.length !== 3 || !isCount(op[2]) || op[2] < 1 || op[2] > MAX_RANGE_LIMIT)
        throw invalid(`txn: ${where} get-prefix must be [5, prefix, limit 1..${MAX_RANGE_LIMIT}]`);
      return { kind: 'getPrefix', prefix: key, limit: op[2] };
    default:
      throw invalid(`txn: ${where} has unknown op kind ${describe(op[0])}`);
  }
}

/** Validate a lease command's array (from unpackCommand, op 4). */
export function decodeLeaseOp(value: unknown[]): DecodedLeaseOp {
  const [, sub, a, b] = value;
  if (sub === GRANT && value.length === 3 && isCount(a) && a >= 1 && a <= MAX_LEASE_TTL_SECONDS) return { kind: 'grant', ttl: a };
  if (isCount(a) && a >= 1) {
    if (sub === KEEPALIVE && value.length === 3) return { kind: 'keepalive', id: a };
    if (sub === REVOKE && value.length === 3) return { kind: 'revoke', id: a };
    if (sub === EXPIRE && value.length === 4 && isCount(b)) return { kind: 'expire', id: a, renewedAt: b };
  }
  throw invalid(`lease: malformed lease command ${describe(sub)} of length ${value.length}`);
}

/** A command whose op code this release does not know. */
export function invalidOp(op: unknown): GraftdError {
  return invalid(`unknown op code ${describe(op)}; expected ${[1, 2, OP_TXN, OP_LEASE].join(', ')} (set, del, txn, lease)`);
}

/** Any kv command, decoded and fully validated: what the store applies and what validate() checks. */
export type AnyKvCommand =
  | { readonly kind: 'set' | 'del'; readonly flat: readonly string[] }
  | { readonly kind: 'txn'; readonly txn: DecodedTxn }
  | { readonly kind: 'lease'; readonly op: DecodedLeaseOp };

/** Decode and validate a non-empty log entry's command of any op. Throws GRAFTD_CORRUPT on anything malformed. */
export function decodeAnyCommand(data: Uint8Array): AnyKvCommand {
  const cmd = unpackCommand(data);
  switch (cmd[0]) {
    case OP_SET:
      return { kind: 'set', flat: flatOf(cmd).flat };
    case OP_DEL:
      return { kind: 'del', flat: flatOf(cmd).flat };
    case OP_TXN:
      return { kind: 'txn', txn: decodeTxn(cmd) };
    case OP_LEASE:
      return { kind: 'lease', op: decodeLeaseOp(cmd) };
    default:
      throw invalidOp(cmd[0]);
  }
}
