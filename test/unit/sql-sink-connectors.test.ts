import { describe, expect, it } from 'vitest';
import { buildSqlJob, sinkTableId, SqlSession } from '../../src/composer/sql-job.js';
import { tableIdToString } from '../../src/core/table-schema.js';
import { createLogger } from '../../src/runtime/logger.js';
import { SqlError } from '../../src/sql/sql-error.js';
import type { InsertStatement } from '../../src/sql/sql-ast.js';
import { thrown } from '../harness/thrown.js';

const warnings: string[] = [];
const log = createLogger({ level: 'warn', write: (line) => warnings.push(line) });

const SOURCE = `CREATE TABLE orders (id BIGINT, segment STRING, amount DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED)
  WITH ('connector' = 'mysql-cdc', 'hostname' = 'h', 'username' = 'u', 'password' = 'p',
        'database-name' = 'shop', 'table-name' = 'orders');`;

/** The pipeline an INSERT INTO `sink` (declared by `sinkTable`) compiles to. */
function job(sinkTable: string) {
  const { session, statements } = SqlSession.parse(
    `${SOURCE}\n${sinkTable}\nINSERT INTO totals SELECT segment, SUM(amount) FROM orders GROUP BY segment;`,
  );
  let insert: InsertStatement | undefined;
  for (const s of statements) {
    if (s.kind === 'insert') insert = s;
    else session.declare(s);
  }
  return buildSqlJob(session, insert!, { log });
}

function errorOf(run: () => unknown): SqlError {
  return thrown(run, SqlError);
}

const TOTALS = '(segment STRING, total DECIMAL(20, 2), PRIMARY KEY (segment) NOT ENFORCED)';

describe('a SQL job writing into PostgreSQL', () => {
  it("holds result rows until the commit (buffer.max-rows), Flink's sink.buffer-flush.max-rows setting how many", () => {
    const jdbc = (extra: string) =>
      job(`CREATE TABLE totals ${TOTALS} WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://pg:5432/dw',
        'table-name' = 'totals'${extra});`).def.sink;
    expect(jdbc('').options).toMatchObject({ hostname: 'pg', database: 'dw', 'buffer.max-rows': 100_000 });
    expect(jdbc(`, 'sink.buffer-flush.max-rows' = '0'`).options).toMatchObject({ 'buffer.max-rows': 0 });
    expect(jdbc(`, 'sink.buffer-flush.max-rows' = '500'`).options).toMatchObject({ 'buffer.max-rows': 500 });
    const own = job(`CREATE TABLE totals ${TOTALS} WITH ('connector' = 'postgres', 'url' = 'postgres://pg/dw',
      'table-name' = 'totals', 'buffer.max-rows' = '7');`).def.sink;
    expect(own.options).toMatchObject({ 'buffer.max-rows': 7 });
  });
});

describe('SQL sink tables of the lake and log connectors, with Flink SQL option names', () => {
  it("maps Flink's iceberg options and PARTITIONED BY onto the iceberg sink", () => {
    const { def } = job(`CREATE TABLE totals ${TOTALS} PARTITIONED BY (segment) WITH (
      'connector' = 'iceberg', 'catalog-name' = 'lake', 'catalog-type' = 'jdbc', 'uri' = 'jdbc:sqlite:/data/cat.db',
      'warehouse' = 'file:///data/lake', 'catalog-database' = 'dw', 'format-version' = '2',
      'write.upsert.enabled' = 'true', 'write.target-file-size-bytes' = '1048576');`);
    expect(def.sink.type).toBe('iceberg');
    expect(def.sink.options).toMatchObject({
      warehouse: '/data/lake',
      catalog: 'sqlite',
      'catalog.sqlite-file': '/data/cat.db',
      'catalog.name': 'lake',
      'partition-by': 'segment',
      'write.target-file-size-bytes': 1048576,
    });
    // The Iceberg table: catalog-database . (catalog-table, or the SQL table's name).
    const table = (options: string) => {
      const { session, statements } = SqlSession.parse(
        `CREATE TABLE totals ${TOTALS} WITH ('connector' = 'iceberg', ${options});`,
      );
      for (const s of statements) session.declare(s);
      return tableIdToString(sinkTableId('', session.tables.get('totals')!));
    };
    expect(table(`'catalog-database' = 'dw'`)).toBe('dw.totals');
    expect(table(`'catalog-database' = 'dw', 'catalog-table' = 'seg_totals'`)).toBe('dw.seg_totals');
    expect(table(`'warehouse' = '/l'`)).toBe('default_database.totals');
  });

  it('refuses what it cannot write, naming the fix', () => {
    const iceberg = (options: string) =>
      errorOf(() => job(`CREATE TABLE totals ${TOTALS} WITH ('connector' = 'iceberg', ${options});`));
    expect(iceberg(`'warehouse' = 's3://bucket/lake'`).message).toMatch(/not on the local filesystem/);
    expect(iceberg(`'warehouse' = '/l', 'catalog-type' = 'hive'`).message).toMatch(/catalog-type 'hive'/);
    expect(iceberg(`'warehouse' = '/l', 'format-version' = '1'`).message).toMatch(/format-version '1'/);
    expect(iceberg(`'warehouse' = '/l', 'catalog-type' = 'jdbc', 'uri' = 'jdbc:postgresql://x/y'`).message).toMatch(
      /not a SQLite JDBC URL/,
    );
    const partition = errorOf(() =>
      SqlSession.parse(`CREATE TABLE t ${TOTALS} PARTITIONED BY (region) WITH ('connector' = 'iceberg');`),
    );
    expect(partition.message).toMatch(/PARTITIONED BY names region, which is not a column/);
  });

  it("warns that 'write.upsert.enabled' = 'false', and PARTITIONED BY outside iceberg, have no effect", () => {
    warnings.length = 0;
    job(
      `CREATE TABLE totals ${TOTALS} WITH ('connector' = 'iceberg', 'warehouse' = '/l', 'write.upsert.enabled' = 'false');`,
    );
    expect(warnings.join('\n')).toMatch(/write.upsert.enabled' = 'false' has no effect/);
    warnings.length = 0;
    job(
      `CREATE TABLE totals ${TOTALS} PARTITIONED BY (segment) WITH ('connector' = 'nats', 'servers' = 'n', 'stream' = 's');`,
    );
    expect(warnings.join('\n')).toMatch(/PARTITIONED BY has no effect on a 'nats' table/);
  });

  it("maps kafka's 'format' to the value format, and names log tables after the SQL table", () => {
    const kafka = job(`CREATE TABLE totals ${TOTALS} WITH ('connector' = 'kafka', 'topic' = 'totals',
      'properties.bootstrap.servers' = 'k:9092', 'format' = 'canal-json');`);
    expect(kafka.def.sink.options).toMatchObject({
      topic: 'totals',
      'properties.bootstrap.servers': 'k:9092',
      'value.format': 'canal-json',
    });
    const nats = job(
      `CREATE TABLE totals ${TOTALS} WITH ('connector' = 'nats', 'servers' = 'nats://n:4222', 'stream' = 's');`,
    );
    expect(nats.def.sink.type).toBe('nats');
    expect(nats.def.sink.options).toMatchObject({ servers: 'nats://n:4222', stream: 's' });
    expect(nats.explain).toContain('Sink totals (nats): change events keyed by PRIMARY KEY (segment)');
    const jdbc = errorOf(() =>
      job(`CREATE TABLE totals ${TOTALS} WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/d');`),
    );
    expect(jdbc.message).toMatch(/needs the option 'table-name'/);
  });
});
