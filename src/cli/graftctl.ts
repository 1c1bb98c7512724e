/**
 * Entry point of bin/graftctl: runs {@link runGraftctl} on the process's arguments and streams.
 */
import { runGraftctl } from './graftctl-main.ts';

process.exitCode = await runGraftctl(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
