/**
 * `graftd/server`: start a graftd node (raft node + HTTP API) inside your own process.
 *
 * Why options map onto the command line: the node is configured exactly as bin/graftd is — the
 * same flags parsed and checked by the same code (src/config.ts), the same environment variables
 * for tuning — so a setting means the same thing in both places and there is one list of them
 * (docs/operations.md). The difference: nothing here exits the process or installs a signal
 * handler; mistakes throw a GraftdError, and `stopped` says when and why the node ended.
 *
 *   import { startServer } from 'graftd/server';
 *   const server = await startServer({ dataDir: './data/n0', httpAddr: '127.0.0.1:11000', raftAddr: '127.0.0.1:12000' });
 *   await server.whenReady();
 *   // ... GraftdClient from 'graftd' against server.url ...
 *   await server.close();
 */
import { type Env, type ServerConfig, loadServerConfig } from './config.ts';
import { GraftdError } from './errors.ts';
import { type Log, createLogger } from './log.ts';
import { type GraftdServer, runServer } from './server-run.ts';

export type { GraftdServer, ServerNode, ServerStop } from './server-run.ts';
export type { ServerConfig } from './config.ts';
export { GraftdError } from './errors.ts';
export { type Log, createLogger, silentLog } from './log.ts';
export { VERSION } from './version.ts';

/** How to start a node. Addresses are host:port with an explicit port. */
export interface GraftdServerOptions {
  /** The data directory (created if missing). */
  readonly dataDir: string;
  /** HTTP listen address (-haddr). */
  readonly httpAddr: string;
  /** Raft listen address (-raddr). */
  readonly raftAddr: string;
  /** Node id (-id); default: the raft address. */
  readonly id?: string;
  /** Join the cluster through this member's HTTP address (-join). */
  readonly join?: string;
  /** Join as a non-voting learner (-learner). */
  readonly learner?: boolean;
  /** HTTP / raft address given to others when listening on a wildcard (-hadv / -radv). */
  readonly httpAdvertise?: string;
  readonly raftAdvertise?: string;
  /** Found a cluster with these voters, ID=HOST:PORT,... (-initial-cluster), with every founder's HTTP address (-initial-cluster-http). */
  readonly initialCluster?: string;
  readonly initialClusterHttp?: string;
  readonly initialClusterToken?: string;
  readonly initialClusterState?: 'new' | 'existing';
  /** Seed a new one-node cluster from this backup file (-restore). */
  readonly restore?: string;
  /** Any other bin/graftd flags, as on its command line (security files, allowed origins), e.g. ['-auth-file', 'users.json']. */
  readonly flags?: readonly string[];
  /**
   * The environment variables bin/graftd reads (ELECTION_TIMEOUT, SNAPSHOT_INTERVAL, JOIN_TIMEOUT,
   * LOG_LEVEL, GRAFTD_TOKEN, ...; docs/operations.md). Default: none, i.e. the defaults; pass
   * process.env to configure this node as bin/graftd would be.
   */
  readonly env?: Env;
  /** Where the node logs. Default: JSON lines on stderr at LOG_LEVEL (info). `silentLog` logs nothing. */
  readonly log?: Log;
}

/** What startServer adds to GraftdServer: waiting for readiness. */
export interface StartedServer extends GraftdServer {
  /**
   * Resolves when the node is ready (what GET /readyz answers 200 for: a leader is known and this
   * node has applied what it knows to be committed); rejects with GRAFTD_TIMEOUT after `timeoutMs`
   * (default 30 000) or when the server stops first.
   */
  whenReady(timeoutMs?: number): Promise<void>;
}

/** The command line bin/graftd would be given for `o`. */
export function serverArgv(o: GraftdServerOptions): string[] {
  const argv: string[] = ['-haddr', o.httpAddr, '-raddr', o.raftAddr];
  const add = (flag: string, value: string | undefined): void => {
    if (value !== undefined) argv.push(flag, value);
  };
  add('-id', o.id);
  add('-join', o.join);
  add('-hadv', o.httpAdvertise);
  add('-radv', o.raftAdvertise);
  add('-initial-cluster', o.initialCluster);
  add('-initial-cluster-http', o.initialClusterHttp);
  add('-initial-cluster-token', o.initialClusterToken);
  add('-initial-cluster-state', o.initialClusterState);
  add('-restore', o.restore);
  if (o.learner === true) argv.push('-learner');
  argv.push(...(o.flags ?? []), '--', o.dataDir);
  return argv;
}

/** Validate `options` as bin/graftd validates its command line; throws GraftdError GRAFTD_BAD_CONFIG with one readable line. */
export function serverConfig(options: GraftdServerOptions): ServerConfig {
  const loaded = loadServerConfig(serverArgv(options), options.env ?? {}, { tty: false });
  if (loaded.kind === 'exit') throw new GraftdError('GRAFTD_BAD_CONFIG', loaded.text.trim());
  return loaded.config;
}

/** How often whenReady() looks at the node. */
const READY_POLL_MS = 20;

/** Start a node in this process. Throws a GraftdError when it cannot start (nothing is left running then). */
export async function startServer(options: GraftdServerOptions): Promise<StartedServer> {
  const config = serverConfig(options);
  const log = options.log ?? createLogger(config.args.id, config.logLevel, config.logFormat);
  return withWhenReady(await runServer(config, log));
}

/** Add whenReady() to a started server. */
export function withWhenReady(server: GraftdServer): StartedServer {
  let stopped = false;
  void server.stopped.then(() => {
    stopped = true;
  });
  const whenReady = async (timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!server.node.isReady()) {
      if (stopped) throw new GraftdError('GRAFTD_UNAVAILABLE', `node ${server.id} stopped before it was ready`);
      if (Date.now() >= deadline) throw new GraftdError('GRAFTD_TIMEOUT', `node ${server.id} not ready within ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, READY_POLL_MS));
    }
  };
  return Object.assign(server, { whenReady });
}
