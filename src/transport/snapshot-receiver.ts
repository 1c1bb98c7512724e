/**
 * The receiving end of one snapshot transfer: header, chunks, end; then the verdict.
 *
 * Why the verdict waits for onSnapshot: the sender reports the outcome to its core
 * (reportSnapshot), which must only believe "ok" once the follower really installed it.
 */
import type net from 'node:net';
import { GraftdError } from '../errors.ts';
import type { Log } from '../log.ts';
import type { Message, NodeId } from '../raft/types.ts';
import { ChunkQueue } from './chunk-queue.ts';
import { decodeMessage, encodeSnapResult } from './codec.ts';
import { FrameKind, encodeFrame } from './frame.ts';
import type { Settings } from './settings.ts';

export class SnapshotReceiver {
  readonly #socket: net.Socket;
  readonly #from: NodeId;
  readonly #s: Settings;
  readonly #log: Log;
  readonly #onSnapshot: (m: Message, data: AsyncIterable<Uint8Array>) => Promise<void>;
  #queue: ChunkQueue | null = null;
  #state: 'header' | 'data' | 'ended' | 'settled' = 'header';
  #bytes = 0;
  #lastProgressMs = Date.now();
  readonly #watchdog: NodeJS.Timeout;

  constructor(
    socket: net.Socket,
    from: NodeId,
    s: Settings,
    log: Log,
    onSnapshot: (m: Message, data: AsyncIterable<Uint8Array>) => Promise<void>,
  ) {
    this.#socket = socket;
    this.#from = from;
    this.#s = s;
    this.#log = log;
    this.#onSnapshot = onSnapshot;
    this.#watchdog = setInterval(() => this.#checkProgress(), Math.min(1000, Math.max(10, s.snapshotTimeoutMs / 4)));
  }

  /** Handle a frame received after the handshake. Throws on protocol errors (the caller closes). */
  onFrame(kind: number, payload: Buffer): void {
    this.#lastProgressMs = Date.now();
    if (this.#state === 'header') {
      if (kind !== FrameKind.snapHeader) throw protocol(`expected the snapshot header, got frame kind ${kind}`);
      const m = decodeMessage(payload);
      if (m.type !== 'snap' || m.snapshot === null)
        throw protocol(`the snapshot header must be a 'snap' message with meta, got '${m.type}'`);
      if (m.from !== this.#from || m.to !== this.#s.nodeId)
        throw protocol(`snapshot message from ${m.from} to ${m.to} on a connection from ${this.#from} to ${this.#s.nodeId}`);
      this.#state = 'data';
      const queue = new ChunkQueue(
        this.#s.snapshotBufferBytes,
        () => this.#socket.pause(),
        () => {
          this.#lastProgressMs = Date.now();
          this.#socket.resume();
        },
      );
      this.#queue = queue;
      this.#log.info({ peer: this.#from, index: m.snapshot.index, term: m.snapshot.term }, 'receiving snapshot');
      let result: Promise<void>;
      try {
        result = Promise.resolve(this.#onSnapshot(m, queue));
      } catch (err) {
        result = Promise.reject(err);
      }
      result.then(
        () => this.#settle(true, ''),
        (err: unknown) => this.#settle(false, err instanceof Error ? err.message : String(err)),
      );
      return;
    }
    if (this.#state === 'data') {
      if (kind === FrameKind.snapChunk) {
        this.#bytes += payload.length;
        this.#queue!.push(payload);
      } else if (kind === FrameKind.snapEnd) {
        this.#state = 'ended';
        this.#queue!.end();
      } else {
        throw protocol(`unexpected frame kind ${kind} in a snapshot stream`);
      }
      return;
    }
    // 'ended' / 'settled': nothing more is expected; ignore stragglers after an early verdict.
  }

  /** The connection closed (or failed). */
  onClose(): void {
    clearInterval(this.#watchdog);
    if (this.#state === 'data' || this.#state === 'header') {
      this.#queue?.fail(
        new GraftdError('GRAFTD_PEER_UNREACHABLE', `snapshot stream from ${this.#from} broke off after ${this.#bytes} bytes`),
      );
      this.#log.warn({ peer: this.#from, bytes: this.#bytes }, 'snapshot stream broke off before its end');
      if (this.#state === 'header') this.#state = 'settled';
    }
  }

  #settle(ok: boolean, reason: string): void {
    if (this.#state === 'settled') return;
    const wasEnded = this.#state === 'ended';
    this.#state = 'settled';
    clearInterval(this.#watchdog);
    if (ok && !wasEnded)
      this.#log.debug({ peer: this.#from }, 'snapshot consumer finished before the end of the stream (e.g. it already had this state)');
    if (ok) this.#log.info({ peer: this.#from, bytes: this.#bytes }, 'snapshot received and installed');
    else this.#log.warn({ peer: this.#from, bytes: this.#bytes, reason }, 'snapshot refused by the local consumer');
    this.#queue?.fail(new GraftdError('GRAFTD_INTERNAL', 'snapshot stream already settled'));
    if (this.#socket.destroyed) return;
    this.#socket.resume();
    this.#socket.end(encodeFrame(FrameKind.snapResult, encodeSnapResult(ok, reason)));
  }

  #checkProgress(): void {
    if (this.#state !== 'header' && this.#state !== 'data') return;
    if (this.#queue?.paused) {
      this.#lastProgressMs = Date.now();
      return;
    }
    if (Date.now() - this.#lastProgressMs > this.#s.snapshotTimeoutMs) {
      this.#log.warn(
        { peer: this.#from, bytes: this.#bytes },
        `snapshot stream made no progress for ${this.#s.snapshotTimeoutMs} ms; closing`,
      );
      this.#socket.destroy();
    }
  }
}

function protocol(detail: string): GraftdError {
  return new GraftdError('GRAFTD_CORRUPT', `snapshot protocol error: ${detail}`);
}
