/**
 * graftctl's long-running commands (issue 14): `watch` (print every change until Ctrl-C), `lock`
 * (run a command while holding a distributed lock) and `elect` (campaign, lead until Ctrl-C).
 *
 * Why their own module: unlike every other command they run until a signal, so they share the
 * signal handling — SIGINT/SIGTERM end the wait, release what is held (the lock, the leadership)
 * and exit 0; `lock` forwards the signal to its command and passes the command's exit code through.
 */
import type { spawn as Spawn } from 'node:child_process';
import { constants } from 'node:os';
import { type Command, InvalidArgumentError } from 'commander';
import type { GraftdClient } from '../client/client.ts';
import type { GraftdClientError } from '../client/errors.ts';
import type { WatchEvent } from '../client/watch.ts';
import { CommandFailure, EXIT_ERROR, type GraftctlIo, printJson, UsageError } from './graftctl-output.ts';

/** What the commands need from graftctl-main. */
export interface WatchDeps {
  readonly io: GraftctlIo;
  readonly json: () => boolean;
  readonly client: () => Promise<GraftdClient>;
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];

/** Call `handler` on SIGINT/SIGTERM until the returned function is called (node's default exit is suppressed meanwhile). */
function onStopSignal(handler: (signal: StopSignal) => void): () => void {
  const listeners = STOP_SIGNALS.map((signal) => [signal, () => handler(signal)] as const);
  for (const [signal, listener] of listeners) process.on(signal, listener);
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}

function wholeNumber(what: string, min: number): (text: string) => number {
  return (text: string) => {
    const value = Number(text);
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < min)
      throw new InvalidArgumentError(`expected ${what} (a whole number ≥ ${min}), got "${text}"`);
    return value;
  };
}

const ttlArg = wholeNumber('a TTL in seconds', 1);

function example(lines: string): string {
  return `\nExample:\n${lines
    .split('\n')
    .map((line) => `  $ ${line}`)
    .join('\n')}\n`;
}

/** A value as one token of a text line (quoted when it would break the line). */
function printable(value: string): string {
  return /[\r\n\t]/.test(value) || value === '' ? JSON.stringify(value) : value;
}

/** One change as one line: `REVISION PUT KEY VALUE` / `REVISION DELETE KEY`, tab-separated. */
export function changeLine(e: WatchEvent, withPrev: boolean): string {
  const main = e.type === 'put' ? `${e.modRevision}\tPUT\t${e.key}\t${printable(e.value ?? '')}` : `${e.modRevision}\tDELETE\t${e.key}`;
  const prev = withPrev && e.prevValue !== undefined ? `\t(was ${printable(e.prevValue)})` : '';
  return `${main}${prev}\n`;
}

interface WatchFlags {
  readonly prefix?: string;
  readonly rev?: number;
  readonly prevValue: boolean;
}

async function watchCommand(deps: WatchDeps, key: string | undefined, flags: WatchFlags): Promise<void> {
  if ((key === undefined) === (flags.prefix === undefined)) throw new UsageError('watch needs KEY or --prefix PREFIX (one of them)');
  const client = await deps.client();
  const stop = new AbortController();
  const release = onStopSignal(() => stop.abort());
  try {
    const filter = key !== undefined ? { key } : { prefix: flags.prefix ?? '' };
    for await (const e of client.watch({
      ...filter,
      ...(flags.rev === undefined ? {} : { fromRevision: flags.rev }),
      prevValue: flags.prevValue,
      signal: stop.signal,
    })) {
      if (deps.json()) printJson(deps.io, e);
      else deps.io.stdout(changeLine(e, flags.prevValue));
    }
  } finally {
    release();
  }
}

/** The exit code a shell reports for a child: its code, or 128 + the signal's number. */
function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal === null ? undefined : (constants.signals as Record<string, number>)[signal];
  return 128 + (n ?? 0);
}

/** Run `argv` with inherited stdio; resolves with its exit code (127: could not start). */
function runChild(
  spawn: typeof Spawn,
  argv: readonly string[],
  env: Record<string, string>,
  io: GraftctlIo,
  lost: Promise<GraftdClientError>,
): Promise<{ code: number; lost: GraftdClientError | null }> {
  return new Promise((resolve) => {
    const [file, ...args] = argv as [string, ...string[]];
    const child = spawn(file, args, { stdio: 'inherit', env: { ...process.env, ...env } });
    let lostErr: GraftdClientError | null = null;
    const release = onStopSignal((signal) => child.kill(signal));
    void lost.then((err) => {
      lostErr = err;
      io.stderr(`graftctl: the lock was lost (${err.message}); stopping ${file} with SIGTERM\n`);
      child.kill('SIGTERM');
    });
    child.on('error', (err) => {
      release();
      io.stderr(`graftctl: cannot run ${file}: ${(err as NodeJS.ErrnoException).code ?? err.message}\n`);
      resolve({ code: 127, lost: lostErr });
    });
    child.on('exit', (code, signal) => {
      release();
      resolve({ code: exitCodeOf(code, signal), lost: lostErr });
    });
  });
}

async function lockCommand(deps: WatchDeps, name: string, argv: readonly string[], flags: { ttl: number }): Promise<void> {
  if (argv.length === 0) throw new UsageError('lock needs a command after --, e.g. graftctl lock my-job -- ./run.sh');
  const client = await deps.client();
  const waiting = new AbortController();
  let interrupted: StopSignal | undefined;
  const releaseWait = onStopSignal((signal) => {
    interrupted = signal;
    waiting.abort();
  });
  let lock: Awaited<ReturnType<GraftdClient['lock']>>;
  try {
    lock = await client.lock(name, {
      ttl: flags.ttl,
      signal: waiting.signal,
      onQueued: (key, revision) => deps.io.stderr(`graftctl: waiting for lock ${name} (queued as ${key} at revision ${revision})\n`),
    });
  } catch (err) {
    // Interrupted while waiting: the queued key is gone (the lease revoked); the command never ran.
    if (interrupted !== undefined)
      throw new CommandFailure(
        `interrupted (${interrupted}) while waiting for lock ${name}`,
        'GRAFTCTL_INTERRUPTED',
        exitCodeOf(null, interrupted),
      );
    throw err;
  } finally {
    releaseWait();
  }
  deps.io.stderr(`graftctl: holding lock ${name} (key ${lock.key}, fencing token ${lock.fencingToken})\n`);
  let result: { code: number; lost: GraftdClientError | null };
  try {
    // Loaded here: node:child_process is needed by this command only (start-up time of every graftctl run).
    const { spawn } = await import('node:child_process');
    result = await runChild(
      spawn,
      argv,
      { GRAFTD_LOCK_KEY: lock.key, GRAFTD_FENCING_TOKEN: String(lock.fencingToken) },
      deps.io,
      lock.lost,
    );
  } finally {
    await lock.release().catch((err: unknown) => deps.io.stderr(`graftctl: releasing ${name} failed: ${(err as Error).message}\n`));
  }
  if (result.lost !== null)
    throw new CommandFailure(`lock ${name} was lost while ${argv[0]} ran: ${result.lost.message}`, result.lost.code, EXIT_ERROR);
  if (result.code !== 0)
    throw new CommandFailure(`${argv[0]} exited with code ${result.code} (lock ${name} released)`, 'GRAFTCTL_CHILD_EXIT', result.code);
}

async function electCommand(
  deps: WatchDeps,
  name: string,
  value: string | undefined,
  flags: { ttl: number; listen: boolean },
): Promise<void> {
  if (flags.listen && value !== undefined) throw new UsageError('elect --listen takes no VALUE');
  if (!flags.listen && value === undefined) throw new UsageError('elect needs NAME VALUE (or --listen)');
  const client = await deps.client();
  const stop = new AbortController();
  const release = onStopSignal(() => stop.abort());
  try {
    if (flags.listen) {
      for await (const leader of client.observeElection(name, { signal: stop.signal })) {
        if (deps.json()) printJson(deps.io, { election: name, leader });
        else deps.io.stdout(leader === null ? `${name}: no leader\n` : `${name}: ${printable(leader.value)} (key ${leader.key})\n`);
      }
      return;
    }
    if (value === undefined) return;
    deps.io.stderr(`graftctl: campaigning in ${name} as ${printable(value)}\n`);
    let leadership: Awaited<ReturnType<GraftdClient['campaign']>>;
    try {
      leadership = await client.campaign(name, value, { ttl: flags.ttl, signal: stop.signal });
    } catch (err) {
      if (stop.signal.aborted) return;
      throw err;
    }
    if (deps.json()) printJson(deps.io, { elected: true, election: name, value, key: leadership.key, revision: leadership.revision });
    else deps.io.stdout(`elected: ${name} = ${printable(value)} (key ${leadership.key}, revision ${leadership.revision})\n`);
    const stopped = new Promise<null>((resolve) => stop.signal.addEventListener('abort', () => resolve(null), { once: true }));
    const lost = await Promise.race([leadership.lost, stopped]);
    await leadership.resign().catch(() => undefined);
    if (lost !== null) throw new CommandFailure(`leadership of ${name} was lost: ${lost.message}`, lost.code, EXIT_ERROR);
  } finally {
    release();
  }
}

/** Register watch, lock and elect on `program`. */
export function registerWatchCommands(program: Command, deps: WatchDeps): void {
  program
    .command('watch')
    .description('print every change to KEY (or under --prefix) as it happens, until Ctrl-C')
    .argument('[key]', 'the key')
    .option('--prefix <prefix>', 'every key starting with PREFIX instead of one key')
    .option('--rev <revision>', 'start at this revision (replayed from the nodes’ history); default: now', wholeNumber('a revision', 1))
    .option('--prev-value', 'also print each change’s previous value', false)
    .addHelpText(
      'after',
      `${example('graftctl watch config/db\ngraftctl watch --prefix jobs/ --rev 120 --prev-value\ngraftctl --json watch --prefix ""')}
One line per change: REVISION PUT KEY VALUE or REVISION DELETE KEY (tab-separated; --json: the
change as JSON). Reconnects to another endpoint after a failure without losing or repeating a change.
Exits 0 on Ctrl-C (SIGINT) or SIGTERM; 1 when the revision is no longer kept (--rev too old).
`,
    )
    .action((key: string | undefined, flags: WatchFlags) => watchCommand(deps, key, flags));

  program
    .command('lock')
    .description('run a command while holding the distributed lock NAME; passes its exit code through')
    .argument('<name>', 'the lock')
    .argument('[command...]', 'the command and its arguments, after --')
    .option('--ttl <seconds>', 'lease TTL: how long the lock outlives a crashed graftctl', ttlArg, 10)
    .addHelpText(
      'after',
      `${example('graftctl lock nightly-backup -- ./backup.sh --full\ngraftctl lock --ttl 30 migrate -- sh -c "npm run migrate"')}
Waits for the lock (queued by arrival), runs the command with GRAFTD_LOCK_KEY and
GRAFTD_FENCING_TOKEN in its environment, and releases the lock when it exits. SIGINT/SIGTERM
are forwarded to the command. If the lease is lost while it runs, the command gets SIGTERM and
graftctl exits 1. Exit code: the command's (128 + signal number when it was killed; 127 when it
could not be started); 130 / 143 when SIGINT / SIGTERM came while waiting for the lock.
`,
    )
    .action((name: string, argv: string[], flags: { ttl: number }) => lockCommand(deps, name, argv, flags));

  program
    .command('elect')
    .description('campaign in election NAME with VALUE; print when elected, lead until Ctrl-C, then resign')
    .argument('<name>', 'the election')
    .argument('[value]', 'this candidate’s value (e.g. its address)')
    .option('--ttl <seconds>', 'lease TTL: how long leadership outlives a crashed graftctl', ttlArg, 10)
    .option('--listen', 'observe instead: print the leader’s value whenever it changes', false)
    .addHelpText(
      'after',
      `${example('graftctl elect scheduler 10.0.0.5:9000\ngraftctl elect scheduler --listen')}
Exits 0 on Ctrl-C (SIGINT) or SIGTERM (resigning first); 1 when the lease is lost while leading.
`,
    )
    .action((name: string, value: string | undefined, flags: { ttl: number; listen: boolean }) => electCommand(deps, name, value, flags));
}
