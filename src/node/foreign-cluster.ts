/**
 * Catching a node that founded a cluster by accident.
 *
 * Why: the etcd habit — `graftctl join node4 ADDR`, then start node4 without `-join` — makes node4
 * found its own one-node cluster (the original's walkthrough needs a node started without `-join`
 * to found one), which accepts writes that the real cluster never sees. The real cluster's leader
 * keeps dialling node4 at the address it was given; the handshake tells node4 that another cluster
 * (proven with the cluster secret when there is one) lists it as a member. A node whose own cluster
 * is just itself then stops serving at once, says why everywhere (log, /status, every error), and
 * remembers it in a FOREIGN_CLUSTER marker so a restart does not quietly resume. A node of a real
 * multi-member cluster is never stopped this way: another cluster's misconfiguration must not take
 * it down. A freshly founded one-node cluster also waits FOUNDING_QUIET before its first election,
 * so the other cluster's redial (≤ 1 s apart) usually arrives before it could acknowledge any write.
 */
import { GraftdError } from '../errors.ts';
import type { Log } from '../log.ts';
import type { ConfState, NodeId } from '../raft/index.ts';
import { type ForeignClusterRecord, readForeignMarker, writeForeignMarker } from './data-dir.ts';

/** At most one repeated log line per this long (the other leader redials every second). */
const REPEAT_LOG_MS = 60_000;

export class ForeignCluster {
  readonly #dataDir: string;
  readonly #id: NodeId;
  readonly #ownCluster: string;
  readonly #log: Log;
  #record: ForeignClusterRecord | undefined;
  #lastLogMs = Number.NEGATIVE_INFINITY;

  constructor(o: { dataDir: string; id: NodeId; clusterId: string; log: Log }) {
    this.#dataDir = o.dataDir;
    this.#id = o.id;
    this.#ownCluster = o.clusterId;
    this.#log = o.log;
    this.#record = o.dataDir === '' ? undefined : readForeignMarker(o.dataDir);
    if (this.#record !== undefined) this.#logIt(performance.now());
  }

  /** What was recorded, if this node found it was added to another cluster. */
  get record(): ForeignClusterRecord | undefined {
    return this.#record;
  }

  /**
   * Another cluster's node addressed us as a member. Returns true when this node now stops serving:
   * its own configuration is just itself (one voter, no learners), i.e. it founded a cluster alone.
   */
  claim(claim: { readonly clusterId: string; readonly from: NodeId }, conf: ConfState, ownCommit: number, nowMs: number): boolean {
    if (this.#record !== undefined) {
      this.#logIt(nowMs);
      return false;
    }
    const alone = conf.voters.length === 1 && conf.voters[0] === this.#id && conf.learners.length === 0;
    if (!alone) {
      if (nowMs - this.#lastLogMs >= REPEAT_LOG_MS) {
        this.#lastLogMs = nowMs;
        this.#log.warn(
          { otherCluster: claim.clusterId, from: claim.from },
          `a node of another cluster (${claim.clusterId}) lists this node as a member and was refused; this node belongs to cluster ${this.#ownCluster} with other members, so it keeps serving — check that cluster's membership`,
        );
      }
      return false;
    }
    this.#record = { clusterId: claim.clusterId, from: claim.from, at: new Date().toISOString(), ownCommit };
    if (this.#dataDir !== '') writeForeignMarker(this.#dataDir, this.#record);
    this.#logIt(nowMs);
    return true;
  }

  /** Throw {@link error} while the conflict stands: every request's first check. */
  check(): void {
    const err = this.error();
    if (err !== undefined) throw err;
  }

  /** The error every request gets while the conflict stands. */
  error(): GraftdError | undefined {
    const r = this.#record;
    if (r === undefined) return undefined;
    return new GraftdError('GRAFTD_FOREIGN_CLUSTER', this.#message(r));
  }

  #message(r: ForeignClusterRecord): string {
    return (
      `this node was added to cluster ${r.clusterId} (its node ${r.from} contacted it) but was started without -join and founded ` +
      `its own one-node cluster ${this.#ownCluster}; it no longer serves. Restart it with -join: back up anything written to it ` +
      `(graftctl backup; its own cluster committed up to index ${r.ownCommit}), wipe ${this.#dataDir || 'its data directory'} and start it with -join <a member of ${r.clusterId}>`
    );
  }

  #logIt(nowMs: number): void {
    const r = this.#record;
    if (r === undefined || nowMs - this.#lastLogMs < REPEAT_LOG_MS) return;
    this.#lastLogMs = nowMs;
    this.#log.error({ otherCluster: r.clusterId, from: r.from, ownCluster: this.#ownCluster }, this.#message(r));
  }
}
