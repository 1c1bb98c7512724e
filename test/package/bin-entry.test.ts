/**
 * bin/entry.mjs decides whether bin/graftd and bin/graftctl run dist/ or the sources: dist/ only
 * when its build stamp is newer than every file and directory under src/ — never a stale build.
 * Checked on a fake package root with controlled mtimes (no build needed).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
// @ts-expect-error: plain JavaScript module without declarations
import { chooseEntry, compiledState } from '../../bin/entry.mjs';

const state = compiledState as (root: string) => string;
const choose = chooseEntry as (
  rel: string,
  bundle: string | undefined,
  mode: string,
  root: string,
) => { kind: 'bundle' | 'dist' | 'src' | 'refuse'; file: string; why: string };

function at(path: string, seconds: number): void {
  const t = new Date(1_700_000_000_000 + seconds * 1000);
  utimesSync(path, t, t);
}

test('dist/ is used only when its stamp is newer than every source file and directory', () => {
  const root = mkdtempSync(join(tmpdir(), 'graftd-entry-'));
  try {
    mkdirSync(join(root, 'src', 'cli'), { recursive: true });
    mkdirSync(join(root, 'dist', 'src'), { recursive: true });
    const file = join(root, 'src', 'cli', 'graftd.ts');
    writeFileSync(file, '');
    for (const p of [file, join(root, 'src', 'cli'), join(root, 'src')]) at(p, 0);
    assert.match(state(root), /no build stamp/);

    const stamp = join(root, 'dist', 'BUILD_STAMP');
    writeFileSync(stamp, '{}\n');
    at(stamp, 10);
    assert.equal(state(root), 'current');

    at(file, 20); // an edit after the build
    assert.match(state(root), /src\/cli\/graftd\.ts is newer than the build/);
    at(file, 0);
    at(join(root, 'src', 'cli'), 20); // a file added or removed after the build
    assert.match(state(root), /src\/cli is newer than the build/);
    at(join(root, 'src', 'cli'), 0);
    at(join(root, 'src'), 20);
    assert.match(state(root), /src\/ changed after the build/);

    // An installed package: dist/ and the stamp, no src/.
    rmSync(join(root, 'src'), { recursive: true });
    assert.equal(state(root), 'current');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('bin/graftctl runs the one-file bundle of a current build, else dist/src, else the sources; never a stale bundle', () => {
  const root = mkdtempSync(join(tmpdir(), 'graftd-entry-'));
  const rel = (p: string): string => p.slice(root.length + 1);
  try {
    mkdirSync(join(root, 'src', 'cli'), { recursive: true });
    mkdirSync(join(root, 'dist', 'src', 'bundle'), { recursive: true });
    writeFileSync(join(root, 'src', 'cli', 'graftctl.ts'), '');
    for (const p of [join(root, 'src', 'cli', 'graftctl.ts'), join(root, 'src', 'cli'), join(root, 'src')]) at(p, 0);
    // A fresh clone: no build at all.
    let e = choose('cli/graftctl', 'graftctl', 'auto', root);
    assert.deepEqual([e.kind, rel(e.file)], ['src', 'src/cli/graftctl.ts']);
    assert.match(e.why, /no build stamp/);
    assert.equal(choose('cli/graftctl', 'graftctl', 'dist', root).kind, 'refuse');

    const stamp = join(root, 'dist', 'BUILD_STAMP');
    writeFileSync(stamp, '{}\n');
    at(stamp, 10);
    // A current build without the bundle (built by an older build script): the compiled modules.
    e = choose('cli/graftctl', 'graftctl', 'auto', root);
    assert.deepEqual([e.kind, rel(e.file)], ['dist', 'dist/src/cli/graftctl.js']);
    writeFileSync(join(root, 'dist', 'src', 'bundle', 'graftctl.js'), '');
    e = choose('cli/graftctl', 'graftctl', 'auto', root);
    assert.deepEqual([e.kind, rel(e.file)], ['bundle', 'dist/src/bundle/graftctl.js']);
    assert.equal(choose('cli/graftctl', 'graftctl', 'dist', root).kind, 'bundle');
    // graftd asks for no bundle.
    assert.equal(choose('cli/graftd', undefined, 'auto', root).kind, 'dist');
    assert.equal(choose('cli/graftctl', 'graftctl', 'src', root).kind, 'src');

    at(join(root, 'src', 'cli', 'graftctl.ts'), 20); // an edit after the build: the bundle is stale too
    e = choose('cli/graftctl', 'graftctl', 'auto', root);
    assert.deepEqual([e.kind, rel(e.file)], ['src', 'src/cli/graftctl.ts']);
    assert.match(e.why, /newer than the build/);
    assert.equal(choose('cli/graftctl', 'graftctl', 'dist', root).kind, 'refuse');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
