/**
 * graftctl in secure mode, in-process: --cacert/--cert/--key/--user/--token and their GRAFTD_*
 * environment defaults against a scripted https server, the password sources (environment,
 * alias, terminal prompt, none → exit 2), usage and file errors as one line with exit 2, and
 * the offline auth-file commands (user add/list/remove, token add/remove) in temp directories.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { findToken, loadAuthFile, verifyPassword } from '../../src/security/auth-file.ts';
import { createTestPki, type TestPki } from '../helpers/certs.ts';
import { graftctl, lines, type RunResult } from './helpers.ts';
import { authHandler, BASIC_OK, type Fake, IP, pem, serve } from './tls-helpers.ts';

/** Nothing listens here: commands that must stay offline would fail naming it. */
const DEAD = '127.0.0.51:19094';

let pki: TestPki;
let server: Fake;
let mtls: Fake;
let dir: string;

before(async () => {
  pki = createTestPki();
  const pair = pki.issue('graftctl-server', { ips: [IP] });
  server = await serve({ cert: pem(pair.cert), key: pem(pair.key) }, authHandler);
  mtls = await serve(
    { cert: pem(pair.cert), key: pem(pair.key), ca: pem(pki.ca), requestCert: true, rejectUnauthorized: true },
    authHandler,
  );
  dir = mkdtempSync(join(tmpdir(), 'graftctl-security-'));
});
after(async () => {
  await server.close();
  await mtls.close();
  pki.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function oneLineFailure(r: RunResult, code: number, pattern: RegExp, what: string): void {
  assert.equal(r.code, code, `${what}: exit ${r.code}: ${r.stderr}`);
  assert.equal(lines(r.stderr).length, 1, `${what}: ${r.stderr}`);
  assert.match(r.stderr, /^graftctl: /, what);
  assert.match(r.stderr, pattern, what);
  assert.doesNotMatch(r.stderr, /\n\s+at |fetch failed/, what);
}

function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

test('--cacert + --user with GRAFTCTL_PASSWORD (or GRAFTD_PASSWORD) sends Basic over https', async () => {
  const before = server.requests.length;
  const args = ['--endpoints', server.endpoint, '--cacert', pki.ca, '--user', 'alice', 'get', 'k'];
  assert.equal(ok(await graftctl(args, { GRAFTCTL_PASSWORD: 's3cret' }), 'GRAFTCTL_PASSWORD'), 'v\n');
  assert.equal(ok(await graftctl(args, { GRAFTD_PASSWORD: 's3cret' }), 'GRAFTD_PASSWORD alias'), 'v\n');
  assert.deepEqual(server.requests.slice(before), [`GET /key/k ${BASIC_OK}`, `GET /key/k ${BASIC_OK}`]);
});

test('environment defaults: GRAFTD_CACERT, GRAFTD_USER, GRAFTD_TOKEN; a flag overrides the environment', async () => {
  const before = server.requests.length;
  const env = { GRAFTD_ENDPOINTS: server.endpoint, GRAFTD_CACERT: pki.ca };
  ok(await graftctl(['get', 'k'], { ...env, GRAFTD_TOKEN: 'gtd_read' }), 'GRAFTD_TOKEN');
  ok(await graftctl(['get', 'k'], { ...env, GRAFTD_USER: 'alice', GRAFTCTL_PASSWORD: 's3cret' }), 'GRAFTD_USER');
  ok(await graftctl(['--token', 'gtd_read', 'get', 'k'], { ...env, GRAFTD_USER: 'alice' }), '--token over GRAFTD_USER');
  ok(
    await graftctl(['--user', 'alice', 'get', 'k'], { ...env, GRAFTD_TOKEN: 'gtd_other', GRAFTCTL_PASSWORD: 's3cret' }),
    '--user over GRAFTD_TOKEN',
  );
  ok(
    await graftctl(['--endpoints', `https://${server.endpoint}`, '--token', 'gtd_read', 'get', 'k'], { GRAFTD_CACERT: pki.ca }),
    'https:// endpoint',
  );
  assert.deepEqual(server.requests.slice(before), [
    'GET /key/k Bearer gtd_read',
    `GET /key/k ${BASIC_OK}`,
    'GET /key/k Bearer gtd_read',
    `GET /key/k ${BASIC_OK}`,
    'GET /key/k Bearer gtd_read',
  ]);
});

test('--user without a password in the environment asks on the terminal (echo off), and only then', async () => {
  const prompts: string[] = [];
  const readSecret = async (prompt: string): Promise<string> => {
    prompts.push(prompt);
    return 's3cret';
  };
  const args = ['--endpoints', server.endpoint, '--cacert', pki.ca, '--user', 'alice', 'set', 'k', 'v'];
  assert.equal(ok(await graftctl(args, {}, { readSecret }), 'prompt'), 'OK\n');
  assert.deepEqual(prompts, ['Password for alice: ']);
  ok(await graftctl(args, { GRAFTCTL_PASSWORD: 's3cret' }, { readSecret }), 'env wins');
  assert.equal(prompts.length, 1, 'no prompt when the environment has the password');
});

test('--cert/--key present a client certificate (mutual TLS); without them the refusal is one readable line', async () => {
  const client = pki.issue('graftctl-operator');
  const base = ['--endpoints', mtls.endpoint, '--cacert', pki.ca, '--token', 'gtd_read', '--retries', '0'];
  ok(await graftctl([...base, '--cert', client.cert, '--key', client.key, 'get', 'k']), 'with cert');
  ok(
    await graftctl(['--token', 'gtd_read', 'get', 'k'], {
      GRAFTD_ENDPOINTS: mtls.endpoint,
      GRAFTD_CACERT: pki.ca,
      GRAFTD_CERT: client.cert,
      GRAFTD_KEY: client.key,
    }),
    'env cert',
  );
  assert.deepEqual(mtls.peers, ['graftctl-operator', 'graftctl-operator']);
  const r = await graftctl([...base, '--json', 'set', 'k', 'v']);
  oneLineFailure(r, 1, /requires a client certificate \(give --cert and --key\)/, 'no cert');
  assert.match(r.stderr, new RegExp(`https://${mtls.endpoint.replaceAll('.', '\\.')}: TLS`));
  assert.doesNotMatch(r.stderr, /outcome unknown/);
  assert.equal((JSON.parse(r.stdout) as { code: string }).code, 'GRAFTD_CLIENT_TLS');
  assert.equal(mtls.requests.length, 2);
});

test('TLS and auth failures from the server: exit 1, one line, the server code in --json', async () => {
  const wrongCa = await graftctl(['--endpoints', server.endpoint, '--cacert', pki.otherCa, '--retries', '0', 'get', 'k']);
  oneLineFailure(wrongCa, 1, /not signed by a CA we trust \(give the cluster's CA with --cacert\)/, 'wrong CA');
  const noCa = await graftctl(['--endpoints', `https://${server.endpoint}`, '--retries', '0', 'get', 'k']);
  oneLineFailure(noCa, 1, /not signed by a CA we trust/, 'system CAs');
  const none = await graftctl(['--endpoints', server.endpoint, '--cacert', pki.ca, '--json', 'get', 'k']);
  oneLineFailure(none, 1, /authentication required \(the cluster requires credentials/, 'no credentials');
  assert.equal((JSON.parse(none.stdout) as { code: string }).code, 'GRAFTD_UNAUTHORIZED');
  const wrong = await graftctl(['--endpoints', server.endpoint, '--cacert', pki.ca, '--user', 'alice', 'get', 'k'], {
    GRAFTCTL_PASSWORD: 'nope',
  });
  oneLineFailure(wrong, 1, /the credentials were refused/, 'wrong password');
  const forbidden = await graftctl(['--endpoints', server.endpoint, '--cacert', pki.ca, '--token', 'gtd_read', '--json', 'set', 'k', 'v']);
  oneLineFailure(forbidden, 1, /role does not allow this/, 'read role writes');
  assert.equal((JSON.parse(forbidden.stdout) as { code: string }).code, 'GRAFTD_FORBIDDEN');
});

test('bad security options: one line, exit 2, before any network use', async () => {
  const notPem = join(dir, 'not.pem');
  writeFileSync(notPem, 'hello');
  const client = pki.issue('mismatch-a');
  const other = pki.issue('mismatch-b');
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--user', 'alice', 'get', 'k'], {}, /no password for the user: set GRAFTCTL_PASSWORD, or run graftctl on a terminal/],
    [['--user', 'alice', '--token', 't', 'get', 'k'], {}, /either --user or --token/],
    [['get', 'k'], { GRAFTD_USER: 'a', GRAFTD_TOKEN: 't' }, /both GRAFTD_USER and GRAFTD_TOKEN/],
    [['--cert', client.cert, 'get', 'k'], {}, /--cert needs --key/],
    [['get', 'k'], { GRAFTD_KEY: client.key }, /--key needs --cert/],
    [['--cacert', join(dir, 'missing.pem'), 'get', 'k'], {}, /cannot read --cacert .*missing\.pem: ENOENT/],
    [['--cacert', notPem, 'get', 'k'], {}, /--cacert .*not\.pem is not a PEM file/],
    [['--cacert', pki.ca, '--cert', client.cert, '--key', dir, 'get', 'k'], {}, /cannot read --key .*: EISDIR/],
    [['--cacert', pki.ca, '--cert', client.cert, '--key', other.key, 'get', 'k'], {}, /unusable TLS material: .*key values mismatch/],
    [['--endpoints', `http://${DEAD}`, '--cacert', pki.ca, 'get', 'k'], {}, /http:\/\/ endpoints together with TLS options/],
    [['--token', 'two words', 'get', 'k'], {}, /token must be/],
  ];
  for (const [args, env, pattern] of cases) {
    const r = await graftctl(args, { GRAFTD_ENDPOINTS: DEAD, ...env });
    oneLineFailure(r, 2, pattern, args.join(' '));
    assert.doesNotMatch(r.stderr, /cannot reach/, `${args.join(' ')}: must fail before any request`);
  }
});

test('user add creates the file (0600) with a scrypt hash; replace, --password-stdin, prompt twice', async () => {
  const file = join(dir, 'users.json');
  const offline = { GRAFTD_ENDPOINTS: DEAD };
  const added = await graftctl(['user', 'add', 'alice', '--role', 'admin', '--auth-file', file], { ...offline, GRAFTCTL_PASSWORD: 'pw1' });
  assert.match(ok(added, 'add'), /^OK: user alice \(admin\) added in .*; running nodes load it on SIGHUP/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  let auth = loadAuthFile(file);
  assert.equal(auth.users.length, 1);
  assert.ok(await verifyPassword('pw1', auth.users[0]!.password));
  assert.doesNotMatch(readFileSync(file, 'utf8'), /pw1/);

  const stdin = await graftctl(['--json', 'user', 'add', 'alice', '--role', 'read', '--auth-file', file, '--password-stdin'], offline, {
    readStdin: async () => 'pw2\n',
  });
  assert.deepEqual(JSON.parse(ok(stdin, 'replace')), { ok: true, user: 'alice', role: 'read', replaced: true, file });
  auth = loadAuthFile(file);
  assert.deepEqual(
    auth.users.map((u) => [u.name, u.role]),
    [['alice', 'read']],
  );
  assert.ok(await verifyPassword('pw2', auth.users[0]!.password), 'one trailing newline is not part of the password');

  const asked: string[] = [];
  const answers = ['pw3', 'pw3'];
  const readSecret = async (prompt: string): Promise<string> => {
    asked.push(prompt);
    return answers.shift() ?? '';
  };
  ok(await graftctl(['user', 'add', 'bob', '--role', 'write', '--auth-file', file], offline, { readSecret }), 'prompt');
  assert.deepEqual(asked, ['New password for bob: ', 'Repeat it: ']);
  assert.ok(await verifyPassword('pw3', loadAuthFile(file).users.find((u) => u.name === 'bob')!.password));

  const before = readFileSync(file, 'utf8');
  answers.push('one', 'two');
  oneLineFailure(
    await graftctl(['user', 'add', 'carol', '--role', 'read', '--auth-file', file], offline, { readSecret }),
    1,
    /passwords differ/,
    'mismatch',
  );
  oneLineFailure(
    await graftctl(['user', 'add', 'carol', '--role', 'read', '--auth-file', file], offline),
    2,
    /no password: use --password-stdin or GRAFTCTL_PASSWORD/,
    'no tty',
  );
  oneLineFailure(
    await graftctl(['user', 'add', 'carol', '--role', 'read', '--auth-file', file, '--password-stdin'], offline, {
      readStdin: async () => '\n',
    }),
    2,
    /password is empty/,
    'empty',
  );
  assert.equal(readFileSync(file, 'utf8'), before, 'failed adds change nothing');
});

test('user list shows names and roles only; user remove; token add prints the token once and stores its hash', async () => {
  const file = join(dir, 'list.json');
  const offline = { GRAFTD_ENDPOINTS: DEAD, GRAFTCTL_PASSWORD: 'pw' };
  ok(await graftctl(['user', 'add', 'alice', '--role', 'admin', '--auth-file', file], offline), 'add alice');
  ok(await graftctl(['user', 'add', 'bob', '--role', 'read', '--auth-file', file], offline), 'add bob');
  const made = await graftctl(['token', 'add', 'ci', '--role', 'write', '--auth-file', file], offline);
  const token = ok(made, 'token add').trim();
  assert.match(token, /^gtd_[A-Za-z0-9_-]{43}$/);
  assert.match(made.stderr, /shown only this once; running nodes load it on SIGHUP/);
  assert.doesNotMatch(readFileSync(file, 'utf8'), new RegExp(token.slice(4)), 'the token itself is not stored');
  assert.equal(findToken(loadAuthFile(file), token)?.name, 'ci');

  const text = ok(await graftctl(['user', 'list', '--auth-file', file], offline), 'list');
  assert.deepEqual(lines(text), ['NAME   ROLE   KIND', 'alice  admin  user', 'bob    read   user', 'ci     write  token']);
  assert.doesNotMatch(text, /scrypt|sha256/);
  const json = JSON.parse(ok(await graftctl(['--json', 'user', 'list', '--auth-file', file], offline), 'list --json'));
  assert.deepEqual(json, {
    users: [
      { name: 'alice', role: 'admin' },
      { name: 'bob', role: 'read' },
    ],
    tokens: [{ name: 'ci', role: 'write' }],
  });

  ok(await graftctl(['user', 'remove', 'bob', '--auth-file', file], offline), 'remove');
  ok(await graftctl(['token', 'remove', 'ci', '--auth-file', file], offline), 'token remove');
  const left = loadAuthFile(file);
  assert.deepEqual(
    left.users.map((u) => u.name),
    ['alice'],
  );
  assert.deepEqual(left.tokens, []);
  oneLineFailure(await graftctl(['user', 'remove', 'bob', '--auth-file', file], offline), 1, /no user bob in/, 'remove twice');
  oneLineFailure(await graftctl(['token', 'remove', 'ci', '--auth-file', file], offline), 1, /no token ci in/, 'token remove twice');
});

test('auth-file commands: usage errors exit 2, bad or missing files exit 1, one line each, no cluster contacted', async () => {
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{"version": 1, "users": [');
  const offline = { GRAFTD_ENDPOINTS: DEAD, GRAFTCTL_PASSWORD: 'pw' };
  const usage: string[][] = [
    ['user', 'add', 'alice', '--auth-file', join(dir, 'x.json')],
    ['user', 'add', 'alice', '--role', 'root', '--auth-file', join(dir, 'x.json')],
    ['user', 'add', 'alice', '--role', 'read'],
    ['user', 'add', 'bad name', '--role', 'read', '--auth-file', join(dir, 'x.json')],
    ['user', 'list'],
    ['token', 'add', 'ci', '--auth-file', join(dir, 'x.json')],
    ['user', 'frobnicate'],
  ];
  for (const args of usage) oneLineFailure(await graftctl(args, offline), 2, /./, args.join(' '));
  const failing: [string[], RegExp][] = [
    [['user', 'list', '--auth-file', join(dir, 'absent.json')], /cannot read it \(ENOENT\)/],
    [['user', 'add', 'a', '--role', 'read', '--auth-file', broken], /not valid JSON/],
    [['token', 'add', 'a', '--role', 'read', '--auth-file', join(dir, 'no-dir', 'a.json')], /cannot write .*no-dir.*ENOENT/],
  ];
  for (const [args, pattern] of failing) {
    const r = await graftctl([...args, '--json'], offline);
    oneLineFailure(r, 1, pattern, args.join(' '));
    assert.deepEqual(Object.keys(JSON.parse(r.stdout) as object).sort(), ['code', 'error', 'exitCode']);
  }
});

test('--help documents the security flags, their environment variables and examples', async () => {
  const r = await graftctl(['--help']);
  assert.equal(r.code, 0);
  for (const word of [
    '--cacert <file>',
    '--cert <file>',
    '--key <file>',
    '--user <name>',
    '--token <token>',
    'GRAFTD_CACERT',
    'GRAFTD_CERT',
    'GRAFTD_KEY',
    'GRAFTD_USER',
    'GRAFTD_TOKEN',
    'GRAFTCTL_PASSWORD',
    'GRAFTD_PASSWORD',
  ]) {
    assert.ok(r.stdout.includes(word), word);
  }
  assert.match(r.stdout, /\$ graftctl --endpoints https:\/\/\S+ --cacert ca\.crt --user admin status/);
  for (const sub of [
    ['user', 'add'],
    ['user', 'list'],
    ['user', 'remove'],
    ['token', 'add'],
    ['token', 'remove'],
  ]) {
    const help = await graftctl([...sub, '--help']);
    assert.equal(help.code, 0, sub.join(' '));
    assert.match(help.stdout, /Example:\n {2}\$ graftctl /, sub.join(' '));
  }
  assert.match((await graftctl(['user', 'add', '--help'])).stdout, /kill -HUP/);
});
