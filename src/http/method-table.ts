/**
 * Knows which methods each registered path pattern accepts, to tell "wrong method" (405)
 * from "unknown path" (404).
 *
 * Why: fastify's router answers 404 for a known path with the wrong method; clients deserve
 * 405 with an `Allow` header. Patterns are collected from the onRoute hook, so routes added by
 * plugins (the live view) are covered too.
 */

interface PatternEntry {
  readonly pattern: string;
  readonly methods: Set<string>;
  regex: RegExp | undefined;
}

function patternToRegex(pattern: string): RegExp {
  let source = '';
  for (const segment of pattern.split('/')) {
    if (source !== '' || segment !== '') source += '/';
    if (segment === '*') source += '.*';
    else if (segment.startsWith(':')) source += '[^/]+';
    else source += segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\*/g, '.*');
  }
  if (pattern.startsWith('/') && source === '') source = '/';
  return new RegExp(`^${source}$`);
}

/** A table of route patterns → accepted methods. */
export class MethodTable {
  readonly #entries = new Map<string, PatternEntry>();

  /** Record that `pattern` accepts `methods`. */
  add(pattern: string, methods: string | readonly string[]): void {
    let entry = this.#entries.get(pattern);
    if (entry === undefined) {
      entry = { pattern, methods: new Set(), regex: undefined };
      this.#entries.set(pattern, entry);
    }
    for (const m of typeof methods === 'string' ? [methods] : methods) entry.methods.add(m.toUpperCase());
  }

  /** The methods accepted at `path` (query excluded), sorted; empty when no pattern matches. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const entry of this.#entries.values()) {
      entry.regex ??= patternToRegex(entry.pattern);
      if (entry.regex.test(path)) for (const m of entry.methods) methods.add(m);
    }
    return [...methods].sort();
  }
}
