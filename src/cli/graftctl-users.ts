/**
 * `graftctl user …` and `graftctl token …`: editing the users-and-roles file (graftd -auth-file)
 * offline, on the machine that holds it.
 *
 * Why in graftctl and not an HTTP endpoint: the file is what lets anyone in, so it is changed
 * by whoever can write it (root on the node), not over the network; and access must be
 * recoverable when no node is up. The nodes read it again on SIGHUP. Passwords are stored as
 * scrypt hashes and tokens as SHA-256 hashes (src/security/auth-file.ts); a new token is shown
 * once and never stored.
 */
import fs from 'node:fs';
import { type Command, Option } from 'commander';
import type { AuthFile, Role } from '../security/auth-file.ts';
import { passwordFromEnv } from './graftctl-credentials.ts';
import { CommandFailure, EXIT_USAGE, formatTable, type GraftctlIo, printJson, UsageError } from './graftctl-output.ts';

const RELOAD_NOTE = 'running nodes load it on SIGHUP (kill -HUP <graftd pid>)';
const NAME_RE = /^[A-Za-z0-9_.@-]{1,64}$/;

function example(lines: string): string {
  return `\nExample:\n${lines
    .split('\n')
    .map((line) => `  $ ${line}`)
    .join('\n')}\n`;
}

function checkName(kind: string, name: string): void {
  if (!NAME_RE.test(name)) throw new UsageError(`invalid ${kind} name "${name}": expected 1-64 of A-Z a-z 0-9 _ . @ -`);
}

/**
 * The auth-file code, loaded only by these commands: it brings node:crypto (scrypt), which
 * every other graftctl command would pay for at start-up.
 */
const authFile = (): Promise<typeof import('../security/auth-file.ts')> => import('../security/auth-file.ts');

/** The roles offered by --role: the same list as auth-file.ts's ROLES (checked by the compiler both ways). */
const ROLE_CHOICES = ['read', 'write', 'admin'] as const satisfies readonly Role[];
const everyRoleOffered: [Exclude<Role, (typeof ROLE_CHOICES)[number]>] extends [never] ? true : false = true;
void everyRoleOffered;

/** The file's contents, or an empty file when it does not exist yet (`create`), else a failure. */
async function load(file: string, create: boolean): Promise<AuthFile> {
  const { emptyAuthFile, loadAuthFile } = await authFile();
  if (create && !fs.existsSync(file)) return emptyAuthFile();
  return loadAuthFile(file);
}

async function save(file: string, auth: AuthFile): Promise<void> {
  const { writeAuthFile } = await authFile();
  try {
    writeAuthFile(file, auth);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new CommandFailure(`cannot write ${file}: ${reason}`, 'GRAFTCTL_FILE', 1);
  }
}

/** The new user's password: --password-stdin, else GRAFTCTL_PASSWORD, else asked twice on the terminal. */
async function newPassword(io: GraftctlIo, name: string, fromStdin: boolean): Promise<string> {
  let password: string | undefined;
  if (fromStdin) {
    if (io.readStdin === undefined) throw new UsageError('--password-stdin: there is no stdin to read');
    password = (await io.readStdin()).replace(/\r?\n$/, '');
  } else {
    password = passwordFromEnv(io);
    if (password === undefined) {
      if (io.readSecret === undefined) {
        throw new UsageError('no password: use --password-stdin or GRAFTCTL_PASSWORD, or run graftctl on a terminal to be asked');
      }
      password = await io.readSecret(`New password for ${name}: `);
      const again = await io.readSecret('Repeat it: ');
      if (again !== password) throw new CommandFailure('the two passwords differ; nothing was changed', 'GRAFTCTL_PASSWORD_MISMATCH', 1);
    }
  }
  if (password === '') throw new CommandFailure('the password is empty; nothing was changed', 'GRAFTCTL_PASSWORD_EMPTY', EXIT_USAGE);
  return password;
}

const roleOption = (): Option =>
  new Option('--role <role>', 'what it may do: read (GET), write (also POST/DELETE keys), admin (everything)')
    .choices(ROLE_CHOICES)
    .makeOptionMandatory();
const fileOption = (): Option => new Option('--auth-file <file>', 'the users-and-roles file (graftd -auth-file)').makeOptionMandatory();

/** Register `user add|list|remove` and `token add|remove` on `program`. */
export function registerAuthFileCommands(program: Command, io: GraftctlIo, json: () => boolean): void {
  const ok = (text: string, value: unknown): void => {
    if (json()) printJson(io, value);
    else io.stdout(`${text}\n`);
  };

  const user = program
    .command('user')
    .description('manage the users of an auth file (offline; contacts no cluster)')
    .addHelpText(
      'after',
      example(
        'graftctl user add alice --role write --auth-file /etc/graftd/auth.json\ngraftctl user list --auth-file /etc/graftd/auth.json',
      ),
    );

  user
    .command('add')
    .description('add a user, or replace its role and password (creates the file, mode 0600)')
    .argument('<name>', 'the user name')
    .addOption(roleOption())
    .addOption(fileOption())
    .option('--password-stdin', 'read the password from stdin (else $GRAFTCTL_PASSWORD, else a prompt on the terminal)', false)
    .addHelpText(
      'after',
      `${example('graftctl user add alice --role admin --auth-file auth.json\necho -n "$PW" | graftctl user add ci --role write --auth-file auth.json --password-stdin')}\nThen reload the nodes: kill -HUP <graftd pid> on each.\n`,
    )
    .action(async (name: string, options: { role: Role; authFile: string; passwordStdin: boolean }) => {
      checkName('user', name);
      const before = await load(options.authFile, true);
      const password = await newPassword(io, name, options.passwordStdin);
      const replaced = before.users.some((u) => u.name === name);
      await save(options.authFile, await (await authFile()).withUser(before, name, options.role, password));
      ok(`OK: user ${name} (${options.role}) ${replaced ? 'replaced' : 'added'} in ${options.authFile}; ${RELOAD_NOTE}`, {
        ok: true,
        user: name,
        role: options.role,
        replaced,
        file: options.authFile,
      });
    });

  user
    .command('list')
    .description('list the users and tokens of an auth file (names and roles only)')
    .addOption(fileOption())
    .addHelpText('after', example('graftctl user list --auth-file auth.json --json'))
    .action(async (options: { authFile: string }) => {
      const auth = await load(options.authFile, false);
      const users = auth.users.map((u) => ({ name: u.name, role: u.role }));
      const tokens = auth.tokens.map((t) => ({ name: t.name, role: t.role }));
      if (json()) return printJson(io, { users, tokens });
      const rows = [...users.map((u) => [u.name, u.role, 'user']), ...tokens.map((t) => [t.name, t.role, 'token'])];
      io.stdout(formatTable(['NAME', 'ROLE', 'KIND'], rows));
    });

  user
    .command('remove')
    .description('remove a user from an auth file')
    .argument('<name>', 'the user name')
    .addOption(fileOption())
    .addHelpText(
      'after',
      `${example('graftctl user remove alice --auth-file auth.json')}\nThen reload the nodes: kill -HUP <graftd pid> on each.\n`,
    )
    .action(async (name: string, options: { authFile: string }) => {
      const auth = await load(options.authFile, false);
      if (!auth.users.some((u) => u.name === name)) {
        throw new CommandFailure(`no user ${name} in ${options.authFile}`, 'GRAFTCTL_NO_SUCH_USER', 1);
      }
      await save(options.authFile, { ...auth, users: auth.users.filter((u) => u.name !== name) });
      ok(`OK: user ${name} removed from ${options.authFile}; ${RELOAD_NOTE}`, { ok: true, user: name, file: options.authFile });
    });

  const token = program
    .command('token')
    .description('manage the bearer tokens of an auth file (offline; contacts no cluster)')
    .addHelpText(
      'after',
      example('graftctl token add ci --role write --auth-file auth.json\ngraftctl token remove ci --auth-file auth.json'),
    );

  token
    .command('add')
    .description('create a token (or replace the one of that name); prints it once on stdout, stores only its hash')
    .argument('<name>', 'a name for the token (e.g. who uses it)')
    .addOption(roleOption())
    .addOption(fileOption())
    .addHelpText(
      'after',
      `${example('graftctl token add ci --role write --auth-file auth.json\nGRAFTD_TOKEN=$(graftctl token add ci --role write --auth-file auth.json) graftctl get user')}\nThe token cannot be shown again; lose it and add a new one. Then reload the nodes: kill -HUP <graftd pid>.\n`,
    )
    .action(async (name: string, options: { role: Role; authFile: string }) => {
      checkName('token', name);
      const before = await load(options.authFile, true);
      const { auth, token: secret } = (await authFile()).withToken(before, name, options.role);
      await save(options.authFile, auth);
      if (json()) return printJson(io, { ok: true, token: secret, name, role: options.role, file: options.authFile });
      io.stdout(`${secret}\n`);
      io.stderr(
        `graftctl: token ${name} (${options.role}) saved in ${options.authFile} as a hash; it is shown only this once; ${RELOAD_NOTE}\n`,
      );
    });

  token
    .command('remove')
    .description('revoke a token')
    .argument('<name>', 'the token name')
    .addOption(fileOption())
    .addHelpText(
      'after',
      `${example('graftctl token remove ci --auth-file auth.json')}\nThen reload the nodes: kill -HUP <graftd pid> on each.\n`,
    )
    .action(async (name: string, options: { authFile: string }) => {
      const auth = await load(options.authFile, false);
      if (!auth.tokens.some((t) => t.name === name)) {
        throw new CommandFailure(`no token ${name} in ${options.authFile}`, 'GRAFTCTL_NO_SUCH_TOKEN', 1);
      }
      await save(options.authFile, { ...auth, tokens: auth.tokens.filter((t) => t.name !== name) });
      ok(`OK: token ${name} removed from ${options.authFile}; ${RELOAD_NOTE}`, { ok: true, token: name, file: options.authFile });
    });
}
