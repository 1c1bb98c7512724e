/**
 * The software version (from package.json) and the peer protocol version, in one module that
 * imports nothing heavy, so `graftd --version` answers without loading the server.
 *
 * Why read package.json at runtime instead of importing it: the same file runs from src/ under
 * tsx and from dist/src/ after `npm run build`, at different depths below the package root; the
 * walk up from this module finds the package either way (the build does not copy package.json).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Bumped on any incompatible peer wire change; a peer with another number is refused at the
 * handshake, both sides logging both numbers. A rolling upgrade is possible between releases with
 * the same protocol version (docs/operations.md, "Upgrades").
 */
export const PROTOCOL_VERSION = 4;

const PACKAGE_NAME = 'graftd';

/** The version of the graftd package this module belongs to, or '0.0.0-unknown' if package.json cannot be found. */
export function readPackageVersion(startDir: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = startDir;
  for (let depth = 0; depth < 5; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here (or not readable): keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return '0.0.0-unknown';
}

/** The graftd software version, e.g. '0.1.0'. */
export const VERSION: string = readPackageVersion();

/** The one line `graftd --version` and `graftctl --version` print. */
export function versionLine(command: string): string {
  return `${command} ${VERSION} (peer protocol ${PROTOCOL_VERSION}, node ${process.versions.node})`;
}
