/**
 * graftctl's key commands with the coordination data model (issue 13): `get` (one key, its
 * metadata, or a prefix), `put` (conditions, a lease), `del` (conditions), `txn FILE` and
 * `lease grant|keepalive|revoke|get|list`.
 *
 * Why here and not in graftctl-main.ts: the commands share one way of printing keys and one
 * readable line for a failed condition, and main stays a list of registrations. A failed condition
 * (put/del with --if-*, a txn whose compares did not hold) exits 1 like any refused request: one
 * line on stderr, and with --json the key's current state on stdout.
 */
import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { GraftdClient } from '../client/client.ts';
import { ConditionFailedError } from '../client/coordination.ts';
import type { KeyValue, LeaseInfo, TxnResult } from '../kv/types.ts';
import { MAX_LEASE_TTL_SECONDS } from '../kv/types.ts';
import type { ReadLevel } from '../node/api.ts';
import {
  CommandFailure,
  EXIT_ERROR,
  EXIT_NOT_FOUND,
  formatTable,
  type GraftctlIo,
  oneLine,
  printJson,
  UsageError,
} from './graftctl-output.ts';

/** What the commands need from graftctl-main. */
export interface CoordDeps {
  readonly io: GraftctlIo;
  readonly json: () => boolean;
  readonly client: () => Promise<GraftdClient>;
}

/** Keys fetched per request by `get --prefix` (the server's default page). */
const PAGE = 1000;

function wholeNumber(what: string, min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text: string) => {
    const value = Number(text);
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected ${what} (a whole number from ${min} to ${max}), got "${text}"`);
    }
    return value;
  };
}

const revisionArg = wholeNumber('a revision', 0);
const versionArg = wholeNumber('a version', 0);

function leaseIdArg(text: string): string {
  if (!/^[0-9a-f]{1,13}$/.test(text)) throw new InvalidArgumentError(`expected a lease id in lower-case hex (e.g. 1f), got "${text}"`);
  return text;
}

function example(lines: string): string {
  return `\nExample:\n${lines
    .split('\n')
    .map((line) => `  $ ${line}`)
    .join('\n')}\n`;
}

/** How a key's current state reads in a condition-failed line. */
export function describeCurrent(current: KeyValue | null): string {
  if (current === null) return 'the key does not exist';
  const lease = current.lease === '' ? '' : `, lease ${current.lease}`;
  return `the key is at modRevision ${current.modRevision}, version ${current.version}${lease}`;
}

/** Print through --json or text. */
function output(deps: CoordDeps, text: string, json: unknown): void {
  if (deps.json()) printJson(deps.io, json);
  else deps.io.stdout(text.endsWith('\n') ? text : `${text}\n`);
}

/** A ConditionFailedError as graftctl's one line (and the current state on stdout with --json); anything else is rethrown. */
function conditionFailure(deps: CoordDeps, err: unknown, key: string): never {
  if (!(err instanceof ConditionFailedError)) throw err;
  const message = `condition failed for key ${JSON.stringify(key)}: ${describeCurrent(err.current)}; nothing was written`;
  if (deps.json()) printJson(deps.io, { error: message, code: err.code, exitCode: EXIT_ERROR, current: err.current });
  throw new CommandFailure(message, err.code, EXIT_ERROR, true);
}

function metaRows(kvs: readonly KeyValue[], withValue: boolean): string {
  const header = ['KEY', ...(withValue ? ['VALUE'] : []), 'CREATE', 'MOD', 'VERSION', 'LEASE'];
  const rows = kvs.map((kv) => [
    kv.key,
    ...(withValue ? [kv.value ?? ''] : []),
    String(kv.createRevision),
    String(kv.modRevision),
    String(kv.version),
    kv.lease === '' ? '-' : kv.lease,
  ]);
  return formatTable(header, rows);
}

interface GetOptions {
  readonly level: ReadLevel;
  readonly meta: boolean;
  readonly prefix?: string;
  readonly limit?: number;
  readonly keysOnly: boolean;
}

async function getKeys(deps: CoordDeps, key: string | undefined, options: GetOptions): Promise<void> {
  if (options.prefix !== undefined) {
    if (key !== undefined) throw new UsageError('get takes either KEY or --prefix PREFIX, not both');
    const client = await deps.client();
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const kvs: KeyValue[] = [];
    let after: string | undefined;
    let more = false;
    let revision = 0;
    // Page by page until --limit keys: each page is from one revision (the last one is reported).
    for (;;) {
      const page = await client.range(
        {
          prefix: options.prefix,
          limit: Math.min(PAGE, limit - kvs.length),
          keysOnly: options.keysOnly,
          ...(after === undefined ? {} : { after }),
        },
        options.level,
      );
      kvs.push(...page.kvs);
      revision = page.revision;
      more = page.more;
      if (!page.more || page.next === null || kvs.length >= limit) break;
      after = page.next;
    }
    if (deps.json()) {
      printJson(deps.io, { revision, kvs, more });
      return;
    }
    let text = options.meta
      ? metaRows(kvs, !options.keysOnly)
      : kvs.map((kv) => (options.keysOnly ? `${kv.key}\n` : `${kv.key}\t${kv.value ?? ''}\n`)).join('');
    if (more) text += `(more keys after ${JSON.stringify(kvs.at(-1)?.key ?? '')}; raise --limit)\n`;
    deps.io.stdout(text);
    return;
  }
  if (options.limit !== undefined || options.keysOnly) throw new UsageError('--limit and --keys-only go with --prefix');
  if (key === undefined) throw new UsageError("get needs KEY (or --prefix PREFIX); see 'graftctl get --help'");
  const client = await deps.client();
  if (options.meta) {
    const { kv, revision } = await client.getMeta(key, options.level);
    if (kv === undefined) throw new CommandFailure(`key not found: ${key}`, 'GRAFTD_KEY_NOT_FOUND', EXIT_NOT_FOUND);
    output(deps, metaRows([kv], true), { ...kv, revision });
    return;
  }
  const value = await client.get(key, options.level);
  if (value === undefined) throw new CommandFailure(`key not found: ${key}`, 'GRAFTD_KEY_NOT_FOUND', EXIT_NOT_FOUND);
  output(deps, value, { key, value });
}

/** Read `txn FILE` (or stdin for '-'): a JSON object; the server validates the rest. */
async function readTxnFile(deps: CoordDeps, file: string): Promise<unknown> {
  let text: string;
  if (file === '-') {
    if (deps.io.readStdin === undefined) throw new UsageError('txn -: there is no stdin to read');
    text = await deps.io.readStdin();
  } else {
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new CommandFailure(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'GRAFTCTL_FILE', 1);
    }
  }
  const name = file === '-' ? 'stdin' : file;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CommandFailure(`${name} is not valid JSON: ${oneLine((err as Error).message)}`, 'GRAFTCTL_FILE', 1);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CommandFailure(`${name} must hold a JSON object {"compare":[...],"success":[...],"failure":[...]}`, 'GRAFTCTL_FILE', 1);
  }
  return parsed;
}

/** The text form of a txn result: a verdict line, then one line per executed op. */
export function formatTxnResult(result: TxnResult): string {
  const lines = [
    result.succeeded
      ? `SUCCEEDED (revision ${result.revision})`
      : `FAILED: the compares did not hold; the failure branch ran (revision ${result.revision})`,
  ];
  for (const r of result.results) {
    if (r.op === 'put') lines.push(`put ${r.key}`);
    else if (r.op === 'delete') lines.push(`delete: ${r.deleted} deleted`);
    else {
      lines.push(`get: ${r.kvs.length} key${r.kvs.length === 1 ? '' : 's'}${r.more ? ' (more)' : ''}`);
      for (const kv of r.kvs) lines.push(`  ${kv.key}\t${kv.value ?? ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function leaseTable(leases: readonly LeaseInfo[]): string {
  return formatTable(
    ['ID', 'TTL', 'REMAINING'],
    leases.map((l) => [l.id, String(l.ttl), l.remaining.toFixed(1)]),
  );
}

/** Register get, del, put, txn and lease on `program`. */
export function registerCoordCommands(program: Command, deps: CoordDeps): void {
  program
    .command('get')
    .description('read a key (prints its value), its metadata (--meta), or every key under a prefix')
    .argument('[key]', 'the key')
    .addOption(new Option('--level <level>', 'read consistency level').choices(['linearizable', 'lease', 'stale']).default('linearizable'))
    .option('--meta', 'with revisions: createRevision, modRevision, version, lease', false)
    .option('--prefix <prefix>', 'every key starting with PREFIX, sorted ("" for all keys): KEY<TAB>VALUE lines')
    .option('--limit <n>', 'with --prefix: at most N keys (default: all)', wholeNumber('a key count', 1))
    .option('--keys-only', 'with --prefix: keys without values', false)
    .addHelpText(
      'after',
      `${example('graftctl get user\ngraftctl get user --level stale --json\ngraftctl get --meta user\ngraftctl get --prefix config/ --limit 100\ngraftctl get --prefix "" --keys-only')}
With --prefix, keys are read in pages of ${PAGE}; each page is from one revision (--json: {"revision","kvs","more"}).
Exits 3 when KEY does not exist.
`,
    )
    .action((key: string | undefined, options: GetOptions) => getKeys(deps, key, options));

  program
    .command('put')
    .description('write a key, optionally only if a condition holds (compare-and-set) or attached to a lease')
    .argument('<key>', 'the key')
    .argument('<value>', 'the value')
    .option('--if-mod-revision <n>', "only if the key's modRevision is N (0: the key is absent)", revisionArg)
    .option('--if-version <n>', "only if the key's version is N (0: the key is absent)", versionArg)
    .option('--if-value <value>', 'only if the key exists with this value')
    .option('--if-absent', 'only if the key does not exist', false)
    .option('--lease <id>', "attach the key to lease ID (deleted when the lease ends; see 'graftctl lease')", leaseIdArg)
    .addHelpText(
      'after',
      `${example('graftctl put config/mode fast\ngraftctl put config/mode safe --if-mod-revision 41\ngraftctl put lock/db me --if-absent --lease 1f')}
Prints the revision of the write. A condition that does not hold writes nothing and exits 1 with
one line naming the key's current modRevision and version (--json: its state as "current").
Put -- before a value that starts with '-'.
`,
    )
    .action(
      async (
        key: string,
        value: string,
        options: { ifModRevision?: number; ifVersion?: number; ifValue?: string; ifAbsent: boolean; lease?: string },
      ) => {
        const client = await deps.client();
        let revision: number;
        try {
          ({ revision } = await client.put(key, value, options));
        } catch (err) {
          conditionFailure(deps, err, key);
        }
        output(deps, `OK (revision ${revision})`, { ok: true, key, revision });
      },
    );

  program
    .command('del')
    .description('delete a key (succeeds also when it does not exist), optionally only if a condition holds')
    .argument('<key>', 'the key')
    .option('--if-mod-revision <n>', "only if the key's modRevision is N", revisionArg)
    .option('--if-version <n>', "only if the key's version is N", versionArg)
    .option('--if-value <value>', 'only if the key exists with this value')
    .addHelpText(
      'after',
      `${example('graftctl del user\ngraftctl del lock/db --if-mod-revision 57')}
With a condition it prints how many keys were deleted and the revision; a condition that does not
hold deletes nothing and exits 1.
`,
    )
    .action(async (key: string, options: { ifModRevision?: number; ifVersion?: number; ifValue?: string }) => {
      const client = await deps.client();
      if (options.ifModRevision === undefined && options.ifVersion === undefined && options.ifValue === undefined) {
        await client.del(key);
        output(deps, 'OK', { ok: true, key });
        return;
      }
      let result: { revision: number; deleted: number };
      try {
        result = await client.deleteIf(key, options);
      } catch (err) {
        conditionFailure(deps, err, key);
      }
      output(deps, `OK (deleted ${result.deleted}, revision ${result.revision})`, { ok: true, key, ...result });
    });

  program
    .command('txn')
    .description('run an atomic transaction from a JSON file (POST /txn): compares, then the success or failure ops')
    .argument('<file>', 'a JSON file {"compare":[...],"success":[...],"failure":[...]}, or \'-\' for stdin')
    .addHelpText(
      'after',
      `${example(`graftctl txn swap.json
echo '{"compare":[{"key":"a","target":"version","op":"=","value":0}],"success":[{"put":{"key":"a","value":"1"}}],"failure":[]}' | graftctl txn -`)}
Shapes: docs/api.md → Coordination → Transactions. Prints SUCCEEDED or FAILED, the revision, and one
line per executed op (--json: the server's {"succeeded","revision","results"}). Exits 1 when the
compares did not hold (the failure branch ran; its results are printed first).
`,
    )
    .action(async (file: string) => {
      const request = await readTxnFile(deps, file);
      const result = await (await deps.client()).txn(request as Parameters<GraftdClient['txn']>[0]);
      output(deps, formatTxnResult(result), result);
      if (!result.succeeded) {
        throw new CommandFailure(
          `txn: the compares did not hold; the failure branch ran (revision ${result.revision})`,
          'GRAFTD_CONDITION_FAILED',
          EXIT_ERROR,
          true,
        );
      }
    });

  const lease = program
    .command('lease')
    .description("leases: keys attached to one are deleted when it is revoked or expires (it is kept alive with 'keepalive')");
  lease
    .command('grant')
    .description('grant a lease of TTL seconds (raised to the server’s minimum); prints its id')
    .argument('<ttl>', 'seconds', wholeNumber('a TTL in seconds', 1, MAX_LEASE_TTL_SECONDS))
    .addHelpText('after', example('graftctl lease grant 30\ngraftctl put service/a 10.0.0.5 --lease "$(graftctl lease grant 30)"'))
    .action(async (ttl: number) => {
      const grant = await (await deps.client()).leaseGrant(ttl);
      output(deps, grant.id, grant);
      if (!deps.json() && grant.ttl !== ttl) deps.io.stderr(`graftctl: note: ttl raised to ${grant.ttl} s (the minimum)\n`);
    });
  lease
    .command('keepalive')
    .description('renew a lease to its full TTL (once)')
    .argument('<id>', 'the lease id', leaseIdArg)
    .addHelpText('after', example('graftctl lease keepalive 1f'))
    .action(async (id: string) => {
      const grant = await (await deps.client()).leaseKeepAlive(id);
      output(deps, `OK: lease ${grant.id} renewed for ${grant.ttl} s`, grant);
    });
  lease
    .command('revoke')
    .description('revoke a lease and delete its keys (one revision)')
    .argument('<id>', 'the lease id', leaseIdArg)
    .addHelpText('after', example('graftctl lease revoke 1f'))
    .action(async (id: string) => {
      const result = await (await deps.client()).leaseRevoke(id);
      output(
        deps,
        `OK: lease ${id} revoked, ${result.deleted} key${result.deleted === 1 ? '' : 's'} deleted (revision ${result.revision})`,
        {
          ok: true,
          id,
          ...result,
        },
      );
    });
  lease
    .command('get')
    .description('one lease: its TTL, the seconds left, its keys')
    .argument('<id>', 'the lease id', leaseIdArg)
    .addOption(new Option('--level <level>', 'read consistency level').choices(['linearizable', 'lease', 'stale']).default('linearizable'))
    .addHelpText('after', example('graftctl lease get 1f'))
    .action(async (id: string, options: { level: ReadLevel }) => {
      const info = await (await deps.client()).leaseGet(id, options.level);
      if (info === undefined) throw new CommandFailure(`lease not found: ${id}`, 'GRAFTD_LEASE_NOT_FOUND', EXIT_ERROR);
      const keys = info.keys.map((k) => `  ${k}\n`).join('');
      output(
        deps,
        `lease ${info.id}: ttl ${info.ttl} s, ${info.remaining.toFixed(1)} s remaining, ${info.keys.length}${info.moreKeys ? '+' : ''} key${info.keys.length === 1 ? '' : 's'}\n${keys}`,
        info,
      );
    });
  lease
    .command('list')
    .description('every lease with its TTL and the seconds left')
    .addOption(new Option('--level <level>', 'read consistency level').choices(['linearizable', 'lease', 'stale']).default('linearizable'))
    .addHelpText('after', example('graftctl lease list --json'))
    .action(async (options: { level: ReadLevel }) => {
      const { revision, leases } = await (await deps.client()).leaseList(options.level);
      output(deps, leaseTable(leases), { revision, leases });
    });
}
