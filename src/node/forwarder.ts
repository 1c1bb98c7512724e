/**
 * Proposals made on a follower travel to the leader over the raft transport, one frame each way
 * on the already-open peer connection, as etcd forwards proposals; the leader validates them
 * (StateMachine.validate), proposes them exactly like its own and answers once they are applied,
 * with the state machine's encoded result (StateMachine.results) when there is one.
 *
 * Why not HTTP: a second HTTP request per forwarded write (parse, routing, a pool connection)
 * cost followers a half to two thirds of the leader's write rate. The outcome rules stay those of
 * docs/api.md: not handed to a socket → 503 (no effect); sent, no answer → 504 (unknown); the
 * leader's own definite errors (not leader any more, proposal dropped) pass through as definite.
 *
 * Linearizable and lease reads on a follower use the same frames (etcd's follower reads): the
 * follower asks the leader for a read index, the leader confirms its leadership (a heartbeat
 * quorum, or its lease) and answers with an index at least its commit index at that moment, and
 * the follower serves the key from its own state machine once it has applied that index. No key
 * or value crosses to the leader, and no second HTTP(S) request is made.
 *
 * Payloads of the 'fwd' frame: a read-index request is exactly [0xff, mode]; anything else is a
 * command. A command whose first byte is 0xfe or 0xff is sent behind a 0xfe escape byte, so no
 * command is mistaken for a read-index request (graftd's kv commands are msgpack arrays, first
 * byte 0x9X/0xdc/0xdd: never escaped, so their frames are byte-for-byte those of earlier releases).
 */
import { type ErrorCode, GraftdError, NotLeaderError } from '../errors.ts';
import type { NodeId } from '../raft/types.ts';
import type { ForwardResult, Transport } from '../transport/types.ts';

/** The error a follower raises for the leader's error answer. */
export function forwardError(r: Extract<ForwardResult, { ok: false }>): GraftdError {
  if (r.code === 'GRAFTD_NOT_LEADER') return new NotLeaderError(r.leader);
  if (!r.code.startsWith('GRAFTD_') || r.httpStatus < 400 || r.httpStatus > 599) {
    return new GraftdError('GRAFTD_INTERNAL', `the leader answered a forwarded write with ${r.code} (${r.httpStatus}): ${r.message}`);
  }
  return new GraftdError(r.code as ErrorCode, r.message, r.httpStatus);
}

/** First byte of a read-index request. */
const READ_INDEX_TAG = 0xff;
/** Prefix of a command whose own first byte is 0xfe or 0xff. */
const ESCAPE_TAG = 0xfe;
const READ_MODES = ['safe', 'lease'] as const;

/** The 'fwd' payload for `command` (escaped when it could be mistaken for a read-index request). */
export function encodeForwardedCommand(command: Uint8Array): Uint8Array {
  if (command.length === 0 || command[0]! < ESCAPE_TAG) return command;
  const out = new Uint8Array(command.length + 1);
  out[0] = ESCAPE_TAG;
  out.set(command, 1);
  return out;
}

/** What a 'fwd' payload asks for. Throws GRAFTD_INVALID_BODY for a read-index request with an unknown mode. */
export function decodeForwardRequest(data: Uint8Array): { readonly read: 'safe' | 'lease' } | { readonly command: Uint8Array } {
  const mode = decodeReadIndexRequest(data);
  if (mode !== undefined) return { read: mode };
  return { command: data[0] === ESCAPE_TAG ? data.subarray(1) : data };
}

/**
 * Follower side: send `command` to `leader` and resolve once the leader applied it, with the
 * leader's encoded result (undefined when the state machine has none).
 * Throws NotLeaderError when no leader is known or the transport cannot forward, and the coded
 * errors described in the module comment otherwise.
 */
export async function forwardWrite(
  transport: Transport,
  selfId: NodeId,
  leader: NodeId,
  command: Uint8Array,
): Promise<Uint8Array | undefined> {
  if (leader === '' || leader === selfId || transport.forward === undefined) throw new NotLeaderError(leader === selfId ? '' : leader);
  const r = await transport.forward(leader, encodeForwardedCommand(command));
  if (!r.ok) throw forwardError(r);
  return r.result;
}

/** The payload of a read-index request for `mode`. */
export function encodeReadIndexRequest(mode: 'safe' | 'lease'): Uint8Array {
  return Uint8Array.of(READ_INDEX_TAG, mode === 'safe' ? 0 : 1);
}

/** The read mode of a read-index request; undefined when `data` is not one (a command). */
export function decodeReadIndexRequest(data: Uint8Array): 'safe' | 'lease' | undefined {
  if (data.length !== 2 || data[0] !== READ_INDEX_TAG) return undefined;
  const mode = READ_MODES[data[1]!];
  if (mode === undefined) throw new GraftdError('GRAFTD_INVALID_BODY', `unknown read mode ${data[1]} in a forwarded read`);
  return mode;
}

/**
 * Follower side: ask `leader` for a read index (its leadership confirmed as `mode` requires).
 * Throws like forwardWrite; a 504 here only means the read failed (reads have no effect).
 */
export async function forwardReadIndex(transport: Transport, selfId: NodeId, leader: NodeId, mode: 'safe' | 'lease'): Promise<number> {
  if (leader === '' || leader === selfId || transport.forward === undefined) throw new NotLeaderError(leader === selfId ? '' : leader);
  const r = await transport.forward(leader, encodeReadIndexRequest(mode));
  if (!r.ok) throw forwardError(r);
  if (r.index === undefined)
    throw new GraftdError('GRAFTD_INTERNAL', `the leader ${leader} answered a read-index request without an index`);
  return r.index;
}

/**
 * Leader side: validate a command forwarded by a peer and propose it with `propose` (the same path
 * as a local write: it checks leadership and resolves only once the entry is applied in the term it
 * was proposed in, with the encoded result if any). Errors are thrown; the transport sends them back coded.
 */
export async function serveForwardedWrite(
  command: Uint8Array,
  propose: (command: Uint8Array) => Promise<Uint8Array | undefined>,
  validate?: (command: Uint8Array) => void,
): Promise<ForwardResult> {
  // A malformed command must never reach the log: every state machine would fail to apply it.
  validate?.(command);
  const result = await propose(command);
  return result === undefined ? { ok: true } : { ok: true, result };
}
