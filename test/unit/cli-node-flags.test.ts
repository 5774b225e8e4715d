import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI_NODE_FLAGS, HEAP_GROWING_PERCENT, SQL_HEAP_GROWING_PERCENT } from '../../src/cli/heap-growth.js';

const BIN = fileURLToPath(new URL('../../bin/tributary.js', import.meta.url));

describe('the Node flags of the CLI', () => {
  it('bin/tributary.js starts Node with CLI_NODE_FLAGS, the flags the benches measure with', () => {
    // The script run through its shebang, as a user runs it, with a module preloaded that prints Node's flags.
    // (NODE_OPTIONS splits at spaces and drops quotes: the module's source has neither.)
    const printFlags = 'data:text/javascript,console.error(JSON.stringify({execArgv:process.execArgv}))';
    const run = spawnSync(BIN, ['--version'], {
      env: { ...process.env, NODE_OPTIONS: `--import=${printFlags}` },
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const line = run.stderr.split('\n').find((l) => l.startsWith('{"execArgv":'));
    expect(line, run.stderr).toBeDefined();
    const { execArgv } = JSON.parse(line!) as { execArgv: string[] };
    expect(execArgv).toEqual([...CLI_NODE_FLAGS]);
  });

  it("bounds V8's heap growth per command: a SQL job's tighter than the others', a flag on Node's command line wins", () => {
    // A preloaded module that reports each V8 flag the CLI sets (it replaces node:v8's function for the ESM
    // importers too).
    const dir = mkdtempSync(join(tmpdir(), 'cli-flags-'));
    try {
      const spy = join(dir, 'spy.mjs');
      writeFileSync(
        spy,
        `import v8 from 'node:v8';
import { syncBuiltinESMExports } from 'node:module';
const set = v8.setFlagsFromString;
v8.setFlagsFromString = (flag) => { process.stderr.write('FLAG ' + flag + '\\n'); set(flag); };
syncBuiltinESMExports();
`,
      );
      const flags = (args: string[], nodeFlags: string[] = []) => {
        const run = spawnSync(process.execPath, [...CLI_NODE_FLAGS, ...nodeFlags, `--import=${spy}`, BIN, ...args], {
          encoding: 'utf8',
        });
        return run.stderr.split('\n').filter((l) => l.startsWith('FLAG --heap-growing-percent'));
      };
      // Both commands fail on the missing file, after the flag is set.
      const missing = join(dir, 'missing');
      expect(flags(['sql', '-f', `${missing}.sql`])).toEqual([
        `FLAG --heap-growing-percent=${SQL_HEAP_GROWING_PERCENT}`,
      ]);
      expect(flags(['validate', `${missing}.yaml`])).toEqual([`FLAG --heap-growing-percent=${HEAP_GROWING_PERCENT}`]);
      expect(flags(['sql', '-f', `${missing}.sql`], ['--heap-growing-percent=80'])).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
