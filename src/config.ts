/**
 * The graftd server's configuration: flags, environment variables and defaults, parsed and
 * validated in one place into plain objects that are passed on (issue 12).
 *
 * Why one module: the settings used to be read where they were used — JOIN_TIMEOUT in the CLI,
 * GRAFTD_TEST_FAULT at module load of the HTTP key routes, credentials for -join deep in the join
 * code — so a typo in one surfaced late, or never, and no list said what graftd reads. Here every
 * value is read once at start-up (a bad one is one readable line and exit 1, before anything is
 * written), and the rest of the code receives what it needs as arguments: the HTTP layer gets the
 * test-fault switch from `createHttpServer({ testFault })`, the runtime gets `RuntimeConfig`.
 *
 * The runtime's tuning knobs (ELECTION_TIMEOUT, …) are parsed by src/node/config.ts, re-exported
 * here; the flags by src/cli/flags.ts (commander); this module composes them and adds the rest.
 */
import type { GraftdClientAuth } from './client/index.ts';
import { type GraftdArgs, parseGraftdArgs } from './cli/flags.ts';
import { GraftdError } from './errors.ts';
import { requestLogEnabled } from './http/request-log.ts';
import { DEFAULT_WATCH_LIMITS, type WatchLimits } from './http/watch-hub.ts';
import { DEFAULT_HISTORY_LIMITS, type HistoryLimits } from './kv/history.ts';
import { type LogFormat, logFormat } from './log.ts';
import { DEFAULT_RUNTIME_CONFIG, type RuntimeConfig, type TestFault, electionTicks, parseRuntimeConfig } from './node/config.ts';

export { DEFAULT_RUNTIME_CONFIG, electionTicks, parseRuntimeConfig, parseGraftdArgs };
export type { GraftdArgs, RuntimeConfig, TestFault };

/** Environment variables, as process.env holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Everything `graftd` needs to start, validated. */
export interface ServerConfig {
  /** Flags and the env vars standing for them (security files). */
  readonly args: GraftdArgs;
  /** Timing and retention knobs of the runtime, and the test-fault switch. */
  readonly runtime: RuntimeConfig;
  /** Total time -join keeps retrying discovery and the join request (JOIN_TIMEOUT ms, default 120 000). */
  readonly joinTimeoutMs: number;
  /** Admin credentials for -join into a cluster with users (GRAFTD_TOKEN, else GRAFTD_USER + GRAFTD_PASSWORD). */
  readonly joinCredentials: GraftdClientAuth | undefined;
  /** LOG_LEVEL (default info). */
  readonly logLevel: LogLevel;
  /** LOG_FORMAT; unset: pretty on a terminal, JSON otherwise. */
  readonly logFormat: LogFormat;
  /** LOG_REQUESTS=1: one log line per answered HTTP request. */
  readonly logRequests: boolean;
  /** Watch streams: caps and progress interval (WATCH_MAX, WATCH_MAX_PER_ADDRESS, WATCH_BUFFER_BYTES, WATCH_PROGRESS_INTERVAL). */
  readonly watch: WatchLimits;
  /** The change history watches resume from (WATCH_HISTORY_REVISIONS, WATCH_HISTORY_BYTES). */
  readonly watchHistory: HistoryLimits;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_JOIN_TIMEOUT_MS = 120_000;

export type ServerConfigResult =
  | { readonly kind: 'run'; readonly config: ServerConfig }
  /** --help / --version (exit 0, text on stdout) or a mistake (exit 1 or 2, one line for stderr). */
  | { readonly kind: 'exit'; readonly text: string; readonly exitCode: number };

function badConfig(message: string): GraftdError {
  return new GraftdError('GRAFTD_BAD_CONFIG', message);
}

/** A whole number of milliseconds in [min, max] from `env[name]`; unset or blank → fallback. */
export function envMs(env: Env, name: string, fallback: number, min = 1, max = 86_400_000): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const text = raw.trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max)
    throw badConfig(`${name} must be a whole number of milliseconds from ${min} to ${max}, found "${raw}"`);
  return value;
}

/** LOG_LEVEL: one of pino's levels (any case); unset → info. */
export function logLevel(env: Env): LogLevel {
  const raw = env.LOG_LEVEL?.trim().toLowerCase() ?? '';
  if (raw === '') return 'info';
  if ((LOG_LEVELS as readonly string[]).includes(raw)) return raw as LogLevel;
  throw badConfig(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, found "${env.LOG_LEVEL}"`);
}

/** Credentials for joining a cluster with users and no secret: GRAFTD_TOKEN, else GRAFTD_USER + GRAFTD_PASSWORD (or GRAFTCTL_PASSWORD). */
export function joinCredentials(env: Env): GraftdClientAuth | undefined {
  const token = env.GRAFTD_TOKEN;
  if (token !== undefined && token !== '') return { token };
  const user = env.GRAFTD_USER;
  const password = env.GRAFTD_PASSWORD ?? env.GRAFTCTL_PASSWORD;
  return user !== undefined && user !== '' && password !== undefined ? { user, password } : undefined;
}

/** A whole number in [min, max] from `env[name]`; unset or blank → fallback. */
export function envCount(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const text = raw.trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max)
    throw badConfig(`${name} must be a whole number from ${min} to ${max}, found "${raw}"`);
  return value;
}

/** WATCH_MAX, WATCH_MAX_PER_ADDRESS, WATCH_BUFFER_BYTES, WATCH_PROGRESS_INTERVAL (docs/operations.md). */
export function watchLimits(env: Env): WatchLimits {
  const d = DEFAULT_WATCH_LIMITS;
  return {
    maxWatchers: envCount(env, 'WATCH_MAX', d.maxWatchers, 0, 1_000_000),
    maxPerAddress: envCount(env, 'WATCH_MAX_PER_ADDRESS', d.maxPerAddress, 0, 1_000_000),
    maxBufferBytes: envCount(env, 'WATCH_BUFFER_BYTES', d.maxBufferBytes, 1024, 1024 * 1024 * 1024),
    progressIntervalMs: envMs(env, 'WATCH_PROGRESS_INTERVAL', d.progressIntervalMs, 100, 3_600_000),
  };
}

/** WATCH_HISTORY_REVISIONS, WATCH_HISTORY_BYTES (docs/operations.md). */
export function watchHistoryLimits(env: Env): HistoryLimits {
  const d = DEFAULT_HISTORY_LIMITS;
  return {
    maxRevisions: envCount(env, 'WATCH_HISTORY_REVISIONS', d.maxRevisions, 1, 100_000_000),
    maxBytes: envCount(env, 'WATCH_HISTORY_BYTES', d.maxBytes, 0, 64 * 1024 * 1024 * 1024),
  };
}

/**
 * Parse `argv` (without node and script) and `env` into the server's configuration. Never throws
 * for a user's mistake: that is `{ kind: 'exit', exitCode: 1, text }` with one readable line.
 */
export function loadServerConfig(
  argv: readonly string[],
  env: Env,
  opts: { localIp?: () => string; tty?: boolean } = {},
): ServerConfigResult {
  const parsed = opts.localIp === undefined ? parseGraftdArgs(argv, undefined, env) : parseGraftdArgs(argv, opts.localIp, env);
  if (parsed.kind === 'exit') return parsed;
  try {
    return {
      kind: 'run',
      config: {
        args: parsed.args,
        runtime: parseRuntimeConfig(env),
        joinTimeoutMs: envMs(env, 'JOIN_TIMEOUT', DEFAULT_JOIN_TIMEOUT_MS),
        joinCredentials: joinCredentials(env),
        logLevel: logLevel(env),
        logFormat: logFormat(env, opts.tty ?? process.stderr.isTTY === true),
        logRequests: requestLogEnabled(env),
        watch: watchLimits(env),
        watchHistory: watchHistoryLimits(env),
      },
    };
  } catch (err) {
    return { kind: 'exit', exitCode: 1, text: err instanceof Error ? err.message : String(err) };
  }
}
