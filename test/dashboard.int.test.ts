import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { startCli, writePipelineFile, type CliProcess } from './harness/cli-process.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { testPipelineYaml } from './harness/pipelines.js';
import { BROWSER_CHECKS, inChromium } from './harness/browser.js';
import { parsePrometheusText, sampleValue } from './harness/prometheus-text.js';
import { testTempDir } from './harness/temp-dirs.js';

const ROWS = 12_000;

/**
 * Issue 14: a running pipeline can be watched — the dashboard of `tributary run` in a real browser (snapshot
 * progress that moves and finishes, the lag, a schema change), and `/metrics` as Prometheus scrapes it.
 */
describe('the dashboard and /metrics of tributary run', () => {
  const db = uniqueName('dash');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let cli: CliProcess;
  let url: string;
  let changes: Promise<void> | undefined;
  let pipelineFile: string;
  let pipelineEnv: Record<string, string>;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(
      `CREATE DATABASE ${db}; CREATE TABLE ${db}.orders (id INT PRIMARY KEY, amount DECIMAL(12,2), note VARCHAR(40))`,
    );
    await source.query(`INSERT INTO ${db}.orders SELECT seq, seq * 1.25, CONCAT('n', seq) FROM ${db}.seq_1_to_${ROWS}`);
    sink = await freshPostgresDatabase('dash');
    const { yaml, env } = await testPipelineYaml({
      name: 'dash',
      tables: `${db}.orders`,
      sinkUrl: sink.url,
      chunkSize: 500,
      // Slow enough that a person (and the test) sees the progress move.
      sourceYaml: '  scan.snapshot.rows-per-second: 1000',
    });
    const file = await writePipelineFile(await testTempDir('tributary-dash'), yaml);
    pipelineFile = file;
    pipelineEnv = env;
    cli = startCli(['run', file, '--http', '127.0.0.1:0'], env);
    await waitFor(() => /dashboard: (http:\S+)/.test(cli.output()), { message: 'run to print the dashboard URL' });
    url = /dashboard: (http:\S+)/.exec(cli.output())![1]!;
  });

  afterAll(async () => {
    cli?.child.kill('SIGTERM');
    await cli?.exited;
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  /** After the snapshot: a column added and rows changed at the source (once, whichever test comes first). */
  function applyChanges(): Promise<void> {
    changes ??= (async () => {
      await waitFor(async () => (await sinkCount()) === ROWS, { message: 'the snapshot in the sink' });
      await source.query(`ALTER TABLE ${db}.orders ADD COLUMN status VARCHAR(10) DEFAULT 'new'`);
      await source.query(`UPDATE ${db}.orders SET status = 'paid' WHERE id <= 100`);
      await waitFor(
        async () =>
          (await sink.query(`SELECT count(*)::int AS n FROM ${db}.orders WHERE status = 'paid'`).catch(() => []))[0]
            ?.n === 100,
        { message: 'the changes in the sink' },
      );
    })();
    return changes;
  }

  async function sinkCount(): Promise<number> {
    const rows = await sink.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${db}.orders`).catch(() => []);
    return rows[0]?.n ?? 0;
  }

  it.skipIf(!BROWSER_CHECKS)(
    'shows the snapshot progress moving to done, the lag and an applied schema change in headless Chromium',
    async () => {
      await inChromium(
        url,
        async (page) => {
          expect(await page.locator('h1').textContent()).toContain('dash');
          // The static page already names the table and shows the file, with the password masked.
          expect(await page.locator('#pipeline-file').textContent()).toContain(`${db}.orders`);
          expect(await page.locator('#pipeline-file').textContent()).not.toMatch(/postgres:\/\/[^$]*:[^$*]*@/);

          // The progress bar moves (live updates, no reload) and reaches done.
          const seen = new Set<number>();
          await waitFor(
            async () => {
              const state = await page.locator('#snapshot-state').getAttribute('data-state');
              const value = Number(
                await page
                  .locator('#snapshot-progress')
                  .getAttribute('value')
                  .catch(() => null),
              );
              if (Number.isFinite(value)) seen.add(value);
              return state === 'done';
            },
            { message: 'the page to show the snapshot done', intervalMs: 200 },
          );
          expect(
            [...seen].filter((v) => v > 0 && v < 100).length,
            `progress values seen: ${[...seen].join(', ')}`,
          ).toBeGreaterThanOrEqual(2);
          expect(await page.locator('#snapshot-progress').getAttribute('value')).toBe('100');

          await applyChanges();
          await waitFor(
            async () =>
              (
                (await page
                  .locator('#schema-change-list')
                  .textContent()
                  .catch(() => '')) ?? ''
              ).includes('addColumn'),
            { message: 'the page to list the schema change' },
          );
          expect(await page.locator('#schema-change-list').textContent()).toContain(`${db}.orders`);
          expect(await page.locator('#lag').textContent()).toMatch(/^\d+\.\d s, [\d,]+ bytes$/);
          expect(await page.locator('#phase').textContent()).toBe('streaming');
          await waitFor(async () => (await page.locator('#charts svg').count()) === 2, { message: 'the charts' });

          const dir = await testTempDir('tributary-dash-screenshot');
          const shot = join(dir, 'dashboard.png');
          await page.screenshot({ path: shot, fullPage: true });
          expect(existsSync(shot)).toBe(true);
          // To refresh the screenshot in docs/: TRIBUTARY_SCREENSHOT_DIR=docs/images npx vitest run test/dashboard.int.test.ts
          const keep = process.env['TRIBUTARY_SCREENSHOT_DIR'];
          if (keep) {
            await mkdir(keep, { recursive: true });
            await copyFile(shot, join(keep, 'dashboard.png'));
          }
        },
        { viewport: { width: 1200, height: 1400 } },
      );
    },
  );

  it('serves /metrics that Prometheus can parse, with the rows, checkpoints, lag and schema changes', async () => {
    await applyChanges();
    const response = await fetch(new URL('metrics', url));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const scrape = parsePrometheusText(await response.text());
    const table = { pipeline: 'dash', table: `${db}.orders` };
    // Snapshot rows plus the 100 updates, read and written.
    expect(sampleValue(scrape, 'tributary_source_rows_total', table)).toBe(ROWS + 100);
    expect(sampleValue(scrape, 'tributary_sink_rows_total', table)).toBe(ROWS + 100);
    expect(scrape.types.get('tributary_source_rows_total')).toBe('counter');
    expect(sampleValue(scrape, 'tributary_schema_changes_total', table)).toBe(1);
    expect(sampleValue(scrape, 'tributary_snapshot_tables', { state: 'done' })).toBe(1);
    expect(sampleValue(scrape, 'tributary_snapshot_chunks', { state: 'done' })).toBeGreaterThanOrEqual(ROWS / 500);
    expect(scrape.types.get('tributary_checkpoint_duration_seconds')).toBe('histogram');
    const checkpoints = sampleValue(scrape, 'tributary_checkpoints_total')!;
    expect(checkpoints).toBeGreaterThan(0);
    expect(sampleValue(scrape, 'tributary_checkpoint_duration_seconds_count')).toBe(checkpoints);
    expect(sampleValue(scrape, 'tributary_source_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(sampleValue(scrape, 'tributary_pipeline_state', { state: 'running' })).toBe(1);
    expect(scrape.samples.some((s) => s.name.startsWith('tributary_errors_total') && s.value > 0)).toBe(false);

    expect((await fetch(new URL('healthz', url))).status).toBe(200);
    expect((await fetch(new URL('readyz', url))).status).toBe(200);
    const status = (await (await fetch(new URL('api/status', url))).json()) as {
      phase: string;
      rowsOut: number;
      schemaChanges: { total: number };
    };
    expect(status).toMatchObject({ phase: 'streaming', rowsOut: ROWS + 100, schemaChanges: { total: 1 } });
  });

  it('tributary status shows the running pipeline, and the saved checkpoint once it stopped', async () => {
    await applyChanges();
    const running = startCli(['status', pipelineFile], pipelineEnv);
    expect(await running.exited, running.output()).toBe(0);
    expect(running.output()).toContain('pipeline dash: running, streaming');
    expect(running.output()).toContain(`rows read ${(ROWS + 100).toLocaleString('en-US')}`);
    expect(running.output()).toContain(`${db}.orders: addColumn`);

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    const stopped = startCli(['status', pipelineFile], pipelineEnv);
    expect(await stopped.exited, stopped.output()).toBe(0);
    expect(stopped.output()).toContain('pipeline dash: not running');
    expect(stopped.output()).toMatch(/last checkpoint \d+ at .* \(from the sink, postgres\): a run resumes there/);
  });
});
