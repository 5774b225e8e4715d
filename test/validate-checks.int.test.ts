import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composePipeline } from '../src/composer/pipeline-composer.js';
import type { ValidateOptions, ValidationReport } from '../src/composer/pipeline-validation.js';
import { parsePipelineYaml } from '../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../src/connectors/registry.js';
import { isTributaryError, type TributaryError, type ValidationCheck } from '../src/core/index.js';
import { createLogger } from '../src/runtime/logger.js';
import { StateStore } from '../src/runtime/state-store.js';
import { startCli, writePipelineFile } from './harness/cli-process.js';
import { testTempDir } from './harness/temp-dirs.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startTestPipeline, testPipelineYaml, type TestPipelineOptions } from './harness/pipelines.js';

/**
 * Issue 10, points 2 and 3: `validate` checks what `run` checks before its first row, and says what it
 * checked — merged shards whose key does not tell them apart (and whether their keys overlap), the binlog's
 * retention and row metadata, a chunk key column that is not a key, an existing sink table that does not fit,
 * and saved state that does not belong to the server.
 */
describe('validate: every check run makes before its first row', () => {
  const db = uniqueName('vcheck');
  let admin: Connection;
  let sink: FreshPostgresDatabase;

  beforeAll(async () => {
    admin = await mysqlAdmin();
    await admin.query(`CREATE DATABASE ${db}`);
    // Two shards whose ids overlap (1..3 in both), two whose ids do not, and a table without a primary key.
    for (const [table, ids] of [
      ['orders_a', [1, 2, 3]],
      ['orders_b', [1, 2, 3, 4, 5]],
      ['parts_a', [1, 2]],
      ['parts_b', [10, 11]],
    ] as const) {
      await admin.query(`CREATE TABLE ${db}.${table} (id INT PRIMARY KEY, v VARCHAR(20))`);
      await admin.query(`INSERT INTO ${db}.${table} VALUES ${ids.map((id) => `(${id}, '${table}-${id}')`).join(', ')}`);
    }
    await admin.query(`CREATE TABLE ${db}.loose (c INT NULL, v TEXT)`);
    await admin.query(`INSERT INTO ${db}.loose VALUES (1, 'a'), (1, 'b'), (NULL, 'c')`);
    await admin.query(`CREATE TABLE ${db}.plain (id INT PRIMARY KEY, v TEXT, extra INT)`);
    sink = await freshPostgresDatabase('vcheck');
  });

  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${db}`);
    await admin.end();
    await sink.drop();
  });

  async function pipelineDef(options: Partial<TestPipelineOptions>) {
    const { yaml, env } = await testPipelineYaml({
      name: uniqueName('v'),
      tables: `${db}.plain`,
      sinkUrl: sink.url,
      ...options,
    });
    return parsePipelineYaml(yaml, { file: 'pipeline.yaml', env, optionSpecsFor, knownTypes });
  }

  async function validate(
    options: Partial<TestPipelineOptions>,
    validateOptions: ValidateOptions = {},
  ): Promise<ValidationReport> {
    return composePipeline(await pipelineDef(options), { log: createLogger({ write: () => {} }) }).validate(
      validateOptions,
    );
  }

  async function validateError(options: Partial<TestPipelineOptions>): Promise<TributaryError> {
    try {
      await validate(options);
    } catch (error) {
      if (isTributaryError(error)) return error;
      throw error;
    }
    throw new Error('validation passed but should have failed');
  }

  const mergeOrders = (sinkTable: string) =>
    `route:\n  - source-table: ${db}.orders_[ab]\n    sink-table: public.${sinkTable}\n`;

  describe('merged shards whose key does not tell them apart', () => {
    it('warns, naming the tables, the overlap of their ids and the fix', async () => {
      const { checks } = await validate({ tables: `${db}.orders_[ab]`, extraYaml: mergeOrders('orders') });
      const warning = checks.find((c) => c.code === 'ROUTE_KEY_COLLISION');
      expect(warning?.status).toBe('warning');
      expect(warning?.message).toContain(`${db}.orders_a, ${db}.orders_b`);
      expect(warning?.message).toContain('public.orders');
      expect(warning?.message).toContain(
        `${db}.orders_a and ${db}.orders_b both hold keys in id 1..3: 3 keys in common`,
      );
      expect(warning?.fix).toMatch(/__table_name__ AS _table_name.*primary-keys: _table_name, id/);
    });

    it('says when the key ranges do not overlap (yet)', async () => {
      const { checks } = await validate({
        tables: `${db}.parts_[ab]`,
        extraYaml: `route:\n  - source-table: ${db}.parts_[ab]\n    sink-table: public.parts\n`,
      });
      const warning = checks.find((c) => c.code === 'ROUTE_KEY_COLLISION');
      expect(warning?.message).toContain(`${db}.parts_a holds id 1..2 and ${db}.parts_b id 10..11: no key in both yet`);
    });

    it('route.key-collision: fail refuses with ROUTE_KEY_COLLISION and the fix', async () => {
      const error = await validateError({
        tables: `${db}.orders_[ab]`,
        extraYaml: mergeOrders('orders'),
        pipelineYaml: '  route.key-collision: fail',
      });
      expect(error.code).toBe('ROUTE_KEY_COLLISION');
      expect(error.message).toContain('3 keys in common');
      expect(error.hint).toMatch(/__table_name__/);
    });

    it('no warning when the key holds the table name (or collisions are ignored)', async () => {
      const transform =
        `transform:\n  - source-table: ${db}.orders_[ab]\n    projection: \\*, __table_name__ AS _table_name\n` +
        '    primary-keys: _table_name, id\n';
      const keyed = await validate({ tables: `${db}.orders_[ab]`, extraYaml: transform + mergeOrders('orders_keyed') });
      // The test pipelines connect as the server's root, whose ALL PRIVILEGES draw a least-privilege warning of its own.
      const notOk = (checks: readonly ValidationCheck[]) =>
        checks.filter((c) => c.status !== 'ok' && !c.message.includes('more than change data capture needs'));
      expect(notOk(keyed.checks)).toEqual([]);
      const ignored = await validate({
        tables: `${db}.orders_[ab]`,
        extraYaml: mergeOrders('orders'),
        pipelineYaml: '  route.key-collision: ignore',
      });
      expect(notOk(ignored.checks)).toEqual([]);
    });

    it('`tributary run` warns too before it starts', async () => {
      const { yaml, env } = await testPipelineYaml({
        name: uniqueName('vrun'),
        tables: `${db}.orders_[ab]`,
        sinkUrl: sink.url,
        extraYaml: mergeOrders('orders_run'),
        pipelineYaml: '  route.key-collision: fail',
      });
      const cli = startCli(['run', await writePipelineFile(await testTempDir('tributary-vrun'), yaml)], env);
      expect(await cli.exited, cli.output()).toBe(1);
      expect(cli.output()).toMatch(/\[ROUTE_KEY_COLLISION\] .*3 keys in common/);
      expect(await sink.query(`SELECT to_regclass('public.orders_run') AS t`)).toEqual([{ t: null }]);
    });
  });

  describe('while the pipeline runs', () => {
    it('a shard created during the run, colliding with one already merged: warned in the log', async () => {
      await admin.query(`CREATE TABLE ${db}.shard_1 (id INT PRIMARY KEY, v TEXT)`);
      await admin.query(`INSERT INTO ${db}.shard_1 VALUES (1, 'first')`);
      const target = await freshPostgresDatabase('vshard');
      const running = await startTestPipeline({
        name: uniqueName('vshard'),
        tables: `${db}.shard_[0-9]+`,
        sinkUrl: target.url,
        extraYaml: `route:\n  - source-table: ${db}.shard_[0-9]+\n    sink-table: public.shards\n`,
      });
      try {
        await waitFor(
          async () =>
            (await target.query('SELECT count(*)::int AS n FROM public.shards').catch(() => []))[0]?.['n'] === 1,
          {
            message: 'the first shard in the sink',
          },
        );
        expect(running.logs.join('\n')).not.toContain('ROUTE_KEY_COLLISION');
        await admin.query(`CREATE TABLE ${db}.shard_2 (id INT PRIMARY KEY, v TEXT)`);
        await admin.query(`INSERT INTO ${db}.shard_2 VALUES (1, 'second')`);
        await waitFor(() => Promise.resolve(running.logs.some((l) => l.includes('ROUTE_KEY_COLLISION'))), {
          message: 'a warning about shard_2',
        });
        const warning = running.logs.find((l) => l.includes('ROUTE_KEY_COLLISION'))!;
        expect(warning).toContain(`2 source tables (${db}.shard_1, ${db}.shard_2) are merged into public.shards`);
        expect(warning).toMatch(/fix: add a transform/);
      } finally {
        await running.stop();
        await target.drop();
      }
    });

    it('route.key-collision: fail stops a run started from code before any row is written', async () => {
      const target = await freshPostgresDatabase('vfail');
      try {
        const running = await startTestPipeline({
          name: uniqueName('vfail'),
          tables: `${db}.orders_[ab]`,
          sinkUrl: target.url,
          extraYaml: mergeOrders('orders'),
          pipelineYaml: '  route.key-collision: fail',
        });
        const error = await running.done.then(
          () => null,
          (e: TributaryError) => e,
        );
        expect(error?.code).toBe('ROUTE_KEY_COLLISION');
        expect(await target.query(`SELECT to_regclass('public.orders') AS t`)).toEqual([{ t: null }]);
      } finally {
        await target.drop();
      }
    });
  });

  describe('server settings', () => {
    it('a binlog kept for 10 minutes: a warning naming binlog_expire_logs_seconds', async () => {
      const [rows] = await admin.query('SELECT @@GLOBAL.binlog_expire_logs_seconds AS s');
      const before = Number((rows as { s: number }[])[0]!.s);
      await admin.query('SET GLOBAL binlog_expire_logs_seconds = 600');
      let report: ValidationReport;
      try {
        report = await validate({});
      } finally {
        await admin.query(`SET GLOBAL binlog_expire_logs_seconds = ${before}`);
      }
      const warning = report.checks.find((c) => c.message.includes('binlog_expire_logs_seconds'));
      expect(warning).toMatchObject({ status: 'warning', code: 'SOURCE_BINLOG_PURGED' });
      expect(warning?.message).toContain('binlog_expire_logs_seconds is 600 (10 min)');
      expect(warning?.fix).toMatch(/binlog_expire_logs_seconds = 604800/);
    });

    it('binlog_row_metadata=MINIMAL: a warning saying what is lost and how to set FULL', async () => {
      await admin.query("SET GLOBAL binlog_row_metadata = 'MINIMAL'");
      let report: ValidationReport;
      try {
        report = await validate({});
      } finally {
        await admin.query("SET GLOBAL binlog_row_metadata = 'FULL'");
      }
      const warning = report.checks.find((c) => c.message.includes('binlog_row_metadata'));
      expect(warning?.status).toBe('warning');
      expect(warning?.message).toMatch(/binlog_row_metadata is MINIMAL: .*no column names/);
      expect(warning?.fix).toMatch(/binlog_row_metadata = FULL/);
    });

    it('a chunk key column that is nullable and not unique: a warning naming table and column', async () => {
      const { checks } = await validate({
        tables: `${db}.loose`,
        sourceYaml: '  scan.incremental.snapshot.chunk.key-column: c',
      });
      const warning = checks.find((c) => c.message.includes('chunk key column'));
      expect(warning?.status).toBe('warning');
      expect(warning?.message).toContain(`the chunk key column c of ${db}.loose is nullable and not unique`);
      expect(warning?.fix).toMatch(/UNIQUE/);
    });
  });

  it('an existing sink table without a source column: SINK_SCHEMA_MISMATCH, as the run would stop', async () => {
    const target = await freshPostgresDatabase('vtarget');
    try {
      await target.query(`CREATE SCHEMA "${db}"`);
      await target.query(`CREATE TABLE "${db}".plain (id int PRIMARY KEY, v text)`);
      const error = await validateError({ sinkUrl: target.url });
      expect(error.code).toBe('SINK_SCHEMA_MISMATCH');
      expect(error.message).toContain(`without column extra`);
      expect(error.hint).toMatch(/ADD COLUMN "extra"/);
      // Nothing was created or changed: the checkpoint table does not exist.
      expect(await target.query(`SELECT to_regclass('tributary.checkpoints') AS t`)).toEqual([{ t: null }]);
    } finally {
      await target.drop();
    }
  });

  it('the same with a DuckDB sink: an existing table without a source column is SINK_SCHEMA_MISMATCH', async () => {
    const path = join(await testTempDir('tributary-vduck'), 'warehouse.duckdb');
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    try {
      await connection.run(`CREATE SCHEMA "${db}"`);
      await connection.run(`CREATE TABLE "${db}".plain (id INTEGER PRIMARY KEY, v VARCHAR)`);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
    const error = await validateError({ sinkYaml: `  type: duckdb\n  path: ${path}` });
    expect(error.code).toBe('SINK_SCHEMA_MISMATCH');
    expect(error.message).toContain('without column extra');
  });

  describe('saved state that does not belong to the server', () => {
    const name = uniqueName('vstate');
    let stateDir: string;
    let target: FreshPostgresDatabase;

    beforeAll(async () => {
      target = await freshPostgresDatabase('vstate');
      const running = await startTestPipeline({ name, tables: `${db}.plain`, sinkUrl: target.url });
      stateDir = running.pipeline.stateStore().dir;
      await waitFor(async () => (await running.pipeline.stateStore().load()) !== null, {
        message: 'no first checkpoint',
      });
      // A change read from the binlog: the checkpoint after it carries the fingerprint of the events before it.
      await admin.query(`INSERT INTO ${db}.plain VALUES (1, 'streamed', 1)`);
      await waitFor(
        async () => {
          const rows = await target.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM tributary.checkpoints WHERE pipeline = $1 AND position->'binlog' ? 'fingerprint'",
            [name],
          );
          return rows[0]?.n === 1;
        },
        { message: 'no checkpoint with a fingerprint' },
      );
      await running.stop();
    });

    afterAll(async () => {
      await target?.drop();
    });

    async function withSavedPosition(change: string): Promise<TributaryError | null> {
      const saved = await target.query<{ position: unknown }>(
        'SELECT position FROM tributary.checkpoints WHERE pipeline = $1',
        [name],
      );
      await target.query(`UPDATE tributary.checkpoints SET position = ${change} WHERE pipeline = $1`, [name]);
      try {
        await validate({ name, tables: `${db}.plain`, sinkUrl: target.url, stateDir });
        return null;
      } catch (error) {
        if (isTributaryError(error)) return error;
        throw error;
      } finally {
        await target.query('UPDATE tributary.checkpoints SET position = $2::jsonb WHERE pipeline = $1', [
          name,
          JSON.stringify(saved[0]!.position),
        ]);
      }
    }

    it('its own checkpoint: ok, and said so', async () => {
      const { checks } = await validate({ name, tables: `${db}.plain`, sinkUrl: target.url, stateDir });
      expect(checks.find((c) => c.message.startsWith('saved checkpoint'))?.message).toMatch(
        /is in this server's binlog \(fingerprint matches\)/,
      );
    });

    it("another server's identity: PIPELINE_STATE_MISMATCH", async () => {
      const error = await withSavedPosition(`jsonb_set(position, '{serverUuid}', '"server-id:77"')`);
      expect(error?.code).toBe('PIPELINE_STATE_MISMATCH');
      expect(error?.message).toContain('server-id:77');
    });

    it("the same server_id, a position beyond this server's binlog: PIPELINE_STATE_MISMATCH, not SOURCE_BINLOG_PURGED", async () => {
      const error = await withSavedPosition(`jsonb_set(position, '{binlog,pos}', '987654321')`);
      expect(error?.code).toBe('PIPELINE_STATE_MISMATCH');
      expect(error?.message).toMatch(/not in this server's binlog/);
      expect(error?.hint).toMatch(/--reset/);
      const later = await withSavedPosition(`jsonb_set(position, '{binlog,file}', '"mysql-bin.999999"')`);
      expect(later?.code).toBe('PIPELINE_STATE_MISMATCH');
    });

    it('--from-savepoint: the savepoint is checked instead, and --reset checks none', async () => {
      const options = { name, tables: `${db}.plain`, sinkUrl: target.url, stateDir };
      const [savepoint] = await new StateStore(stateDir).listSavepoints();
      expect(savepoint, 'the clean stop wrote a savepoint').toBeDefined();
      const { checks } = await validate(options, { fromSavepoint: String(savepoint!.checkpoint.id) });
      expect(checks.find((c) => c.message.startsWith('savepoint'))?.status).toBe('ok');
      const foreign = join(await testTempDir('tributary-vsave'), 'savepoint.json');
      const position = { ...savepoint!.checkpoint.position, serverUuid: 'server-id:78' };
      await writeFile(foreign, JSON.stringify({ ...savepoint!.checkpoint, position }));
      const error = await validate(options, { fromSavepoint: foreign }).then(
        () => null,
        (e: TributaryError) => e,
      );
      expect(error?.code).toBe('PIPELINE_STATE_MISMATCH');
      const reset = await validate({ ...options }, { ignoreSavedState: true });
      expect(reset.checks.some((c) => c.message.startsWith('saved checkpoint'))).toBe(false);
    });

    it('a fingerprint that does not match: PIPELINE_STATE_MISMATCH', async () => {
      const error = await withSavedPosition(
        `jsonb_set(position, '{binlog,fingerprint}', (SELECT jsonb_agg(jsonb_build_array(e->0, e->1, 12345)) FROM jsonb_array_elements(position->'binlog'->'fingerprint') e))`,
      );
      expect(error?.code).toBe('PIPELINE_STATE_MISMATCH');
    });
  });

  it('`tributary validate` prints the checklist: each check ok, warn or error with the fix', async () => {
    const { yaml, env } = await testPipelineYaml({
      name: uniqueName('vcli'),
      tables: `${db}.orders_[ab]`,
      sinkUrl: sink.url,
      extraYaml: mergeOrders('orders_cli'),
    });
    const cli = startCli(['validate', await writePipelineFile(await testTempDir('tributary-vcli'), yaml)], env);
    expect(await cli.exited, cli.output()).toBe(0);
    const output = cli.output();
    expect(output).toMatch(/^ {2}ok {4}binlog_format=ROW$/m);
    expect(output).toMatch(/^ {2}ok {4}no saved checkpoint of pipeline/m);
    expect(output).toMatch(/^ {2}warn {2}\[ROUTE_KEY_COLLISION\] 2 source tables/m);
    expect(output).toMatch(/^ {8}fix: add a transform/m);
    // Besides the collision: the least-privilege warnings about the tests' root user (one per grant line).
    const excess = output.match(/^ {2}warn {2}user 'root' holds .*more than change data capture needs/gm) ?? [];
    expect(excess.length).toBeGreaterThan(0);
    expect(output).toMatch(new RegExp(`: valid — ${excess.length + 1} warnings$`, 'm'));
  });
});
