/**
 * Opening one connection for the client's keep-alive agent (transport.ts): TCP or TLS, with a
 * connect timeout, and on TLS 1.3 a short wait for the server to accept the handshake.
 *
 * Why the connection is handed over only once it is usable: the agent gives a socket to a request
 * only through this callback, so a request that failed before it had a socket provably wrote
 * nothing (attempt.ts relies on that for "not sent").
 *
 * Why the wait on TLS 1.3: the client's handshake is complete before the server has checked the
 * client's certificate. A server that refuses it (none given, unknown CA, expired) closes the
 * connection after the client has already sent its request, which would read as "connection
 * closed after the request was sent" — for a write "outcome unknown", which is wrong (no server
 * code saw the request) and says nothing about the real cause. The server's first post-handshake
 * message, a session ticket (node and OpenSSL servers send one as soon as they accept the client's
 * Finished), proves the handshake was accepted. So a new TLS 1.3 connection is handed over only
 * once a ticket arrived, or after `acceptWaitMs` for servers that send none; a refusal seen
 * meanwhile is a connect error (provably not sent) carrying the TLS reason. Costs about half a
 * round trip per new connection; keep-alive connections are reused without it.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Scheme } from './endpoints.ts';
import { nodeTls } from './lazy-tls.ts';

/** Code of the error raised when the server closes a TLS 1.3 connection before accepting the handshake. */
export const TLS_REFUSED_CODE = 'GRAFTD_CLIENT_TLS_REFUSED';
/** Code of the error raised when TCP (and TLS) setup takes longer than the connect timeout. */
export const CONNECT_TIMEOUT_CODE = 'GRAFTD_CLIENT_CONNECT_TIMEOUT';

/** TLS material (PEM contents) and the acceptance wait. */
export interface ConnectorTls {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Longest wait for the server's acceptance of a TLS 1.3 handshake (0: do not wait). */
  readonly acceptWaitMs: number;
}

/** How {@link connector} connects. */
export interface ConnectorOptions {
  readonly scheme: Scheme;
  /** TCP + TLS handshake timeout. */
  readonly connectTimeoutMs: number;
  /** Required for https. */
  readonly tls?: ConnectorTls;
}

/** What node's http.Agent calls to open a connection (the callback form). */
export type CreateConnection = (
  options: { readonly host?: string | null; readonly port?: number | string | null },
  callback: (err: Error | null, socket?: Socket) => void,
) => undefined;

function coded(code: string, message: string): Error {
  const err = new Error(message);
  (err as Error & { code: string }).code = code;
  return err;
}

function refused(): Error {
  return coded(
    TLS_REFUSED_CODE,
    'the server closed the connection during the TLS handshake (it refused our client certificate, or requires one)',
  );
}

/** Hand `socket` on once the server has accepted the TLS 1.3 handshake (see the module comment). */
function awaitAcceptance(socket: TLSSocket, ticketSeen: () => boolean, waitMs: number, finish: (err: Error | null) => void): void {
  let done = false;
  const end = (err: Error | null): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.off('session', onSession).off('error', onError).off('end', onEnd).off('close', onEnd);
    finish(err);
  };
  // Not from inside the event: it is emitted while OpenSSL is still processing the ticket, and a
  // request written from there is never flushed.
  const onSession = (): void => {
    setImmediate(() => end(null));
  };
  const onError = (err: Error): void => end(err);
  const onEnd = (): void => end(refused());
  const timer = setTimeout(() => end(null), waitMs);
  socket.on('session', onSession).on('error', onError).on('end', onEnd).on('close', onEnd);
  if (ticketSeen()) onSession();
}

/** A connection factory for node's http.Agent: `options.scheme` decides TCP or TLS. */
export function connector(options: ConnectorOptions): CreateConnection {
  return (target, callback) => {
    const host = (target.host ?? 'localhost').replace(/^\[(.*)\]$/, '$1');
    const port = Number(target.port);
    const tls = options.scheme === 'https' ? (options.tls ?? { acceptWaitMs: 0 }) : null;
    let ticket = false;
    const socket: Socket =
      tls === null
        ? netConnect({ host, port })
        : nodeTls().connect({
            host,
            port,
            // SNI only for names: node refuses an IP address there (the certificate check still uses `host`).
            ...(isIP(host) === 0 ? { servername: host } : {}),
            ...(tls.ca === undefined ? {} : { ca: tls.ca }),
            ...(tls.cert === undefined ? {} : { cert: tls.cert }),
            ...(tls.key === undefined ? {} : { key: tls.key }),
          });
    socket.setNoDelay(true);
    // Listening from the start: a ticket may arrive together with the end of the handshake.
    if (tls !== null) socket.once('session', () => (ticket = true));
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('error', finish);
      if (err === null) {
        // Errors after the hand-over reach the request (or the agent, for an idle connection).
        // This no-op only covers the tick between the hand-over and the request's own listener.
        socket.on('error', () => undefined);
        callback(null, socket);
      } else {
        socket.destroy();
        callback(err);
      }
    };
    const timer = setTimeout(
      () => finish(coded(CONNECT_TIMEOUT_CODE, `connect timeout (${options.connectTimeoutMs} ms)`)),
      options.connectTimeoutMs,
    );
    socket.on('error', finish);
    socket.once(tls === null ? 'connect' : 'secureConnect', () => {
      if (tls === null || tls.acceptWaitMs <= 0 || (socket as TLSSocket).getProtocol() !== 'TLSv1.3') {
        finish(null);
        return;
      }
      clearTimeout(timer);
      awaitAcceptance(socket as TLSSocket, () => ticket, tls.acceptWaitMs, finish);
    });
    return undefined;
  };
}
