/**
 * TLS material for the raft port: one secure context used both to serve and to dial, with
 * mutual certificate verification against a dedicated peer CA.
 *
 * Why no host-name check: peers are dialled by IP address and certificates are issued per
 * node, so the identity that matters is "signed by the cluster's peer CA" (chain verification).
 * That is only safe when the peer CA signs nothing but this cluster's node certificates: use a
 * CA dedicated to the cluster, never a public or company-wide one. Node identity on top of
 * that is checked by the handshake (and the cluster secret when set).
 */
import tls from 'node:tls';
import { GraftdError } from '../errors.ts';

/** PEM contents (not paths) of the node's certificate and key and of the peer CA. */
export interface PeerTlsMaterial {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string | Buffer;
}

/** Build the secure context. Throws GRAFTD_BAD_CONFIG when the PEM material is unusable. */
export function peerSecureContext(m: PeerTlsMaterial): tls.SecureContext {
  try {
    return tls.createSecureContext({ cert: m.cert, key: m.key, ca: m.ca, minVersion: 'TLSv1.2' });
  } catch (err) {
    throw new GraftdError(
      'GRAFTD_BAD_CONFIG',
      `peer TLS: cannot use the certificate, key or CA (${err instanceof Error ? err.message : String(err)})`,
      { cause: err },
    );
  }
}

/** Chain verification only (see the module comment); returning undefined accepts the name. */
export function acceptAnyPeerName(): Error | undefined {
  return undefined;
}

/** TLS error codes that mean the other side's certificate (or ours, to it) was not accepted. */
export function isTlsAuthError(code: string | undefined): boolean {
  if (code === undefined) return false;
  return (
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('CERT_') ||
    code.includes('CERT') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN'
  );
}
