/**
 * The key-value commands carried in raft log entries, and their binary encoding.
 *
 * Why a compact array encoding: every write crosses the WAL and the peer link, so the
 * command is packed as `[op, [k, v, k, v, ...]]` (msgpackr) instead of a JSON object; and
 * because a log entry is untrusted input on restart (disk) and on followers (network), the
 * decoder validates the shape completely and raises a coded error instead of applying junk.
 *
 * Ops 1 (set) and 2 (del) are the original encoding and stay as they are: logs written by
 * earlier releases replay unchanged. Ops 3 (txn) and 4 (lease) carry the coordination data
 * model (issue 13); their layouts are in txn-command.ts.
 */
import { Packr } from 'msgpackr';
import { GraftdError } from '../errors.ts';

/** A state machine command: set several keys atomically, or delete keys. */
export type KvCommand =
  | { readonly op: 'set'; readonly pairs: Readonly<Record<string, string>> }
  | { readonly op: 'del'; readonly keys: readonly string[] };

export const OP_SET = 1;
export const OP_DEL = 2;
export const OP_TXN = 3;
export const OP_LEASE = 4;

/** The one msgpack codec of kv commands (plain arrays, no records or extension types). */
export const packr = new Packr({ useRecords: false, moreTypes: false });

/** Encode a command for a log entry. */
export function encodeCommand(cmd: KvCommand): Uint8Array {
  if (cmd.op === 'set') {
    const flat: string[] = [];
    for (const key of Object.keys(cmd.pairs)) {
      const value = cmd.pairs[key];
      if (typeof value !== 'string')
        throw new GraftdError('GRAFTD_INVALID_BODY', `value of key ${JSON.stringify(key)} must be a string, found ${typeof value}`);
      flat.push(key, value);
    }
    return copy(packr.pack([OP_SET, flat]));
  }
  if (cmd.op === 'del') {
    for (const key of cmd.keys) {
      if (typeof key !== 'string') throw new GraftdError('GRAFTD_INVALID_BODY', `keys to delete must be strings, found ${typeof key}`);
    }
    return copy(packr.pack([OP_DEL, [...cmd.keys]]));
  }
  throw new GraftdError(
    'GRAFTD_INVALID_BODY',
    `unknown kv command op ${JSON.stringify((cmd as { op: unknown }).op)}; expected 'set' or 'del'`,
  );
}

/** The decoded form used by the store: flat string list, no intermediate object. */
export interface DecodedCommand {
  readonly op: 'set' | 'del';
  /** set: [k0, v0, k1, v1, ...]; del: [k0, k1, ...]. */
  readonly flat: readonly string[];
}

/** Decode and validate a log entry's command. Throws GraftdError GRAFTD_CORRUPT on anything that is not a well-formed command. */
export function decodeCommand(data: Uint8Array): KvCommand {
  const decoded = decodeFlat(data);
  if (decoded.op === 'del') return { op: 'del', keys: decoded.flat };
  const pairs: Record<string, string> = Object.create(null);
  for (let i = 0; i < decoded.flat.length; i += 2) pairs[decoded.flat[i]!] = decoded.flat[i + 1]!;
  return { op: 'set', pairs };
}

/** Decode without building a pairs object (the apply hot path). Same validation as {@link decodeCommand}. Only set/del: see decodeAny. */
export function decodeFlat(data: Uint8Array): DecodedCommand {
  const value = unpackCommand(data);
  if (value[0] !== OP_SET && value[0] !== OP_DEL)
    throw invalid(`unknown op code ${describe(value[0])}; expected ${OP_SET} (set) or ${OP_DEL} (del)`);
  return flatOf(value);
}

/** msgpack-decode a command into its top-level array `[op, ...]`; GRAFTD_CORRUPT when it is not one. */
export function unpackCommand(data: Uint8Array): unknown[] {
  let value: unknown;
  try {
    value = packr.unpack(data);
  } catch (err) {
    throw invalid(`not valid msgpack (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!Array.isArray(value) || value.length < 2) throw invalid(`expected [op, ...], found ${describe(value)}`);
  return value;
}

/** Validate a set/del command's array (from unpackCommand). */
export function flatOf(value: unknown[]): DecodedCommand {
  if (value.length !== 2) throw invalid(`expected [op, items], found ${describe(value)}`);
  const [op, items] = value as [unknown, unknown];
  if (!Array.isArray(items)) throw invalid(`expected an array of strings, found ${describe(items)}`);
  for (let i = 0; i < items.length; i++) {
    if (typeof items[i] !== 'string') throw invalid(`item ${i} must be a string, found ${describe(items[i])}`);
  }
  if (op === OP_SET && items.length % 2 !== 0) throw invalid(`set needs key/value pairs, found an odd number of items (${items.length})`);
  return { op: op === OP_SET ? 'set' : 'del', flat: items as string[] };
}

export function invalid(detail: string): GraftdError {
  return new GraftdError('GRAFTD_CORRUPT', `invalid kv command in log entry: ${detail}`);
}

export function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `binary of ${value.length} bytes`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value).slice(0, 40)}`;
}

/** msgpackr returns a view of its reusable buffer; entries are long-lived, so they get their own copy. */
export function copy(buf: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(buf);
}
