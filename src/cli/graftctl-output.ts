/**
 * graftctl's output: aligned tables, JSON, and the one-line error format.
 *
 * Why separate: every subcommand prints through the same few functions, so `--json` and the
 * "one readable line on stderr, no stack trace" rule hold everywhere by construction.
 */
import { GraftdClientError } from '../client/errors.ts';

/** Where graftctl writes (process streams in production, buffers in tests). */
export interface GraftctlIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Ask for a secret on the terminal with echo off; absent when stdin is not a terminal. */
  readonly readSecret?: (prompt: string) => Promise<string>;
  /** All of stdin (`--password-stdin`); absent when there is none to read. */
  readonly readStdin?: () => Promise<string>;
}

/** Exit codes (documented in --help and docs/operations.md). */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
export const EXIT_NOT_FOUND = 3;

/** A wrong command line that commander cannot detect by itself (exit 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure that carries its own exit code and machine code (e.g. key not found → 3). */
export class CommandFailure extends Error {
  readonly exitCode: number;
  readonly code: string;
  /** The command already printed its JSON result (e.g. a partial status table): print no error object on stdout. */
  readonly resultPrinted: boolean;
  constructor(message: string, code: string, exitCode: number, resultPrinted = false) {
    super(message);
    this.name = 'CommandFailure';
    this.code = code;
    this.exitCode = exitCode;
    this.resultPrinted = resultPrinted;
  }
}

/** Collapse any message to one line (no stack traces, no multi-line server texts). */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** Render rows as an aligned text table with a header row. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** Print `value` as one JSON line. */
export function printJson(io: GraftctlIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value)}\n`);
}

/** Map any thrown error to (message, code, exit code). */
export function classifyError(err: unknown): { message: string; code: string; exitCode: number } {
  if (err instanceof CommandFailure) return { message: err.message, code: err.code, exitCode: err.exitCode };
  if (err instanceof UsageError) return { message: err.message, code: 'GRAFTCTL_USAGE', exitCode: EXIT_USAGE };
  if (err instanceof GraftdClientError) {
    const exitCode = err.code === 'GRAFTD_CLIENT_BAD_ARGUMENT' ? EXIT_USAGE : EXIT_ERROR;
    const unknown = err.outcomeUnknown ? ' (outcome unknown: the change may or may not have been applied)' : '';
    const already = err.message.includes('outcome is unknown') || err.message.includes('outcome unknown');
    return { message: err.message + (already ? '' : unknown), code: err.code, exitCode };
  }
  const code =
    err !== null && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'string'
      ? (err as { code: string }).code
      : 'GRAFTCTL_ERROR';
  return { message: err instanceof Error ? err.message : String(err), code, exitCode: EXIT_ERROR };
}

/** Report a failure: one line on stderr; with --json also `{"error","code"}` on stdout. Returns the exit code. */
export function reportError(io: GraftctlIo, err: unknown, json: boolean): number {
  const { message, code, exitCode } = classifyError(err);
  io.stderr(`graftctl: ${oneLine(message)}\n`);
  const printed = err instanceof CommandFailure && err.resultPrinted;
  if (json && !printed) printJson(io, { error: oneLine(message), code, exitCode });
  return exitCode;
}
