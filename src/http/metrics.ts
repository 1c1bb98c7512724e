/**
 * Prometheus metrics of one HTTP server: request counts and latency by route and status,
 * forwarding outcomes, and raft gauges read from node.status() at scrape time.
 *
 * Why a registry per server: several nodes run in one process in tests, and each must
 * report only its own numbers.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GraftNode, SecurityCounters } from '../node/api.ts';

const roles = ['follower', 'preCandidate', 'candidate', 'leader', 'learner', 'removed'] as const;

/** The metrics of one HTTP server instance. */
export class HttpMetrics {
  readonly registry = new Registry();
  /** Request counts by `method route status`, turned into the counter at scrape time (cheaper than a labelled inc per request). */
  readonly #requestCounts = new Map<string, { labels: { method: string; route: string; status: string }; count: number }>();
  readonly #latency: Histogram<'method' | 'route' | 'status'>;
  readonly #forwards: Counter<'outcome'>;

  constructor(node: GraftNode, processMetrics: boolean) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: node.id });
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'graftd_' });
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
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
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
