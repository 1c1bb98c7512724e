/**
 * Parsing and normalising endpoint lists ("host:port,host:port").
 *
 * Why separate: graftctl, the GRAFTD_ENDPOINTS variable and the library all accept the same
 * syntax, and a typo should fail with a message naming the bad entry, before any network I/O.
 */
import { GraftdClientError } from './errors.ts';

/** The endpoints graftctl uses when neither --endpoints nor GRAFTD_ENDPOINTS is given (the `npm start` cluster). */
export const DEFAULT_ENDPOINTS: readonly string[] = ['127.0.0.1:11000', '127.0.0.1:11001', '127.0.0.1:11002'];

/**
 * Normalise one endpoint: accepts `host:port`, `[v6]:port` or `http://host:port[/]`.
 * Returns `host:port`. Throws GRAFTD_CLIENT_BAD_ARGUMENT on anything else.
 */
export function normalizeEndpoint(raw: string): string {
  let text = raw.trim();
  if (text.startsWith('http://')) text = text.slice('http://'.length);
  if (text.endsWith('/')) text = text.slice(0, -1);
  const colon = text.lastIndexOf(':');
  const host = colon > 0 ? text.slice(0, colon) : '';
  const portText = colon > 0 ? text.slice(colon + 1) : '';
  const port = Number(portText);
  if (host === '' || host.includes('/') || !/^[0-9]+$/.test(portText) || port < 1 || port > 65535) {
    throw new GraftdClientError('GRAFTD_CLIENT_BAD_ARGUMENT', `invalid endpoint "${raw}": expected host:port, e.g. 127.0.0.1:11000`);
  }
  return `${host}:${port}`;
}

/** Parse a comma-separated list (empty entries ignored, duplicates dropped, order kept). */
export function parseEndpoints(list: string | readonly string[]): string[] {
  const parts = typeof list === 'string' ? list.split(',') : list.flatMap((item) => item.split(','));
  const out: string[] = [];
  for (const part of parts) {
    if (part.trim() === '') continue;
    const endpoint = normalizeEndpoint(part);
    if (!out.includes(endpoint)) out.push(endpoint);
  }
  if (out.length === 0) {
    throw new GraftdClientError('GRAFTD_CLIENT_BAD_ARGUMENT', 'no endpoints given: expected host:port[,host:port...]');
  }
  return out;
}

/** `host:port` → `http://host:port` (the origin undici wants). */
export function toOrigin(endpoint: string): string {
  return `http://${endpoint}`;
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
