/**
 * Helpers for graftctl tests: run it in-process (fast, for argument parsing) or as a real
 * process through bin/graftctl (what users run).
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { runGraftctl } from '../../src/cli/graftctl-main.ts';
import type { GraftctlIo } from '../../src/cli/graftctl-output.ts';

export const GRAFTCTL_BIN = resolve(import.meta.dirname, '../../bin/graftctl');

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run graftctl in this process with captured output; `input` stands in for the terminal prompt and stdin (default: neither). */
export async function graftctl(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  input: Pick<GraftctlIo, 'readSecret' | 'readStdin'> = {},
): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const code = await runGraftctl(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
    ...input,
  });
  return { code, stdout, stderr };
}

/** Run bin/graftctl as a child process (bounded by `timeoutMs`). */
export function graftctlProcess(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [GRAFTCTL_BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`graftctl ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Assert-friendly: the non-empty lines of `text`. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}
