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
import { type Dialed, dial } from './dial.ts';
import { notSent } from './fwd-calls.ts';
import { FrameKind, encodeFrame } from './frame.ts';
import { PeerGuard } from './peer-guard.ts';
import { PeerLink } from './peer-link.ts';
import { PeerServer } from './server.ts';
import { resolveSettings } from './settings.ts';
import { type SnapshotSend, sendSnapshotTo } from './snapshot-sender.ts';
import type { NetworkTransport, PeerStats, TransportOptions } from './types.ts';

const UNKNOWN_LOG_MS = 30_000;
/** At most this many links made from advertised addresses of peers not known yet. */
const MAX_LEARNED_PEERS = 16;

/** Create a transport; call start() to listen. */
export function createTransport(opts: TransportOptions): NetworkTransport {
  const s = resolveSettings(opts);
  const log = opts.log.child({ module: 'transport' });
  const onUnreachable = (id: NodeId) => {
    try {
      opts.onUnreachable?.(id);
    } catch (err) {
      log.error({ peer: id, err: (err as Error).message }, 'onUnreachable threw');
    }
  };
  const guard = new PeerGuard(opts.security, log);
  const links = new Map<NodeId, PeerLink>();
  const isPeerAllowed = opts.isPeerAllowed ?? ((id: NodeId) => links.has(id));
  const admitUnknown = opts.admitUnknownPeers;
  const server = new PeerServer(s, guard, log, {
    onMessage: opts.onMessage,
    onSnapshot: opts.onSnapshot,
    onForward: opts.onForward,
    onForeignCluster: opts.onForeignCluster,
    isPeerAllowed: admitUnknown === undefined ? isPeerAllowed : (id) => isPeerAllowed(id) || admitUnknown(),
    // A peer this node has no address for (it missed the membership change that added it) connected:
    // answer it at the address it advertised, for as long as it stays connected (learned links).
    onPeerConnected: (id, addr) => {
      if (closed || addr === '' || id === s.nodeId || links.has(id) || learned.size >= MAX_LEARNED_PEERS) return;
      try {
        parseHostPort(addr, `advertised address of peer ${id}`);
      } catch {
        return;
      }
      learned.add(id);
      links.set(id, new PeerLink(id, addr, s, guard, log, onUnreachable));
      log.info({ peer: id, addr }, 'a peer this node does not know yet connected; answering it at its advertised address');
    },
    onPeerDisconnected: (id) => {
      if (!learned.has(id)) return;
      learned.delete(id);
      links.get(id)?.close();
      links.delete(id);
    },
  });
  /** Links made from a peer's advertised address, not by setPeer; hidden from peers() until setPeer adopts them. */
  const learned = new Set<NodeId>();
  const probes = new Set<Dialed>();
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
      if (closed) throw new GraftdError('GRAFTD_SHUTTING_DOWN', 'the transport is closed');
      if (started) throw new GraftdError('GRAFTD_INTERNAL', 'transport already started');
      started = true;
      await server.listen(parseHostPort(opts.listenAddr, 'raft listen address'), opts.listenAddr);
    },

    listenAddress() {
      return server.address();
    },

    setPeer(id, raftAddr) {
      if (closed || id === s.nodeId) return;
      learned.delete(id); // adopted: a member link from now on
      const link = links.get(id);
      if (link === undefined) links.set(id, new PeerLink(id, raftAddr, s, guard, log, onUnreachable));
      else link.setAddr(raftAddr);
    },

    removePeer(id) {
      learned.delete(id);
      links.get(id)?.close();
      links.delete(id);
      snapshotSends.get(id)?.abort('peer removed');
      if (!isPeerAllowed(id)) server.dropPeer(id);
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
      const handle = sendSnapshotTo(s, guard, log, hp, m, open, done, () => {
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
      for (const [id, link] of links) if (!learned.has(id)) out[id] = link.stats();
      return out;
    },

    unknownPeerDrops() {
      return unknownDrops;
    },

    updateSecurity(sec) {
      guard.update(sec);
      server.reloadTls();
      log.info(
        { tls: sec.tls !== undefined, secret: sec.secret !== undefined },
        'peer security settings reloaded; new connections use them',
      );
    },

    probe(id, raftAddr, timeoutMs = s.dialTimeoutMs + s.handshakeTimeoutMs) {
      return new Promise<void>((resolve, reject) => {
        const unreachable = (why: string) => new GraftdError('GRAFTD_PEER_UNREACHABLE', `cannot probe node ${id} at ${raftAddr}: ${why}`);
        if (closed) return reject(unreachable('the transport is closed'));
        let hp: ReturnType<typeof parseHostPort>;
        try {
          hp = parseHostPort(raftAddr, `raft address of node ${id}`);
        } catch (err) {
          return reject(unreachable((err as Error).message));
        }
        let settled = false;
        const finish = (err: GraftdError | null) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          probes.delete(conn);
          conn.destroy();
          if (err === null) resolve();
          else reject(err);
        };
        const timer = setTimeout(() => finish(unreachable(`no authenticated answer within ${timeoutMs} ms`)), timeoutMs);
        const conn = dial(s, guard, log, id, hp, 'probe', {
          onUp: () => finish(null),
          onFrame: () => {},
          onDown: (reason, refused) =>
            finish(
              refused
                ? new GraftdError('GRAFTD_FORBIDDEN', `node ${id} at ${raftAddr} failed peer authentication: ${reason}`)
                : unreachable(reason),
            ),
        });
        probes.add(conn);
      });
    },

    securityStats() {
      return guard.stats();
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const link of links.values()) link.close();
      links.clear();
      for (const send of [...snapshotSends.values()]) send.abort('the transport is closing');
      for (const p of [...probes]) p.fail('the transport is closing');
      snapshotSends.clear();
      await server.close();
    },
  };
}
