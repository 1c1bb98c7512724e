/**
 * A logger that drops everything, local to the storage layer.
 *
 * Why not `silentLog` from src/log.ts: importing that module loads pino, which doubles the
 * start-up time of small processes that only need storage (the crash-test child).
 */
import type { Log } from '../log.ts';

export const nullLog: Log = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
  child() {
    return nullLog;
  },
};
