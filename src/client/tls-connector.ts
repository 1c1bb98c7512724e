/**
 * The connector for https endpoints: undici's own, plus a short wait on TLS 1.3 connections.
 *
 * Why the wait: in TLS 1.3 the client's handshake is complete before the server has checked the
 * client's certificate. A server that refuses it (none given, unknown CA, expired) closes the
 * connection after the client has already sent its request, and undici reports only "other
 * side closed" — for a write that reads as "outcome unknown", which is wrong (no server code saw
 * the request) and says nothing about the real cause. The server's first post-handshake message,
 * a session ticket (node and OpenSSL servers send one as soon as they accept the client's
 * Finished), proves the handshake was accepted. So a new TLS 1.3 connection is handed to undici
 * only once a ticket arrived, or after `acceptWaitMs` for servers that send none; a refusal seen
 * meanwhile is a connect error (provably not sent) carrying the TLS reason. Costs about half a
 * round trip per new connection; keep-alive connections are reused without it.
 */
import { TLSSocket } from 'node:tls';
import { buildConnector } from 'undici';

/** Code of the error raised when the server closes a TLS 1.3 connection before accepting the handshake. */
export const TLS_REFUSED_CODE = 'GRAFTD_CLIENT_TLS_REFUSED';

/** TLS material and timing for {@link tlsConnector}. */
export interface TlsConnectorOptions {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** TCP + TLS handshake timeout. */
  readonly timeoutMs: number;
  /** Longest wait for the server's acceptance of a TLS 1.3 handshake (0: do not wait). */
  readonly acceptWaitMs: number;
}

function refused(): Error {
  const err = new Error('the server closed the connection during the TLS handshake (it refused our client certificate, or requires one)');
  (err as Error & { code: string }).code = TLS_REFUSED_CODE;
  return err;
}

/** Hand `socket` on once the server has accepted the TLS 1.3 handshake (see the module comment). */
function awaitAcceptance(socket: TLSSocket, waitMs: number, callback: buildConnector.Callback): void {
  let done = false;
  const finish = (err: Error | null): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.off('session', onSession).off('error', onError).off('end', onEnd).off('close', onEnd);
    if (err === null) {
      callback(null, socket);
    } else {
      socket.destroy();
      callback(err, null);
    }
  };
  // Not from inside the event: it is emitted while OpenSSL is still processing the ticket, and a
  // request written from there (undici writes as soon as it has the socket) is never flushed.
  const onSession = (): void => {
    setImmediate(() => finish(null));
  };
  const onError = (err: Error): void => finish(err);
  const onEnd = (): void => finish(refused());
  const timer = setTimeout(() => finish(null), waitMs);
  socket.on('session', onSession).on('error', onError).on('end', onEnd).on('close', onEnd);
}

/** An undici connector for https origins with `options`' CA, client certificate and key. */
export function tlsConnector(options: TlsConnectorOptions): buildConnector.connector {
  const base = buildConnector({
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    ...(options.cert === undefined ? {} : { cert: options.cert }),
    ...(options.key === undefined ? {} : { key: options.key }),
    timeout: options.timeoutMs,
  });
  return (connectOptions, callback) => {
    base(connectOptions, (err, socket) => {
      if (err !== null) {
        callback(err, null);
        return;
      }
      if (!(socket instanceof TLSSocket) || socket.getProtocol() !== 'TLSv1.3' || options.acceptWaitMs <= 0) {
        callback(null, socket);
        return;
      }
      awaitAcceptance(socket, options.acceptWaitMs, callback);
    });
  };
}
