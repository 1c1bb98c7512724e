/**
 * Reads the security flags' files (secret, certificates) into what the transport and the HTTP
 * layer take, and decides whether this node runs insecurely.
 *
 * Why one place: startup and SIGHUP reload must read exactly the same files the same way, and
 * the "insecure" verdict (a loud warning and `/status` `insecure: true`) must follow one rule:
 * a port reachable from another host with nothing that authenticates who talks to it.
 */
import fs from 'node:fs';
import { GraftdError } from '../errors.ts';
import { loadClusterSecret } from '../security/secret.ts';
import { parseHostPort } from '../transport/index.ts';
import type { SecurityFlags } from './flags.ts';

/** The peer transport's security material (PEM contents, secret bytes). */
export interface PeerSecurityMaterial {
  readonly secret?: Buffer;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly ca: Buffer };
}

const MAX_PEM_BYTES = 1024 * 1024;

/** Read a PEM file (bounded), one readable error naming the flag. */
function readPem(file: string, what: string): Buffer {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_PEM_BYTES) throw new Error(`larger than ${MAX_PEM_BYTES} bytes`);
    const data = fs.readFileSync(file);
    if (!data.includes('-----BEGIN')) throw new Error('not a PEM file (no -----BEGIN line)');
    return data;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new GraftdError('GRAFTD_BAD_CONFIG', `${what} ${file}: cannot use it (${why})`);
  }
}

/** Load the secret and peer certificates named by the flags. `warn` receives non-fatal findings. */
export function loadPeerSecurity(flags: SecurityFlags, warn: (msg: string) => void = () => {}): PeerSecurityMaterial {
  let secret: Buffer | undefined;
  if (flags.clusterSecretFile !== undefined) {
    const loaded = loadClusterSecret(flags.clusterSecretFile);
    if (loaded.warning !== '') warn(loaded.warning);
    secret = loaded.secret;
  }
  let tls: PeerSecurityMaterial['tls'];
  if (flags.peerCert !== undefined && flags.peerKey !== undefined && flags.peerCa !== undefined) {
    tls = {
      cert: readPem(flags.peerCert, 'peer certificate (-peer-cert)'),
      key: readPem(flags.peerKey, 'peer key (-peer-key)'),
      ca: readPem(flags.peerCa, 'peer CA (-peer-ca)'),
    };
  }
  return { ...(secret === undefined ? {} : { secret }), ...(tls === undefined ? {} : { tls }) };
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Why this node is insecure ([] when it is not): a raft port off loopback with neither a secret
 * nor peer TLS, or an HTTP port off loopback with neither users (-auth-file) nor client certificates.
 */
export function insecureReasons(flags: SecurityFlags, raftListenAddr: string, httpListenAddr: string): string[] {
  const reasons: string[] = [];
  const raftHost = parseHostPort(raftListenAddr, 'raft address').host;
  const httpHost = parseHostPort(httpListenAddr, 'HTTP address').host;
  const peerAuth = flags.clusterSecretFile !== undefined || flags.peerCert !== undefined;
  const clientAuth = flags.authFile !== undefined || flags.httpClientCa !== undefined;
  if (!isLoopbackHost(raftHost) && !peerAuth)
    reasons.push(
      `the raft port ${raftListenAddr} is reachable from other hosts with no -cluster-secret-file and no peer TLS: anyone who reaches it can join the protocol`,
    );
  if (!isLoopbackHost(httpHost) && !clientAuth)
    reasons.push(
      `the HTTP API ${httpListenAddr} is reachable from other hosts with no -auth-file and no client certificates: anyone who reaches it can read, write and change membership`,
    );
  return reasons;
}
