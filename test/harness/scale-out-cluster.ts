import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { startCli, writePipelineFile, type CliProcess } from './cli-process.js';
import { mysqlRows, textRows } from './compare.js';
import { freshPostgresDatabase, mysqlAdmin, uniqueName, waitFor, type FreshPostgresDatabase } from './databases.js';
import { testPipelineYaml } from './pipelines.js';

/**
 * The scale-out tests' cluster of `tributary run --role …` processes: one pipeline file (MariaDB `items` →
 * JetStream → PostgreSQL) whose roles the test starts, kills and watches. The JetStream side (a server or a
 * cluster) is the test's own: it passes the servers' URLs.
 *
 * `items` is a counter table: `(id, val, n)` with `n` 0 for every row at the start; the tests' writers raise `n`,
 * so a change applied out of order shows as `n` going backwards in the target.
 */

/** A role of `tributary run --role`. */
export type ScaleOutRole = 'capture' | 'apply' | 'snapshot-reader';

export interface ScaleOutClusterOptions {
  /** Prefix of the MariaDB database's and the PostgreSQL database's names. */
  readonly prefix: string;
  /** `pipeline.name`. */
  readonly name: string;
  /** JetStream servers, comma-separated (`scale-out.servers`). */
  readonly servers: string;
  /** Rows of `items` at the start (ids 1 … rows). */
  readonly rows: number;
  /** `scan.incremental.snapshot.chunk.size` (default: the connector's). */
  readonly chunkSize?: number;
  /** `pipeline.checkpoint.interval` (default `200ms`). */
  readonly checkpointInterval?: string;
  /** Lines of the `scale-out:` block after `servers` and `stream` (each indented by two spaces). */
  readonly scaleOut: readonly string[];
  /** Extra lines inside `source:` (indented by the caller with two spaces). */
  readonly sourceYaml?: string;
}

export interface StartOptions {
  /** Serve the dashboard on a free port of 127.0.0.1 (default: `--no-http`). */
  readonly http?: boolean;
  /** More arguments of `tributary run`. */
  readonly args?: readonly string[];
}

export interface ScaleOutCluster {
  /** The MariaDB database holding `items` (also the PostgreSQL schema the sink writes). */
  readonly db: string;
  /** The stream's name (`s_<db>`). */
  readonly stream: string;
  readonly source: Connection;
  readonly sink: FreshPostgresDatabase;
  /** The pipeline file and the environment it reads its credentials from. */
  readonly file: string;
  readonly env: Record<string, string>;
  /** Every process {@link start} started, in order. */
  readonly processes: readonly CliProcess[];
  /** Starts `tributary run <file> --role <role>`. */
  readonly start: (role: ScaleOutRole, options?: StartOptions) => CliProcess;
  /** The dashboard URL a process started with `http` prints (waits for it). */
  readonly dashboardUrl: (p: CliProcess) => Promise<string>;
  /** The tail of every process's output, numbered in start order: what a failed wait shows. */
  readonly outputs: () => string;
  /** {@link waitFor}, its error carrying the processes' output as they are at the timeout. */
  readonly until: (condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string) => Promise<void>;
  /** `items` in MariaDB and in PostgreSQL, as text rows `[id, val, n]` by id. */
  readonly sourceRows: () => Promise<string[][]>;
  readonly targetRows: () => Promise<string[][]>;
  /** Rows of `items` in PostgreSQL (0 before the table exists). */
  readonly targetCount: () => Promise<number>;
  /** SIGKILLs every process, drops both databases. */
  readonly stop: () => Promise<void>;
}

/**
 * Creates `items` with `rows` counter rows, a fresh PostgreSQL database and the pipeline file. With
 * TRIBUTARY_TEST_LOG_DIR=<dir> every process logs at debug level and {@link ScaleOutCluster.stop} keeps its whole
 * output in `<dir>/process-<i>.log`; with TRIBUTARY_TEST_DEBUG it prints the outputs.
 */
export async function startScaleOutCluster(options: ScaleOutClusterOptions): Promise<ScaleOutCluster> {
  const db = uniqueName(options.prefix);
  const stream = `s_${db}`;
  const source = await mysqlAdmin();
  let sink: FreshPostgresDatabase | undefined;
  try {
    await source.query(`CREATE DATABASE ${db}`);
    await source.query(`CREATE TABLE ${db}.items (id BIGINT PRIMARY KEY, val VARCHAR(64), n INT NOT NULL)`);
    await source.query(
      `INSERT INTO ${db}.items SELECT seq, CONCAT('row-', seq), 0 FROM ${db}.seq_1_to_${options.rows}`,
    );
    sink = await freshPostgresDatabase(options.prefix);
    const yaml = await testPipelineYaml({
      name: options.name,
      tables: `${db}.items`,
      ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}),
      checkpointInterval: options.checkpointInterval ?? '200ms',
      ...(options.sourceYaml !== undefined ? { sourceYaml: options.sourceYaml } : {}),
      extraYaml: ['scale-out:', `  servers: ${options.servers}`, `  stream: ${stream}`, ...options.scaleOut].join('\n'),
      sinkUrl: sink.url,
    });
    const file = await writePipelineFile(yaml.stateDir, yaml.yaml);
    return cluster(db, stream, source, sink, file, yaml.env);
  } catch (error) {
    await source.query(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
    await source.end().catch(() => undefined);
    await sink?.drop().catch(() => undefined);
    throw error;
  }
}

function cluster(
  db: string,
  stream: string,
  source: Connection,
  sink: FreshPostgresDatabase,
  file: string,
  env: Record<string, string>,
): ScaleOutCluster {
  const processes: CliProcess[] = [];
  const logDir = process.env['TRIBUTARY_TEST_LOG_DIR'];
  const outputs = () => processes.map((p, i) => `--- process ${i}\n${p.output().slice(-6000)}`).join('\n');
  const until = async (condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string) => {
    try {
      await waitFor(condition, { timeoutMs, intervalMs: 300, message: what });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${outputs()}`);
    }
  };
  return {
    db,
    stream,
    source,
    sink,
    file,
    env,
    processes,
    start: (role, { http = false, args = [] } = {}) => {
      const debug = logDir !== undefined && !args.includes('--log-level') ? ['--log-level', 'debug'] : [];
      const p = startCli(
        ['run', file, '--role', role, ...(http ? ['--http', '127.0.0.1:0'] : ['--no-http']), ...args, ...debug],
        env,
      );
      processes.push(p);
      return p;
    },
    dashboardUrl: async (p) => {
      const printed = () => /dashboard: (http:\S+)/.exec(p.output())?.[1];
      await until(() => printed() !== undefined, 60_000, `process ${processes.indexOf(p)} to print its dashboard URL`);
      return printed()!;
    },
    outputs,
    until,
    sourceRows: () => mysqlRows(source, `SELECT CAST(id AS CHAR), val, CAST(n AS CHAR) FROM ${db}.items ORDER BY id`),
    targetRows: async () =>
      textRows(await sink.query(`SELECT id::text AS id_text, val, n::text FROM ${db}.items ORDER BY id`)),
    targetCount: async () =>
      Number(
        (await sink.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${db}.items`).catch(() => [{ n: '0' }]))[0]
          ?.n ?? 0,
      ),
    stop: async () => {
      if (process.env['TRIBUTARY_TEST_DEBUG']) console.log(outputs());
      if (logDir) {
        await mkdir(logDir, { recursive: true });
        await Promise.all(processes.map((p, i) => writeFile(join(logDir, `process-${i}.log`), p.output())));
      }
      for (const p of processes) p.child.kill('SIGKILL');
      await source.query(`DROP DATABASE IF EXISTS ${db}`);
      await source.end();
      await sink.drop();
    },
  };
}
