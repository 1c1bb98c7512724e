/**
 * Outgoing connection setup shared by message links and snapshot transfers: connect from
 * `bindHost`, send the hello, check the answer.
 *
 * Why bind the local address: chaos tests cut links with per-address iptables rules, which
 * only match if a node's outgoing sockets use its own raft address, not whatever source
 * address the kernel would pick.
 */
import net from 'node:net';
import type { Log } from '../log.ts';
import type { NodeId } from '../raft/types.ts';
import type { HostPort } from './addr.ts';
import { PROTOCOL_VERSION, decodeHelloAck, encodeHello } from './codec.ts';
import { FrameDecoder, FrameKind, encodeFrame } from './frame.ts';
import type { Settings } from './settings.ts';

export interface DialHandlers {
  /** The handshake succeeded; frames after the answer go to onFrame. */
  onUp(socket: net.Socket): void;
  /** Frames received after the handshake. */
  onFrame(kind: number, payload: Buffer): void;
  /** Called exactly once unless destroy() was called: the connection failed or ended. `refused` = the handshake was refused (retrying fast will not help). */
  onDown(reason: string, refused: boolean): void;
}

/** Handle on a dialled connection. */
export interface Dialed {
  /** Close and report onDown(reason). No-op once down. */
  fail(reason: string, refused?: boolean): void;
  /** Close silently (owner is going away). */
  destroy(): void;
}

export function dial(s: Settings, log: Log, peerId: NodeId, addr: HostPort, purpose: 'msg' | 'snap', h: DialHandlers): Dialed {
  let down = false;
  let up = false;
  const connectOpts: net.TcpNetConnectOpts = { host: addr.host, port: addr.port };
  if (s.bindHost !== '') connectOpts.localAddress = s.bindHost;
  const socket = net.connect(connectOpts);
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
    h.onDown(reason, refused);
  };

  const decoder = new FrameDecoder(s.maxFrameBytes, (kind, payload) => {
    if (up) {
      h.onFrame(kind, payload);
      return;
    }
    if (kind !== FrameKind.helloAck) {
      fail(`protocol error: expected the handshake answer, got frame kind ${kind}`);
      return;
    }
    const ack = decodeHelloAck(payload);
    let problem = '';
    if (!ack.ok) problem = `refused by the peer: ${ack.reason}`;
    else if (ack.version !== PROTOCOL_VERSION) problem = `peer speaks protocol version ${ack.version}, this node ${PROTOCOL_VERSION}`;
    else if (ack.clusterId !== s.clusterId)
      problem = `peer belongs to cluster ${JSON.stringify(ack.clusterId)}, this node to ${JSON.stringify(s.clusterId)}`;
    else if (ack.nodeId !== peerId)
      problem = `the node at ${addr.host}:${addr.port} is ${JSON.stringify(ack.nodeId)}, expected ${JSON.stringify(peerId)}`;
    if (problem !== '') {
      fail(`handshake failed: ${problem}`, true);
      return;
    }
    up = true;
    clearTimer();
    h.onUp(socket);
  });

  socket.on('connect', () => {
    if (down) return;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, s.peerTimeoutMs);
    clearTimer();
    timer = setTimeout(() => fail(`handshake timed out after ${s.handshakeTimeoutMs} ms`), s.handshakeTimeoutMs);
    socket.write(
      encodeFrame(FrameKind.hello, encodeHello({ version: PROTOCOL_VERSION, clusterId: s.clusterId, from: s.nodeId, to: peerId, purpose })),
    );
  });
  socket.on('data', (chunk: Buffer) => {
    try {
      decoder.push(chunk);
    } catch (err) {
      fail(err instanceof Error ? err.message : String(err));
    }
  });
  socket.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
  socket.on('close', () => fail(up ? 'connection closed' : 'connection closed during the handshake'));
  log.debug({ peer: peerId, addr: `${addr.host}:${addr.port}`, purpose, bindHost: s.bindHost }, 'dialling peer');

  return {
    fail,
    destroy() {
      down = true;
      clearTimer();
      decoder.stop();
      socket.destroy();
    },
  };
}
