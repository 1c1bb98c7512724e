/**
 * Entry point of bin/graftctl: runs {@link runGraftctl} on the process's arguments and streams.
 */
import { isatty } from 'node:tty';
import { runGraftctl } from './graftctl-main.ts';
import { readAll, readSecretFromTty } from './prompt.ts';

process.exitCode = await runGraftctl(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  // The prompt goes to stderr, so `graftctl get k > file` still shows it. stdin is opened only when used.
  ...(isatty(0) ? { readSecret: (prompt: string) => readSecretFromTty(prompt, process.stdin, process.stderr) } : {}),
  readStdin: () => readAll(process.stdin),
});
