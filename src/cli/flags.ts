/**
 * Command-line parsing of `graftd`: the original's single-dash flags plus `--long` forms.
 *
 * Why a normalisation step: the original (Go's flag package) accepts `-id`, `-haddr`, `-raddr`,
 * `-join` with one dash, which commander would read as clusters of short options. Known
 * single-dash long names (and their aliases) are rewritten to their canonical `--long` form
 * first, so `-id n1`, `--id n1`, `-id=n1` and `--id=n1` all work.
 */
import { Command, CommanderError } from 'commander';
import { GraftdError } from '../errors.ts';
import { parseHostPort } from '../transport/index.ts';
import { type InitialCluster, parseInitialCluster } from './initial-cluster.ts';
import { getLocalIp } from './local-ip.ts';

/** Parsed and validated command line. */
export interface GraftdArgs {
  readonly id: string;
  /** HTTP listen address (host:port). */
  readonly httpListenAddr: string;
  /** HTTP address given to others (the listen address unless it is a wildcard or --http-advertise is set). */
  readonly httpAddr: string;
  /** Raft listen address. */
  readonly raftListenAddr: string;
  /** Raft address given to peers. */
  readonly raftAddr: string;
  /** HOST:PORT of a member's HTTP API to join through, or undefined. */
  readonly join: string | undefined;
  /** Join as a non-voting learner (read replica). */
  readonly learner: boolean;
  /** A backup file to seed a new one-node cluster from (`--restore FILE`). */
  readonly restore: string | undefined;
  /** -initial-cluster: found a cluster with these voters (parsed and checked against -id / the raft address). */
  readonly initialCluster: InitialCluster | undefined;
  /** -initial-cluster-state existing: this node was added to a running cluster and must never found one. */
  readonly existingCluster: boolean;
  readonly dataDir: string;
  /** Security file paths and allowed origins (flags, else the env vars of the same meaning). */
  readonly security: SecurityFlags;
}

/** The security flags: paths as given (files are read by src/cli/security-config.ts). */
export interface SecurityFlags {
  readonly clusterSecretFile?: string;
  readonly peerCert?: string;
  readonly peerKey?: string;
  readonly peerCa?: string;
  readonly httpCert?: string;
  readonly httpKey?: string;
  readonly httpClientCa?: string;
  /** CA that signed the members' HTTP certificates (to verify them when forwarding/joining). Default: -peer-ca, else system CAs. */
  readonly httpCa?: string;
  readonly authFile?: string;
  readonly allowedOrigins: readonly string[];
}

/** The outcome of parsing: run, or print `text` and exit with `exitCode`. */
export type ParseResult =
  | { readonly kind: 'run'; readonly args: GraftdArgs }
  | { readonly kind: 'exit'; readonly text: string; readonly exitCode: number };

/** Every accepted spelling → canonical long option. */
const ALIASES: Readonly<Record<string, string>> = {
  id: '--id',
  haddr: '--haddr',
  'http-addr': '--haddr',
  raddr: '--raddr',
  'raft-addr': '--raddr',
  join: '--join',
  radv: '--radv',
  advertise: '--radv',
  'raft-advertise': '--radv',
  hadv: '--hadv',
  'http-advertise': '--hadv',
  learner: '--learner',
  restore: '--restore',
  'initial-cluster': '--initial-cluster',
  'initial-cluster-http': '--initial-cluster-http',
  'initial-cluster-token': '--initial-cluster-token',
  'initial-cluster-state': '--initial-cluster-state',
  'cluster-secret-file': '--cluster-secret-file',
  'peer-cert': '--peer-cert',
  'peer-key': '--peer-key',
  'peer-ca': '--peer-ca',
  'http-cert': '--http-cert',
  'http-key': '--http-key',
  'http-client-ca': '--http-client-ca',
  'http-ca': '--http-ca',
  'auth-file': '--auth-file',
  'allowed-origins': '--allowed-origins',
  help: '--help',
  h: '--help',
};

/** Rewrite `-name`, `--name`, `-name=v`, `--name=v` spellings of known options to the canonical `--long` form. */
export function normalizeArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  let rest = false;
  for (const a of argv) {
    if (rest || a === '--' || !a.startsWith('-') || a === '-') {
      if (a === '--') rest = true;
      out.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const canonical = ALIASES[name];
    if (canonical === undefined) {
      out.push(a);
      continue;
    }
    out.push(canonical);
    if (eq !== -1) out.push(body.slice(eq + 1));
  }
  return out;
}

const DESCRIPTION = 'graftd: a Raft-replicated key-value store node (HTTP API compatible with the original graftd).';

const EXAMPLES = `
Examples:
  graftd -id node0 -haddr 127.0.0.1:11000 -raddr 127.0.0.1:12000 ./data/node0
  graftd -id node1 -haddr 127.0.0.1:11001 -raddr 127.0.0.1:12001 -join 127.0.0.1:11000 ./data/node1
  # production: found three nodes together (the same list on each), never a one-node cluster by accident
  graftd -id n0 -haddr 10.0.0.1:11000 -raddr 10.0.0.1:12000 \\
    -initial-cluster n0=10.0.0.1:12000,n1=10.0.0.2:12000,n2=10.0.0.3:12000 \\
    -initial-cluster-http n0=10.0.0.1:11000,n1=10.0.0.2:11000,n2=10.0.0.3:11000 ./data/n0
  graftd --restore backup.snap -id node0 -haddr 127.0.0.1:11000 -raddr 127.0.0.1:12000 ./data/new0

Environment: ELECTION_TIMEOUT, HEARTBEAT_TIMEOUT, LEADER_LEASE_TIMEOUT, COMMIT_TIMEOUT, REQUEST_TIMEOUT,
SHUTDOWN_TRANSFER_TIMEOUT, JOIN_TIMEOUT (ms); SNAPSHOT_INTERVAL (s); SNAPSHOT_THRESHOLD, TRAILING_LOGS (entries);
LOG_LEVEL (debug|info|warn|error), LOG_FORMAT (json|pretty; default pretty on a terminal), LOG_REQUESTS=1 (request log).
graftd --version (-version) prints the release and peer protocol version and exits.
Security (each flag has an env var): CLUSTER_SECRET_FILE, PEER_CERT, PEER_KEY, PEER_CA, HTTP_CERT, HTTP_KEY,
HTTP_CLIENT_CA, HTTP_CA, AUTH_FILE, ALLOWED_ORIGINS (comma-separated). See docs/security.md.
  graftd -id n0 -haddr 10.0.0.1:11000 -raddr 10.0.0.1:12000 -cluster-secret-file /etc/graftd/secret \
    -peer-cert n0.crt -peer-key n0.key -peer-ca ca.crt -http-cert n0.crt -http-key n0.key -auth-file users.json ./data/n0`;

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** Parse `argv` (without node and script). `localIp` supplies the default raft host (tests inject it). */
export function parseGraftdArgs(
  argv: readonly string[],
  localIp: () => string = getLocalIp,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ParseResult {
  let output = '';
  const program = new Command('graftd')
    .description(DESCRIPTION)
    .argument('[dataDir]', 'the data directory (created if missing)')
    .option('--id <id>', 'node id (-id); default: the raft address')
    .option('--haddr <host:port>', 'HTTP listen address (-haddr, --http-addr)', '0.0.0.0:11000')
    .option('--raddr <host:port>', 'raft listen address (-raddr, --raft-addr); default: first non-loopback IPv4 address, port 12000')
    .option('--join <host:port>', "join the cluster through this member's HTTP address (-join)")
    .option('--radv <host:port>', 'raft address advertised to peers when --raddr is a wildcard (-radv, --advertise, --raft-advertise)')
    .option('--hadv <host:port>', 'HTTP address advertised to others when --haddr is a wildcard (-hadv, --http-advertise)')
    .option('--learner', 'join as a non-voting learner (read replica)', false)
    .option('--restore <file>', 'seed a new one-node cluster in the (empty) data directory from a backup file, then start')
    .option(
      '--initial-cluster <list>',
      'found a cluster with these voters, ID=RAFT_HOST:PORT comma-separated, the same list on every founder (-initial-cluster)',
    )
    .option('--initial-cluster-http <list>', "with --initial-cluster: every founder's HTTP address, ID=HOST:PORT comma-separated")
    .option('--initial-cluster-token <token>', 'distinguishes clusters founded from the same list (part of the cluster id)', '')
    .option(
      '--initial-cluster-state <state>',
      '"new" (found, the default with --initial-cluster) or "existing" (added to a running cluster: never found one; needs --join)',
    )
    .option(
      '--cluster-secret-file <file>',
      'shared secret every peer must prove (HMAC challenge-response) (-cluster-secret-file, env CLUSTER_SECRET_FILE)',
    )
    .option('--peer-cert <file>', 'certificate (PEM) of this node on the raft port; needs --peer-key and --peer-ca (env PEER_CERT)')
    .option('--peer-key <file>', 'private key (PEM) of --peer-cert (env PEER_KEY)')
    .option('--peer-ca <file>', "CA (PEM) that signed every member's peer certificate (env PEER_CA)")
    .option('--http-cert <file>', 'serve the HTTP API over HTTPS with this certificate; needs --http-key (env HTTP_CERT)')
    .option('--http-key <file>', 'private key (PEM) of --http-cert (env HTTP_KEY)')
    .option('--http-client-ca <file>', 'require HTTPS clients to present a certificate signed by this CA (mutual TLS) (env HTTP_CLIENT_CA)')
    .option(
      '--http-ca <file>',
      "CA that signed the members' HTTP certificates, used when forwarding and joining (env HTTP_CA; default --peer-ca)",
    )
    .option(
      '--auth-file <file>',
      'users, tokens and roles (JSON, written by "graftctl user add"); enables HTTP authentication (env AUTH_FILE)',
    )
    .option('--allowed-origins <list>', 'extra browser origins allowed to call the API, comma-separated (env ALLOWED_ORIGINS)')
    .addHelpText('after', EXAMPLES)
    .helpOption('--help', 'show this help (-h, -help)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => {
        output += s;
      },
      writeErr: (s) => {
        output += s;
      },
    });
  try {
    program.parse(normalizeArgv(argv), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return { kind: 'exit', text: output, exitCode: 0 };
      return { kind: 'exit', text: err.message.replace(/^error: /, ''), exitCode: 1 };
    }
    throw err;
  }
  const o = program.opts<{
    id?: string;
    haddr: string;
    raddr?: string;
    join?: string;
    radv?: string;
    hadv?: string;
    learner: boolean;
    restore?: string;
    clusterSecretFile?: string;
    peerCert?: string;
    peerKey?: string;
    peerCa?: string;
    httpCert?: string;
    httpKey?: string;
    httpClientCa?: string;
    httpCa?: string;
    authFile?: string;
    allowedOrigins?: string;
    initialCluster?: string;
    initialClusterHttp?: string;
    initialClusterToken: string;
    initialClusterState?: string;
  }>();
  const dataDir = program.args[0];
  if (dataDir === undefined || dataDir === '') return { kind: 'exit', text: 'No Raft storage directory specified', exitCode: 1 };
  if (program.args.length > 1)
    return { kind: 'exit', text: `expected one data directory, found ${program.args.length}: ${program.args.join(' ')}`, exitCode: 1 };
  try {
    const haddr = parseHostPort(o.haddr, 'HTTP address (-haddr)');
    const raftListenAddr = o.raddr ?? `${localIp()}:12000`;
    const raddr = parseHostPort(raftListenAddr, 'raft address (-raddr)');
    let raftAddr = raftListenAddr;
    if (o.radv !== undefined) {
      parseHostPort(o.radv, 'advertised raft address (-radv)');
      raftAddr = o.radv;
    } else if (isWildcard(raddr.host)) {
      raftAddr = `${localIp()}:${raddr.port}`;
    }
    let httpAddr = o.haddr;
    if (o.hadv !== undefined) {
      parseHostPort(o.hadv, 'advertised HTTP address (-hadv)');
      httpAddr = o.hadv;
    } else if (isWildcard(haddr.host)) {
      // Peers forward to this address: use the host peers already reach us on.
      httpAddr = `${parseHostPort(raftAddr, 'raft address').host}:${haddr.port}`;
    }
    if (o.join !== undefined) parseHostPort(o.join, 'join address (-join)');
    const security = securityFlags(o, env);
    const id = o.id ?? raftAddr;
    if (id.trim() === '' || /\s/.test(id))
      return { kind: 'exit', text: `invalid node id ${JSON.stringify(id)}: it must be non-empty without spaces`, exitCode: 1 };
    const state = o.initialClusterState ?? (o.initialCluster === undefined ? undefined : 'new');
    if (state !== undefined && state !== 'new' && state !== 'existing')
      return { kind: 'exit', text: `-initial-cluster-state must be "new" or "existing", found ${JSON.stringify(state)}`, exitCode: 1 };
    if (state === 'existing' && o.join === undefined)
      return {
        kind: 'exit',
        text: '-initial-cluster-state existing needs -join HOST:PORT (the HTTP address of a member) to reach the cluster this node was added to',
        exitCode: 1,
      };
    if (state === 'new' && o.initialCluster === undefined)
      return { kind: 'exit', text: '-initial-cluster-state new needs -initial-cluster listing the founders', exitCode: 1 };
    if (state === 'new' && o.join !== undefined)
      return { kind: 'exit', text: '-initial-cluster (found a new cluster) and -join (join a running one) exclude each other', exitCode: 1 };
    if (state === 'new' && o.restore !== undefined)
      return { kind: 'exit', text: '--restore seeds a one-node cluster; it cannot be combined with -initial-cluster', exitCode: 1 };
    let initialCluster: InitialCluster | undefined;
    if (state === 'new' && o.initialCluster !== undefined) {
      try {
        initialCluster = parseInitialCluster({
          list: o.initialCluster,
          httpList: o.initialClusterHttp,
          token: o.initialClusterToken,
          selfId: id,
          selfRaftAddr: raftAddr,
          selfHttpAddr: httpAddr,
        });
      } catch (err) {
        return { kind: 'exit', text: (err as Error).message, exitCode: 1 };
      }
    }
    return {
      kind: 'run',
      args: {
        id,
        httpListenAddr: o.haddr,
        httpAddr,
        raftListenAddr,
        raftAddr,
        join: o.join,
        learner: o.learner,
        restore: o.restore,
        initialCluster,
        existingCluster: state === 'existing',
        dataDir,
        security,
      },
    };
  } catch (err) {
    if (err instanceof GraftdError) return { kind: 'exit', text: err.message, exitCode: 1 };
    throw err;
  }
}

type SecurityOpts = { [K in keyof Omit<SecurityFlags, 'allowedOrigins'>]?: string } & { allowedOrigins?: string };

const SECURITY_ENV: Readonly<Record<keyof SecurityOpts, string>> = {
  clusterSecretFile: 'CLUSTER_SECRET_FILE',
  peerCert: 'PEER_CERT',
  peerKey: 'PEER_KEY',
  peerCa: 'PEER_CA',
  httpCert: 'HTTP_CERT',
  httpKey: 'HTTP_KEY',
  httpClientCa: 'HTTP_CLIENT_CA',
  httpCa: 'HTTP_CA',
  authFile: 'AUTH_FILE',
  allowedOrigins: 'ALLOWED_ORIGINS',
};

/** Flags win over env; pairs that only work together are checked here (one readable line each). */
function securityFlags(o: SecurityOpts, env: Readonly<Record<string, string | undefined>>): SecurityFlags {
  const out: Record<string, string> = {};
  for (const [k, envName] of Object.entries(SECURITY_ENV) as [keyof SecurityOpts, string][]) {
    const v = o[k] ?? env[envName];
    if (v !== undefined && v.trim() !== '') out[k] = v.trim();
  }
  const f = out as Omit<SecurityFlags, 'allowedOrigins'> & { allowedOrigins?: string };
  const peer = [f.peerCert, f.peerKey, f.peerCa].filter((x) => x !== undefined).length;
  if (peer !== 0 && peer !== 3)
    throw new GraftdError('GRAFTD_BAD_CONFIG', 'peer TLS needs all three of -peer-cert, -peer-key and -peer-ca');
  if ((f.httpCert === undefined) !== (f.httpKey === undefined))
    throw new GraftdError('GRAFTD_BAD_CONFIG', 'HTTPS needs both -http-cert and -http-key');
  if (f.httpClientCa !== undefined && f.httpCert === undefined)
    throw new GraftdError('GRAFTD_BAD_CONFIG', '-http-client-ca needs HTTPS (-http-cert and -http-key)');
  const origins = (f.allowedOrigins ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s?#@]+$/.test(origin))
      throw new GraftdError(
        'GRAFTD_BAD_CONFIG',
        `allowed origin ${JSON.stringify(origin)} must look like http://host:port or https://host`,
      );
  }
  const { allowedOrigins: _ignored, ...files } = f;
  return { ...files, allowedOrigins: origins };
}
