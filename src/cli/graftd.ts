/**
 * The `graftd` server command: parse flags and env, open the node, serve HTTP, join, shut down.
 *
 * Why errors are one line: a user who mistypes an address or forgets the data directory should
 * see what was wrong and exit 1, not a stack trace (the original printed "No Raft storage
 * directory specified"). Startup order: refuse a removed node; restore (--restore) or join
 * discovery for an empty directory; open storage; listen for peers; listen for HTTP; then, with
 * -join, ask the cluster to add this node (retried in the background until it answers).
 */
import { Agent } from 'undici';
import type { GraftdClientAuth } from '../client/index.ts';
import { authorizationHeader } from '../client/credentials.ts';
import { GraftdError } from '../errors.ts';
import { createHttpServer } from '../http/index.ts';
import { type Log, createLogger } from '../log.ts';
import { loadServerConfig } from '../config.ts';
import { hasState, openNode, readRemovedMarker, removedMessage } from '../node/index.ts';
import type { GraftdRuntime, MemberView } from '../node/index.ts';
import { HttpSecurity } from '../security/http-security.ts';
import { makeJoinProof } from '../security/join-proof.ts';
import { makePeerReadProof } from '../security/peer-read-proof.ts';
import { parseHostPort } from '../transport/index.ts';
import { vizorPlugin } from '../vizor/plugin.ts';
import type { GraftdArgs, SecurityFlags } from './flags.ts';
import { type JoinHttp, discoverCluster, requestJoin } from './join.ts';
import { type PeerSecurityMaterial, insecureReasons, loadPeerSecurity } from './security-config.ts';
import { listenErrorMessage, probeListen } from './listen-probe.ts';

/** Print one line to stderr and exit 1. */
function die(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function restoreIfAsked(args: GraftdArgs, log: Log): Promise<void> {
  if (args.restore === undefined) return;
  const { restoreDataDir } = await import('./restore.ts');
  const result = await restoreDataDir(args.restore, args.dataDir, { id: args.id, raftAddr: args.raftAddr, httpAddr: args.httpAddr });
  const fields = { file: args.restore, keys: result.keys, clusterId: result.clusterId, sha256: result.sha256 };
  // A restart with the same --restore (e.g. a restart policy) finds the directory it seeded: nothing is written.
  if (result.alreadyRestored) log.info(fields, 'already restored from this backup: --restore ignored, starting from the data directory');
  else log.info(fields, 'restored a new one-node cluster from the backup');
  for (const note of result.notes) log.warn({ file: args.restore }, note);
}

async function main(): Promise<void> {
  // Every flag and environment variable is read here, once (src/config.ts), and passed on.
  const loaded = loadServerConfig(process.argv.slice(2), process.env);
  if (loaded.kind === 'exit') {
    if (loaded.exitCode === 0) {
      process.stdout.write(loaded.text);
      process.exit(0);
    }
    die(loaded.text);
  }
  const { args, runtime: config, joinTimeoutMs } = loaded.config;
  const log = createLogger(args.id, loaded.config.logLevel, loaded.config.logFormat);
  if (config.testFault !== '')
    log.warn({ fault: config.testFault }, 'GRAFTD_TEST_FAULT is set: this node deliberately breaks its guarantees (tests only)');

  if (readRemovedMarker(args.dataDir) !== undefined) die(removedMessage(args.id, args.dataDir));
  let peerSecurity: PeerSecurityMaterial;
  let httpSecurity: HttpSecurity;
  const insecure = insecureReasons(args.security, args.raftListenAddr, args.httpListenAddr);
  try {
    peerSecurity = loadPeerSecurity(args.security, (msg) => log.warn({}, msg));
    httpSecurity = new HttpSecurity(httpSecurityConfig(args.security, () => peerSecurity.secret, insecure.length > 0));
  } catch (err) {
    die((err as Error).message);
  }
  // Before anything is written to the data directory: both addresses must be usable.
  const raftListen = parseHostPort(args.raftListenAddr, 'raft address');
  const httpListen = parseHostPort(args.httpListenAddr, 'HTTP address');
  for (const problem of await Promise.all([
    probeListen(raftListen.host, raftListen.port, 'raft address', args.raftListenAddr),
    probeListen(httpListen.host, httpListen.port, 'HTTP address', args.httpListenAddr),
  ])) {
    if (problem !== '') die(problem);
  }
  warnIfInsecure(insecure, log);
  // One way to reach the member named by -join, for discovery and for the join itself.
  const joinVia =
    args.join === undefined ? undefined : joinHttp(args.security, httpSecurity, () => peerSecurity.secret, loaded.config.joinCredentials);
  await restoreIfAsked(args, log);

  const stopping = new AbortController();
  let clusterId: string | undefined;
  let seedPeers: readonly MemberView[] | undefined;
  const fresh = !hasState(args.dataDir);
  if (fresh && args.join !== undefined && joinVia !== undefined) {
    const info = await discoverCluster(args.join, {
      totalTimeoutMs: joinTimeoutMs,
      log,
      signal: stopping.signal,
      http: joinVia,
    });
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
    ...(args.initialCluster === undefined ? {} : { founders: args.initialCluster.members, clusterId: args.initialCluster.clusterId }),
    ...(clusterId === undefined ? {} : { clusterId }),
    ...(seedPeers === undefined ? {} : { seedPeers }),
    peerSecurity,
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
    security: httpSecurity,
    // Forwards leave from this node's own address, like its raft traffic, so partitions cut both.
    ...(wildcardHttp ? {} : { forwardLocalAddress: httpListen.host }),
    logRequests: loaded.config.logRequests,
    testFault: config.testFault,
  });
  try {
    await app.listen({ host: httpListen.host, port: httpListen.port });
  } catch (err) {
    await node.close();
    die(listenErrorMessage(err, 'HTTP address', args.httpListenAddr));
  }
  log.info({ httpAddr: args.httpAddr, raftAddr: args.raftAddr, dataDir: args.dataDir }, 'graftd is serving');

  installShutdown(node, app, log, stopping);
  installReload(args.security, node, httpSecurity, log, (fresh) => {
    peerSecurity = fresh;
  });
  void node.whenRemoved().then(async () => {
    // Like etcd: a removed member has nothing left to do. The REMOVED marker makes a restart refuse too.
    stopping.abort();
    process.stderr.write(`${removedMessage(args.id, args.dataDir)}\n`);
    await app.close().catch(() => undefined);
    await node.close().catch(() => undefined);
    process.exit(1);
  });

  if (joinVia !== undefined) void joinInBackground(args, node, log, { fresh, joinTimeoutMs, stopping, http: joinVia });
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
  o: { fresh: boolean; joinTimeoutMs: number; stopping: AbortController; http: JoinHttp },
): Promise<void> {
  const joinAddr = args.join;
  if (joinAddr === undefined) return;
  const retry = { totalTimeoutMs: o.joinTimeoutMs, log, signal: o.stopping.signal, http: o.http };
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

function httpSecurityConfig(
  flags: SecurityFlags,
  secret: () => Uint8Array | undefined,
  insecure: boolean,
): ConstructorParameters<typeof HttpSecurity>[0] {
  const caFile = flags.httpCa ?? flags.peerCa;
  return {
    insecure,
    allowedOrigins: flags.allowedOrigins,
    clusterSecret: secret,
    ...(flags.authFile === undefined ? {} : { authFile: flags.authFile }),
    ...(flags.httpCert === undefined || flags.httpKey === undefined
      ? {}
      : {
          tls: {
            certFile: flags.httpCert,
            keyFile: flags.httpKey,
            ...(flags.httpClientCa === undefined ? {} : { clientCaFile: flags.httpClientCa }),
            ...(caFile === undefined ? {} : { caFile }),
          },
        }),
  };
}

/**
 * How this node reaches the member it joins through: https when this node serves https (a cluster
 * is either all-https or all-http) with the TLS material the HTTP layer uses towards other members
 * (-http-ca, default -peer-ca; its own certificate when the cluster requires client certificates);
 * credentials from GRAFTD_TOKEN or GRAFTD_USER + GRAFTD_PASSWORD; proofs of the cluster secret
 * when one is configured.
 */
function joinHttp(
  flags: SecurityFlags,
  http: HttpSecurity,
  secret: () => Uint8Array | undefined,
  auth: GraftdClientAuth | undefined,
): JoinHttp {
  const headers: Record<string, string> = auth === undefined ? {} : { authorization: authorizationHeader(auth) };
  const prove = (body: Parameters<NonNullable<JoinHttp['prove']>>[0]): string => {
    const s = secret();
    return s === undefined ? '' : makeJoinProof(s, body);
  };
  const peerRead = (): string => {
    const s = secret();
    return s === undefined ? '' : `GraftdPeer ${makePeerReadProof(s)}`;
  };
  const withProof = flags.clusterSecretFile === undefined ? {} : { prove, peerRead };
  const tls = http.clientTls();
  if (tls === undefined) return { scheme: 'http', headers, ...withProof };
  return { scheme: 'https', dispatcher: new Agent({ connect: { ...tls } }), headers, ...withProof };
}

const INSECURE_WARNING_MS = 60_000;

/** A node reachable from other hosts with nothing that authenticates: say so loudly, now and every minute. */
function warnIfInsecure(reasons: readonly string[], log: Log): void {
  if (reasons.length === 0) return;
  const say = (): void =>
    log.warn(
      { insecure: true, reasons },
      `INSECURE: ${reasons.join('; ')}. See docs/security.md (-cluster-secret-file, -peer-cert, -auth-file, -http-cert).`,
    );
  say();
  setInterval(say, INSECURE_WARNING_MS).unref();
}

/** SIGHUP: re-read the secret, certificates and auth file; a bad file is logged and the old material stays. */
function installReload(
  flags: SecurityFlags,
  node: GraftdRuntime,
  http: HttpSecurity,
  log: Log,
  setPeer: (fresh: PeerSecurityMaterial) => void,
): void {
  process.on('SIGHUP', () => {
    try {
      const fresh = loadPeerSecurity(flags, (msg) => log.warn({}, msg));
      node.updatePeerSecurity(fresh);
      setPeer(fresh);
      log.info(
        { secret: fresh.secret !== undefined, peerTls: fresh.tls !== undefined },
        'SIGHUP: reloaded the peer secret and certificates',
      );
    } catch (err) {
      log.error({ err: (err as Error).message }, 'SIGHUP: peer security not reloaded; the old secret and certificates stay in use');
    }
    try {
      http.reload();
      log.info(
        { authFile: flags.authFile ?? '', https: flags.httpCert !== undefined },
        'SIGHUP: reloaded the auth file and HTTP certificates',
      );
    } catch (err) {
      log.error({ err: (err as Error).message }, 'SIGHUP: HTTP security not reloaded; the old users and certificates stay in use');
    }
  });
}

main().catch((err: unknown) => {
  die(err instanceof Error ? err.message : String(err));
});
