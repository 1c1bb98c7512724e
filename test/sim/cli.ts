/**
 * `npm run sim -- --seeds N [--nodes 3|5] [--seed S] [--steps K] [--trace] [--fault NAME] [--no-time-faults]`
 *
 * Why a CLI beside the tests: CI and humans run thousands of seeds; a failure must print the
 * seed, what broke, the events leading to it and the exact command that replays it. The last
 * line is always `sim: N seeds, V violations`, and the exit status is non-zero when V > 0.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { RaftTestFaults } from '../../src/raft/api.ts';
import type { Violation } from './checker.ts';
import { LEASE_STRESS, NO_TIME_FAULT_SWITCHES } from './profile.ts';
import { DEFAULT_STEPS, runSimulation, type SimResult } from './simulation.ts';

/** Print full details for at most this many violations (all are counted). */
const MAX_DETAILED = 10;
const TEST_FAULTS = ['commitPreviousTermByCounting', 'voteTwice', 'readIndexWithoutQuorum', 'tickLeases'] as const;

function int(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}], found '${value}'`);
    return n;
  };
}

/** 'tick-leases' → 'tickLeases' (the runtime's GRAFTD_TEST_FAULT spelling is accepted too). */
function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function collect(value: string, previous: string[]): string[] {
  const name = camel(value);
  if (!(TEST_FAULTS as readonly string[]).includes(name))
    throw new InvalidArgumentError(`expected one of ${TEST_FAULTS.map(kebab).join(', ')}, found '${value}'`);
  return [...previous, name];
}

const program = new Command()
  .name('sim')
  .description('Deterministic Raft cluster simulator: random faults, invariants checked after every step.')
  .option('--seeds <n>', 'number of seeds to run (consecutive, from --seed)', int(1, 100_000_000))
  .option('--seed <s>', 'first (or only) seed', int(0, 2 ** 32 - 1))
  .option('--nodes <n>', 'cluster size', int(1, 9), 3)
  .option('--steps <k>', 'virtual milliseconds of faults per run before healing', int(1, 10_000_000), DEFAULT_STEPS)
  .option('--trace', 'print every event of the run (use with a single --seed)', false)
  .option('--bootstrap <mode>', "'founders' (all nodes bootstrap together) or 'single' (one founder, the others join)", 'founders')
  .option(
    '--fault <name>',
    `switch on a deliberately wrong core rule (${TEST_FAULTS.map(kebab).join(', ')}; camelCase works too); repeatable`,
    collect,
    [] as string[],
  )
  .option('--test-fault <name>', 'the same as --fault', collect, [] as string[])
  .option('--no-time-faults', 'exact clocks, punctual timers, no process stalls (time faults are on by default)')
  .option('--lease-stress', 'a profile aimed at leases: widest drift, no margin, frequent stalls and late ticks, lease-heavy reads', false)
  .parse();

const opts = program.opts<{
  seeds?: number;
  seed?: number;
  nodes: number;
  steps: number;
  trace: boolean;
  bootstrap: string;
  fault: string[];
  testFault: string[];
  timeFaults: boolean;
  leaseStress: boolean;
}>();
if (opts.leaseStress && !opts.timeFaults) program.error('--lease-stress needs the time faults (drop --no-time-faults)');
if (opts.bootstrap !== 'founders' && opts.bootstrap !== 'single')
  program.error(`--bootstrap: expected 'founders' or 'single', found '${opts.bootstrap}'`);
const bootstrapMode = opts.bootstrap as 'founders' | 'single';
const first = opts.seed ?? 1;
const count = opts.seeds ?? 1;
const faultNames = [...new Set([...opts.fault, ...opts.testFault])];
const testFaults: RaftTestFaults | undefined = faultNames.length === 0 ? undefined : Object.fromEntries(faultNames.map((f) => [f, true]));
const extra =
  faultNames.map((f) => ` --fault ${kebab(f)}`).join('') +
  (bootstrapMode === 'single' ? ' --bootstrap single' : '') +
  (opts.timeFaults ? '' : ' --no-time-faults') +
  (opts.leaseStress ? ' --lease-stress' : '');

function replay(seed: number): string {
  return `npm run sim -- --seed ${seed} --nodes ${opts.nodes} --steps ${opts.steps}${extra}`;
}

function report(r: SimResult, v: Violation): void {
  console.log(`\nVIOLATION seed ${r.seed} (${r.nodes} nodes, ${r.steps} steps): ${v.kind} at ${v.timeMs}ms`);
  console.log(`  ${v.message}`);
  console.log('  last events:');
  for (const line of v.trace) console.log(`    ${line}`);
  console.log(`  replay: ${replay(r.seed)}`);
}

const started = performance.now();
let violations = 0;
let detailed = 0;
let worstRecoveryMs = 0;
let worstRecoverySeed = 0;
let recoveries = 0;
let recoverySumMs = 0;
const totals = {
  leaders: 0,
  committed: 0,
  reads: 0,
  crashes: 0,
  partitions: 0,
  snapshots: 0,
  confChanges: 0,
  transfers: 0,
  wipes: 0,
  nonMemberDrops: 0,
  messages: 0,
  leaseReads: 0,
  stalls: 0,
  leaderStalls: 0,
  lateTicks: 0,
  resumeReads: 0,
  resumeReadsServed: 0,
  resumeReadsFromLease: 0,
};
const progressEvery = Math.max(1, Math.ceil(count / 10));

for (let i = 0; i < count; i++) {
  const seed = (first + i) >>> 0;
  const r = runSimulation({
    seed,
    nodes: opts.nodes,
    steps: opts.steps,
    bootstrap: bootstrapMode,
    ...(opts.timeFaults ? {} : { faults: NO_TIME_FAULT_SWITCHES }),
    ...(opts.leaseStress ? { profile: LEASE_STRESS.profile, timeProfile: LEASE_STRESS.time } : {}),
    ...(testFaults === undefined ? {} : { testFaults }),
    ...(opts.trace ? { onTrace: (line: string) => console.log(line) } : {}),
  });
  const s = r.stats;
  totals.leaders += s.leadersElected;
  totals.committed += s.committed;
  totals.reads += s.readsServed;
  totals.crashes += s.crashes;
  totals.partitions += s.partitions;
  totals.snapshots += s.snapshotsInstalled;
  totals.confChanges += s.confChangesApplied;
  totals.transfers += s.transfers;
  totals.wipes += s.wipes;
  totals.nonMemberDrops += s.nonMemberDrops;
  totals.messages += s.network.delivered;
  totals.leaseReads += s.leaseReadsServed;
  totals.stalls += s.stalls;
  totals.leaderStalls += s.leaderStalls;
  totals.lateTicks += s.lateTicks;
  totals.resumeReads += s.resumeReads;
  totals.resumeReadsServed += s.resumeReadsServed;
  totals.resumeReadsFromLease += s.resumeReadsFromLease;
  if (r.recoveryMs !== null) {
    recoveries++;
    recoverySumMs += r.recoveryMs;
    if (r.recoveryMs >= worstRecoveryMs) worstRecoverySeed = seed;
    worstRecoveryMs = Math.max(worstRecoveryMs, r.recoveryMs);
  }
  for (const v of r.violations) {
    violations++;
    if (detailed++ < MAX_DETAILED) report(r, v);
    else console.log(`VIOLATION seed ${seed}: ${v.kind} — replay: ${replay(seed)}`);
  }
  if (count >= 20 && (i + 1) % progressEvery === 0 && i + 1 < count) {
    const sec = (performance.now() - started) / 1000;
    console.log(`… ${i + 1}/${count} seeds, ${violations} violations, ${((i + 1) / sec).toFixed(1)} seeds/s`);
  }
}

const sec = (performance.now() - started) / 1000;
console.log(
  `totals: ${totals.leaders} leaders elected, ${totals.committed} entries committed, ${totals.reads} reads served, ` +
    `${totals.crashes} crashes, ${totals.partitions} partitions, ${totals.snapshots} snapshots installed, ` +
    `${totals.confChanges} conf changes applied, ${totals.transfers} transfers, ${totals.wipes} wiped rejoins, ${totals.nonMemberDrops} non-member messages dropped, ${totals.messages} messages delivered`,
);
console.log(
  opts.timeFaults
    ? `time faults: ${totals.stalls} stalls (${totals.leaderStalls} of a leader), ${totals.lateTicks} late ticks, ` +
        `${totals.resumeReads} lease reads sent to a resuming leader (${totals.resumeReadsServed} answered, ${totals.resumeReadsFromLease} of them at once from the lease), ${totals.leaseReads} lease reads answered in all`
    : `time faults off (--no-time-faults): ${totals.leaseReads} lease reads answered`,
);
if (recoveries > 0)
  console.log(
    `recovery after healing: mean ${(recoverySumMs / recoveries).toFixed(0)}ms, worst ${worstRecoveryMs}ms (virtual, seed ${worstRecoverySeed})`,
  );
console.log(`time: ${sec.toFixed(1)} s, ${(count / sec).toFixed(1)} seeds/s (${opts.nodes} nodes, ${opts.steps} steps)`);
console.log(`sim: ${count} seeds, ${violations} violations`);
process.exitCode = violations > 0 ? 1 : 0;
