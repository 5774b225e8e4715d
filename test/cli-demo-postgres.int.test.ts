import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli, type CliProcess } from './harness/cli-process.js';
import { waitFor } from './harness/databases.js';

const run = promisify(execFile);

/**
 * Issue 13: `tributary demo --source postgres` — the sharded-users shards as schemas of a private PostgreSQL, read
 * by logical replication, merged by a route into one target table (PostgreSQL → PostgreSQL and → DuckDB).
 */
describe('tributary demo --source postgres', () => {
  let demo: CliProcess | undefined;

  afterEach(async () => {
    if (demo && demo.child.exitCode === null) {
      demo.child.kill('SIGINT');
      await demo.exited;
    }
  });

  it('merges the shard schemas into public.users of another database and follows changes', async () => {
    demo = startCli(['demo', '--source', 'postgres', '--keep'], {});
    const cli = demo;
    await waitFor(() => cli.output().includes('Ctrl-C stops.') || cli.child.exitCode !== null, {
      timeoutMs: 270_000,
      message: 'the demo to say it keeps running',
    });
    const output = cli.output();
    expect(output, output).toContain('Ctrl-C stops.');
    expect(output).toContain('snapshot, then logical replication');
    const [source, target] = [...output.matchAll(/^ {2}(psql .*)$/gm)].map((m) => m[1]!);
    expect(source, output).toMatch(/-d shop$/);
    expect(target, output).toMatch(/-d warehouse$/);

    const psql = async (command: string, sql: string) =>
      (await run('sh', ['-c', `${command} -At -F '|' -c "${sql}"`])).stdout.trim();
    // The changes of changes.sql arrived: 17 rows from the 9 tables of 3 schemas, Sunny in, user_db3.user03 #1 out.
    expect(
      await psql(
        target!,
        'SELECT count(*), count(DISTINCT _db_name), count(DISTINCT (_db_name, _table_name)) FROM public.users',
      ),
    ).toBe('17|3|9');
    expect(
      await psql(
        target!,
        "SELECT name FROM public.users WHERE _db_name = 'user_db2' AND _table_name = 'user02' AND id = 2",
      ),
    ).toBe('Jovita');
    expect(
      await psql(
        target!,
        "SELECT count(*) FROM public.users WHERE _db_name = 'user_db3' AND _table_name = 'user03' AND id = 1",
      ),
    ).toBe('0');
    expect(await psql(target!, 'SELECT count(*) FROM tpc_ds.store_sales')).toBe('4');

    // A change made now, with the printed source command, reaches the merged table.
    await psql(source!, "UPDATE user_db3.user02 SET name = 'Kenji' WHERE id = 5");
    await waitFor(
      async () =>
        (await psql(
          target!,
          "SELECT name FROM public.users WHERE _db_name = 'user_db3' AND _table_name = 'user02' AND id = 5",
        )) === 'Kenji',
      { timeoutMs: 60_000, message: 'the update to reach public.users' },
    );

    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
  }, 300_000);

  it('writes the merged table into DuckDB with --sink duckdb', async () => {
    demo = startCli(['demo', '--source', 'postgres', '--sink', 'duckdb'], {});
    const cli = demo;
    const code = await cli.exited;
    const output = cli.output();
    expect(code, output).toBe(0);
    const after = output.slice(output.indexOf('public.users now:'));
    expect(after, output).toContain('Sunny');
    expect(after).toContain('Jovita');
    expect(output.slice(output.indexOf('tpc_ds.item:'))).toContain('29.99');
  }, 300_000);
});
