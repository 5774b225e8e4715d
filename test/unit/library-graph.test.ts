import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Every file of src/ that `src/index.ts` reaches, through static imports and re-exports and through the lazy
 * `import()`s of the connector registry (a pipeline loads those on first use): the library a user installs.
 */
function libraryFiles(entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [resolve(ROOT, entry)];
  const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.[^']+)'/gm;
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(specifier)) {
      const target = resolve(dirname(file), match[1]!).replace(/\.js$/, '.ts');
      if (target.startsWith(resolve(ROOT, 'src'))) queue.push(target);
    }
  }
  return seen;
}

/** Issue 13: the embedded servers (apt-get, initdb) are demo and test tooling, not part of the library. */
describe("the package entry's import graph", () => {
  const files = [...libraryFiles('src/index.ts')].map((f) => relative(ROOT, f));

  it('holds the connectors and the runtime (the walk follows the registry)', () => {
    expect(files).toContain('src/connectors/registry.ts');
    expect(files).toContain('src/connectors/postgres-source/postgres-source.ts');
    expect(files).toContain('src/runtime/pipeline-runner.ts');
  });

  it('reaches neither src/embedded/ nor the CLI', () => {
    expect(files.filter((f) => f.startsWith('src/embedded/') || f.startsWith('src/cli/'))).toEqual([]);
  });

  it('runs no apt-get anywhere', () => {
    expect(files.filter((f) => readFileSync(resolve(ROOT, f), 'utf8').includes('apt-get'))).toEqual([]);
  });
});
