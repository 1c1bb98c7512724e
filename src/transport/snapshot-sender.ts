/**
 * Streams one snapshot to one peer over its own connection.
 *
 * Why a separate connection: a multi-megabyte snapshot must not delay heartbeats and
 * votes queued on the message link. Flow control is TCP's: we write a chunk, and when the
 * socket reports a full buffer we wait for 'drain' before reading the next chunk from
 * `open()` (so the sender never reads the snapshot faster than the receiver installs it).
 */
import type net from 'node:net';
import type { Log } from '../log.ts';
import type { Message } from '../raft/types.ts';
import type { HostPort } from './addr.ts';
import { decodeSnapResult, encodeMessage } from './codec.ts';
import { type Dialed, dial } from './dial.ts';
import { FrameKind, encodeFrame } from './frame.ts';
import type { PeerGuard } from './peer-guard.ts';
import type { Settings } from './settings.ts';

/** Handle to abort a transfer (done(false) is then called). */
export interface SnapshotSend {
  abort(reason: string): void;
}

export function sendSnapshotTo(
  s: Settings,
  guard: PeerGuard,
  log: Log,
  addr: HostPort,
  m: Message,
  open: () => AsyncIterable<Uint8Array>,
  done: (ok: boolean) => void,
  onFinished: () => void,
): SnapshotSend {
  const peer = m.to;
  let finished = false;
  let conn: Dialed | null = null;
  let bytesSent = 0;
  let lastProgressMs = Date.now();
  const startedMs = Date.now();
  const watchdog = setInterval(
    () => {
      if (Date.now() - lastProgressMs > s.snapshotTimeoutMs) finish(false, `no progress for ${s.snapshotTimeoutMs} ms`);
    },
    Math.min(1000, Math.max(10, s.snapshotTimeoutMs / 4)),
  );

  const finish = (ok: boolean, reason: string) => {
    if (finished) return;
    finished = true;
    clearInterval(watchdog);
    conn?.destroy();
    const obj = { peer, index: m.snapshot?.index ?? 0, bytes: bytesSent, ms: Date.now() - startedMs, reason };
    if (ok) log.info(obj, 'snapshot sent and installed by the peer');
    else log.warn(obj, 'snapshot transfer failed');
    onFinished();
    try {
      done(ok);
    } catch (err) {
      log.error({ peer, err: (err as Error).message }, 'snapshot done callback threw');
    }
  };

  const pump = async (socket: net.Socket) => {
    socket.write(encodeFrame(FrameKind.snapHeader, encodeMessage(m)));
    let waitDrain: (() => void) | null = null;
    const wake = () => {
      lastProgressMs = Date.now();
      const w = waitDrain;
      waitDrain = null;
      w?.();
    };
    socket.on('drain', wake);
    socket.on('close', wake);
    try {
      for await (const chunk of open()) {
        for (let off = 0; off < chunk.length; off += s.snapshotChunkBytes) {
          if (finished) return;
          const piece = chunk.subarray(off, Math.min(chunk.length, off + s.snapshotChunkBytes));
          bytesSent += piece.length;
          if (!socket.write(encodeFrame(FrameKind.snapChunk, piece))) {
            await new Promise<void>((resolve) => {
              waitDrain = resolve;
            });
          }
        }
        if (finished) return;
      }
    } catch (err) {
      finish(false, `reading the local snapshot failed: ${(err as Error).message}`);
      return;
    }
    if (finished) return;
    socket.write(encodeFrame(FrameKind.snapEnd));
    lastProgressMs = Date.now();
  };

  conn = dial(s, guard, log, peer, addr, 'snap', {
    onUp: (socket) => {
      lastProgressMs = Date.now();
      void pump(socket);
    },
    onFrame: (kind, payload) => {
      lastProgressMs = Date.now();
      if (kind !== FrameKind.snapResult) {
        guard.protocolViolation();
        finish(false, `protocol error: unexpected frame kind ${kind} on a snapshot connection`);
        return;
      }
      const result = decodeSnapResult(payload);
      finish(result.ok, result.ok ? '' : `the peer refused the snapshot: ${result.reason}`);
    },
    onDown: (reason) => finish(false, reason),
  });
  log.info({ peer, index: m.snapshot?.index ?? 0 }, 'sending snapshot');
  return { abort: (reason) => finish(false, reason) };
}
