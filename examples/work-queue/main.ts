/**
 * Start one node of the replicated work queue: the generic raft node with the queue state
 * machine, plus the queue's HTTP API.
 *
 *   node --import tsx examples/work-queue/main.ts --id n1 --data /tmp/wq/n1 \
 *     --raft 127.0.0.1:7001 --http 127.0.0.1:8001 \
 *     --cluster n1=127.0.0.1:7001/127.0.0.1:8001,n2=127.0.0.1:7002/127.0.0.1:8002,n3=127.0.0.1:7003/127.0.0.1:8003
 *
 * Why so little: everything else (WAL, snapshots, elections, forwarding, reads) is the node's.
 * Every founder gets the same --cluster list; a restart with the same --data ignores it.
 */
import { parseArgs } from 'node:util';
import { createRaftNode, type FoundingMember, type Log } from './graftd.ts';
import { createQueueServer } from './http.ts';
import { QueueMachine } from './machine.ts';

const USAGE = 'usage: main.ts --id ID --data DIR --raft HOST:PORT --http HOST:PORT --cluster ID=RAFT/HTTP,... [--cluster-id ID]';

function parseCluster(text: string): FoundingMember[] {
  return text.split(',').map((part) => {
    const m = /^([^=]+)=([^/]+)\/(.+)$/.exec(part.trim());
    if (m === null) throw new Error(`--cluster entry "${part}" is not ID=RAFT_HOST:PORT/HTTP_HOST:PORT`);
    return { id: m[1]!, raftAddr: m[2]!, httpAddr: m[3]! };
  });
}

/** Whole-number flag, or undefined when absent. */
function int(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`--${name} must be a whole number, found "${text}"`);
  return Number(text);
}

/** One JSON line per log call on stderr (the node takes any pino-like logger). */
function stderrLog(bindings: Record<string, unknown>, verbose: boolean): Log {
  const line =
    (level: string) =>
    (obj: object, msg: string): void => {
      if (level === 'debug' && !verbose) return;
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, ...bindings, ...obj, msg })}\n`);
    };
  return {
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    fatal: line('fatal'),
    child: (more) => stderrLog({ ...bindings, ...more }, verbose),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      id: { type: 'string' },
      data: { type: 'string' },
      raft: { type: 'string' },
      http: { type: 'string' },
      cluster: { type: 'string' },
      'cluster-id': { type: 'string', default: 'work-queue-example' },
      'heartbeat-ms': { type: 'string' },
      'election-ms': { type: 'string' },
      'snapshot-threshold': { type: 'string' },
      'snapshot-interval-ms': { type: 'string' },
      'trailing-logs': { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const { id, data, raft, http, cluster } = values;
  if (id === undefined || data === undefined || raft === undefined || http === undefined || cluster === undefined) throw new Error(USAGE);
  const config = Object.fromEntries(
    Object.entries({
      heartbeatTimeoutMs: int(values['heartbeat-ms'], 'heartbeat-ms'),
      electionTimeoutMs: int(values['election-ms'], 'election-ms'),
      snapshotThreshold: int(values['snapshot-threshold'], 'snapshot-threshold'),
      snapshotIntervalMs: int(values['snapshot-interval-ms'], 'snapshot-interval-ms'),
      trailingLogs: int(values['trailing-logs'], 'trailing-logs'),
    }).filter(([, v]) => v !== undefined),
  );
  const log = stderrLog({ node: id }, values.verbose);

  const node = await createRaftNode({
    id,
    dataDir: data,
    raftAddr: raft,
    httpAddr: http,
    stateMachine: new QueueMachine(),
    ifEmpty: 'bootstrap',
    clusterId: values['cluster-id'],
    founders: parseCluster(cluster),
    config,
    log,
  });
  const server = createQueueServer(node);
  const [host, port] = [http.slice(0, http.lastIndexOf(':')), Number(http.slice(http.lastIndexOf(':') + 1))];
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  log.info({ http, raft }, 'work queue listening');

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await node.prepareShutdown(); // a leader hands over first, so the others need no election
    server.close();
    server.closeAllConnections();
    await node.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
