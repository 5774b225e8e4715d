import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { jdbcOptions, mysqlCdcOptions } from './harness/sql-jobs.js';
import { testTempDir } from './harness/temp-dirs.js';
import { privateTmux, tmuxMissing } from './harness/tmux.js';

const BIN = new URL('../bin/tributary.js', import.meta.url).pathname;

/**
 * Issue 12: the interactive SQL client on a real terminal (tmux). Multi-line statements, an error that leaves the
 * client running, a live SELECT whose rows change in place (table mode) and whose changes are listed (changelog
 * mode) while the source table changes, an INSERT running as a background job (SHOW JOBS, STOP JOB), the history
 * file, QUIT.
 */
describe.skipIf(tmuxMissing !== undefined)(
  `the interactive SQL client in a terminal${tmuxMissing ? ` (skipped: ${tmuxMissing})` : ''}`,
  () => {
    const db = uniqueName('sqltty');
    const tmux = privateTmux(uniqueName('tributary-sqltty'));
    const pane = () => tmux.pane('sql');
    let source: Connection;
    let sink: FreshPostgresDatabase;
    let dir: string;

    /** Types a line (or several, each ended with Enter). */
    const type = async (...lines: string[]) => {
      for (const line of lines) {
        // tmux reads an argument's trailing ";" as its command separator: the ";" goes as a key code.
        const text = line.endsWith(';') ? line.slice(0, -1) : line;
        if (text !== '') await tmux('send-keys', '-t', 'sql', '-l', text);
        if (line.endsWith(';')) await tmux('send-keys', '-t', 'sql', '-H', '3b');
        await tmux('send-keys', '-t', 'sql', 'Enter');
      }
    };
    const screenShows = async (pattern: RegExp, message: string) => {
      let screen = '';
      await waitFor(async () => pattern.test((screen = await pane())), { timeoutMs: 60_000, message }).catch(
        async (error: unknown) => {
          // The screen, and the client's log (what its jobs did), say why.
          const log = await readFile(join(dir, '.tributary', 'sql-client.log'), 'utf8').catch(() => '(no log)');
          console.log(`${screen}\n--- sql-client.log (last 60 lines) ---\n${log.split('\n').slice(-60).join('\n')}`);
          throw error;
        },
      );
      return screen;
    };

    beforeAll(async () => {
      source = await mysqlAdmin();
      await source.query(`CREATE DATABASE ${db}`);
      await source.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY, g VARCHAR(8) NOT NULL, v INT)`);
      await source.query(`INSERT INTO ${db}.t VALUES (1, 'red', 10), (2, 'red', 20), (3, 'blue', 5)`);
      sink = await freshPostgresDatabase('sqltty');
      dir = await testTempDir('sqltty');
      await tmux(
        'new-session',
        '-d',
        '-s',
        'sql',
        '-x',
        '160',
        '-y',
        '40',
        '-c',
        dir,
        '-e',
        `TRIBUTARY_SQL_HISTORY=${join(dir, 'history')}`,
        `'${process.execPath}' '${BIN}' sql; echo "EXIT=$?"; sleep 600`,
      );
      await screenShows(/^tributary>/m, 'the prompt');
    });

    afterAll(async () => {
      await tmux('kill-server').catch(() => undefined);
      await source?.query(`DROP DATABASE IF EXISTS ${db}`);
      await source?.end();
      await sink?.drop();
    });

    it('runs statements over several lines, shows errors and goes on, and shows a live result in place', async () => {
      await type(
        'CREATE TABLE t (id INT, g STRING, v INT, PRIMARY KEY (id) NOT ENFORCED)',
        `  WITH (${mysqlCdcOptions(db, 't')});`,
      );
      await screenShows(/Execute statement succeeded/, 'CREATE TABLE to succeed');
      await type('SELECT nope FROM t;');
      await screenShows(/\[ERROR\] line 1, column 8: unknown column nope/, 'the error');

      await type('SELECT g, COUNT(*) AS n, SUM(v) AS s FROM t GROUP BY g;');
      let screen = await screenShows(/SQL Query Result \(Table\)[\s\S]*\|\s+red \|\s+2 \|\s+30 \|/, 'the live table');
      expect(screen).toMatch(/\|\s+blue \|\s+1 \|\s+5 \|/);
      const redLine = screen.split('\n').findIndex((l) => /\|\s+red \|/.test(l));
      await source.query(`UPDATE ${db}.t SET v = 25 WHERE id = 2`);
      screen = await screenShows(/\|\s+red \|\s+2 \|\s+35 \|/, 'the red row to change');
      // In place: the same line of the screen, and no second red row.
      expect(screen.split('\n').findIndex((l) => /\|\s+red \|/.test(l))).toBe(redLine);
      expect(screen.match(/\|\s+red \|/g)).toHaveLength(1);
      await tmux('send-keys', '-t', 'sql', 'q');
      screen = await screenShows(/Query stopped after \d+ changes/, 'the client back after q');

      await type("SET 'sql-client.execution.result-mode' = 'changelog';", 'SELECT g, COUNT(*) AS n FROM t GROUP BY g;');
      await screenShows(/SQL Query Result \(Changelog\)[\s\S]*\|\s+\+I \|\s+red \|\s+2 \|/, 'the changelog');
      await source.query(`DELETE FROM ${db}.t WHERE id = 1`);
      screen = await screenShows(/\|\s+-U \|\s+red \|\s+2 \|\s*\n\|\s+\+U \|\s+red \|\s+1 \|/, 'an update as -U/+U');
      await source.query(`DELETE FROM ${db}.t WHERE id = 3`);
      await screenShows(/\|\s+-D \|\s+blue \|\s+1 \|/, 'a deleted group as -D');
      await tmux('send-keys', '-t', 'sql', 'q');
      await screenShows(/Query stopped after \d+ changes[\s\S]*tributary>\s*$/, 'the prompt after q');

      // A live Top-N (ORDER BY … LIMIT): rows enter and leave the first two as values change.
      await tmux('send-keys', '-t', 'sql', 'C-l');
      await source.query(`INSERT INTO ${db}.t VALUES (4, 'red', 40), (5, 'blue', 30)`);
      await type("SET 'sql-client.execution.result-mode' = 'table';", 'SELECT id, v FROM t ORDER BY v DESC LIMIT 2;');
      screen = await screenShows(/SQL Query Result \(Table\)[\s\S]*\|\s+5 \|\s+30 \|/, 'the first two rows');
      expect(screen).toMatch(/\|\s+4 \|\s+40 \|/);
      expect(screen).not.toMatch(/\|\s+2 \|\s+25 \|/);
      await source.query(`UPDATE ${db}.t SET v = 50 WHERE id = 2`);
      screen = await screenShows(/\|\s+2 \|\s+50 \|/, 'row 2 to enter the top');
      await waitFor(async () => !/\|\s+5 \|\s+30 \|/.test(await pane()), {
        timeoutMs: 30_000,
        message: 'row 5 to leave the top',
      });
      await tmux('send-keys', '-t', 'sql', 'q');
      await screenShows(/Query stopped after \d+ changes[\s\S]*tributary>\s*$/, 'the prompt after q');
      await source.query(`DELETE FROM ${db}.t WHERE id IN (4, 5)`);
    });

    it('runs INSERT INTO as a background job: SHOW JOBS, STOP JOB; QUIT leaves; the history is kept', async () => {
      await tmux('send-keys', '-t', 'sql', 'C-l');
      await type(
        `CREATE TABLE totals (g STRING, n BIGINT, PRIMARY KEY (g) NOT ENFORCED) WITH (${jdbcOptions(sink.url, 'totals')});`,
        "SET 'execution.checkpointing.interval' = '200ms';",
        'INSERT INTO totals SELECT g, COUNT(*) FROM t GROUP BY g;',
      );
      const screen = await screenShows(/Job ID: ([0-9a-f]{32})/, 'the job id');
      const id = /Job ID: ([0-9a-f]{32})/.exec(screen)![1]!;
      await waitFor(async () => (await sink.query('SELECT g, n::text AS n FROM totals')).length === 1, {
        timeoutMs: 60_000,
        message: 'the job to write the sink',
      });
      expect(await sink.query('SELECT g, n::text AS n FROM totals')).toEqual([{ g: 'red', n: '1' }]);
      await type('SHOW JOBS;');
      await screenShows(new RegExp(`${id} \\| sql-totals +\\| RUNNING`), 'the job RUNNING');
      await source.query(`INSERT INTO ${db}.t VALUES (4, 'green', 1)`);
      await waitFor(async () => (await sink.query('SELECT g FROM totals')).length === 2, {
        timeoutMs: 60_000,
        message: 'the background job to follow a change',
      });
      await type(`STOP JOB '${id}';`, 'SHOW JOBS;');
      await screenShows(/The specified job is stopped\.[\s\S]*\| CANCELED/, 'the job stopped');
      await type('QUIT;');
      await screenShows(/Goodbye![\s\S]*EXIT=0/, 'the client to exit 0');
      const history = await readFile(join(dir, 'history'), 'utf8');
      expect(history).toContain('SELECT g, COUNT(*) AS n, SUM(v) AS s FROM t GROUP BY g;');
      expect(history).toContain(`STOP JOB '${id}';`);
    });
  },
);
