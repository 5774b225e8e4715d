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

/**
 * The src/ files and the packages `entries` load when they load: static imports and re-exports, not `import type`
 * (erased) nor `import()` (loaded when used). Under verbatimModuleSyntax `import { type A }` still loads its module,
 * so only a statement-level `type` is skipped.
 */
function staticGraph(entries: readonly string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = entries.map((entry) => resolve(ROOT, entry));
  const statement = /^(?:import|export)(?!\s+type\b)(?:[^;']*?\bfrom\s*|\s*)'([^']+)'/gm;
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(statement)) {
      const spec = match[1]!;
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
      else if (!spec.startsWith('node:')) packages.add(spec.split('/', spec.startsWith('@') ? 2 : 1).join('/'));
    }
  }
  return { files, packages };
}

/** Issue 16: a process start loads what its command needs, not every driver, the SQL engine and the dashboard. */
describe("the CLI's start-up", () => {
  it('loads no command module before it knows the command', () => {
    const { files, packages } = staticGraph(['src/cli/main.ts']);
    expect([...files].filter((f) => f.endsWith('-command.ts'))).toEqual([]);
    expect([...packages].filter((p) => p !== 'yaml')).toEqual([]);
  });

  it('`run` of a mysql → postgres pipeline loads no kafkajs, nats, better-sqlite3, DuckDB nor, until a dashboard starts, prom-client', () => {
    // The CLI, the command and the two connectors the registry imports for this pipeline.
    const { packages } = staticGraph([
      'src/cli/main.ts',
      'src/cli/run-command.ts',
      'src/connectors/mysql/mysql-source.ts',
      'src/connectors/postgres/postgres-sink.ts',
    ]);
    expect(packages).toContain('mysql2'); // the walk does see packages
    expect(packages).toContain('pg');
    const unwanted = ['kafkajs', 'nats', 'better-sqlite3', 'prom-client'];
    expect([...packages].filter((p) => unwanted.includes(p) || p.startsWith('@duckdb/'))).toEqual([]);
  });
});
