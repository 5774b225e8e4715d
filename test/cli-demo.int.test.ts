import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli, type CliProcess } from './harness/cli-process.js';
import { waitFor } from './harness/databases.js';

const run = promisify(execFile);

/**
 * Issue 10: `tributary demo --keep` prints how to reach its private servers; a user pastes those commands, so
 * they must work as printed (the MariaDB one used to lack the password and failed with ERROR 1045).
 */
describe('tributary demo --keep', () => {
  let demo: CliProcess | undefined;

  afterAll(async () => {
    if (demo && demo.child.exitCode === null) {
      demo.child.kill('SIGINT');
      await demo.exited;
    }
  });

  it('prints a mariadb and a psql command line that log in as printed', async () => {
    demo = startCli(['demo', '--keep'], {});
    const cli = demo;
    await waitFor(() => cli.output().includes('Ctrl-C stops.') || cli.child.exitCode !== null, {
      timeoutMs: 270_000,
      message: 'the demo to say it keeps running',
    });
    const output = cli.output();
    expect(output, output).toContain('Ctrl-C stops.');
    const mariadb = /^ {2}(mariadb .*)$/m.exec(output)?.[1];
    const psql = /^ {2}(psql .*)$/m.exec(output)?.[1];
    expect(mariadb, output).toBeDefined();
    expect(psql, output).toBeDefined();

    const source = await run('sh', ['-c', `${mariadb!} -N -e 'SELECT COUNT(*) FROM user_db1.user01'`]);
    expect(source.stdout.trim()).toMatch(/^\d+$/);
    const target = await run('sh', ['-c', `${psql!} -At -c 'SELECT count(*) FROM public.users'`]);
    expect(Number(target.stdout.trim())).toBeGreaterThan(0);

    // Issue 14: the printed dashboard URL answers, with the demo pipeline's rows.
    const dashboard = /^Dashboard: (http:\S+)/m.exec(output)?.[1];
    expect(dashboard, output).toBeDefined();
    const page = await fetch(dashboard!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('user_db1.user01');
    const status = (await (await fetch(new URL('api/status', dashboard))).json()) as { phase: string; rowsOut: number };
    expect(status.phase).toBe('streaming');
    expect(status.rowsOut).toBeGreaterThan(0);

    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
  }, 300_000);
});
