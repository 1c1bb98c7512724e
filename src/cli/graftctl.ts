/**
 * Entry point of bin/graftctl: runs {@link runGraftctl} on the process's arguments and streams.
 */
import { isatty } from 'node:tty';
import { runGraftctl } from './graftctl-main.ts';
import { readAll, readSecretFromTty } from './prompt.ts';

// A reader that stops early (`graftctl watch | head -5`) closes the pipe: end quietly with status 0,
// as Unix tools do, instead of an unhandled EPIPE stack trace. Other stream errors still throw.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
}

process.exitCode = await runGraftctl(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  // The prompt goes to stderr, so `graftctl get k > file` still shows it. stdin is opened only when used.
  ...(isatty(0) ? { readSecret: (prompt: string) => readSecretFromTty(prompt, process.stdin, process.stderr) } : {}),
  readStdin: () => readAll(process.stdin),
});
