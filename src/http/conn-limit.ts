/**
 * Caps on open HTTP connections, in total and per remote address.
 *
 * Why: without a cap, one host can open connections until the process runs out of file
 * descriptors — and then the node's own storage fails to open files. Connections beyond a cap
 * are closed at once, before any byte is read (no TLS handshake, no request parsing), which is
 * the cheapest answer and cannot let a refused request run. Slow connections that are let in
 * are ended by the server's header/request/keep-alive timeouts.
 */
import type { Server } from 'node:net';
import type { Log } from '../log.ts';

export interface ConnectionLimits {
  /** Open connections in total. */
  readonly maxConnections: number;
  /** Open connections from one remote address. */
  readonly maxConnectionsPerAddress: number;
}

/** Live counts (tests and metrics). */
export interface ConnectionCounts {
  total(): number;
  from(address: string): number;
  /** Connections refused since start. */
  refused(): number;
}

const WARN_INTERVAL_MS = 10_000;

/** Install the caps on `server` (before it listens). */
export function limitConnections(server: Server, limits: ConnectionLimits, log: Log): ConnectionCounts {
  const perAddress = new Map<string, number>();
  let total = 0;
  let refused = 0;
  let lastWarnMs = 0;
  server.prependListener('connection', (socket) => {
    const address = socket.remoteAddress ?? '';
    const fromAddress = perAddress.get(address) ?? 0;
    if (total >= limits.maxConnections || fromAddress >= limits.maxConnectionsPerAddress) {
      refused++;
      const now = Date.now();
      if (now - lastWarnMs >= WARN_INTERVAL_MS) {
        lastWarnMs = now;
        log.warn(
          { address, fromAddress, total, refused, ...limits },
          'HTTP connection refused: too many open connections (GRAFTD_TOO_MANY_CONNECTIONS); closing new ones until some close',
        );
      }
      socket.destroy();
      return;
    }
    total++;
    perAddress.set(address, fromAddress + 1);
    socket.once('close', () => {
      total--;
      const n = (perAddress.get(address) ?? 1) - 1;
      if (n <= 0) perAddress.delete(address);
      else perAddress.set(address, n);
    });
  });
  return { total: () => total, from: (address) => perAddress.get(address) ?? 0, refused: () => refused };
}
