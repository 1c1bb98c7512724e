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
import { existsSync, readdirSync, statSync } from 'node:fs';
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

/**
 * Which file runs `rel` (e.g. 'cli/graftctl') under `mode` (GRAFTD_RUN): `{ kind, file, why }`.
 * kind 'dist': dist/src/rel.js of a current build; 'bundle': with `bundle` (e.g. 'graftctl'),
 * dist/src/bundle/<bundle>.js of a current build when it is there (scripts/build.mjs makes it;
 * one file loads faster than the ~50 behind rel); 'src': src/rel.ts through tsx; 'refuse':
 * GRAFTD_RUN=dist without a current build. `why` says why dist/ was not used ('' when it was).
 */
export function chooseEntry(rel, bundle, mode = 'auto', root = ROOT) {
  const src = { kind: 'src', file: join(root, 'src', `${rel}.ts`) };
  if (mode === 'src') return { ...src, why: 'GRAFTD_RUN=src' };
  const state = compiledState(root);
  if (state !== 'current') return mode === 'dist' ? { kind: 'refuse', file: '', why: state } : { ...src, why: state };
  const bundled = bundle === undefined ? null : join(root, 'dist', 'src', 'bundle', `${bundle}.js`);
  if (bundled !== null && existsSync(bundled)) return { kind: 'bundle', file: bundled, why: '' };
  return { kind: 'dist', file: join(root, 'dist', 'src', `${rel}.js`), why: '' };
}

/** Import what {@link chooseEntry} picks (registering tsx for the sources). */
export async function load(rel, bundle) {
  const entry = chooseEntry(rel, bundle, process.env.GRAFTD_RUN ?? 'auto');
  if (entry.kind === 'refuse') {
    process.stderr.write(`GRAFTD_RUN=dist but dist/ cannot be used: ${entry.why}\n`);
    process.exit(1);
  }
  if (entry.kind === 'src') {
    const { register } = await import('tsx/esm/api');
    register();
  }
  return import(pathToFileURL(entry.file).href);
}
