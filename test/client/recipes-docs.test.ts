/**
 * docs/recipes.md shows the recipe programs of examples/recipes/ verbatim (test/integration/
 * watch.test.ts runs those programs against a real cluster, so the page's code is code that ran).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');

test('every program of examples/recipes is on docs/recipes.md, unchanged', () => {
  const page = readFileSync(resolve(ROOT, 'docs/recipes.md'), 'utf8');
  const blocks = [...page.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!.trimEnd());
  for (const name of ['lock.ts', 'election.ts', 'discovery.ts']) {
    const code = readFileSync(resolve(ROOT, 'examples/recipes', name), 'utf8').trimEnd();
    assert.ok(blocks.includes(code), `docs/recipes.md lacks the current examples/recipes/${name} (copy it into its section)`);
  }
  assert.equal(blocks.length, 3, 'one program per recipe');
});
