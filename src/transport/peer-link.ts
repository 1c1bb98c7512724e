/**
 * One persistent outbound message connection to one peer, with its bounded send queue.
 *
 * Why a queue we own (and not the socket's buffer): the socket buffer grows without limit
 * while a peer is slow or unreachable. Here encoded frames wait in a queue bounded by
 * count and bytes; only up to `socketBufferBytes` are handed to the socket at a time; when
 * the queue is full new messages are dropped and counted (raft retransmits what matters).
 * Frames queued in one event-loop turn are written together (cork/uncork → one writev).
 */
import type net from 'node:net';
import type { Log } from '../log.ts';
import type { NodeId } from '../raft/types.ts';
import { type HostPort, parseHostPort } from './addr.ts';
import { Backoff } from './backoff.ts';
import { type Dialed, dial } from './dial.ts';
import { decodeFwdResp } from './codec.ts';
import { FwdCalls, notSent } from './fwd-calls.ts';
import { FrameKind, encodeFrame } from './frame.ts';
import type { PeerGuard } from './peer-guard.ts';
import type { Settings } from './settings.ts';
import type { ForwardResult, PeerStats } from './types.ts';

const PING_FRAME = encodeFrame(FrameKind.ping);
/** Don't log the same refusal more often than this (a misconfigured peer would otherwise flood the log). */
const REPEAT_LOG_MS = 30_000;

export class PeerLink {
  readonly id: NodeId;
  #addr: string;
  #hostPort: HostPort | null;
  readonly #s: Settings;
  readonly #guard: PeerGuard;
  readonly #log: Log;
  readonly #onUnreachable: (id: NodeId) => void;
  readonly #backoff: Backoff;

  /** Queue of encoded frames; `#head` is the index of the oldest (avoids O(n) shift). */
  #queue: Buffer[] = [];
  #head = 0;
  #queuedBytes = 0;
  #dropped = 0;
  /** True after a drop until a frame is written again, so unreachable is reported once per episode. */
  #dropping = false;

  #conn: Dialed | null = null;
  #socket: net.Socket | null = null;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #pingTimer: NodeJS.Timeout | null = null;
  #flushScheduled: NodeJS.Immediate | null = null;
  #waitingDrain = false;
  #lastRecvMs = 0;
  #closed = false;
  #lastProblem = '';
  #lastProblemLoggedMs = 0;
  readonly #forwards: FwdCalls;

  constructor(id: NodeId, addr: string, s: Settings, guard: PeerGuard, log: Log, onUnreachable: (id: NodeId) => void) {
    this.id = id;
    this.#s = s;
    this.#guard = guard;
    this.#log = log;
    this.#onUnreachable = onUnreachable;
    this.#backoff = new Backoff(s.backoffMinMs, s.backoffMaxMs);
    this.#forwards = new FwdCalls(id, s.maxForwardsInflight, s.forwardTimeoutMs);
    this.#addr = addr;
    this.#hostPort = this.#parse(addr);
    this.#connect();
  }

  get addr(): string {
    return this.#addr;
  }

  stats(): PeerStats {
    return {
      addr: this.#addr,
      connected: this.#socket !== null,
      queued: this.#queue.length - this.#head,
      queuedBytes: this.#queuedBytes + (this.#socket?.writableLength ?? 0),
      dropped: this.#dropped,
    };
  }

  /** Change the address: the current connection is closed and the new address dialled; queued frames are kept. */
  setAddr(addr: string): void {
    if (addr === this.#addr) return;
    this.#log.info({ peer: this.id, from: this.#addr, to: addr }, 'peer address changed; reconnecting');
    this.#addr = addr;
    this.#hostPort = this.#parse(addr);
    this.#teardown();
    this.#backoff.reset();
    this.#connect();
  }

  /** Queue one encoded frame; false (and counted) when the queue is full. */
  enqueue(frame: Buffer): boolean {
    if (this.#closed) return false;
    const queued = this.#queue.length - this.#head;
    if (queued >= this.#s.maxQueueMessages || this.#queuedBytes + frame.length > this.#s.maxQueueBytes) {
      this.#dropped++;
      if (!this.#dropping) {
        this.#dropping = true;
        this.#log.warn(
          { peer: this.id, queued, queuedBytes: this.#queuedBytes, connected: this.#socket !== null },
          'peer send queue full; dropping messages',
        );
        this.#onUnreachable(this.id);
      }
      return false;
    }
    this.#queue.push(frame);
    this.#queuedBytes += frame.length;
    this.#scheduleFlush();
    return true;
  }

  /** Send a forwarded write on this connection and wait for the answer (outcome rules: fwd-calls.ts). */
  forward(data: Uint8Array): Promise<ForwardResult> {
    if (this.#closed || this.#socket === null) return Promise.reject(notSent(this.id, 'no connection to it'));
    const p = this.#forwards.start(data);
    this.#scheduleFlush();
    return p;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#teardown();
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
  }

  #parse(addr: string): HostPort | null {
    try {
      return parseHostPort(addr, `address of peer ${this.id}`);
    } catch (err) {
      this.#log.error(
        { peer: this.id, addr, err: (err as Error).message },
        'peer address is invalid; messages to it will be queued and dropped until it is corrected',
      );
      return null;
    }
  }

  #connect(): void {
    if (this.#closed || this.#conn !== null || this.#hostPort === null) return;
    const conn = dial(this.#s, this.#guard, this.#log, this.id, this.#hostPort, 'msg', {
      onUp: (socket) => {
        if (this.#conn !== conn) return;
        this.#socket = socket;
        this.#backoff.reset();
        this.#lastProblem = '';
        this.#lastRecvMs = Date.now();
        this.#log.info({ peer: this.id, addr: this.#addr, local: `${socket.localAddress}:${socket.localPort}` }, 'connected to peer');
        socket.on('drain', () => {
          this.#waitingDrain = false;
          this.#flush();
        });
        this.#pingTimer = setInterval(() => this.#ping(), this.#s.pingIntervalMs);
        this.#flush();
      },
      onFrame: (kind, payload) => {
        this.#lastRecvMs = Date.now();
        if (kind === FrameKind.fwdResp) {
          const { reqId, result } = decodeFwdResp(payload);
          this.#forwards.answer(reqId, result);
        } else if (kind !== FrameKind.pong) conn.violation(`protocol error: unexpected frame kind ${kind} on a message connection`);
      },
      onDown: (reason, refused) => {
        if (this.#conn !== conn) return;
        const wasUp = this.#socket !== null;
        this.#teardown();
        if (refused) this.#backoff.max();
        this.#logProblem(reason, refused, wasUp);
        this.#onUnreachable(this.id);
        this.#scheduleReconnect();
      },
    });
    this.#conn = conn;
  }

  #logProblem(reason: string, refused: boolean, wasUp: boolean): void {
    const now = Date.now();
    const repeat = reason === this.#lastProblem && now - this.#lastProblemLoggedMs < REPEAT_LOG_MS;
    this.#lastProblem = reason;
    const obj = { peer: this.id, addr: this.#addr, reason };
    if (refused) {
      if (!repeat) {
        this.#lastProblemLoggedMs = now;
        this.#log.error(obj, `peer connection refused: ${reason}`);
      }
    } else if (wasUp) {
      this.#log.warn(obj, 'lost connection to peer; reconnecting');
    } else if (!repeat) {
      this.#lastProblemLoggedMs = now;
      this.#log.warn(obj, 'cannot connect to peer; retrying with backoff');
    }
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer !== null) return;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#connect();
    }, this.#backoff.next());
  }

  #ping(): void {
    if (this.#socket === null) return;
    if (Date.now() - this.#lastRecvMs > this.#s.peerTimeoutMs) {
      this.#conn?.fail(`no answer from the peer for ${this.#s.peerTimeoutMs} ms`);
      return;
    }
    this.#socket.write(PING_FRAME);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled !== null || this.#socket === null || this.#waitingDrain) return;
    this.#flushScheduled = setImmediate(() => {
      this.#flushScheduled = null;
      this.#flush();
    });
  }

  /** Write queued frames until the queue is empty or the socket holds socketBufferBytes. */
  #flush(): void {
    const socket = this.#socket;
    if (socket === null || this.#waitingDrain) return;
    if (this.#head === this.#queue.length && !this.#forwards.hasUnsent) return;
    socket.cork();
    // Forwarded writes first: bounded in number, and a client waits on each.
    for (const frame of this.#forwards.takeUnsent()) socket.write(frame);
    while (this.#head < this.#queue.length) {
      if (socket.writableLength >= this.#s.socketBufferBytes && socket.writableNeedDrain) {
        this.#waitingDrain = true;
        break;
      }
      const frame = this.#queue[this.#head]!;
      this.#queue[this.#head] = EMPTY;
      this.#head++;
      this.#queuedBytes -= frame.length;
      socket.write(frame);
    }
    socket.uncork();
    this.#dropping = false;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Drop the connection and timers; keep the queue (it is bounded). */
  #teardown(): void {
    this.#forwards.failAll(this.#closed ? 'the link was closed' : 'the connection to it was closed');
    this.#conn?.destroy();
    this.#conn = null;
    this.#socket = null;
    this.#waitingDrain = false;
    if (this.#pingTimer !== null) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    if (this.#flushScheduled !== null) clearImmediate(this.#flushScheduled);
    this.#flushScheduled = null;
  }
}

const EMPTY = Buffer.alloc(0);
