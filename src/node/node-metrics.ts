/**
 * The numbers a node reports for /metrics and the security counters: protocol violations the core
 * dropped (counted, and logged at a bounded rate), the transport's peer links and handshake
 * counters, disk-full episodes, leader changes and failed proposals, WAL fsync durations, and the
 * bytes under the data directory.
 *
 * Why separate: none of it orders or answers anything; it is read at scrape time. Keeping the
 * counting and the pass-through to the transport, the disk gate and OpsStats here leaves
 * runtime.ts with the Ready loop and the requests. The runtime exposes one of these as `metrics`.
 */
import type { Log } from '../log.ts';
import type { ViolationReason } from '../raft/admission.ts';
import type { NodeId, RaftEvent } from '../raft/types.ts';
import type { Transport } from '../transport/types.ts';
import type { PeerLinkView, SecurityCounters } from './api.ts';
import { directoryBytes } from './dir-size.ts';
import type { DiskFullGate } from './disk-fault.ts';
import type { OpsCounters, OpsStats } from './ops-stats.ts';

/** Protocol violations (messages the core dropped) are logged at most once per this interval, with counts. */
const VIOLATION_LOG_INTERVAL_MS = 10_000;

export interface NodeMetricsParts {
  readonly log: Log;
  /** '' (tests): no data directory, 0 bytes. */
  readonly dataDir: string;
  /** The node's transport (created after this object). */
  readonly transport: () => Transport;
  readonly disk: DiskFullGate;
  readonly ops: OpsStats;
  /** Monotonic clock in ms (performance.now). */
  readonly now: () => number;
}

export class NodeMetrics {
  readonly #p: NodeMetricsParts;
  /** Messages the core dropped as protocol violations, by reason, since start. */
  readonly #violations = new Map<ViolationReason, number>();
  #violationLogMs = Number.NEGATIVE_INFINITY;
  #violationsUnlogged = 0;

  constructor(parts: NodeMetricsParts) {
    this.#p = parts;
  }

  /** Count a message the core dropped; log at most once per VIOLATION_LOG_INTERVAL_MS (a peer can send many). */
  violation(e: Extract<RaftEvent, { kind: 'violation' }>): void {
    this.#violations.set(e.reason, (this.#violations.get(e.reason) ?? 0) + 1);
    const now = this.#p.now();
    if (now - this.#violationLogMs < VIOLATION_LOG_INTERVAL_MS) {
      this.#violationsUnlogged++;
      return;
    }
    this.#p.log.warn(
      { from: e.from, type: e.type, term: e.term, reason: e.reason, detail: e.detail, suppressed: this.#violationsUnlogged },
      'dropped a raft message that contradicts the protocol',
    );
    this.#violationLogMs = now;
    this.#violationsUnlogged = 0;
  }

  /** Messages the core dropped as protocol violations since start, by reason. */
  protocolViolations(): Readonly<Partial<Record<ViolationReason, number>>> {
    return Object.fromEntries(this.#violations);
  }

  securityCounters(): SecurityCounters {
    const t = this.#p.transport().securityStats?.();
    return {
      peerHandshakeFailures: t?.handshakeFailures ?? 0,
      peerProtocolViolations: t?.protocolViolations ?? 0,
      peerRefusedConnections: t?.refusedConnections ?? 0,
      peerVersionMismatches: t?.versionMismatches ?? 0,
      raftViolations: this.protocolViolations(),
    };
  }

  /** Disk-full episodes since start. */
  diskFullEvents(): number {
    return this.#p.disk.events();
  }

  /** Leader changes and failed proposals since start. */
  opsCounters(): OpsCounters {
    return this.#p.ops.counters();
  }

  /** Subscribe to WAL fsync durations in seconds; returns the unsubscribe function. */
  onWalSync(fn: (seconds: number) => void): () => void {
    return this.#p.ops.onWalSync(fn);
  }

  /** Per peer: whether the outbound connection is up, and the bytes waiting to be sent to it. */
  peerLinks(): Record<NodeId, PeerLinkView> {
    const out: Record<NodeId, PeerLinkView> = {};
    for (const [id, p] of Object.entries(this.#p.transport().peers())) out[id] = { up: p.connected, queuedBytes: p.queuedBytes ?? 0 };
    return out;
  }

  /** Bytes on disk under the data directory; 0 without one. */
  dataDirBytes(): Promise<number> {
    return this.#p.dataDir === '' ? Promise.resolve(0) : directoryBytes(this.#p.dataDir);
  }
}
