/**
 * Start one graftd node in this process from a validated ServerConfig: refuse a removed node;
 * restore (--restore) or join discovery for an empty directory; open storage; listen for peers;
 * listen for HTTP; then, with -join, ask the cluster to add this node (retried in the background).
 *
 * Why here and not in the CLI: `graftd/server` (src/server.ts) and bin/graftd (src/cli/graftd.ts)
 * start a node the same way. Nothing in this module touches the process: no exit, no signal
 * handler, no stdout; a start-up mistake is a GraftdError with the one line the CLI prints, and
 * the end of the node (closed, removed, failed to join) is the `stopped` promise of the handle.
 */
import { Agent } from 'undici';
import type { GraftdClientAuth } from './client/index.ts';
import { authorizationHeader } from './client/credentials.ts';
import type { SecurityFlags } from './cli/flags.ts';
import { type JoinHttp, discoverCluster, requestJoin } from './cli/join.ts';
import { listenErrorMessage, probeListen } from './cli/listen-probe.ts';
import { type PeerSecurityMaterial, insecureReasons, loadPeerSecurity } from './cli/security-config.ts';
import type { ServerConfig } from './config.ts';
import { GraftdError } from './errors.ts';
import { createHttpServer } from './http/index.ts';
import type { Log } from './log.ts';
import { type MemberView, hasState, openNode, readRemovedMarker, removedMessage } from './node/index.ts';
import { HttpSecurity } from './security/http-security.ts';
import { makeJoinProof } from './security/join-proof.ts';
import { makePeerReadProof } from './security/peer-read-proof.ts';
import { parseHostPort } from './transport/index.ts';
import { vizorPlugin } from './vizor/plugin.ts';

/** The node a server runs (whatever openNode returns). */
export type ServerNode = Awaited<ReturnType<typeof openNode>>;

/** Why a server stopped: close() was called, the cluster removed this node, or a fresh node could not join. */
export type ServerStop =
  | { readonly reason: 'closed' }
  | { readonly reason: 'removed'; readonly message: string }
  | { readonly reason: 'join-failed'; readonly message: string };

/** A running graftd node: its raft node, its HTTP API, and how to stop it. */
export interface GraftdServer {
  readonly id: string;
  /** The HTTP address given to clients and members (host:port). */
  readonly httpAddr: string;
  /** The raft address given to peers (host:port). */
  readonly raftAddr: string;
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:11000 (https when serving TLS). */
  readonly url: string;
  readonly node: ServerNode;
  /** Resolves once, when the server has stopped for good (after close(), removal, or a failed join). */
  readonly stopped: Promise<ServerStop>;
  /**
   * Re-read the cluster secret, certificates and auth file (what SIGHUP does to bin/graftd); a bad
   * file is logged and the old material stays. `label` starts the log lines (default 'reload').
   */
  reload(label?: string): void;
  /** Hand leadership over (bounded), close HTTP, transport and storage. Idempotent. */
  close(): Promise<void>;
}

async function restoreIfAsked(config: ServerConfig, log: Log): Promise<void> {
  const args = config.args;
  if (args.restore === undefined) return;
  const { restoreDataDir } = await import('./cli/restore.ts');
  const result = await restoreDataDir(args.restore, args.dataDir, { id: args.id, raftAddr: args.raftAddr, httpAddr: args.httpAddr });
  const fields = { file: args.restore, keys: result.keys, clusterId: result.clusterId, sha256: result.sha256 };
  // A restart with the same --restore (e.g. a restart policy) finds the directory it seeded: nothing is written.
  if (result.alreadyRestored) log.info(fields, 'already restored from this backup: --restore ignored, starting from the data directory');
  else log.info(fields, 'restored a new one-node cluster from the backup');
  for (const note of result.notes) log.warn({ file: args.restore }, note);
}

function startupError(message: string, cause?: unknown): GraftdError {
  return new GraftdError('GRAFTD_BAD_CONFIG', message, cause === undefined ? undefined : { cause });
}

/** Start a node from `config`, logging to `log`. Throws a GraftdError (one readable line) when it cannot start. */
export async function runServer(config: ServerConfig, log: Log): Promise<GraftdServer> {
  const { args, runtime, joinTimeoutMs } = config;
  if (runtime.testFault !== '')
    log.warn({ fault: runtime.testFault }, 'GRAFTD_TEST_FAULT is set: this node deliberately breaks its guarantees (tests only)');
  if (readRemovedMarker(args.dataDir) !== undefined) throw new GraftdError('GRAFTD_REMOVED', removedMessage(args.id, args.dataDir));
  let peerSecurity: PeerSecurityMaterial;
  let httpSecurity: HttpSecurity;
  const insecure = insecureReasons(args.security, args.raftListenAddr, args.httpListenAddr);
  try {
    peerSecurity = loadPeerSecurity(args.security, (msg) => log.warn({}, msg));
    httpSecurity = new HttpSecurity(httpSecurityConfig(args.security, () => peerSecurity.secret, insecure.length > 0));
  } catch (err) {
    throw startupError((err as Error).message, err);
  }
  // Before anything is written to the data directory: both addresses must be usable.
  const raftListen = parseHostPort(args.raftListenAddr, 'raft address');
  const httpListen = parseHostPort(args.httpListenAddr, 'HTTP address');
  for (const problem of await Promise.all([
    probeListen(raftListen.host, raftListen.port, 'raft address', args.raftListenAddr),
    probeListen(httpListen.host, httpListen.port, 'HTTP address', args.httpListenAddr),
  ])) {
    if (problem !== '') throw startupError(problem);
  }
  // Said before the (possibly long) join discovery, repeated every minute once serving.
  const sayInsecure = insecureWarning(insecure, log);
  sayInsecure?.();
  // One way to reach the member named by -join, for discovery and for the join itself.
  const joinVia =
    args.join === undefined ? undefined : joinHttp(args.security, httpSecurity, () => peerSecurity.secret, config.joinCredentials);
  await restoreIfAsked(config, log);

  const stopping = new AbortController();
  let clusterId: string | undefined;
  let seedPeers: readonly MemberView[] | undefined;
  const fresh = !hasState(args.dataDir);
  if (fresh && args.join !== undefined && joinVia !== undefined) {
    const info = await discoverCluster(args.join, { totalTimeoutMs: joinTimeoutMs, log, signal: stopping.signal, http: joinVia });
    clusterId = info.clusterId;
    seedPeers = info.members;
  }

  const node = await openNode({
    id: args.id,
    dataDir: args.dataDir,
    raftListenAddr: args.raftListenAddr,
    raftAddr: args.raftAddr,
    httpAddr: args.httpAddr,
    config: runtime,
    log,
    ifEmpty: args.join === undefined ? 'bootstrap' : 'join',
    ...(args.initialCluster === undefined ? {} : { founders: args.initialCluster.members, clusterId: args.initialCluster.clusterId }),
    ...(clusterId === undefined ? {} : { clusterId }),
    ...(seedPeers === undefined ? {} : { seedPeers }),
    peerSecurity,
    watchHistory: config.watchHistory,
  });
  try {
    await node.start();
  } catch (err) {
    await node.close();
    if (err instanceof GraftdError) throw err;
    throw startupError(listenErrorMessage(err, 'raft address', args.raftListenAddr), err);
  }

  const wildcardHttp = httpListen.host === '0.0.0.0' || httpListen.host === '::';
  const app = await createHttpServer({
    node,
    log: log.child({ component: 'http' }),
    plugins: [vizorPlugin(node)],
    security: httpSecurity,
    // Forwards leave from this node's own address, like its raft traffic, so partitions cut both.
    ...(wildcardHttp ? {} : { forwardLocalAddress: httpListen.host }),
    logRequests: config.logRequests,
    testFault: runtime.testFault,
    watch: config.watch,
  });
  try {
    await app.listen({ host: httpListen.host, port: httpListen.port });
  } catch (err) {
    await node.close();
    throw startupError(listenErrorMessage(err, 'HTTP address', args.httpListenAddr), err);
  }
  log.info({ httpAddr: args.httpAddr, raftAddr: args.raftAddr, dataDir: args.dataDir }, 'graftd is serving');
  const insecureTimer = sayInsecure === undefined ? undefined : setInterval(sayInsecure, INSECURE_WARNING_MS).unref();

  let resolveStopped: (stop: ServerStop) => void = () => undefined;
  const stopped = new Promise<ServerStop>((res) => {
    resolveStopped = res;
  });
  let closing: Promise<void> | undefined;
  /** Stop everything once; `graceful` hands leadership over first. */
  const shutDown = (stop: ServerStop, graceful: boolean): Promise<void> => {
    closing ??= (async () => {
      stopping.abort();
      if (insecureTimer !== undefined) clearInterval(insecureTimer);
      try {
        if (graceful) await node.prepareShutdown();
        await app.close();
        await node.close();
      } finally {
        resolveStopped(stop);
      }
    })();
    return closing;
  };

  const server: GraftdServer = {
    id: args.id,
    httpAddr: args.httpAddr,
    raftAddr: args.raftAddr,
    url: `${args.security.httpCert === undefined ? 'http' : 'https'}://${args.httpAddr}`,
    node,
    stopped,
    reload: (label = 'reload') =>
      reloadSecurity(label, args.security, node, httpSecurity, log, (next) => {
        peerSecurity = next;
      }),
    close: () => shutDown({ reason: 'closed' }, true),
  };
  void node.whenRemoved().then(() =>
    // Like etcd: a removed member has nothing left to do. The REMOVED marker makes a restart refuse too.
    shutDown({ reason: 'removed', message: removedMessage(args.id, args.dataDir) }, false).catch(() => undefined),
  );
  if (joinVia !== undefined && args.join !== undefined) {
    const request = { id: args.id, raftAddr: args.raftAddr, httpAddr: args.httpAddr, voter: !args.learner, fresh };
    const retry = { totalTimeoutMs: joinTimeoutMs, log, signal: stopping.signal, http: joinVia };
    void joinInBackground(args.join, request, node, log, retry).catch((err: unknown) => {
      if (stopping.signal.aborted) return;
      const message = (err as Error).message;
      if (fresh) {
        log.fatal({ err: message }, 'could not join the cluster');
        void shutDown({ reason: 'join-failed', message }, false).catch(() => undefined);
        return;
      }
      log.error({ err: message }, 're-join failed; continuing with the membership on disk');
    });
  }
  return server;
}

/**
 * Ask the cluster to add this node (a no-op for a member with the same id and address). A node
 * restarting with state first checks, without delaying its start, that the join address belongs to
 * its own cluster, and refreshes its seed addresses from it. Throws when the cluster cannot be reached in time.
 */
async function joinInBackground(
  joinAddr: string,
  request: Parameters<typeof requestJoin>[1],
  node: ServerNode,
  log: Log,
  retry: Parameters<typeof requestJoin>[2],
): Promise<void> {
  if (!request.fresh) {
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
  await requestJoin(joinAddr, request, retry);
  log.info({ via: joinAddr }, 'joined the cluster (or was already a member)');
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
 * the admin credentials from the configuration (GRAFTD_TOKEN, GRAFTD_USER + GRAFTD_PASSWORD);
 * proofs of the cluster secret when one is configured.
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

/** A node reachable from other hosts with nothing that authenticates: say so loudly (at start, then every minute until closed). */
function insecureWarning(reasons: readonly string[], log: Log): (() => void) | undefined {
  if (reasons.length === 0) return undefined;
  return () =>
    log.warn(
      { insecure: true, reasons },
      `INSECURE: ${reasons.join('; ')}. See docs/security.md (-cluster-secret-file, -peer-cert, -auth-file, -http-cert).`,
    );
}

/** Re-read the secret, certificates and auth file; a bad file is logged and the old material stays. */
function reloadSecurity(
  label: string,
  flags: SecurityFlags,
  node: ServerNode,
  http: HttpSecurity,
  log: Log,
  setPeer: (fresh: PeerSecurityMaterial) => void,
): void {
  try {
    const fresh = loadPeerSecurity(flags, (msg) => log.warn({}, msg));
    node.updatePeerSecurity(fresh);
    setPeer(fresh);
    log.info(
      { secret: fresh.secret !== undefined, peerTls: fresh.tls !== undefined },
      `${label}: reloaded the peer secret and certificates`,
    );
  } catch (err) {
    log.error({ err: (err as Error).message }, `${label}: peer security not reloaded; the old secret and certificates stay in use`);
  }
  try {
    http.reload();
    log.info(
      { authFile: flags.authFile ?? '', https: flags.httpCert !== undefined },
      `${label}: reloaded the auth file and HTTP certificates`,
    );
  } catch (err) {
    log.error({ err: (err as Error).message }, `${label}: HTTP security not reloaded; the old users and certificates stay in use`);
  }
}
