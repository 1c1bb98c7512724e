/**
 * The client's TLS material and credentials: their shapes, checks and the Authorization header.
 *
 * Why checked up front: a key that does not match its certificate, or a PEM file that is not
 * one, otherwise surfaces on the first connection as an OpenSSL string per endpoint; a token
 * with a line break would be refused by node:http deep inside a request. Both are the caller's
 * mistake and are reported once, at construction, as GRAFTD_CLIENT_BAD_ARGUMENT.
 */
import { GraftdClientError } from './errors.ts';
import { nodeTls } from './lazy-tls.ts';

/** TLS material as PEM contents (see GraftdClientOptions.tls). */
export interface GraftdClientTls {
  /** CA certificate(s) the servers' certificates must chain to (replaces the system CAs). */
  readonly ca?: string | Buffer;
  /** Client certificate, presented when a server asks for one (mutual TLS). Needs `key`. */
  readonly cert?: string | Buffer;
  /** Private key of `cert`. */
  readonly key?: string | Buffer;
}

/** Credentials: HTTP Basic or a bearer token (see GraftdClientOptions.auth). */
export type GraftdClientAuth = { readonly user: string; readonly password: string } | { readonly token: string };

function badArgument(message: string): GraftdClientError {
  return new GraftdClientError('GRAFTD_CLIENT_BAD_ARGUMENT', message);
}

/** The OpenSSL reason without its hex prefix and source location. */
function opensslWords(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (/:([a-z0-9 ]+)(?::\.\.\/|$)/i.exec(message.trim())?.[1] ?? message).trim();
}

/** Throw GRAFTD_CLIENT_BAD_ARGUMENT unless `tls` is usable: PEM that parses, `cert` and `key` together and matching. */
export function checkTlsMaterial(tls: GraftdClientTls): void {
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw badArgument(
      `a client certificate needs its key and a key its certificate: got ${tls.cert === undefined ? 'a key only' : 'a certificate only'}`,
    );
  }
  for (const [name, value] of [
    ['ca', tls.ca],
    ['cert', tls.cert],
    ['key', tls.key],
  ] as const) {
    if (value !== undefined && !String(value).includes('-----BEGIN '))
      throw badArgument(`TLS ${name}: expected PEM text (-----BEGIN ...), got something else`);
  }
  try {
    nodeTls().createSecureContext({
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls.key === undefined ? {} : { key: tls.key }),
    });
  } catch (err) {
    throw badArgument(`unusable TLS material: ${opensslWords(err)}`);
  }
}

const VISIBLE = /^[!-~]+$/;

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** The Authorization header for `auth`, after checking it can be sent as one. */
export function authorizationHeader(auth: GraftdClientAuth): string {
  if ('token' in auth) {
    if (!VISIBLE.test(auth.token)) throw badArgument('the token must be non-empty printable ASCII without spaces');
    return `Bearer ${auth.token}`;
  }
  if (auth.user === '' || auth.user.includes(':') || hasControl(auth.user)) {
    throw badArgument(`invalid user name ${JSON.stringify(auth.user)}: it must be non-empty, without ':' or control characters`);
  }
  return `Basic ${Buffer.from(`${auth.user}:${auth.password}`, 'utf8').toString('base64')}`;
}
