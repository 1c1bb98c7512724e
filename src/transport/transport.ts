/**
 * createTransport: ties the peer server, the per-peer links and snapshot transfers together.
 *
 * Why messages are encoded in send(): the queue bound is then exact in bytes, and the
 * caller's Message objects are not retained after send returns.
 */
import { GraftdError } from '../errors.ts';
import type { Message, NodeId } from '../raft/types.ts';
import { parseHostPort } from './addr.ts';
import { encodeMessage } from './codec.ts';
import { notSent } from './forward-calls.ts';
import { FrameKind, encodeFrame } from './frame.ts';
import { PeerLink } from './peer-link.ts';
import { PeerServer } from './server.ts';
import { resolveSettings } from './settings.ts';
import { type SnapshotSend, sendSnapshotTo } from './snapshot-sender.ts';
import type { PeerStats, Transport, TransportOptions } from './types.ts';

const UNKNOWN_LOG_MS = 30_000;

/** Create a transport; call start() to listen. */
export function createTransport(opts: TransportOptions): Transport {
  const s = resolveSettings(opts);
  const log = opts.log.child({ module: 'transport' });
  const onUnreachable = (id: NodeId) => {
    try {
      opts.onUnreachable?.(id);
    } catch (err) {
      log.error({ peer: id, err: (err as Error).message }, 'onUnreachable threw');
    }
  };
  const server = new PeerServer(s, log, { onMessage: opts.onMessage, onSnapshot: opts.onSnapshot, onForward: opts.onForward });
  const links = new Map<NodeId, PeerLink>();
  const snapshotSends = new Map<NodeId, SnapshotSend>();
  let unknownDrops = 0;
  let unknownLoggedMs = 0;
  let closed = false;
  let started = false;

  const dropUnknown = (m: Message, why: string) => {
    unknownDrops++;
    const now = Date.now();
    if (now - unknownLoggedMs >= UNKNOWN_LOG_MS) {
      unknownLoggedMs = now;
      log.warn({ to: m.to, type: m.type, dropped: unknownDrops }, `dropping message: ${why}`);
    }
  };

  return {
    async start() {
      if (closed) throw new GraftdError('GRAFTD_SHUTTING_DOWN', 'the transport is closed', 503);
      if (started) throw new GraftdError('GRAFTD_INTERNAL', 'transport already started', 500);
      started = true;
      await server.listen(parseHostPort(opts.listenAddr, 'raft listen address'), opts.listenAddr);
    },

    listenAddress() {
      return server.address();
    },

    setPeer(id, raftAddr) {
      if (closed || id === s.nodeId) return;
      const link = links.get(id);
      if (link === undefined) links.set(id, new PeerLink(id, raftAddr, s, log, onUnreachable));
      else link.setAddr(raftAddr);
    },

    removePeer(id) {
      links.get(id)?.close();
      links.delete(id);
      snapshotSends.get(id)?.abort('peer removed');
    },

    send(messages) {
      if (closed) return;
      for (const m of messages) {
        if (m.type === 'snap') {
          dropUnknown(m, "'snap' messages must go through sendSnapshot");
          continue;
        }
        const link = links.get(m.to);
        if (link === undefined) {
          dropUnknown(m, `no address known for peer ${JSON.stringify(m.to)}`);
          continue;
        }
        let frame: Buffer;
        try {
          frame = encodeFrame(FrameKind.message, encodeMessage(m));
        } catch (err) {
          log.error({ to: m.to, type: m.type, err: (err as Error).message }, 'cannot encode message; dropped');
          continue;
        }
        link.enqueue(frame);
      }
    },

    sendSnapshot(m, open, done) {
      const fail = (why: string) => {
        log.warn({ peer: m.to }, `snapshot not sent: ${why}`);
        setImmediate(() => done(false));
      };
      if (closed) return fail('the transport is closed');
      if (m.type !== 'snap' || m.snapshot === null) return fail(`expected a 'snap' message with meta, got '${m.type}'`);
      const link = links.get(m.to);
      if (link === undefined) return fail(`no address known for peer ${JSON.stringify(m.to)}`);
      if (snapshotSends.has(m.to)) return fail('another snapshot transfer to this peer is in progress');
      let hp: ReturnType<typeof parseHostPort>;
      try {
        hp = parseHostPort(link.addr, `address of peer ${m.to}`);
      } catch (err) {
        return fail((err as Error).message);
      }
      const handle = sendSnapshotTo(s, log, hp, m, open, done, () => {
        if (snapshotSends.get(m.to) === handle) snapshotSends.delete(m.to);
      });
      // Live here: a transfer finishes only from socket events or timers, never synchronously.
      snapshotSends.set(m.to, handle);
    },

    forward(to, data) {
      const link = links.get(to);
      if (closed || link === undefined) return Promise.reject(notSent(to, closed ? 'the transport is closed' : 'no address known for it'));
      return link.forward(data);
    },

    peers() {
      const out: Record<NodeId, PeerStats> = {};
      for (const [id, link] of links) out[id] = link.stats();
      return out;
    },

    unknownPeerDrops() {
      return unknownDrops;
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const link of links.values()) link.close();
      links.clear();
      for (const send of [...snapshotSends.values()]) send.abort('the transport is closing');
      snapshotSends.clear();
      await server.close();
    },
  };
}
