/**
 * `npm run build`: compile src/ to dist/src/ (JavaScript + type declarations), bundle graftctl
 * into dist/src/bundle/ and write the build stamp dist/BUILD_STAMP that bin/graftd and
 * bin/graftctl check before running the compiled code.
 *
 * Why a graftctl bundle: a one-shot command pays for every module file it loads (resolve, read,
 * compile, link: ~50 files with commander). One file (plus chunks for the commands that load more
 * code, e.g. restore) cut `graftctl get` by 30-40 ms of CPU. The runtime packages (msgpackr,
 * sorted-btree, ...) stay external: they are installed dependencies, and msgpackr finds its native
 * addon relative to its own files. graftd is not bundled (it starts once; its cost is elsewhere).
 *
 * Why a stamp written last and dated at the start: a build that fails or is interrupted leaves no
 * stamp (the bins then run the sources through tsx), and a source file saved while tsc was running
 * is newer than the stamp, so that build counts as stale too. Plain JavaScript: it must run before
 * anything is compiled, without tsx.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
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
await bundleGraftctl();
mkdirSync(dirname(stamp), { recursive: true });
writeFileSync(stamp, `${JSON.stringify({ startedAt: startedAt.toISOString() })}\n`);
// The stamp's mtime is the build's start: any source saved after that makes dist/ stale.
utimesSync(stamp, startedAt, startedAt);

/** dist/src/bundle/graftctl.js (+ chunks loaded by import()): src/cli/graftctl.ts with our sources and commander. */
async function bundleGraftctl() {
  const { build } = await import('esbuild');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const outdir = join(root, 'dist', 'src', 'bundle');
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: { graftctl: join(root, 'src', 'cli', 'graftctl.ts') },
    outdir,
    bundle: true,
    // Commands that need more code (restore, backup verification) load it as a separate chunk.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: Object.keys(pkg.dependencies).filter((name) => name !== 'commander'),
    // commander is CommonJS and require()s node's modules: give the ES module bundle a require.
    banner: {
      js: "import { createRequire as graftdCreateRequire } from 'node:module'; const require = graftdCreateRequire(import.meta.url);",
    },
    // Less text to decode and parse at every start (~280 → ~170 KB); names are kept for stack
    // traces, and the source map maps them back (node --enable-source-maps).
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [lazyChildProcessForCommander()],
  });
}

/**
 * commander require()s node:child_process at load time for a feature graftctl does not use
 * (subcommands as separate executables); compiling that module costs ~6 ms of every run. In the
 * bundle, commander gets a stand-in that loads the real module on first property access.
 */
function lazyChildProcessForCommander() {
  return {
    name: 'lazy-child-process-for-commander',
    setup(b) {
      b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
        /[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'graftd-lazy' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'graftd-lazy' }, () => ({
        contents: "let real; module.exports = new Proxy({}, { get: (_, name) => (real ??= require('node:child_process'))[name] });",
        loader: 'js',
      }));
    },
  };
}
