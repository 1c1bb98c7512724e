/**
 * The `graftd` server command: parse flags and env, open the node, serve HTTP, join, shut down.
 *
 * Why errors are one line: a user who mistypes an address or forgets the data directory should
 * see what was wrong and exit 1, not a stack trace (the original printed "No Raft storage
 * directory specified"). Startup order: refuse a removed node; restore (--restore) or join
 * discovery for an empty directory; open storage; listen for peers; listen for HTTP; then, with
 * -join, ask the cluster to add this node (retried in the background until it answers).
 */
import { GraftdError } from '../errors.ts';
import { createHttpServer } from '../http/index.ts';
import { type Log, createLogger } from '../log.ts';
import { hasState, openNode, parseRuntimeConfig, readRemovedMarker, removedMessage } from '../node/index.ts';
import type { GraftdRuntime, MemberView } from '../node/index.ts';
import { parseHostPort } from '../transport/index.ts';
import { vizorPlugin } from '../vizor/plugin.ts';
import { type GraftdArgs, parseGraftdArgs } from './flags.ts';
import { discoverCluster, requestJoin } from './join.ts';
import { listenErrorMessage, probeListen } from './listen-probe.ts';

/** Print one line to stderr and exit 1. */
function die(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function envMs(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) die(`${name} must be a whole number of milliseconds, found "${raw}"`);
  return Number(raw.trim());
}

async function restoreIfAsked(args: GraftdArgs, log: Log): Promise<void> {
  if (args.restore === undefined) return;
  const { restoreDataDir } = await import('./restore.ts');
  const result = await restoreDataDir(args.restore, args.dataDir, { id: args.id, raftAddr: args.raftAddr, httpAddr: args.httpAddr });
  log.info({ file: args.restore, keys: result.keys, clusterId: result.clusterId }, 'restored a new one-node cluster from the backup');
}

async function main(): Promise<void> {
  const parsed = parseGraftdArgs(process.argv.slice(2));
  if (parsed.kind === 'exit') {
    if (parsed.exitCode === 0) {
      process.stdout.write(parsed.text);
      process.exit(0);
    }
    die(parsed.text);
  }
  const args = parsed.args;
  let config: ReturnType<typeof parseRuntimeConfig>;
  try {
    config = parseRuntimeConfig(process.env);
  } catch (err) {
    die((err as Error).message);
  }
  const joinTimeoutMs = envMs('JOIN_TIMEOUT', 120_000);
  const log = createLogger(args.id);
  if (config.testFault !== '')
    log.warn({ fault: config.testFault }, 'GRAFTD_TEST_FAULT is set: this node deliberately breaks its guarantees (tests only)');

  if (readRemovedMarker(args.dataDir) !== undefined) die(removedMessage(args.id, args.dataDir));
  // Before anything is written to the data directory: both addresses must be usable.
  const raftListen = parseHostPort(args.raftListenAddr, 'raft address');
  const httpListen = parseHostPort(args.httpListenAddr, 'HTTP address');
  for (const problem of await Promise.all([
    probeListen(raftListen.host, raftListen.port, 'raft address', args.raftListenAddr),
    probeListen(httpListen.host, httpListen.port, 'HTTP address', args.httpListenAddr),
  ])) {
    if (problem !== '') die(problem);
  }
  await restoreIfAsked(args, log);

  const stopping = new AbortController();
  let clusterId: string | undefined;
  let seedPeers: readonly MemberView[] | undefined;
  const fresh = !hasState(args.dataDir);
  if (fresh && args.join !== undefined) {
    const info = await discoverCluster(args.join, { totalTimeoutMs: joinTimeoutMs, log, signal: stopping.signal });
    clusterId = info.clusterId;
    seedPeers = info.members;
  }

  const node = await openNode({
    id: args.id,
    dataDir: args.dataDir,
    raftListenAddr: args.raftListenAddr,
    raftAddr: args.raftAddr,
    httpAddr: args.httpAddr,
    config,
    log,
    ifEmpty: args.join === undefined ? 'bootstrap' : 'join',
    ...(clusterId === undefined ? {} : { clusterId }),
    ...(seedPeers === undefined ? {} : { seedPeers }),
  });
  try {
    await node.start();
  } catch (err) {
    await node.close();
    if (err instanceof GraftdError) die(err.message);
    die(listenErrorMessage(err, 'raft address', args.raftListenAddr));
  }

  const wildcardHttp = httpListen.host === '0.0.0.0' || httpListen.host === '::';
  const app = await createHttpServer({
    node,
    log: log.child({ component: 'http' }),
    plugins: [vizorPlugin(node)],
    // Forwards leave from this node's own address, like its raft traffic, so partitions cut both.
    ...(wildcardHttp ? {} : { forwardLocalAddress: httpListen.host }),
  });
  try {
    await app.listen({ host: httpListen.host, port: httpListen.port });
  } catch (err) {
    await node.close();
    die(listenErrorMessage(err, 'HTTP address', args.httpListenAddr));
  }
  log.info({ httpAddr: args.httpAddr, raftAddr: args.raftAddr, dataDir: args.dataDir }, 'graftd is serving');

  installShutdown(node, app, log, stopping);
  void node.whenRemoved().then(async () => {
    // Like etcd: a removed member has nothing left to do. The REMOVED marker makes a restart refuse too.
    stopping.abort();
    process.stderr.write(`${removedMessage(args.id, args.dataDir)}\n`);
    await app.close().catch(() => undefined);
    await node.close().catch(() => undefined);
    process.exit(1);
  });

  if (args.join !== undefined) void joinInBackground(args, node, log, { fresh, joinTimeoutMs, stopping });
}

/**
 * Ask the cluster to add this node (a no-op for a member with the same id and address). A node
 * restarting with state first checks, without delaying its start, that the join address belongs to
 * its own cluster, and refreshes its seed addresses from it. A fresh node that cannot join exits 1.
 */
async function joinInBackground(
  args: GraftdArgs,
  node: GraftdRuntime,
  log: Log,
  o: { fresh: boolean; joinTimeoutMs: number; stopping: AbortController },
): Promise<void> {
  const joinAddr = args.join;
  if (joinAddr === undefined) return;
  const retry = { totalTimeoutMs: o.joinTimeoutMs, log, signal: o.stopping.signal };
  try {
    if (!o.fresh) {
      const info = await discoverCluster(joinAddr, retry);
      if (info.clusterId !== node.clusterId) {
        log.error(
          { theirs: info.clusterId, ours: node.clusterId },
          `${joinAddr} belongs to another cluster; not joining it (wipe the data directory to move this node)`,
        );
        return;
      }
      node.setSeedPeers(info.members);
    }
    await requestJoin(
      joinAddr,
      { id: args.id, raftAddr: args.raftAddr, httpAddr: args.httpAddr, voter: !args.learner, fresh: o.fresh },
      retry,
    );
    log.info({ via: joinAddr }, 'joined the cluster (or was already a member)');
  } catch (err) {
    if (o.stopping.signal.aborted) return;
    if (o.fresh) {
      log.fatal({ err: (err as Error).message }, 'could not join the cluster');
      process.stderr.write(`${(err as Error).message}\n`);
      await node.close().catch(() => undefined);
      process.exit(1);
    }
    log.error({ err: (err as Error).message }, 're-join failed; continuing with the membership on disk');
  }
}

/** SIGTERM/SIGINT: transfer leadership (bounded), close HTTP, transport and storage, exit 0. A second signal exits at once. */
function installShutdown(node: GraftdRuntime, app: { close(): Promise<unknown> }, log: Log, stopping: AbortController): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      log.warn({ signal }, 'second signal: exiting immediately');
      process.exit(1);
    }
    closing = true;
    stopping.abort();
    log.info({ signal }, 'shutting down');
    void (async () => {
      try {
        await node.prepareShutdown();
        await app.close();
        await node.close();
        process.exit(0);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'unclean shutdown');
        process.exit(1);
      }
    })();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((err: unknown) => {
  die(err instanceof Error ? err.message : String(err));
});
