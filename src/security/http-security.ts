/**
 * The security configuration of one node's HTTP API: who may call it (auth file, cluster secret
 * for join proofs), over what (TLS files, for serving and for talking to other members) and from
 * which web origins. Built once by the command line and handed to createHttpServer.
 *
 * Why one object with reload(): SIGHUP must swap the auth file and certificates without a
 * restart, and every user of them (the server's TLS context, the forwarder's and the live view's
 * outbound connections, the credential cache) must switch together. A bad new file keeps the old
 * configuration and throws a GRAFTD_BAD_CONFIG error naming the file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { GraftdError, errorStatus } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';
import { findToken, loadAuthFile, verifyPassword } from './auth-file.ts';
import type { AuthFile, Principal } from './auth-file.ts';
import { CredentialCache } from './http-credentials.ts';
import type { CredentialCacheOptions, Credentials } from './http-credentials.ts';
import { JoinReplayCache } from './join-proof.ts';
import { verifyPeerReadProof } from './peer-read-proof.ts';

/** Certificate files of the HTTP API. */
export interface HttpTlsFiles {
  /** This node's certificate (PEM), served to clients and presented to other members when they require client certs. */
  readonly certFile: string;
  readonly keyFile: string;
  /** When set, clients must present a certificate signed by this CA (mutual TLS). */
  readonly clientCaFile?: string;
  /** CA that signs the other members' HTTP certificates (forwarding, live-view relay). Default: clientCaFile, else the system CAs. */
  readonly caFile?: string;
}

export interface HttpSecurityConfig {
  /** Users and tokens (src/security/auth-file.ts). Absent: no authentication, everyone is admin. */
  readonly authFile?: string;
  /** Serve HTTPS. Absent: plain HTTP. */
  readonly tls?: HttpTlsFiles;
  /** Extra web origins allowed to call the API (e.g. "https://dash.example.com"). */
  readonly allowedOrigins?: readonly string[];
  /** The cluster secret (reloadable), for join proofs. Absent or undefined: no proofs. */
  readonly clusterSecret?: () => Uint8Array | undefined;
  /** Reported on GET /status (`"insecure": true` when serving a non-loopback address without protection). */
  readonly insecure: boolean;
  readonly credentialCache?: CredentialCacheOptions;
  /** Password checks (scrypt) running at once; beyond: 503. Default 64. */
  readonly maxPendingPasswordChecks?: number;
}

/** The outcome of checking credentials. */
export type AuthResult =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly status: 401 | 503; readonly code: ErrorCode; readonly message: string };

/** TLS material for outbound connections to other members' HTTP APIs. */
export interface ClientTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** TLS options of the HTTPS server. */
export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
}

interface TlsMaterial {
  readonly server: ServerTls;
  readonly client: ClientTls;
}

/** A node that proved the cluster secret without a user (a joining node reading /status): read only. */
const PEER_READER: Principal = Object.freeze({ name: 'cluster-peer', role: 'read', kind: 'peer' });

/** Everyone, when no auth file is configured (today's behaviour). */
export const ANONYMOUS_ADMIN: Principal = Object.freeze({ name: 'anonymous', role: 'admin', kind: 'user' });

/** The principal of a request on a node without an auth file: admin by default, not by proof. */
export function isImplicitAdmin(principal: Principal): boolean {
  return principal === ANONYMOUS_ADMIN;
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new GraftdError('GRAFTD_BAD_CONFIG', `${what} ${file}: cannot read it (${why})`);
  }
}

function loadTls(files: HttpTlsFiles): TlsMaterial {
  const cert = readFile(files.certFile, 'HTTP certificate');
  const key = readFile(files.keyFile, 'HTTP key');
  const clientCa = files.clientCaFile === undefined ? undefined : readFile(files.clientCaFile, 'HTTP client CA');
  const ca = files.caFile === undefined ? clientCa : readFile(files.caFile, 'HTTP CA');
  try {
    tls.createSecureContext({ cert, key, ...(clientCa === undefined ? {} : { ca: clientCa }) });
    if (ca !== undefined) tls.createSecureContext({ ca });
  } catch (err) {
    throw new GraftdError('GRAFTD_BAD_CONFIG', `HTTP TLS files ${files.certFile} / ${files.keyFile}: ${(err as Error).message}`);
  }
  const mutual = clientCa !== undefined;
  return {
    server: { cert, key, ...(clientCa === undefined ? {} : { ca: clientCa }), requestCert: mutual, rejectUnauthorized: mutual },
    // Present our own certificate to other members only when the cluster requires client certificates.
    client: { ...(ca === undefined ? {} : { ca }), ...(mutual ? { cert, key } : {}) },
  };
}

/** Normalise an origin for comparison: lower case, no trailing slash. */
export function normalizeOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

/** See the module comment. */
export class HttpSecurity {
  readonly insecure: boolean;
  readonly allowedOrigins: ReadonlySet<string>;
  readonly joinReplay = new JoinReplayCache();
  readonly #config: HttpSecurityConfig;
  readonly #cache: CredentialCache;
  readonly #maxPending: number;
  readonly #pending = new Map<string, Promise<Principal | undefined>>();
  readonly #listeners = new Set<() => void>();
  /** Verified against when the user is unknown, so a wrong name costs as long as a wrong password. */
  readonly #dummyHash = `scrypt$16384$8$1$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`;
  #auth: AuthFile | undefined;
  #tls: TlsMaterial | undefined;
  #generation = 0;
  readonly #connectionTrustMs: number;

  /** Reads the configured files now; throws GRAFTD_BAD_CONFIG when one is missing or invalid. */
  constructor(config: HttpSecurityConfig) {
    this.#config = config;
    this.insecure = config.insecure;
    this.allowedOrigins = new Set((config.allowedOrigins ?? []).map(normalizeOrigin));
    this.#cache = new CredentialCache(config.credentialCache);
    this.#maxPending = config.maxPendingPasswordChecks ?? 64;
    this.#connectionTrustMs = config.credentialCache?.ttlMs ?? 60_000;
    this.#auth = config.authFile === undefined ? undefined : loadAuthFile(config.authFile);
    this.#tls = config.tls === undefined ? undefined : loadTls(config.tls);
  }

  /** True when an auth file is configured (requests need credentials). */
  get authEnabled(): boolean {
    return this.#auth !== undefined;
  }

  get tlsEnabled(): boolean {
    return this.#tls !== undefined;
  }

  /** The HTTPS server options, or undefined for plain HTTP. */
  serverTls(): ServerTls | undefined {
    return this.#tls?.server;
  }

  /** TLS options for connections to other members, or undefined when they speak plain HTTP. */
  clientTls(): ClientTls | undefined {
    return this.#tls?.client;
  }

  /** Bumped by every reload: per-connection remembered identities from before it are void. */
  get generation(): number {
    return this.#generation;
  }

  /** How long a connection may reuse an identity it proved (the credential cache's TTL). */
  get connectionTrustMs(): number {
    return this.#connectionTrustMs;
  }

  /** The cluster secret now, if any. */
  clusterSecret(): Uint8Array | undefined {
    return this.#config.clusterSecret?.();
  }

  /** Call `listener` after every successful reload. Returns the unsubscribe function. */
  onReload(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Re-read the auth file and the certificate files (SIGHUP). All or nothing: when a new file is
   * invalid the old configuration stays and a GRAFTD_BAD_CONFIG error says which file and why.
   */
  reload(): void {
    const auth = this.#config.authFile === undefined ? undefined : loadAuthFile(this.#config.authFile);
    const material = this.#config.tls === undefined ? undefined : loadTls(this.#config.tls);
    this.#auth = auth;
    this.#tls = material;
    this.#cache.clear();
    this.#generation++;
    for (const listener of this.#listeners) listener();
  }

  /** Check `creds`. Without an auth file everyone is ANONYMOUS_ADMIN. */
  async authenticate(creds: Credentials): Promise<AuthResult> {
    const auth = this.#auth;
    if (auth === undefined) return { ok: true, principal: ANONYMOUS_ADMIN };
    switch (creds.kind) {
      case 'none':
        return unauthorized('this node requires credentials (HTTP Basic or a bearer token)');
      case 'invalid':
        return unauthorized(`malformed credentials: ${creds.reason}`);
      case 'bearer': {
        const entry = findToken(auth, creds.token);
        if (entry === undefined) return unauthorized('unknown bearer token');
        return { ok: true, principal: { name: entry.name, role: entry.role, kind: 'token' } };
      }
      case 'basic':
        return this.#checkPassword(auth, creds.user, creds.password);
      case 'peer': {
        const secret = this.clusterSecret();
        if (secret === undefined || !verifyPeerReadProof(secret, creds.proof))
          return unauthorized('the GraftdPeer proof is not valid (no cluster secret here, a different one, or outside the time window)');
        return { ok: true, principal: PEER_READER };
      }
    }
  }

  async #checkPassword(auth: AuthFile, user: string, password: string): Promise<AuthResult> {
    const key = this.#cache.keyOf(user, password);
    const cached = this.#cache.get(key);
    if (cached !== undefined) return { ok: true, principal: cached };
    let check = this.#pending.get(key);
    if (check === undefined) {
      if (this.#pending.size >= this.#maxPending) {
        return {
          ok: false,
          status: errorStatus.GRAFTD_UNAVAILABLE,
          code: 'GRAFTD_UNAVAILABLE',
          message: `${this.#pending.size} password checks are already running (limit ${this.#maxPending}); retry`,
        };
      }
      check = this.#verify(auth, user, password, key);
      this.#pending.set(key, check);
      void check.finally(() => this.#pending.delete(key)).catch(() => undefined);
    }
    const principal = await check;
    return principal === undefined
      ? unauthorized(`wrong user name or password for ${JSON.stringify(user.slice(0, 64))}`)
      : { ok: true, principal };
  }

  async #verify(auth: AuthFile, user: string, password: string, key: string): Promise<Principal | undefined> {
    const entry = auth.users.find((u) => u.name === user);
    const ok = await verifyPassword(password, entry?.password ?? this.#dummyHash);
    if (!ok || entry === undefined) return undefined;
    const principal: Principal = { name: entry.name, role: entry.role, kind: 'user' };
    // A reload during the check must not let the old file's answer into the new cache.
    if (this.#auth === auth) this.#cache.set(key, principal);
    return principal;
  }
}

function unauthorized(message: string): AuthResult {
  return { ok: false, status: errorStatus.GRAFTD_UNAUTHORIZED, code: 'GRAFTD_UNAUTHORIZED', message };
}
