/**
 * Structured JSON logging (pino), one logger per node carrying its id.
 *
 * Why a wrapper: modules below the runtime (storage, transport) accept the small `Log`
 * interface so they can be tested with a recording fake, while production passes pino.
 */
import { pino } from 'pino';

/** The subset of pino's API that graftd modules use. */
export interface Log {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  fatal(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): Log;
}

/** A logger for node `nodeId`; LOG_LEVEL (default 'info') selects verbosity. Writes JSON lines to stderr. */
export function createLogger(nodeId: string, level: string = process.env.LOG_LEVEL ?? 'info'): Log {
  return pino({ level, base: { node: nodeId } }, pino.destination(2));
}

/** A logger that drops everything (tests and the simulator). */
export const silentLog: Log = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
  child() {
    return silentLog;
  },
};

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
