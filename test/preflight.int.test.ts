import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { composePipeline } from '../src/composer/pipeline-composer.js';
import { parsePipelineYaml } from '../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../src/connectors/registry.js';
import { isTributaryError, type TributaryError } from '../src/core/index.js';
import { createLogger } from '../src/runtime/logger.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startTestPipeline, testPipelineYaml, type TestPipelineOptions } from './harness/pipelines.js';

/** Each thing a user can get wrong is caught before anything moves, with its own code and a fix. */
describe('preflight: bad configuration gives a clear error', () => {
  const db = uniqueName('preflight');
  let admin: Connection;
  let sink: FreshPostgresDatabase;
  const user = uniqueName('cdc_user').slice(0, 30);
  const password = 'S3cret-Pa55word-xyz';

  beforeAll(async () => {
    admin = await mysqlAdmin();
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.query(`CREATE TABLE ${db}.keyed (id INT PRIMARY KEY, v TEXT)`);
    await admin.query(`CREATE TABLE ${db}.keyless (v TEXT, n INT)`);
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await admin.query(`GRANT SELECT ON *.* TO '${user}'@'%'`);
    sink = await freshPostgresDatabase('preflight');
  });

  afterAll(async () => {
    await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await admin.query(`DROP DATABASE IF EXISTS ${db}`);
    await admin.end();
    await sink.drop();
  });

  async function validateError(
    options: Partial<TestPipelineOptions>,
    env: Record<string, string> = {},
  ): Promise<{ error: TributaryError; logs: string }> {
    const { yaml, env: baseEnv } = await testPipelineYaml({
      name: 'preflight',
      tables: `${db}.keyed`,
      sinkUrl: sink.url,
      ...options,
    });
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
    try {
      const def = parsePipelineYaml(yaml, {
        file: 'preflight.yaml',
        env: { ...baseEnv, ...env },
        optionSpecsFor,
        knownTypes,
      });
      await composePipeline(def, { log }).validate();
    } catch (error) {
      if (!isTributaryError(error)) throw error;
      log.error(error.format());
      return { error, logs: lines.join('\n') };
    }
    throw new Error('validation passed but should have failed');
  }

  it('wrong password: SOURCE_AUTH_FAILED, and the password appears nowhere', async () => {
    const { error, logs } = await validateError({}, { TEST_MYSQL_PASSWORD: 'definitely-wrong-pw' });
    expect(error.code).toBe('SOURCE_AUTH_FAILED');
    expect(error.hint).toMatch(/source\.password/);
    expect(error.format() + logs).not.toContain('definitely-wrong-pw');
  });

  it('unreachable server: SOURCE_UNREACHABLE naming host, port and the options to check', async () => {
    const { yaml, env } = await testPipelineYaml({ name: 'preflight', tables: `${db}.keyed`, sinkUrl: sink.url });
    const def = parsePipelineYaml(yaml.replace(/ {2}port: \d+/, '  port: 1'), {
      file: 'p.yaml',
      env,
      optionSpecsFor,
      knownTypes,
    });
    const error = await composePipeline(def, { log: createLogger({ write: () => {} }) })
      .validate()
      .then(
        () => null,
        (e: TributaryError) => e,
      );
    expect(error?.code).toBe('SOURCE_UNREACHABLE');
    expect(error?.message).toContain(':1');
    expect(error?.hint).toMatch(/source\.hostname and source\.port/);
    expect(error?.retryable).toBe(true);
  });

  it('a user without replication privileges: SOURCE_PRIVILEGES_MISSING with the GRANT to run', async () => {
    const { yaml } = await testPipelineYaml({ name: 'preflight', tables: `${db}.keyed`, sinkUrl: sink.url });
    const limited = yaml.replace(/username: .*/, `username: ${user}`);
    const def = parsePipelineYaml(limited, {
      file: 'p.yaml',
      env: { TEST_MYSQL_PASSWORD: password, TEST_SINK_URL: sink.url },
      optionSpecsFor,
      knownTypes,
    });
    const error = await composePipeline(def, { log: createLogger({ write: () => {} }) })
      .validate()
      .then(
        () => null,
        (e: TributaryError) => e,
      );
    expect(error?.code).toBe('SOURCE_PRIVILEGES_MISSING');
    expect(error?.message).toMatch(/REPLICATION SLAVE/);
    expect(error?.hint).toMatch(/GRANT .*REPLICATION SLAVE/);
  });

  it('a table the user sees but may not SELECT: SOURCE_PRIVILEGES_MISSING naming that table among those it may read', async () => {
    const reader = uniqueName('cdc_reader').slice(0, 30);
    await admin.query(`CREATE TABLE ${db}.secret (id INT PRIMARY KEY, v TEXT)`);
    await admin.query(`CREATE TABLE ${db}.open2 (id INT PRIMARY KEY, v TEXT)`);
    await admin.query(`CREATE USER '${reader}'@'%' IDENTIFIED BY '${password}'`);
    try {
      await admin.query(`GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${reader}'@'%'`);
      await admin.query(`GRANT SELECT ON ${db}.keyed TO '${reader}'@'%'`);
      await admin.query(`GRANT SELECT ON ${db}.open2 TO '${reader}'@'%'`);
      // INSERT only: the table is listed in information_schema, but a SELECT is refused.
      await admin.query(`GRANT INSERT ON ${db}.secret TO '${reader}'@'%'`);
      const { yaml } = await testPipelineYaml({
        name: 'preflight',
        tables: `${db}.keyed,${db}.secret,${db}.open2`,
        sinkUrl: sink.url,
      });
      const def = parsePipelineYaml(yaml.replace(/username: .*/, `username: ${reader}`), {
        file: 'p.yaml',
        env: { TEST_MYSQL_PASSWORD: password, TEST_SINK_URL: sink.url },
        optionSpecsFor,
        knownTypes,
      });
      const error = await composePipeline(def, { log: createLogger({ write: () => {} }) })
        .validate()
        .then(
          () => null,
          (e: TributaryError) => e,
        );
      expect(error?.code).toBe('SOURCE_PRIVILEGES_MISSING');
      expect(error?.message).toContain(`cannot SELECT from ${db}.secret`);
      expect(error?.hint).toContain(`GRANT SELECT ON \`${db}\`.* TO '${reader}'@'%'`);
    } finally {
      await admin.query(`DROP USER IF EXISTS '${reader}'@'%'`);
      await admin.query(`DROP TABLE IF EXISTS ${db}.secret, ${db}.open2`);
    }
  });

  it('a table without a primary key: SOURCE_NO_PRIMARY_KEY naming it and the chunk-key option', async () => {
    const { error } = await validateError({ tables: `${db}.\\.*` });
    expect(error.code).toBe('SOURCE_NO_PRIMARY_KEY');
    expect(error.message).toContain(`${db}.keyless`);
    expect(error.hint).toMatch(/chunk\.key-column/);
  });

  it('a pattern that matches nothing: SOURCE_NO_TABLES', async () => {
    const { error } = await validateError({ tables: `${db}.nothing_[0-9]+` });
    expect(error.code).toBe('SOURCE_NO_TABLES');
    expect(error.message).toContain('nothing_[0-9]+');
  });

  it('a pattern, transform or route that matches no captured table is reported by validate', async () => {
    const { yaml, env } = await testPipelineYaml({
      name: 'preflight',
      tables: `${db}.keyed, ${db}.typo_[0-9]+`,
      sinkUrl: sink.url,
      extraYaml: `transform:\n  - source-table: ${db}.typo_[0-9]+\n    projection: \\*\nroute:\n  - source-table: other_db.\\.*\n    sink-table: public.other\n`,
    });
    const def = parsePipelineYaml(yaml, { file: 'p.yaml', env, optionSpecsFor, knownTypes });
    const { warnings } = await composePipeline(def, { log: createLogger({ write: () => {} }) }).validate();
    // The test pipelines connect as the server's root, whose ALL PRIVILEGES draw a least-privilege warning of their own.
    expect(warnings.filter((w) => !w.includes('more than change data capture needs'))).toEqual([
      `source.tables pattern ${db}.typo_[0-9]+ matches no table (yet)`,
      `transform source-table ${db}.typo_[0-9]+ matches no captured table`,
      'route other_db.\\.* → public.other matches no captured table',
    ]);
  });

  it('binlog_format=STATEMENT or binlog_row_image=MINIMAL: their own codes, naming the setting', async () => {
    await admin.query("SET GLOBAL binlog_format = 'STATEMENT'");
    try {
      const { error } = await validateError({});
      expect(error.code).toBe('SOURCE_BINLOG_FORMAT');
      expect(error.hint).toMatch(/binlog_format=ROW/);
    } finally {
      await admin.query("SET GLOBAL binlog_format = 'ROW'");
    }
    await admin.query("SET GLOBAL binlog_row_image = 'MINIMAL'");
    try {
      const { error } = await validateError({});
      expect(error.code).toBe('SOURCE_BINLOG_ROW_IMAGE');
      expect(error.hint).toMatch(/binlog_row_image=FULL/);
    } finally {
      await admin.query("SET GLOBAL binlog_row_image = 'FULL'");
    }
  });

  it('wrong sink database: SINK_DATABASE_MISSING', async () => {
    const { error } = await validateError({ sinkUrl: sink.url.replace(/\/[^/]*$/, '/no_such_database') });
    expect(error.code).toBe('SINK_DATABASE_MISSING');
  });

  it('a purged binlog at the resume position: SOURCE_BINLOG_PURGED with the remedy, never silent loss', async () => {
    const sink2 = await freshPostgresDatabase('purged');
    try {
      const options = { name: 'purge-test', tables: `${db}.keyed`, sinkUrl: sink2.url };
      const first = await startTestPipeline(options);
      await waitFor(async () => (await first.pipeline.stateStore().load()) !== null, {
        message: 'no first checkpoint',
      });
      await first.stop();
      await admin.query('FLUSH BINARY LOGS');
      await admin.query(`INSERT INTO ${db}.keyed VALUES (1, 'lost unless re-snapshotted')`);
      await admin.query('FLUSH BINARY LOGS');
      const [rows] = await admin.query('SHOW MASTER STATUS');
      const current = (rows as { File: string }[])[0]!.File;
      // The server keeps a file that a (just closed) dump thread still holds: purge until it is really gone.
      await waitFor(async () => {
        await admin.query(`PURGE BINARY LOGS TO '${current}'`);
        const [logs] = await admin.query('SHOW BINARY LOGS');
        return (logs as { Log_name: string }[]).every((l) => l.Log_name >= current);
      });
      const second = await startTestPipeline({ ...options, stateDir: first.pipeline.stateStore().dir });
      const error = await second.done.then(
        () => null,
        (e: TributaryError) => e,
      );
      expect(error?.code).toBe('SOURCE_BINLOG_PURGED');
      expect(error?.hint).toMatch(/--reset/);
    } finally {
      await sink2.drop();
    }
  });
});
