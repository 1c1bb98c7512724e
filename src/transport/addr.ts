/**
 * host:port parsing for listen and peer addresses.
 *
 * Why strict: a typo in -raddr should fail at start with a readable message, not as an
 * ENOTFOUND storm from the reconnect loop.
 */
import { GraftdError } from '../errors.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parse "host:port" or "[v6]:port". Throws GRAFTD_BAD_CONFIG. */
export function parseHostPort(addr: string, what: string): HostPort {
  const bad = (why: string) =>
    new GraftdError('GRAFTD_BAD_CONFIG', `invalid ${what} ${JSON.stringify(addr)}: ${why}; expected host:port, e.g. 127.0.0.1:12000`);
  const colon = addr.lastIndexOf(':');
  if (colon <= 0) throw bad('missing host or port');
  let host = addr.slice(0, colon);
  const portText = addr.slice(colon + 1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) throw bad('an IPv6 host must be written in brackets');
  if (host === '' || /\s/.test(host)) throw bad('empty or blank host');
  if (!/^\d{1,5}$/.test(portText)) throw bad(`port ${JSON.stringify(portText)} is not a number`);
  const port = Number(portText);
  if (port > 65535) throw bad(`port ${port} is above 65535`);
  return { host, port };
}
