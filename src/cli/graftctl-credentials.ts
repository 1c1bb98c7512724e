/**
 * graftctl's connection security: --cacert/--cert/--key, --user (password from the environment
 * or a prompt) and --token, each with a GRAFTD_* environment default, turned into
 * GraftdClient's `tls` and `auth` options.
 *
 * Why its own module: the precedence rules (flag over environment, user xor token, cert with
 * key) and the failure messages ("cannot read --cacert ca.pem: ENOENT") are the part operators
 * get wrong, and they are tested without a cluster.
 */
import { readFile } from 'node:fs/promises';
import type { GraftdClientAuth, GraftdClientTls } from '../client/index.ts';
import { CommandFailure, EXIT_USAGE, type GraftctlIo, UsageError } from './graftctl-output.ts';

/** The global flags this module reads (undefined when not given). */
export interface SecurityFlags {
  readonly cacert?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly user?: string;
  readonly token?: string;
}

/** What GraftdClient gets. */
export interface ClientSecurity {
  readonly tls?: GraftdClientTls;
  readonly auth?: GraftdClientAuth;
}

/** The environment variables, in the order --help lists them. */
export const SECURITY_ENV = {
  cacert: 'GRAFTD_CACERT',
  cert: 'GRAFTD_CERT',
  key: 'GRAFTD_KEY',
  user: 'GRAFTD_USER',
  token: 'GRAFTD_TOKEN',
} as const;

/** Where a password comes from when --user is given without a prompt (GRAFTD_PASSWORD is an alias). */
export const PASSWORD_ENV = ['GRAFTCTL_PASSWORD', 'GRAFTD_PASSWORD'] as const;

/** A non-empty value from the environment, else undefined. */
function fromEnv(io: GraftctlIo, name: string): string | undefined {
  const value = io.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The password in GRAFTCTL_PASSWORD (or GRAFTD_PASSWORD), if set and non-empty. */
export function passwordFromEnv(io: GraftctlIo): string | undefined {
  return PASSWORD_ENV.map((name) => fromEnv(io, name)).find((value) => value !== undefined);
}

/** Read one PEM file named by `flag`; unreadable or not PEM → one line, exit 2. */
async function readPem(flag: string, file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new CommandFailure(`cannot read ${flag} ${file}: ${reason}`, 'GRAFTCTL_FILE', EXIT_USAGE);
  }
  if (!text.includes('-----BEGIN ')) {
    throw new CommandFailure(`${flag} ${file} is not a PEM file (no "-----BEGIN" line)`, 'GRAFTCTL_FILE', EXIT_USAGE);
  }
  return text;
}

async function tlsOf(flags: SecurityFlags, io: GraftctlIo): Promise<GraftdClientTls | undefined> {
  const cacert = flags.cacert ?? fromEnv(io, SECURITY_ENV.cacert);
  const cert = flags.cert ?? fromEnv(io, SECURITY_ENV.cert);
  const key = flags.key ?? fromEnv(io, SECURITY_ENV.key);
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError(cert === undefined ? '--key needs --cert (or GRAFTD_CERT)' : '--cert needs --key (or GRAFTD_KEY)');
  }
  if (cacert === undefined && cert === undefined) return undefined;
  const tls: { ca?: string; cert?: string; key?: string } = {};
  if (cacert !== undefined) tls.ca = await readPem('--cacert', cacert);
  if (cert !== undefined && key !== undefined) {
    tls.cert = await readPem('--cert', cert);
    tls.key = await readPem('--key', key);
  }
  return tls;
}

async function authOf(flags: SecurityFlags, io: GraftctlIo): Promise<GraftdClientAuth | undefined> {
  if (flags.user !== undefined && flags.token !== undefined) throw new UsageError('give either --user or --token, not both');
  // A flag of one kind overrides the environment of both kinds.
  const user = flags.user ?? (flags.token === undefined ? fromEnv(io, SECURITY_ENV.user) : undefined);
  const token = flags.token ?? (flags.user === undefined ? fromEnv(io, SECURITY_ENV.token) : undefined);
  if (user !== undefined && token !== undefined) throw new UsageError('both GRAFTD_USER and GRAFTD_TOKEN are set: unset one');
  if (token !== undefined) return { token };
  if (user === undefined) return undefined;
  const password = passwordFromEnv(io) ?? (await promptOnce(io, `Password for ${user}: `));
  return { user, password };
}

async function promptOnce(io: GraftctlIo, prompt: string): Promise<string> {
  if (io.readSecret === undefined) {
    throw new UsageError(`no password for the user: set GRAFTCTL_PASSWORD, or run graftctl on a terminal to be asked`);
  }
  return io.readSecret(prompt);
}

/** The client's `tls` and `auth` from the flags and the environment (may prompt for a password). */
export async function clientSecurity(flags: SecurityFlags, io: GraftctlIo): Promise<ClientSecurity> {
  const tls = await tlsOf(flags, io);
  const auth = await authOf(flags, io);
  return { ...(tls === undefined ? {} : { tls }), ...(auth === undefined ? {} : { auth }) };
}
