/**
 * The images run the compiled code with production dependencies only: a build stage compiles
 * dist/, the final stage installs `--omit=dev` and copies dist/ (no src/, so bin/entry.mjs runs
 * dist/), and tsx — needed only to run the TypeScript sources — is a dev dependency. That an
 * install without dev dependencies runs is what pack.test.ts proves (its project gets only the
 * non-dev packages); this checks the Dockerfiles and package.json say the same.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');

function stages(file: string): string[][] {
  const lines = readFileSync(join(ROOT, file), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const out: string[][] = [];
  for (const l of lines) {
    if (/^FROM\s/i.test(l)) out.push([]);
    out.at(-1)?.push(l);
  }
  return out;
}

test('tsx is a dev dependency; the runtime needs only the compiled code', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  assert.equal(pkg.dependencies.tsx, undefined, 'tsx must not be a runtime dependency');
  assert.ok(pkg.devDependencies.tsx !== undefined);
  assert.ok(pkg.devDependencies.typescript !== undefined);
});

for (const file of ['Dockerfile', 'Dockerfile.client']) {
  test(`${file}: a build stage compiles dist/, the final stage runs it without dev dependencies`, () => {
    const s = stages(file);
    assert.ok(s.length >= 2, `${file} should have a build stage and a runtime stage`);
    const build = s[0]!.join('\n');
    const final = s.at(-1)!.join('\n');
    assert.match(build, /^FROM node:\S+ AS build$/m);
    assert.match(build, /RUN npm ci\b(?!.*--omit=dev)/);
    assert.match(build, /RUN npm run build/);
    assert.match(final, /RUN npm ci --omit=dev/);
    assert.match(final, /COPY --from=build \/app\/dist \.\/dist/);
    assert.doesNotMatch(final, /COPY src/, 'no sources in the runtime image: bin/ must run dist/');
  });
}

test('.dockerignore lets the build stage see scripts/build.mjs and keeps a local dist/ out', () => {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
  assert.ok(lines.includes('!scripts/build.mjs'));
  assert.ok(lines.includes('dist'));
});
