/**
 * Length-prefixed framing: `u32 length | u8 kind | payload`, length counting kind + payload.
 *
 * Why a kind byte: handshake, messages, pings and snapshot pieces share one framing, and
 * snapshot chunks travel as raw bytes instead of being re-encoded by msgpack.
 */
import { GraftdError } from '../errors.ts';

export const FrameKind = {
  hello: 1,
  helloAck: 2,
  message: 3,
  snapHeader: 4,
  snapChunk: 5,
  snapEnd: 6,
  snapResult: 7,
  ping: 8,
  pong: 9,
  /** A write forwarded by a follower to the leader: [reqId, command bytes]. */
  fwd: 10,
  /** The leader's answer to a 'fwd' frame, on the connection the request came on. */
  fwdResp: 11,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const PREFIX_BYTES = 5;

/** One frame as a single buffer ready for socket.write. */
export function encodeFrame(kind: FrameKind, payload: Uint8Array = EMPTY): Buffer {
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + payload.length);
  frame.writeUInt32BE(payload.length + 1, 0);
  frame[4] = kind;
  frame.set(payload, PREFIX_BYTES);
  return frame;
}

const EMPTY = new Uint8Array(0);

/**
 * Splits a byte stream into frames. Buffers only until the next frame is complete, and
 * concatenates each frame's pieces once (no quadratic copying for large frames).
 */
export class FrameDecoder {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #need = PREFIX_BYTES;
  #stopped = false;
  readonly #maxFrameBytes: number;
  readonly #onFrame: (kind: number, payload: Buffer) => void;

  constructor(maxFrameBytes: number, onFrame: (kind: number, payload: Buffer) => void) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#onFrame = onFrame;
  }

  /** Feed received bytes. Throws GRAFTD_CORRUPT on an oversized or empty frame; the caller closes the connection. */
  push(chunk: Buffer): void {
    if (this.#stopped || chunk.length === 0) return;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes < this.#need) return;
    const buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    let pos = 0;
    while (!this.#stopped && buf.length - pos >= PREFIX_BYTES) {
      const len = buf.readUInt32BE(pos);
      if (len === 0 || len > this.#maxFrameBytes) {
        this.stop();
        throw new GraftdError('GRAFTD_CORRUPT', `peer frame of ${len} bytes refused: frames must be 1..${this.#maxFrameBytes} bytes`, 500);
      }
      if (buf.length - pos < 4 + len) {
        this.#need = 4 + len;
        break;
      }
      const kind = buf[pos + 4]!;
      const payload = buf.subarray(pos + PREFIX_BYTES, pos + 4 + len);
      pos += 4 + len;
      this.#need = PREFIX_BYTES;
      this.#onFrame(kind, payload);
    }
    const rest = this.#stopped ? EMPTY_BUF : buf.subarray(pos);
    this.#pending = rest.length > 0 ? [rest] : [];
    this.#pendingBytes = rest.length;
    if (rest.length < PREFIX_BYTES) this.#need = PREFIX_BYTES;
  }

  /** Ignore everything after this (the connection is being closed). */
  stop(): void {
    this.#stopped = true;
    this.#pending = [];
    this.#pendingBytes = 0;
  }
}

const EMPTY_BUF = Buffer.alloc(0);
