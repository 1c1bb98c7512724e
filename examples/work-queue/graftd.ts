/**
 * The one place this example imports graftd from.
 *
 * Why a shim: an application installs the package and writes `from 'graftd/raft'`; inside this
 * repository the example runs from the sources (no build needed), so it re-exports the file that
 * `graftd/raft` itself re-exports (src/node/embed.ts) — the same names, nothing more.
 */
export * from '../../src/node/embed.ts';
