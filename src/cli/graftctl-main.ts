/**
 * graftctl: the command-line client (replaces the original's curl image).
 *
 * Why a function and not a script: tests run it in-process with captured output (fast), and
 * bin/graftctl runs the same function against the real process streams (src/cli/graftctl.ts).
 */
import { readFile } from 'node:fs/promises';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
// Straight from the client's modules, not its index: the index also brings the backup code
// (node:crypto, node:zlib), which only 'backup' needs (loaded there). Start-up time of every
// graftctl call depends on what is imported here.
import type { BackupMeta } from '../client/backup-format.ts';
import { GraftdClient } from '../client/client.ts';
import { DEFAULT_ENDPOINTS, parseEndpoints } from '../client/endpoints.ts';
import { isHostPort } from '../http/body.ts';
import { clusterView, memberRows } from './graftctl-cluster.ts';
import { registerCoordCommands } from './graftctl-coord.ts';
import { disagreement, registerEndpointCommands } from './graftctl-endpoint.ts';
import { registerSnapshotCommands } from './graftctl-snapshot.ts';
import { registerWatchCommands } from './graftctl-watch.ts';
import { clientSecurity, type SecurityFlags } from './graftctl-credentials.ts';
import {
  CommandFailure,
  EXIT_OK,
  EXIT_USAGE,
  formatTable,
  type GraftctlIo,
  oneLine,
  printJson,
  reportError,
  UsageError,
} from './graftctl-output.ts';
import { registerAuthFileCommands } from './graftctl-users.ts';

interface GlobalOptions extends SecurityFlags {
  readonly endpoints: string;
  readonly json: boolean;
  readonly timeout?: number;
  readonly connectTimeout?: number;
  readonly probeTimeout?: number;
  readonly retries: number;
}

/** The three timeouts, each from its flag, else its environment variable, else the default. */
export interface Timeouts {
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly probeTimeoutMs: number;
}

function envMs(env: GraftctlIo['env'], name: string, fallback: number, allowZero: boolean): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  if (!/^[0-9]+$/.test(raw.trim()) || !Number.isSafeInteger(value) || (value === 0 && !allowZero)) {
    throw new UsageError(`${name} must be a whole number of milliseconds${allowZero ? '' : ' above 0'}, found "${raw}"`);
  }
  return value;
}

const EXIT_CODES_HELP = `
Endpoints: --endpoints, else $GRAFTD_ENDPOINTS, else ${DEFAULT_ENDPOINTS.join(',')}.
Any member will do; graftctl tries them in turn and follows the leader.

Secure clusters: endpoints are reached over HTTPS when written https://host:port or when
--cacert/--cert is given. Each flag has an environment default: --cacert $GRAFTD_CACERT,
--cert $GRAFTD_CERT, --key $GRAFTD_KEY, --user $GRAFTD_USER, --token $GRAFTD_TOKEN. The
password of --user comes from $GRAFTCTL_PASSWORD (or $GRAFTD_PASSWORD), else it is asked on
the terminal; prefer $GRAFTD_TOKEN to --token (a command line is visible to other users).
Users and tokens are added to the nodes' -auth-file with 'graftctl user add' / 'token add'.

Timeouts (ms; flag, else environment, else default):
  --timeout          $GRAFTCTL_TIMEOUT          15000  one request attempt (connect + request + answer)
  --connect-timeout  $GRAFTCTL_CONNECT_TIMEOUT   1000  TCP (and TLS) connect
  --probe-timeout    $GRAFTCTL_PROBE_TIMEOUT     1000  GET /healthz sent to every endpoint in parallel before
                                                       the first request; one that does not answer is skipped
                                                       (a hung first endpoint costs ~1 probe, not --timeout);
                                                       also each member's /status in 'status' and each
                                                       endpoint in 'endpoint health|status'. 0: no probes

Exit codes (the only ones graftctl uses):
  0  success
  1  error: cluster unreachable, request refused or failed, outcome unknown, an unhealthy or
     silent endpoint (status, endpoint), endpoints that disagree on the cluster or the leader,
     no leader (members), a corrupt backup (snapshot status, restore)
  2  usage error (bad command line, flag or environment value); with --json also
     {"error","code":"GRAFTCTL_USAGE","exitCode":2} on stdout
  3  key not found (get)

Examples:
  $ graftctl --endpoints 127.0.0.1:11000,127.0.0.1:11001 set user kj
  $ graftctl get user --level stale
  $ graftctl status
  $ graftctl --endpoints https://10.0.0.1:11000 --cacert ca.crt --user admin status
  $ GRAFTD_CACERT=ca.crt GRAFTD_TOKEN=gtd_... graftctl --endpoints 10.0.0.1:11000 get user
  $ graftctl --cacert ca.crt --cert me.crt --key me.key --user admin members
  $ graftctl user add admin --role admin --auth-file /etc/graftd/auth.json
`;

function positiveInt(text: string): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidArgumentError(`expected a positive integer number of milliseconds, got "${text}"`);
  }
  return value;
}

function nonNegativeMs(text: string): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new InvalidArgumentError(`expected a whole number of milliseconds (0 disables), got "${text}"`);
  }
  return value;
}

function nonNegativeInt(text: string): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value > 100) {
    throw new InvalidArgumentError(`expected an integer from 0 to 100, got "${text}"`);
  }
  return value;
}

function example(lines: string): string {
  return `\nExample:\n${lines
    .split('\n')
    .map((line) => `  $ ${line}`)
    .join('\n')}\n`;
}

/** Read `set --file`: a JSON object of string → string. */
async function readPairsFile(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CommandFailure(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'GRAFTCTL_FILE', 1);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CommandFailure(`${file} is not valid JSON: ${oneLine((err as Error).message)}`, 'GRAFTCTL_FILE', 1);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CommandFailure(`${file} must hold a JSON object of string keys to string values, e.g. {"user":"kj"}`, 'GRAFTCTL_FILE', 1);
  }
  const pairs = parsed as Record<string, unknown>;
  const keys = Object.keys(pairs);
  if (keys.length === 0) throw new CommandFailure(`${file} holds an empty object; nothing to set`, 'GRAFTCTL_FILE', 1);
  for (const key of keys) {
    if (typeof pairs[key] !== 'string') {
      throw new CommandFailure(`${file}: the value of "${key}" is a ${typeof pairs[key]}, expected a string`, 'GRAFTCTL_FILE', 1);
    }
  }
  return pairs as Record<string, string>;
}

/** Run graftctl with `argv` (without node and script); resolves with the exit code. */
export async function runGraftctl(argv: readonly string[], io: GraftctlIo): Promise<number> {
  let client: GraftdClient | null = null;
  const jsonRequested = argv.includes('--json');

  const program = new Command('graftctl');
  program
    .description('Client for a graftd cluster: read and write keys, inspect and change membership, back up.')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      outputError: (text, write) => write(`graftctl: ${oneLine(text)}\n`),
    })
    .option('--endpoints <list>', 'comma-separated host:port of cluster members', io.env.GRAFTD_ENDPOINTS ?? DEFAULT_ENDPOINTS.join(','))
    .option('--json', 'print machine-readable JSON (one object per line)', false)
    .option('--timeout <ms>', 'time allowed for each request attempt, in ms ($GRAFTCTL_TIMEOUT, default 15000)', positiveInt)
    .option('--connect-timeout <ms>', 'TCP/TLS connect timeout, in ms ($GRAFTCTL_CONNECT_TIMEOUT, default 1000)', positiveInt)
    .option(
      '--probe-timeout <ms>',
      'health probe before using an endpoint; a silent one is skipped. 0 disables ($GRAFTCTL_PROBE_TIMEOUT, default 1000)',
      nonNegativeMs,
    )
    .option('--retries <n>', 'extra attempts (other endpoints, with backoff) for requests that provably had no effect', nonNegativeInt, 6)
    .option('--cacert <file>', 'CA certificate (PEM) the servers must chain to; implies https ($GRAFTD_CACERT)')
    .option('--cert <file>', 'client certificate (PEM) for mutual TLS, with --key ($GRAFTD_CERT)')
    .option('--key <file>', 'private key (PEM) of --cert ($GRAFTD_KEY)')
    .option('--user <name>', 'user for HTTP Basic auth; password from $GRAFTCTL_PASSWORD or a prompt ($GRAFTD_USER)')
    .option('--token <token>', 'bearer token ($GRAFTD_TOKEN, preferred: command lines are visible to others)')
    .addHelpText('after', EXIT_CODES_HELP)
    .showSuggestionAfterError(true);

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const timeouts = (): Timeouts => {
    const o = globals();
    return {
      timeoutMs: o.timeout ?? envMs(io.env, 'GRAFTCTL_TIMEOUT', 15_000, false),
      connectTimeoutMs: o.connectTimeout ?? envMs(io.env, 'GRAFTCTL_CONNECT_TIMEOUT', 1000, false),
      probeTimeoutMs: o.probeTimeout ?? envMs(io.env, 'GRAFTCTL_PROBE_TIMEOUT', 1000, true),
    };
  };
  const getClient = async (): Promise<GraftdClient> => {
    if (client !== null) return client;
    const options = globals();
    try {
      parseEndpoints(options.endpoints);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const limits = timeouts();
    const security = await clientSecurity(options, io);
    try {
      // The raw list: https:// endpoints decide the scheme (GraftdClient parses it again).
      client = new GraftdClient({
        endpoints: options.endpoints.split(','),
        timeoutMs: limits.timeoutMs,
        connectTimeoutMs: limits.connectTimeoutMs,
        probeTimeoutMs: limits.probeTimeoutMs,
        retries: options.retries,
        backoffBaseMs: 100,
        ...security,
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    return client;
  };
  const endpointList = (): string[] => {
    try {
      return parseEndpoints(globals().endpoints);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  };
  const ok = (text: string, json: unknown): void => {
    if (globals().json) printJson(io, json);
    else io.stdout(text.endsWith('\n') ? text : `${text}\n`);
  };

  registerCoordCommands(program, { io, json: () => globals().json, client: getClient });
  registerWatchCommands(program, { io, json: () => globals().json, client: getClient });

  program
    .command('set')
    .description('write a key, or every pair of a JSON file atomically')
    .argument('[key]', 'the key')
    .argument('[value]', 'the value')
    .option('--file <file>', 'a JSON object of string keys to string values, all set atomically')
    .addHelpText(
      'after',
      `${example('graftctl set user kj\ngraftctl set --file data.json\ngraftctl set offset -- -1')}\nPut -- before a value that starts with '-'.\n`,
    )
    .action(async (key: string | undefined, value: string | undefined, options: { file?: string }) => {
      let pairs: Record<string, string>;
      if (options.file !== undefined) {
        if (key !== undefined) throw new UsageError('set takes either KEY VALUE or --file FILE, not both');
        pairs = await readPairsFile(options.file);
      } else {
        if (key === undefined || value === undefined)
          throw new UsageError("set needs KEY VALUE (or --file FILE); see 'graftctl set --help'");
        pairs = { [key]: value };
      }
      await (await getClient()).set(pairs);
      ok('OK', { ok: true, keys: Object.keys(pairs).length });
    });

  program
    .command('status')
    .description("a table of every member: addresses, role, term, commit/applied index and lag (each member's own /status)")
    .addHelpText(
      'after',
      `${example('graftctl status\ngraftctl status --json')}\nExits 1 (after printing the table) when a member does not answer.\n`,
    )
    .action(async () => {
      const c = await getClient();
      const view = await clusterView(c);
      const rows = await memberRows(c, view, endpointList(), timeouts().probeTimeoutMs);
      const conflict = disagreement(rows.filter((r) => r.role !== null));
      const dash = (value: number | string | null): string => (value === null || value === '' ? '-' : String(value));
      if (globals().json) {
        printJson(io, {
          leaderId: view.leaderId,
          members: rows,
          ...(conflict === '' ? {} : { error: conflict, code: 'GRAFTCTL_DISAGREEMENT' }),
        });
      } else {
        const withErrors = rows.some((r) => r.error !== '');
        const withClusters = new Set(rows.map((r) => r.clusterId).filter((c) => c !== null && c !== '')).size > 1;
        const header = [
          'ID',
          'RAFT ADDR',
          'HTTP ADDR',
          'ROLE',
          'VOTER',
          'TERM',
          'LEADER',
          'COMMIT',
          'APPLIED',
          'LAG',
          ...(withClusters ? ['CLUSTER'] : []),
          ...(withErrors ? ['ERROR'] : []),
        ];
        const table = rows.map((r) => [
          r.member ? r.id : `${r.id} (not a member)`,
          dash(r.raftAddr),
          dash(r.httpAddr),
          r.role ?? 'unreachable',
          r.voter ? 'yes' : 'no',
          dash(r.term),
          dash(r.leaderId),
          dash(r.commitIndex),
          dash(r.appliedIndex),
          dash(r.lag),
          ...(withClusters ? [dash(r.clusterId)] : []),
          ...(withErrors ? [oneLine(r.error)] : []),
        ]);
        io.stdout(formatTable(header, table));
      }
      const silent = rows.filter((r) => r.error !== '');
      const problems = [
        ...(silent.length > 0 ? [`${silent.length} of ${rows.length} members did not answer: ${silent.map((r) => r.id).join(', ')}`] : []),
        ...(conflict === '' ? [] : [conflict]),
      ];
      if (problems.length > 0) {
        throw new CommandFailure(problems.join('; '), conflict === '' ? 'GRAFTCTL_PARTIAL' : 'GRAFTCTL_DISAGREEMENT', 1, true);
      }
    });

  program
    .command('members')
    .description('list the members (voters and learners) as the leader sees them')
    .addHelpText('after', example('graftctl members --json'))
    .action(async () => {
      const view = await clusterView(await getClient());
      const noLeader =
        view.leaderId === ''
          ? `no leader: ${view.source.id} (${view.sourceEndpoint}) knows none; the members listed are as it sees them`
          : '';
      if (globals().json) {
        printJson(io, {
          leaderId: view.leaderId,
          members: view.members,
          ...(noLeader === '' ? {} : { error: noLeader, code: 'GRAFTD_NO_LEADER' }),
        });
        if (noLeader !== '') throw new CommandFailure(noLeader, 'GRAFTD_NO_LEADER', 1, true);
        return;
      }
      const rows = view.members.map((m) => [
        m.id,
        m.raftAddr,
        m.httpAddr === '' ? '-' : m.httpAddr,
        m.voter ? 'voter' : 'learner',
        m.id === view.leaderId ? 'yes' : '',
      ]);
      io.stdout(formatTable(['ID', 'RAFT ADDR', 'HTTP ADDR', 'KIND', 'LEADER'], rows));
      if (noLeader !== '') throw new CommandFailure(noLeader, 'GRAFTD_NO_LEADER', 1, true);
    });

  program
    .command('join')
    .description('add a member (a voter joins as a learner and is promoted once caught up)')
    .argument('<id>', 'the new member id')
    .argument('<addr>', 'its raft address host:port')
    .option('--learner', 'keep it a learner (a read replica serving stale reads)', false)
    .option('--http-addr <addr>', 'its HTTP address host:port (lets clients follow it when it leads)')
    .addHelpText(
      'after',
      example('graftctl join node3 127.0.0.1:12003 --http-addr 127.0.0.1:11003\ngraftctl join replica1 10.0.0.9:12000 --learner'),
    )
    .action(async (id: string, addr: string, options: { learner: boolean; httpAddr?: string }) => {
      if (!isHostPort(addr)) throw new UsageError(`invalid raft address "${addr}" for ${id}: expected host:port, e.g. 10.0.0.4:12000`);
      if (options.httpAddr !== undefined && !isHostPort(options.httpAddr)) {
        throw new UsageError(`invalid --http-addr "${options.httpAddr}": expected host:port, e.g. 10.0.0.4:11000`);
      }
      await (await getClient()).join(id, addr, {
        learner: options.learner,
        ...(options.httpAddr === undefined ? {} : { httpAddr: options.httpAddr }),
      });
      const kind = options.learner ? 'learner' : 'voter';
      ok(`OK: ${id} joined as ${kind}${options.learner ? '' : ' (promoted once caught up)'}`, {
        ok: true,
        id,
        addr,
        httpAddr: options.httpAddr ?? '',
        voter: !options.learner,
      });
    });

  program
    .command('remove')
    .description('remove a member (removing the leader transfers leadership first)')
    .argument('<id>', 'the member id')
    .addHelpText('after', example('graftctl remove node2'))
    .action(async (id: string) => {
      await (await getClient()).remove(id);
      ok(`OK: removed ${id}`, { ok: true, id });
    });

  program
    .command('transfer-leader')
    .description('move leadership to a member (default: the most caught-up voter)')
    .argument('[id]', 'the member to lead')
    .addHelpText('after', example('graftctl transfer-leader node1\ngraftctl transfer-leader'))
    .action(async (id: string | undefined) => {
      const leader = await (await getClient()).transferLeader(id);
      ok(`OK: leader is ${leader}`, { ok: true, leader });
    });

  program
    .command('backup')
    .description('write a consistent backup of the data (GET /snapshot) to FILE')
    .argument('<file>', 'where to write it (written to a temp name, fsynced, then renamed)')
    .addHelpText(
      'after',
      `${example('graftctl backup graftd-backup.bin')}\nRestore it into a new cluster with 'graftctl restore' or 'graftd --restore'.\n`,
    )
    .action(async (file: string) => {
      const [{ backupToFile, checkBackupTarget }, { encodeBackupHeader }] = await Promise.all([
        import('../client/backup-file.ts'),
        import('../client/backup-format.ts'),
      ]);
      checkBackupTarget(file);
      const c = await getClient();
      // The metadata header: the leader's view just before the backup (its data is at least that recent).
      const view = await clusterView(c);
      const createdAt = new Date().toISOString();
      const stream = await c.backup();
      const source = view.source as typeof view.source & { version?: unknown };
      const meta: BackupMeta = {
        createdAt,
        clusterId: view.source.clusterId ?? '',
        leaderId: view.leaderId,
        term: view.source.term,
        index: view.source.appliedIndex,
        members: view.members,
        graftdVersion: typeof source.version === 'string' ? source.version : '',
      };
      const bytes = await backupToFile(stream, file, encodeBackupHeader(meta));
      ok(`OK: backup written to ${file} (${bytes} bytes, ${view.members.length} members, index ${meta.index})`, {
        ok: true,
        file,
        bytes,
        index: meta.index,
        term: meta.term,
        clusterId: meta.clusterId,
      });
    });

  program
    .command('restore')
    .description('seed a NEW one-node cluster data directory from a backup (local; contacts no cluster)')
    .argument('<file>', 'a backup written by graftctl backup (or GET /snapshot)')
    .requiredOption('--data-dir <dir>', 'the new node’s data directory (must be empty or absent)')
    .requiredOption('--id <id>', 'the new node’s id')
    .requiredOption('--raft-addr <addr>', 'the raft address host:port it will use (graftd -raddr)')
    .requiredOption('--http-addr <addr>', 'the HTTP address host:port it will use (graftd -haddr)')
    .option('--new-addresses', 'accept addresses that differ from the ones the backup records for --id (moving it on purpose)', false)
    .addHelpText(
      'after',
      `${example('graftctl restore backup.bin --data-dir ./data/n1 --id n1 --raft-addr 10.0.0.1:12000 --http-addr 10.0.0.1:11000')}
Then start it with the same id and addresses: graftd -id n1 -haddr 10.0.0.1:11000 -raddr 10.0.0.1:12000 ./data/n1
It comes up as a one-node cluster serving exactly the backup's keys; add the others with -join.
Equivalent: graftd --restore backup.bin -id n1 ... ./data/n1 (restores, then starts).

Checks: the backup is verified in full first; a node id the backup lists must keep the addresses
the backup gives it, and no address may be another member's (refused, mismatch named, unless
--new-addresses); a new id founds a new cluster under that name. Running the same restore again
on the directory it seeded is a no-op (DATA_DIR/RESTORED records the backup's SHA-256).
`,
    )
    .action(async (file: string, options: { dataDir: string; id: string; raftAddr: string; httpAddr: string; newAddresses: boolean }) => {
      for (const [flag, addr] of [
        ['--raft-addr', options.raftAddr],
        ['--http-addr', options.httpAddr],
      ] as const) {
        if (!isHostPort(addr)) throw new UsageError(`invalid ${flag} "${addr}": expected host:port, e.g. 10.0.0.1:12000`);
      }
      const { restoreDataDir } = await import('./restore.ts');
      const result = await restoreDataDir(
        file,
        options.dataDir,
        { id: options.id, raftAddr: options.raftAddr, httpAddr: options.httpAddr },
        { newAddresses: options.newAddresses },
      );
      for (const note of result.notes) io.stderr(`graftctl: note: ${note}\n`);
      const start = `graftd -id ${options.id} -haddr ${options.httpAddr} -raddr ${options.raftAddr} ${options.dataDir}`;
      const what = result.alreadyRestored
        ? `OK: ${options.dataDir} was already restored from this backup (sha256 ${result.sha256.slice(0, 12)}…); nothing written`
        : `OK: restored ${result.keys} keys into ${options.dataDir}`;
      ok(`${what}\nstart it with: ${start}`, {
        ok: true,
        dataDir: options.dataDir,
        id: options.id,
        keys: result.keys,
        index: result.index,
        alreadyRestored: result.alreadyRestored,
        sha256: result.sha256,
        notes: result.notes,
        start,
      });
    });

  registerEndpointCommands(program, {
    io,
    json: () => globals().json,
    client: getClient,
    endpoints: endpointList,
    probeTimeoutMs: () => timeouts().probeTimeoutMs,
  });
  registerSnapshotCommands(program, io, () => globals().json);
  registerAuthFileCommands(program, io, () => globals().json);

  try {
    if (argv.length === 0) {
      io.stderr(program.helpInformation());
      return EXIT_USAGE;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT_OK;
      // commander already printed its one line on stderr; --json gets the object on stdout too.
      if (jsonRequested)
        printJson(io, { error: oneLine(err.message.replace(/^error: /, '')), code: 'GRAFTCTL_USAGE', exitCode: EXIT_USAGE });
      return EXIT_USAGE;
    }
    let json = jsonRequested;
    try {
      json = globals().json;
    } catch {
      // options not parsed: keep the argv guess
    }
    return reportError(io, err, json);
  } finally {
    await (client as GraftdClient | null)?.close();
  }
}
