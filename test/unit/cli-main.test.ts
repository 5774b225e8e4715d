import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';

/** Runs the CLI in this process and collects what it prints. */
async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const code = await main(argv);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('tributary <command> --help (issue 10)', () => {
  it.each([
    ['run', ['--reset', '--truncate-targets', '--yes', '--from-savepoint <id>'], ['--keep', '--sink']],
    ['validate', [], ['--reset', '--keep']],
    ['state', [], ['--reset', '--keep']],
    ['demo', ['--sink <type>', '--source <type>', '--keep'], ['--reset', '--from-savepoint']],
  ])('%s prints its own usage with its options', async (command, has, hasNot) => {
    const { code, stdout } = await cli(command, '--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage: tributary ${command} `));
    for (const option of has) expect(stdout).toContain(option);
    for (const option of hasNot) expect(stdout).not.toContain(option);
    expect(stdout).toContain('--log-level');
  });

  it('tributary --help lists every command and points to the per-command help', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    for (const command of ['run', 'validate', 'state', 'demo'])
      expect(stdout).toMatch(new RegExp(`\\n {2}${command} `));
    expect(stdout).toContain('tributary <command> --help');
  });

  it("rejects an option the command does not take, with that command's usage", async () => {
    const { code, stderr } = await cli('validate', 'p.yaml', '--keep');
    expect(code).toBe(2);
    expect(stderr).toContain('tributary validate takes no --keep');
    expect(stderr).toContain('Usage: tributary validate');
  });
});

describe('run --reset --truncate-targets', () => {
  it('is refused without --yes, before reading any file', async () => {
    const { code, stderr } = await cli('run', '/nonexistent/p.yaml', '--reset', '--truncate-targets');
    expect(code).toBe(2);
    expect(stderr).toMatch(/Nothing was changed; add --yes to confirm/);
  });

  it('is refused without --reset', async () => {
    const { code, stderr } = await cli('run', '/nonexistent/p.yaml', '--truncate-targets', '--yes');
    expect(code).toBe(2);
    expect(stderr).toContain('--truncate-targets goes with --reset');
  });
});
