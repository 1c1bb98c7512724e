/**
 * The `graftd` server command: a thin wrapper over src/server-run.ts (what `graftd/server` runs
 * too) that owns the process — flags and env in, signals, exit codes.
 *
 * Why errors are one line: a user who mistypes an address or forgets the data directory should
 * see what was wrong and exit 1, not a stack trace (the original printed "No Raft storage
 * directory specified"). SIGTERM/SIGINT: hand leadership over (bounded), close HTTP, transport and
 * storage, exit 0 (a second signal exits at once). SIGHUP: re-read the secret, certificates and
 * auth file. A removed node, or a fresh node that could not join, prints why and exits 1.
 */
import { loadServerConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { type GraftdServer, runServer } from '../server-run.ts';

/** Print one line to stderr and exit 1. */
function die(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  // Every flag and environment variable is read here, once (src/config.ts), and passed on.
  const loaded = loadServerConfig(process.argv.slice(2), process.env);
  if (loaded.kind === 'exit') {
    if (loaded.exitCode === 0) {
      process.stdout.write(loaded.text);
      process.exit(0);
    }
    die(loaded.text);
  }
  const config = loaded.config;
  const log = createLogger(config.args.id, config.logLevel, config.logFormat);
  let server: GraftdServer;
  try {
    server = await runServer(config, log);
  } catch (err) {
    die(err instanceof Error ? err.message : String(err));
  }
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting immediately');
      process.exit(1);
    }
    signalled = true;
    log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: (err as Error).message }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => server.reload('SIGHUP'));
  const stop = await server.stopped;
  if (stop.reason === 'closed') return; // the signal handler exits once close() has finished
  process.stderr.write(`${stop.message}\n`);
  process.exit(1);
}

main().catch((err: unknown) => {
  die(err instanceof Error ? err.message : String(err));
});
