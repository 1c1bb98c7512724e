/**
 * Versions: `graftd --version` and `graftctl --version` print one line and exit 0 without loading
 * the server or contacting anything; GET /status carries the version; VERSION is package.json's,
 * found from src/ and from a build under dist/src/.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PROTOCOL_VERSION, VERSION, readPackageVersion } from '../../src/version.ts';
import { makeServer } from '../http/helpers.ts';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

test('VERSION is the version in package.json', () => {
  assert.equal(VERSION, pkg.version);
});

test('the version is found from a build under dist/src/ too (two levels deeper), and not from another package', async () => {
  const root = await mkdtemp(join(tmpdir(), 'graftd-version-'));
  try {
    await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'graftd', version: '9.8.7' }));
    await mkdir(join(root, 'dist', 'src'), { recursive: true });
    await writeFile(join(root, 'dist', 'package.json'), JSON.stringify({ name: 'other', version: '1.0.0' }));
    assert.equal(readPackageVersion(join(root, 'dist', 'src')), '9.8.7');
    assert.equal(readPackageVersion(join(root, 'src')), '9.8.7');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

for (const command of ['graftd', 'graftctl']) {
  test(`${command} --version prints one line and exits 0 (also -version, among other flags)`, async () => {
    const bin = new URL(`../../bin/${command}`, import.meta.url).pathname;
    for (const args of [['--version'], ['-version'], ['-id', 'x', '--version']]) {
      // A broken environment must not matter: --version answers before any configuration is read.
      const { stdout, stderr } = await run(bin, args, { env: { ...process.env, ELECTION_TIMEOUT: 'bogus' }, timeout: 60_000 });
      assert.equal(stderr, '');
      const lines = stdout.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, stdout);
      assert.equal(lines[0], `${command} ${VERSION} (peer protocol ${PROTOCOL_VERSION}, node ${process.versions.node})`);
    }
  });
}

test('GET /status carries the version', async () => {
  const { app } = await makeServer();
  try {
    const body = JSON.parse((await app.inject({ url: '/status' })).body) as { version?: string; id: string };
    assert.equal(body.version, VERSION);
    assert.equal(body.id, 'node0');
  } finally {
    await app.close();
  }
});
