/**
 * Length-prefixed framing: `u32 length | u8 kind | payload`, length counting kind + payload.
 *
 * Why a kind byte: handshake, messages, pings and snapshot pieces share one framing, and
 * snapshot chunks travel as raw bytes instead of being re-encoded by msgpack.
 *
 * Why the decoder copies partial frames: a socket read returns a view of a shared read slab;
 * keeping the views of a frame that arrives one byte at a time pinned a whole slab per byte
 * (tens of MiB per connection). A partial frame is copied into one buffer that grows with what
 * has arrived (never with what the length prefix claims), so memory follows real bytes. Whole
 * frames inside one read are still delivered as views without copying.
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
  /** The acceptor's first frame: its protocol version and a fresh nonce the dialler must answer (protocol v3). */
  challenge: 12,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const PREFIX_BYTES = 5;
/** First allocation for a partial frame; it doubles as bytes arrive, up to the frame's size. */
const MIN_PARTIAL_BYTES = 256;

/** One frame as a single buffer ready for socket.write. */
export function encodeFrame(kind: FrameKind, payload: Uint8Array = EMPTY): Buffer {
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + payload.length);
  frame.writeUInt32BE(payload.length + 1, 0);
  frame[4] = kind;
  frame.set(payload, PREFIX_BYTES);
  return frame;
}

const EMPTY = new Uint8Array(0);

let liveBufferedBytes = 0;

/** Bytes currently held by every FrameDecoder in this process for partial frames (for tests and metrics). */
export function decoderBufferedBytes(): number {
  return liveBufferedBytes;
}

/**
 * Splits a byte stream into frames.
 *
 * Invariants: the partial-frame buffer never exceeds the frame's declared size nor
 * `maxBufferedBytes`; its capacity is at most twice the bytes received (or MIN_PARTIAL_BYTES).
 */
export class FrameDecoder {
  #maxFrameBytes: number;
  readonly #maxBufferedBytes: number;
  readonly #onFrame: (kind: number, payload: Buffer) => void;
  /** Partial frame bytes (prefix included); null when no frame is in progress. */
  #buf: Buffer | null = null;
  #have = 0;
  /** Total size of the frame in progress, prefix included; 0 until its prefix is complete. */
  #total = 0;
  #partialSinceMs = 0;
  #stopped = false;

  /**
   * @param maxFrameBytes frames declaring more (kind + payload) are refused
   * @param maxBufferedBytes cap on bytes held for one partial frame (default: the largest frame)
   */
  constructor(maxFrameBytes: number, onFrame: (kind: number, payload: Buffer) => void, maxBufferedBytes = maxFrameBytes + 4) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#maxBufferedBytes = maxBufferedBytes;
    this.#onFrame = onFrame;
  }

  /** Change the frame size limit (raised once a connection is authenticated). Applies to the next frame prefix read. */
  setMaxFrameBytes(n: number): void {
    this.#maxFrameBytes = n;
  }

  /** Bytes this decoder holds for a partial frame (its allocation). */
  bufferedBytes(): number {
    return this.#buf?.length ?? 0;
  }

  /** When (Date.now()) the frame in progress started arriving; 0 when no frame is in progress. */
  partialSinceMs(): number {
    return this.#partialSinceMs;
  }

  /** Count the frame in progress as started at `nowMs` (the owner paused reading; the delay is not the peer's). */
  restartPartialClock(nowMs: number): void {
    if (this.#partialSinceMs !== 0) this.#partialSinceMs = nowMs;
  }

  /** Feed received bytes. Throws GRAFTD_CORRUPT on an oversized or empty frame; the caller closes the connection. */
  push(chunk: Buffer): void {
    let pos = 0;
    while (!this.#stopped && pos < chunk.length) {
      if (this.#buf === null) {
        const rest = chunk.length - pos;
        if (rest >= PREFIX_BYTES) {
          const len = this.#checkLength(chunk.readUInt32BE(pos));
          if (rest >= 4 + len) {
            const kind = chunk[pos + 4]!;
            const payload = chunk.subarray(pos + PREFIX_BYTES, pos + 4 + len);
            pos += 4 + len;
            this.#onFrame(kind, payload);
            continue;
          }
        }
        this.#startPartial();
      }
      pos = this.#append(chunk, pos);
    }
  }

  /** Ignore everything after this (the connection is being closed). */
  stop(): void {
    this.#stopped = true;
    this.#release();
  }

  #checkLength(len: number): number {
    if (len === 0 || len > this.#maxFrameBytes) {
      this.stop();
      throw new GraftdError('GRAFTD_CORRUPT', `peer frame of ${len} bytes refused: frames must be 1..${this.#maxFrameBytes} bytes`);
    }
    if (len + 4 > this.#maxBufferedBytes) {
      this.stop();
      throw new GraftdError(
        'GRAFTD_CORRUPT',
        `peer frame of ${len} bytes refused: more than the connection's buffer budget of ${this.#maxBufferedBytes} bytes`,
      );
    }
    return len;
  }

  #startPartial(): void {
    this.#buf = Buffer.allocUnsafe(MIN_PARTIAL_BYTES);
    liveBufferedBytes += MIN_PARTIAL_BYTES;
    this.#have = 0;
    this.#total = 0;
    this.#partialSinceMs = Date.now();
  }

  /** Copy bytes of `chunk` from `pos` into the partial frame; deliver it when complete. Returns the new position. */
  #append(chunk: Buffer, pos: number): number {
    if (this.#total === 0) {
      const take = Math.min(PREFIX_BYTES - this.#have, chunk.length - pos);
      chunk.copy(this.#buf!, this.#have, pos, pos + take);
      this.#have += take;
      pos += take;
      if (this.#have < PREFIX_BYTES) return pos;
      this.#total = 4 + this.#checkLength(this.#buf!.readUInt32BE(0));
    }
    const take = Math.min(this.#total - this.#have, chunk.length - pos);
    this.#ensure(this.#have + take);
    chunk.copy(this.#buf!, this.#have, pos, pos + take);
    this.#have += take;
    pos += take;
    if (this.#have === this.#total) {
      const frame = this.#buf!;
      const total = this.#total;
      this.#release();
      this.#onFrame(frame[4]!, frame.subarray(PREFIX_BYTES, total));
    }
    return pos;
  }

  /** Grow the partial buffer to hold `need` bytes: doubling, capped at the frame's size. */
  #ensure(need: number): void {
    const buf = this.#buf!;
    if (need <= buf.length) return;
    const size = Math.min(this.#total, Math.max(need, buf.length * 2));
    const grown = Buffer.allocUnsafe(size);
    buf.copy(grown, 0, 0, this.#have);
    liveBufferedBytes += size - buf.length;
    this.#buf = grown;
  }

  #release(): void {
    if (this.#buf !== null) liveBufferedBytes -= this.#buf.length;
    this.#buf = null;
    this.#have = 0;
    this.#total = 0;
    this.#partialSinceMs = 0;
  }
}
