/**
 * node:tls, loaded on first use.
 *
 * Why: compiling node's TLS modules takes 10-20 ms, a tenth of a whole `graftctl get`, and a
 * plain-HTTP cluster never needs them. A synchronous require (not import()) because the callers
 * (checking TLS material in the client's constructor) are synchronous.
 */
import { createRequire } from 'node:module';

const requireBuiltin = createRequire(import.meta.url);
let loaded: typeof import('node:tls') | undefined;

/** The node:tls module. */
export function nodeTls(): typeof import('node:tls') {
  loaded ??= requireBuiltin('node:tls') as typeof import('node:tls');
  return loaded;
}
