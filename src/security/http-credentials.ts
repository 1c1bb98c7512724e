/**
 * Client credentials on the HTTP API: parsing the `Authorization` header (Basic, Bearer) and the
 * live view's WebSocket subprotocol, and a cache of verified passwords.
 *
 * Why a cache: a password is checked with scrypt (~50 ms of CPU by design); doing that per request
 * would cut throughput by orders of magnitude. A verified (user, password) pair is remembered for
 * a short time, keyed by an HMAC with a random per-process key so the cache never holds anything
 * a memory dump could turn back into a password. Bounded (LRU), short TTL, cleared on reload.
 * Why a subprotocol: browsers cannot set headers on a WebSocket, but they can offer subprotocols.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Principal } from './auth-file.ts';

/** What a request's `Authorization` header says. */
export type Credentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'basic'; readonly user: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string }
  /** `GraftdPeer <proof>`: a node proving the cluster secret (src/security/peer-read-proof.ts); read only. */
  | { readonly kind: 'peer'; readonly proof: string }
  | { readonly kind: 'invalid'; readonly reason: string };

const MAX_HEADER_CHARS = 4096;

/** Parse an `Authorization` header value. Never throws. */
export function parseAuthorization(header: string | undefined): Credentials {
  if (header === undefined || header === '') return { kind: 'none' };
  if (header.length > MAX_HEADER_CHARS)
    return { kind: 'invalid', reason: `the Authorization header is longer than ${MAX_HEADER_CHARS} characters` };
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const rest = space < 0 ? '' : header.slice(space + 1).trim();
  if (scheme === 'basic') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(rest)) return { kind: 'invalid', reason: 'Basic credentials are not base64' };
    return splitUserPassword(Buffer.from(rest, 'base64').toString('utf8'));
  }
  if (scheme === 'bearer') {
    if (!/^[\x21-\x7e]+$/.test(rest)) return { kind: 'invalid', reason: 'the bearer token is empty or has invalid characters' };
    return { kind: 'bearer', token: rest };
  }
  if (scheme === 'graftdpeer') {
    if (!/^[\x21-\x7e]+$/.test(rest)) return { kind: 'invalid', reason: 'the GraftdPeer proof is empty or has invalid characters' };
    return { kind: 'peer', proof: rest };
  }
  return { kind: 'invalid', reason: 'expected an Authorization header with the Basic or Bearer scheme' };
}

function splitUserPassword(text: string): Credentials {
  const colon = text.indexOf(':');
  if (colon <= 0) return { kind: 'invalid', reason: 'Basic credentials must be user:password' };
  return { kind: 'basic', user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Subprotocol the live view asks for on /events; the server answers with it. */
export const EVENTS_PROTOCOL = 'graftd-events';
/** Prefix of the subprotocol carrying credentials: `graftd-auth.` + base64url("user:pass" | "bearer:" + token). */
export const AUTH_PROTOCOL_PREFIX = 'graftd-auth.';

/** Credentials offered as WebSocket subprotocols (none when no `graftd-auth.` entry). Never throws. */
export function parseAuthProtocol(protocols: Iterable<string>): Credentials {
  for (const p of protocols) {
    if (!p.startsWith(AUTH_PROTOCOL_PREFIX)) continue;
    const encoded = p.slice(AUTH_PROTOCOL_PREFIX.length);
    if (encoded.length > MAX_HEADER_CHARS || !/^[A-Za-z0-9_-]+$/.test(encoded))
      return { kind: 'invalid', reason: 'the graftd-auth subprotocol is not base64url' };
    const text = Buffer.from(encoded, 'base64url').toString('utf8');
    if (text.startsWith('bearer:')) return parseAuthorization(`Bearer ${text.slice('bearer:'.length)}`);
    return splitUserPassword(text);
  }
  return { kind: 'none' };
}

export interface CredentialCacheOptions {
  /** Entries kept (least recently used dropped beyond). Default 1024. */
  readonly maxEntries?: number;
  /** How long a verified password is trusted without scrypt. Default 60 000 ms. */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

/** Verified Basic credentials, keyed by HMAC(random key, user, password). */
export class CredentialCache {
  readonly #key = randomBytes(32);
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { principal: Principal; expiresMs: number }>();

  constructor(opts: CredentialCacheOptions = {}) {
    this.#maxEntries = opts.maxEntries ?? 1024;
    this.#ttlMs = opts.ttlMs ?? 60_000;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cache key of a (user, password) pair. */
  keyOf(user: string, password: string): string {
    return createHmac('sha256', this.#key).update(user).update('\0').update(password).digest('base64');
  }

  get(key: string): Principal | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.expiresMs <= this.#now()) return undefined;
    this.#entries.set(key, entry); // most recently used last
    return entry.principal;
  }

  set(key: string, principal: Principal): void {
    this.#entries.delete(key);
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    this.#entries.set(key, { principal, expiresMs: this.#now() + this.#ttlMs });
  }

  clear(): void {
    this.#entries.clear();
  }
}
