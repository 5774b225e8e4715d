import type { Connection } from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePipelineFile } from './harness/cli-process.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  tolerateDisconnects,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { testPipelineYaml } from './harness/pipelines.js';
import { testTempDir } from './harness/temp-dirs.js';
import { privateTmux, tmuxMissing } from './harness/tmux.js';

const BIN = new URL('../bin/tributary.js', import.meta.url).pathname;

/**
 * Issue 14: `tributary run` on a real terminal (tmux) shows a bar per table being snapshotted, redrawn in place,
 * then a status line once streaming. A lock in the sink holds the snapshot back, so the bars are there to see
 * for as long as the test needs, whatever the machine's speed.
 */
describe.skipIf(tmuxMissing !== undefined)(
  `run's live display in a terminal${tmuxMissing ? ` (skipped: ${tmuxMissing})` : ''}`,
  () => {
    const db = uniqueName('ttybars');
    const socket = uniqueName('tributary-tmux');
    let source: Connection;
    let sink: FreshPostgresDatabase;
    let blocker: pg.Client | undefined;

    const tmux = privateTmux(socket);
    const pane = (session = 'run') => tmux.pane(session);
    let envArgs: string[] = [];

    beforeAll(async () => {
      source = await mysqlAdmin();
      await source.query(`CREATE DATABASE ${db};
      CREATE TABLE ${db}.big (id INT PRIMARY KEY, v VARCHAR(20));
      CREATE TABLE ${db}.small (id INT PRIMARY KEY, v VARCHAR(20));`);
      await source.query(`INSERT INTO ${db}.big SELECT seq, CONCAT('v', seq) FROM ${db}.seq_1_to_20000`);
      await source.query(`INSERT INTO ${db}.small SELECT seq, CONCAT('v', seq) FROM ${db}.seq_1_to_3000`);
      await source.query(`ANALYZE TABLE ${db}.big, ${db}.small`);
      sink = await freshPostgresDatabase('ttybars');
      // The sink table exists (as the sink would create it) and is locked: the snapshot's first write waits.
      await sink.query(`CREATE SCHEMA ${db}; CREATE TABLE ${db}.big (id integer PRIMARY KEY, v varchar(20))`);
      blocker = tolerateDisconnects(new pg.Client({ connectionString: sink.url }));
      await blocker.connect();
      await blocker.query(`BEGIN; LOCK TABLE ${db}.big IN ACCESS EXCLUSIVE MODE`);

      const { yaml, env } = await testPipelineYaml({
        name: 'tty-bars',
        tables: `${db}.big, ${db}.small`,
        sinkUrl: sink.url,
        chunkSize: 1000,
      });
      const file = await writePipelineFile(await testTempDir('tributary-tty'), yaml);
      envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
      await tmux(
        'new-session',
        '-d',
        '-s',
        'run',
        '-x',
        '150',
        '-y',
        '40',
        ...envArgs,
        `'${process.execPath}' '${BIN}' run '${file}' --no-http; echo "EXIT=$?"; sleep 600`,
      );
    });

    afterAll(async () => {
      await blocker?.end().catch(() => undefined);
      await tmux('kill-server').catch(() => undefined);
      await source?.query(`DROP DATABASE IF EXISTS ${db}`);
      await source?.end();
      await sink?.drop();
    });

    it('draws a bar per table during the snapshot, in place, then a status line; Ctrl-C stops it cleanly', async () => {
      const bar = new RegExp(`^  ${db}\\.big +[█░]{20} +\\d+ %  chunk ~\\d+ of ~\\d+  [\\d,]+ of ~[\\d,]+ rows`, 'm');
      let screen = '';
      await waitFor(
        async () => {
          screen = await pane();
          return bar.test(screen);
        },
        { message: 'a progress bar for the big table' },
      );
      expect(screen).toMatch(/^snapshot: 0 of 2 tables done · [\d,]+ of ~[\d,]+ rows \(\d+ %\)/m);
      expect(screen).toMatch(/^binlog \S+ · lag \d+ s/m);
      // Several redraws later the display is still one block: redrawn in place, not appended.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      screen = await pane();
      expect(screen.match(/^snapshot: /gm)).toHaveLength(1);
      expect(screen.match(bar) ?? []).toHaveLength(1);
      expect(screen).toContain('INFO  pipeline tty-bars: 2 source tables'); // log lines stay above the display

      await blocker!.query('COMMIT');
      await waitFor(
        async () => {
          screen = await pane();
          return /^streaming: binlog \S+ · lag \d+ s/m.test(screen);
        },
        { message: 'the streaming status line' },
      );
      expect(screen).not.toMatch(/^snapshot: /m);
      expect(screen).not.toMatch(bar);

      await tmux('send-keys', '-t', 'run', 'C-c');
      await waitFor(async () => (screen = await pane()).includes('EXIT=0'), { message: 'run to exit 0 after Ctrl-C' });
      expect(screen).not.toMatch(/^streaming: /m);
      expect(screen).toMatch(/pipeline tty-bars stopped/);
    });

    it('writes JSON log lines and no live display with --log-format json, on a terminal too', async () => {
      const { yaml } = await testPipelineYaml({ name: 'tty-json', tables: `${db}.small`, sinkUrl: sink.url });
      const file = await writePipelineFile(await testTempDir('tributary-tty-json'), yaml);
      await tmux(
        'new-session',
        '-d',
        '-s',
        'json',
        '-x',
        '150',
        '-y',
        '40',
        ...envArgs,
        `'${process.execPath}' '${BIN}' run '${file}' --no-http --log-format json; echo "EXIT=$?"; sleep 600`,
      );
      let screen = '';
      await waitFor(
        async () => (screen = await pane('json')).includes('"message":"pipeline tty-json: 1 source table'),
        {
          message: 'the JSON start line',
        },
      );
      // Several seconds in which the live display would have been drawn a few times (it is erased at the stop).
      await new Promise((resolve) => setTimeout(resolve, 2500));
      screen = await pane('json');
      expect(screen).toMatch(/^\{"time":"[^"]+","level":"info"/m);
      expect(screen).not.toMatch(/^(snapshot|streaming): /m);
      expect(screen).not.toContain('█');
      await tmux('send-keys', '-t', 'json', 'C-c');
      await waitFor(async () => (await pane('json')).includes('EXIT=0'), { message: 'run to exit 0' });
    });
  },
);
