/**
 * Logging (pino), one logger per node carrying its id: JSON lines, or a readable one-line format
 * for people at a terminal; level names and ISO times in both.
 *
 * Why a wrapper: modules below the runtime (storage, transport) accept the small `Log`
 * interface so they can be tested with a recording fake, while production passes pino.
 * Why our own pretty printer: pino-pretty pulls a dozen dependencies for what is one function
 * over the JSON line pino already made.
 */
import { pino } from 'pino';
import { nullLog } from './storage/null-log.ts';

/** The subset of pino's API that graftd modules use. */
export interface Log {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  fatal(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): Log;
}

export type LogFormat = 'json' | 'pretty';

/** LOG_FORMAT ('json' | 'pretty'); unset: pretty when stderr is a terminal, JSON otherwise. Throws on another value. */
export function logFormat(env: Readonly<Record<string, string | undefined>> = process.env, tty = process.stderr.isTTY === true): LogFormat {
  const raw = env.LOG_FORMAT?.trim().toLowerCase() ?? '';
  if (raw === '') return tty ? 'pretty' : 'json';
  if (raw === 'json' || raw === 'pretty') return raw;
  throw new Error(`LOG_FORMAT must be json or pretty, found "${env.LOG_FORMAT}"`);
}

/** Where log lines go: anything with a write(string) (pino's destination, a test's collector). */
export interface LineSink {
  write(line: string): unknown;
}

/**
 * A logger for node `nodeId`; LOG_LEVEL (default 'info') selects verbosity, LOG_FORMAT the format.
 * Writes to stderr unless `sink` is given (tests).
 */
export function createLogger(
  nodeId: string,
  level: string = process.env.LOG_LEVEL ?? 'info',
  format: LogFormat = logFormat(),
  sink?: LineSink,
): Log {
  const out: LineSink = sink ?? pino.destination(2);
  const stream = format === 'json' ? out : prettySink(out, sink === undefined && process.stderr.isTTY === true);
  return pino(
    {
      level,
      base: { node: nodeId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream as pino.DestinationStream,
  );
}

const COLORS: Record<string, string> = { debug: '\x1b[90m', info: '\x1b[32m', warn: '\x1b[33m', error: '\x1b[31m', fatal: '\x1b[35m' };
const RESET = '\x1b[0m';

/** Turns pino's JSON lines into `TIME LEVEL node msg key=value ...` lines. */
export function prettySink(out: LineSink, color: boolean): LineSink {
  return {
    write(line: string) {
      out.write(prettyLine(line, color));
    },
  };
}

/** One JSON log line as a readable line (unparseable input is passed through). */
export function prettyLine(line: string, color = false): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, node, msg, pid: _pid, hostname: _hostname, ...fields } = rec;
  const lvl = String(level ?? '');
  const tag = lvl.toUpperCase().padEnd(5);
  const parts = [String(time ?? ''), color ? `${COLORS[lvl] ?? ''}${tag}${RESET}` : tag];
  if (node !== undefined) parts.push(`[${String(node)}]`);
  parts.push(String(msg ?? ''));
  for (const [k, v] of Object.entries(fields)) parts.push(`${k}=${prettyValue(v)}`);
  return `${parts.join(' ')}\n`;
}

function prettyValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/**
 * Log fields for an error, keeping what a message alone hides: its code and errno, and those of
 * its causes (undici's fetch rejects with "fetch failed" and puts ECONNREFUSED in `cause`).
 * `err` is the messages of the chain joined with ': '.
 */
export function errFields(err: unknown): { err: string; code?: string; errno?: number; syscall?: string; address?: string } {
  const messages: string[] = [];
  const out: { err: string; code?: string; errno?: number; syscall?: string; address?: string } = { err: '' };
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (typeof current !== 'object') {
      messages.push(String(current));
      break;
    }
    const e = current as {
      message?: unknown;
      code?: unknown;
      errno?: unknown;
      syscall?: unknown;
      address?: unknown;
      port?: unknown;
      cause?: unknown;
    };
    const message = typeof e.message === 'string' ? e.message : String(current);
    if (!messages.some((m) => m.includes(message))) messages.push(message);
    // The innermost code wins (the system error under a wrapper), but a wrapper's own code is kept when none is below.
    if (typeof e.code === 'string') out.code = e.code;
    if (typeof e.errno === 'number') out.errno = e.errno;
    if (typeof e.syscall === 'string') out.syscall = e.syscall;
    if (typeof e.address === 'string') out.address = typeof e.port === 'number' ? `${e.address}:${e.port}` : e.address;
    current = e.cause;
  }
  out.err = messages.join(': ');
  return out;
}

/** A logger that drops everything (tests and the simulator); defined once, beside the storage layer that must not load pino. */
export const silentLog: Log = nullLog;

/** A logger that records entries in memory (tests asserting that a warning was logged). */
export function recordingLog(): Log & { readonly records: { level: string; obj: object; msg: string }[] } {
  const records: { level: string; obj: object; msg: string }[] = [];
  const make = (): Log & { records: typeof records } => ({
    records,
    debug: (obj, msg) => records.push({ level: 'debug', obj, msg }),
    info: (obj, msg) => records.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => records.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => records.push({ level: 'error', obj, msg }),
    fatal: (obj, msg) => records.push({ level: 'fatal', obj, msg }),
    child: () => make(),
  });
  return make();
}
