/**
 * msgpackr codec for raft messages and the handshake, as compact positional arrays.
 *
 * Why arrays: a Message has a fixed shape, so field names on the wire would only cost
 * bytes and time. Why strict validation on decode: frames come from the network; a
 * malformed one must close the connection, not reach the core as a half-typed object.
 * Why copyBuffers: received entry data lives on in the raft log; a view would pin the
 * whole socket read buffer it came from.
 */
import { Packr } from 'msgpackr';
import { GraftdError } from '../errors.ts';
import type { ConfState, Entry, EntryType, Message, MessageType, SnapshotMeta } from '../raft/types.ts';
import type { ForwardResult } from './types.ts';

/** Bumped on any incompatible wire change (defined in version.ts); v3: challenge-first authenticated handshake. */
export { PROTOCOL_VERSION } from '../version.ts';

const packr = new Packr({ useRecords: false, copyBuffers: true, moreTypes: false });

/** Every raft message type, in wire order (a message's type travels as its index here). */
export const MESSAGE_TYPES: readonly MessageType[] = [
  'preVote',
  'preVoteResp',
  'vote',
  'voteResp',
  'app',
  'appResp',
  'heartbeat',
  'heartbeatResp',
  'snap',
  'timeoutNow',
];
const MESSAGE_TYPE_CODE = new Map<MessageType, number>(MESSAGE_TYPES.map((t, i) => [t, i]));

/** Encode a message. The result is a view of msgpackr's reused buffer, valid until the next encode: copy it at once (encodeFrame does). */
export function encodeMessage(m: Message): Uint8Array {
  const entries: unknown[] = new Array(m.entries.length * 4);
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i]!;
    entries[i * 4] = e.index;
    entries[i * 4 + 1] = e.term;
    entries[i * 4 + 2] = e.type === 'conf' ? 1 : 0;
    entries[i * 4 + 3] = e.data;
  }
  const snap =
    m.snapshot === null
      ? null
      : [m.snapshot.index, m.snapshot.term, m.snapshot.confState.voters, m.snapshot.confState.learners, m.snapshot.confState.context];
  return packr.pack([
    MESSAGE_TYPE_CODE.get(m.type),
    m.from,
    m.to,
    m.term,
    m.logTerm,
    m.index,
    entries,
    m.commit,
    m.reject,
    m.rejectHint,
    m.context,
    snap,
  ]);
}

/** Decode and validate a message. Throws GRAFTD_CORRUPT. */
export function decodeMessage(payload: Uint8Array): Message {
  const a = unpack(payload, 'message');
  if (!Array.isArray(a) || a.length !== 12) throw bad('message', 'expected an array of 12 fields');
  const type = typeof a[0] === 'number' && Number.isInteger(a[0]) ? MESSAGE_TYPES[a[0]] : undefined;
  if (type === undefined) throw bad('message', `unknown message type code ${describe(a[0])}`);
  const raw = a[6];
  if (!Array.isArray(raw) || raw.length % 4 !== 0) throw bad('message', 'entries must be a flat array of 4-tuples');
  const entries: Entry[] = new Array(raw.length / 4);
  for (let i = 0; i < entries.length; i++) {
    const data = raw[i * 4 + 3];
    const typeCode = raw[i * 4 + 2];
    if (!(data instanceof Uint8Array) || (typeCode !== 0 && typeCode !== 1)) throw bad('message', `entry ${i} is malformed`);
    const entryType: EntryType = typeCode === 1 ? 'conf' : 'normal';
    entries[i] = { index: int(raw[i * 4], 'entry index'), term: int(raw[i * 4 + 1], 'entry term'), type: entryType, data };
  }
  return {
    type,
    from: str(a[1], 'from'),
    to: str(a[2], 'to'),
    term: int(a[3], 'term'),
    logTerm: int(a[4], 'logTerm'),
    index: int(a[5], 'index'),
    entries,
    commit: int(a[7], 'commit'),
    reject: bool(a[8], 'reject'),
    rejectHint: int(a[9], 'rejectHint'),
    context: str(a[10], 'context'),
    snapshot: a[11] === null || a[11] === undefined ? null : decodeSnapshotMeta(a[11]),
  };
}

function decodeSnapshotMeta(v: unknown): SnapshotMeta {
  if (!Array.isArray(v) || v.length !== 5) throw bad('message', 'snapshot meta must be an array of 5 fields');
  const context = v[4];
  if (typeof context !== 'object' || context === null || Array.isArray(context))
    throw bad('message', 'snapshot conf context must be a map');
  // fromEntries: a "__proto__" key becomes an own property instead of touching the prototype.
  const ctx: Record<string, string> = Object.fromEntries(Object.entries(context).map(([k, val]) => [k, str(val, 'conf context value')]));
  const confState: ConfState = { voters: strList(v[2], 'voters'), learners: strList(v[3], 'learners'), context: ctx };
  return { index: int(v[0], 'snapshot index'), term: int(v[1], 'snapshot term'), confState };
}

/** What a connection is for: raft messages, one snapshot stream, or a membership probe (handshake only). */
export type HelloPurpose = 'msg' | 'snap' | 'probe';

/** The acceptor's first frame: its version and a fresh random nonce the dialler's proof must cover. */
export interface Challenge {
  readonly version: number;
  readonly nonce: Uint8Array;
}

/**
 * The dialler's answer to the challenge. `clusterId` is sent (with a secret it is also bound into
 * `proof`), so a node of another cluster can tell it was listed as a member there; without a
 * secret `proof` is empty.
 */
export interface Hello {
  readonly version: number;
  readonly clusterId: string;
  /** The dialler's node id. */
  readonly from: string;
  /** The node id the dialler expects to reach. */
  readonly to: string;
  readonly purpose: HelloPurpose;
  readonly nonce: Uint8Array;
  readonly proof: Uint8Array;
  /**
   * The dialler's advertised raft address ('' = not given). An acceptor that does not know the
   * dialler yet (it missed the membership change that added it) answers it there; bound into the proof.
   */
  readonly addr: string;
}

/**
 * The acceptor's answer; `ok: false` is followed by the acceptor closing the connection. A
 * refusal carries no cluster or node id (`nodeId` is ''), and with a secret only a generic reason.
 */
export interface HelloAck {
  readonly version: number;
  readonly nodeId: string;
  readonly ok: boolean;
  readonly reason: string;
  /** The acceptor's proof of the secret (empty without a secret or on refusal). */
  readonly proof: Uint8Array;
}

/** Longest nonce or proof accepted in a handshake frame. */
const MAX_HANDSHAKE_BYTES_FIELD = 64;

/**
 * The protocol version of a handshake frame (challenge, hello or answer) of any version, or null
 * when the frame is not an array starting with one. Every version keeps the version first, so a
 * node can name the other side's version even when it cannot decode the rest.
 */
export function peekVersion(payload: Uint8Array): number | null {
  let a: unknown;
  try {
    a = unpack(payload, 'handshake');
  } catch {
    return null;
  }
  if (!Array.isArray(a) || typeof a[0] !== 'number' || !Number.isSafeInteger(a[0]) || a[0] < 0) return null;
  return a[0];
}

/** The dialler's id in a hello of any version (position 2, as in v3), or '' when there is none. For logs only. */
export function peekHelloFrom(payload: Uint8Array): string {
  try {
    const a = unpack(payload, 'handshake');
    return Array.isArray(a) && typeof a[2] === 'string' ? a[2].slice(0, 128) : '';
  } catch {
    return '';
  }
}

export function encodeChallenge(c: Challenge): Uint8Array {
  return packr.pack([c.version, c.nonce]);
}

export function decodeChallenge(payload: Uint8Array): Challenge {
  const a = unpack(payload, 'handshake challenge');
  if (!Array.isArray(a) || a.length !== 2) throw bad('handshake challenge', 'expected [version, nonce]');
  return { version: int(a[0], 'version'), nonce: handshakeBytes(a[1], 'nonce') };
}

export function encodeHello(h: Hello): Uint8Array {
  return packr.pack([h.version, h.clusterId, h.from, h.to, h.purpose, h.nonce, h.proof, h.addr]);
}

export function decodeHello(payload: Uint8Array): Hello {
  const a = unpack(payload, 'handshake');
  if (!Array.isArray(a) || a.length !== 8 || (a[4] !== 'msg' && a[4] !== 'snap' && a[4] !== 'probe'))
    throw bad('handshake', 'expected [version, clusterId, from, to, purpose, nonce, proof, addr]');
  return {
    version: int(a[0], 'version'),
    clusterId: str(a[1], 'clusterId'),
    from: str(a[2], 'from'),
    to: str(a[3], 'to'),
    purpose: a[4],
    nonce: handshakeBytes(a[5], 'nonce'),
    proof: handshakeBytes(a[6], 'proof'),
    addr: str(a[7], 'addr'),
  };
}

export function encodeHelloAck(h: HelloAck): Uint8Array {
  return packr.pack([h.version, h.nodeId, h.ok, h.reason, h.proof]);
}

export function decodeHelloAck(payload: Uint8Array): HelloAck {
  const a = unpack(payload, 'handshake answer');
  if (!Array.isArray(a) || a.length !== 5) throw bad('handshake answer', 'expected [version, nodeId, ok, reason, proof]');
  return {
    version: int(a[0], 'version'),
    nodeId: str(a[1], 'nodeId'),
    ok: bool(a[2], 'ok'),
    reason: str(a[3], 'reason'),
    proof: handshakeBytes(a[4], 'proof'),
  };
}

function handshakeBytes(v: unknown, field: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length > MAX_HANDSHAKE_BYTES_FIELD)
    throw bad('handshake', `${field} must be at most ${MAX_HANDSHAKE_BYTES_FIELD} bytes`);
  return v;
}

/** Snapshot receiver's verdict. */
export function encodeSnapResult(ok: boolean, reason: string): Uint8Array {
  return packr.pack([ok, reason]);
}

export function decodeSnapResult(payload: Uint8Array): { ok: boolean; reason: string } {
  const a = unpack(payload, 'snapshot result');
  if (!Array.isArray(a) || a.length !== 2) throw bad('snapshot result', 'expected [ok, reason]');
  return { ok: bool(a[0], 'ok'), reason: str(a[1], 'reason') };
}

/** A forwarded write: the follower's request id and the encoded command. */
export function encodeFwd(reqId: number, data: Uint8Array): Uint8Array {
  return packr.pack([reqId, data]);
}

export function decodeFwd(payload: Uint8Array): { reqId: number; data: Uint8Array } {
  const a = unpack(payload, 'forwarded write');
  if (!Array.isArray(a) || a.length !== 2 || !(a[1] instanceof Uint8Array)) throw bad('forwarded write', 'expected [reqId, data]');
  return { reqId: int(a[0], 'reqId'), data: a[1] };
}

/**
 * The leader's answer to a forwarded request; `code` '' means done (with the read index for a
 * read-index request). A command's apply result, when there is one, is a 4th element
 * ([reqId, '', index|null, result]); graftd's kv has none, so its answers keep the 2-element form.
 */
export function encodeFwdResp(reqId: number, r: ForwardResult): Uint8Array {
  if (r.ok && r.result !== undefined) return packr.pack([reqId, '', r.index ?? null, r.result]);
  if (r.ok) return r.index === undefined ? packr.pack([reqId, '']) : packr.pack([reqId, '', r.index]);
  return packr.pack([reqId, r.code, r.message, r.httpStatus, r.leader]);
}

export function decodeFwdResp(payload: Uint8Array): { reqId: number; result: ForwardResult } {
  const a = unpack(payload, 'forwarded write answer');
  if (!Array.isArray(a) || a.length < 2 || a.length > 5) throw bad('forwarded write answer', 'expected [reqId, code, ...]');
  const reqId = int(a[0], 'reqId');
  const code = str(a[1], 'code');
  if (code === '' && a.length === 4) {
    if (!(a[3] instanceof Uint8Array)) throw bad('forwarded write answer', 'the result must be binary');
    const result = a[3];
    return { reqId, result: a[2] === null ? { ok: true, result } : { ok: true, index: int(a[2], 'read index'), result } };
  }
  if (code === '' && a.length === 2) return { reqId, result: { ok: true } };
  if (code === '' && a.length === 3) return { reqId, result: { ok: true, index: int(a[2], 'read index') } };
  if (a.length !== 5) throw bad('forwarded write answer', 'an error answer needs [reqId, code, message, httpStatus, leader]');
  return {
    reqId,
    result: { ok: false, code, message: str(a[2], 'message'), httpStatus: int(a[3], 'httpStatus'), leader: str(a[4], 'leader') },
  };
}

function unpack(payload: Uint8Array, what: string): unknown {
  try {
    // A plain Uint8Array view (not a Buffer) so that copied binary fields come back as plain Uint8Array too.
    return packr.unpack(new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
  } catch (err) {
    throw bad(what, `not valid msgpack (${err instanceof Error ? err.message : String(err)})`);
  }
}

function int(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw bad('message', `${field} must be a non-negative integer, found ${describe(v)}`);
  return v;
}

/** A peer-supplied value for an error message; never calls the value's own methods (a map with a "toString" key would throw). */
function describe(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw bad('message', `${field} must be a string, found ${typeof v}`);
  return v;
}

function bool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw bad('message', `${field} must be a boolean, found ${typeof v}`);
  return v;
}

function strList(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw bad('message', `${field} must be an array of strings`);
  return v.map((x) => str(x, field));
}

function bad(what: string, detail: string): GraftdError {
  return new GraftdError('GRAFTD_CORRUPT', `malformed peer ${what}: ${detail}`);
}
