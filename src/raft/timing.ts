/**
 * The core's sense of elapsed time: ticks for pacing, a monotonic clock for promises.
 *
 * Why both: ticks come from a timer, and a timer does not catch up after a process stall (SIGSTOP,
 * a long GC pause, a swapped-out VM): after a 7 s stall exactly one tick fires. Pacing (when to
 * send a heartbeat, when to campaign) may run late without harm, but the two promises that lease
 * reads rest on may not: a follower does not vote for anyone else within an election timeout of
 * hearing from its leader, and the leader serves lease reads only within a shorter window after a
 * quorum acknowledged a heartbeat round. Both are measured on a monotonic clock read at the moment
 * of deciding, so a resumed process sees how long it was gone. `maxClockDrift` bounds how much two
 * nodes' clocks may disagree on the length of an interval (rate difference, not offset).
 */
import { GraftdError } from '../errors.ts';
import type { RaftConfig } from './api.ts';

export const DEFAULT_TICK_MS = 100;
export const DEFAULT_MAX_CLOCK_DRIFT = 0.05;

/** Resolved timing of one core, all in clock milliseconds. */
export interface Timing {
  readonly clock: () => number;
  readonly tickMs: number;
  /** electionTicks × tickMs: how long a follower keeps its promise not to vote for another. */
  readonly electionTimeoutMs: number;
  /** How long after a quorum acknowledged a round (from its send time) lease reads are served. */
  readonly leaseMs: number;
  /** A leader that has not heard from a quorum for this long steps down (CheckQuorum). */
  readonly checkQuorumMs: number;
  /** A tick later than this after the previous one means the process stalled (see Raft.tickHeartbeat). */
  readonly stallMs: number;
  /** The nominal length of the startup quiet period. */
  readonly startupQuietMs: number;
}

function badConfig(message: string): GraftdError {
  return new GraftdError('GRAFTD_BAD_CONFIG', `raft config: ${message}`);
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw badConfig(`${name} must be a positive number, got ${v}`);
  return v;
}

/** Resolve and validate the timing settings; `ticks()` is the default clock's source (ticks × tickMs). */
export function resolveTiming(config: RaftConfig, electionTicks: number, startupQuietTicks: number, ticks: () => number): Timing {
  const tickMs = positive('tickMs', config.tickMs ?? DEFAULT_TICK_MS);
  const drift = config.maxClockDrift ?? DEFAULT_MAX_CLOCK_DRIFT;
  if (!Number.isFinite(drift) || drift < 0 || drift >= 0.5) throw badConfig(`maxClockDrift must be in [0, 0.5), got ${drift}`);
  const electionTimeoutMs = electionTicks * tickMs;
  const marginMs = config.leaseMarginMs ?? tickMs;
  if (!Number.isFinite(marginMs) || marginMs < 0) throw badConfig(`leaseMarginMs must be ≥ 0, got ${marginMs}`);
  const leaseMs = electionTimeoutMs * (1 - drift) - marginMs;
  if (leaseMs <= 0) {
    throw badConfig(
      `the lease (electionTimeout ${electionTimeoutMs} ms × (1 − maxClockDrift ${drift}) − margin ${marginMs} ms) must be positive`,
    );
  }
  const checkQuorumMs = positive('checkQuorumMs', config.checkQuorumMs ?? electionTimeoutMs);
  const clock = config.clock ?? (() => ticks() * tickMs);
  return {
    clock,
    tickMs,
    electionTimeoutMs,
    leaseMs,
    checkQuorumMs,
    stallMs: Math.max(2 * tickMs, checkQuorumMs / 2),
    startupQuietMs: startupQuietTicks * tickMs,
  };
}
