/**
 * Each error code is bound to its HTTP status once, in src/errors.ts `errorStatus` (issue 12).
 * These checks keep it that way: GraftdError answers the table's status whatever a not yet
 * converted call site passes; every status literal still written at a call site agrees with the
 * table; docs/api.md → Error codes lists exactly the table.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ErrorCode, GraftdError, NotLeaderError, errorStatus, statusOf } from '../src/errors.ts';

const root = join(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** The top-level arguments of every `new GraftdError(...)` call in `text`. */
function graftdErrorCalls(text: string): { line: number; args: string[] }[] {
  const calls: { line: number; args: string[] }[] = [];
  for (const m of text.matchAll(/new GraftdError\(/g)) {
    const args: string[] = [];
    let depth = 0;
    let quote = '';
    let start = m.index + m[0].length;
    for (let i = start - 1; i < text.length; i++) {
      const c = text[i]!;
      if (quote !== '') {
        if (c === '\\') i++;
        else if (c === quote) quote = '';
      } else if (c === "'" || c === '"' || c === '`') quote = c;
      else if ('([{'.includes(c)) depth++;
      else if (')]}'.includes(c)) {
        depth--;
        if (depth === 0) {
          args.push(text.slice(start, i).trim());
          break;
        }
      } else if (c === ',' && depth === 1) {
        args.push(text.slice(start, i).trim());
        start = i + 1;
      }
    }
    calls.push({ line: text.slice(0, m.index).split('\n').length, args });
  }
  return calls;
}

test('GraftdError takes its status from the table; a legacy status argument cannot change it', () => {
  const e = new GraftdError('GRAFTD_UNKNOWN_MEMBER', 'x');
  assert.equal(e.httpStatus, 404);
  // Not yet converted call sites (src/node during the issue-12 refactor) still compile and work.
  const legacy = new GraftdError('GRAFTD_UNAVAILABLE', 'y', 500, { cause: 'c' });
  assert.equal(legacy.httpStatus, 503);
  assert.equal(legacy.cause, 'c');
  assert.equal(new GraftdError('GRAFTD_TIMEOUT', 'z', { cause: 1 }).cause, 1);
  assert.equal(new NotLeaderError('n2').httpStatus, 503);
  // A code this version does not know (relayed by a newer leader) keeps the status it came with.
  assert.equal(new GraftdError('GRAFTD_FROM_THE_FUTURE' as ErrorCode, 'w', 418).httpStatus, 418);
  assert.equal(statusOf('GRAFTD_FROM_THE_FUTURE'), 500);
  assert.equal(statusOf('GRAFTD_DISK_FULL'), 507);
});

test('every status literal still passed to GraftdError agrees with the table', () => {
  const wrong: string[] = [];
  let legacy = 0;
  const self = join(root, 'test', 'errors-table.test.ts');
  for (const file of [...sourceFiles('src'), ...sourceFiles('test')].filter((f) => f !== self)) {
    for (const { line, args } of graftdErrorCalls(readFileSync(file, 'utf8'))) {
      const code = /^'(GRAFTD_[A-Z_]+)'$/.exec(args[0] ?? '')?.[1];
      const status = args[2];
      if (code === undefined || status === undefined || !/^\d{3}$/.test(status)) continue;
      legacy++;
      if (statusOf(code) !== Number(status))
        wrong.push(`${file.slice(root.length + 1)}:${line} ${code} ${status} (table: ${statusOf(code)})`);
    }
  }
  assert.deepEqual(wrong, [], `${legacy} call sites still pass a status`);
});

test('docs/api.md → Error codes lists every code with the status of the table', () => {
  const doc = readFileSync(join(root, 'docs', 'api.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Error codes'));
  assert.ok(section.length > 0 && doc.includes('## Error codes'), 'docs/api.md has a "## Error codes" section');
  const body = section.slice(0, section.indexOf('\n## ', 3) === -1 ? undefined : section.indexOf('\n## ', 3));
  const documented = new Map<string, number>();
  for (const m of body.matchAll(/^\| `(GRAFTD_[A-Z_]+)` \| (\d{3}) \|/gm)) documented.set(m[1]!, Number(m[2]));
  assert.deepEqual(Object.fromEntries(documented), { ...errorStatus });
});
