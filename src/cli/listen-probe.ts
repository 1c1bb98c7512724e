/**
 * Checking that an address can be listened on before anything is written to disk.
 *
 * Why: a node bootstraps (writes its identity and its own address into the log) before it
 * listens; a typo or a busy port discovered only afterwards would leave a data directory that
 * names the wrong address. Probing first keeps "fix the flag and run again" true. (A port can
 * still be taken between the probe and the real listen; that case is reported the same way.)
 */
import { createServer } from 'node:net';

/** Human-readable reason why `what` `addr` cannot be listened on. */
export function listenErrorMessage(err: unknown, what: string, addr: string): string {
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE') return `${what} ${addr} is already in use (another process listens on it)`;
  if (code === 'EADDRNOTAVAIL') return `${what} ${addr} is not an address of this machine`;
  if (code === 'EACCES') return `${what} ${addr}: permission denied`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${what} ${addr}: the host name does not resolve`;
  return `cannot listen on ${what} ${addr}: ${(err as Error).message}`;
}

/** Resolves with '' when host:port can be bound (the probe socket is closed again), else with the reason. */
export function probeListen(host: string, port: number, what: string, addr: string): Promise<string> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err) => resolve(listenErrorMessage(err, what, addr)));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve('')));
  });
}
