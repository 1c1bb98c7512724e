/**
 * `tsx src/check/cli.ts HISTORY.jsonl [--search-timeout-ms N]`: check a recorded history offline.
 *
 * Why: a failing chaos run leaves its history next to the node logs; re-checking it (for example
 * with a longer search time for keys that came out `unknown`) must not require re-running the chaos.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { checkHistory } from './checker.ts';
import { describeOps } from './format.ts';
import { parseHistory } from './history.ts';

const program = new Command()
  .name('graftd-check')
  .description('check a JSONL history for linearizability (per key: a register, or a CAS register for keys with cas/txn)')
  .argument('<history>', 'JSONL history file')
  .option('--search-timeout-ms <n>', 'search time per key before it is reported unknown', '10000')
  .option('--shrink-timeout-ms <n>', 'time to minimize each failing key', '5000')
  .parse();

const opts = program.opts<{ searchTimeoutMs: string; shrinkTimeoutMs: string }>();
const report = checkHistory(parseHistory(readFileSync(program.args[0]!, 'utf8')), {
  searchTimeoutMs: Number(opts.searchTimeoutMs),
  shrinkTimeoutMs: Number(opts.shrinkTimeoutMs),
});
for (const k of report.keys) {
  console.log(
    `${k.verdict.padEnd(7)} ${k.key} (${k.ops} ops, ${k.elapsedMs.toFixed(0)} ms)${k.verdict === 'pass' ? '' : `: ${k.message}`}`,
  );
  if (k.verdict === 'fail') console.log(`  minimal failing sub-history:\n${describeOps(k.failing)}`);
}
console.log(`ok ${report.counts.ok}, fail ${report.counts.fail}, info ${report.counts.info}`);
console.log(`check: ${report.violations} violations, ${report.lostWrites} lost acknowledged writes, ${report.unknown} unknown`);
process.exitCode = report.valid === true ? 0 : report.valid === false ? 1 : 2;
