/**
 * The raft port's current security settings (secret, TLS context), its counters, and the
 * rate-limited log of refused attempts, shared by the server and every dialled connection.
 *
 * Why one object: a SIGHUP reload must switch the secret and certificates for every new
 * connection at once, and the counters must see failures on both sides of a connection.
 */
import type tls from 'node:tls';
import { GraftdError } from '../errors.ts';
import type { Log } from '../log.ts';
import { type PeerTlsMaterial, peerSecureContext } from '../security/peer-tls.ts';
import type { PeerSecurity, SecurityStats } from './types.ts';

const REPEAT_LOG_MS = 30_000;
const MAX_LOG_KEYS = 256;

/** The generic reason every refusal before (or of) authentication gets when a secret is set. */
export const AUTH_FAILED = 'authentication failed';

export class PeerGuard {
  #secret: Uint8Array | null = null;
  #tls: tls.SecureContext | null = null;
  #tlsMaterial: PeerTlsMaterial | null = null;
  #handshakeFailures = 0;
  #protocolViolations = 0;
  #refusedConnections = 0;
  #versionMismatches = 0;
  readonly #lastLogged = new Map<string, number>();
  readonly #log: Log;

  constructor(sec: PeerSecurity | undefined, log: Log) {
    this.#log = log;
    if (sec !== undefined) this.#apply(sec);
  }

  /** The cluster secret, or null when peers are not authenticated by one. */
  get secret(): Uint8Array | null {
    return this.#secret;
  }

  /** The TLS context for serving and dialling, or null for plaintext. */
  get tlsContext(): tls.SecureContext | null {
    return this.#tls;
  }

  /** The PEM material behind tlsContext (the TLS server is reloaded from it). */
  get tlsMaterial(): PeerTlsMaterial | null {
    return this.#tlsMaterial;
  }

  /** Switch to new settings for new connections. Throws GRAFTD_BAD_CONFIG (keeping the old ones) on a TLS ↔ plaintext switch or bad material. */
  update(sec: PeerSecurity): void {
    if ((sec.tls !== undefined) !== (this.#tls !== null))
      throw new GraftdError(
        'GRAFTD_BAD_CONFIG',
        `peer TLS cannot be ${sec.tls === undefined ? 'turned off' : 'turned on'} while running; restart the node to change it`,
      );
    this.#apply(sec);
  }

  #apply(sec: PeerSecurity): void {
    if (sec.secret !== undefined && sec.secret.length === 0)
      throw new GraftdError('GRAFTD_BAD_CONFIG', 'the cluster secret must not be empty');
    const context = sec.tls === undefined ? null : peerSecureContext(sec.tls);
    this.#secret = sec.secret === undefined ? null : Uint8Array.from(sec.secret);
    this.#tls = context;
    this.#tlsMaterial = sec.tls ?? null;
  }

  handshakeFailed(): void {
    this.#handshakeFailures++;
  }

  protocolViolation(): void {
    this.#protocolViolations++;
  }

  refused(): void {
    this.#refusedConnections++;
  }

  /** A handshake failed because the two sides speak different protocol versions (also counted by handshakeFailed). */
  versionMismatch(): void {
    this.#versionMismatches++;
  }

  stats(): SecurityStats {
    return {
      handshakeFailures: this.#handshakeFailures,
      protocolViolations: this.#protocolViolations,
      refusedConnections: this.#refusedConnections,
      versionMismatches: this.#versionMismatches,
    };
  }

  /** Log at most once per REPEAT_LOG_MS per key (a scanner or misconfigured peer would otherwise flood the log). */
  logLimited(key: string, level: 'warn' | 'error', obj: object, msg: string): void {
    const now = Date.now();
    const last = this.#lastLogged.get(key);
    if (last !== undefined && now - last < REPEAT_LOG_MS) return;
    if (this.#lastLogged.size >= MAX_LOG_KEYS) this.#lastLogged.clear();
    this.#lastLogged.set(key, now);
    this.#log[level](obj, msg);
  }
}
