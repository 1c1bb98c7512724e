/**
 * Prometheus metrics of one HTTP server: request counts and latency by route and status,
 * forwarding outcomes, raft gauges read from node.status() at scrape time, the node's operational
 * counters (leader changes, failed proposals, WAL fsync latency, peer links, data dir size), build
 * info, and the standard process_* / nodejs_* metrics under their usual names.
 *
 * Why a registry per server: several nodes run in one process in tests, and each must
 * report only its own numbers. Naming: counters end in _total, nothing else does; units are
 * seconds and bytes (docs/operations.md, "Metrics").
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GraftNode, SecurityCounters } from '../node/api.ts';
import { VERSION } from '../version.ts';

const roles = ['follower', 'preCandidate', 'candidate', 'leader', 'learner', 'removed'] as const;

/** Request latency buckets (seconds): up to 30 s, above the forward timeout (12 s) and REQUEST_TIMEOUT (10 s). */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30];

/** WAL fdatasync buckets (seconds): 50 µs (a fast NVMe) to 10 s (a stalled disk). */
export const FSYNC_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** prom-client's default gauges whose names end in _total (the same totals are the sums of their unsuffixed, labelled siblings). */
const GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** The metrics of one HTTP server instance. */
export class HttpMetrics {
  readonly registry = new Registry();
  /** Request counts by `method route status`, turned into the counter at scrape time (cheaper than a labelled inc per request). */
  readonly #requestCounts = new Map<string, { labels: { method: string; route: string; status: string }; count: number }>();
  readonly #latency: Histogram<'method' | 'route' | 'status'>;
  readonly #forwards: Counter<'outcome'>;
  /** Unsubscribes the WAL fsync observer (close()). */
  readonly #unsubscribe: () => void;

  constructor(node: GraftNode, processMetrics: boolean) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: node.id });
    if (processMetrics) {
      collectDefaultMetrics({ register: this.registry });
      for (const name of GAUGES_NAMED_TOTAL) this.registry.removeSingleMetric(name);
    }
    new Gauge({
      name: 'graftd_build_info',
      help: 'Always 1; the labels name the graftd version and the Node.js version of this node',
      labelNames: ['version', 'nodejs'],
      registers,
    }).set({ version: VERSION, nodejs: process.versions.node }, 1);
    const requestCounts = this.#requestCounts;
    new Counter({
      name: 'graftd_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      registers,
      collect() {
        this.reset();
        for (const { labels, count } of requestCounts.values()) this.inc(labels, count);
      },
    });
    this.#latency = new Histogram({
      name: 'graftd_http_request_duration_seconds',
      help: 'HTTP request latency (receive to response end), by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#forwards = new Counter({
      name: 'graftd_http_forwarded_total',
      help: 'Requests forwarded to the leader, by outcome (relayed, not_sent, unknown)',
      labelNames: ['outcome'],
      registers,
    });
    const gauge = (name: string, help: string, read: (s: ReturnType<GraftNode['status']>) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(node.status()));
        },
      });
    };
    gauge('graftd_raft_term', 'Current raft term', (s) => s.term);
    gauge('graftd_raft_commit_index', 'Highest log index known to be committed', (s) => s.commitIndex);
    gauge('graftd_raft_applied_index', 'Highest log index applied to the state machine', (s) => s.appliedIndex);
    gauge('graftd_raft_last_index', 'Last log index', (s) => s.lastIndex);
    gauge('graftd_raft_snapshot_index', 'Index of the latest snapshot', (s) => s.snapshotIndex);
    gauge('graftd_raft_members', 'Members (voters and learners) in the configuration', (s) => s.members.length);
    gauge('graftd_keys', 'Keys in the local state machine', (s) => s.keys);
    gauge('graftd_raft_leader_known', '1 when a leader is known', (s) => (s.leaderId === '' ? 0 : 1));
    gauge('graftd_disk_full', '1 while new writes are refused for lack of disk space (507 GRAFTD_DISK_FULL)', (s) =>
      s.diskFull === undefined || s.diskFull === '' ? 0 : 1,
    );
    const diskFullEvents = node.diskFullEvents?.bind(node);
    if (diskFullEvents !== undefined) {
      new Counter({
        name: 'graftd_disk_full_events_total',
        help: 'Times the disk became full (each also logged once, with the path)',
        registers,
        collect() {
          this.reset();
          this.inc(diskFullEvents());
        },
      });
    }
    const security = node.securityCounters?.bind(node);
    if (security !== undefined) {
      const counter = (name: string, help: string, read: (c: SecurityCounters) => number): void => {
        new Counter({
          name,
          help,
          registers,
          collect() {
            this.reset();
            this.inc(read(security()));
          },
        });
      };
      counter(
        'graftd_peer_handshake_failures_total',
        'Peer handshakes that failed (wrong secret or certificate, wrong ids, malformed, too slow)',
        (c) => c.peerHandshakeFailures,
      );
      counter(
        'graftd_peer_protocol_violations_total',
        'Authenticated peer connections closed for breaking the protocol',
        (c) => c.peerProtocolViolations,
      );
      counter(
        'graftd_peer_refused_connections_total',
        'Peer connections refused by a limit or the membership filter',
        (c) => c.peerRefusedConnections,
      );
      counter(
        'graftd_peer_version_mismatches_total',
        'Peer handshakes refused because the two nodes speak different peer protocol versions (either side)',
        (c) => c.peerVersionMismatches ?? 0,
      );
      new Counter({
        name: 'graftd_raft_protocol_violations_total',
        help: 'Messages the raft core dropped as protocol violations (never acted on), by reason',
        labelNames: ['reason'],
        registers,
        collect() {
          this.reset();
          for (const [reason, n] of Object.entries(security().raftViolations)) this.inc({ reason }, n);
        },
      });
    }
    this.#unsubscribe = this.#operational(node);
    new Gauge({
      name: 'graftd_raft_role',
      help: '1 for the role this node has now, 0 for the others',
      labelNames: ['role'],
      registers,
      collect() {
        const role = node.status().role;
        for (const r of roles) this.set({ role: r }, r === role ? 1 : 0);
      },
    });
  }

  /** Leader changes, failed proposals, WAL fsync latency, peer links, data dir size (each when the node reports it). */
  #operational(node: GraftNode): () => void {
    const registers = [this.registry];
    const ops = node.opsCounters?.bind(node);
    if (ops !== undefined) {
      new Counter({
        name: 'graftd_leader_changes_total',
        help: 'Times the leader this node knows changed to another node (the first leader it learns counts)',
        registers,
        collect() {
          this.reset();
          this.inc(ops().leaderChanges);
        },
      });
      new Counter({
        name: 'graftd_proposals_failed_total',
        help: 'Proposals this node made as leader that failed (leadership lost, timed out, dropped for a full queue, storage failure)',
        registers,
        collect() {
          this.reset();
          this.inc(ops().proposalsFailed);
        },
      });
    }
    const links = node.peerLinks?.bind(node);
    if (links !== undefined) {
      new Gauge({
        name: 'graftd_peer_up',
        help: "1 while this node's outbound raft connection to the peer is up and authenticated, else 0",
        labelNames: ['peer'],
        registers,
        collect() {
          this.reset();
          for (const [peer, l] of Object.entries(links())) this.set({ peer }, l.up ? 1 : 0);
        },
      });
      new Gauge({
        name: 'graftd_peer_send_queue_bytes',
        help: 'Bytes queued for the peer and not yet handed to the kernel (queued frames plus the socket buffer)',
        labelNames: ['peer'],
        registers,
        collect() {
          this.reset();
          for (const [peer, l] of Object.entries(links())) this.set({ peer }, l.queuedBytes);
        },
      });
    }
    const dataDirBytes = node.dataDirBytes?.bind(node);
    if (dataDirBytes !== undefined) {
      new Gauge({
        name: 'graftd_data_dir_bytes',
        help: 'Bytes allocated on disk under the data directory (WAL with its preallocated reserve, snapshots, metadata)',
        registers,
        async collect() {
          this.set(await dataDirBytes());
        },
      });
    }
    if (node.onWalSync === undefined) return () => {};
    const fsync = new Histogram({
      name: 'graftd_wal_fsync_duration_seconds',
      help: 'Duration of each WAL fdatasync (the durability wait of every raft log write)',
      buckets: FSYNC_BUCKETS,
      registers,
    });
    return node.onWalSync((seconds) => fsync.observe(seconds));
  }

  /** Stop observing the node (the server is closing). */
  close(): void {
    this.#unsubscribe();
  }

  /** Record one answered request. `route` is the route pattern ('/key/*'), never the raw path. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let entry = this.#requestCounts.get(key);
    if (entry === undefined) {
      entry = { labels: { method, route, status: String(status) }, count: 0 };
      this.#requestCounts.set(key, entry);
    }
    entry.count++;
    this.#latency.observe(entry.labels, seconds);
  }

  /** Record the outcome of one forward to the leader. */
  forwarded(outcome: 'relayed' | 'not_sent' | 'unknown'): void {
    this.#forwards.inc({ outcome });
  }
}
