import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI_NODE_FLAGS } from '../../src/cli/heap-growth.js';

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
});
