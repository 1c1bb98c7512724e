/**
 * Parsing and validation of the coordination routes' input (issue 13): range queries, conditional
 * PUT bodies and DELETE conditions, transactions, lease TTLs and ids.
 *
 * Why separate from body.ts: these rules are many and nested (a transaction is a small program),
 * and each message must name the exact place that is wrong (`success[2].put.value must be a
 * string, found a number`) so a client can fix its request without reading the server. Pure
 * functions throwing coded GraftdErrors, tested without HTTP. Everything that is accepted here is
 * also accepted by the state machine; the node checks again (defence in depth, and for library users).
 */
import { GraftdError } from '../errors.ts';
import type { Compare, CompareOp, CompareTarget, RangeRequest, TxnOp, TxnRequest } from '../kv/types.ts';
import { DEFAULT_RANGE_LIMIT, MAX_LEASE_TTL_SECONDS, MAX_RANGE_LIMIT, MAX_TXN_COMPARES, MAX_TXN_OPS, parseLeaseId } from '../kv/types.ts';
import type { ReadLevel } from '../node/api.ts';
import { checkKey, checkValue, type InputLimits, parseJsonObject, parseReadLevel } from './body.ts';

function invalid(message: string): GraftdError {
  return new GraftdError('GRAFTD_INVALID_BODY', message);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return `a ${typeof value}`;
}

/** Query parameters as fastify parses them: a repeated name is an array. */
export type Query = Readonly<Record<string, unknown>>;

/** Refuse query parameters not in `allowed` (a misspelt condition must not turn into an unconditional write). */
export function checkQueryNames(query: Query, allowed: readonly string[], route: string): void {
  for (const name of Object.keys(query)) {
    if (!allowed.includes(name)) {
      throw invalid(`unknown query parameter ${JSON.stringify(name)} for ${route}; expected ${allowed.join(', ')}`);
    }
  }
}

/** One query parameter as a string (undefined when absent); a repeated one is refused. */
function queryString(query: Query, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`query parameter ${name} must be given once, found ${describe(value)}`);
  return value;
}

/** `true`/`false` (absent: false). */
export function queryFlag(query: Query, name: string): boolean {
  const value = queryString(query, name);
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw invalid(`query parameter ${name} must be true or false, found ${describe(value)}`);
}

function queryWholeNumber(query: Query, name: string, min: number, max: number): number | undefined {
  const text = queryString(query, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw invalid(`query parameter ${name} must be a whole number from ${min} to ${max}, found ${describe(text)}`);
  }
  return n;
}

/** A key bound (prefix, start, end, after): may be empty, at most maxKeyBytes. */
function checkBound(text: string, what: string, limits: InputLimits): void {
  if (text.length * 3 > limits.maxKeyBytes && Buffer.byteLength(text, 'utf8') > limits.maxKeyBytes) {
    throw new GraftdError(
      'GRAFTD_INVALID_KEY',
      `${what} must be at most ${limits.maxKeyBytes} bytes, found ${Buffer.byteLength(text, 'utf8')}`,
    );
  }
}

/** The query of GET /keys: exactly one of prefix / start (end optional), limit, after, keysOnly, level. */
export function parseRangeQuery(query: Query, limits: InputLimits): { request: RangeRequest; level: ReadLevel } {
  checkQueryNames(query, ['prefix', 'start', 'end', 'limit', 'after', 'keysOnly', 'level'], 'GET /keys');
  const prefix = queryString(query, 'prefix');
  const start = queryString(query, 'start');
  const end = queryString(query, 'end');
  if ((prefix === undefined) === (start === undefined)) {
    throw invalid(
      prefix === undefined
        ? 'GET /keys needs prefix=P (prefix= for every key) or start=A[&end=B]'
        : 'GET /keys takes either prefix or start, not both',
    );
  }
  if (prefix !== undefined && end !== undefined) throw invalid('end goes with start, not with prefix');
  const limit = queryWholeNumber(query, 'limit', 1, MAX_RANGE_LIMIT) ?? DEFAULT_RANGE_LIMIT;
  const after = queryString(query, 'after');
  for (const [name, value] of [
    ['prefix', prefix],
    ['start', start],
    ['end', end],
    ['after', after],
  ] as const) {
    if (value !== undefined) checkBound(value, name, limits);
  }
  const keysOnly = queryFlag(query, 'keysOnly');
  const level = parseReadLevel(query.level);
  const range = prefix !== undefined ? { prefix } : { start: start as string, ...(end === undefined ? {} : { end }) };
  return { request: { ...range, limit, ...(after === undefined ? {} : { after }), ...(keysOnly ? { keysOnly } : {}) }, level };
}

function wholeNumber(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${path} must be a whole number ≥ 0, found ${describe(value)}`);
  }
  return value;
}

function string(value: unknown, path: string): string {
  if (typeof value !== 'string') throw invalid(`${path} must be a string, found ${describe(value)}`);
  return value;
}

/** A lease id field: '' (none) or lower-case hex. */
function leaseField(value: unknown, path: string): string {
  const text = string(value, path);
  if (parseLeaseId(text) === undefined) throw invalid(`${path} must be a lease id in lower-case hex (e.g. "1f"), found ${describe(text)}`);
  return text;
}

/** A key field: a non-empty string within the key limit; the message names `path`. */
function keyField(value: unknown, path: string, limits: InputLimits): string {
  const key = string(value, path);
  try {
    checkKey(key, limits);
  } catch (err) {
    if (err instanceof GraftdError) throw new GraftdError(err.code, `${path}: ${err.message}`);
    throw err;
  }
  return key;
}

function valueField(value: unknown, path: string, key: string, limits: InputLimits): string {
  const text = string(value, path);
  checkValue(key, text, limits);
  return text;
}

function prefixField(value: unknown, path: string, limits: InputLimits): string {
  const text = string(value, path);
  checkBound(text, path, limits);
  return text;
}

/** An object with only the `allowed` fields (each present one is then read by the caller). */
function object(value: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(`${path} must be a JSON object, found ${describe(value)}`);
  }
  const record = value as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    if (!allowed.includes(name)) throw invalid(`${path} has an unknown field ${JSON.stringify(name)}; expected ${allowed.join(', ')}`);
  }
  return record;
}

const TARGETS: readonly CompareTarget[] = ['value', 'version', 'modRevision', 'createRevision', 'exists', 'lease'];
const OPS: readonly CompareOp[] = ['=', '!=', '<', '>'];

function parseCompare(value: unknown, path: string, limits: InputLimits): Compare {
  const c = object(value, path, ['key', 'target', 'op', 'value']);
  const key = keyField(c.key, `${path}.key`, limits);
  const target = c.target;
  if (typeof target !== 'string' || !TARGETS.includes(target as CompareTarget)) {
    throw invalid(`${path}.target must be one of ${TARGETS.join(', ')}; found ${describe(target)}`);
  }
  const op = c.op;
  if (typeof op !== 'string' || !OPS.includes(op as CompareOp))
    throw invalid(`${path}.op must be one of ${OPS.join(' ')}; found ${describe(op)}`);
  let operand: string | number | boolean;
  switch (target as CompareTarget) {
    case 'value':
      operand = valueField(c.value, `${path}.value`, key, limits);
      break;
    case 'lease':
      operand = leaseField(c.value, `${path}.value`);
      break;
    case 'exists':
      if (typeof c.value !== 'boolean') throw invalid(`${path}.value must be true or false for target exists, found ${describe(c.value)}`);
      if (op !== '=' && op !== '!=') throw invalid(`${path}.op must be = or != for target exists, found ${describe(op)}`);
      operand = c.value;
      break;
    default:
      operand = wholeNumber(c.value, `${path}.value`);
  }
  return { key, target: target as CompareTarget, op: op as CompareOp, value: operand };
}

function parseOp(value: unknown, path: string, limits: InputLimits): TxnOp {
  const o = object(value, path, ['put', 'delete', 'get']);
  const kinds = Object.keys(o);
  if (kinds.length !== 1)
    throw invalid(`${path} must have exactly one of put, delete, get; found ${kinds.length === 0 ? 'none' : kinds.join(', ')}`);
  if (o.put !== undefined) {
    const p = object(o.put, `${path}.put`, ['key', 'value', 'lease']);
    const key = keyField(p.key, `${path}.put.key`, limits);
    const text = valueField(p.value, `${path}.put.value`, key, limits);
    const lease = p.lease === undefined ? '' : leaseField(p.lease, `${path}.put.lease`);
    return { put: { key, value: text, ...(lease === '' ? {} : { lease }) } };
  }
  if (o.delete !== undefined) {
    const d = object(o.delete, `${path}.delete`, ['key', 'prefix']);
    if ((d.key === undefined) === (d.prefix === undefined)) throw invalid(`${path}.delete must have exactly one of key, prefix`);
    return d.key !== undefined
      ? { delete: { key: keyField(d.key, `${path}.delete.key`, limits) } }
      : { delete: { prefix: prefixField(d.prefix, `${path}.delete.prefix`, limits) } };
  }
  const g = object(o.get, `${path}.get`, ['key', 'prefix', 'limit']);
  if ((g.key === undefined) === (g.prefix === undefined)) throw invalid(`${path}.get must have exactly one of key, prefix`);
  if (g.key !== undefined) {
    if (g.limit !== undefined) throw invalid(`${path}.get.limit goes with prefix, not with key`);
    return { get: { key: keyField(g.key, `${path}.get.key`, limits) } };
  }
  const prefix = prefixField(g.prefix, `${path}.get.prefix`, limits);
  if (g.limit === undefined) return { get: { prefix } };
  const limit = g.limit;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RANGE_LIMIT) {
    throw invalid(`${path}.get.limit must be a whole number from 1 to ${MAX_RANGE_LIMIT}, found ${describe(limit)}`);
  }
  return { get: { prefix, limit } };
}

function list(value: unknown, path: string, max: number, what: string): readonly unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`${path} must be an array, found ${describe(value)}`);
  if (value.length > max) {
    throw new GraftdError('GRAFTD_TXN_TOO_LARGE', `${path} has ${value.length} ${what}; a transaction allows at most ${max}`);
  }
  return value;
}

/** The body of POST /txn: `{"compare":[...],"success":[...],"failure":[...]}` (an absent list is empty). */
export function parseTxnBody(raw: Buffer | undefined, limits: InputLimits): TxnRequest {
  const body = parseJsonObject(raw);
  if (body === undefined) throw invalid('expected a JSON object {"compare":[...],"success":[...],"failure":[...]}, found an empty body');
  object(body, 'the body', ['compare', 'success', 'failure']);
  // Sizes first: a too-large transaction is refused as such, whatever else is wrong inside it.
  const compares = list(body.compare, 'compare', MAX_TXN_COMPARES, 'compares');
  const success = list(body.success, 'success', MAX_TXN_OPS, 'ops');
  const failure = list(body.failure, 'failure', MAX_TXN_OPS, 'ops');
  return {
    compare: compares.map((c, i) => parseCompare(c, `compare[${i}]`, limits)),
    success: success.map((op, i) => parseOp(op, `success[${i}]`, limits)),
    failure: failure.map((op, i) => parseOp(op, `failure[${i}]`, limits)),
  };
}

/** The conditions of a conditional write as compares on `key` (empty: unconditional). */
export interface WriteConditions {
  readonly ifModRevision?: number;
  readonly ifVersion?: number;
  readonly ifValue?: string;
  readonly ifAbsent?: boolean;
}

export function conditionCompares(key: string, c: WriteConditions): Compare[] {
  const compares: Compare[] = [];
  if (c.ifModRevision !== undefined) compares.push({ key, target: 'modRevision', op: '=', value: c.ifModRevision });
  if (c.ifVersion !== undefined) compares.push({ key, target: 'version', op: '=', value: c.ifVersion });
  if (c.ifValue !== undefined) compares.push({ key, target: 'value', op: '=', value: c.ifValue });
  if (c.ifAbsent === true) compares.push({ key, target: 'exists', op: '=', value: false });
  return compares;
}

/**
 * The body of PUT /key/<k>: `{"value", "lease"?, "ifModRevision"?, "ifVersion"?, "ifValue"?,
 * "ifAbsent"?}` as the transaction that implements it: the conditions, then the put; when they do
 * not hold, a get of the key (its current state for the 412 answer).
 */
export function parsePutBody(raw: Buffer | undefined, key: string, limits: InputLimits): TxnRequest {
  const body = parseJsonObject(raw);
  if (body === undefined) throw invalid('expected a JSON object {"value": "..."}, found an empty body');
  object(body, 'the body', ['value', 'lease', 'ifModRevision', 'ifVersion', 'ifValue', 'ifAbsent']);
  const value = valueField(body.value, 'value', key, limits);
  const lease = body.lease === undefined ? '' : leaseField(body.lease, 'lease');
  if (body.ifAbsent !== undefined && typeof body.ifAbsent !== 'boolean')
    throw invalid(`ifAbsent must be true or false, found ${describe(body.ifAbsent)}`);
  const conditions: WriteConditions = {
    ...(body.ifModRevision === undefined ? {} : { ifModRevision: wholeNumber(body.ifModRevision, 'ifModRevision') }),
    ...(body.ifVersion === undefined ? {} : { ifVersion: wholeNumber(body.ifVersion, 'ifVersion') }),
    ...(body.ifValue === undefined ? {} : { ifValue: valueField(body.ifValue, 'ifValue', key, limits) }),
    ...(body.ifAbsent === true ? { ifAbsent: true } : {}),
  };
  return {
    compare: conditionCompares(key, conditions),
    success: [{ put: { key, value, ...(lease === '' ? {} : { lease }) } }],
    failure: [{ get: { key } }],
  };
}

/**
 * The query of DELETE /key/<k>: no parameters (a plain delete: undefined) or conditions
 * ifModRevision / ifVersion / ifValue, as the transaction that implements them.
 */
export function parseDeleteQuery(query: Query, key: string, limits: InputLimits): TxnRequest | undefined {
  checkQueryNames(query, ['ifModRevision', 'ifVersion', 'ifValue'], 'DELETE /key/<key>');
  const ifModRevision = queryWholeNumber(query, 'ifModRevision', 0, Number.MAX_SAFE_INTEGER);
  const ifVersion = queryWholeNumber(query, 'ifVersion', 0, Number.MAX_SAFE_INTEGER);
  const ifValue = queryString(query, 'ifValue');
  if (ifValue !== undefined) checkValue(key, ifValue, limits);
  const compare = conditionCompares(key, {
    ...(ifModRevision === undefined ? {} : { ifModRevision }),
    ...(ifVersion === undefined ? {} : { ifVersion }),
    ...(ifValue === undefined ? {} : { ifValue }),
  });
  if (compare.length === 0) return undefined;
  return { compare, success: [{ delete: { key } }], failure: [{ get: { key } }] };
}

/** The body of POST /lease: `{"ttl": seconds}`, a whole number from 1 to one year. */
export function parseLeaseGrantBody(raw: Buffer | undefined): number {
  const body = parseJsonObject(raw);
  if (body === undefined) throw invalid('expected a JSON object {"ttl": seconds}, found an empty body');
  object(body, 'the body', ['ttl']);
  const ttl = body.ttl;
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_LEASE_TTL_SECONDS) {
    throw invalid(`ttl must be a whole number of seconds from 1 to ${MAX_LEASE_TTL_SECONDS}, found ${describe(ttl)}`);
  }
  return ttl;
}

/** A lease id in a path: lower-case hex, not empty. Throws 400 GRAFTD_INVALID_BODY. */
export function parseLeaseIdParam(text: string | undefined): string {
  if (text === undefined || text === '' || parseLeaseId(text) === undefined) {
    throw invalid(`expected a lease id in lower-case hex (e.g. 1f), found ${describe(text ?? '')}`);
  }
  return text;
}
