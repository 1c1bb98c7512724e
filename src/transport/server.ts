/**
 * Accepts peer connections: checks the handshake, then delivers messages or hands the
 * connection to a snapshot receiver.
 *
 * Why refuse loudly: a node started with the wrong cluster id, or an address that now
 * belongs to another node, must show up in the logs of both sides instead of silently
 * exchanging votes with the wrong cluster.
 */
import net from 'node:net';
import { GraftdError } from '../errors.ts';
import type { Log } from '../log.ts';
import type { Message, NodeId } from '../raft/types.ts';
import type { HostPort } from './addr.ts';
import { type Hello, PROTOCOL_VERSION, decodeFwd, decodeHello, decodeMessage, encodeFwdResp, encodeHelloAck } from './codec.ts';
import { FrameDecoder, FrameKind, encodeFrame } from './frame.ts';
import type { Settings } from './settings.ts';
import { SnapshotReceiver } from './snapshot-receiver.ts';
import type { ForwardResult } from './types.ts';

const PONG_FRAME = encodeFrame(FrameKind.pong);
const REPEAT_LOG_MS = 30_000;
const MAX_LOG_KEYS = 256;

export interface ServerHandlers {
  onMessage(m: Message): void;
  onSnapshot(m: Message, data: AsyncIterable<Uint8Array>): Promise<void>;
  onForward?: ((from: NodeId, data: Uint8Array) => Promise<ForwardResult>) | undefined;
}

/** The answer for a handler error: its code and status when coded, else an internal error. */
function errorResult(err: unknown): ForwardResult {
  if (err instanceof GraftdError) {
    const leader = (err as { leader?: unknown }).leader;
    return {
      ok: false,
      code: err.code,
      message: err.message,
      httpStatus: err.httpStatus,
      leader: typeof leader === 'string' ? leader : '',
    };
  }
  return {
    ok: false,
    code: 'GRAFTD_INTERNAL',
    message: `internal error: ${err instanceof Error ? err.message : String(err)}`,
    httpStatus: 500,
    leader: '',
  };
}

export class PeerServer {
  readonly #s: Settings;
  readonly #log: Log;
  readonly #h: ServerHandlers;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  /** The current inbound message connection per peer (a reconnect replaces the old one). */
  readonly #msgConns = new Map<NodeId, net.Socket>();
  #incomingSnapshots = 0;
  readonly #lastLogged = new Map<string, number>();
  #address = '';

  constructor(s: Settings, log: Log, handlers: ServerHandlers) {
    this.#s = s;
    this.#log = log;
    this.#h = handlers;
    this.#server = net.createServer((socket) => this.#accept(socket));
  }

  listen(hp: HostPort, display: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const why =
          err.code === 'EADDRINUSE'
            ? 'the address is already in use (is another graftd or another process listening there?)'
            : err.code === 'EADDRNOTAVAIL'
              ? 'the address is not available on this machine'
              : err.code === 'EACCES'
                ? 'permission denied (ports below 1024 need privileges)'
                : err.code === 'ENOTFOUND'
                  ? 'the host name does not resolve'
                  : `${err.code ?? ''} ${err.message}`.trim();
        reject(new GraftdError('GRAFTD_BAD_CONFIG', `cannot listen for peers on ${display}: ${why}`, 500, { cause: err }));
      };
      this.#server.once('error', onError);
      this.#server.listen({ host: hp.host, port: hp.port }, () => {
        this.#server.off('error', onError);
        this.#server.on('error', (err) => this.#log.error({ err: err.message }, 'peer server error'));
        const a = this.#server.address();
        this.#address =
          a !== null && typeof a === 'object' ? (a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`) : display;
        this.#log.info({ addr: this.#address }, 'listening for peers');
        resolve();
      });
    });
  }

  address(): string {
    return this.#address;
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
  }

  #accept(socket: net.Socket): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.#sockets.size >= this.#s.maxInboundConnections) {
      this.#logLimited(
        `limit:${socket.remoteAddress}`,
        'warn',
        { remote, limit: this.#s.maxInboundConnections },
        'too many inbound peer connections; refusing',
      );
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    let hello: Hello | null = null;
    let receiver: SnapshotReceiver | null = null;
    /** Forwarded writes from this connection not answered yet (bounded like the sender's side). */
    let forwardsInflight = 0;
    const handshakeTimer = setTimeout(() => {
      this.#logLimited(
        `hs-timeout:${socket.remoteAddress}`,
        'warn',
        { remote },
        `peer handshake not completed within ${this.#s.handshakeTimeoutMs} ms; closing`,
      );
      socket.destroy();
    }, this.#s.handshakeTimeoutMs);

    const decoder = new FrameDecoder(this.#s.maxFrameBytes, (kind, payload) => {
      if (hello === null) {
        clearTimeout(handshakeTimer);
        if (kind !== FrameKind.hello) throw new GraftdError('GRAFTD_CORRUPT', `expected a handshake, got frame kind ${kind}`, 500);
        hello = this.#handshake(socket, remote, decodeHello(payload));
        if (hello === null) {
          decoder.stop();
          return;
        }
        if (hello.purpose === 'snap') {
          if (this.#incomingSnapshots >= this.#s.maxIncomingSnapshots) {
            // Cannot happen: #handshake refuses first. Kept as an invariant check.
            throw new GraftdError('GRAFTD_INTERNAL', 'incoming snapshot limit exceeded', 500);
          }
          this.#incomingSnapshots++;
          receiver = new SnapshotReceiver(socket, hello.from, this.#s, this.#log, this.#h.onSnapshot);
        } else {
          const old = this.#msgConns.get(hello.from);
          if (old !== undefined) old.destroy();
          this.#msgConns.set(hello.from, socket);
          socket.setTimeout(this.#s.peerTimeoutMs);
        }
        return;
      }
      if (receiver !== null) {
        receiver.onFrame(kind, payload);
        return;
      }
      if (kind === FrameKind.message) {
        const m = decodeMessage(payload);
        if (m.from !== hello.from || m.to !== this.#s.nodeId) {
          this.#logLimited(
            `misaddressed:${hello.from}`,
            'warn',
            { peer: hello.from, from: m.from, to: m.to },
            'dropping a message whose from/to does not match its connection',
          );
          return;
        }
        try {
          this.#h.onMessage(m);
        } catch (err) {
          this.#log.error({ peer: hello.from, type: m.type, err: (err as Error).message }, 'onMessage threw');
        }
      } else if (kind === FrameKind.fwd) {
        const { reqId, data } = decodeFwd(payload);
        const answer = (r: ForwardResult) => {
          if (!socket.destroyed) socket.write(encodeFrame(FrameKind.fwdResp, encodeFwdResp(reqId, r)));
        };
        const onForward = this.#h.onForward;
        if (onForward === undefined) {
          answer({
            ok: false,
            code: 'GRAFTD_NO_LEADER',
            message: `node ${this.#s.nodeId} does not accept forwarded writes`,
            httpStatus: 503,
            leader: '',
          });
        } else if (forwardsInflight >= this.#s.maxForwardsInflight) {
          answer({
            ok: false,
            code: 'GRAFTD_PROPOSAL_DROPPED',
            message: `proposal dropped: ${forwardsInflight} writes forwarded by ${hello.from} are in progress (limit ${this.#s.maxForwardsInflight})`,
            httpStatus: 503,
            leader: '',
          });
        } else {
          forwardsInflight++;
          let p: Promise<ForwardResult>;
          try {
            p = onForward(hello.from, data);
          } catch (err) {
            p = Promise.reject(err);
          }
          p.then(answer, (err: unknown) => answer(errorResult(err))).finally(() => forwardsInflight--);
        }
      } else if (kind === FrameKind.ping) {
        socket.write(PONG_FRAME);
      } else {
        throw new GraftdError('GRAFTD_CORRUPT', `unexpected frame kind ${kind} on a message connection`, 500);
      }
    });

    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        decoder.stop();
        this.#log.error({ remote, peer: hello?.from ?? '', err: (err as Error).message }, 'closing peer connection after a protocol error');
        socket.destroy();
      }
    });
    socket.on('timeout', () => {
      this.#log.warn(
        { remote, peer: hello?.from ?? '' },
        `no data from the peer for ${this.#s.peerTimeoutMs} ms; closing its inbound connection`,
      );
      socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(handshakeTimer);
      decoder.stop();
      this.#sockets.delete(socket);
      if (hello !== null && this.#msgConns.get(hello.from) === socket) this.#msgConns.delete(hello.from);
      if (receiver !== null) {
        receiver.onClose();
        this.#incomingSnapshots--;
      }
    });
  }

  /** Validate a hello; answer it; return it when accepted, null when refused (the connection is then closing). */
  #handshake(socket: net.Socket, remote: string, hello: Hello): Hello | null {
    let reason = '';
    if (hello.version !== PROTOCOL_VERSION)
      reason = `protocol version ${hello.version} is not supported (this node speaks ${PROTOCOL_VERSION})`;
    else if (hello.clusterId !== this.#s.clusterId)
      reason = `cluster id mismatch: the peer is in cluster ${JSON.stringify(hello.clusterId)}, this node in ${JSON.stringify(this.#s.clusterId)}`;
    else if (hello.to !== this.#s.nodeId)
      reason = `node id mismatch: the peer expected to reach ${JSON.stringify(hello.to)}, but this is ${JSON.stringify(this.#s.nodeId)}`;
    else if (hello.from === '' || hello.from === this.#s.nodeId)
      reason = `the peer claims the id ${JSON.stringify(hello.from)}, which is empty or this node's own`;
    else if (hello.purpose === 'snap' && this.#incomingSnapshots >= this.#s.maxIncomingSnapshots)
      reason = `too many snapshot transfers in progress (limit ${this.#s.maxIncomingSnapshots})`;
    const ack = encodeFrame(
      FrameKind.helloAck,
      encodeHelloAck({ version: PROTOCOL_VERSION, clusterId: this.#s.clusterId, nodeId: this.#s.nodeId, ok: reason === '', reason }),
    );
    if (reason === '') {
      socket.write(ack);
      this.#log.debug({ remote, peer: hello.from, purpose: hello.purpose }, 'accepted peer connection');
      return hello;
    }
    this.#logLimited(`refused:${hello.from}:${reason}`, 'error', { remote, peer: hello.from }, `refused peer connection: ${reason}`);
    socket.end(ack);
    setTimeout(() => socket.destroy(), this.#s.handshakeTimeoutMs).unref();
    return null;
  }

  #logLimited(key: string, level: 'warn' | 'error', obj: object, msg: string): void {
    const now = Date.now();
    const last = this.#lastLogged.get(key);
    if (last !== undefined && now - last < REPEAT_LOG_MS) return;
    if (this.#lastLogged.size >= MAX_LOG_KEYS) this.#lastLogged.clear();
    this.#lastLogged.set(key, now);
    this.#log[level](obj, msg);
  }
}
