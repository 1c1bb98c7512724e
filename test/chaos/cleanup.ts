/**
 * Cleanup that runs on every way out of the process: normal end, thrown error, SIGINT/SIGTERM/SIGHUP.
 *
 * Why synchronous hooks on 'exit': 'exit' is also emitted after an uncaught exception or an
 * unhandled rejection, but only synchronous work runs there, so every hook (remove the iptables
 * chain, SIGKILL the node processes) is synchronous. Signals do not emit 'exit' by themselves,
 * so they run the hooks and then exit with the conventional 128 + signal number.
 */

type Hook = () => void;

const hooks = new Set<Hook>();
let installed = false;

function runHooks(): void {
  for (const hook of [...hooks].reverse()) {
    hooks.delete(hook);
    try {
      hook();
    } catch (err) {
      process.stderr.write(`chaos cleanup: ${(err as Error).message}\n`);
    }
  }
}

const SIGNALS: Readonly<Record<string, number>> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runHooks);
  for (const [signal, number] of Object.entries(SIGNALS)) {
    process.once(signal, () => {
      process.stderr.write(`chaos: ${signal} received, cleaning up\n`);
      runHooks();
      process.exit(128 + number);
    });
  }
}

/** Run `hook` (synchronous) when the process leaves by any path; returns a function that runs it now and unregisters it. */
export function registerCleanup(hook: Hook): () => void {
  install();
  hooks.add(hook);
  return () => {
    if (!hooks.delete(hook)) return;
    hook();
  };
}
