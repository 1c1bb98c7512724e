/**
 * The package as a user gets it: `npm pack`, install the tarball into an empty project without
 * the network, import each entry point, start a one-node server through `graftd/server`, write
 * and read with the `graftd` client, run the installed `graftd` and `graftctl` commands through
 * npx (one of them against that server), and typecheck a TypeScript consumer against the shipped
 * declarations.
 *
 * Why a lockfile for the empty project: `npm install --offline <tarball>` must resolve the
 * tarball's dependency ranges, which needs registry metadata that `npm ci` never caches (it
 * downloads exact tarballs from the lockfile), so it fails with ENOTCACHED even after `npm ci`.
 * The probe project therefore gets a package-lock.json made from this repository's: the tarball
 * as `file:` and every non-dev package at the version and integrity the repository pins; `npm ci
 * --offline` then installs from the tarball and the npm cache alone (filled by the `npm ci` that
 * installed this repository). No registry is contacted; a missing cache entry fails the test.
 *
 * The tarball is built by `npm pack` (its prepack runs `npm run build`) unless dist/ is already a
 * current build (bin/entry.mjs: the stamp is newer than src/), as in CI after `npm run build`.
 * Loopback: 127.0.0.176 (unused elsewhere). Takes ~15 s, ~40 s when it has to build.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
// @ts-expect-error: plain JavaScript module without declarations (the bins' chooser)
import { compiledState } from '../../bin/entry.mjs';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const HOST = '127.0.0.176';
const HTTP = `${HOST}:11761`;
const RAFT = `${HOST}:12761`;
const STEP_TIMEOUT_MS = 120_000;

interface Pkg {
  name: string;
  version: string;
  bin: Record<string, string>;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
}
interface LockEntry {
  dev?: boolean;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Pkg;
let work = '';
let project = '';
let script: ChildProcess | undefined;

/** The probe project's lockfile: the tarball, plus every non-dev package of this repository's lockfile. */
function probeLock(tarball: string): object {
  const repoLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages: Record<string, unknown> = {
    '': { name: 'probe', version: '1.0.0', dependencies: { graftd: `file:${tarball}` } },
    'node_modules/graftd': {
      version: pkg.version,
      resolved: `file:${tarball}`,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(repoLock.packages)) {
    if (path !== '' && entry.dev !== true) packages[path] = entry;
  }
  return { name: 'probe', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

async function npm(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { stdout } = await run('npm', [...args], { cwd, env, timeout: STEP_TIMEOUT_MS, maxBuffer: 16 << 20 });
  return stdout;
}

/** Run an installed command through npx in the probe project (never installing anything). */
async function npx(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  return run('npx', ['--no', '--', ...args], { cwd: project, env: { ...process.env, ...env }, timeout: 60_000 });
}

const PROBE = `
import * as client from 'graftd';
import * as server from 'graftd/server';
import * as raft from 'graftd/raft';

const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
out({
  client: Object.keys(client).sort(),
  server: Object.keys(server).sort(),
  raft: Object.keys(raft).sort(),
});
try {
  await server.startServer({ dataDir: 'data', httpAddr: 'nonsense', raftAddr: '${RAFT}', log: server.silentLog });
  out({ badConfig: 'accepted' });
} catch (err) {
  out({ badConfig: err.code });
}
const node = await server.startServer({
  id: 'p0',
  dataDir: 'data/p0',
  httpAddr: '${HTTP}',
  raftAddr: '${RAFT}',
  env: { FOUNDING_QUIET: '0' },
  log: server.silentLog,
});
await node.whenReady(60_000);
const c = new client.GraftdClient({ endpoints: [node.httpAddr] });
await c.set({ greeting: 'hello from the tarball' });
const value = await c.get('greeting');
await c.close();
// The live view's files are not TypeScript: the package must ship them beside the compiled code.
const ui = await fetch(node.url + '/ui');
const uiText = await ui.text();
out({ url: node.url, value, ready: true, ui: ui.status + ' ' + (uiText.includes('<html') ? 'html' : uiText.slice(0, 200)) });
// Stay up for the test's graftctl until stdin closes.
process.stdin.resume();
process.stdin.on('end', async () => {
  await node.close();
  const stop = await node.stopped;
  out({ stopped: stop.reason });
  process.exit(0);
});
`;

const CONSUMER = `
import { GraftdClient, type GraftdClientOptions } from 'graftd';
import { startServer, type GraftdServer, type GraftdServerOptions } from 'graftd/server';
import { createRaft, createRaftNode, MemoryStorage, openWalStorage, type StateMachine } from 'graftd/raft';

const options: GraftdClientOptions = { endpoints: ['127.0.0.1:11000'] };
const serverOptions: GraftdServerOptions = { dataDir: 'd', httpAddr: '127.0.0.1:1', raftAddr: '127.0.0.1:2' };
export async function check(): Promise<string | undefined> {
  const s: GraftdServer = await startServer(serverOptions);
  await s.close();
  const machine: StateMachine<number> | undefined = undefined;
  void [createRaft, createRaftNode, MemoryStorage, openWalStorage, machine];
  return new GraftdClient(options).get('k');
}
`;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'graftd-pack-'));
  project = join(work, 'probe');
  // A current build is packed as it is; otherwise npm pack's prepack builds it.
  const current = compiledState(ROOT) === 'current';
  await npm(['pack', '--pack-destination', work, ...(current ? ['--ignore-scripts'] : [])], ROOT);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball !== undefined, 'npm pack wrote no tarball');
  rmSync(project, { recursive: true, force: true });
  mkdirSync(project);
  copyFileSync(join(work, tarball), join(project, tarball));
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'probe', version: '1.0.0', private: true, type: 'module', dependencies: { graftd: `file:${tarball}` } }),
  );
  writeFileSync(join(project, 'package-lock.json'), JSON.stringify(probeLock(tarball), null, 1));
  // Offline: the tarball plus the npm cache; install scripts are not needed (and not run).
  await npm(['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], project);
});

after(async () => {
  if (script !== undefined && script.exitCode === null) script.kill('SIGKILL');
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the compiled code, declarations and bins, and no sources or tests', () => {
  const installed = join(project, 'node_modules', 'graftd');
  const files = readdirSync(installed, { recursive: true }).map(String);
  for (const f of ['bin/graftd', 'bin/graftctl', 'bin/entry.mjs', 'dist/BUILD_STAMP', 'dist/src/index.js', 'dist/src/index.d.ts']) {
    assert.ok(files.includes(f), `${f} missing from the package`);
  }
  // The one-file graftctl (scripts/build.mjs) that bin/graftctl runs when present: its start-up time.
  for (const f of [
    'dist/src/server.js',
    'dist/src/server.d.ts',
    'dist/src/raft-entry.js',
    'dist/src/raft-entry.d.ts',
    'dist/src/bundle/graftctl.js',
  ]) {
    assert.ok(files.includes(f), `${f} missing from the package`);
  }
  assert.deepEqual(
    files.filter((f) => /^(src|test|bench|scripts|examples)(\/|$)/.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts'))),
    [],
  );
});

test('each export imports; a server started through graftd/server is written and read with the graftd client, and graftctl reads it', async () => {
  writeFileSync(join(project, 'probe.mjs'), PROBE);
  const child = spawn(process.execPath, ['probe.mjs'], { cwd: project, stdio: ['pipe', 'pipe', 'pipe'] });
  script = child;
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  const readyOrExit = new Promise<void>((res, rej) => {
    child.stdout.on('data', (b: Buffer) => {
      buffered += b.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        lines.push(JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>);
        buffered = buffered.slice(nl + 1);
        if (lines.at(-1)?.ready === true) res();
      }
    });
    child.on('exit', (code) => rej(new Error(`probe.mjs exited with ${code} before it was ready: ${stderr}`)));
  });
  await readyOrExit;
  const [exports, badConfig, served] = lines as [
    { client: string[]; server: string[]; raft: string[] },
    { badConfig: string },
    { url: string; value: string; ui: string },
  ];
  for (const name of ['GraftdClient', 'GraftdClientError', 'parseEndpoints', 'VERSION']) assert.ok(exports.client.includes(name), name);
  for (const name of ['startServer', 'serverConfig', 'silentLog', 'GraftdError']) assert.ok(exports.server.includes(name), name);
  for (const name of ['createRaftNode', 'createRaft', 'MemoryStorage', 'openWalStorage', 'openSnapshotStore', 'createTransport']) {
    assert.ok(exports.raft.includes(name), name);
  }
  assert.equal(badConfig.badConfig, 'GRAFTD_BAD_CONFIG');
  assert.equal(served.url, `http://${HTTP}`);
  assert.equal(served.value, 'hello from the tarball');
  assert.equal(served.ui, '200 html', 'the live view (src/vizor/assets) is in the package');

  // The installed commands, through npx; GRAFTD_RUN=dist fails unless the compiled code is used.
  const line = (command: string): string => `${command} ${pkg.version} (peer protocol `;
  const graftd = await npx(['graftd', '--version'], { GRAFTD_RUN: 'dist' });
  assert.ok(graftd.stdout.startsWith(line('graftd')), graftd.stdout);
  const graftctl = await npx(['graftctl', '--version'], { GRAFTD_RUN: 'dist' });
  assert.ok(graftctl.stdout.startsWith(line('graftctl')), graftctl.stdout);
  const got = await npx(['graftctl', '--endpoints', HTTP, 'get', 'greeting'], { GRAFTD_RUN: 'dist' });
  assert.equal(got.stdout.trim(), 'hello from the tarball');

  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  child.stdin.end();
  assert.equal(await exited, 0, stderr);
  assert.deepEqual(lines.at(-1), { stopped: 'closed' });
});

test('a TypeScript consumer typechecks against the shipped declarations', async () => {
  writeFileSync(join(project, 'consumer.ts'), CONSUMER);
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022'];
  // The consumer's own @types/node: the one this repository uses.
  const typeRoots = ['--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node'];
  try {
    await run(process.execPath, [tsc, ...flags, ...typeRoots, 'consumer.ts'], { cwd: project, timeout: STEP_TIMEOUT_MS });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    assert.fail(`tsc failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
});
