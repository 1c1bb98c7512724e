/** Shared helpers for the transport tests: nodes on 127.0.0.2x, message builders, polling. */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { recordingLog } from '../../src/log.ts';
import type { Entry, Message, MessageType } from '../../src/raft/types.ts';
import { diallerProof } from '../../src/security/peer-auth.ts';
import {
  type Hello,
  type HelloAck,
  PROTOCOL_VERSION,
  decodeChallenge,
  decodeHello,
  decodeHelloAck,
  encodeChallenge,
  encodeHello,
  encodeHelloAck,
} from '../../src/transport/codec.ts';
import { FrameDecoder, FrameKind, encodeFrame } from '../../src/transport/frame.ts';
import { createTransport } from '../../src/transport/index.ts';
import type { NetworkTransport, TransportOptions } from '../../src/transport/index.ts';

export interface TestNode {
  readonly id: string;
  readonly addr: string;
  readonly t: NetworkTransport;
  readonly received: Message[];
  readonly unreachable: string[];
  readonly log: ReturnType<typeof recordingLog>;
}

export function node(id: string, addr: string, overrides: Partial<TransportOptions> = {}): TestNode {
  const received: Message[] = [];
  const unreachable: string[] = [];
  const log = recordingLog();
  const host = addr.slice(0, addr.lastIndexOf(':'));
  const t = createTransport({
    clusterId: 'test-cluster',
    nodeId: id,
    listenAddr: addr,
    bindHost: host,
    onMessage: (m) => received.push(m),
    onSnapshot: async (_m, data) => {
      for await (const _ of data) {
        // drain
      }
    },
    onUnreachable: (peer) => unreachable.push(peer),
    log,
    backoffMinMs: 20,
    backoffMaxMs: 200,
    ...overrides,
  });
  return { id, addr, t, received, unreachable, log };
}

export function msg(from: string, to: string, type: MessageType, extra: Partial<Message> = {}): Message {
  return {
    type,
    from,
    to,
    term: 1,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: '',
    snapshot: null,
    ...extra,
  };
}

export function entries(first: number, n: number, size: number): Entry[] {
  return Array.from({ length: n }, (_, i) => {
    const data = new Uint8Array(size);
    for (let j = 0; j < size; j++) data[j] = (first + i + j * 31) & 0xff;
    return { index: first + i, term: 2, type: i % 5 === 4 ? 'conf' : 'normal', data } as Entry;
  });
}

/** Poll `pred` every 10 ms; reject with `what` after `timeoutMs`. */
export async function until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Make `a` and `b` peers of each other (the acceptor refuses ids it does not know). */
export function link(...nodes: TestNode[]): void {
  for (const n of nodes) for (const p of nodes) if (p !== n) n.t.setPeer(p.id, p.addr);
}

/**
 * A hand-written acceptor speaking protocol v3 without a secret: sends the challenge, answers
 * every hello with ok as node `nodeId`, then passes frames to `onFrame`.
 */
export function fakeAcceptor(
  nodeId: string,
  onFrame: (socket: net.Socket, kind: number, payload: Buffer) => void = () => {},
  onHello: (socket: net.Socket, hello: Hello) => void = () => {},
): net.Server {
  return net.createServer((socket) => {
    let hello: Hello | null = null;
    const decoder = new FrameDecoder(1 << 20, (kind, payload) => {
      if (hello === null && kind === FrameKind.hello) {
        hello = decodeHello(payload);
        onHello(socket, hello);
        socket.write(
          encodeFrame(
            FrameKind.helloAck,
            encodeHelloAck({ version: PROTOCOL_VERSION, nodeId, ok: true, reason: '', proof: new Uint8Array(0) }),
          ),
        );
      } else onFrame(socket, kind, payload);
    });
    socket.on('data', (d) => decoder.push(d));
    socket.on('error', () => {});
    socket.write(encodeFrame(FrameKind.challenge, encodeChallenge({ version: PROTOCOL_VERSION, nonce: new Uint8Array(32) })));
  });
}

export interface RawHandshake {
  readonly socket: net.Socket;
  /** The acceptor's answer, or null when it closed without one. */
  readonly ack: HelloAck | null;
  /** Every byte the acceptor sent (to check that a refusal reveals nothing). */
  readonly bytes: () => Buffer;
  readonly closed: Promise<void>;
}

/** Dial like a peer would, by hand: wait for the challenge, send a hello (with a proof when `secret` is given), read the answer. */
export async function rawHandshake(o: {
  host: string;
  port: number;
  localAddress: string;
  from: string;
  to: string;
  clusterId?: string;
  secret?: Uint8Array;
  purpose?: 'msg' | 'snap' | 'probe';
  /** The advertised raft address to send (default ''). */
  addr?: string;
}): Promise<RawHandshake> {
  const socket = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress });
  const chunks: Buffer[] = [];
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const ack = await new Promise<HelloAck | null>((resolve) => {
    const decoder = new FrameDecoder(1 << 20, (kind, payload) => {
      if (kind === FrameKind.challenge) {
        const c = decodeChallenge(payload);
        const purpose = o.purpose ?? 'msg';
        const clusterId = o.clusterId ?? 'test-cluster';
        const nonce = randomBytes(32);
        const addr = o.addr ?? '';
        const t = {
          version: PROTOCOL_VERSION,
          clusterId,
          acceptorNonce: c.nonce,
          diallerNonce: nonce,
          from: o.from,
          to: o.to,
          purpose,
          addr,
        };
        const proof = o.secret === undefined ? new Uint8Array(0) : diallerProof(o.secret, t);
        const hello = {
          version: PROTOCOL_VERSION,
          clusterId: o.secret === undefined ? clusterId : '',
          from: o.from,
          to: o.to,
          purpose,
          nonce,
          proof,
          addr,
        };
        socket.write(encodeFrame(FrameKind.hello, encodeHello(hello)));
      } else if (kind === FrameKind.helloAck) resolve(decodeHelloAck(payload));
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(Buffer.from(d));
      try {
        decoder.push(d);
      } catch {
        resolve(null);
      }
    });
    void closed.then(() => resolve(null));
  });
  return { socket, ack, bytes: () => Buffer.concat(chunks), closed };
}
