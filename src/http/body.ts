/**
 * Parsing and validation of request bodies, keys and query parameters.
 *
 * Why separate: every rule about what a client may send lives here as pure functions that
 * throw coded GraftdErrors, so the routes stay thin and the rules are tested without HTTP.
 * Bodies are parsed as JSON whatever their content-type (the original README uses `curl -d`,
 * which sends application/x-www-form-urlencoded).
 */
import { GraftdError } from '../errors.ts';
import type { JoinRequest, ReadLevel } from '../node/api.ts';
import { parseHostPort } from '../transport/addr.ts';

/** Size limits applied to client input. */
export interface InputLimits {
  /** Max UTF-8 bytes of one key. */
  readonly maxKeyBytes: number;
  /** Max UTF-8 bytes of one value. */
  readonly maxValueBytes: number;
}

/** Default limits (documented in docs/api.md). */
export const defaultMaxBodyBytes = 1024 * 1024;
export const defaultMaxKeyBytes = 1024;
export const defaultMaxValueBytes = 256 * 1024;

function invalidBody(message: string): GraftdError {
  return new GraftdError('GRAFTD_INVALID_BODY', message);
}

function invalidKey(message: string): GraftdError {
  return new GraftdError('GRAFTD_INVALID_KEY', message);
}

/** A short, printable excerpt of client input for error messages. */
function excerpt(text: string, maxChars = 40): string {
  const json = JSON.stringify(text);
  return json.length <= maxChars ? json : `${json.slice(0, maxChars)}…`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * Parse a request body as a JSON object. An absent or empty body yields undefined.
 * Throws 400 GRAFTD_INVALID_JSON for text that is not JSON, 400 GRAFTD_INVALID_BODY for JSON that is not an object.
 */
export function parseJsonObject(raw: Buffer | undefined): Record<string, unknown> | undefined {
  if (raw === undefined || raw.length === 0) return undefined;
  const text = raw.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new GraftdError('GRAFTD_INVALID_JSON', `expected a JSON body, found invalid JSON (${detail})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidBody(`expected a JSON object, found ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Check one key: non-empty and at most `maxKeyBytes` UTF-8 bytes. Throws 400 GRAFTD_INVALID_KEY. */
export function checkKey(key: string, limits: InputLimits): void {
  if (key.length === 0) throw invalidKey('expected a non-empty key, found an empty key');
  // Cheap upper bound first: a UTF-16 code unit is at most 3 UTF-8 bytes.
  if (key.length * 3 > limits.maxKeyBytes) {
    const bytes = Buffer.byteLength(key, 'utf8');
    if (bytes > limits.maxKeyBytes) {
      throw invalidKey(`expected a key of at most ${limits.maxKeyBytes} bytes, found ${bytes} bytes (${excerpt(key)})`);
    }
  }
}

/** Check one value: at most `maxValueBytes` UTF-8 bytes. Throws 413 GRAFTD_TOO_LARGE. */
export function checkValue(key: string, value: string, limits: InputLimits): void {
  if (value.length * 3 > limits.maxValueBytes) {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > limits.maxValueBytes) {
      throw new GraftdError(
        'GRAFTD_TOO_LARGE',
        `expected a value of at most ${limits.maxValueBytes} bytes, found ${bytes} bytes for key ${excerpt(key)}`,
      );
    }
  }
}

/** The body of POST /key: a non-empty JSON object of string → string. */
export function parseSetBody(raw: Buffer | undefined, limits: InputLimits): Record<string, string> {
  const body = parseJsonObject(raw);
  if (body === undefined) throw invalidBody('expected a JSON object of string keys to string values, found an empty body');
  let count = 0;
  for (const key in body) {
    if (!Object.hasOwn(body, key)) continue;
    const value = body[key];
    if (typeof value !== 'string') throw invalidBody(`expected a string value for key ${excerpt(key)}, found ${describe(value)}`);
    checkKey(key, limits);
    checkValue(key, value, limits);
    count++;
  }
  if (count === 0) throw invalidBody('expected at least one key, found an empty object');
  return body as Record<string, string>;
}

function requireString(body: Record<string, unknown>, field: string, what: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw invalidBody(`expected "${field}" (${what}) as a non-empty string, found ${value === undefined ? 'nothing' : describe(value)}`);
  }
  return value;
}

const hostNameRe = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,252})$/;
const ipv6Re = /^[0-9A-Fa-f:.]{2,45}$/;

/**
 * Is `addr` exactly `host:port` (a DNS name or IPv4 address, or `[IPv6]`, and a port)? Nothing
 * else — no scheme, path, query, user info or spaces — so an address stored in the membership
 * can only ever name a host and port (the live view's relay builds URLs from it).
 */
export function isHostPort(addr: string): boolean {
  if (addr.length > 300) return false;
  let parsed: { host: string; port: number };
  try {
    parsed = parseHostPort(addr, 'address');
  } catch {
    return false;
  }
  if (parsed.port === 0) return false;
  const bracketed = addr.startsWith('[');
  return bracketed ? ipv6Re.test(parsed.host) : hostNameRe.test(parsed.host);
}

function requireHostPort(value: string, field: string, what: string): void {
  if (!isHostPort(value)) throw invalidBody(`expected "${field}" (${what}) as host:port, e.g. 127.0.0.1:12000, found ${excerpt(value)}`);
}

/** A parsed POST /join body: the join itself and the optional cluster-secret proof. */
export interface ParsedJoin {
  readonly join: JoinRequest;
  /** `makeJoinProof` output (src/security/join-proof.ts), when the joiner sent one. */
  readonly proof: string | undefined;
}

/** The body of POST /join: `{id, addr, httpAddr?, voter?, fresh?, proof?}` (addr is the raft address). */
export function parseJoinBody(raw: Buffer | undefined): ParsedJoin {
  const body = parseJsonObject(raw);
  if (body === undefined) throw invalidBody('expected a JSON object {"id": ..., "addr": ...}, found an empty body');
  const id = requireString(body, 'id', 'the node id');
  const raftAddr = requireString(body, 'addr', 'the raft address host:port');
  requireHostPort(raftAddr, 'addr', 'the raft address');
  const httpAddr = body.httpAddr ?? '';
  if (typeof httpAddr !== 'string') throw invalidBody(`expected "httpAddr" as a string, found ${describe(httpAddr)}`);
  if (httpAddr !== '') requireHostPort(httpAddr, 'httpAddr', 'the HTTP address');
  const voter = body.voter ?? true;
  if (typeof voter !== 'boolean') throw invalidBody(`expected "voter" as a boolean, found ${describe(voter)}`);
  const fresh = body.fresh ?? false;
  if (typeof fresh !== 'boolean') throw invalidBody(`expected "fresh" as a boolean, found ${describe(fresh)}`);
  const proof = body.proof;
  if (proof !== undefined && typeof proof !== 'string') throw invalidBody(`expected "proof" as a string, found ${describe(proof)}`);
  return { join: { id, raftAddr, httpAddr, voter, fresh }, proof };
}

/** The body of POST /remove: `{id}`. */
export function parseRemoveBody(raw: Buffer | undefined): string {
  const body = parseJsonObject(raw);
  if (body === undefined) throw invalidBody('expected a JSON object {"id": ...}, found an empty body');
  return requireString(body, 'id', 'the node id to remove');
}

/** The body of POST /transfer-leader: empty, `{}` or `{id}`. Undefined means "the most caught-up voter". */
export function parseTransferBody(raw: Buffer | undefined): string | undefined {
  const body = parseJsonObject(raw);
  if (body === undefined || body.id === undefined) return undefined;
  return requireString(body, 'id', 'the node id of the new leader');
}

const levels: ReadonlySet<string> = new Set<ReadLevel>(['linearizable', 'lease', 'stale']);

/** The `level` query parameter of GET /key; absent → 'linearizable'. Throws 400 GRAFTD_INVALID_BODY for other values. */
export function parseReadLevel(value: unknown): ReadLevel {
  if (value === undefined) return 'linearizable';
  if (typeof value === 'string' && levels.has(value)) return value as ReadLevel;
  const found = typeof value === 'string' ? excerpt(value) : describe(value);
  throw invalidBody(`expected level to be one of linearizable, lease, stale; found ${found}`);
}
