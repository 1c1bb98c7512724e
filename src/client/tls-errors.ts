/**
 * Naming TLS failures in words an operator can act on.
 *
 * Why: node reports a wrong CA as "unable to verify the first certificate" and a refused
 * client certificate as an OpenSSL alert string. The client turns them into "the server's
 * certificate is not signed by a CA we trust (give the cluster's CA with --cacert)" and similar,
 * naming the endpoint.
 */
import { TLS_REFUSED_CODE } from './connector.ts';

/** Certificate verification failures of the server's certificate (node's `err.code`), with their meaning. */
const SERVER_CERT_REASONS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's certificate is not signed by a CA we trust (give the cluster's CA with --cacert)",
  UNABLE_TO_GET_ISSUER_CERT: "the server's certificate is not signed by a CA we trust (give the cluster's CA with --cacert)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server's certificate is not signed by a CA we trust (give the cluster's CA with --cacert)",
  SELF_SIGNED_CERT_IN_CHAIN: "the server's certificate chain ends in a CA we do not trust (give the cluster's CA with --cacert)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's certificate is self-signed and not trusted (give it with --cacert)",
  CERT_HAS_EXPIRED: "the server's certificate has expired",
  CERT_NOT_YET_VALID: "the server's certificate is not valid yet (check the clocks)",
  CERT_REVOKED: "the server's certificate is revoked",
  CERT_SIGNATURE_FAILURE: "the server's certificate has an invalid signature",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate does not name this host (check its subjectAltName)",
};

/** Alerts the server sends when it refuses the handshake (OpenSSL error codes as node reports them). */
const ALERT_REASONS: Readonly<Record<string, string>> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the server requires a client certificate (give --cert and --key)',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'the server refused our client certificate',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the server does not trust the CA of our client certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'the server says our client certificate has expired',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE:
    'the server refused the TLS handshake (no common protocol or cipher, or a client certificate is required)',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'the server refused the TLS handshake (no common TLS version)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the endpoint does not speak TLS (is it a plain http:// endpoint?)',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'the endpoint does not speak TLS (is it a plain http:// endpoint?)',
  [TLS_REFUSED_CODE]:
    'the server closed the connection during the TLS handshake: it refused our client certificate (wrong CA, expired) or requires one (--cert, --key)',
};

/**
 * A readable reason when `codes` (an error's code and its causes' codes) name a TLS failure,
 * else null. `err` supplies the fallback text for TLS codes without a table entry.
 */
export function tlsReason(codes: readonly string[], err: unknown): string | null {
  for (const code of codes) {
    const reason = SERVER_CERT_REASONS[code] ?? ALERT_REASONS[code];
    if (reason !== undefined) return `TLS: ${reason}`;
  }
  const other = codes.find((code) => code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('ERR_OSSL_'));
  if (other === undefined) return null;
  const message = err instanceof Error ? err.message : String(err);
  // OpenSSL messages look like "80BC…:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert …:../deps/…": keep the words.
  const words = /:([a-z0-9 ]+):\.\.\//i.exec(message)?.[1] ?? message.split('\n')[0] ?? message;
  return `TLS handshake failed: ${words.trim()} (${other})`;
}
