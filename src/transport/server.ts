/**
 * Accepts peer connections: limits strangers, runs the acceptor side of the handshake
 * (TLS when configured, then challenge → hello with the dialler's proof → answer with ours),
 * then delivers messages or hands the connection to a snapshot receiver.
 *
 * Why separate slots for unauthenticated connections: a stranger may hold at most
 * maxPendingHandshakes (and per address maxPendingHandshakesPerAddress) connections, each for at
 * most handshakeTimeoutMs and maxHandshakeFrameBytes, so it can never take the slots real peers
 * need. Why refuse loudly (but rate-limited): a node started with the wrong secret or cluster
 * id must show up in the logs, without a scanner flooding them.
 */
import net from 'node:net';
import tls from 'node:tls';
import { GraftdError } from '../errors.ts';
import type { Log } from '../log.ts';
import type { Message, NodeId } from '../raft/types.ts';
import { peerNonce } from '../security/peer-auth.ts';
import type { PeerTlsMaterial } from '../security/peer-tls.ts';
import { VERSION } from '../version.ts';
import type { HostPort } from './addr.ts';
import {
  type Hello,
  PROTOCOL_VERSION,
  decodeHello,
  decodeMessage,
  encodeChallenge,
  encodeHelloAck,
  peekHelloFrom,
  peekVersion,
} from './codec.ts';
import { FrameDecoder, FrameKind, encodeFrame } from './frame.ts';
import { type ForeignClusterClaim, checkHello } from './hello-check.ts';
import { AUTH_FAILED, type PeerGuard } from './peer-guard.ts';
import type { Settings } from './settings.ts';
import { SnapshotReceiver } from './snapshot-receiver.ts';
import { type FwdHandler, FwdIntake } from './fwd-intake.ts';

const PONG_FRAME = encodeFrame(FrameKind.pong);
const EMPTY = new Uint8Array(0);
/** The answer to a TLS client whose certificate did not verify: no ids, no detail. */
const REFUSED_UNVERIFIED = encodeFrame(
  FrameKind.helloAck,
  encodeHelloAck({ version: PROTOCOL_VERSION, nodeId: '', ok: false, reason: AUTH_FAILED, proof: EMPTY }),
);

export interface ServerHandlers {
  onMessage(m: Message): void;
  onSnapshot(m: Message, data: AsyncIterable<Uint8Array>): Promise<void>;
  /** Serve a request a peer forwarded in a fwd frame (fwd-intake.ts); absent: refused GRAFTD_NO_LEADER. */
  onForward?: FwdHandler | undefined;
  /** May `id` open message and snapshot connections (membership filter)? */
  isPeerAllowed(id: NodeId): boolean;
  /** A message connection from `id` was admitted; `addr` is the raft address it advertised ('' = none). */
  onPeerConnected?: ((id: NodeId, addr: string) => void) | undefined;
  /** The last inbound connection from `id` closed. */
  onPeerDisconnected?: ((id: NodeId) => void) | undefined;
  /** A node of another cluster, addressing this node by its id, tried to connect (see ForeignClusterClaim). */
  onForeignCluster?: ((claim: ForeignClusterClaim) => void) | undefined;
}

/** One inbound connection. `socket` is the TLS socket when TLS is on, else `raw`. */
interface Conn {
  readonly raw: net.Socket;
  socket: net.Socket;
  readonly remote: string;
  readonly ip: string;
  state: 'pending' | 'authed' | 'closed';
  hello: Hello | null;
  decoder: FrameDecoder | null;
  receiver: SnapshotReceiver | null;
  /** The fwd requests (forwarded writes and read-index requests) of a message connection, once one came (fwd-intake.ts). */
  fwd: FwdIntake | null;
  handshakeTimer: NodeJS.Timeout | null;
  /** The hello was answered (refused, or a probe accepted): the socket is ending, nothing more to count. */
  answered: boolean;
  /** The handshake failure was counted (once per connection). */
  failed: boolean;
}

export class PeerServer {
  readonly #s: Settings;
  readonly #guard: PeerGuard;
  readonly #log: Log;
  readonly #h: ServerHandlers;
  readonly #server: net.Server;
  readonly #conns = new Set<Conn>();
  /** Pending connections by remote ip:port, to find the raw socket's Conn when its TLS socket is ready. */
  readonly #byRemote = new Map<string, Conn>();
  readonly #pendingByIp = new Map<string, number>();
  #pending = 0;
  #authed = 0;
  /** Authenticated message and snapshot connections per peer (several may coexist: a reconnect does not evict). */
  readonly #byPeer = new Map<NodeId, Set<Conn>>();
  #incomingSnapshots = 0;
  #sweep: NodeJS.Timeout | null = null;
  #address = '';

  constructor(s: Settings, guard: PeerGuard, log: Log, handlers: ServerHandlers) {
    this.#s = s;
    this.#guard = guard;
    this.#log = log;
    this.#h = handlers;
    const material = guard.tlsMaterial;
    if (material === null) {
      this.#server = net.createServer((socket) => this.#accept(socket));
    } else {
      // Our 'connection' listener sees the raw socket first (slots, timer). The client's chain is verified by
      // OpenSSL against the peer CA; #secured refuses a connection whose certificate did not verify
      // (rejectUnauthorized is false only so that it gets a generic refusal, is logged with its reason and counted).
      const server = tls.createServer({ ...tlsServerOptions(material), requestCert: true, rejectUnauthorized: false });
      server.on('connection', (socket: net.Socket) => this.#accept(socket));
      server.on('secureConnection', (socket: tls.TLSSocket) => this.#secured(socket));
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
        const c = this.#byRemote.get(remoteKey(socket));
        if (c !== undefined) this.#failHandshake(c, `TLS: ${err.code ?? ''} ${err.message}`.trim());
      });
      this.#server = server;
    }
  }

  /** New TLS connections use the current certificates (after updateSecurity). */
  reloadTls(): void {
    const material = this.#guard.tlsMaterial;
    if (material !== null && this.#server instanceof tls.Server) this.#server.setSecureContext(tlsServerOptions(material));
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
        reject(new GraftdError('GRAFTD_BAD_CONFIG', `cannot listen for peers on ${display}: ${why}`, { cause: err }));
      };
      this.#server.once('error', onError);
      this.#server.listen({ host: hp.host, port: hp.port }, () => {
        this.#server.off('error', onError);
        this.#server.on('error', (err) => this.#log.error({ err: err.message }, 'peer server error'));
        const a = this.#server.address();
        this.#address =
          a !== null && typeof a === 'object' ? (a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`) : display;
        const period = Math.max(10, Math.min(1000, Math.floor(this.#s.frameTimeoutMs / 4)));
        this.#sweep = setInterval(() => this.#checkStalledFrames(), period);
        this.#sweep.unref();
        this.#log.info(
          { addr: this.#address, tls: this.#guard.tlsContext !== null, secret: this.#guard.secret !== null },
          'listening for peers',
        );
        resolve();
      });
    });
  }

  address(): string {
    return this.#address;
  }

  /** Close the inbound connections of a peer that is no longer allowed (removed from the membership). */
  dropPeer(id: NodeId): void {
    for (const c of this.#byPeer.get(id) ?? []) this.#destroy(c);
  }

  close(): Promise<void> {
    if (this.#sweep !== null) clearInterval(this.#sweep);
    for (const c of this.#conns) this.#destroy(c);
    return new Promise((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
  }

  #accept(raw: net.Socket): void {
    const ip = raw.remoteAddress ?? '';
    const remote = `${ip}:${raw.remotePort}`;
    const fromIp = this.#pendingByIp.get(ip) ?? 0;
    if (this.#pending >= this.#s.maxPendingHandshakes || fromIp >= this.#s.maxPendingHandshakesPerAddress) {
      this.#guard.refused();
      this.#guard.logLimited(
        `pending-limit:${ip}`,
        'warn',
        { remote, pending: this.#pending, fromAddress: fromIp },
        `too many unauthenticated peer connections (limits ${this.#s.maxPendingHandshakes} in total, ${this.#s.maxPendingHandshakesPerAddress} per address); refusing`,
      );
      raw.destroy();
      return;
    }
    const c: Conn = {
      raw,
      socket: raw,
      remote,
      ip,
      state: 'pending',
      hello: null,
      decoder: null,
      receiver: null,
      fwd: null,
      handshakeTimer: null,
      answered: false,
      failed: false,
    };
    this.#pending++;
    this.#pendingByIp.set(ip, fromIp + 1);
    this.#conns.add(c);
    raw.setNoDelay(true);
    raw.on('error', () => {});
    raw.on('close', () => this.#closed(c));
    c.handshakeTimer = setTimeout(
      () => this.#failHandshake(c, `handshake not completed within ${this.#s.handshakeTimeoutMs} ms`),
      this.#s.handshakeTimeoutMs,
    );
    if (this.#server instanceof tls.Server) this.#byRemote.set(remote, c);
    else this.#startHandshake(c);
  }

  /** TLS is up; OpenSSL verified the client's chain against the peer CA (socket.authorized says whether it passed). */
  #secured(socket: tls.TLSSocket): void {
    const c = this.#byRemote.get(remoteKey(socket));
    if (c === undefined || c.state !== 'pending') {
      socket.destroy();
      return;
    }
    this.#byRemote.delete(c.remote);
    c.socket = socket;
    socket.on('error', () => {});
    socket.on('close', () => this.#closed(c));
    if (!socket.authorized) {
      // Invariant: nothing but this generic refusal is ever sent on a connection whose certificate did not verify.
      this.#refuseUnverified(c, String(socket.authorizationError ?? 'no certificate'));
      return;
    }
    this.#startHandshake(c);
  }

  #startHandshake(c: Conn): void {
    if (c.state !== 'pending') return;
    const nonce = peerNonce();
    c.decoder = new FrameDecoder(
      this.#s.maxHandshakeFrameBytes,
      (kind, payload) => {
        if (c.hello === null) this.#onHello(c, kind, payload, nonce);
        else this.#onFrame(c, c.hello, kind, payload);
      },
      this.#s.maxBufferedBytesPerConnection,
    );
    const decoder = c.decoder;
    c.socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        if (c.state === 'pending') this.#failHandshake(c, why);
        else this.#violation(c, why);
      }
    });
    c.socket.on('timeout', () => {
      this.#log.warn(
        { remote: c.remote, peer: c.hello?.from ?? '' },
        `no data from the peer for ${this.#s.peerTimeoutMs} ms; closing its inbound connection`,
      );
      this.#destroy(c);
    });
    c.socket.write(encodeFrame(FrameKind.challenge, encodeChallenge({ version: PROTOCOL_VERSION, nonce })));
  }

  #onHello(c: Conn, kind: number, payload: Buffer, nonce: Uint8Array): void {
    if (kind !== FrameKind.hello) throw new GraftdError('GRAFTD_CORRUPT', `expected a handshake, got frame kind ${kind}`);
    const version = peekVersion(payload);
    if (version !== null && version !== PROTOCOL_VERSION) {
      this.#refuseVersion(c, version, peekHelloFrom(payload));
      return;
    }
    const hello = decodeHello(payload);
    const verdict = checkHello(
      {
        clusterId: this.#s.clusterId,
        nodeId: this.#s.nodeId,
        secret: this.#guard.secret,
        isPeerAllowed: (id) => this.#h.isPeerAllowed(id),
        limitReason: (h) => this.#limitReason(h),
      },
      hello,
      nonce,
    );
    if (!verdict.ok) {
      c.decoder?.stop();
      if (verdict.foreign !== undefined) this.#h.onForeignCluster?.(verdict.foreign);
      if (verdict.failure === 'auth') this.#guard.handshakeFailed();
      else this.#guard.refused();
      this.#guard.logLimited(
        // Keyed by address and kind, not by the claimed id: a stranger varying ids must not flood the log.
        `refused:${c.ip}:${verdict.failure}`,
        'error',
        { remote: c.remote, peer: hello.from, purpose: hello.purpose },
        `refused peer connection: ${verdict.log}`,
      );
      this.#endAfter(
        c,
        encodeFrame(
          FrameKind.helloAck,
          encodeHelloAck({ version: PROTOCOL_VERSION, nodeId: '', ok: false, reason: verdict.reason, proof: EMPTY }),
        ),
      );
      return;
    }
    if (c.handshakeTimer !== null) clearTimeout(c.handshakeTimer);
    c.handshakeTimer = null;
    const ack = encodeFrame(
      FrameKind.helloAck,
      encodeHelloAck({ version: PROTOCOL_VERSION, nodeId: this.#s.nodeId, ok: true, reason: '', proof: verdict.proof }),
    );
    this.#log.debug({ remote: c.remote, peer: hello.from, purpose: hello.purpose }, 'accepted peer connection');
    if (hello.purpose === 'probe') {
      // A probe proves identities and ends: no frame is accepted on it. It keeps its pending slot until closed.
      c.decoder?.stop();
      this.#endAfter(c, ack);
      return;
    }
    this.#promote(c, hello);
    c.socket.write(ack);
  }

  /**
   * The dialler speaks another protocol version (its hello may not even decode as ours): log both
   * versions, count it, and answer with a refusal in the v3 answer format that names ours (the
   * version is public anyway: it is in the challenge; the software version stays in the log).
   */
  #refuseVersion(c: Conn, version: number, from: string): void {
    c.decoder?.stop();
    this.#guard.handshakeFailed();
    this.#guard.versionMismatch();
    this.#guard.logLimited(
      `version:${c.ip}:${version}`,
      'error',
      { remote: c.remote, peer: from, peerProtocol: version, protocol: PROTOCOL_VERSION, version: VERSION },
      `refused peer connection: the peer speaks peer protocol version ${version}, this node ${PROTOCOL_VERSION} (graftd ${VERSION}); ` +
        'upgrade one node at a time between releases with the same protocol version (docs/operations.md, "Upgrades")',
    );
    const reason = `protocol version ${version} is not supported (this node speaks ${PROTOCOL_VERSION})`;
    this.#endAfter(
      c,
      encodeFrame(FrameKind.helloAck, encodeHelloAck({ version: PROTOCOL_VERSION, nodeId: '', ok: false, reason, proof: EMPTY })),
    );
  }

  /** Move an accepted connection from the pending slots to the authenticated ones. */
  #promote(c: Conn, hello: Hello): void {
    this.#unpend(c);
    c.state = 'authed';
    c.hello = hello;
    this.#authed++;
    c.decoder?.setMaxFrameBytes(this.#s.maxFrameBytes);
    let set = this.#byPeer.get(hello.from);
    if (set === undefined) {
      set = new Set();
      this.#byPeer.set(hello.from, set);
    }
    set.add(c);
    if (hello.purpose === 'msg') this.#h.onPeerConnected?.(hello.from, hello.addr);
    if (hello.purpose === 'snap') {
      this.#incomingSnapshots++;
      c.receiver = new SnapshotReceiver(c.socket, hello.from, this.#s, this.#log, this.#h.onSnapshot);
    } else {
      c.socket.setTimeout(this.#s.peerTimeoutMs);
    }
  }

  #limitReason(hello: Hello): string {
    if (this.#authed >= this.#s.maxInboundConnections) return `too many peer connections (limit ${this.#s.maxInboundConnections})`;
    if (hello.purpose === 'snap' && this.#incomingSnapshots >= this.#s.maxIncomingSnapshots)
      return `too many snapshot transfers in progress (limit ${this.#s.maxIncomingSnapshots})`;
    return '';
  }

  #onFrame(c: Conn, hello: Hello, kind: number, payload: Buffer): void {
    if (c.receiver !== null) {
      c.receiver.onFrame(kind, payload);
      return;
    }
    if (kind === FrameKind.message) {
      const m = decodeMessage(payload);
      if (m.from !== hello.from || m.to !== this.#s.nodeId) {
        throw new GraftdError(
          'GRAFTD_CORRUPT',
          `a message from ${JSON.stringify(m.from)} to ${JSON.stringify(m.to)} on the connection of peer ${JSON.stringify(hello.from)}`,
        );
      }
      try {
        this.#h.onMessage(m);
      } catch (err) {
        this.#log.error({ peer: hello.from, type: m.type, err: (err as Error).message }, 'onMessage threw');
      }
    } else if (kind === FrameKind.fwd) {
      c.fwd ??= new FwdIntake({
        from: hello.from,
        nodeId: this.#s.nodeId,
        maxInflight: this.#s.maxForwardsInflight,
        handler: this.#h.onForward,
        write: (frame) => this.#writeAnswer(c, frame),
      });
      c.fwd.onFrame(payload);
    } else if (kind === FrameKind.ping) {
      c.socket.write(PONG_FRAME);
    } else {
      throw new GraftdError('GRAFTD_CORRUPT', `unexpected frame kind ${kind} on a message connection`);
    }
  }

  /**
   * Send a fwd answer. Answers come in bursts (one Ready applies many forwarded writes and resolves
   * their waiters in one go): they are gathered with cork() and leave in one writev when the burst's
   * callbacks and promise reactions are done (process.nextTick runs after them), not one syscall —
   * with its loopback delivery — each. Measured: the leader's socket writes were its largest CPU item.
   */
  #writeAnswer(c: Conn, frame: Buffer): void {
    const socket = c.socket;
    if (socket.destroyed) return;
    // Only this corks an inbound socket: corked means a burst is being gathered and its uncork is scheduled.
    if (socket.writableCorked === 0) {
      socket.cork();
      process.nextTick(() => {
        if (!socket.destroyed) socket.uncork();
      });
    }
    socket.write(frame);
  }

  /** An authenticated peer broke the protocol: count it and close the connection. */
  #violation(c: Conn, why: string): void {
    if (c.state === 'closed') return;
    this.#guard.protocolViolation();
    this.#log.error({ remote: c.remote, peer: c.hello?.from ?? '', err: why }, 'closing peer connection after a protocol error');
    this.#destroy(c);
  }

  /** The handshake (TLS or ours) failed before any answer: count, log rate-limited, close. */
  #failHandshake(c: Conn, why: string): void {
    if (c.state !== 'pending' || c.answered || c.failed) return;
    c.failed = true;
    this.#guard.handshakeFailed();
    this.#guard.logLimited(`handshake:${c.ip}`, 'warn', { remote: c.remote, reason: why }, `peer handshake failed: ${why}; closing`);
    this.#destroy(c);
  }

  #refuseUnverified(c: Conn, why: string): void {
    c.failed = true;
    this.#guard.handshakeFailed();
    this.#guard.logLimited(
      `tls:${c.ip}`,
      'warn',
      { remote: c.remote, reason: why },
      `refused peer connection: its TLS certificate was not accepted (${why})`,
    );
    this.#endAfter(c, REFUSED_UNVERIFIED);
  }

  /** Write a last frame, stop reading, and make sure the socket goes away even if the other side never reads. */
  #endAfter(c: Conn, frame: Buffer): void {
    c.answered = true;
    c.socket.end(frame);
    if (c.handshakeTimer !== null) clearTimeout(c.handshakeTimer);
    c.handshakeTimer = setTimeout(() => this.#destroy(c), this.#s.handshakeTimeoutMs);
  }

  #checkStalledFrames(): void {
    const now = Date.now();
    for (const c of this.#conns) {
      if (c.state !== 'authed' || c.decoder === null) continue;
      // A frame held back by our own flow control (snapshot consumer busy) is not the peer's fault.
      if (c.socket.isPaused()) c.decoder.restartPartialClock(now);
      const since = c.decoder.partialSinceMs();
      if (since !== 0 && now - since > this.#s.frameTimeoutMs)
        this.#violation(c, `a frame was not completed within ${this.#s.frameTimeoutMs} ms (${c.decoder.bufferedBytes()} bytes buffered)`);
    }
  }

  #unpend(c: Conn): void {
    if (c.state !== 'pending') return;
    this.#pending--;
    const n = (this.#pendingByIp.get(c.ip) ?? 1) - 1;
    if (n <= 0) this.#pendingByIp.delete(c.ip);
    else this.#pendingByIp.set(c.ip, n);
  }

  #destroy(c: Conn): void {
    c.socket.destroy();
    c.raw.destroy();
    this.#closed(c);
  }

  #closed(c: Conn): void {
    if (c.state === 'closed') return;
    if (!c.raw.destroyed) c.raw.destroy();
    if (c.socket !== c.raw && !c.socket.destroyed) c.socket.destroy();
    if (c.state === 'pending' && !c.answered && !c.failed) {
      // Closed before the hello was answered (a scanner, a plaintext client on a TLS port, a dialler that gave up).
      c.failed = true;
      this.#guard.handshakeFailed();
      this.#guard.logLimited(`closed:${c.ip}`, 'warn', { remote: c.remote }, 'peer connection closed before completing the handshake');
    }
    this.#byRemote.delete(c.remote);
    this.#unpend(c);
    if (c.state === 'authed') this.#authed--;
    c.state = 'closed';
    this.#conns.delete(c);
    if (c.handshakeTimer !== null) clearTimeout(c.handshakeTimer);
    c.handshakeTimer = null;
    c.decoder?.stop();
    if (c.hello !== null) {
      const set = this.#byPeer.get(c.hello.from);
      set?.delete(c);
      if (set?.size === 0) {
        this.#byPeer.delete(c.hello.from);
        this.#h.onPeerDisconnected?.(c.hello.from);
      }
    }
    if (c.receiver !== null) {
      c.receiver.onClose();
      this.#incomingSnapshots--;
    }
  }
}

function remoteKey(socket: net.Socket): string {
  return `${socket.remoteAddress ?? ''}:${socket.remotePort}`;
}

function tlsServerOptions(m: PeerTlsMaterial): tls.SecureContextOptions {
  return { cert: m.cert, key: m.key, ca: m.ca, minVersion: 'TLSv1.2' };
}
