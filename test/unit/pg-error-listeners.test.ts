import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * A `pg` client or pool without an 'error' listener turns a connection the server ends while it is idle
 * (57P01 on `pg_terminate_backend`, `DROP DATABASE … WITH (FORCE)`, a fast shutdown) into an uncaught
 * exception: the process dies, and a test run exits 1 after every test passed (issue 13). Every place that
 * creates one — the product, the tests and their harness, the benchmarks — must listen, either through the
 * harness's `tolerateDisconnects(…)` or with `.on('error', …)` on the new object right after it is made.
 * test/faults-idle-sink-connection.int.test.ts shows the listeners at work against a real server.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** How many lines after the constructor the listener may follow (options spread over several lines). */
const WITHIN_LINES = 15;

function typescriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : typescriptFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** `file:line` of every `pg` client or pool made in `sources` (path → text) that no listener follows. */
function unguardedPgObjects(sources: ReadonlyMap<string, string>): string[] {
  const found: string[] = [];
  for (const [path, text] of sources) {
    if (!text.includes("from 'pg'")) continue;
    const lines = text.split('\n');
    lines.forEach((line, index) => {
      if (!/new pg\.(Client|Pool)\(/.test(line)) return;
      const around = lines.slice(Math.max(0, index - 2), index + WITHIN_LINES).join('\n');
      if (/tolerateDisconnects\(/.test(around) || /\.on\(\s*'error'/.test(around)) return;
      found.push(`${path}:${index + 1}`);
    });
  }
  return found;
}

describe("every pg client and pool has an 'error' listener", () => {
  it('in src/, test/ and bench/', () => {
    const files = ['src', 'test', 'bench'].flatMap((dir) => typescriptFiles(join(ROOT, dir)));
    expect(files.length).toBeGreaterThan(100);
    const sources = new Map(files.map((file) => [relative(ROOT, file), readFileSync(file, 'utf8')]));
    expect(unguardedPgObjects(sources)).toEqual([]);
  });

  it('reports a client made without one, and accepts both ways of listening', () => {
    const header = "import pg from 'pg';\n";
    const sources = new Map([
      ['bare.ts', `${header}const client = new pg.Client({ connectionString: url });\nawait client.connect();\n`],
      ['listened.ts', `${header}const pool = new pg.Pool({ max: 2 });\npool.on('error', () => undefined);\n`],
      ['harness.ts', `${header}const client = tolerateDisconnects(\n  new pg.Client({ connectionString: url }),\n);\n`],
    ]);
    expect(unguardedPgObjects(sources)).toEqual(['bare.ts:2']);
  });
});
