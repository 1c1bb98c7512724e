/**
 * The runtime's tuning knobs, read from the environment variables of the original graftd.
 *
 * Why env and not flags: the original was tuned through ELECTION_TIMEOUT, HEARTBEAT_TIMEOUT,
 * LEADER_LEASE_TIMEOUT, COMMIT_TIMEOUT (ms), SNAPSHOT_INTERVAL (s), SNAPSHOT_THRESHOLD and
 * TRAILING_LOGS (counts); scripts and container files that set them keep working. An invalid
 * value is a startup error with one readable line, never a silent default.
 */
import { GraftdError } from '../errors.ts';

/** Deliberate faults for the chaos tests only (GRAFTD_TEST_FAULT). Never set in production. */
export type TestFault = '' | 'stale-linearizable-reads' | 'no-check-quorum' | 'tick-leases';
const TEST_FAULTS: readonly TestFault[] = ['', 'stale-linearizable-reads', 'no-check-quorum', 'tick-leases'];

/** Timing and retention settings of one node. */
export interface RuntimeConfig {
  /** Interval between leader heartbeats = one core tick (HEARTBEAT_TIMEOUT, default 100). */
  readonly heartbeatTimeoutMs: number;
  /** Minimum election timeout; the core randomises it in [t, 2t) (ELECTION_TIMEOUT, default 1000). */
  readonly electionTimeoutMs: number;
  /** A leader that has heard from no quorum of voters for this long steps down, as in hashicorp/raft (LEADER_LEASE_TIMEOUT, default 500, ≤ ELECTION_TIMEOUT). */
  readonly leaderLeaseTimeoutMs: number;
  /**
   * Bound on how much two nodes' monotonic clocks may disagree on the length of an interval, as a
   * fraction (MAX_CLOCK_DRIFT, default 0.05). `?level=lease` reads are served for
   * ELECTION_TIMEOUT × (1 − MAX_CLOCK_DRIFT) − HEARTBEAT_TIMEOUT after a quorum acknowledged a heartbeat round.
   */
  readonly maxClockDrift: number;
  /** Accepted for compatibility; proposals are batched per event-loop turn, so there is no commit delay to tune (COMMIT_TIMEOUT, default 50). */
  readonly commitTimeoutMs: number;
  /** How often to check whether a snapshot is due (SNAPSHOT_INTERVAL in seconds, default 30). */
  readonly snapshotIntervalMs: number;
  /** Take a snapshot when more than this many entries were applied since the last one (SNAPSHOT_THRESHOLD, default 8192). */
  readonly snapshotThreshold: number;
  /** Entries kept in the log behind a snapshot for slow followers (TRAILING_LOGS, default 10240). */
  readonly trailingLogs: number;
  /** A client request waiting longer than this gets GRAFTD_TIMEOUT, outcome unknown (REQUEST_TIMEOUT, default 10000). */
  readonly requestTimeoutMs: number;
  /** Leader's bounded wait for a leadership transfer on SIGTERM/SIGINT (SHUTDOWN_TRANSFER_TIMEOUT, default 3000). */
  readonly shutdownTransferTimeoutMs: number;
  /**
   * A node that founds a one-node cluster (started without -join or -initial-cluster on an empty data
   * directory) waits this long before its first election, so another cluster that already lists it
   * can claim it first (src/node/foreign-cluster.ts) (FOUNDING_QUIET, default 2000; 0 turns it off).
   */
  readonly foundingQuietMs: number;
  readonly testFault: TestFault;
}

export const DEFAULT_RUNTIME_CONFIG: RuntimeConfig = {
  heartbeatTimeoutMs: 100,
  electionTimeoutMs: 1000,
  leaderLeaseTimeoutMs: 500,
  maxClockDrift: 0.05,
  commitTimeoutMs: 50,
  snapshotIntervalMs: 30_000,
  snapshotThreshold: 8192,
  trailingLogs: 10240,
  requestTimeoutMs: 10_000,
  shutdownTransferTimeoutMs: 3000,
  foundingQuietMs: 2000,
  testFault: '',
};

function badConfig(message: string): GraftdError {
  return new GraftdError('GRAFTD_BAD_CONFIG', message);
}

/** Parse a positive/non-negative decimal integer env var; `undefined` / '' → fallback. */
function intVar(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const text = raw.trim();
  if (!/^\d+$/.test(text)) throw badConfig(`${name} must be a whole number between ${min} and ${max}, found "${raw}"`);
  const value = Number(text);
  if (value < min || value > max) throw badConfig(`${name} must be between ${min} and ${max}, found ${value}`);
  return value;
}

/** Parse a decimal fraction env var in [min, max); `undefined` / '' → fallback. */
function fractionVar(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const text = raw.trim();
  const value = Number(text);
  if (!/^\d*\.?\d+$/.test(text) || !(value >= min && value < max)) {
    throw badConfig(`${name} must be a decimal number from ${min} up to (not including) ${max}, found "${raw}"`);
  }
  return value;
}

/** Read the runtime settings from `env` (process.env by default). Throws GRAFTD_BAD_CONFIG with one readable line. */
export function parseRuntimeConfig(env: Readonly<Record<string, string | undefined>> = process.env): RuntimeConfig {
  const d = DEFAULT_RUNTIME_CONFIG;
  const heartbeatTimeoutMs = intVar(env, 'HEARTBEAT_TIMEOUT', d.heartbeatTimeoutMs, 5, 60_000);
  const electionTimeoutMs = intVar(env, 'ELECTION_TIMEOUT', d.electionTimeoutMs, 10, 600_000);
  if (electionTimeoutMs < 2 * heartbeatTimeoutMs) {
    throw badConfig(`ELECTION_TIMEOUT (${electionTimeoutMs} ms) must be at least twice HEARTBEAT_TIMEOUT (${heartbeatTimeoutMs} ms)`);
  }
  const leaderLeaseTimeoutMs = intVar(env, 'LEADER_LEASE_TIMEOUT', Math.min(d.leaderLeaseTimeoutMs, electionTimeoutMs), 1, 600_000);
  if (leaderLeaseTimeoutMs > electionTimeoutMs) {
    throw badConfig(`LEADER_LEASE_TIMEOUT (${leaderLeaseTimeoutMs} ms) must not exceed ELECTION_TIMEOUT (${electionTimeoutMs} ms)`);
  }
  const maxClockDrift = fractionVar(env, 'MAX_CLOCK_DRIFT', d.maxClockDrift, 0, 0.5);
  const leaseMs = electionTimeoutMs * (1 - maxClockDrift) - heartbeatTimeoutMs;
  if (leaseMs <= 0) {
    throw badConfig(
      `ELECTION_TIMEOUT × (1 − MAX_CLOCK_DRIFT) − HEARTBEAT_TIMEOUT must be positive (it is the lease-read window), found ${leaseMs} ms`,
    );
  }
  const commitTimeoutMs = intVar(env, 'COMMIT_TIMEOUT', d.commitTimeoutMs, 1, 600_000);
  const snapshotIntervalS = intVar(env, 'SNAPSHOT_INTERVAL', d.snapshotIntervalMs / 1000, 1, 86_400);
  const snapshotThreshold = intVar(env, 'SNAPSHOT_THRESHOLD', d.snapshotThreshold, 1, 1_000_000_000);
  const trailingLogs = intVar(env, 'TRAILING_LOGS', d.trailingLogs, 0, 1_000_000_000);
  const requestTimeoutMs = intVar(env, 'REQUEST_TIMEOUT', d.requestTimeoutMs, 1, 3_600_000);
  const shutdownTransferTimeoutMs = intVar(env, 'SHUTDOWN_TRANSFER_TIMEOUT', d.shutdownTransferTimeoutMs, 0, 600_000);
  const foundingQuietMs = intVar(env, 'FOUNDING_QUIET', d.foundingQuietMs, 0, 600_000);
  const fault = (env.GRAFTD_TEST_FAULT ?? '').trim();
  if (!(TEST_FAULTS as readonly string[]).includes(fault)) {
    throw badConfig(`GRAFTD_TEST_FAULT must be empty or one of ${TEST_FAULTS.slice(1).join(', ')}, found "${fault}"`);
  }
  return {
    heartbeatTimeoutMs,
    electionTimeoutMs,
    leaderLeaseTimeoutMs,
    maxClockDrift,
    commitTimeoutMs,
    snapshotIntervalMs: snapshotIntervalS * 1000,
    snapshotThreshold,
    trailingLogs,
    requestTimeoutMs,
    shutdownTransferTimeoutMs,
    foundingQuietMs,
    testFault: fault as TestFault,
  };
}

/** Core ticks per election timeout (the tick is the heartbeat interval). */
export function electionTicks(config: RuntimeConfig): number {
  return Math.max(2, Math.round(config.electionTimeoutMs / config.heartbeatTimeoutMs));
}
