/**
 * `npm run build`: compile src/ to dist/src/ (JavaScript + type declarations) and write the build
 * stamp dist/BUILD_STAMP that bin/graftd and bin/graftctl check before running the compiled code.
 *
 * Why a stamp written last and dated at the start: a build that fails or is interrupted leaves no
 * stamp (the bins then run the sources through tsx), and a source file saved while tsc was running
 * is newer than the stamp, so that build counts as stale too. Plain JavaScript: it must run before
 * anything is compiled, without tsx.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Directories under src/ holding non-TypeScript files the code loads at run time. */
const RUNTIME_ASSETS = ['vizor/assets'];
const stamp = join(root, 'dist', 'BUILD_STAMP');
const startedAt = new Date();
rmSync(stamp, { force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (result.status !== 0) {
  process.stderr.write('build failed: dist/ has no build stamp, so bin/graftd and bin/graftctl run the sources through tsx\n');
  process.exit(result.status ?? 1);
}
// Files the compiled code reads at run time that tsc does not emit (the live view's page, script, style).
for (const dir of RUNTIME_ASSETS) cpSync(join(root, 'src', dir), join(root, 'dist', 'src', dir), { recursive: true });
mkdirSync(dirname(stamp), { recursive: true });
writeFileSync(stamp, `${JSON.stringify({ startedAt: startedAt.toISOString() })}\n`);
// The stamp's mtime is the build's start: any source saved after that makes dist/ stale.
utimesSync(stamp, startedAt, startedAt);
