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
  readonly dataDir: string;
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
  graftd --restore backup.snap -id node0 -haddr 127.0.0.1:11000 -raddr 127.0.0.1:12000 ./data/new0

Environment: ELECTION_TIMEOUT, HEARTBEAT_TIMEOUT, LEADER_LEASE_TIMEOUT, COMMIT_TIMEOUT, REQUEST_TIMEOUT,
SHUTDOWN_TRANSFER_TIMEOUT, JOIN_TIMEOUT (ms); SNAPSHOT_INTERVAL (s); SNAPSHOT_THRESHOLD, TRAILING_LOGS (entries);
LOG_LEVEL (debug|info|warn|error).`;

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** Parse `argv` (without node and script). `localIp` supplies the default raft host (tests inject it). */
export function parseGraftdArgs(argv: readonly string[], localIp: () => string = getLocalIp): ParseResult {
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
    const id = o.id ?? raftAddr;
    if (id.trim() === '' || /\s/.test(id))
      return { kind: 'exit', text: `invalid node id ${JSON.stringify(id)}: it must be non-empty without spaces`, exitCode: 1 };
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
        dataDir,
      },
    };
  } catch (err) {
    if (err instanceof GraftdError) return { kind: 'exit', text: err.message, exitCode: 1 };
    throw err;
  }
}
