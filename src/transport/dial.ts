/**
 * Outgoing connection setup shared by message links, snapshot transfers and probes: connect
 * from `bindHost` (through TLS when configured), answer the acceptor's challenge with the
 * hello (and our proof of the cluster secret), check the acceptor's answer and proof.
 *
 * Why bind the local address: chaos tests cut links with per-address iptables rules, which
 * only match if a node's outgoing sockets use its own raft address, not whatever source
 * address the kernel would pick.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Log } from '../log.ts';
import type { NodeId } from '../raft/types.ts';
import { type PeerTranscript, checkAcceptorProof, diallerProof, peerNonce } from '../security/peer-auth.ts';
import { acceptAnyPeerName, isTlsAuthError } from '../security/peer-tls.ts';
import type { HostPort } from './addr.ts';
import { VERSION } from '../version.ts';
import { type HelloPurpose, PROTOCOL_VERSION, decodeChallenge, decodeHelloAck, encodeHello, peekVersion } from './codec.ts';
import { FrameDecoder, FrameKind, encodeFrame } from './frame.ts';
import type { PeerGuard } from './peer-guard.ts';
import type { Settings } from './settings.ts';

export interface DialHandlers {
  /** The handshake succeeded; frames after the answer go to onFrame. */
  onUp(socket: net.Socket): void;
  /** Frames received after the handshake. */
  onFrame(kind: number, payload: Buffer): void;
  /** Called exactly once unless destroy() was called: the connection failed or ended. `refused` = the handshake was refused or failed authentication (retrying fast will not help). */
  onDown(reason: string, refused: boolean): void;
}

/** Handle on a dialled connection. */
export interface Dialed {
  /** Close and report onDown(reason). No-op once down. */
  fail(reason: string, refused?: boolean): void;
  /** The peer broke the protocol after the handshake: count it, then fail(reason). */
  violation(reason: string): void;
  /** Close silently (owner is going away). */
  destroy(): void;
}

/** The TCP socket (bound to bindHost) and, with TLS, the TLS socket on top of it (both the same object without TLS). */
function connect(s: Settings, guard: PeerGuard, addr: HostPort): { raw: net.Socket; socket: net.Socket } {
  const raw = net.connect({ host: addr.host, port: addr.port, ...(s.bindHost === '' ? {} : { localAddress: s.bindHost }) });
  const context = guard.tlsContext;
  if (context === null) return { raw, socket: raw };
  // TLS over our own TCP socket, so that the local address is bindHost (per-address firewall rules in chaos tests).
  const socket = tls.connect({ socket: raw, secureContext: context, rejectUnauthorized: true, checkServerIdentity: acceptAnyPeerName });
  return { raw, socket };
}

export function dial(
  s: Settings,
  guard: PeerGuard,
  log: Log,
  peerId: NodeId,
  addr: HostPort,
  purpose: HelloPurpose,
  h: DialHandlers,
): Dialed {
  let down = false;
  let up = false;
  /** Set once our hello is sent: the transcript the acceptor's proof must cover. */
  let transcript: PeerTranscript | null = null;
  /** Set when the acceptor's challenge named another protocol version: we sent our hello so it can log ours, and wait for its answer. */
  let theirVersion: number | null = null;
  const secret = guard.secret;
  const { raw, socket } = connect(s, guard, addr);
  let timer: NodeJS.Timeout | null = setTimeout(() => fail(`connect timed out after ${s.dialTimeoutMs} ms`), s.dialTimeoutMs);

  const clearTimer = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  const fail = (reason: string, refused = false) => {
    if (down) return;
    down = true;
    clearTimer();
    decoder.stop();
    socket.destroy();
    raw.destroy();
    h.onDown(reason, refused);
  };
  const refuse = (problem: string) => {
    guard.handshakeFailed();
    fail(`handshake failed: ${problem}`, true);
  };

  const versionProblem = (v: number) =>
    `the node at ${addr.host}:${addr.port} speaks peer protocol version ${v}, this node ${PROTOCOL_VERSION} (graftd ${VERSION}); ` +
    'upgrade one node at a time between releases with the same protocol version (docs/operations.md, "Upgrades")';

  const onChallenge = (payload: Buffer) => {
    const v = peekVersion(payload);
    if (v !== null && v !== PROTOCOL_VERSION) {
      // Still send our hello (without a proof) so that the acceptor logs both versions too, then wait for its refusal.
      theirVersion = v;
      guard.versionMismatch();
      const hello = { version: PROTOCOL_VERSION, clusterId: '', from: s.nodeId, to: peerId, purpose, nonce: peerNonce(), proof: EMPTY };
      socket.write(encodeFrame(FrameKind.hello, encodeHello({ ...hello, addr: s.advertiseAddr })));
      return;
    }
    const c = decodeChallenge(payload);
    const t: PeerTranscript = {
      version: PROTOCOL_VERSION,
      clusterId: s.clusterId,
      acceptorNonce: c.nonce,
      diallerNonce: peerNonce(),
      from: s.nodeId,
      to: peerId,
      purpose,
      addr: s.advertiseAddr,
    };
    transcript = t;
    const hello = {
      version: PROTOCOL_VERSION,
      // Sent (and with a secret also bound into the proof) so that a node of another cluster that this
      // one lists as a member can tell it was added elsewhere (runtime: foreign-cluster). The id is a
      // random name, not a credential; only addresses in our own membership are ever dialled.
      clusterId: s.clusterId,
      from: s.nodeId,
      to: peerId,
      purpose,
      nonce: t.diallerNonce,
      proof: secret === null ? EMPTY : diallerProof(secret, t),
      addr: s.advertiseAddr,
    };
    socket.write(encodeFrame(FrameKind.hello, encodeHello(hello)));
  };

  const onAck = (payload: Buffer, t: PeerTranscript) => {
    const ack = decodeHelloAck(payload);
    if (ack.version !== PROTOCOL_VERSION) {
      guard.versionMismatch();
      return refuse(`${versionProblem(ack.version)}${ack.ok ? '' : `; it answered: ${ack.reason}`}`);
    }
    if (!ack.ok) return refuse(`refused by the peer: ${ack.reason}`);
    if (secret !== null && !checkAcceptorProof(secret, t, ack.proof))
      return refuse(`the node at ${addr.host}:${addr.port} did not prove knowledge of the cluster secret`);
    if (secret === null && ack.proof.length > 0)
      return refuse(`the node at ${addr.host}:${addr.port} uses a cluster secret and this node has none`);
    if (ack.nodeId !== peerId)
      return refuse(`the node at ${addr.host}:${addr.port} is ${JSON.stringify(ack.nodeId)}, expected ${JSON.stringify(peerId)}`);
    up = true;
    clearTimer();
    decoder.setMaxFrameBytes(s.maxFrameBytes);
    h.onUp(socket);
  };

  /** An answer before our hello: only a refusal is legitimate (e.g. our TLS certificate was not accepted). */
  const onEarlyAck = (payload: Buffer) => {
    const ack = decodeHelloAck(payload);
    refuse(ack.ok ? 'protocol error: the peer answered before the hello' : `refused by the peer: ${ack.reason}`);
  };

  /** The answer to the hello we sent only to name our version: whatever it says (it may not even decode), the handshake failed. */
  const onVersionAnswer = (v: number, payload: Buffer) => {
    let answer = '';
    try {
      const ack = decodeHelloAck(payload);
      if (!ack.ok) answer = `; it answered: ${ack.reason}`;
    } catch {
      // another version's answer format: the version is all we need
    }
    refuse(`${versionProblem(v)}${answer}`);
  };

  const decoder = new FrameDecoder(
    s.maxHandshakeFrameBytes,
    (kind, payload) => {
      if (up) h.onFrame(kind, payload);
      else if (theirVersion !== null) onVersionAnswer(theirVersion, payload);
      else if (transcript === null && kind === FrameKind.challenge) onChallenge(payload);
      else if (transcript !== null && kind === FrameKind.helloAck) onAck(payload, transcript);
      else if (kind === FrameKind.helloAck) onEarlyAck(payload);
      else refuse(`protocol error: unexpected frame kind ${kind} during the handshake`);
    },
    s.maxBufferedBytesPerConnection,
  );

  raw.on('connect', () => {
    if (down) return;
    raw.setNoDelay(true);
    raw.setKeepAlive(true, s.peerTimeoutMs);
    clearTimer();
    timer = setTimeout(() => {
      if (theirVersion !== null) refuse(versionProblem(theirVersion));
      else fail(`handshake timed out after ${s.handshakeTimeoutMs} ms`);
    }, s.handshakeTimeoutMs);
  });
  socket.on('data', (chunk: Buffer) => {
    try {
      decoder.push(chunk);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (up) {
        guard.protocolViolation();
        fail(reason);
      } else refuse(reason);
    }
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (!up && isTlsAuthError(err.code)) refuse(`TLS: ${err.code} ${err.message}`);
    else fail(err.code ?? err.message);
  });
  const onClose = () => {
    if (theirVersion !== null)
      refuse(versionProblem(theirVersion)); // it closed instead of answering our hello
    else fail(up ? 'connection closed' : 'connection closed during the handshake');
  };
  socket.on('close', onClose);
  if (raw !== socket) {
    raw.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    raw.on('close', onClose);
  }
  log.debug({ peer: peerId, addr: `${addr.host}:${addr.port}`, purpose, bindHost: s.bindHost }, 'dialling peer');

  return {
    fail,
    violation(reason) {
      if (down) return;
      guard.protocolViolation();
      fail(reason);
    },
    destroy() {
      down = true;
      clearTimer();
      decoder.stop();
      socket.destroy();
      raw.destroy();
    },
  };
}

const EMPTY = new Uint8Array(0);
