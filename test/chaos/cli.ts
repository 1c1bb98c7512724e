/**
 * `npm run chaos -- [--nodes 3|5] [--duration S] [--seed S] [--faults LIST] [--runs K] [--secure] [--no-lease-reads] ...`
 *
 * Why runs are sequential with seeds seed, seed+1, …: the nodes use fixed addresses and ports
 * (this harness's allocation), and each run prints its own seed and replay command, so any
 * failing run can be replayed alone.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { AddonName } from './addons.ts';
import { ADDON_NAMES, parseAddonList } from './addons.ts';
import { ALL_FAULTS, describeFaultList, parseFaultList } from './faults.ts';
import { formatRun, summaryLine, totals } from './report.ts';
import type { RunReport } from './run.ts';
import { runChaos } from './run.ts';
import type { WorkloadKind } from './workload.ts';
import { WORKLOAD_KINDS } from './workload.ts';

const int =
  (name: string, min: number, max: number) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}]`);
    return n;
  };

const program = new Command()
  .name('chaos')
  .description('real graftd processes, real faults, concurrent clients, linearizability check')
  .option('--nodes <n>', 'cluster size (3 or 5)', int('--nodes', 1, 5), 3)
  .option('--duration <s>', 'seconds of faults and load per run', int('--duration', 1, 86_400), 60)
  .option('--seed <s>', 'seed of the first run (default: random)', int('--seed', 0, 2 ** 32 - 1))
  .option('--faults <list>', `comma-separated: all, process, network, none, or ${ALL_FAULTS.join(', ')}`, 'all')
  .option('--runs <k>', 'number of runs', int('--runs', 1, 10_000), 1)
  .option('--clients <n>', 'concurrent clients', int('--clients', 1, 64), 6)
  .option(
    '--test-fault <name>',
    'GRAFTD_TEST_FAULT for the nodes: break the server on purpose (stale-linearizable-reads, no-check-quorum, tick-leases, stale-compare)',
  )
  .option(
    '--workload <kind>',
    `client operations: ${WORKLOAD_KINDS.join(' | ')} (cas: conditional writes and txns among reads and writes)`,
    'register',
  )
  .option('--no-lease-reads', 'only linearizable reads (default: some reads use level=lease, checked the same way)')
  .option('--secure', 'run every node with peer TLS, HTTPS, a cluster secret and users (material under the run directory)', false)
  .option('--check <list>', `extra checkers beside the register workload: ${ADDON_NAMES.join(', ')} (comma-separated)`, '')
  .option('--search-timeout-ms <n>', 'checker search time per key before it is unknown', int('--search-timeout-ms', 1, 3_600_000), 10_000)
  .parse();

const o = program.opts<{
  nodes: number;
  duration: number;
  seed?: number;
  faults: string;
  runs: number;
  clients: number;
  testFault?: string;
  searchTimeoutMs: number;
  secure: boolean;
  leaseReads: boolean;
  check: string;
  workload: string;
}>();

let faults: ReturnType<typeof parseFaultList>;
let addons: AddonName[];
try {
  faults = parseFaultList(o.faults);
  addons = parseAddonList(o.check);
  if (!(WORKLOAD_KINDS as readonly string[]).includes(o.workload))
    throw new RangeError(`unknown workload ${JSON.stringify(o.workload)}; expected ${WORKLOAD_KINDS.join(', ')}`);
} catch (err) {
  console.error(`chaos: ${(err as Error).message}`);
  process.exit(2);
}
const firstSeed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
const reports: RunReport[] = [];
let harnessErrors = 0;
for (let i = 0; i < o.runs; i++) {
  const seed = (firstSeed + i) >>> 0;
  console.log(
    `run ${i + 1}/${o.runs}: seed ${seed}, ${o.nodes} nodes, ${o.duration}s, faults ${describeFaultList(faults)}${o.testFault ? `, test fault ${o.testFault}` : ''}${o.secure ? ', secure' : ''}${o.leaseReads ? '' : ', no lease reads'}${addons.length > 0 ? `, checks ${addons.join(',')}` : ''}${o.workload === 'register' ? '' : `, workload ${o.workload}`}`,
  );
  try {
    const r = await runChaos({
      nodes: o.nodes,
      durationS: o.duration,
      seed,
      faults,
      workload: { clients: o.clients, leaseReads: o.leaseReads, kind: o.workload as WorkloadKind },
      searchTimeoutMs: o.searchTimeoutMs,
      secure: o.secure,
      addons,
      ...(o.testFault === undefined ? {} : { testFault: o.testFault }),
      log: (line) => console.log(line),
    });
    reports.push(r);
    for (const line of formatRun(r, i + 1, o.runs)) console.log(line);
  } catch (err) {
    harnessErrors++;
    console.log(`  HARNESS ERROR (run not counted): ${(err as Error).stack ?? err}`);
  }
}
const t = totals(reports);
if (harnessErrors > 0) console.log(`chaos: ${harnessErrors} run(s) could not be carried out (see above)`);
console.log(summaryLine(t));
process.exitCode = t.violations > 0 || t.lostWrites > 0 || harnessErrors > 0 ? 1 : t.unknown > 0 ? 3 : 0;
