/**
 * Which code bin/graftd and bin/graftctl run: the compiled JavaScript under dist/src/ when it is
 * there and up to date, else the TypeScript sources through tsx (a fresh clone needs no build).
 *
 * Why a build stamp and mtimes: a stale dist/ must never be used silently. `npm run build`
 * (scripts/build.mjs) writes dist/BUILD_STAMP last, dated at the build's start; dist/ counts as
 * current only when every file and directory under src/ is older than the stamp (an edit, a
 * `git checkout`, an added or removed file all make it stale). An installed package ships dist/
 * and no src/, so there is nothing to compare. The check stats ~150 entries: about 2 ms.
 *
 * GRAFTD_RUN=dist forces the compiled code (exit 1 if it is missing or stale), GRAFTD_RUN=src the
 * sources; unset or `auto` chooses as above.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** 'current', or why dist/ cannot be used ('no build stamp', 'src/x.ts is newer than the build'). */
export function compiledState(root = ROOT) {
  let stampMs;
  try {
    stampMs = statSync(join(root, 'dist', 'BUILD_STAMP')).mtimeMs;
  } catch {
    return 'no build stamp (run npm run build)';
  }
  const src = join(root, 'src');
  let entries;
  try {
    if (statSync(src).mtimeMs > stampMs) return 'src/ changed after the build';
    entries = readdirSync(src, { recursive: true, withFileTypes: true });
  } catch (err) {
    if (err.code === 'ENOENT') return 'current'; // an installed package: dist/ only
    throw err;
  }
  for (const e of entries) {
    if (!e.isFile() && !e.isDirectory()) continue;
    const path = join(e.parentPath ?? e.path, e.name);
    if (statSync(path).mtimeMs > stampMs) return `${path.slice(root.length)} is newer than the build`;
  }
  return 'current';
}

/** Import `rel` (e.g. 'cli/graftctl'): dist/src/rel.js when current, else src/rel.ts through tsx. */
export async function load(rel) {
  const mode = process.env.GRAFTD_RUN ?? 'auto';
  if (mode !== 'src') {
    const state = compiledState();
    if (state === 'current') return import(pathToFileURL(join(ROOT, 'dist', 'src', `${rel}.js`)).href);
    if (mode === 'dist') {
      process.stderr.write(`GRAFTD_RUN=dist but dist/ cannot be used: ${state}\n`);
      process.exit(1);
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import(pathToFileURL(join(ROOT, 'src', `${rel}.ts`)).href);
}
