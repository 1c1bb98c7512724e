/**
 * Parsing and normalising endpoint lists ("host:port,host:port").
 *
 * Why separate: graftctl, the GRAFTD_ENDPOINTS variable and the library all accept the same
 * syntax, and a typo should fail with a message naming the bad entry, before any network I/O.
 */
import { GraftdClientError } from './errors.ts';

/** The endpoints graftctl uses when neither --endpoints nor GRAFTD_ENDPOINTS is given (the `npm start` cluster). */
export const DEFAULT_ENDPOINTS: readonly string[] = ['127.0.0.1:11000', '127.0.0.1:11001', '127.0.0.1:11002'];

/** How an endpoint is reached. */
export type Scheme = 'http' | 'https';

/**
 * Split one endpoint into its scheme (null when none is written) and `host:port`. Accepts
 * `host:port`, `[v6]:port`, `http://host:port[/]` and `https://host:port[/]`. Throws
 * GRAFTD_CLIENT_BAD_ARGUMENT on anything else.
 */
export function parseEndpoint(raw: string): { scheme: Scheme | null; endpoint: string } {
  let text = raw.trim();
  let scheme: Scheme | null = null;
  for (const candidate of ['http', 'https'] as const) {
    if (text.toLowerCase().startsWith(`${candidate}://`)) {
      scheme = candidate;
      text = text.slice(candidate.length + 3);
    }
  }
  if (text.endsWith('/')) text = text.slice(0, -1);
  const colon = text.lastIndexOf(':');
  const host = colon > 0 ? text.slice(0, colon) : '';
  const portText = colon > 0 ? text.slice(colon + 1) : '';
  const port = Number(portText);
  if (host === '' || host.includes('/') || host.includes('@') || !/^[0-9]+$/.test(portText) || port < 1 || port > 65535) {
    throw new GraftdClientError(
      'GRAFTD_CLIENT_BAD_ARGUMENT',
      `invalid endpoint "${raw}": expected host:port or https://host:port, e.g. 127.0.0.1:11000`,
    );
  }
  return { scheme, endpoint: `${host}:${port}` };
}

/** Normalise one endpoint (see {@link parseEndpoint}) to `host:port`. */
export function normalizeEndpoint(raw: string): string {
  return parseEndpoint(raw).endpoint;
}

function splitList(list: string | readonly string[]): string[] {
  const parts = typeof list === 'string' ? list.split(',') : list.flatMap((item) => item.split(','));
  return parts.filter((part) => part.trim() !== '');
}

/** Parse a comma-separated list to `host:port` entries (empty entries ignored, duplicates dropped, order kept). */
export function parseEndpoints(list: string | readonly string[]): string[] {
  const out: string[] = [];
  for (const part of splitList(list)) {
    const endpoint = normalizeEndpoint(part);
    if (!out.includes(endpoint)) out.push(endpoint);
  }
  if (out.length === 0) {
    throw new GraftdClientError('GRAFTD_CLIENT_BAD_ARGUMENT', 'no endpoints given: expected host:port[,host:port...]');
  }
  return out;
}

/**
 * The one scheme a client uses for every endpoint (and for member addresses learned from
 * /status, which are bare host:port): https when an endpoint says so or TLS options are given.
 * Throws GRAFTD_CLIENT_BAD_ARGUMENT when the list mixes http:// and https://, or says http://
 * while TLS options are given (a cluster serves one or the other).
 */
export function schemeOf(list: string | readonly string[], tlsGiven: boolean): Scheme {
  const written = new Set(splitList(list).map((part) => parseEndpoint(part).scheme));
  if (written.has('http') && (written.has('https') || tlsGiven)) {
    const why = written.has('https') ? 'both http:// and https:// endpoints' : 'http:// endpoints together with TLS options';
    throw new GraftdClientError('GRAFTD_CLIENT_BAD_ARGUMENT', `${why} given: a cluster serves either plain HTTP or HTTPS`);
  }
  return written.has('https') || tlsGiven ? 'https' : 'http';
}

function hostOf(addr: string): string {
  const colon = addr.lastIndexOf(':');
  return colon <= 0 ? '' : addr.slice(0, colon);
}

function unspecified(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '[::]' || host === '::';
}

/**
 * The endpoint a client should use for a member's advertised HTTP address. A node bound to
 * 0.0.0.0 / [::] advertises an unspecified host; then its raft address's host (the address
 * its peers reach it at) is the best guess, else the host we reached the cluster through.
 * Returns '' when the member has no HTTP address.
 */
export function reachableEndpoint(httpAddr: string, raftAddr: string, viaEndpoint: string): string {
  const colon = httpAddr.lastIndexOf(':');
  if (colon <= 0) return '';
  const host = hostOf(httpAddr);
  if (!unspecified(host)) return httpAddr;
  const fallback = unspecified(hostOf(raftAddr)) ? hostOf(viaEndpoint) : hostOf(raftAddr);
  return fallback === '' ? '' : `${fallback}${httpAddr.slice(colon)}`;
}
