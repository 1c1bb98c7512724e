/**
 * The time of one simulated node: a monotonic clock that drifts against virtual time, the tick
 * timer scheduled on that clock, late timers, and process stalls.
 *
 * Why a model of its own: leases rest on clocks, and the ways real clocks and timers betray a
 * process are not the ones a tick counter sees. A node's clock runs at its own rate (bounded so
 * that two nodes disagree on an interval's length by less than the configured maxClockDrift); its
 * timer fires on that clock, sometimes late (a loaded event loop); and a stopped process (SIGSTOP, a
 * long GC pause, a frozen VM) keeps its clock running while nothing else happens: no tick, no
 * message handled, and on resume exactly one late tick, because a timer does not catch up. The
 * cluster queues whatever reaches a stalled node and replays it on resume in a random interleaving.
 */
import type { Prng } from './prng.ts';

/** Switches and rates of the time faults of one run (part of the drawn profile). */
export interface TimeProfile {
  /** maxClockDrift given to every core (the bound the lease math assumes). */
  readonly maxClockDrift: number;
  /** Lease safety margin given to every core (ms); undefined: the core's default (one tick). 0 leaves drift as the only slack. */
  readonly leaseMarginMs: number | undefined;
  /** Share of maxClockDrift the node rates really use, in [0, 1): rates lie in 1 ± spread × maxClockDrift / 2. */
  readonly driftSpread: number;
  /** Put every node's rate at one end of the range (the worst case for leases) instead of uniformly inside it. */
  readonly driftExtremes: boolean;
  /** Probability per virtual ms that a live node stops (SIGSTOP). */
  readonly stallPerMs: number;
  /** Share of stalls that are long (beyond an election timeout), [longMinMs, longMaxMs]; the others last 5–90 ms. */
  readonly longStallShare: number;
  /** Share of stalls that hit a leader (the lease scenario) rather than any live node. */
  readonly stallLeaderShare: number;
  /** Probability that a client sends lease reads to a stalled node just before it resumes. */
  readonly resumeReads: number;
  /** Probability that a due tick fires late, and the bound of that lateness (virtual ms). */
  readonly lateTickRate: number;
  readonly lateTickMaxMs: number;
}

/** Long stalls: long enough for the others to elect a new leader and commit while the node is stopped. */
export const LONG_STALL_MS: readonly [number, number] = [150, 900];
const SHORT_STALL_MS: readonly [number, number] = [5, 90];

/** No time faults: exact clocks, punctual timers, no stalls (the core's default drift bound). */
export const NO_TIME_FAULTS: TimeProfile = {
  maxClockDrift: 0.05,
  leaseMarginMs: undefined,
  driftSpread: 0,
  driftExtremes: false,
  stallPerMs: 0,
  longStallShare: 0,
  stallLeaderShare: 0,
  resumeReads: 0,
  lateTickRate: 0,
  lateTickMaxMs: 0,
};

/** Which time faults are on (see FaultOptions). */
export interface TimeFaultSwitches {
  readonly clockDrift: boolean;
  readonly stalls: boolean;
  readonly lateTimers: boolean;
}

/** Draw the time faults of a run. */
export function drawTimeProfile(rng: Prng, on: TimeFaultSwitches): TimeProfile {
  return {
    maxClockDrift: rng.pick([0.05, 0.05, 0.01, 0.2]),
    leaseMarginMs: rng.chance(1 / 3) ? 0 : undefined,
    driftSpread: on.clockDrift ? rng.pick([0.999, 0.999, 0.5, 0]) : 0,
    driftExtremes: rng.chance(0.5),
    stallPerMs: on.stalls ? rng.pick([0, 1 / 3000, 1 / 1000, 1 / 400]) : 0,
    longStallShare: rng.pick([0.3, 0.7]),
    stallLeaderShare: rng.pick([0.5, 0.9]),
    resumeReads: rng.pick([0.3, 0.7, 1]),
    lateTickRate: on.lateTimers ? rng.pick([0, 0, 0.02, 0.1]) : 0,
    lateTickMaxMs: rng.pick([5, 30, 80]),
  };
}

/** The clock rate of each of `count` nodes, all within 1 ± spread × drift / 2 (so any two differ by less than `drift` when spread < 1). */
export function drawRates(rng: Prng, count: number, t: TimeProfile): number[] {
  const half = (t.driftSpread * t.maxClockDrift) / 2;
  return Array.from({ length: count }, () => 1 + half * (t.driftExtremes ? (rng.chance(0.5) ? 1 : -1) : 2 * rng.next() - 1));
}

/** Draw how long a stall lasts (virtual ms). */
export function drawStallMs(rng: Prng, t: TimeProfile): number {
  const [lo, hi] = rng.chance(t.longStallShare) ? LONG_STALL_MS : SHORT_STALL_MS;
  return rng.range(lo, hi);
}

/** One node's clock and tick timer. Virtual time is in integer ms; the clock reads base + rate × virtual time. */
export class NodeTime {
  /** Node-clock time at which the next tick is due. */
  private nextTickAt: number;
  /** A due tick held back by a late timer fires at this virtual ms (-1: none held). */
  private heldUntil = -1;
  /** Virtual ms at which a stalled process resumes (-1: running). */
  stalledUntil = -1;

  constructor(
    readonly rate: number,
    private readonly base: number,
    readonly tickMs: number,
    firstTickAfterMs: number,
  ) {
    this.nextTickAt = base + firstTickAfterMs;
  }

  /** The node's monotonic clock at virtual time `now` (ms). */
  read(now: number): number {
    return this.base + this.rate * now;
  }

  get stalled(): boolean {
    return this.stalledUntil >= 0;
  }

  /** Whether a tick is due on the node's clock at virtual time `now`. */
  due(now: number): boolean {
    return this.read(now) >= this.nextTickAt;
  }

  /**
   * Whether the timer fires at `now` (not stalled): a due tick fires, unless the loaded event loop
   * holds it back by a random lateness (drawn once per tick from `rng` with `lateRate`).
   * Returns 'no', 'on-time' or 'late'; the caller ticks the core and then calls `fired`.
   */
  poll(now: number, rng: Prng, lateRate: number, lateMaxMs: number): 'no' | 'on-time' | 'late' {
    if (this.heldUntil >= 0) return now >= this.heldUntil ? 'late' : 'no';
    if (!this.due(now)) return 'no';
    if (lateRate > 0 && lateMaxMs > 0 && rng.chance(lateRate)) {
      this.heldUntil = now + rng.range(1, lateMaxMs);
      return 'no';
    }
    return 'on-time';
  }

  /**
   * The tick fired at `now`. On time, the timer keeps its phase; late (held back or after a stall),
   * it restarts from now, as setInterval does: ticks missed meanwhile never fire.
   */
  fired(now: number, late: boolean): void {
    const c = this.read(now);
    this.heldUntil = -1;
    this.nextTickAt = late ? c + this.tickMs : this.nextTickAt + this.tickMs;
    if (this.nextTickAt <= c) this.nextTickAt = c + this.tickMs;
  }

  /** A new process starts its timer: the first tick one interval from now. */
  restartTimer(now: number): void {
    this.heldUntil = -1;
    this.stalledUntil = -1;
    this.nextTickAt = this.read(now) + this.tickMs;
  }
}
