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
export type TestFault = '' | 'stale-linearizable-reads' | 'no-check-quorum' | 'tick-leases' | 'stale-compare';
const TEST_FAULTS: readonly TestFault[] = ['', 'stale-linearizable-reads', 'no-check-quorum', 'tick-leases', 'stale-compare'];

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
   * can claim it first (src/node/foreign-cluster.ts) (FOUNDING_QUIET, default 3000 = 3 × the peer redial cap; 0 turns it off).
   */
  readonly foundingQuietMs: number;
  /**
   * How often every node's lessor looks at the leases (src/node/kv-lessor.ts): noticing keepalives,
   * and on the leader proposing the expiry of those past their TTL. An expiry is late by at most this
   * much plus one commit (LEASE_CHECK_INTERVAL, default 250).
   */
  readonly leaseCheckIntervalMs: number;
  /**
   * Bytes of recent log entries kept in memory for sending to followers and applying
   * (LOG_CACHE_BYTES, default 16 MiB); older entries are read from the WAL. Each node's memory
   * holds up to this much beyond its state.
   */
  readonly logCacheBytes: number;
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
  foundingQuietMs: 3000,
  leaseCheckIntervalMs: 250,
  logCacheBytes: 16 * 1024 * 1024,
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

/** How a setting is named in an error message: its environment variable (graftd) or its field (createRaftNode). */
type Naming = 'env' | 'fields';

/** Each numeric setting: its environment variable and the bounds both ways of configuring accept. */
const KNOBS = {
  heartbeatTimeoutMs: { env: 'HEARTBEAT_TIMEOUT', min: 1 },
  electionTimeoutMs: { env: 'ELECTION_TIMEOUT', min: 1 },
  leaderLeaseTimeoutMs: { env: 'LEADER_LEASE_TIMEOUT', min: 1 },
  commitTimeoutMs: { env: 'COMMIT_TIMEOUT', min: 1 },
  snapshotIntervalMs: { env: 'SNAPSHOT_INTERVAL', min: 1 },
  snapshotThreshold: { env: 'SNAPSHOT_THRESHOLD', min: 1 },
  trailingLogs: { env: 'TRAILING_LOGS', min: 0 },
  requestTimeoutMs: { env: 'REQUEST_TIMEOUT', min: 1 },
  shutdownTransferTimeoutMs: { env: 'SHUTDOWN_TRANSFER_TIMEOUT', min: 0 },
  foundingQuietMs: { env: 'FOUNDING_QUIET', min: 0 },
  leaseCheckIntervalMs: { env: 'LEASE_CHECK_INTERVAL', min: 1 },
  logCacheBytes: { env: 'LOG_CACHE_BYTES', min: 0 },
} as const satisfies Partial<Record<keyof RuntimeConfig, { env: string; min: number }>>;

function nameOf(field: keyof RuntimeConfig, naming: Naming): string {
  if (naming === 'fields') return `config.${field}`;
  if (field === 'maxClockDrift') return 'MAX_CLOCK_DRIFT';
  if (field === 'testFault') return 'GRAFTD_TEST_FAULT';
  return KNOBS[field as keyof typeof KNOBS].env;
}

/**
 * Check a complete configuration: whole numbers within bounds, MAX_CLOCK_DRIFT in [0, 0.5), a
 * known test fault, and the rules between settings — the election timeout at least twice the
 * heartbeat, the leader lease timeout not above the election timeout, a positive lease-read window.
 * Both graftd's environment parsing and createRaftNode use this. Returns `config`; throws
 * GRAFTD_BAD_CONFIG with one readable line naming the setting as `naming` says.
 */
export function validateRuntimeConfig(config: RuntimeConfig, naming: Naming = 'fields'): RuntimeConfig {
  const n = (field: keyof RuntimeConfig): string => nameOf(field, naming);
  for (const [field, k] of Object.entries(KNOBS) as [keyof typeof KNOBS, { min: number }][]) {
    const v = config[field];
    if (!Number.isSafeInteger(v) || v < k.min) throw badConfig(`${n(field)} must be a whole number ≥ ${k.min}, found ${v}`);
  }
  const { heartbeatTimeoutMs, electionTimeoutMs, leaderLeaseTimeoutMs, maxClockDrift } = config;
  if (!(maxClockDrift >= 0 && maxClockDrift < 0.5)) {
    throw badConfig(`${n('maxClockDrift')} must be a decimal number from 0 up to (not including) 0.5, found ${maxClockDrift}`);
  }
  if (!(TEST_FAULTS as readonly string[]).includes(config.testFault)) {
    throw badConfig(`${n('testFault')} must be empty or one of ${TEST_FAULTS.slice(1).join(', ')}, found "${config.testFault}"`);
  }
  if (electionTimeoutMs < 2 * heartbeatTimeoutMs) {
    throw badConfig(
      `${n('electionTimeoutMs')} (${electionTimeoutMs} ms) must be at least twice ${n('heartbeatTimeoutMs')} (${heartbeatTimeoutMs} ms)`,
    );
  }
  if (leaderLeaseTimeoutMs > electionTimeoutMs) {
    throw badConfig(
      `${n('leaderLeaseTimeoutMs')} (${leaderLeaseTimeoutMs} ms) must not exceed ${n('electionTimeoutMs')} (${electionTimeoutMs} ms)`,
    );
  }
  const leaseMs = electionTimeoutMs * (1 - maxClockDrift) - heartbeatTimeoutMs;
  if (leaseMs <= 0) {
    throw badConfig(
      `${n('electionTimeoutMs')} × (1 − ${n('maxClockDrift')}) − ${n('heartbeatTimeoutMs')} must be positive (it is the lease-read window), found ${leaseMs} ms`,
    );
  }
  return config;
}

/**
 * A complete configuration from the fields given (createRaftNode's `config`): the rest from
 * DEFAULT_RUNTIME_CONFIG, except that the leader lease timeout defaults to at most the election
 * timeout (as with the environment), then validated by {@link validateRuntimeConfig}.
 */
export function runtimeConfigFrom(partial: Partial<RuntimeConfig> = {}): RuntimeConfig {
  const electionTimeoutMs = partial.electionTimeoutMs ?? DEFAULT_RUNTIME_CONFIG.electionTimeoutMs;
  return validateRuntimeConfig({
    ...DEFAULT_RUNTIME_CONFIG,
    leaderLeaseTimeoutMs: Math.min(DEFAULT_RUNTIME_CONFIG.leaderLeaseTimeoutMs, electionTimeoutMs),
    ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)),
  });
}

/** Read the runtime settings from `env` (process.env by default). Throws GRAFTD_BAD_CONFIG with one readable line. */
export function parseRuntimeConfig(env: Readonly<Record<string, string | undefined>> = process.env): RuntimeConfig {
  const d = DEFAULT_RUNTIME_CONFIG;
  const heartbeatTimeoutMs = intVar(env, 'HEARTBEAT_TIMEOUT', d.heartbeatTimeoutMs, 5, 60_000);
  const electionTimeoutMs = intVar(env, 'ELECTION_TIMEOUT', d.electionTimeoutMs, 10, 600_000);
  const leaderLeaseTimeoutMs = intVar(env, 'LEADER_LEASE_TIMEOUT', Math.min(d.leaderLeaseTimeoutMs, electionTimeoutMs), 1, 600_000);
  const maxClockDrift = fractionVar(env, 'MAX_CLOCK_DRIFT', d.maxClockDrift, 0, 0.5);
  const commitTimeoutMs = intVar(env, 'COMMIT_TIMEOUT', d.commitTimeoutMs, 1, 600_000);
  const snapshotIntervalS = intVar(env, 'SNAPSHOT_INTERVAL', d.snapshotIntervalMs / 1000, 1, 86_400);
  const snapshotThreshold = intVar(env, 'SNAPSHOT_THRESHOLD', d.snapshotThreshold, 1, 1_000_000_000);
  const trailingLogs = intVar(env, 'TRAILING_LOGS', d.trailingLogs, 0, 1_000_000_000);
  const requestTimeoutMs = intVar(env, 'REQUEST_TIMEOUT', d.requestTimeoutMs, 1, 3_600_000);
  const shutdownTransferTimeoutMs = intVar(env, 'SHUTDOWN_TRANSFER_TIMEOUT', d.shutdownTransferTimeoutMs, 0, 600_000);
  const foundingQuietMs = intVar(env, 'FOUNDING_QUIET', d.foundingQuietMs, 0, 600_000);
  const leaseCheckIntervalMs = intVar(env, 'LEASE_CHECK_INTERVAL', d.leaseCheckIntervalMs, 1, 60_000);
  const logCacheBytes = intVar(env, 'LOG_CACHE_BYTES', d.logCacheBytes, 0, 64 * 1024 * 1024 * 1024);
  const fault = (env.GRAFTD_TEST_FAULT ?? '').trim();
  return validateRuntimeConfig(
    {
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
      leaseCheckIntervalMs,
      logCacheBytes,
      testFault: fault as TestFault,
    },
    'env',
  );
}

/**
 * The shortest lease TTL granted, in seconds: three election timeouts (at least 2 s), so a lease
 * always outlives a failover's election. Shorter requests are raised to it (as etcd does).
 */
export function minLeaseTtlSeconds(config: RuntimeConfig): number {
  return Math.max(2, Math.ceil((3 * config.electionTimeoutMs) / 1000));
}

/** Core ticks per election timeout (the tick is the heartbeat interval). */
export function electionTicks(config: RuntimeConfig): number {
  return Math.max(2, Math.round(config.electionTimeoutMs / config.heartbeatTimeoutMs));
}
